# shellcheck shell=bash
# The Node.js that bottega's scripts run on (sourced by infra/test.sh, infra/demo.sh, .ci/run).
#
# Supported: the maintained LTS lines, Node 24 and Node 26 (CI tests 26, the active LTS). When the
# machine's node is older (Node 20 reached end of life in April 2026), `ensure_node` installs the
# pinned Node 26 from the npm registry's node-linux-<arch> package under $BOTTEGA_HOME/node and puts
# it first on PATH, so npm and everything below it run on it. BOTTEGA_NODE_VERSION picks another.

BOTTEGA_NODE_MIN_MAJOR=24
BOTTEGA_NODE_VERSION="${BOTTEGA_NODE_VERSION:-26.12.1}"

# node_major: the major version of the node on PATH (0 when there is none).
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  local home=${BOTTEGA_HOME:?BOTTEGA_HOME must be set} arch pkg dir bin
  if (($(node_major) >= BOTTEGA_NODE_MIN_MAJOR)); then return 0; fi
  case $(uname -m) in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node: no prebuilt Node for $(uname -m); install Node >= $BOTTEGA_NODE_MIN_MAJOR yourself" >&2; return 1 ;;
  esac
  pkg="node-linux-$arch"
  dir="$home/node/$BOTTEGA_NODE_VERSION-$arch"
  bin="$dir/node_modules/$pkg/bin"
  if [[ ! -x "$bin/node" ]]; then
    command -v npm >/dev/null || { echo "node: npm is needed to fetch Node $BOTTEGA_NODE_VERSION" >&2; return 1; }
    echo "==> node $(node --version 2>/dev/null || echo missing) is older than the supported LTS lines; installing Node $BOTTEGA_NODE_VERSION ($pkg from the npm registry)" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
      "$pkg@$BOTTEGA_NODE_VERSION" >&2 || { echo "node: npm install $pkg@$BOTTEGA_NODE_VERSION failed" >&2; return 1; }
  fi
  export PATH="$bin:$PATH"
  [[ "$(node --version)" == "v$BOTTEGA_NODE_VERSION" ]] || { echo "node: $bin/node is not v$BOTTEGA_NODE_VERSION" >&2; return 1; }
}

# ensure_node_modules: `npm ci` when node_modules is missing or does not match the lockfile. (No
# dependency builds native code for one Node ABI: Temporal's core bridge is N-API.)
ensure_node_modules() {
  if [[ -d node_modules ]] && npm ls --depth=0 >/dev/null 2>&1; then return 0; fi
  echo "==> installing node modules (npm ci, node $(node --version))" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
}
