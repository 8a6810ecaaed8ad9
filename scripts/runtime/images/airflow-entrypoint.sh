#!/usr/bin/env bash
# /entrypoint of the real node's apache/airflow image (scripts/runtime/build-images.sh): what the official image's
# entrypoint does (documented at https://airflow.apache.org/docs/docker-stack/entrypoint.html; the image's
# Dockerfile runs it as ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"] with CMD []), written for this root:
#  - the group must be 0 (uid 50000 with another group only warns, any other uid fails), umask 0002;
#  - an arbitrary uid missing from /etc/passwd gets HOME=$AIRFLOW_USER_HOME_DIR (and an entry when writable);
#  - unless CONNECTION_CHECK_MAX_COUNT is 0, `airflow db check` is retried CONNECTION_CHECK_MAX_COUNT times
#    (default 20), CONNECTION_CHECK_SLEEP_TIME seconds apart (default 3), before anything runs;
#  - _AIRFLOW_DB_MIGRATE (or the deprecated _AIRFLOW_DB_UPGRADE) runs `airflow db migrate`;
#  - `bash ...` and `python ...` run those; otherwise a leading `airflow` is dropped and `airflow "$@"` is exec'd
#    (for `scheduler` and `celery`, the Celery broker is waited for first when the executor is CeleryExecutor).
# Not done here: _AIRFLOW_WWW_USER_CREATE (FAB's `airflow users create`), _PIP_ADDITIONAL_REQUIREMENTS (no network).
set -euo pipefail
AIRFLOW_COMMAND="${1:-}"
unset PIP_USER

if [[ "$(id -g)" != 0 ]]; then
  if [[ "$(id -u)" == 50000 ]]; then
    echo "WARNING! You should run the image with GID (Group ID) set to 0 even if you use 'airflow' user (UID=50000)" >&2
  else
    echo "ERROR! You should run the image with GID=0 (you started it with UID=$(id -u) and GID=$(id -g))" >&2
    exit 1
  fi
fi
umask 0002

CONNECTION_CHECK_MAX_COUNT="${CONNECTION_CHECK_MAX_COUNT:-20}"
CONNECTION_CHECK_SLEEP_TIME="${CONNECTION_CHECK_SLEEP_TIME:-3}"

if ! whoami >/dev/null 2>&1; then
  if [[ -w /etc/passwd ]]; then
    echo "${USER_NAME:-default}:x:$(id -u):0:${USER_NAME:-default} user:${AIRFLOW_USER_HOME_DIR}:/sbin/nologin" >>/etc/passwd
  fi
  export HOME="${AIRFLOW_USER_HOME_DIR}"
fi

retry() {  # retry CMD...: CONNECTION_CHECK_MAX_COUNT tries
  local left="$CONNECTION_CHECK_MAX_COUNT" out
  while :; do
    if out="$("$@" 2>&1)"; then echo; return 0; fi
    echo -n "."
    left=$((left - 1))
    if ((left <= 0)); then
      printf '\nERROR! Maximum number of retries (%s) reached.\n\nLast check result:\n$ %s\n%s\n' \
        "$CONNECTION_CHECK_MAX_COUNT" "$*" "$out"
      exit 1
    fi
    sleep "$CONNECTION_CHECK_SLEEP_TIME"
  done
}

wait_for_port() {  # the broker of a URL, host:port reachable
  local hp
  hp="$(python -c 'import sys; from urllib.parse import urlsplit; u = urlsplit(sys.argv[1])
d = {"redis": 6379, "amqp": 5672, "postgres": 5432, "postgresql": 5432, "mysql": 3306}
print(u.hostname or "localhost", u.port or d.get(u.scheme.split("+")[0], ""))' "$1")"
  # shellcheck disable=SC2086
  retry python -c 'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)' $hp
}

if ((CONNECTION_CHECK_MAX_COUNT > 0)); then retry airflow db check; fi
if [[ -n "${_AIRFLOW_DB_UPGRADE:-}" || -n "${_AIRFLOW_DB_MIGRATE:-}" ]]; then airflow db migrate || true; fi

case "$AIRFLOW_COMMAND" in
  bash) shift; exec /bin/bash "$@" ;;
  python) shift; exec python "$@" ;;
esac
if [[ "$AIRFLOW_COMMAND" == airflow ]]; then AIRFLOW_COMMAND="${2:-}"; shift; fi
if [[ "$AIRFLOW_COMMAND" =~ ^(scheduler|celery)$ ]] && ((CONNECTION_CHECK_MAX_COUNT > 0)); then
  if [[ "$(airflow config get-value core executor)" == CeleryExecutor ]]; then
    wait_for_port "$(airflow config get-value celery broker_url)"
  fi
fi
exec airflow "$@"
