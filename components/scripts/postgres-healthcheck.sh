#!/usr/bin/env bash
# mlplatform: healthy only when every service can log in with its own password.
# Connects over the container's network address: the image trusts 127.0.0.1
# and the socket, so a login there would not prove the credentials (and
# pg_isready proves neither credentials nor databases).
set -euo pipefail
[ -f /tmp/mlplatform-bootstrapped ]
address=$(hostname -i | awk '{print $1}')
for login in ${MLPLATFORM_DB_LOGINS}; do
  IFS=: read -r role database password_file <<<"$login"
  PGPASSWORD="$(cat "$password_file")" PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$address" -U "$role" -d "$database" \
    -tAc 'SELECT 1' >/dev/null
done
