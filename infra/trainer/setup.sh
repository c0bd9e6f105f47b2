#!/usr/bin/env bash
# Create (or reuse) the reference trainer's virtualenv and print its python's path on stdout.
#
#   bash infra/trainer/setup.sh            -> /…/.bottega/trainer-venv/bin/python
#
# The venv lives at ${BOTTEGA_HOME:-<repo>/.bottega}/trainer-venv. It is (re)built when missing,
# broken, or when requirements.txt / the python version / BOTTEGA_TRAINER_PIP_ARGS changed (a hash
# stamp in the venv records what it was built from); otherwise this takes well under a second.
# Progress goes to stderr, the pip log to $BOTTEGA_HOME/logs/trainer-pip.log.
#
# Env: PYTHON (default python3, >= 3.10), BOTTEGA_TRAINER_PIP_ARGS (extra pip args, e.g.
# "--extra-index-url https://download.pytorch.org/whl/cpu" for a CPU-only torch).
# Exit: 0 ok; 1 install failed (log tail printed); 3 the package index is unreachable (so
# callers can skip instead of fail); 2 no usable python.
set -uo pipefail

BOTTEGA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export BOTTEGA_ROOT
# shellcheck source=../lib/common.sh
source "$BOTTEGA_ROOT/infra/lib/common.sh"
ensure_dirs

HERE="$BOTTEGA_ROOT/infra/trainer"
VENV="$BOTTEGA_HOME/trainer-venv"
REQ="$HERE/requirements.txt"
LOG="$BOTTEGA_LOGS/trainer-pip.log"
PY=${PYTHON:-python3}

# Everything human-readable goes to stderr: stdout carries only the python path.
say() { info "$@" >&2; }

command -v "$PY" >/dev/null || { err "setup.sh: $PY not found (set PYTHON)"; exit 2; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || { err "setup.sh: $PY is $("$PY" -V 2>&1); need >= 3.10"; exit 2; }

stamp() {
  { cat "$REQ"; "$PY" -V 2>&1; echo "${BOTTEGA_TRAINER_PIP_ARGS:-}"; } | sha256sum | cut -d' ' -f1
}
want=$(stamp)
# cheap check (no torch import, which takes seconds): the packages are installed
HAVE_PKGS='import importlib.util as u, sys; sys.exit(0 if all(u.find_spec(m) for m in ("torch", "transformers", "safetensors", "numpy")) else 1)'

if [[ -x "$VENV/bin/python" && -f "$VENV/.bottega-stamp" && "$(cat "$VENV/.bottega-stamp")" == "$want" ]] \
  && "$VENV/bin/python" -c "$HAVE_PKGS" 2>/dev/null; then
  echo "$VENV/bin/python"
  exit 0
fi

t0=$SECONDS
say "trainer venv: building $VENV (torch + transformers, ~5.6 GB, ~1-2 min)"
rm -f "$VENV/.bottega-stamp"
ensure_venv "$PY" "$VENV" "$LOG" || exit 1
# shellcheck disable=SC2086
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q ${BOTTEGA_TRAINER_PIP_ARGS:-} -r "$REQ" >>"$LOG" 2>&1; then
  if ! pip_index_reachable "$PY"; then
    err "setup.sh: the package index (${PIP_INDEX_URL:-https://pypi.org/simple/}) is unreachable; cannot install $REQ"
    exit 3
  fi
  fail_with_log "$LOG" "setup.sh: pip install -r $REQ failed" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import torch, transformers, safetensors, numpy' >>"$LOG" 2>&1 \
  || { fail_with_log "$LOG" "setup.sh: the venv's packages do not import" >&2; exit 1; }
echo "$want" >"$VENV/.bottega-stamp"
say "trainer venv: ready in $((SECONDS - t0))s"
echo "$VENV/bin/python"
