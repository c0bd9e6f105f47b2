#!/bin/sh
# One-shot `temporal-schema` job (admin tools): creates Temporal's two PostgreSQL databases and
# brings their schemas to the server's version with temporal-sql-tool. Idempotent: an existing
# database is kept and update-schema applies only the missing versions.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
schema_dir=${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}
sql() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"; }
for db in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  name=${db%%:*} kind=${db#*:}
  i=0
  until out=$(sql --db "$name" create-database 2>&1) || echo "$out" | grep -q 'already exists'; do
    i=$((i + 1))
    [ "$i" -le 60 ] || { echo "temporal-schema: PostgreSQL at $POSTGRES_SEEDS not ready after 120s: $out" >&2; exit 1; }
    sleep 2
  done
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$schema_dir/$kind/versioned"
  echo "temporal-schema: $name is at the server's schema version"
done
