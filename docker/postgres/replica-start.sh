#!/bin/sh
# A streaming replica of the primary `db`. On its first start (an empty data folder) it copies the
# primary with pg_basebackup -R, which writes standby.signal and primary_conninfo; afterwards it
# starts as the standby it already is. Runs as the postgres user (compose's `user: postgres`).
# The replication password is read from its secret file into a password file outside the data
# folder at each start, so it is neither in the environment nor in the copied configuration.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
PRIMARY_HOST="${PRIMARY_HOST:-db}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
SECRETS_DIR="${SECRETS_DIR:-/run/secrets}"
PASSFILE="${PASSFILE:-/tmp/replication.pgpass}"
umask 077
printf '%s:%s:replication:replicator:%s\n' "$PRIMARY_HOST" "$PRIMARY_PORT" \
  "$(cat "$SECRETS_DIR/replication_password")" > "$PASSFILE"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready --quiet --host="$PRIMARY_HOST" --port="$PRIMARY_PORT"; do
    echo "waiting for the primary at $PRIMARY_HOST:$PRIMARY_PORT"
    sleep 1
  done
  # pg_basebackup wants an empty folder (and empties it again itself if the copy fails).
  rm -rf "${PGDATA:?}"/* "$PGDATA"/.[!.]* 2>/dev/null || true
  pg_basebackup --pgdata="$PGDATA" --wal-method=stream --write-recovery-conf \
    --slot=replica1 --checkpoint=fast --progress \
    --dbname="host=$PRIMARY_HOST port=$PRIMARY_PORT user=replicator passfile=$PASSFILE"
  chmod 0700 "$PGDATA"
fi
# Arguments given to the script go to postgres (compose gives none).
exec postgres -D "$PGDATA" "$@"
