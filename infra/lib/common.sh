# shellcheck shell=bash
# Shared helpers for infra/dev.sh and infra/services/*.sh. Sourced, never executed.
#
# Conventions for a service file infra/services/<name>.sh:
#   <name>_install  install whatever is missing (idempotent, quiet when nothing to do)
#   <name>_up       start whatever is not running and wait until it answers; on failure
#                   call `fail_with_log LOGFILE "why"` (prints the log tail) and return 1
#   <name>_down     stop it (idempotent)
#   <name>_status   print ONE line after "<name>: " ("up (...)" or "down — why (see LOG)")
#                   and return 0 when up, non-zero when down. Must be fast.

: "${BOTTEGA_ROOT:?BOTTEGA_ROOT must be set before sourcing common.sh}"
export BOTTEGA_HOME="${BOTTEGA_HOME:-$BOTTEGA_ROOT/.bottega}"
BOTTEGA_RUN="$BOTTEGA_HOME/run"
BOTTEGA_LOGS="$BOTTEGA_HOME/logs"

# Dev-default credentials and addresses (also printed by `dev.sh env`).
BOTTEGA_S3_ACCESS_KEY="${BOTTEGA_S3_ACCESS_KEY:-bottega}"
BOTTEGA_S3_SECRET_KEY="${BOTTEGA_S3_SECRET_KEY:-bottega-secret}"

export DEBIAN_FRONTEND=noninteractive

ensure_dirs() { mkdir -p "$BOTTEGA_RUN" "$BOTTEGA_LOGS"; }

# ---------------------------------------------------------------- output
if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _c_dim=$'\e[2m' _c_red=$'\e[31m' _c_grn=$'\e[32m' _c_off=$'\e[0m'
else
  _c_dim='' _c_red='' _c_grn='' _c_off=''
fi
info() { printf '%s%s%s\n' "$_c_dim" "$*" "$_c_off"; }
ok()   { printf '%s%s%s\n' "$_c_grn" "$*" "$_c_off"; }
err()  { printf '%s%s%s\n' "$_c_red" "$*" "$_c_off" >&2; }

# fail_with_log LOGFILE MESSAGE...: print the message and the last 20 lines of LOGFILE.
fail_with_log() {
  local log=$1; shift
  err "$*"
  if [[ -n "$log" && -s "$log" ]]; then
    err "---- last 20 lines of $log ----"
    tail -n 20 "$log" >&2
    err "----"
  elif [[ -n "$log" ]]; then
    err "(log $log is empty or missing)"
  fi
  return 1
}

# ---------------------------------------------------------------- installing
_APT_UPDATED=0
apt_install() { # apt_install PKG...  (apt-get update at most once per dev.sh invocation)
  local apt=(apt-get -o DPkg::Lock::Timeout=900 -o Acquire::Retries=3)
  if ((EUID != 0)); then
    if command -v sudo >/dev/null; then apt=(sudo -n "${apt[@]}"); else
      err "need root to apt-get install $*"; return 1
    fi
  fi
  if ((_APT_UPDATED == 0)); then
    info "apt-get update"
    "${apt[@]}" update -qq >"$BOTTEGA_LOGS/apt.log" 2>&1 \
      || { fail_with_log "$BOTTEGA_LOGS/apt.log" "apt-get update failed"; return 1; }
    _APT_UPDATED=1
  fi
  info "apt-get install $*"
  "${apt[@]}" install -y -q "$@" >>"$BOTTEGA_LOGS/apt.log" 2>&1 \
    || { fail_with_log "$BOTTEGA_LOGS/apt.log" "apt-get install $* failed"; return 1; }
}

# python_scripts_dirs: directories where `pip install` may put console scripts/binaries.
python_scripts_dirs() {
  command -v python3 >/dev/null || return 0
  python3 - <<'EOF' 2>/dev/null
import site, sysconfig, os
seen = []
for d in (sysconfig.get_path("scripts"),
          os.path.join(site.getuserbase(), "bin"),
          sysconfig.get_path("scripts", f"{os.name}_user") if f"{os.name}_user" in sysconfig.get_scheme_names() else None):
    if d and d not in seen:
        seen.append(d); print(d)
EOF
}

# resolve_bin NAME: absolute path of a real executable NAME (prefers pip's scripts dirs
# over pyenv shims, so the path stays valid whatever the caller's cwd/pyenv version).
resolve_bin() {
  local name=$1 d p
  while IFS= read -r d; do
    [[ -n "$d" && -x "$d/$name" && ! -d "$d/$name" ]] && { echo "$d/$name"; return 0; }
  done < <(python_scripts_dirs)
  if command -v pyenv >/dev/null && p=$(pyenv which "$name" 2>/dev/null) && [[ -x "$p" ]]; then
    echo "$p"; return 0
  fi
  p=$(command -v "$name" 2>/dev/null) || return 1
  [[ "$p" == /* ]] || return 1
  echo "$p"
}

# pip_install PKG...: into the current python3; falls back to --user --break-system-packages
# on PEP 668 "externally managed" interpreters (Debian's own python3).
pip_install() {
  local log="$BOTTEGA_LOGS/pip.log"
  command -v python3 >/dev/null || { err "python3 not found (needed to pip install $*)"; return 1; }
  info "pip install $*"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip || return 1
  fi
  if python3 -m pip install --disable-pip-version-check -q "$@" >"$log" 2>&1; then
    return 0
  fi
  if grep -q externally-managed-environment "$log"; then
    python3 -m pip install --disable-pip-version-check -q --user --break-system-packages "$@" >>"$log" 2>&1 \
      && return 0
  fi
  fail_with_log "$log" "pip install $* failed"
}

# ---------------------------------------------------------------- processes
# start_bg NAME LOGFILE CMD...: start CMD detached (own session, stdin /dev/null),
# writing $BOTTEGA_RUN/NAME.pid (the pid of CMD itself) and appending to LOGFILE.
start_bg() {
  local name=$1 log=$2; shift 2
  ensure_dirs
  local pidfile="$BOTTEGA_RUN/$name.pid"
  rm -f "$pidfile"
  printf '\n==== %s starting %s: %s\n' "$(date -Is)" "$name" "$*" >>"$log"
  # The inner shell records its own pid, then execs CMD, so the pidfile is CMD's pid.
  # shellcheck disable=SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
  local i
  for i in $(seq 1 50); do [[ -s "$pidfile" ]] && break; sleep 0.05; done
}

# alive PID: the process exists and is not a zombie (killed daemons whose parent is a
# container's PID 1 may stay unreaped for a while).
alive() {
  local st
  [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
  [[ "$st" != Z && "$st" != X ]]
}

# pidfile_alive FILE: print the pid in a pidfile if that process is alive.
pidfile_alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid=$(tr -dc 0-9 <"$1")
  alive "$pid" || return 1
  echo "$pid"
}

# pid_of NAME: print the pid from $BOTTEGA_RUN/NAME.pid if that process is alive.
pid_of() { pidfile_alive "$BOTTEGA_RUN/$1.pid"; }

# procs_named EXE: live pids of processes whose executable name is EXE (exact match).
procs_named() {
  local p found=1
  for p in $(if command -v pgrep >/dev/null; then pgrep -x "$1"; else pidof "$1"; fi); do
    alive "$p" && { echo "$p"; found=0; }
  done
  return $found
}

# stop_pid PID [TIMEOUT_S]: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pid=$1 t=${2:-15} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < t * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

# stop_named NAME [TIMEOUT_S]: stop the process recorded in $BOTTEGA_RUN/NAME.pid.
stop_named() {
  local pid
  if pid=$(pid_of "$1"); then stop_pid "$pid" "${2:-15}"; fi
  rm -f "$BOTTEGA_RUN/$1.pid"
}

# wait_until TIMEOUT_S CMD...: poll CMD (quietly) every 0.5 s until it succeeds.
wait_until() {
  local t=$1; shift
  local deadline=$((SECONDS + t))
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  "$@" >/dev/null 2>&1
}

# port_open HOST PORT: is something listening (bash /dev/tcp, no extra tools).
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# http_code URL [CURL ARGS...]: print the HTTP status code (000 if no answer).
http_code() {
  local url=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "$url" 2>/dev/null || true
}

ensure_curl() { command -v curl >/dev/null || apt_install curl ca-certificates; }

# pip_index_reachable PYTHON: whether PyPI (or $PIP_INDEX_URL) answers, so a failed venv install can
# say "the package index is unreachable" (exit 3) rather than a generic failure.
pip_index_reachable() {
  local url=${PIP_INDEX_URL:-https://pypi.org/simple/}
  "$1" - "$url" <<'PYEOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/pip/", timeout=15).read(1)
PYEOF
}

# ensure_venv PYTHON DIR LOG: creates the venv DIR with PYTHON unless it has a python already
# (a broken one is removed first); on failure it says why, with the log, and returns 1.
ensure_venv() {
  local py=$1 venv=$2 log=$3
  [[ -x "$venv/bin/python" ]] && return 0
  rm -rf "$venv"
  if ! "$py" -m venv "$venv" >"$log" 2>&1; then
    fail_with_log "$log" "setup.sh: '$py -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    return 1
  fi
}
