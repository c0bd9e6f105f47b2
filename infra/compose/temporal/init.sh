#!/bin/sh
# One-shot `temporal-init` job (admin tools): waits for the server, creates the namespace
# (the server image, unlike the dev server, starts with none) and registers bottega's search
# attributes (contracts/temporal.ts SEARCH_ATTRIBUTE_DECLS; test/unit/compose.test.ts keeps the
# list in docker-compose.yml equal). Idempotent: what exists is kept.
set -eu
: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${BOTTEGA_SEARCH_ATTRIBUTES:?}"
i=0
until temporal operator cluster health >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -le 90 ] || { echo "temporal-init: Temporal at $TEMPORAL_ADDRESS not serving after 180s" >&2; exit 1; }
  sleep 2
done
if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE exists"
else
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "${TEMPORAL_RETENTION:-720h}"
fi
# A namespace just created is served after the frontend's namespace cache refreshes.
i=0
until temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" >/tmp/attrs 2>&1; do
  i=$((i + 1))
  [ "$i" -le 60 ] || { echo "temporal-init: namespace $TEMPORAL_NAMESPACE not served after 120s" >&2; exit 1; }
  sleep 2
done
for decl in $BOTTEGA_SEARCH_ATTRIBUTES; do
  name=${decl%%=*} type=${decl#*=}
  if grep -qw "$name" /tmp/attrs; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type"
  fi
done
echo "temporal-init: namespace $TEMPORAL_NAMESPACE ready"
