#!/usr/bin/env bash
# build-images.sh — the OCI images the real node (scripts/runtime/real-node.sh) pulls, built from the runtime root
# (scripts/runtime/build-root.sh) without a Docker engine, and pushed to the node's registry (issue #27).
#
# USAGE
#   scripts/runtime/build-images.sh build        build the OCI layout if it is not cached; print its path
#   scripts/runtime/build-images.sh push [IMAGE...]  build if needed, then push every image the default app's YAML
#                                                (dist/) names, the pause image, the opt-in images whose default
#                                                lib/ names (optional_images: Redis, the pre-pull pods' pause,
#                                                the StatsD exporter, git-sync, PgBouncer), and
#                                                IMAGE... (same repositories, other tags) to the running real
#                                                node's registry; an IMAGE apache/airflow:X.Y.Z of another minor
#                                                version than the default's is built first (build-airflow X.Y)
#   scripts/runtime/build-images.sh build-airflow MINOR
#                                                build (if not cached) apache/airflow from the root of Airflow MINOR
#                                                (3.1) when dist/'s default is another minor; print its layout's path
#
# The images (one OCI layout, $AIRFLOW_CDK8S_CACHE/images/oci-<key>, tags airflow, postgres, redis, pause,
# statsd-exporter, git-sync, pgbouncer):
#   apache/airflow  the root as one layer + a layer with Debian's dumb-init and /entrypoint
#                   (images/airflow-entrypoint.sh); as the official image's Dockerfile sets them: USER 50000 (group
#                   0 from /etc/passwd), WORKDIR /opt/airflow, AIRFLOW_HOME=/opt/airflow, DUMB_INIT_SETSID=1,
#                   ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"], CMD []. The same layer adds Debian's
#                   python3-statsd (the `statsd` module): the official image installs the `statsd` extra
#                   (its Dockerfile's AIRFLOW_EXTRAS), and Airflow imports it for `[metrics] statsd_on` (the
#                   `metrics` feature); the root, which the emulated stage shares, lacks it.
#   postgres        the same root layer (Debian's PostgreSQL 17, the docker-library entrypoint subset
#                   scripts/runtime/postgres-entrypoint.sh as docker-entrypoint.sh): USER root, ENTRYPOINT
#                   ["docker-entrypoint.sh"], CMD ["postgres"], STOPSIGNAL SIGINT, PGDATA, VOLUME PGDATA.
#   redis           the same root layer (Debian's redis-server, installed by build-root.sh for the emulated stage):
#                   WORKDIR /data, VOLUME /data, CMD ["redis-server"], like the official image's config; no
#                   entrypoint (the official one is only a chown + gosu to its redis user, which the chart's
#                   RedisBroker skips: it names `command: [redis-server]` and runs as uid 999 gid 1000 itself).
#   pause           one static binary built from images/pause.c (USER 65535, like registry.k8s.io/pause:3.6).
#   statsd-exporter prom/statsd-exporter (lib/metrics' DEFAULT_STATSD_EXPORTER_IMAGE, v0.28.0): Debian packages no
#                   statsd_exporter (no prometheus-statsd-exporter in bookworm, trixie or sid), so it is built from
#                   its public source at tag v0.28.0 (STATSD_EXPORTER_COMMIT, read from the git snapshot
#                   $AIRFLOW_CDK8S_MIRRORS/prometheus+statsd_exporter/repo) with Debian trixie's Go 1.24 and its
#                   golang-*-dev packages in GOPATH mode (GO111MODULE=off, GOPROXY=off, GOPATH=/usr/share/gocode:
#                   no module proxy), in a throwaway overlay of the root. Debian's modules are not the release's:
#                   client_golang 1.21.1 (go.mod: 1.20.5), common 0.62.0 (0.60.1), exporter-toolkit 0.14.0 (0.13.0),
#                   client_model 0.6.0 (0.6.1), and kingpin 2.2.6 as gopkg.in/alecthomas/kingpin.v2 (go.mod:
#                   github.com/alecthomas/kingpin/v2 2.4.0, which Debian does not package): the import is rewritten to
#                   gopkg.in's path, as Debian's own common package does. The upstream ldflags set the version
#                   (`--version`: 0.28.0, the tag's revision). The image, as upstream's Dockerfile sets it: the binary
#                   at /bin/statsd_exporter, USER 65534, ENTRYPOINT ["/bin/statsd_exporter"], EXPOSE 9102 9125
#                   9125/udp; an /etc/passwd and /etc/group with root and nobody (65534) instead of its busybox base
#                   (no shell: the chart's probes are httpGet, not the Dockerfile's wget HEALTHCHECK). Pushed only
#                   as an opt-in image (optional_images); without the snapshot it is not built, and push says so.
#   git-sync        registry.k8s.io/git-sync/git-sync (lib/git-sync's DEFAULT_GIT_SYNC_IMAGE, v4.4.2): not in Debian;
#                   built from its public source at tag v4.4.2 (GIT_SYNC_COMMIT, from the git snapshot
#                   $AIRFLOW_CDK8S_MIRRORS/kubernetes+git-sync/repo), which vendors every module it uses (vendor/),
#                   with Debian trixie's Go 1.24 (GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0,
#                   upstream's ldflags: pkg/version.VERSION=v4.4.2) in a throwaway overlay of the root: no module
#                   from Debian or a proxy is needed. The image: the root layer (trixie's git; upstream stages
#                   Debian's git, bash, coreutils, openssh-client, ca-certificates, curl and socat) and a layer with
#                   /git-sync, /git (02775, 65533:65533) and the root's /etc/passwd and /etc/group plus upstream's
#                   git-sync user and group (65533; passwd mode 0666); as its Dockerfile sets them: USER 65533:65533,
#                   HOME=/tmp, WORKDIR /tmp, GITSYNC_ROOT=/git, ENTRYPOINT ["/git-sync"]. No ssh client (the root
#                   has none): https:// repositories only. Only when the root has git (the 3.2 root) and the
#                   snapshot is there; an opt-in image like the StatsD exporter.
#   pgbouncer       apache/airflow:airflow-pgbouncer-* (lib/pgbouncer's PgBouncer.DEFAULT_IMAGE): the official image is
#                   Alpine with PgBouncer built from source (apache/airflow's pgbouncer Dockerfile); here the root layer
#                   and the layer build-layer.sh pgbouncer makes for the emulated stage (Debian trixie's pgbouncer
#                   and the libevent and c-ares the root lacks, unpacked; /usr/bin/pgbouncer linked to /usr/sbin),
#                   with /etc/pgbouncer/pgbouncer.ini edited as that Dockerfile edits its copy (no logfile or
#                   pidfile, listen_addr 0.0.0.0, auth_type md5; and the socket in /tmp, upstream's default, where
#                   Debian's names /var/run/postgresql) and an empty userlist.txt; as the Dockerfile sets them: no
#                   USER (root: pgbouncer drops to nobody itself), EXPOSE 6432, ENTRYPOINT ["/usr/bin/pgbouncer",
#                   "-u", "nobody", "/etc/pgbouncer/pgbouncer.ini"]. The chart's Deployment replaces the entrypoint
#                   (`sh -c`: the root's dash, printf and sed, then `exec /usr/bin/pgbouncer`) and runs as 65534.
#                   Pushed only under PgBouncer.DEFAULT_IMAGE's tag (its name says 1.23.1, the bytes are Debian's
#                   1.24.1, as redis:8.6.7-alpine is Debian's 8.0.2); an opt-in image (optional_images).
#   apache/airflow of the other minor version (build-airflow MINOR; the 3.1 suite's apache/airflow:3.1.3 when the
#                   default is 3.2): its own layout, $AIRFLOW_CDK8S_CACHE/images/airflow<MINOR>-<key>, holding the
#                   airflow image alone: that minor's root as one layer and the default layout's entrypoint layer
#                   (a hard link of the same blob: dumb-init, /entrypoint, python3-statsd) with the default airflow
#                   image's config (USER, ENTRYPOINT, Env...), only the root's diff_id replaced. <key> hashes the
#                   default layout's key and that root's name: the default's rebuild or a new root rebuilds it.
#                   Pushed only when push is given such a tag (scripts/test-runtime.sh passes the 3.1 suite's).
# The root layer is one blob shared by airflow, postgres, redis and git-sync: the registry stores it once and containerd pulls it once.
# <key> hashes this script's commands, the entrypoint, pause.c, images/oci_layer.py (how a layer is written), the root (its own key), the dumb-init and
# python3-statsd packages, whether the statsd_exporter and git-sync snapshots are there, build-layer.sh and the
# pgbouncer layer's packages (pgbouncer_key): a change rebuilds; older
# layouts are removed. The statsd_exporter and git-sync binaries are cached on their own
# ($AIRFLOW_CDK8S_CACHE/images/statsd-exporter-<key>, git-sync-<key>: their build functions, version and commit), so
# a change elsewhere does not rebuild them. Names pushed: docker.io's apache/airflow:<tag>, library/postgres:<tag>,
# library/redis:<tag>, prom/statsd-exporter:<tag> and apache/airflow:airflow-pgbouncer-<tag>, registry.k8s.io's pause:3.6, pause:3.10 and
# git-sync/git-sync:<tag>, as containerd asks the mirror for them.
#
# ENVIRONMENT
#   AIRFLOW_CDK8S_MIRRORS   git snapshots, owner+name/repo each (statsd_exporter's and git-sync's source)  [/work/.mirror]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE_ROOT="${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}"
IMAGES_CACHE="${CACHE_ROOT}/images"
REGISTRY_PORT="${AIRFLOW_CDK8S_REGISTRY_PORT:-21500}"
PAUSE_IMAGE=registry.k8s.io/pause:3.6
MIRRORS="${AIRFLOW_CDK8S_MIRRORS:-/work/.mirror}"
# prometheus/statsd_exporter v0.28.0, the tag lib/metrics names (DEFAULT_STATSD_EXPORTER_IMAGE)
STATSD_EXPORTER_VERSION=0.28.0
STATSD_EXPORTER_COMMIT=c0a390a2c43f77863278615b47d46e886bdca726
STATSD_EXPORTER_SRC="${MIRRORS}/prometheus+statsd_exporter/repo"
# Debian trixie's Go and the modules statsd_exporter imports (their dependencies come with them)
# kubernetes/git-sync v4.4.2, the tag lib/git-sync names (DEFAULT_GIT_SYNC_IMAGE)
GIT_SYNC_VERSION=v4.4.2
GIT_SYNC_COMMIT=534976a97c3b40e9925fc2d8b93d324f25598729
GIT_SYNC_SRC="${MIRRORS}/kubernetes+git-sync/repo"
STATSD_EXPORTER_DEBS=(golang-go golang-gopkg-alecthomas-kingpin.v2-dev golang-github-golang-groupcache-dev
  golang-github-prometheus-client-golang-dev golang-github-prometheus-client-model-dev
  golang-github-prometheus-common-dev golang-github-prometheus-exporter-toolkit-dev golang-gopkg-yaml.v2-dev)

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=scripts/apt-host.sh
source "$REPO/scripts/apt-host.sh"
need() {  # need PACKAGE...: apt-get install what is missing (under the machine-wide apt lock, scripts/apt-host.sh)
  apt_host_install "$@" || die "installing $* failed"
}

cmd_build() {
  need gcc libc6-dev skopeo dpkg-dev
  # The root of the Airflow minor version the default app's YAML runs (build-root.sh: 3.1 or 3.2), so that the
  # image pushed as apache/airflow:<tag> holds that Airflow.
  local root minor
  minor="$(airflow_minor)"
  root="$(AIRFLOW_CDK8S_RUNTIME_AIRFLOW="$minor" bash "$HERE/build-root.sh")"
  mkdir -p "$IMAGES_CACHE"
  exec 7>"${IMAGES_CACHE}/.build.lock"
  flock -n 7 || { log "waiting for another build (lock ${IMAGES_CACHE}/.build.lock) ..."; flock 7; }
  local dl="${IMAGES_CACHE}/.dumb-init"
  rm -rf "$dl"; mkdir -p "$dl"
  (cd "$dl" && apt-get download -qq dumb-init python3-statsd >/dev/null 2>&1) || {
    apt_host_update
    (cd "$dl" && apt-get download -qq dumb-init python3-statsd >/dev/null)
  }
  local key out statsd=no
  statsd_exporter_source_present && statsd=yes
  local gitsync=no
  git_sync_source_present && [[ -x "$root/usr/bin/git" ]] && gitsync=yes
  key="$( { grep -Ev '^[[:space:]]*#( |$)' "$HERE/build-images.sh"; cat "$HERE/images/airflow-entrypoint.sh" "$HERE/images/pause.c" "$HERE/images/oci_layer.py";
            basename "$root"; cat "$dl"/dumb-init_*.deb "$dl"/python3-statsd_*.deb | sha256sum; echo "statsd-exporter source: $statsd, git-sync: $gitsync"; } | sha256sum | cut -c1-12)"
  local pgbouncer_layer
  pgbouncer_layer="$(pgbouncer_layer_of "$minor")"
  key="$( { echo "$key"; pgbouncer_key "$pgbouncer_layer"; } | sha256sum | cut -c1-12)"
  out="${IMAGES_CACHE}/oci-${key}"
  if [[ -f "$out/.airflow-cdk8s-images" ]]; then rm -rf "$dl"; log "cached: $out"; echo "$out"; return 0; fi
  local t0=$SECONDS tmp="${IMAGES_CACHE}/.build-${key}-$$"
  rm -rf "$tmp"; mkdir -p "$tmp/extra/usr/bin" "$tmp/pause"
  trap 'rm -rf "'"$tmp"'" "'"$dl"'"' EXIT
  dpkg -x "$dl"/dumb-init_*.deb "$tmp/deb"
  install -m 0755 "$tmp/deb/usr/bin/dumb-init" "$tmp/extra/usr/bin/dumb-init"
  dpkg -x "$dl"/python3-statsd_*.deb "$tmp/statsd-deb"
  mkdir -p "$tmp/extra/usr/lib/python3"
  cp -a "$tmp/statsd-deb/usr/lib/python3/dist-packages" "$tmp/extra/usr/lib/python3/"
  install -m 0755 "$HERE/images/airflow-entrypoint.sh" "$tmp/extra/entrypoint"
  gcc -static -Os -Wall -o "$tmp/pause/pause" "$HERE/images/pause.c"
  strip "$tmp/pause/pause"
  if [[ "$statsd" == yes ]]; then
    statsd_exporter_files "$root" "$tmp/statsd-exporter"
  else
    log "no statsd_exporter source at $STATSD_EXPORTER_SRC (fetch github:prometheus/statsd_exporter): prom/statsd-exporter not built"
  fi
  if [[ "$gitsync" == yes ]]; then
    git_sync_files "$root" "$tmp/git-sync"
  else
    log "no git-sync source at $GIT_SYNC_SRC (fetch github:kubernetes/git-sync) or no git in $root: git-sync not built"
  fi
  pgbouncer_files "$pgbouncer_layer" "$tmp/pgbouncer"
  log "building the images from $root into $out"
  /usr/bin/python3 - "$root" "$tmp" "$HERE/images" <<'PY'
import json, os, sys

root, tmp = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import oci_layer  # noqa: E402 (scripts/runtime/images/oci_layer.py)
layout = os.path.join(tmp, "layout")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)

def layer(directory, *extra):
    """A gzip'ed tar layer of `directory` into this layout (images/oci_layer.py); (descriptor, diff_id)."""
    return oci_layer.layer(blobs, directory, *extra)

def blob(obj, media):
    return oci_layer.blob(blobs, obj, media)

def image(name, layers, config):
    cfg = {"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z", "config": config,
           "rootfs": {"type": "layers", "diff_ids": [l[1] for l in layers]},
           "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/runtime/build-images.sh " + name}]}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": blob(cfg, "application/vnd.oci.image.config.v1+json"), "layers": [l[0] for l in layers]}
    desc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    desc["annotations"] = {"org.opencontainers.image.ref.name": name}
    return desc

base = layer(root, *oci_layer.ROOT_EXCLUDES)
extra = layer(os.path.join(tmp, "extra"), "--owner=0", "--group=0")
pause = layer(os.path.join(tmp, "pause"), "--owner=0", "--group=0")
airflow_path = "/home/airflow/.local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
manifests = [
    image("airflow", [base, extra], {
        "User": "50000", "WorkingDir": "/opt/airflow",
        "Entrypoint": ["/usr/bin/dumb-init", "--", "/entrypoint"], "Cmd": [],
        "Env": ["PATH=" + airflow_path, "AIRFLOW_HOME=/opt/airflow", "AIRFLOW_UID=50000",
                "AIRFLOW_USER_HOME_DIR=/home/airflow", "DUMB_INIT_SETSID=1", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
                "LC_CTYPE=C.UTF-8", "PYTHONUNBUFFERED=1"]}),
    image("postgres", [base], {
        "WorkingDir": "/", "Entrypoint": ["docker-entrypoint.sh"], "Cmd": ["postgres"], "StopSignal": "SIGINT",
        "Volumes": {"/var/lib/postgresql/data": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/17/bin",
                "PGDATA=/var/lib/postgresql/data", "LANG=C.UTF-8", "PG_MAJOR=17"]}),
    image("redis", [base], {
        "WorkingDir": "/data", "Cmd": ["redis-server"], "Volumes": {"/data": {}},
        "ExposedPorts": {"6379/tcp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}),
    image("pause", [pause], {"User": "65535:65535", "Entrypoint": ["/pause"]}),
]
if os.path.isdir(os.path.join(tmp, "statsd-exporter")):
    statsd = layer(os.path.join(tmp, "statsd-exporter"), "--owner=0", "--group=0")
    manifests.append(image("statsd-exporter", [statsd], {
        "User": "65534", "WorkingDir": "/", "Entrypoint": ["/bin/statsd_exporter"],
        "ExposedPorts": {"9102/tcp": {}, "9125/tcp": {}, "9125/udp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}))
    print("statsd-exporter layer %d kB" % (statsd[0]["size"] >> 10), file=sys.stderr)
if os.path.isdir(os.path.join(tmp, "git-sync")):
    gitsync = layer(os.path.join(tmp, "git-sync"))  # owners as laid out: root, and /git 65533:65533
    manifests.append(image("git-sync", [base, gitsync], {
        "User": "65533:65533", "WorkingDir": "/tmp", "Entrypoint": ["/git-sync"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp", "GITSYNC_ROOT=/git"]}))
    print("git-sync layer %d kB" % (gitsync[0]["size"] >> 10), file=sys.stderr)
if os.path.isdir(os.path.join(tmp, "pgbouncer")):
    # apache/airflow's pgbouncer Dockerfile: no USER (pgbouncer -u nobody drops root itself), EXPOSE 6432
    pgb = layer(os.path.join(tmp, "pgbouncer"))  # owners as Debian's packages lay them out (root)
    manifests.append(image("pgbouncer", [base, pgb], {
        "WorkingDir": "/", "Entrypoint": ["/usr/bin/pgbouncer", "-u", "nobody", "/etc/pgbouncer/pgbouncer.ini"],
        "ExposedPorts": {"6432/tcp": {}},
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}))
    print("pgbouncer layer %d kB" % (pgb[0]["size"] >> 10), file=sys.stderr)
json.dump({"schemaVersion": 2, "manifests": manifests}, open(os.path.join(layout, "index.json"), "w"))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
print("layers: root %d MB, airflow extra %d kB, pause %d kB" % (base[0]["size"] >> 20, extra[0]["size"] >> 10,
      pause[0]["size"] >> 10), file=sys.stderr)
PY
  touch "$tmp/layout/.airflow-cdk8s-images"
  mv "$tmp/layout" "$out"
  local old
  for old in "$IMAGES_CACHE"/oci-*; do
    [[ "$old" == "$out" || ! -d "$old" ]] || { log "removing the old layout $old"; rm -rf "$old"; }
  done
  log "built $out in $((SECONDS - t0)) s ($(du -sh "$out" | cut -f1))"
  echo "$out"
}

statsd_exporter_source_present() {
  [[ -d "$STATSD_EXPORTER_SRC" ]] && git --git-dir "$STATSD_EXPORTER_SRC" cat-file -e "${STATSD_EXPORTER_COMMIT}^{commit}" 2>/dev/null
}

# cached_binary NAME BINARY BUILD_FN ROOT INPUTS: the folder $IMAGES_CACHE/NAME-<key> holding BINARY, built by
# `BUILD_FN ROOT DIR` if missing (key: BUILD_FN's text and INPUTS), older NAME-* folders removed; prints the folder
cached_binary() {
  local name="$1" binary="$2" build="$3" root="$4" inputs="$5" key cache old
  key="$( { declare -f "$build"; echo "$inputs"; } | sha256sum | cut -c1-12)"
  cache="${IMAGES_CACHE}/${name}-${key}"
  if [[ -x "$cache/$binary" ]]; then
    log "${binary} cached: $cache"
  else
    rm -rf "$cache.tmp"; mkdir -p "$cache.tmp"
    "$build" "$root" "$cache.tmp" >&2
    mv "$cache.tmp" "$cache"
    for old in "$IMAGES_CACHE/${name}"-*; do
      [[ "$old" == "$cache" || ! -d "$old" ]] || { log "removing the old $old"; rm -rf "$old"; }
    done
  fi
  echo "$cache"
}

# statsd_exporter_files ROOT DIR: the image's files into DIR, the binary from its own cache (built if missing)
statsd_exporter_files() {
  local root="$1" dir="$2" cache
  cache="$(cached_binary statsd-exporter statsd_exporter build_statsd_exporter "$root" \
    "$STATSD_EXPORTER_VERSION $STATSD_EXPORTER_COMMIT ${STATSD_EXPORTER_DEBS[*]}")"
  mkdir -p "$dir/bin" "$dir/etc"
  install -m 0755 "$cache/statsd_exporter" "$dir/bin/statsd_exporter"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
}

# build_statsd_exporter ROOT OUT: OUT/statsd_exporter (static, CGO_ENABLED=0), built in a private mount namespace on an
# overlay of ROOT (the root is never written).
build_statsd_exporter() {
  local root="$1" out="$2" t0=$SECONDS b="$2/build"
  mkdir -p "$b/upper" "$b/work" "$b/merged" "$b/src"
  git --git-dir "$STATSD_EXPORTER_SRC" archive "$STATSD_EXPORTER_COMMIT" | tar -x -C "$b/src"
  log "building statsd_exporter ${STATSD_EXPORTER_VERSION} with Debian trixie's Go (GOPATH mode, no module proxy)"
  unshare --mount --propagation private -- bash -euo pipefail -s "$root" "$b" "$STATSD_EXPORTER_VERSION" \
      "$STATSD_EXPORTER_COMMIT" "${STATSD_EXPORTER_DEBS[@]}" <<'INNS' >"$b/build.log" 2>&1 \
    || { tail -n 40 "$b/build.log" >&2; die "building statsd_exporter failed (log above)"; }
ROOT=$1; B=$2; VERSION=$3; COMMIT=$4; shift 4
mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$B/upper,workdir=$B/work" "$B/merged"
mount -t proc proc "$B/merged/proc"
cp /etc/resolv.conf "$B/merged/etc/resolv.conf"
chroot "$B/merged" apt-get update -qq
chroot "$B/merged" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
chroot "$B/merged" dpkg-query -W -f '${Package} ${Version}\n' golang-go 'golang-1.*-go' "${@:2}"
P=/build/src/github.com/prometheus/statsd_exporter
mkdir -p "$B/merged$(dirname "$P")"
mv "$B/src" "$B/merged$P"
# Debian packages kingpin only under gopkg.in's path (its common package imports it so): the same import here
grep -rl 'github.com/alecthomas/kingpin/v2' --include='*.go' "$B/merged$P" | xargs sed -i 's#"github.com/alecthomas/kingpin/v2"#"gopkg.in/alecthomas/kingpin.v2"#'
chroot "$B/merged" env -i PATH=/usr/bin:/bin HOME=/tmp GO111MODULE=off GOPATH=/build:/usr/share/gocode GOPROXY=off \
  GOTOOLCHAIN=local CGO_ENABLED=0 GOCACHE=/tmp/gocache GOFLAGS= \
  sh -c "cd $P && go build -trimpath -o /build/statsd_exporter -ldflags '-s -w \
    -X github.com/prometheus/common/version.Version=$VERSION -X github.com/prometheus/common/version.Revision=$COMMIT \
    -X github.com/prometheus/common/version.Branch=HEAD' . && /build/statsd_exporter --version"
INNS
  install -m 0755 "$b/upper/build/statsd_exporter" "$out/statsd_exporter"
  grep -E '^(golang|statsd_exporter, version|  go version)' "$b/build.log" >"$out/build-info.txt" || true
  grep -E '^(golang|statsd_exporter, version|  go version)' "$b/build.log" | sed 's/^/  /' >&2 || true
  rm -rf --one-file-system "$b"
  log "statsd_exporter built in $((SECONDS - t0)) s"
}

git_sync_source_present() {
  [[ -d "$GIT_SYNC_SRC" ]] && git --git-dir "$GIT_SYNC_SRC" cat-file -e "${GIT_SYNC_COMMIT}^{commit}" 2>/dev/null
}

# git_sync_files ROOT DIR: the git-sync layer's files into DIR, the binary from its own cache (built if missing)
git_sync_files() {
  local root="$1" dir="$2" cache
  cache="$(cached_binary git-sync git-sync build_git_sync "$root" "$GIT_SYNC_VERSION $GIT_SYNC_COMMIT")"
  mkdir -p "$dir/etc" "$dir/git"
  install -m 0755 "$cache/git-sync" "$dir/git-sync"
  { cat "$root/etc/passwd"; echo "git-sync:x:65533:65533::/tmp:/sbin/nologin"; } >"$dir/etc/passwd"
  chmod 0666 "$dir/etc/passwd"
  { cat "$root/etc/group"; echo "git-sync:x:65533:git-sync"; } >"$dir/etc/group"
  chown 65533:65533 "$dir/git"; chmod 02775 "$dir/git"
}

# build_git_sync ROOT OUT: OUT/git-sync (static) from the vendored source, in a private mount namespace on an overlay
# of ROOT with Debian's Go installed (the root is never written).
build_git_sync() {
  local root="$1" out="$2" t0=$SECONDS b="$2/build"
  mkdir -p "$b/upper" "$b/work" "$b/merged" "$b/src"
  git --git-dir "$GIT_SYNC_SRC" archive "$GIT_SYNC_COMMIT" | tar -x -C "$b/src"
  log "building git-sync ${GIT_SYNC_VERSION} with Debian trixie's Go (its vendor/, no module proxy)"
  unshare --mount --propagation private -- bash -euo pipefail -s "$root" "$b" "$GIT_SYNC_VERSION" <<'INNS' >"$b/build.log" 2>&1 \
    || { tail -n 40 "$b/build.log" >&2; die "building git-sync failed (log above)"; }
ROOT=$1; B=$2; VERSION=$3
mount -t overlay overlay -o "lowerdir=$ROOT,upperdir=$B/upper,workdir=$B/work" "$B/merged"
mount -t proc proc "$B/merged/proc"
cp /etc/resolv.conf "$B/merged/etc/resolv.conf"
chroot "$B/merged" apt-get update -qq
chroot "$B/merged" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go
chroot "$B/merged" dpkg-query -W -f '${Package} ${Version}\n' golang-go 'golang-1.*-go'
mkdir -p "$B/merged/build"
mv "$B/src" "$B/merged/build/git-sync"
chroot "$B/merged" env -i PATH=/usr/bin:/bin HOME=/tmp GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
  GOCACHE=/tmp/gocache sh -c "cd /build/git-sync && go build -trimpath -o /build/git-sync-bin \
    -ldflags '-X k8s.io/git-sync/pkg/version.VERSION=$VERSION -s -w' . && echo \"git-sync --version: \$(/build/git-sync-bin --version)\""
INNS
  install -m 0755 "$b/upper/build/git-sync-bin" "$out/git-sync"
  grep -E '^(golang|git-sync --version)' "$b/build.log" | tee "$out/build-info.txt" | sed 's/^/  /' >&2 || true
  rm -rf --one-file-system "$b"
  log "git-sync built in $((SECONDS - t0)) s"
}

# pgbouncer_layer_of MINOR: the path of build-layer.sh's pgbouncer layer over that minor version's root (built if
# missing; cached beside the root), or nothing if it cannot be built (then no pgbouncer image, and push says so)
pgbouncer_layer_of() {
  AIRFLOW_CDK8S_RUNTIME_AIRFLOW="$1" bash "$HERE/build-layer.sh" pgbouncer || log "no pgbouncer layer: apache/airflow:airflow-pgbouncer-* not built"
}

# pgbouncer_key LAYER: the pgbouncer image's inputs for the layout's key: build-layer.sh, this file's pgbouncer
# functions and the packages in the layer (its .airflow-cdk8s-layer list)
pgbouncer_key() {
  sha256sum "$HERE/build-layer.sh" | cut -d' ' -f1
  declare -f pgbouncer_files
  [[ -n "$1" ]] && cat "$1/.airflow-cdk8s-layer" || echo "no pgbouncer layer"
}

# pgbouncer_files LAYER DIR: the pgbouncer image's own layer into DIR (nothing without LAYER): the Debian layer and
# /etc/pgbouncer as apache/airflow's pgbouncer Dockerfile edits pgbouncer's sample configuration
pgbouncer_files() {
  local layer="$1" dir="$2"
  [[ -n "$layer" ]] || return 0
  mkdir -p "$dir"
  cp -a "$layer/." "$dir/"
  rm -f "$dir/.airflow-cdk8s-layer"
  sed -i -e 's|^logfile = |;logfile = |' -e 's|^pidfile = |;pidfile = |' -e 's|^listen_addr = .*|listen_addr = 0.0.0.0|' \
    -e 's|^auth_type = .*|auth_type = md5|' -e 's|^unix_socket_dir = |;unix_socket_dir = |' "$dir/etc/pgbouncer/pgbouncer.ini"
  : >"$dir/etc/pgbouncer/userlist.txt"
}

# The PgBouncer image lib/pgbouncer names (PgBouncer.DEFAULT_IMAGE): the one apache/airflow tag served by the pgbouncer image.
pgbouncer_default_image() {
  sed -n "s/.*DEFAULT_IMAGE = '\\(apache\/airflow:airflow-pgbouncer-[^']*\\)'.*/\\1/p" "$REPO/lib/pgbouncer/pgbouncer.ts"
}

# The Airflow minor version (3.1, 3.2) of the apache/airflow image the default app's YAML names.
airflow_minor() {
  local tag
  tag="$(sed -n 's/^ *image: *["'"'"']\{0,1\}apache\/airflow:\([0-9][0-9.]*\).*/\1/p' "$REPO"/dist/*.yaml | sort -u | head -n1)"
  [[ -n "$tag" ]] || die "no apache/airflow image in dist/: run npm run synth"
  echo "${tag%.*}"
}

# The registry path and the layout tag of an image name as the YAML writes it.
registry_ref() {
  local img="$1" name tag
  name="${img%:*}"; tag="${img##*:}"
  [[ "$name" == "$img" ]] && tag=latest
  name="${name#docker.io/}"; name="${name#registry.k8s.io/}"
  [[ "$name" == */* ]] || { [[ "$img" == registry.k8s.io/* ]] || name="library/${name}"; }
  local src
  if [[ "$name" == apache/airflow && "$tag" == airflow-pgbouncer-* ]]; then  # only PgBouncer.DEFAULT_IMAGE, if built
    [[ "apache/airflow:$tag" == "$(pgbouncer_default_image)" ]] || return 1
    grep -q '"org.opencontainers.image.ref.name": *"pgbouncer"' "$LAYOUT_DIR/index.json" || return 1
    echo "pgbouncer ${name}:${tag}"; return 0
  fi
  case "$name" in
    apache/airflow) [[ "${tag%.*}" == "$(airflow_minor)" ]] || return 1; src=airflow ;;  # only the root's Airflow
    library/postgres) src=postgres ;;
    library/redis) src=redis ;;
    pause) src=pause ;;
    prom/statsd-exporter)  # only the tag built (STATSD_EXPORTER_VERSION), only when its source was there
      [[ "$tag" == "v${STATSD_EXPORTER_VERSION}" && -d "$LAYOUT_DIR/blobs" ]] || return 1
      grep -q '"org.opencontainers.image.ref.name": *"statsd-exporter"' "$LAYOUT_DIR/index.json" || return 1
      src=statsd-exporter ;;
    git-sync/git-sync)  # only the tag built (GIT_SYNC_VERSION), only when it was built
      [[ "$tag" == "$GIT_SYNC_VERSION" ]] || return 1
      grep -q '"org.opencontainers.image.ref.name": *"git-sync"' "$LAYOUT_DIR/index.json" || return 1
      src=git-sync ;;
    *) return 1 ;;
  esac
  echo "$src ${name}:${tag}"
}

# The default images of opt-in features, read from lib/ (not in dist/, whose default app has them off): the
# Celery broker's Redis (RedisBroker.DEFAULT_IMAGE), the image pre-pull pods' pause (DEFAULT_PAUSE_IMAGE) and the
# metrics feature's StatsD exporter (DEFAULT_STATSD_EXPORTER_IMAGE), git-sync (DEFAULT_GIT_SYNC_IMAGE) and PgBouncer
# (PgBouncer.DEFAULT_IMAGE).
optional_images() {
  sed -n "s/.*DEFAULT_IMAGE = '\\(redis:[^']*\\)'.*/\\1/p" "$REPO/lib/celery/redis-broker.ts"
  sed -n "s/.*DEFAULT_PAUSE_IMAGE = '\\([^']*\\)'.*/\\1/p" "$REPO/lib/image-pre-pull/image-pre-pull.ts"
  sed -n "s/.*DEFAULT_STATSD_EXPORTER_IMAGE = '\\([^']*\\)'.*/\\1/p" "$REPO/lib/metrics/statsd-exporter.ts"
  sed -n "s/.*DEFAULT_GIT_SYNC_IMAGE = '\\([^']*\\)'.*/\\1/p" "$REPO/lib/git-sync/git-sync-dags.ts"
  pgbouncer_default_image
}

cmd_push() {
  local layout
  layout="$(cmd_build)"
  LAYOUT_DIR="$layout"
  local images=() i
  mapfile -t images < <( { sed -n 's/^ *image: *//p' "$REPO"/dist/*.yaml; echo "$PAUSE_IMAGE"; optional_images; printf '%s\n' "$@"; } | tr -d '"'"'" | sort -u)
  local t0=$SECONDS ref
  for i in "${images[@]}"; do
    [[ -n "$i" ]] || continue
    ref="$(registry_ref "$i" || other_airflow_ref "$i")" || { log "no image built for ${i}: not pushed"; continue; }
    set -- $ref
    bash "$HERE/real-node.sh" exec skopeo copy --quiet --dest-tls-verify=false \
      "oci:${3:-$layout}:$1" "docker://127.0.0.1:${REGISTRY_PORT}/$2" \
      || die "pushing ${i} failed (is the real node running? scripts/runtime/real-node.sh start)"
    log "pushed ${i} (127.0.0.1:${REGISTRY_PORT}/$2)"
  done
  log "pushed in $((SECONDS - t0)) s"
}

# cmd_build_airflow MINOR: the layout $IMAGES_CACHE/airflow<MINOR>-<key> with one image, `airflow`, built from the
# root of Airflow MINOR, the same way as the default layout's airflow image (its entrypoint layer's blob and its config
# reused); built if not cached, older airflow<MINOR>-* layouts removed; prints its path. For the default's minor
# version it prints the default layout (cmd_build).
cmd_build_airflow() {
  local minor="${1:-}"
  [[ "$minor" =~ ^[0-9]+\.[0-9]+$ ]] || die "build-airflow MINOR: an Airflow minor version such as 3.1, not '${minor}'"
  # every step checked: push calls this after `||`, where `set -e` does not apply
  local default
  default="$(cmd_build)" || return 1
  [[ "$minor" != "$(airflow_minor)" ]] || { echo "$default"; return 0; }
  local root
  root="$(AIRFLOW_CDK8S_RUNTIME_AIRFLOW="$minor" bash "$HERE/build-root.sh")" && [[ -f "$root/.airflow-cdk8s-root" ]] \
    || { log "no Airflow ${minor} root (build-root.sh): apache/airflow ${minor} not built"; return 1; }
  exec 7>"${IMAGES_CACHE}/.build.lock"
  flock -n 7 || { log "waiting for another build (lock ${IMAGES_CACHE}/.build.lock) ..."; flock 7; }
  local key out
  key="$( { basename "$default"; basename "$root"; declare -f cmd_build_airflow; } | sha256sum | cut -c1-12)"
  out="${IMAGES_CACHE}/airflow${minor}-${key}"
  if [[ -f "$out/.airflow-cdk8s-images" ]]; then log "cached: $out"; echo "$out"; return 0; fi
  local t0=$SECONDS tmp="${IMAGES_CACHE}/.build-airflow${minor}-${key}-$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  trap 'rm -rf "'"$tmp"'"' EXIT
  log "building apache/airflow from $root into $out (the entrypoint layer and config of $default)"
  /usr/bin/python3 - "$root" "$default" "$tmp" "$HERE/images" <<'PY'
import json, os, sys

root, default, tmp = sys.argv[1:4]
sys.path.insert(0, sys.argv[4])
import oci_layer  # noqa: E402 (scripts/runtime/images/oci_layer.py)
src = os.path.join(default, "blobs", "sha256")
blobs = os.path.join(tmp, "blobs", "sha256")
os.makedirs(blobs)

def read(digest):
    return json.load(open(os.path.join(src, digest.split(":", 1)[1])))

desc = next(m for m in json.load(open(os.path.join(default, "index.json")))["manifests"]
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "airflow")
manifest = read(desc["digest"])
config = read(manifest["config"]["digest"])
# the root layer, as the default layout's images have it (images/oci_layer.py, the same excludes)
base, root_diff_id = oci_layer.layer(blobs, root, *oci_layer.ROOT_EXCLUDES)
# the other layers (the entrypoint layer): the default layout's blobs, hard-linked
for l in manifest["layers"][1:]:
    os.link(os.path.join(src, l["digest"].split(":", 1)[1]), os.path.join(blobs, l["digest"].split(":", 1)[1]))
config["rootfs"]["diff_ids"][0] = root_diff_id
config["history"] = [{"created": "1970-01-01T00:00:00Z",
                      "created_by": "scripts/runtime/build-images.sh airflow from " + os.path.basename(root)}]
manifest["config"] = oci_layer.blob(blobs, config, "application/vnd.oci.image.config.v1+json")
manifest["layers"] = [base] + manifest["layers"][1:]
out = oci_layer.blob(blobs, manifest, "application/vnd.oci.image.manifest.v1+json")
out["annotations"] = {"org.opencontainers.image.ref.name": "airflow"}
json.dump({"schemaVersion": 2, "manifests": [out]}, open(os.path.join(tmp, "index.json"), "w"))
open(os.path.join(tmp, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
print("layers: root %d MB (the entrypoint layer shared with %s)" % (base["size"] >> 20, os.path.basename(default)), file=sys.stderr)
PY
  [[ $? == 0 && -f "$tmp/index.json" ]] || { rm -rf "$tmp"; log "building apache/airflow ${minor} failed"; return 1; }
  touch "$tmp/.airflow-cdk8s-images"
  mv "$tmp" "$out" || return 1
  local old
  for old in "$IMAGES_CACHE/airflow${minor}"-*; do
    [[ "$old" == "$out" || ! -d "$old" ]] || { log "removing the old layout $old"; rm -rf "$old"; }
  done
  log "built $out in $((SECONDS - t0)) s ($(du -sh "$out" | cut -f1))"
  echo "$out"
}

# other_airflow_ref IMAGE: for apache/airflow:X.Y.Z of another minor version than the default's, "airflow
# apache/airflow:<tag> <layout>" with that minor's layout (built if needed: cmd_build_airflow); fails otherwise.
other_airflow_ref() {
  local img="$1" name tag
  name="${img%:*}"; tag="${img##*:}"
  name="${name#docker.io/}"
  [[ "$name" == apache/airflow && "$tag" =~ ^([0-9]+\.[0-9]+)\.[0-9]+ ]] || return 1
  local minor="${BASH_REMATCH[1]}" layout
  [[ "$minor" != "$(airflow_minor)" ]] || return 1
  layout="$(cmd_build_airflow "$minor")" || return 1
  echo "airflow ${name}:${tag} ${layout}"
}

case "${1:-}" in
  build) cmd_build ;;
  build-airflow) shift; cmd_build_airflow "$@" ;;
  push) shift; cmd_push "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
