#!/usr/bin/env bash
# Local dev stack for bottega: Temporal dev server, SeaweedFS S3, Docker engine, Slurm, sshd.
# Installs whatever is missing (apt/pip), starts what is not running, and is idempotent.
#
#   bash infra/dev.sh up      [service...]   install + start (default: temporal s3 docker slurm sshd)
#   bash infra/dev.sh down    [service...]   stop
#   bash infra/dev.sh restart [service...]   down + up
#   bash infra/dev.sh status  [service...]   one line per service; exit 1 if any is down
#   bash infra/dev.sh install [service...]   install only
#   bash infra/dev.sh env                    print `export ...` lines: eval "$(bash infra/dev.sh env)"
#   bash infra/dev.sh logs    <service>      tail -f the service's log
#
# State lives in $BOTTEGA_HOME (default <repo>/.bottega): run/*.pid, logs/*.log, temporal.db, s3/.
set -uo pipefail

BOTTEGA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BOTTEGA_ROOT
# shellcheck source=lib/common.sh
source "$BOTTEGA_ROOT/infra/lib/common.sh"

ALL_SERVICES=(temporal s3 docker slurm sshd)
for _svc in "${ALL_SERVICES[@]}"; do
  # shellcheck disable=SC1090
  source "$BOTTEGA_ROOT/infra/services/$_svc.sh"
done
unset _svc

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# Reversed order for `down` so dependents stop first.
reverse() { local i; for ((i = $# ; i > 0 ; i--)); do printf '%s\n' "${!i}"; done; }

SVCS=()
pick_services() { # sets SVCS; validates names; defaults to all
  local s
  SVCS=()
  if (($# == 0)); then SVCS=("${ALL_SERVICES[@]}"); return 0; fi
  for s in "$@"; do
    if [[ " ${ALL_SERVICES[*]} " != *" $s "* ]]; then
      err "unknown service '$s' (known: ${ALL_SERVICES[*]})"; return 2
    fi
    SVCS+=("$s")
  done
}

cmd_up() {
  local s rc=0 line t0
  for s in "$@"; do
    if line=$("${s}_status" 2>/dev/null); then
      echo "$s: already running"
      continue
    fi
    t0=$SECONDS
    info "$s: starting…"
    if "${s}_install" && "${s}_up"; then
      line=$("${s}_status" 2>&1) || true
      ok "$s: $line ($((SECONDS - t0))s)"
    else
      err "$s: FAILED to start"
      rc=1
    fi
  done
  return $rc
}

cmd_down() {
  local s
  for s in $(reverse "$@"); do
    if "${s}_down"; then echo "$s: stopped"; else err "$s: stop failed"; fi
  done
}

cmd_status() {
  local s rc=0 line
  for s in "$@"; do
    if line=$("${s}_status" 2>&1); then echo "$s: $line"; else echo "$s: $line"; rc=1; fi
  done
  return $rc
}

cmd_install() {
  local s
  for s in "$@"; do "${s}_install" || return 1; done
}

cmd_env() {
  local s
  echo "export BOTTEGA_HOME=$BOTTEGA_HOME"
  for s in "${ALL_SERVICES[@]}"; do "${s}_env"; done
}

cmd_logs() {
  local s=${1:?usage: dev.sh logs <service>} f
  case $s in
    temporal) f=$TEMPORAL_LOG ;;
    s3) f=$S3_LOG ;;
    docker) f=$DOCKER_LOG ;;
    slurm) f=$SLURMCTLD_LOG ;;
    slurmd) f=$SLURMD_LOG ;;
    slurmrestd) f=$SLURMRESTD_LOG ;;
    sshd) f=$SSHD_LOG ;;
    *) err "unknown log '$s'"; return 2 ;;
  esac
  exec tail -n 50 -F "$f"
}

main() {
  local cmd=${1:-help}
  shift || true
  ensure_dirs
  case $cmd in
    up) pick_services "$@" || return 2; cmd_up "${SVCS[@]}" ;;
    down) pick_services "$@" || return 2; cmd_down "${SVCS[@]}" ;;
    restart) pick_services "$@" || return 2; cmd_down "${SVCS[@]}"; cmd_up "${SVCS[@]}" ;;
    status) pick_services "$@" || return 2; cmd_status "${SVCS[@]}" ;;
    install) pick_services "$@" || return 2; cmd_install "${SVCS[@]}" ;;
    env) cmd_env ;;
    logs) cmd_logs "$@" ;;
    help | -h | --help) usage ;;
    *) err "unknown command '$cmd'"; usage >&2; return 2 ;;
  esac
}

main "$@"
