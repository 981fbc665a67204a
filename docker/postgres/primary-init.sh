#!/bin/sh
# The primary's first start (docker-entrypoint-initdb.d, run once on an empty data folder, as the
# postgres user): a role that may only replicate, a slot that keeps the WAL the replica has not
# received yet, and the pg_hba line that lets that role (and only it) connect for replication.
# The password comes from the replication_password secret file, never from the environment.
set -eu
password="$(cat "${SECRETS_DIR:-/run/secrets}/replication_password")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=password="$password" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot('replica1');
SQL
# Replication connections match no "all" database line: they need their own.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
