#!/usr/bin/env bash
# `npm run demo`: sets up what is missing (a supported Node, node modules, the Temporal dev server,
# the local Slurm cluster, the reference trainer's PyTorch venv), generates the fixture git repositories, starts a
# worker and runs examples/demo.yaml end to end: mine → mix → train.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export BOTTEGA_HOME=${BOTTEGA_HOME:-$ROOT/.bottega}
mkdir -p "$BOTTEGA_HOME/logs"

# shellcheck source=lib/node.sh
source infra/lib/node.sh
ensure_node
ensure_node_modules

echo "==> starting the Temporal dev server (Web UI on :8233) and the local Slurm cluster"
bash infra/dev.sh up temporal slurm
eval "$(bash infra/dev.sh env)"

echo "==> the reference trainer's venv (PyTorch; about 2 minutes the first time)"
bash infra/trainer/setup.sh > /dev/null

echo "==> generating fixture repositories in .bottega/fixtures"
node --import tsx infra/fixtures/make-repos.ts "$ROOT/.bottega/fixtures" > /dev/null

echo "==> starting a worker (log: $BOTTEGA_HOME/logs/demo-worker.log)"
BOTTEGA_WORKER_CAPABILITIES=cpu,slurm node --import tsx workers/main.ts > "$BOTTEGA_HOME/logs/demo-worker.log" 2>&1 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null || true' EXIT

echo "==> running examples/demo.yaml"
node bin/bottega.mjs run examples/demo.yaml --wait "$@"
echo
echo "Web UI: the links above open this run and the run behind each stage; every run is listed at"
echo "  ${TEMPORAL_UI_URL:-http://localhost:8233}/namespaces/default/workflows"
echo "Run it again: every stage is reused from the step cache (a new --id too: the cache is keyed by inputs)."
echo "Force stages to rerun: npm run demo -- --force mix   (or --force all; in a spec: force: [mix])"
