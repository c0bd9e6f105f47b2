# shellcheck shell=bash
# A local sshd on 127.0.0.1:$BOTTEGA_SSHD_PORT (default 2222) for the Slurm SSH backend's tests:
# its own config, host key and client keypair under $BOTTEGA_HOME/sshd; key-only login for the
# current user (root on the dev machine), who then runs the Slurm CLI "on the login node".

SSHD_IP=127.0.0.1
SSHD_PORT="${BOTTEGA_SSHD_PORT:-2222}"
SSHD_DIR="$BOTTEGA_HOME/sshd"
SSHD_CONFIG="$SSHD_DIR/sshd_config"
SSHD_HOST_KEY="$SSHD_DIR/ssh_host_ed25519_key"
SSHD_CLIENT_KEY="$SSHD_DIR/id_ed25519"
SSHD_AUTH_KEYS="$SSHD_DIR/authorized_keys"
SSHD_LOG="$BOTTEGA_LOGS/sshd.log"

sshd_bin() { command -v sshd || { [[ -x /usr/sbin/sshd ]] && echo /usr/sbin/sshd; }; }

sshd_install() {
  if ! sshd_bin >/dev/null || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
    apt_install openssh-server openssh-client || return 1
  fi
}

_sshd_keys() {
  mkdir -p "$SSHD_DIR"
  chmod 700 "$SSHD_DIR"
  [[ -s "$SSHD_HOST_KEY" ]] || ssh-keygen -q -t ed25519 -N '' -C bottega-sshd-host -f "$SSHD_HOST_KEY" || return 1
  [[ -s "$SSHD_CLIENT_KEY" ]] || ssh-keygen -q -t ed25519 -N '' -C bottega-slurm-client -f "$SSHD_CLIENT_KEY" || return 1
  cp "$SSHD_CLIENT_KEY.pub" "$SSHD_AUTH_KEYS"
  chmod 600 "$SSHD_AUTH_KEYS" "$SSHD_HOST_KEY" "$SSHD_CLIENT_KEY"
}

_sshd_write_config() {
  cat >"$SSHD_CONFIG" <<CONF
# Managed by bottega infra/services/sshd.sh
ListenAddress $SSHD_IP
Port $SSHD_PORT
HostKey $SSHD_HOST_KEY
PidFile $BOTTEGA_RUN/sshd.pid
AuthorizedKeysFile $SSHD_AUTH_KEYS
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
UsePAM no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
LogLevel INFO
CONF
}

_sshd_ok() {
  ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=3 \
    -i "$SSHD_CLIENT_KEY" -p "$SSHD_PORT" "$(id -un)@$SSHD_IP" true 2>/dev/null
}

sshd_up() {
  local bin
  bin=$(sshd_bin) || { err "sshd: binary not found (run: bash infra/dev.sh install sshd)"; return 1; }
  ensure_dirs
  _sshd_keys || { err "sshd: ssh-keygen failed"; return 1; }
  _sshd_write_config
  mkdir -p /run/sshd 2>/dev/null || true # privilege-separation directory
  if ! pid_of sshd >/dev/null; then
    if port_open "$SSHD_IP" "$SSHD_PORT"; then
      fail_with_log "" "sshd: port $SSHD_PORT is already in use by another process"; return 1
    fi
    "$bin" -t -f "$SSHD_CONFIG" >>"$SSHD_LOG" 2>&1 || { fail_with_log "$SSHD_LOG" "sshd: bad config"; return 1; }
    # -D: stay in the foreground so start_bg's pidfile is sshd's pid; -e: log to stderr.
    start_bg sshd "$SSHD_LOG" "$bin" -D -e -f "$SSHD_CONFIG"
  fi
  wait_until 15 _sshd_ok || { fail_with_log "$SSHD_LOG" "sshd: key login to $SSHD_IP:$SSHD_PORT fails"; return 1; }
}

sshd_down() { stop_named sshd 10; }

sshd_status() {
  local pid
  sshd_bin >/dev/null || { echo "down — sshd binary missing (run: bash infra/dev.sh up sshd)"; return 1; }
  pid=$(pid_of sshd) || { echo "down — sshd not running (see $SSHD_LOG)"; return 1; }
  _sshd_ok || { echo "down — sshd pid $pid: key login fails (see $SSHD_LOG)"; return 1; }
  echo "up (pid $pid, ssh -p $SSHD_PORT -i $SSHD_CLIENT_KEY $(id -un)@$SSHD_IP)"
}

sshd_env() {
  echo "export BOTTEGA_SSH_KEY=$SSHD_CLIENT_KEY"
  echo "export BOTTEGA_SSHD_PORT=$SSHD_PORT"
}
