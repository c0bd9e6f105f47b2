#!/usr/bin/env bash
# Build the offline Python base image: `bottega/base-python:<version>-<hash8>`.
#
# Usage: infra/images/build-base.sh PYTHON_VERSION        (e.g. 3.11)
#
# No registry is reachable, so the image is a debootstrapped Debian rootfs imported with
# `docker import` (infra/images/rootfs.sh). The tag's hash covers both scripts, the suite and the package list, so a change to
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

ROOTFS_LOG_TAG=build-base
# shellcheck source=infra/images/rootfs.sh
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/rootfs.sh"
die() { rootfs_die "$@"; }

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
HASH=$({ cat "$SCRIPT_PATH" "$(dirname "$SCRIPT_PATH")/rootfs.sh"; printf '%s\n%s\n' "$SUITE" "$PACKAGES"; } | sha256sum | cut -c1-8)
TAG="$IMAGE_REPO:$PYTHON_VERSION-$HASH"

# The suite must ship the Python asked for; task images run in /testbed.
check_rootfs() {
  local got
  got=$(chroot "$1" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [[ "$got" == "$PYTHON_VERSION" ]] || die "$SUITE ships Python $got, not $PYTHON_VERSION"
  mkdir -p "$1/testbed"
}

ROOTFS_HOOK=check_rootfs rootfs_image "$TAG" "$SUITE" "$PACKAGES" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
  --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
  --change 'WORKDIR /testbed' \
  --change 'CMD ["bash"]' \
  --message "bottega base: $SUITE minbase + $PACKAGES"

echo "$TAG"
