#!/usr/bin/env bash
# build-images.sh — the OCI images the real node (scripts/runtime/real-node.sh) pulls, built from the runtime root
# (scripts/runtime/build-root.sh) without a Docker engine, and pushed to the node's registry (issue #27).
#
# USAGE
#   scripts/runtime/build-images.sh build        build the OCI layout if it is not cached; print its path
#   scripts/runtime/build-images.sh push [IMAGE...]  build if needed, then push every image the default app's YAML
#                                                (dist/) names, the pause image, the opt-in images whose default
#                                                lib/ names (optional_images: Redis, the pre-pull pods' pause), and
#                                                IMAGE... (same repositories, other tags) to the running real
#                                                node's registry
#
# The images (one OCI layout, $AIRFLOW_CDK8S_CACHE/images/oci-<key>, tags airflow, postgres, redis, pause):
#   apache/airflow  the root as one layer + a layer with Debian's dumb-init and /entrypoint
#                   (images/airflow-entrypoint.sh); as the official image's Dockerfile sets them: USER 50000 (group
#                   0 from /etc/passwd), WORKDIR /opt/airflow, AIRFLOW_HOME=/opt/airflow, DUMB_INIT_SETSID=1,
#                   ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"], CMD [].
#   postgres        the same root layer (Debian's PostgreSQL 17, the docker-library entrypoint subset
#                   scripts/runtime/postgres-entrypoint.sh as docker-entrypoint.sh): USER root, ENTRYPOINT
#                   ["docker-entrypoint.sh"], CMD ["postgres"], STOPSIGNAL SIGINT, PGDATA, VOLUME PGDATA.
#   redis           the same root layer (Debian's redis-server, installed by build-root.sh for the emulated stage):
#                   WORKDIR /data, VOLUME /data, CMD ["redis-server"], like the official image's config; no
#                   entrypoint (the official one is only a chown + gosu to its redis user, which the chart's
#                   RedisBroker skips: it names `command: [redis-server]` and runs as uid 999 gid 1000 itself).
#   pause           one static binary built from images/pause.c (USER 65535, like registry.k8s.io/pause:3.6).
# The root layer is one blob shared by airflow, postgres and redis: the registry stores it once and containerd pulls it once.
# <key> hashes this script's commands, the entrypoint, pause.c, the root (its own key) and the dumb-init package:
# a change rebuilds; older layouts are removed. Names pushed: docker.io's apache/airflow:<tag>,
# library/postgres:<tag> and library/redis:<tag>, registry.k8s.io's pause:3.6 and pause:3.10, as containerd asks
# the mirror for them.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE_ROOT="${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}"
IMAGES_CACHE="${CACHE_ROOT}/images"
REGISTRY_PORT="${AIRFLOW_CDK8S_REGISTRY_PORT:-21500}"
PAUSE_IMAGE=registry.k8s.io/pause:3.6

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
  (cd "$dl" && apt-get download -qq dumb-init >/dev/null 2>&1) || {
    apt_host_update
    (cd "$dl" && apt-get download -qq dumb-init >/dev/null)
  }
  local key out
  key="$( { grep -Ev '^[[:space:]]*#( |$)' "$HERE/build-images.sh"; cat "$HERE/images/airflow-entrypoint.sh" "$HERE/images/pause.c";
            basename "$root"; sha256sum <"$dl"/dumb-init_*.deb; } | sha256sum | cut -c1-12)"
  out="${IMAGES_CACHE}/oci-${key}"
  if [[ -f "$out/.airflow-cdk8s-images" ]]; then rm -rf "$dl"; log "cached: $out"; echo "$out"; return 0; fi
  local t0=$SECONDS tmp="${IMAGES_CACHE}/.build-${key}-$$"
  rm -rf "$tmp"; mkdir -p "$tmp/extra/usr/bin" "$tmp/pause"
  trap 'rm -rf "'"$tmp"'" "'"$dl"'"' EXIT
  dpkg -x "$dl"/dumb-init_*.deb "$tmp/deb"
  install -m 0755 "$tmp/deb/usr/bin/dumb-init" "$tmp/extra/usr/bin/dumb-init"
  install -m 0755 "$HERE/images/airflow-entrypoint.sh" "$tmp/extra/entrypoint"
  gcc -static -Os -Wall -o "$tmp/pause/pause" "$HERE/images/pause.c"
  strip "$tmp/pause/pause"
  log "building the images from $root into $out"
  /usr/bin/python3 - "$root" "$tmp" <<'PY'
import gzip, hashlib, json, os, subprocess, sys

root, tmp = sys.argv[1], sys.argv[2]
layout = os.path.join(tmp, "layout")
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)

class Hashing:
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0
    def write(self, b):
        self.h.update(b); self.n += len(b); return self.f.write(b)
    def flush(self):
        self.f.flush()

def layer(directory, *extra):
    """A gzip'ed tar layer of `directory` (numeric owners, sorted names, fixed mtime); (descriptor, diff_id)."""
    tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "--sort=name", "--mtime=@0", *extra,
                            "-C", directory, "-cf", "-", "."], stdout=subprocess.PIPE)
    path = os.path.join(blobs, "tmp")
    raw = hashlib.sha256()
    with open(path, "wb") as f:
        z = Hashing(f)
        with gzip.GzipFile(fileobj=z, mode="wb", compresslevel=1, mtime=0) as g:
            while True:
                b = tar.stdout.read(1 << 20)
                if not b:
                    break
                raw.update(b); g.write(b)
    if tar.wait() != 0:
        sys.exit("tar failed for " + directory)
    digest = z.h.hexdigest()
    os.rename(path, os.path.join(blobs, digest))
    return ({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + digest,
             "size": z.n}, "sha256:" + raw.hexdigest())

def blob(obj, media):
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}

def image(name, layers, config):
    cfg = {"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z", "config": config,
           "rootfs": {"type": "layers", "diff_ids": [l[1] for l in layers]},
           "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "scripts/runtime/build-images.sh " + name}]}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": blob(cfg, "application/vnd.oci.image.config.v1+json"), "layers": [l[0] for l in layers]}
    desc = blob(manifest, "application/vnd.oci.image.manifest.v1+json")
    desc["annotations"] = {"org.opencontainers.image.ref.name": name}
    return desc

base = layer(root, "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./dev/*", "--exclude=./tmp/*",
             "--exclude=./.airflow-cdk8s-root")
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
  case "$name" in
    apache/airflow) [[ "${tag%.*}" == "$(airflow_minor)" ]] || return 1; src=airflow ;;  # only the root's Airflow
    library/postgres) src=postgres ;;
    library/redis) src=redis ;;
    pause) src=pause ;;
    *) return 1 ;;
  esac
  echo "$src ${name}:${tag}"
}

# The default images of opt-in features, read from lib/ (not in dist/, whose default app has them off): the
# Celery broker's Redis (RedisBroker.DEFAULT_IMAGE) and the image pre-pull pods' pause (DEFAULT_PAUSE_IMAGE).
optional_images() {
  sed -n "s/.*DEFAULT_IMAGE = '\\(redis:[^']*\\)'.*/\\1/p" "$REPO/lib/celery/redis-broker.ts"
  sed -n "s/.*DEFAULT_PAUSE_IMAGE = '\\([^']*\\)'.*/\\1/p" "$REPO/lib/image-pre-pull/image-pre-pull.ts"
}

cmd_push() {
  local layout
  layout="$(cmd_build)"
  local images=() i
  mapfile -t images < <( { sed -n 's/^ *image: *//p' "$REPO"/dist/*.yaml; echo "$PAUSE_IMAGE"; optional_images; printf '%s\n' "$@"; } | tr -d '"'"'" | sort -u)
  local t0=$SECONDS ref
  for i in "${images[@]}"; do
    [[ -n "$i" ]] || continue
    ref="$(registry_ref "$i")" || { log "no image built for ${i}: not pushed"; continue; }
    set -- $ref
    bash "$HERE/real-node.sh" exec skopeo copy --quiet --dest-tls-verify=false \
      "oci:${layout}:$1" "docker://127.0.0.1:${REGISTRY_PORT}/$2" \
      || die "pushing ${i} failed (is the real node running? scripts/runtime/real-node.sh start)"
    log "pushed ${i} (127.0.0.1:${REGISTRY_PORT}/$2)"
  done
  log "pushed in $((SECONDS - t0)) s"
}

case "${1:-}" in
  build) cmd_build ;;
  push) shift; cmd_push "$@" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
