# shellcheck shell=bash
# Docker engine (Debian's docker.io), started directly as a background dockerd (no systemd).
# Machine-global: it serves /var/run/docker.sock. If some other dockerd (e.g. systemd's) is
# already answering, it is used as is and `down` leaves it alone.

DOCKER_LOG="$BOTTEGA_LOGS/dockerd.log"

docker_install() {
  local pkgs=()
  { command -v dockerd >/dev/null && command -v docker >/dev/null; } || pkgs+=(docker.io)
  # Compose validates docker-compose.yml (test/unit/compose.test.ts); Debian has only v1 (1.29).
  { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; } || pkgs+=(docker-compose)
  ((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
}

_docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

docker_up() {
  command -v dockerd >/dev/null || { err "dockerd not found"; return 1; }
  ensure_dirs
  _docker_answers && return 0
  local pid
  if ! pid=$(pid_of docker); then
    if pid=$(pidfile_alive /var/run/docker.pid); then
      fail_with_log "$DOCKER_LOG" "docker: a dockerd (pid $pid) runs but does not answer; stop it first"; return 1
    fi
    rm -f /var/run/docker.pid
    start_bg docker "$DOCKER_LOG" dockerd
  fi
  local deadline=$((SECONDS + 60))
  until _docker_answers; do
    pid_of docker >/dev/null || { fail_with_log "$DOCKER_LOG" "docker: dockerd exited during startup"; return 1; }
    ((SECONDS < deadline)) || { fail_with_log "$DOCKER_LOG" "docker: not answering after 60s"; return 1; }
    sleep 0.5
  done
}

docker_down() {
  if pid_of docker >/dev/null; then
    stop_named docker 30
  elif _docker_answers; then
    info "docker: dockerd was not started by bottega; leaving it running"
  fi
  rm -f "$BOTTEGA_RUN/docker.pid"
}

docker_status() {
  local pid ver
  command -v dockerd >/dev/null || { echo "down — dockerd binary missing (run: bash infra/dev.sh up docker)"; return 1; }
  command -v docker >/dev/null || { echo "down — docker client missing (run: bash infra/dev.sh up docker)"; return 1; }
  if ver=$(timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null) && [[ -n "$ver" ]]; then
    if pid=$(pid_of docker); then
      echo "up (pid $pid, engine $ver, unix:///var/run/docker.sock)"
    else
      echo "up (engine $ver, not started by bottega, unix:///var/run/docker.sock)"
    fi
    return 0
  fi
  if pid=$(pid_of docker); then
    echo "down — dockerd pid $pid not answering (see $DOCKER_LOG)"
  else
    echo "down — dockerd not running (see $DOCKER_LOG)"
  fi
  return 1
}

docker_env() { :; }
