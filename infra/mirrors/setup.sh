#!/usr/bin/env bash
# Real public git mirrors the test suite mines (test/integration/mine-real-mirrors.test.ts), kept
# under $BOTTEGA_HOME/mirrors/<owner>__<name>.git as `git clone --mirror` copies (with the
# refs/pull/N/head refs GitHub serves). Idempotent: an existing mirror is kept as it is.
#
# Each is copied from a local mirror when one is there (BOTTEGA_REAL_MIRRORS: a folder holding
# <owner>+<name>/repo or <owner>__<name>.git; default /work/.mirror, where this project's tooling
# fetches them), else cloned from GitHub. Only what the tests derive from them is committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
HOME_DIR=${BOTTEGA_HOME:-$PWD/.bottega}
SOURCES=${BOTTEGA_REAL_MIRRORS:-/work/.mirror}
REPOS=(pallets/click encode/httpx)
mkdir -p "$HOME_DIR/mirrors"
for repo in "${REPOS[@]}"; do
  dest="$HOME_DIR/mirrors/${repo/\//__}.git"
  if git -C "$dest" rev-parse --verify -q HEAD >/dev/null 2>&1; then continue; fi
  rm -rf "$dest"
  from=""
  for cand in "$SOURCES/${repo/\//+}/repo" "$SOURCES/${repo/\//__}.git"; do
    if git -C "$cand" rev-parse --verify -q HEAD >/dev/null 2>&1; then from=$cand; break; fi
  done
  if [[ -z $from ]]; then from="https://github.com/$repo"; fi
  echo "mirrors: $repo from $from"
  # A mirror clone takes every ref, refs/pull/* included.
  if ! GIT_TERMINAL_PROMPT=0 timeout 600 git clone -q --mirror "$from" "$dest.tmp"; then
    rm -rf "$dest.tmp"
    echo "mirrors: could not get $repo (no local mirror under $SOURCES, and $from failed)" >&2
    exit 1
  fi
  mv "$dest.tmp" "$dest"
done
