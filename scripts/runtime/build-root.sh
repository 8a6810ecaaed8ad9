#!/usr/bin/env bash
# build-root.sh — the Debian trixie root file system the runtime tests run Airflow in (docs/runtime-tests.md).
#
# USAGE
#   scripts/runtime/build-root.sh          build the root if it is not cached; print its path on stdout
#   scripts/runtime/build-root.sh --path   print the path the root has (or will have), build nothing
#   AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 scripts/runtime/build-root.sh [--path]   the same for the Airflow 3.2 root
#
# What the root holds: debootstrap'ed trixie (from the Debian mirror this machine already uses) with Debian's
# Python 3.13 libraries for Airflow, Debian's PostgreSQL 17, Apache Airflow 3.1 core + task SDK + the providers
# the chart uses from the source bundle (AIRFLOW_CDK8S_AIRFLOW_SRC), an `airflow` launcher, the user airflow
# (uid 50000, gid 0) and /opt/airflow as in the official image, and the subset of the postgres image's
# entrypoint the StatefulSet relies on (scripts/runtime/postgres-entrypoint.sh). The runtime kubelet
# (scripts/runtime/kubelet.py) serves both images, apache/airflow and postgres, from this one root.
#
# Cached under $AIRFLOW_CDK8S_CACHE/runtime/trixie-<key> (default /var/cache/airflow-cdk8s, like the control
# plane's binaries), where <key> hashes this script's commands, the postgres entrypoint and the bundle: change one
# and the next run builds a new root (and removes the old ones). Idempotent and safe to run concurrently: a
# lock serialises builders, a root is built in a temporary directory and renamed into place only when complete,
# so a half-built root never counts as cached. The root is never written to by the tests (each container runs
# on an overlay of it). Cold: 3-5.5 minutes on a busy 2-core machine (193 s and 324 s measured), 1.1 GB; cached: 0.4 s.
#
# ENVIRONMENT
#   AIRFLOW_CDK8S_CACHE          cache root                          [/var/cache/airflow-cdk8s]
#   AIRFLOW_CDK8S_RUNTIME_AIRFLOW  which Airflow: 3.1 or 3.2           [3.1]
#   AIRFLOW_CDK8S_AIRFLOW_SRC    the Airflow 3.1 source bundle       [<repo>/../shared/airflow-runtime/airflow-src.tgz]
#   AIRFLOW_CDK8S_AIRFLOW_SRC_3_2  the Airflow 3.2 source bundle     [$AIRFLOW_CDK8S_CACHE/airflow-src-3.2+git.tgz, made by
#                                make-bundle-3.2.sh]
#   AIRFLOW_CDK8S_RUNTIME_KEEP_OLD_ROOTS=1  leave the older roots of the same Airflow in place (a root built from a work
#                                tree whose script differs from other work trees' on one machine: theirs stay in use)
#
# The 3.2 root is the same root with the 3.2 bundle (docs/runtime-tests.md, "Airflow 3.2"), cached as
# airflow3.2-trixie-<key> beside the 3.1 root's trixie-<key>: each has its own key and removes only its own old roots.
#   AIRFLOW_CDK8S_DEBIAN_MIRROR  Debian mirror                       [derived from /etc/apt, see local-control-plane.sh]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE_ROOT="${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}"
RUNTIME_CACHE="${CACHE_ROOT}/runtime"
SUITE=trixie
AIRFLOW_MINOR="${AIRFLOW_CDK8S_RUNTIME_AIRFLOW:-3.1}"

log() { printf '[build-root] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bundle_path() {
  local b
  if [[ "$AIRFLOW_MINOR" == 3.2 ]]; then
    b="${AIRFLOW_CDK8S_AIRFLOW_SRC_3_2:-$CACHE_ROOT/airflow-src-3.2+git.tgz}"
    [[ -r "$b" ]] && { readlink -f "$b"; return 0; }
    die "the Airflow 3.2 source bundle $b is missing: scripts/runtime/make-bundle-3.2.sh makes it (see docs/runtime-tests.md)"
  fi
  [[ "$AIRFLOW_MINOR" == 3.1 ]] || die "AIRFLOW_CDK8S_RUNTIME_AIRFLOW=$AIRFLOW_MINOR: the runtime roots are 3.1 and 3.2"
  for b in "${AIRFLOW_CDK8S_AIRFLOW_SRC:-}" "$REPO/../shared/airflow-runtime/airflow-src.tgz" /work/shared/airflow-runtime/airflow-src.tgz; do
    [[ -n "$b" && -r "$b" ]] && { readlink -f "$b"; return 0; }
  done
  die "the Airflow source bundle is missing: set AIRFLOW_CDK8S_AIRFLOW_SRC to airflow-src.tgz (see docs/runtime-tests.md)"
}

BUNDLE="$(bundle_path)"
# The key: what makes a different root (this script's commands, not its comments; the entrypoint installed into
# the root, comments included; the bundle).
KEY="$( { grep -Ev '^[[:space:]]*#( |$)' "$HERE/build-root.sh"; cat "$HERE/postgres-entrypoint.sh"; sha256sum <"$BUNDLE"; echo "$AIRFLOW_MINOR"; } | sha256sum | cut -c1-12)"
# 3.1 keeps the name it always had; 3.2's root has its own prefix (so neither removes the other as an old root)
PREFIX="$SUITE"; [[ "$AIRFLOW_MINOR" == 3.1 ]] || PREFIX="airflow${AIRFLOW_MINOR}-${SUITE}"
ROOT="${RUNTIME_CACHE}/${PREFIX}-${KEY}"
# Where the bundle's code goes on sys.path (the bundle's layout differs between 3.1 and 3.2)
if [[ "$AIRFLOW_MINOR" == 3.1 ]]; then
  PP="/opt/src/airflow-core-3.1.0bp/airflow-core/src /opt/src/airflow-core-3.1.0bp/task-sdk/src"
else
  PP="/opt/src/airflow-core-3.2/airflow-core/src /opt/src/airflow-core-3.2/task-sdk/src"
fi
for p in cncf/kubernetes celery standard common/sql common/compat common/io fab smtp; do PP="$PP /opt/src/airflow-providers/providers/$p/src"; done
# 3.2: the git provider (GitDagBundle, GitHook) for `dagBundles`
[[ "$AIRFLOW_MINOR" == 3.1 ]] || PP="$PP /opt/src/airflow-providers/providers/git/src"
# 3.2: FastAPI 0.129 (Debian: 0.115), uvicorn 0.41 (Debian: 0.32), cadwyn 6, universal_pathlib 0.3 (+ pathlib_abc),
# greenback (+ outcome) ahead of Debian's
[[ "$AIRFLOW_MINOR" == 3.1 ]] || PP="$PP /opt/src/deps/fastapi /opt/src/deps/uvicorn /opt/src/deps/annotated_doc /opt/src/deps/pathlib_abc /opt/src/deps/greenback /opt/src/deps/outcome"
PP="$PP /opt/src/deps/cadwyn /opt/src/deps/svcs/src /opt/src/deps/uuid6/src /opt/src/deps/methodtools /opt/src/deps/wirerope
 /opt/src/deps/upath /opt/src/deps/sajsonfield /opt/src/deps/retryhttp /opt/src/deps/k8sasync /opt/src/deps/otel/opentelemetry-api/src
 /opt/src/deps/fab /opt/src/deps/fjwt /opt/src/deps/fwtf/src /opt/src/metadata /opt/src/deps/connexion /opt/src/deps/typing_inspection/src"

if [[ "${1:-}" == --path ]]; then echo "$ROOT"; exit 0; fi
[[ -x "$ROOT/usr/local/bin/airflow" && -f "$ROOT/.airflow-cdk8s-root" ]] && { log "cached: $ROOT"; echo "$ROOT"; exit 0; }

[[ $(id -u) -eq 0 ]] || die "building the root needs root (debootstrap, chroot)"
mkdir -p "$RUNTIME_CACHE"
exec 7>"${RUNTIME_CACHE}/.build.lock"
flock -n 7 || { log "waiting for another build (lock ${RUNTIME_CACHE}/.build.lock) ..."; flock 7; }
# Another builder may have finished while we waited.
[[ -x "$ROOT/usr/local/bin/airflow" && -f "$ROOT/.airflow-cdk8s-root" ]] && { log "cached: $ROOT"; echo "$ROOT"; exit 0; }

t0=$SECONDS
export DEBIAN_FRONTEND=noninteractive
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
MIRROR="$(bash "$REPO/scripts/local-control-plane.sh" mirrors 2>/dev/null | head -n1 || true)"
[[ -n "$MIRROR" ]] || MIRROR=http://deb.debian.org/debian
log "building the $SUITE root from $MIRROR into $ROOT (bundle $BUNDLE)"

TMP="${RUNTIME_CACHE}/.build-${KEY}-$$"
rm -rf "$TMP"
cleanup_tmp() { [[ -n "${TMP:-}" && -d "$TMP" ]] && rm -rf --one-file-system "$TMP"; return 0; }
trap cleanup_tmp EXIT

keyring=()
[[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
debootstrap --variant=minbase "${keyring[@]}" "$SUITE" "$TMP" "$MIRROR" >"${RUNTIME_CACHE}/.build-${KEY}.log" 2>&1 \
  || { tail -n 30 "${RUNTIME_CACHE}/.build-${KEY}.log" >&2; die "debootstrap failed (log ${RUNTIME_CACHE}/.build-${KEY}.log)"; }
log "debootstrap done in $((SECONDS - t0)) s"

# Debian's Python libraries for Airflow 3.1 and its providers (what the bundle does not carry), PostgreSQL 17
# (the StatefulSet's postgres:17), and Celery/Redis for the hybrid-executor variants to come (issue #16).
PKGS=(
  python3 python-is-python3 procps iproute2 curl ca-certificates netbase util-linux
  postgresql-17 postgresql-client-17
  python3-pydantic python3-fastapi python3-sqlalchemy python3-alembic python3-structlog python3-msgspec python3-rich-argparse
  python3-kubernetes python3-psycopg2 python3-asyncpg python3-pendulum python3-croniter python3-uvicorn python3-httpx python3-jwt
  python3-libcst python3-lazy-object-proxy python3-sqlalchemy-utils python3-argcomplete python3-setproctitle python3-daemon
  python3-cryptography python3-cron-descriptor python3-linkify-it python3-tenacity python3-termcolor python3-dill python3-a2wsgi
  python3-pygtrie python3-natsort python3-aiosqlite python3-greenlet python3-psutil python3-tabulate python3-slugify
  python3-jsonschema python3-itsdangerous python3-flask python3-gunicorn python3-fsspec python3-starlette python3-aiohttp
  python3-asgiref python3-colorlog python3-deprecated python3-marshmallow python3-flask-login python3-flask-limiter
  python3-flask-session python3-flask-sqlalchemy python3-email-validator python3-wtforms python3-re2 python3-sqlparse
  python3-more-itertools python3-lockfile python3-multipart python3-yaml python3-requests python3-jinja2 python3-packaging
  python3-pluggy python3-rich python3-attr python3-dateutil python3-typing-extensions python3-markupsafe python3-pygments
  python3-tz python3-werkzeug python3-marshmallow-sqlalchemy python3-flask-babel python3-apispec python3-prison python3-uvloop
  python3-websockets python3-httptools python3-watchfiles python3-h11 python3-anyio python3-certifi python3-urllib3 python3-idna
  python3-setuptools python3-blinker python3-click python3-limits python3-cachelib python3-babel python3-bcrypt python3-mako
  python3-oauthlib python3-requests-oauthlib python3-google-auth python3-websocket python3-aiofiles python3-rfc3339-validator
  python3-jsonpath-ng python3-dnspython python3-pathspec python3-msgpack python3-jmespath python3-colorama
  python3-openapi-spec-validator python3-inflection
  python3-celery python3-redis python3-kombu redis-server
)
# 3.2: the git binary and GitPython (python3-git 3.1.44; the git provider asks for >=3.1.44) for the git provider's
# GitDagBundle (`dagBundles`, test/runtime/dag-bundles.runtime.test.ts). The 3.1 root's list stays as it was.
[[ "$AIRFLOW_MINOR" == 3.1 ]] || PKGS+=(git python3-git)

# Everything that needs the chroot runs in a private mount namespace: its /proc, /dev and /sys mounts vanish with
# it, whatever happens, and never show up in the machine's mount table.
t1=$SECONDS
unshare --mount --propagation private -- bash -euo pipefail -s "$TMP" "$BUNDLE" "$HERE" "$PP" "${PKGS[@]}" <<'INROOT' \
  >>"${RUNTIME_CACHE}/.build-${KEY}.log" 2>&1 || { tail -n 40 "${RUNTIME_CACHE}/.build-${KEY}.log" >&2; die "root setup failed (log ${RUNTIME_CACHE}/.build-${KEY}.log)"; }
R=$1; BUNDLE=$2; HERE=$3; PP=$4; shift 4
mount -t proc proc "$R/proc"; mount --rbind /dev "$R/dev"; mount -t sysfs sysfs "$R/sys" || mount --rbind /sys "$R/sys"
cp /etc/resolv.conf "$R/etc/resolv.conf"
# No daemon may start inside the chroot while packages are configured (redis-server, postgresql).
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"
# Debian's postgresql-common would create a cluster "17/main": the StatefulSet's entrypoint creates its own.
mkdir -p "$R/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"$R/etc/postgresql-common/createcluster.d/airflow-cdk8s.conf"
chroot "$R" apt-get update -qq
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
chroot "$R" apt-get clean
rm -f "$R/usr/sbin/policy-rc.d"
# Airflow core, task SDK, providers and the pure-Python libraries Debian lacks (provenance: the bundle's README)
mkdir -p "$R/opt/src"; tar xzf "$BUNDLE" -C "$R/opt/src"
for d in $PP; do [ -d "$R$d" ] || { echo "bundle lacks $d" >&2; exit 1; }; done
SP="$R/usr/local/lib/python3.13/dist-packages"; mkdir -p "$SP"
printf '%s\n' $PP >"$SP/zz-airflow-src.pth"
# Debian's pygtrie 2.2 wrapped with the 2.5 API Airflow uses (a shim of the bundle), ahead of Debian's module
echo "import sys; sys.path.insert(0, '/opt/src/deps/pygtrie-compat')" >"$SP/aa-airflow-shadow.pth"
cat >"$R/usr/local/bin/airflow" <<'LAUNCHER'
#!/usr/bin/python3
import re
import sys
from airflow.__main__ import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\.pyw|\.exe)?$", "", sys.argv[0])
    sys.exit(main())
LAUNCHER
chmod 755 "$R/usr/local/bin/airflow"
# Byte-compile the bundle once (root-owned: uid 50000 could not write __pycache__, and every Airflow process
# would compile it again on start), and Python's own library and Debian's packages again: with unchecked hashes, as
# the images carry every file with mtime 0 (scripts/runtime/images/oci_layer.py) and a timestamp .pyc, which records
# its source's mtime at compile time, is stale there: every process on the real node compiled every module it
# imported, and could not keep it (`import airflow.models` in the api-server's container: 5.1-5.3 s of CPU against
# 2.5 s with valid .pyc files, 2026-12-06). The root and its images never change once built, so nothing needs
# checking.
chroot "$R" bash -c 'python3 -m compileall -q -j 2 -f --invalidation-mode unchecked-hash /opt/src /usr/lib/python3 /usr/lib/python3.*' >/dev/null || true
# The image's user and folders: airflow (50000, primary group 0), AIRFLOW_HOME=/opt/airflow
chroot "$R" bash -c 'id airflow >/dev/null 2>&1 || useradd -u 50000 -g 0 -d /home/airflow -m -s /bin/bash airflow
  mkdir -p /opt/airflow/dags /opt/airflow/logs /opt/airflow/data /opt/airflow/pod_templates
  chown -R 50000:0 /opt/airflow /home/airflow; chmod -R g+w /opt/airflow /home/airflow'
# The postgres image: its sample configuration listens on every address, its entrypoint initialises PGDATA
sed -i "s/^#\?listen_addresses = .*/listen_addresses = '*'/" "$R/usr/share/postgresql/17/postgresql.conf.sample"
grep -q "^listen_addresses = '\*'" "$R/usr/share/postgresql/17/postgresql.conf.sample"
install -m 0755 "$HERE/postgres-entrypoint.sh" "$R/usr/local/bin/docker-entrypoint.sh"
rm -f "$R/etc/resolv.conf"; : >"$R/etc/resolv.conf"; : >"$R/etc/hostname"
# What the root is, for humans and for the kubelet
chroot "$R" env AIRFLOW_HOME=/tmp/airflow-version airflow version >"$R/.airflow-version"
rm -rf "$R/tmp/airflow-version"
{ echo "suite=trixie"; echo "python=$(chroot "$R" python3 -c 'import platform; print(platform.python_version())')";
  echo "airflow=$(cat "$R/.airflow-version")"; echo "postgres=$(chroot "$R" /usr/lib/postgresql/17/bin/postgres --version)"; } >"$R/.airflow-cdk8s-root.tmp"
INROOT
log "packages, bundle and users done in $((SECONDS - t1)) s"

# Everything mounted inside the namespace is gone; nothing may be left below the root.
if awk -v r="$TMP" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then die "mounts left below $TMP"; fi
mv "$TMP/.airflow-cdk8s-root.tmp" "$TMP/.airflow-cdk8s-root"
mv "$TMP" "$ROOT"
TMP=""
# Older roots (other keys) are dead weight: remove them (we hold the lock, nobody builds them).
for old in "$RUNTIME_CACHE/$PREFIX"-*; do
  [[ "$old" == "$ROOT" || ! -d "$old" || "${AIRFLOW_CDK8S_RUNTIME_KEEP_OLD_ROOTS:-0}" == 1 ]] && continue
  if awk -v r="$old" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/mounts; then continue; fi
  log "removing the old root $old"; rm -rf --one-file-system "$old"
done
log "built $ROOT in $((SECONDS - t0)) s: $(tr '\n' ' ' <"$ROOT/.airflow-cdk8s-root")"
echo "$ROOT"
