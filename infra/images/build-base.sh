#!/usr/bin/env bash
# Build the offline Python base image: `bottega/base-python:<version>-<hash8>`.
#
# Usage: infra/images/build-base.sh PYTHON_VERSION        (e.g. 3.11)
#
# No registry is reachable, so the image is a debootstrapped Debian rootfs imported with
# `docker import`. The tag's hash covers this script, the suite and the package list, so a change to
# any of them yields a new tag (and never reuses a stale image).
#
# Idempotent:
#   - the image exists            -> nothing is done;
#   - the rootfs tarball is cached -> re-imported without debootstrap (e.g. after an image prune);
#   - otherwise                    -> debootstrap, cache the tarball, import.
# The Debian mirror is read from the machine's apt sources (never hard-coded).
# Progress goes to stderr; the tag is printed on stdout, as the last line.
set -euo pipefail

PYTHON_VERSION=${1:-}
PACKAGES=python3,python3-venv,python3-pip,git,ca-certificates,patch,bash,procps
IMAGE_REPO=bottega/base-python

log() { printf '[build-base] %s\n' "$*" >&2; }
die() { printf '[build-base] error: %s\n' "$*" >&2; exit 1; }

suite_for() {
  case "$1" in
    3.9) echo bullseye ;;
    3.11) echo bookworm ;;
    3.13) echo trixie ;;
    *) return 1 ;;
  esac
}

[[ -n "$PYTHON_VERSION" ]] || die "usage: $0 PYTHON_VERSION (available: 3.9, 3.11, 3.13)"
SUITE=$(suite_for "$PYTHON_VERSION") ||
  die "no base image for Python $PYTHON_VERSION; available: 3.9 (bullseye), 3.11 (bookworm), 3.13 (trixie)"

SCRIPT_PATH=$(readlink -f "${BASH_SOURCE[0]}")
HASH=$({ cat "$SCRIPT_PATH"; printf '%s\n%s\n' "$SUITE" "$PACKAGES"; } | sha256sum | cut -c1-8)
TAG="$IMAGE_REPO:$PYTHON_VERSION-$HASH"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "image $TAG exists"
  echo "$TAG"
  exit 0
fi

CACHE_DIR="${BOTTEGA_HOME:-.bottega}/cache/base"
TARBALL="$CACHE_DIR/base-python-$PYTHON_VERSION-$HASH.tar"
mkdir -p "$CACHE_DIR"

# One build per tag at a time across processes; whoever waited finds the image made.
exec 9>"$CACHE_DIR/.lock-$PYTHON_VERSION-$HASH"
flock 9
if docker image inspect "$TAG" >/dev/null 2>&1; then
  log "image $TAG was built meanwhile"
  echo "$TAG"
  exit 0
fi

# Print the first Debian mirror of the machine's apt sources (deb822 first, then one-line format).
read_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri=$(awk '/^URIs:/ { print $2; exit }' "$f")
    if [[ -n "$uri" ]]; then echo "$uri"; return 0; fi
  done
  if [[ -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    if [[ -n "$uri" ]]; then echo "$uri"; return 0; fi
  fi
  return 1
}

if [[ ! -s "$TARBALL" ]]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  MIRROR=$(read_mirror) || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/bottega-base.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  ROOTFS="$WORK/rootfs"
  log "debootstrap $SUITE ($PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" >&2

  got=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [[ "$got" == "$PYTHON_VERSION" ]] || die "$SUITE ships Python $got, not $PYTHON_VERSION"

  # Slim the rootfs: downloaded debs, apt lists, docs and caches are not needed at run time.
  rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* \
    "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/var/log/* "$ROOTFS"/tmp/*
  mkdir -p "$ROOTFS/testbed"

  log "caching rootfs tarball at $TARBALL"
  tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$ROOTFS"
else
  log "re-importing cached rootfs $TARBALL"
fi

log "docker import -> $TAG"
docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
  --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'WORKDIR /testbed' \
  --change 'CMD ["bash"]' \
  --message "bottega base: $SUITE minbase + $PACKAGES" \
  "$TARBALL" "$TAG" >&2

echo "$TAG"
