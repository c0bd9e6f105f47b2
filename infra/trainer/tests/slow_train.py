"""Run the real trainer with every optimizer step slowed by $SLOW_STEP_S seconds (default 0.15).

Tests use it so that a signal sent "mid-run" reliably lands mid-run on a fast tiny model; the
trainer code itself is unchanged (the sleep wraps train.lr_at, called once per step).

    python infra/trainer/tests/slow_train.py <train.py flags>
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train  # noqa: E402

_lr_at = train.lr_at
_delay = float(os.environ.get("SLOW_STEP_S", "0.15"))


def _slow_lr_at(*a, **k):
    time.sleep(_delay)
    return _lr_at(*a, **k)


train.lr_at = _slow_lr_at

if __name__ == "__main__":
    sys.exit(train.main())
