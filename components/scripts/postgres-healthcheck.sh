#!/usr/bin/env bash
# mlplatform: healthy only when every service can log in with its own password.
# Connects over the container's network address: the image trusts 127.0.0.1
# and the socket, so a login there would not prove the credentials (and
# pg_isready proves neither credentials nor databases).
# Every login is proven once per start (passwords change only with the bootstrap of a new start);
# after that, one login per interval proves the server still takes them, at a third of the cost.
set -euo pipefail
[ -f /tmp/mlplatform-bootstrapped ]
address=$(hostname -i | awk '{print $1}')
logins=(${MLPLATFORM_DB_LOGINS})
verified=/tmp/mlplatform-logins-verified
if [ -f "$verified" ]; then
  logins=("${logins[0]}")
fi
for login in "${logins[@]}"; do
  IFS=: read -r role database password_file <<<"$login"
  PGPASSWORD="$(cat "$password_file")" PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$address" -U "$role" -d "$database" \
    -tAc 'SELECT 1' >/dev/null
done
touch "$verified"
