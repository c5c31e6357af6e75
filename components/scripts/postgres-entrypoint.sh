#!/usr/bin/env bash
# mlplatform: start PostgreSQL through the image's own entrypoint, then make
# roles, databases, passwords and grants (the superuser's password too) match the
# stack, on EVERY start.
# /docker-entrypoint-initdb.d only runs on an empty volume, so it cannot keep
# an existing volume in line with the stack config; this does.
set -Eeuo pipefail

for file in ${MLPLATFORM_DB_PASSWORD_FILES}; do
  if [ ! -s "$file" ]; then
    echo "mlplatform: password file ${file} is missing or empty; refusing to start" >&2
    exit 1
  fi
done

# A restarted container keeps /tmp: the health check must wait for this start's bootstrap.
rm -f /tmp/mlplatform-bootstrapped /tmp/mlplatform-logins-verified

docker-entrypoint.sh "$@" &
server=$!
# Pass the stop signal on as it came: SIGINT (the container's stop signal) is PostgreSQL's fast
# shutdown, SIGTERM its smart one; either ends with a clean checkpoint.
trap 'kill -INT "$server" 2>/dev/null || true' INT
trap 'kill -TERM "$server" 2>/dev/null || true' TERM

# The entrypoint's temporary init server listens on the socket only, so TCP
# readiness means the real server is up.
until pg_isready -q -h 127.0.0.1 -U "${POSTGRES_USER:-postgres}"; do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "mlplatform: PostgreSQL exited before it became ready" >&2
    wait "$server" || exit $?
    exit 1
  fi
  sleep 0.5 & wait $! || true  # in `wait`, a stop signal runs its trap at once
done

if PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
    -U "${POSTGRES_USER:-postgres}" -d postgres -f /mlplatform/bootstrap.sql; then
  echo "mlplatform: roles, databases and grants are in line with the stack"
  # A builtin, not `touch`: a signal that arrives while bash waits for a foreground child that exits
  # normally is taken as handled by that child, and its trap never runs.
  : >/tmp/mlplatform-bootstrapped
else
  echo "mlplatform: bootstrap SQL failed; stopping PostgreSQL" >&2
  kill -TERM "$server"
  wait "$server" || true
  exit 1
fi

set +e
while :; do
  wait "$server"
  status=$?
  # A trapped signal makes `wait` return early (128+n): wait again while the server shuts down.
  kill -0 "$server" 2>/dev/null || break
done
# Report the server's own exit status (0 after a clean shutdown), not the signal's.
wait "$server" 2>/dev/null
final=$?
[ "$final" -ne 127 ] && status=$final
exit "$status"
