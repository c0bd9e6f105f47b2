#!/usr/bin/env bash
# GPU check of the reference trainer (~0.5B Qwen2, packed 4096-token shards, bf16, ~60 steps):
# prints tokens/s, MFU and peak GPU memory; writes gpu_check.json/.txt, the metrics and the
# trainer log under $OUT (or ./gpu-check-out). Details and the MFU formula: gpu_check.py.
#
#   bash infra/trainer/gpu_check.sh            # on the GPU machine (< 4 min on one H100)
#   bash infra/trainer/gpu_check.sh --tiny     # a few CPU seconds: checks the script itself
#
# PYTHON: an interpreter with torch + transformers (default: the trainer venv if present, else
# python3). Needs no network. Extra flags go to gpu_check.py (--steps, --seq-len, --micro-batch...).
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV_PY="${BOTTEGA_HOME:-$HERE/../../.bottega}/trainer-venv/bin/python"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$VENV_PY" ]]; then PYTHON=$VENV_PY; else PYTHON=python3; fi
fi
"$PYTHON" -c 'import torch, transformers, safetensors, numpy' \
  || { echo "gpu_check.sh: $PYTHON lacks torch/transformers/safetensors/numpy (set PYTHON)" >&2; exit 2; }
export PYTHONUNBUFFERED=1
exec "$PYTHON" "$HERE/gpu_check.py" "$@"
