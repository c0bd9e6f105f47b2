#!/usr/bin/env bash
# Create (or reuse) the venv holding the official `swebench` package and print its python's path.
#
#   bash infra/swebench/setup.sh            -> /…/.bottega/swebench-venv/bin/python
#
# Used by the parity test (test/integration/swebench-parity.test.ts) through infra/swebench/parity.py.
# The venv lives at ${BOTTEGA_HOME:-<repo>/.bottega}/swebench-venv. swebench is installed with
# --no-deps: its declared dependencies (datasets, modal, docker, …, several hundred MB) serve the
# Docker harness and the dataset tools, while its log parsers and grading functions import only the
# standard library plus `unidiff` (swebench.utils), so only that is added. A hash stamp records what
# the venv was built from; an up-to-date venv returns in well under a second.
# Progress goes to stderr, the pip log to $BOTTEGA_HOME/logs/swebench-pip.log.
#
# Env: PYTHON (default python3, >= 3.10).
# Exit: 0 ok; 1 install failed (log tail printed); 2 no usable python; 3 the package index is
# unreachable (callers skip instead of fail).
set -uo pipefail

BOTTEGA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BOTTEGA_ROOT
# shellcheck source=../lib/common.sh
source "$BOTTEGA_ROOT/infra/lib/common.sh"
ensure_dirs

# Pinned: the parity numbers and the list of deliberate differences refer to this release.
SWEBENCH_VERSION=5.0.2
UNIDIFF_VERSION=0.7.5
VENV="$BOTTEGA_HOME/swebench-venv"
LOG="$BOTTEGA_LOGS/swebench-pip.log"
PY=${PYTHON:-python3}

say() { info "$@" >&2; }

command -v "$PY" >/dev/null || { err "setup.sh: $PY not found (set PYTHON)"; exit 2; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { err "setup.sh: $PY is $("$PY" -V 2>&1); need >= 3.10"; exit 2; }

want=$({ echo "swebench==$SWEBENCH_VERSION unidiff==$UNIDIFF_VERSION"; "$PY" -V 2>&1; } | sha256sum | cut -d' ' -f1)
HAVE_PKGS='import importlib.metadata as m, sys; sys.exit(0 if m.version("swebench") == sys.argv[1] else 1)'

if [[ -x "$VENV/bin/python" && -f "$VENV/.bottega-stamp" && "$(cat "$VENV/.bottega-stamp")" == "$want" ]] \
  && "$VENV/bin/python" -c "$HAVE_PKGS" "$SWEBENCH_VERSION" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi

t0=$SECONDS
say "swebench venv: building $VENV (swebench==$SWEBENCH_VERSION, no deps)"
rm -f "$VENV/.bottega-stamp"
ensure_venv "$PY" "$VENV" "$LOG" || exit 1
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
  "swebench==$SWEBENCH_VERSION" "unidiff==$UNIDIFF_VERSION" >>"$LOG" 2>&1; then
  if ! pip_index_reachable "$PY"; then
    err "setup.sh: the package index (${PIP_INDEX_URL:-https://pypi.org/simple/}) is unreachable; cannot install swebench"
    exit 3
  fi
  fail_with_log "$LOG" "setup.sh: pip install swebench==$SWEBENCH_VERSION failed" >&2
  exit 1
fi
"$VENV/bin/python" "$BOTTEGA_ROOT/infra/swebench/parity.py" --check >>"$LOG" 2>&1 \
  || { fail_with_log "$LOG" "setup.sh: swebench's grading modules do not import" >&2; exit 1; }
echo "$want" >"$VENV/.bottega-stamp"
say "swebench venv: ready in $((SECONDS - t0))s"
echo "$VENV/bin/python"
