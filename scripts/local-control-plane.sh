#!/usr/bin/env bash
# local-control-plane.sh — a real (but kubelet-less) Kubernetes 1.20 control
# plane for the airflow-cdk8s tests, built and run entirely offline from
# Debian packages.
#
# USAGE
#   scripts/local-control-plane.sh install
#       Install the Debian packages needed, then build kube-apiserver,
#       kube-controller-manager and kube-scheduler 1.20.2 from Debian bookworm's
#       `kubernetes` source package with Go 1.15 (from Debian bullseye), and
#       cache them (plus kubectl 1.20.2 from `kubernetes-client`) under
#       $AIRFLOW_CDK8S_CACHE. Idempotent: a no-op taking ~1 s when cached.
#       A cold run takes ~5-10 min on 2 cores and peaks at ~2.5 GB of disk.
#   scripts/local-control-plane.sh start
#       If $KUBECONFIG already points to a reachable cluster (minikube, kind,
#       ...), use it and start nothing. Otherwise run `install` if needed, then
#       start etcd + kube-apiserver + kube-controller-manager + kube-scheduler
#       bound to 127.0.0.1, write a kubeconfig and wait until /readyz is ok
#       and the `default` namespace and its `default` service account exist.
#       Prints the `export KUBECONFIG=... PATH=...` lines to use.
#   scripts/local-control-plane.sh stop
#       Kill every process `start` launched (by pid file), wait for them to
#       exit, and remove the state dir. Safe to call from a trap, and when
#       nothing is running.
#   scripts/local-control-plane.sh env
#       Print the KUBECONFIG path to use (the external one when `start`
#       adopted an existing cluster).
#   scripts/local-control-plane.sh status
#       Exit 0 when the cluster is reachable, 1 otherwise.
#   scripts/local-control-plane.sh add-node NAME [CPU] [MEMORY]
#       Create a Node object shaped like a default minikube node (defaults:
#       2 CPUs, 4Gi), untainted and Ready, so the real scheduler binds pods to
#       it. No kubelet runs: pods stay Pending-with-nodeName (never Running).
#   scripts/local-control-plane.sh kubectl ARGS...
#       Run the cached kubectl 1.20.2 against the cluster.
#
# TYPICAL USE IN A TEST RUNNER
#   scripts/local-control-plane.sh start
#   trap 'scripts/local-control-plane.sh stop' EXIT
#   export KUBECONFIG="$(scripts/local-control-plane.sh env)"
#
# ENVIRONMENT
#   AIRFLOW_CDK8S_CACHE   cache root (binaries, Go toolchain, private apt
#                         state)                [/var/cache/airflow-cdk8s]
#   AIRFLOW_CDK8S_STATE   runtime state: certs, etcd data, logs, pid files,
#                         kubeconfig            [/tmp/airflow-cdk8s-k8s]
#   AIRFLOW_CDK8S_APISERVER_PORT  apiserver secure port          [16443]
#   AIRFLOW_CDK8S_ETCD_PORT       etcd client port               [23790]
#   AIRFLOW_CDK8S_ETCD_PEER_PORT  etcd peer port                 [23800]
#   AIRFLOW_CDK8S_CM_PORT         controller-manager secure port [16257]
#   AIRFLOW_CDK8S_SCHED_PORT      scheduler secure port          [16259]
#   AIRFLOW_CDK8S_DEBIAN_MIRROR   Debian mirror URI(s) for the private apt
#                         config (default: derived from /etc/apt sources)
#   AIRFLOW_CDK8S_KEEP_BUILD=1    keep the source tree/go cache after a build
#   KUBECONFIG            if it points to a reachable cluster, `start` uses it
#
# Everything listens on 127.0.0.1 only. The kubeconfig written is
# $AIRFLOW_CDK8S_STATE/kubeconfig (user "admin", static token, group
# system:masters).
#
# WHY GO 1.15: bookworm's Go 1.19 builds an apiserver that SIGSEGVs in the
# vendored json-iterator/reflect2 when encoding PATCH responses; 1.20.2 was
# released with Go 1.15, so we take bullseye's golang-1.15 .debs.
set -euo pipefail

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------
K8S_VERSION=1.20.2
CACHE_ROOT="${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}"
K8S_DIR="${CACHE_ROOT}/k8s-${K8S_VERSION}"
BIN_DIR="${K8S_DIR}/bin"
APT_DIR="${CACHE_ROOT}/apt"              # private apt config/state/cache
GO_DIR="${CACHE_ROOT}/go-1.15"           # bullseye golang-1.15 unpacked here
GOROOT_DIR="${GO_DIR}/usr/lib/go-1.15"
BUILD_DIR="${CACHE_ROOT}/build"          # source tree + Go caches (temporary)

STATE_DIR="${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s}"
KUBECONFIG_FILE="${STATE_DIR}/kubeconfig"
EXTERNAL_MARKER="${STATE_DIR}/external-kubeconfig"

APISERVER_PORT="${AIRFLOW_CDK8S_APISERVER_PORT:-16443}"
ETCD_PORT="${AIRFLOW_CDK8S_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${AIRFLOW_CDK8S_ETCD_PEER_PORT:-23800}"
CM_PORT="${AIRFLOW_CDK8S_CM_PORT:-16257}"
SCHED_PORT="${AIRFLOW_CDK8S_SCHED_PORT:-16259}"

# Processes we start, in start order (stop kills in reverse order).
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
# Debian packages needed at install/run time (binary names checked first).
APT_PACKAGES=(etcd-server dpkg-dev rsync make openssl curl ca-certificates)

log() { printf '[local-control-plane] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# install: Debian packages, private apt config, Go 1.15, k8s build, kubectl
# ---------------------------------------------------------------------------

binaries_cached() {
  local b
  for b in "${K8S_BINARIES[@]}"; do
    [[ -x "${BIN_DIR}/${b}" ]] || return 1
  done
  return 0
}

missing_apt_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
      || printf '%s\n' "$p"
  done
}

install_apt_packages() {
  local missing
  missing="$(missing_apt_packages)"
  [[ -z "$missing" ]] && return 0
  # shellcheck disable=SC2086 # intentional word splitting of the list
  log "installing Debian packages: $(echo $missing)"
  [[ $(id -u) -eq 0 ]] || die "need root to apt-get install: $(echo $missing)"
  # A fresh machine may have empty package lists: update once, then install.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# Print the Debian archive mirror URI(s) configured on this machine, one per
# line. Reads one-line sources (/etc/apt/sources.list, sources.list.d/*.list)
# and deb822 files (sources.list.d/*.sources). An entry counts as "the Debian
# archive" when its suite is a plain release codename/alias (bookworm, stable,
# ...); -security/-updates/-backports suites and third-party repos
# (suites like "nodistro", "cloud-sdk-bookworm") are ignored.
derive_debian_mirrors() {
  if [[ -n "${AIRFLOW_CDK8S_DEBIAN_MIRROR:-}" ]]; then
    printf '%s\n' ${AIRFLOW_CDK8S_DEBIAN_MIRROR}
    return 0
  fi
  local f one_line=() deb822=()
  [[ -r /etc/apt/sources.list ]] && one_line+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list; do [[ -r "$f" ]] && one_line+=("$f"); done
  for f in /etc/apt/sources.list.d/*.sources; do [[ -r "$f" ]] && deb822+=("$f"); done
  {
    if ((${#one_line[@]})); then
      # "deb [opt=val ...] URI SUITE COMPONENT..." -> "URI SUITE"
      sed -e 's/#.*//' "${one_line[@]}" | awk '
        $1 == "deb" || $1 == "deb-src" {
          i = 2
          if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
          if (i + 1 <= NF) print $i, $(i + 1)
        }'
    fi
    if ((${#deb822[@]})); then
      # Paragraph mode: one stanza per record; fields may continue on
      # indented lines; "Enabled: no" stanzas are skipped.
      local d
      for d in "${deb822[@]}"; do
        awk 'BEGIN { RS = ""; FS = "\n" }
        {
          uris = ""; suites = ""; enabled = "yes"; key = ""
          for (i = 1; i <= NF; i++) {
            line = $i
            if (line ~ /^#/) continue
            if (line ~ /^[ \t]/) {            # continuation line
              if (key == "uris") uris = uris " " line
              if (key == "suites") suites = suites " " line
              continue
            }
            key = tolower(line); sub(/:.*/, "", key)
            val = line; sub(/^[^:]*:[ \t]*/, "", val)
            if (key == "uris") uris = val
            else if (key == "suites") suites = val
            else if (key == "enabled") enabled = tolower(val)
          }
          if (enabled == "no") next
          nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
          for (a = 1; a <= nu; a++) for (b = 1; b <= ns; b++)
            if (u[a] != "" && s[b] != "") print u[a], s[b]
        }' "$d"
      done
    fi
  } | awk '
    $2 ~ /^(buster|bullseye|bookworm|trixie|forky|duke|sid|oldoldstable|oldstable|stable|testing|unstable)$/ \
      && $1 !~ /^cdrom:/ { sub(/\/+$/, "", $1); if (!seen[$1]++) print $1 }'
}

# apt-get options that make apt use ONLY our private sources/state/cache, so
# the machine's own apt configuration and package lists stay untouched.
APT_OPTS=(
  -o "Dir::Etc::SourceList=${APT_DIR}/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=${APT_DIR}/lists"
  -o "Dir::Cache=${APT_DIR}/cache"
  -o "Dir::Etc::Preferences=/dev/null"
  -o "Dir::Etc::PreferencesParts=/dev/null"
  -o "APT::Sandbox::User=root"
  -o "Acquire::Languages=none"
)

setup_private_apt() {
  local arch mirrors m signed=""
  arch="$(dpkg --print-architecture)"
  mirrors="$(derive_debian_mirrors)"
  [[ -n "$mirrors" ]] || die "no Debian archive mirror found in /etc/apt/sources.list{,.d/*}; set AIRFLOW_CDK8S_DEBIAN_MIRROR"
  [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] \
    && signed=" signed-by=/usr/share/keyrings/debian-archive-keyring.gpg"
  mkdir -p "${APT_DIR}/lists/partial" "${APT_DIR}/cache/archives/partial"
  {
    echo "# generated by local-control-plane.sh from the machine's apt sources"
    while read -r m; do
      echo "deb-src [${signed# }] ${m} bookworm main"
      echo "deb [arch=${arch}${signed}] ${m} bullseye main"
    done <<<"$mirrors"
  } | sed 's/\[\] //' >"${APT_DIR}/sources.list.new"
  # Only re-download the indexes when the sources changed or are missing.
  if ! cmp -s "${APT_DIR}/sources.list.new" "${APT_DIR}/sources.list" \
     || ! compgen -G "${APT_DIR}/lists/*Sources*" >/dev/null; then
    mv "${APT_DIR}/sources.list.new" "${APT_DIR}/sources.list"
    log "private apt sources:"; sed 's/^/    /' "${APT_DIR}/sources.list" >&2
    apt-get "${APT_OPTS[@]}" update -qq >/dev/null \
      || die "private apt-get update failed (sources: ${APT_DIR}/sources.list)"
  else
    rm -f "${APT_DIR}/sources.list.new"
  fi
}

# Go 1.15 from bullseye, unpacked (not installed) into $GO_DIR.
install_go115() {
  [[ -x "${GOROOT_DIR}/bin/go" && -d "${GOROOT_DIR}/src/runtime" ]] && return 0
  local arch dl="${APT_DIR}/debs"
  arch="$(dpkg --print-architecture)"
  log "downloading Go 1.15 (bullseye golang-1.15-go/-src) ..."
  rm -rf "$dl" "$GO_DIR"; mkdir -p "$dl" "$GO_DIR"
  (cd "$dl" && apt-get "${APT_OPTS[@]}" download -qq \
      "golang-1.15-go:${arch}" golang-1.15-src >/dev/null)
  local deb
  for deb in "$dl"/*.deb; do dpkg -x "$deb" "$GO_DIR"; done
  rm -rf "$dl"
  "${GOROOT_DIR}/bin/go" version >&2 || die "unpacked Go 1.15 does not run"
}

# kubectl 1.20.2 from bookworm's kubernetes-client. We unpack the .deb into
# the cache instead of `apt-get install`ing it so that a /usr/bin/kubectl the
# machine already has (e.g. from google-cloud-sdk) is not overwritten.
install_kubectl() {
  [[ -x "${BIN_DIR}/kubectl" ]] && return 0
  local dl="${APT_DIR}/kubectl-deb"
  rm -rf "$dl"; mkdir -p "$dl" "$BIN_DIR"
  log "downloading kubectl (bookworm kubernetes-client) ..."
  (cd "$dl" && apt-get download -qq kubernetes-client >/dev/null 2>&1) || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    (cd "$dl" && apt-get download -qq kubernetes-client >/dev/null)
  }
  dpkg -x "$dl"/kubernetes-client_*.deb "$dl/root"
  install -m 0755 "$dl/root/usr/bin/kubectl" "${BIN_DIR}/kubectl"
  rm -rf "$dl"
}

build_k8s() {
  local want=(kube-apiserver kube-controller-manager kube-scheduler) b missing=0
  for b in "${want[@]}"; do [[ -x "${BIN_DIR}/$b" ]] || missing=1; done
  ((missing)) || return 0
  local src="${BUILD_DIR}/kubernetes"
  rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"
  log "downloading kubernetes source (bookworm) ..."
  (cd "$BUILD_DIR" && apt-get "${APT_OPTS[@]}" source --download-only -qq kubernetes >/dev/null)
  log "unpacking source with dpkg-source ..."
  dpkg-source -x "$BUILD_DIR"/kubernetes_*.dsc "$src" >/dev/null
  rm -f "$BUILD_DIR"/kubernetes_*

  # The tree is not a git checkout: hand hack/lib/version.sh a version file
  # (KUBE_GIT_VERSION_FILE is read before any git call).
  cat >"${BUILD_DIR}/version.env" <<EOF
KUBE_GIT_COMMIT='faecb196815e248d3ecfb03c680a4507229c2a56'
KUBE_GIT_TREE_STATE='clean'
KUBE_GIT_VERSION='v${K8S_VERSION}'
KUBE_GIT_MAJOR='1'
KUBE_GIT_MINOR='20'
EOF
  # Parallelism: go's default -p is the number of CPUs (2 here) and
  # hack/lib/golang.sh builds targets serially below 40 GB of RAM, which is
  # sane for 2 cores / 24 GB. NB: GOFLAGS must not contain spaces or "-p":
  # golang.sh pastes GOFLAGS into its -tags list ("-tags space-separated list
  # contains comma" otherwise).
  log "building ${want[*]} with $("${GOROOT_DIR}/bin/go" version | awk '{print $3}'); takes several minutes ..."
  local t0=$SECONDS buildlog="${BUILD_DIR}/build.log"
  if ! (
    cd "$src"
    export GOROOT="$GOROOT_DIR" PATH="${GOROOT_DIR}/bin:${PATH}"
    export GOPATH="${BUILD_DIR}/gopath" GOCACHE="${BUILD_DIR}/gocache"
    export GOPROXY=off GOFLAGS=-mod=vendor GOTOOLCHAIN=local
    export GO111MODULE=on CGO_ENABLED=0
    export KUBE_GIT_VERSION_FILE="${BUILD_DIR}/version.env"
    unset GOBIN GOOS GOARCH
    make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kube-scheduler"
  ) >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    die "kubernetes build failed; full log: ${buildlog}"
  fi
  log "build finished in $((SECONDS - t0)) s"
  mkdir -p "$BIN_DIR"
  for b in "${want[@]}"; do
    # install to a temp name then rename, so a half-copied binary never
    # looks "cached"
    install -m 0755 "${src}/_output/bin/${b}" "${BIN_DIR}/.${b}.tmp"
    mv -f "${BIN_DIR}/.${b}.tmp" "${BIN_DIR}/${b}"
  done
  "${BIN_DIR}/kube-apiserver" --version >&2
  if [[ "${AIRFLOW_CDK8S_KEEP_BUILD:-0}" != 1 ]]; then
    chmod -R u+w "$BUILD_DIR" 2>/dev/null || true   # go module cache is r/o
    rm -rf "$BUILD_DIR"
  fi
}

cmd_install() {
  install_apt_packages
  if binaries_cached; then
    log "cached: ${BIN_DIR} ($(ls "$BIN_DIR" | tr '\n' ' '))"
    return 0
  fi
  [[ $(id -u) -eq 0 || -w "$(dirname "$CACHE_ROOT")" || -w "$CACHE_ROOT" ]] \
    || die "cannot write ${CACHE_ROOT}; set AIRFLOW_CDK8S_CACHE"
  mkdir -p "$CACHE_ROOT"
  install_kubectl
  setup_private_apt
  install_go115
  build_k8s
  binaries_cached || die "install finished but binaries are missing in ${BIN_DIR}"
  log "installed: ${BIN_DIR}"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    mirrors) derive_debian_mirrors ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
}

main "$@"
