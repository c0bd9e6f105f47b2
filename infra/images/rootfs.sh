# shellcheck shell=bash
# Offline Debian images: a debootstrapped rootfs imported with `docker import` (no registry
# needed). Sourced by build-base.sh (the Python task base) and infra/compose/build-images.sh (the
# compose stack's base). The Debian mirror is read from the machine's apt sources, never written
# into the repository.

rootfs_log() { printf '[%s] %s\n' "${ROOTFS_LOG_TAG:-rootfs}" "$*" >&2; }
rootfs_die() { printf '[%s] error: %s\n' "${ROOTFS_LOG_TAG:-rootfs}" "$*" >&2; exit 1; }

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

# rootfs_image TAG SUITE PACKAGES [docker import --change/--message args...]
#
# Makes image TAG from a minbase debootstrap of SUITE with PACKAGES (comma-separated). Idempotent:
#   - the image exists            -> nothing is done;
#   - the rootfs tarball is cached -> re-imported without debootstrap (e.g. after an image prune);
#   - otherwise                    -> debootstrap, cache the tarball under
#                                     ${BOTTEGA_HOME:-.bottega}/cache/base, import.
# One build per tag at a time across processes (flock). If ROOTFS_HOOK names a function, it is
# called with the rootfs path before the tarball is made (to check or add to it; failing aborts).
rootfs_image() {
  local tag=$1 suite=$2 packages=$3
  shift 3
  if docker image inspect "$tag" >/dev/null 2>&1; then
    rootfs_log "image $tag exists"
    return 0
  fi
  local cache_dir="${BOTTEGA_HOME:-.bottega}/cache/base" safe=${tag//[:\/]/-}
  local tarball="$cache_dir/$safe.tar"
  mkdir -p "$cache_dir"
  exec 9>"$cache_dir/.lock-$safe"
  flock 9
  if docker image inspect "$tag" >/dev/null 2>&1; then
    rootfs_log "image $tag was built meanwhile"
    exec 9>&-
    return 0
  fi
  if [[ ! -s "$tarball" ]]; then
    if ! command -v debootstrap >/dev/null 2>&1; then
      rootfs_log "installing debootstrap"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
    fi
    local mirror work rootfs
    mirror=$(read_mirror) || rootfs_die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    work=$(mktemp -d "${TMPDIR:-/tmp}/bottega-rootfs.XXXXXX")
    # shellcheck disable=SC2064 # expand now: the trap outlives this function's locals
    trap "rm -rf '$work'" EXIT
    rootfs="$work/rootfs"
    rootfs_log "debootstrap $suite ($packages) from $mirror"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >&2 ||
      rootfs_die "debootstrap $suite failed (see above)"
    if [[ -n "${ROOTFS_HOOK:-}" ]]; then "$ROOTFS_HOOK" "$rootfs"; fi
    # Slim the rootfs: downloaded debs, apt lists, docs and caches are not needed at run time.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/var/log/* "$rootfs"/tmp/*
    rootfs_log "caching rootfs tarball at $tarball"
    tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" . || rootfs_die "packing $rootfs failed"
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
  else
    rootfs_log "re-importing cached rootfs $tarball"
  fi
  rootfs_log "docker import -> $tag"
  docker import "$@" "$tarball" "$tag" >&2 || rootfs_die "docker import of $tarball failed"
  exec 9>&-
}
