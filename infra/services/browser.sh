# shellcheck shell=bash
# Headless browser for the Web UI test: Debian's chromium (driven by playwright-core, which
# downloads no browser of its own). Nothing to start or stop; only installed when missing.
#
#   bash infra/services/browser.sh      install chromium if /usr/bin/chromium is absent
#
# Also follows the infra/services/<name>.sh conventions, so it can be sourced by dev.sh.

BROWSER_BIN="${BOTTEGA_CHROMIUM:-/usr/bin/chromium}"

browser_install() {
  [[ -x "$BROWSER_BIN" ]] && return 0
  ensure_dirs
  apt_install chromium || return 1
  [[ -x "$BROWSER_BIN" ]] || { err "browser: chromium installed but $BROWSER_BIN is missing"; return 1; }
}

browser_up() { [[ -x "$BROWSER_BIN" ]] || { err "browser: $BROWSER_BIN missing"; return 1; }; }

browser_down() { :; }

browser_status() {
  local ver
  if [[ -x "$BROWSER_BIN" ]] && ver=$("$BROWSER_BIN" --version 2>/dev/null); then
    echo "up ($ver, $BROWSER_BIN)"
    return 0
  fi
  echo "down — $BROWSER_BIN missing (run: bash infra/services/browser.sh)"
  return 1
}

browser_env() { :; }

# Executed rather than sourced: install and report.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  BOTTEGA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  export BOTTEGA_ROOT
  # shellcheck source=infra/lib/common.sh
  source "$BOTTEGA_ROOT/infra/lib/common.sh"
  browser_install || exit 1
  echo "browser: $(browser_status)"
fi
