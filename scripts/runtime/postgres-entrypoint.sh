#!/usr/bin/env bash
# docker-entrypoint.sh of the runtime root's "postgres" image: the subset of the official postgres image's
# entrypoint (docker-library/postgres, 17/bookworm/docker-entrypoint.sh) that the chart's StatefulSet relies on,
# on Debian trixie's PostgreSQL 17. Installed into the root as /usr/local/bin/docker-entrypoint.sh by
# build-root.sh; the runtime kubelet runs it as the image's ENTRYPOINT with CMD ["postgres"].
#
# As in the image: started as root (the StatefulSet sets no runAsUser), it creates PGDATA and
# /var/run/postgresql, hands them to user postgres and re-executes itself as postgres (the image uses gosu,
# this uses setpriv: both need CAP_SETUID/CAP_SETGID, which the StatefulSet adds). On an empty PGDATA it runs
# initdb with POSTGRES_USER as the superuser, POSTGRES_PASSWORD as its password and POSTGRES_INITDB_ARGS, lets
# every host connect with the password_encryption method (scram-sha-256), creates POSTGRES_DB on a temporary
# socket-only server, then execs the server. Not emulated: /docker-entrypoint-initdb.d, POSTGRES_HOST_AUTH_METHOD
# other than the default, *_FILE variables.
set -Eeo pipefail

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
if [ "$1" != postgres ]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
export PGDATA POSTGRES_USER POSTGRES_DB

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
  find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "Error: Database is uninitialized and superuser password is not specified (POSTGRES_PASSWORD)." >&2
    exit 1
  fi
  echo "initdb: PGDATA=$PGDATA user=$POSTGRES_USER args=${POSTGRES_INITDB_ARGS:-}"
  eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"${POSTGRES_INITDB_ARGS:-}"
  method="$(postgres -C password_encryption)"
  printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start
  if [ "$POSTGRES_DB" != postgres ]; then
    PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres \
      --set db="$POSTGRES_DB" <<<"CREATE DATABASE :\"db\";"
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
