#!/usr/bin/env bash
# Stand-in for the official postgres image's docker-entrypoint.sh (the parts
# the platform relies on): POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB
# (and their *_FILE twins), POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD,
# initdb + /docker-entrypoint-initdb.d/* on an EMPTY data dir only, then the
# server in the foreground as PID 1, running as the `postgres` user.
set -Eeo pipefail

log() { echo "$(date -u '+%F %T') UTC [entrypoint] $*"; }

# file_env VAR [DEFAULT]: VAR or the contents of VAR_FILE (not both).
file_env() {
  local var="$1" fileVar="${1}_FILE" def="${2:-}" val
  if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
    log "error: both $var and $fileVar are set (but are exclusive)" >&2
    exit 1
  fi
  val="$def"
  if [ "${!var:-}" ]; then
    val="${!var}"
  elif [ "${!fileVar:-}" ]; then
    val="$(<"${!fileVar}")"
  fi
  export "$var"="$val"
  unset "$fileVar"
}

# `docker run postgres -c foo=bar` -> postgres -c foo=bar
if [ "${1:0:1}" = '-' ]; then
  set -- postgres "$@"
fi

if [ "$1" = 'postgres' ]; then
  if [ "$(id -u)" = '0' ]; then
    mkdir -p "$PGDATA"
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
    chmod 3777 /var/run/postgresql
    exec gosu postgres "${BASH_SOURCE[0]}" "$@"
  fi

  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != 'trust' ]; then
      cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
       password; NOT recommended)
EOM
      exit 1
    fi
    log "initializing database in $PGDATA"
    # Local (socket and loopback) connections are trusted inside the
    # container, as upstream; host connections need a password.
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
    # temporary server: unix socket only
    PGUSER="$POSTGRES_USER" pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start

    psql_cmd=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      exists="$(PGHOST= PGHOSTADDR= "${psql_cmd[@]}" --dbname postgres -tA --set db="$POSTGRES_DB" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
      if [ -z "$exists" ]; then
        PGHOST= PGHOSTADDR= "${psql_cmd[@]}" --dbname postgres --set db="$POSTGRES_DB" \
          <<<'CREATE DATABASE :"db";'
      fi
    fi

    for f in /docker-entrypoint-initdb.d/*; do
      [ -e "$f" ] || continue
      case "$f" in
        *.sh)
          if [ -x "$f" ]; then log "running $f"; "$f"
          else log "sourcing $f"; . "$f"; fi ;;
        *.sql)    log "running $f"; PGHOST= PGHOSTADDR= "${psql_cmd[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) log "running $f"; gunzip -c "$f" | PGHOST= PGHOSTADDR= "${psql_cmd[@]}" --dbname "$POSTGRES_DB" ;;
        *)        log "ignoring $f" ;;
      esac
    done

    pg_ctl -D "$PGDATA" -m fast -w stop
    unset PGPASSWORD
    log "PostgreSQL init process complete; ready for start up."
  else
    log "PostgreSQL Database directory appears to contain a database; Skipping initialization"
  fi
fi

exec "$@"
