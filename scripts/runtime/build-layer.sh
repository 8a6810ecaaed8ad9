#!/usr/bin/env bash
# build-layer.sh — a layer of Debian trixie packages over the runtime root, for an image the root does not serve
# itself (docs/runtime-tests.md). The runtime kubelet (scripts/runtime/kubelet.py) mounts a layer above the root
# for the images that name it, so that the root (and its cache key, shared by every runtime variant) stays as it is.
#
# USAGE
#   scripts/runtime/build-layer.sh pgbouncer   build the layer if it is not cached; print its path on stdout
#
# Layers:
#   pgbouncer  Debian trixie's pgbouncer (1.24) and the libraries the root lacks (libevent, c-ares), for
#              apache/airflow:airflow-pgbouncer-* (the official chart's PgBouncer image: Alpine's /usr/bin/pgbouncer,
#              PgBouncer 1.23.1); Debian installs /usr/sbin/pgbouncer, linked from /usr/bin/pgbouncer as the image has it.
#
# Cached beside the root as <root>.layer-<name> (removed with the root when build-root.sh replaces it). The packages
# are the ones `apt-get install --download-only` fetches in a throwaway overlay of the root: exactly what the root
# lacks, from the root's own trixie sources; they are unpacked (dpkg-deb -x), not installed: no maintainer script runs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log() { printf '[build-layer] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

NAME="${1:-}"
case "$NAME" in
  pgbouncer) PKGS=(pgbouncer); LINKS=("usr/bin/pgbouncer=../sbin/pgbouncer"); CHECK=(/usr/bin/pgbouncer --version) ;;
  *) die "unknown layer \"$NAME\" (known: pgbouncer)" ;;
esac

ROOT="$(bash "$HERE/build-root.sh")"
LAYER="${ROOT}.layer-${NAME}"
[[ -f "$LAYER/.airflow-cdk8s-layer" ]] && { log "cached: $LAYER"; echo "$LAYER"; exit 0; }
[[ $(id -u) -eq 0 ]] || die "building a layer needs root (overlay mounts, chroot)"

exec 7>"${ROOT}.layer.lock"
flock 7
[[ -f "$LAYER/.airflow-cdk8s-layer" ]] && { log "cached: $LAYER"; echo "$LAYER"; exit 0; }
TMP="$(mktemp -d "${ROOT}.layer-${NAME}-tmp.XXXXXX")"
trap 'rm -rf --one-file-system "$TMP"' EXIT
mkdir -p "$TMP/upper" "$TMP/work" "$TMP/merged" "$TMP/layer"
# A private mount namespace: the overlay and /proc vanish with it; the root itself is never written.
unshare --mount --propagation private -- bash -euo pipefail -s "$ROOT" "$TMP" "${PKGS[@]}" <<'INNS' >"$TMP/build.log" 2>&1 || { tail -n 30 "$TMP/build.log" >&2; die "downloading the packages failed"; }
ROOT=$1; T=$2; shift 2
mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$T/upper,workdir=$T/work" "$T/merged"
mount -t proc proc "$T/merged/proc"
cp /etc/resolv.conf "$T/merged/etc/resolv.conf"
mkdir -p "$T/merged/tmp/layer-debs"
chroot "$T/merged" apt-get update -qq
chroot "$T/merged" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --download-only --no-install-recommends \
  -o Dir::Cache::archives=/tmp/layer-debs -o APT::Sandbox::User=root "$@"
ls "$T/merged/tmp/layer-debs/"*.deb
for deb in "$T/merged/tmp/layer-debs/"*.deb; do dpkg-deb -x "$deb" "$T/layer"; basename "$deb" >>"$T/layer/.airflow-cdk8s-layer.tmp"; done
INNS
for link in "${LINKS[@]}"; do mkdir -p "$(dirname "$TMP/layer/${link%%=*}")"; ln -sfn "${link#*=}" "$TMP/layer/${link%%=*}"; done
# The layer works over the root: the command runs in an overlay of both, as the kubelet mounts it.
unshare --mount --propagation private -- bash -euo pipefail -c "
  mkdir -p '$TMP/check-upper' '$TMP/check-work' '$TMP/check'
  mount -t overlay overlay -o 'lowerdir=$TMP/layer:$ROOT,upperdir=$TMP/check-upper,workdir=$TMP/check-work' '$TMP/check'
  chroot '$TMP/check' ${CHECK[*]}" >"$TMP/check.log" 2>&1 || { cat "$TMP/check.log" >&2; die "the layer does not run ${CHECK[*]}"; }
log "$NAME layer: $(tr '\n' ' ' <"$TMP/layer/.airflow-cdk8s-layer.tmp")— $(head -n1 "$TMP/check.log")"
mv "$TMP/layer/.airflow-cdk8s-layer.tmp" "$TMP/layer/.airflow-cdk8s-layer"
mv "$TMP/layer" "$LAYER"
echo "$LAYER"
