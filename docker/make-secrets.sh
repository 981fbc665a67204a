#!/bin/sh
# Creates the secret files compose.yaml mounts at /run/secrets, for a first start:
#   sh docker/make-secrets.sh            (into docker/secrets/)
#   sh docker/make-secrets.sh /some/dir  (anywhere else; then point compose.yaml's secrets at it)
# Needs python3 and openssl. A file that exists is kept: these keys must outlive the database
# (the audit trail is chained and signed with them, the vault sealed), so back them up apart from it.
set -eu
dir="${1:-$(dirname "$0")/secrets}"
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

new() {
  # $1 file name; the rest: the command that prints its content.
  target="$dir/$1"
  shift
  if [ -e "$target" ]; then
    echo "kept    $target"
    return
  fi
  "$@" > "$target.tmp"
  # Readable inside the containers, whose users (uid 10001 for the register, 999 for PostgreSQL)
  # are not this one: compose mounts a secret file with its mode on the host. The folder (0700)
  # keeps other users of this machine out.
  chmod 0644 "$target.tmp"
  mv "$target.tmp" "$target"
  echo "created $target"
}

token() { python3 -c "import secrets; print(secrets.token_hex(32))"; }
ring() {
  python3 -c "import base64, json, secrets; print(json.dumps({'current': 1, 'keys': {'1': base64.b64encode(secrets.token_bytes(32)).decode()}}))"
}
ed25519() { openssl genpkey -algorithm ed25519; }

new secret.key token
new keyring.json ring
new audit_signing.pem ed25519
new database_password token
new replication_password token
