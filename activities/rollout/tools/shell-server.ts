/**
 * The shell server that runs as the main process of every rollout container (under the engine's
 * init, which reaps orphans). It is a plain bash script, so it needs nothing beyond bash and
 * coreutils in the image (no python). The host talks to it over the container's attach stream:
 *
 * Request (stdin): one header line `<id> <timeout_s> <script_bytes> <data_bytes>\n`, then the
 * script's bytes, then the data's bytes. The data (file content for the editor) is stored in
 * `/tmp/.bottega/d.<id>`, where the script can read it; it is removed after the call.
 *
 * One FIFO (`/tmp/.bottega/out`) carries every command's output to the `base64` reader, and the
 * script is stored in `/tmp/.bottega/script`: reused, so a call forks only `head`, `base64`,
 * `timeout` and the command's shell.
 *
 * Reply (stdout): the command's merged stdout and stderr as one unwrapped base64 run (so it never
 * contains a newline), then `\n#END <id> <exit status>\n`. The server prints `#READY\n` once at start.
 *
 * Per request, like one `docker exec` of `timeout --kill-after=2 <t>s bash -lc <script>` did before:
 * the command runs under coreutils `timeout`, which leads a process group of its own; once it has
 * exited, that group is SIGKILLed until empty (background jobs, a fork bomb), with waits done by
 * `read -t` on a FIFO nobody writes, so the cleanup loop never forks (a fork bomb may hold every pid
 * the limit allows). A process that escaped the group (setsid) but still holds the call's output
 * open would keep the output reader waiting: after a short grace the server SIGKILLs every process
 * holding that FIFO (found through /proc/<pid>/fd), then gives the reader 2 s more before killing it,
 * so nothing a command does can hang the server.
 */

/** Where the script is copied (archive API) before the container starts. */
export const SHELL_SERVER_PATH = '/opt/bottega/shell-server.sh';

/**
 * The script's text. The server's own variables are not exported, so commands do not see them;
 * `wait` runs with stderr discarded so bash's "Killed" job notices do not reach the log.
 */
export const SHELL_SERVER_SCRIPT = String.raw`# bottega rollout shell server (activities/rollout/tools/shell-server.ts)
D=/tmp/.bottega
mkdir -p "$D" && rm -f "$D"/d.* && { [ -p "$D/wait" ] || mkfifo "$D/wait"; } || exit 70
exec 3<>"$D/wait"
printf '#READY\n'
while IFS=' ' read -r id t sn dn; do
  case "$id:$t:$sn:$dn" in *[!0-9:]*|:*|*::*|*:) printf '\n#END 0 255\n'; continue;; esac
  # A command may have removed /tmp/.bottega (rm -rf /tmp/*): recreate it (fd 3 stays valid).
  [ -d "$D" ] || mkdir -p "$D"
  s="$D/script"; d="$D/d.$id"; o="$D/out"
  if [ "$sn" -gt 0 ]; then head -c "$sn" > "$s"; else : > "$s"; fi
  if [ "$dn" -gt 0 ]; then head -c "$dn" > "$d"; fi
  script=; IFS= read -r -d '' script < "$s"
  [ -p "$o" ] || { rm -f "$o"; mkfifo "$o"; }
  base64 -w0 < "$o" & b=$!
  timeout -k 2 "$t"s bash -lc "$script" > "$o" 2>&1 < /dev/null & p=$!
  wait "$p" 2>/dev/null; rc=$?
  i=0
  while kill -KILL -- "-$p" 2>/dev/null; do
    i=$((i+1)); [ "$i" -ge 150 ] && break
    read -r -t 0.1 -u 3 _
  done
  for w in 0.001 0.002 0.004 0.008 0.016 0.032 0.064 0.128; do
    kill -0 "$b" 2>/dev/null || break
    read -r -t "$w" -u 3 _
  done
  if kill -0 "$b" 2>/dev/null; then
    for f in /proc/[0-9]*/fd/[0-9]*; do
      [ "$f" -ef "$o" ] || continue
      IFS=/ read -r _ _ q _ <<< "$f"
      [ "$q" = "$b" ] || [ "$q" = "$$" ] || kill -KILL "$q" 2>/dev/null
    done
    for w in 0.01 0.02 0.04 0.08 0.16 0.32 0.64 1; do
      kill -0 "$b" 2>/dev/null || break
      read -r -t "$w" -u 3 _
    done
    kill -KILL "$b" 2>/dev/null
  fi
  wait "$b" 2>/dev/null
  [ "$dn" -gt 0 ] && rm -f "$d"
  printf '\n#END %s %s\n' "$id" "$rc"
done
`;
