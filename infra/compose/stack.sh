#!/usr/bin/env bash
# The compose stack, offline or from a registry (docs/deployment.md).
#
# Usage: infra/compose/stack.sh [--registry] COMMAND [ARGS...]
#
#   up [--scale worker-cpu=2] [--profile slurm]   build missing local images, start, wait for the
#                                                 init jobs, print the endpoints
#   down [-v]                                     stop (-v: also delete the stack's data volumes)
#   ps | logs [SERVICE] | config | ...            passed to compose
#
# Default: the images infra/compose/build-images.sh makes on this machine (infra/compose/local.yml).
# --registry (or BOTTEGA_COMPOSE_IMAGES=registry): the upstream images of docker-compose.yml.
# BOTTEGA_COMPOSE_PROJECT (default bottega) names the compose project.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
images=${BOTTEGA_COMPOSE_IMAGES:-local}
if [[ "${1:-}" == --registry ]]; then images=registry; shift; fi
[[ "$images" == local || "$images" == registry ]] || { echo "stack: BOTTEGA_COMPOSE_IMAGES is local or registry, not $images" >&2; exit 2; }
cmd=${1:-}
[[ -n "$cmd" ]] || { sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
shift

if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else echo "stack: no Compose: install the docker compose plugin or Debian's docker-compose (bash infra/dev.sh install docker)" >&2; exit 1
fi
compose+=(-p "${BOTTEGA_COMPOSE_PROJECT:-bottega}" --project-directory "$ROOT" -f "$ROOT/docker-compose.yml")
[[ "$images" == registry ]] || compose+=(-f "$ROOT/infra/compose/local.yml")

# Global options (--profile) go before the subcommand, also for Compose v1.
global=() rest=()
while (($#)); do
  case "$1" in
    --profile) global+=(--profile "$2"); shift 2 ;;
    --profile=*) global+=(--profile "${1#--profile=}"); shift ;;
    *) rest+=("$1"); shift ;;
  esac
done

case "$cmd" in
  up)
    build=(--build) # registry: pull the upstream images, build the worker from ./Dockerfile
    if [[ "$images" == local ]]; then
      bash "$ROOT/infra/compose/build-images.sh" all
      build=(--no-build)
    fi
    "${compose[@]}" "${global[@]}" up -d "${build[@]}" "${rest[@]}"
    # The one-shot jobs must have succeeded (compose starts their dependents only then).
    for job in temporal-schema temporal-init s3-init; do
      id=$("${compose[@]}" ps -q "$job" 2>/dev/null | head -1)
      [[ -n "$id" ]] || { echo "stack: $job did not run" >&2; exit 1; }
      docker wait "$id" >/dev/null
      code=$(docker inspect -f '{{.State.ExitCode}}' "$id")
      if [[ "$code" != 0 ]]; then
        "${compose[@]}" logs --tail 40 "$job" >&2
        echo "stack: $job exited with $code" >&2
        exit 1
      fi
    done
    bind=${BOTTEGA_BIND:-127.0.0.1}
    cat <<EOT
stack up ($images images, project ${BOTTEGA_COMPOSE_PROJECT:-bottega}):
  TEMPORAL_ADDRESS=$bind:${BOTTEGA_TEMPORAL_PORT:-7233}   Web UI http://$bind:${BOTTEGA_UI_PORT:-8233}
  BOTTEGA_S3_ENDPOINT=http://$bind:${BOTTEGA_S3_PORT:-8333}   bucket ${BOTTEGA_S3_BUCKET:-bottega}
EOT
    ;;
  *) exec "${compose[@]}" "${global[@]}" "$cmd" "${rest[@]}" ;;
esac
