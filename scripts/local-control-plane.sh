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
#       $AIRFLOW_CDK8S_CACHE. Idempotent: a ~0.2 s no-op when cached.
#       A cold run takes ~6-10 min on 2 cores, peaks at ~2.8 GB of disk and
#       leaves ~330 MB (binaries + private apt lists). Concurrent callers
#       wait on a lock instead of clobbering each other's build.
#   scripts/local-control-plane.sh install-node
#       Build kubelet and kube-proxy 1.20.2 the same way (same source, same
#       Go 1.15) and cache them beside the others, for the real node
#       (scripts/runtime/real-node.sh). ~217-492 s for both on 2 cores; 72 s
#       after `AIRFLOW_CDK8S_KEEP_BUILD=1 install` (it reuses that build's
#       source tree and Go build cache, then removes them); a no-op when
#       cached.
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
#   scripts/local-control-plane.sh selftest
#       Check the running cluster: PV+PVC (volumeName) gets Bound, RBAC denies
#       the default service account, a pod is scheduled onto an add-node Node.
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
#   AIRFLOW_CDK8S_KEEP_BUILD=1    keep the source tree/go cache after a build (the next
#                         build reuses them: .ci/run keeps install's for install-node)
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
# shellcheck source=scripts/apt-host.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt-host.sh"

# Serialise concurrent invocations (several test runners / sessions may call
# this script at once): fd 8 guards the cache (install/build), fd 9 the state
# dir (start/stop). Lock files live outside the dirs that get rm -rf'ed.
# Daemons we launch close both fds so they never hold a lock.
INSTALL_LOCKED=0
lock_install() {
  ((INSTALL_LOCKED)) && return 0
  mkdir -p "$CACHE_ROOT"
  exec 8>"${CACHE_ROOT}/.install.lock"
  flock -n 8 || { log "waiting for another install/build (lock ${CACHE_ROOT}/.install.lock) ..."; flock 8; }
  INSTALL_LOCKED=1
}
lock_state() {
  mkdir -p "$(dirname "$STATE_DIR")"
  exec 9>"${STATE_DIR}.lock"
  flock -n 9 || { log "waiting for another start/stop (lock ${STATE_DIR}.lock) ..."; flock 9; }
}
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

missing_apt_packages() { apt_host_missing "${APT_PACKAGES[@]}"; }

install_apt_packages() {
  # The machine's apt goes through one machine-wide lock (scripts/apt-host.sh): .ci/run builds its caches side by side.
  apt_host_install "${APT_PACKAGES[@]}" || die "installing Debian packages failed: $(apt_host_missing "${APT_PACKAGES[@]}" | tr '\n' ' ')"
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
    apt_host_update
    (cd "$dl" && apt-get download -qq kubernetes-client >/dev/null)
  }
  dpkg -x "$dl"/kubernetes-client_*.deb "$dl/root"
  install -m 0755 "$dl/root/usr/bin/kubectl" "${BIN_DIR}/kubectl"
  rm -rf "$dl"
}

# build_k8s [BINARY...]: build the named cmd/ binaries (default: the control
# plane's three) from the source and install them into $BIN_DIR.
build_k8s() {
  local want=("$@") b missing=0
  ((${#want[@]})) || want=(kube-apiserver kube-controller-manager kube-scheduler)
  for b in "${want[@]}"; do [[ -x "${BIN_DIR}/$b" ]] || missing=1; done
  ((missing)) || return 0
  local src="${BUILD_DIR}/kubernetes"
  # A build kept by AIRFLOW_CDK8S_KEEP_BUILD=1 (.ci/run keeps the control plane's for the node's) is reused: its
  # source tree, and its Go build cache, which holds most of the packages kubelet and kube-proxy share with the
  # control plane's binaries (apimachinery, client-go, the volume plugins, the cloud providers).
  if [[ -f "${BUILD_DIR}/.source-ready" ]]; then
    log "reusing the source tree and Go build cache in ${BUILD_DIR}"
  else
  rm -rf "$BUILD_DIR"; mkdir -p "$BUILD_DIR"
  log "downloading kubernetes source (bookworm) ..."
  (cd "$BUILD_DIR" && apt-get "${APT_OPTS[@]}" source --download-only -qq kubernetes >/dev/null)
  log "unpacking source with dpkg-source ..."
  # apt already authenticated the .dsc and tarballs (signed Release ->
  # Sources checksums); dpkg-source's own gpgv check would only warn about
  # the uploader's key not being installed, so keep its chatter in a log.
  dpkg-source -x "$BUILD_DIR"/kubernetes_*.dsc "$src" >"${BUILD_DIR}/dpkg-source.log" 2>&1 \
    || { cat "${BUILD_DIR}/dpkg-source.log" >&2; die "dpkg-source -x failed"; }
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
  touch "${BUILD_DIR}/.source-ready"
  fi
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
    make WHAT="${want[*]/#/cmd/}"
  ) >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2 || true
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
  "${BIN_DIR}/${want[0]}" --version >&2
  if [[ "${AIRFLOW_CDK8S_KEEP_BUILD:-0}" != 1 ]]; then
    # Source tree + Go build cache (~2 GB) and the Go toolchain (~370 MB)
    # are only needed to build; the binaries are what we cache.
    chmod -R u+w "$BUILD_DIR" 2>/dev/null || true   # go module cache is r/o
    rm -rf "$BUILD_DIR" "$GO_DIR"
  fi
}

cmd_install() {
  lock_install
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

# install-node: kubelet and kube-proxy 1.20.2 for the real node
# (scripts/runtime/real-node.sh), built like the control plane's binaries.
cmd_install_node() {
  lock_install
  if [[ -x "${BIN_DIR}/kubelet" && -x "${BIN_DIR}/kube-proxy" ]]; then
    log "cached: ${BIN_DIR}/kubelet, ${BIN_DIR}/kube-proxy"
    # a build kept for this one (AIRFLOW_CDK8S_KEEP_BUILD=1 install) is not needed any more
    if [[ "${AIRFLOW_CDK8S_KEEP_BUILD:-0}" != 1 && -d "$BUILD_DIR" ]]; then
      chmod -R u+w "$BUILD_DIR" 2>/dev/null || true
      rm -rf "$BUILD_DIR" "$GO_DIR"
    fi
    return 0
  fi
  install_apt_packages
  mkdir -p "$CACHE_ROOT"
  setup_private_apt
  install_go115
  build_k8s kubelet kube-proxy
}

# ---------------------------------------------------------------------------
# runtime helpers
# ---------------------------------------------------------------------------

# kubectl to use: the cached 1.20.2 one, else whatever is on PATH.
kubectl_bin() {
  if [[ -x "${BIN_DIR}/kubectl" ]]; then echo "${BIN_DIR}/kubectl"
  else command -v kubectl || die "no kubectl (run: $0 install)"; fi
}

# The kubeconfig tests should use: the adopted external one, else ours.
effective_kubeconfig() {
  if [[ -f "$EXTERNAL_MARKER" ]]; then cat "$EXTERNAL_MARKER"; else echo "$KUBECONFIG_FILE"; fi
}

kc() { KUBECONFIG="$(effective_kubeconfig)" "$(kubectl_bin)" "$@"; }

# Is the cluster behind kubeconfig $1 reachable and healthy?
cluster_reachable() {
  local k
  k="$(kubectl_bin 2>/dev/null)" || return 1
  KUBECONFIG="$1" "$k" --request-timeout=5s get --raw /readyz >/dev/null 2>&1 \
    || KUBECONFIG="$1" "$k" --request-timeout=5s get --raw /healthz >/dev/null 2>&1
}

pid_file() { echo "${STATE_DIR}/pids/$1.pid"; }
log_file() { echo "${STATE_DIR}/logs/$1.log"; }

# Print the pid of component $1 if its pid file names a live process that is
# really that component (guards against recycled pids); else fail.
component_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -r "$f" ]] || return 1
  pid="$(<"$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "$1" || return 1
  echo "$pid"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Start component $1 (binary $2, args...) in its own session, logging to
# $STATE_DIR/logs/$1.log, pid in $STATE_DIR/pids/$1.pid.
launch() {
  local name="$1" bin="$2"; shift 2
  # setsid: detach from the caller's process group so a Ctrl-C or the
  # caller's job control doesn't take the control plane down half-way; the
  # non-interactive shell's child is not a group leader, so setsid execs in
  # place and $! is the component's own pid.
  setsid "$bin" "$@" </dev/null >>"$(log_file "$name")" 2>&1 5>&- 6>&- 8>&- 9>&- &
  echo $! >"$(pid_file "$name")"
  log "started ${name} (pid $!, log $(log_file "$name"))"
}

# EXIT trap while `start` runs: on any failure (set -e, die, timeout) show the
# tail of the relevant log, keep a copy of all logs, and stop what was
# started so nothing is left behind.
CURRENT_COMPONENT=""
on_start_exit() {
  local rc=$?
  trap - EXIT
  ((rc == 0)) && return 0
  set +e
  if [[ -n "$CURRENT_COMPONENT" && -r "$(log_file "$CURRENT_COMPONENT")" ]]; then
    log "---- last 40 lines of $(log_file "$CURRENT_COMPONENT") ----"
    tail -n 40 "$(log_file "$CURRENT_COMPONENT")" >&2
    log "---- end of log ----"
  fi
  if [[ -d "${STATE_DIR}/logs" ]]; then
    rm -rf "${STATE_DIR}.failed-logs"
    cp -r "${STATE_DIR}/logs" "${STATE_DIR}.failed-logs"
    log "all logs kept in ${STATE_DIR}.failed-logs"
  fi
  log "start failed (exit ${rc}); stopping what was started"
  cmd_stop
  exit "$rc"
}

# wait_for DESCRIPTION TIMEOUT_S COMPONENT CMD...: poll CMD until it succeeds;
# fail early if COMPONENT's process died.
wait_for() {
  local what="$1" timeout="$2" comp="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  CURRENT_COMPONENT="$comp"
  until "$@" >/dev/null 2>&1; do
    component_pid "$comp" >/dev/null || { log "${comp} exited while waiting for ${what}"; return 1; }
    ((SECONDS < deadline)) || { log "timed out after ${timeout}s waiting for ${what}"; return 1; }
    sleep 0.5
  done
  log "ok: ${what}"
}

# ---------------------------------------------------------------------------
# certificates, tokens, kubeconfigs
# ---------------------------------------------------------------------------
generate_pki() {
  local d="${STATE_DIR}/pki"
  mkdir -p "$d"; chmod 700 "$d"
  # cluster CA (also signs CSRs via the controller-manager's csrsigning). keyUsage as kubeadm's CA has it:
  # X.509-strict clients (Python >= 3.13's ssl.create_default_context, which Airflow's pods use to reach
  # the API server with the service account's ca.crt) reject a CA certificate without it.
  openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
    -subj "/CN=airflow-cdk8s-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  # apiserver serving cert: localhost + the in-cluster service names/IP
  openssl req -new -nodes -newkey rsa:2048 -sha256 \
    -subj "/CN=kube-apiserver" -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null
  cat >"$d/apiserver.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:10.0.0.1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  openssl x509 -req -sha256 -days 3650 -in "$d/apiserver.csr" -CA "$d/ca.crt" \
    -CAkey "$d/ca.key" -CAcreateserial -extfile "$d/apiserver.ext" \
    -out "$d/apiserver.crt" 2>/dev/null
  # service account token signing key pair
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  # static tokens: token,user,uid,"groups". The controller-manager and
  # scheduler get their own identities, which the bootstrap RBAC policy
  # already authorizes (system:kube-controller-manager, system:kube-scheduler).
  local admin cm sched
  admin="$(openssl rand -hex 24)"; cm="$(openssl rand -hex 24)"; sched="$(openssl rand -hex 24)"
  cat >"$d/tokens.csv" <<EOF
${admin},admin,admin-uid,"system:masters"
${cm},system:kube-controller-manager,kcm-uid
${sched},system:kube-scheduler,ksched-uid
EOF
  chmod 600 "$d"/*.key "$d/tokens.csv"
  write_kubeconfig "${KUBECONFIG_FILE}" admin "$admin"
  write_kubeconfig "${STATE_DIR}/controller-manager.kubeconfig" system:kube-controller-manager "$cm"
  write_kubeconfig "${STATE_DIR}/scheduler.kubeconfig" system:kube-scheduler "$sched"
}

# write_kubeconfig FILE USER TOKEN — self-contained (CA embedded).
write_kubeconfig() {
  local ca
  ca="$(base64 -w0 <"${STATE_DIR}/pki/ca.crt")"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: airflow-cdk8s
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: ${ca}
users:
- name: $2
  user:
    token: $3
contexts:
- name: airflow-cdk8s
  context:
    cluster: airflow-cdk8s
    user: $2
    namespace: default
current-context: airflow-cdk8s
EOF
  chmod 600 "$1"
}

print_usage_hint() {
  local k
  k="$(effective_kubeconfig)"
  echo "export KUBECONFIG=${k}"
  [[ -x "${BIN_DIR}/kubectl" ]] && echo "export PATH=${BIN_DIR}:\$PATH   # kubectl ${K8S_VERSION}"
  return 0
}

# ---------------------------------------------------------------------------
# start / stop / env / status
# ---------------------------------------------------------------------------
cmd_start() {
  # 1. An existing cluster from the environment wins: start nothing.
  if [[ -n "${KUBECONFIG:-}" && "${KUBECONFIG}" != "${KUBECONFIG_FILE}" ]]; then
    if cluster_reachable "$KUBECONFIG"; then
      log "KUBECONFIG=${KUBECONFIG} points to a reachable cluster: using it, starting nothing"
      mkdir -p "$STATE_DIR"; touch "${STATE_DIR}/.airflow-cdk8s-state"
      printf '%s\n' "$KUBECONFIG" >"$EXTERNAL_MARKER"
      print_usage_hint
      return 0
    fi
    log "KUBECONFIG=${KUBECONFIG} is not reachable: starting a local control plane instead"
  fi
  rm -f "$EXTERNAL_MARKER"

  # 2. Already running (a previous `start`)? Then it's a no-op.
  if component_pid kube-apiserver >/dev/null && cluster_reachable "$KUBECONFIG_FILE"; then
    local c all=1
    for c in "${COMPONENTS[@]}"; do component_pid "$c" >/dev/null || all=0; done
    if ((all)); then
      log "already running (state ${STATE_DIR})"
      print_usage_hint
      return 0
    fi
  fi

  # 3. Binaries, then a clean state dir (stale leftovers are stopped first).
  binaries_cached && [[ -z "$(missing_apt_packages)" ]] || cmd_install
  [[ -d "$STATE_DIR" ]] && cmd_stop
  local p
  for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$CM_PORT" "$SCHED_PORT"; do
    port_in_use "$p" && die "port 127.0.0.1:${p} is already in use (see AIRFLOW_CDK8S_*_PORT)"
  done
  rm -rf "${STATE_DIR}.failed-logs"
  mkdir -p "${STATE_DIR}"/{pids,logs,etcd}
  chmod 700 "${STATE_DIR}/etcd"
  touch "${STATE_DIR}/.airflow-cdk8s-state"   # lets `stop` rm -rf safely
  trap on_start_exit EXIT
  local t0=$SECONDS pki="${STATE_DIR}/pki"
  generate_pki

  # 4. etcd (Debian etcd-server), loopback only, non-default ports.
  CURRENT_COMPONENT=etcd
  launch etcd "$(command -v etcd)" \
    --name airflow-cdk8s \
    --data-dir "${STATE_DIR}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster "airflow-cdk8s=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster-state new
  wait_for "etcd /health" 30 etcd \
    curl -fsS "http://127.0.0.1:${ETCD_PORT}/health"

  # 5. kube-apiserver. Notes:
  #  - --insecure-port=0: 1.20 still opens 8080 otherwise.
  #  - --endpoint-reconciler-type=none: the `kubernetes` Endpoints may not
  #    hold a loopback IP, so the default reconciler would log an error every
  #    10 s; the `kubernetes` Service itself is still created.
  #  - --enable-admission-plugins adds to 1.20's defaults (listed for clarity).
  #  - --kubelet-preferred-address-types InternalIP first: logs/exec reach a real
  #    node's kubelet (scripts/runtime/real-node.sh) at its IP; its name resolves
  #    nowhere on this machine.
  CURRENT_COMPONENT=kube-apiserver
  launch kube-apiserver "${BIN_DIR}/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "${APISERVER_PORT}" \
    --insecure-port 0 \
    --cert-dir "${STATE_DIR}/apiserver" \
    --tls-cert-file "${pki}/apiserver.crt" \
    --tls-private-key-file "${pki}/apiserver.key" \
    --client-ca-file "${pki}/ca.crt" \
    --token-auth-file "${pki}/tokens.csv" \
    --authorization-mode Node,RBAC \
    --service-account-key-file "${pki}/sa.pub" \
    --service-account-signing-key-file "${pki}/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.0.0.0/24 \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,NodeRestriction,ResourceQuota,StorageObjectInUseProtection,Priority,TaintNodesByCondition,PersistentVolumeClaimResize,RuntimeClass,MutatingAdmissionWebhook,ValidatingAdmissionWebhook \
    --allow-privileged=true \
    --endpoint-reconciler-type none \
    --kubelet-preferred-address-types InternalIP,Hostname,InternalDNS,ExternalDNS,ExternalIP \
    --profiling=false \
    --v=1
  wait_for "kube-apiserver /readyz" 90 kube-apiserver \
    "${BIN_DIR}/kubectl" --kubeconfig "$KUBECONFIG_FILE" --request-timeout=5s get --raw /readyz

  # 6. kube-controller-manager: everything but nodelifecycle (no kubelet
  #    will ever heartbeat, so it would taint/evict test Nodes); the
  #    persistentvolume-binder is on (PVCs bind to PVs). --port=0 disables the
  #    deprecated insecure port (10252); --authentication-skip-lookup avoids
  #    log spam about the absent requestheader CA (no front proxy here).
  #    --pvclaimbinder-sync-period 1s (default 15s, minikube's too): the
  #    binder takes a claim whose volume it has not cached yet only at its
  #    next resync, and `kubectl apply` creates a volume and its claim a few
  #    ms apart, so 4 of the default chart's 5 claims waited 14 s and one
  #    29 s here (Postgres and the secrets bootstrap with them); on a real
  #    cluster that wait is the user's (docs/live-tests.md).
  CURRENT_COMPONENT=kube-controller-manager
  local cmk="${STATE_DIR}/controller-manager.kubeconfig"
  launch kube-controller-manager "${BIN_DIR}/kube-controller-manager" \
    --kubeconfig "$cmk" \
    --authentication-kubeconfig "$cmk" \
    --authorization-kubeconfig "$cmk" \
    --authentication-skip-lookup=true \
    --bind-address 127.0.0.1 \
    --secure-port "${CM_PORT}" \
    --port 0 \
    --cert-dir "${STATE_DIR}/controller-manager" \
    --leader-elect=false \
    --pvclaimbinder-sync-period 1s \
    --use-service-account-credentials=true \
    --controllers '*,-nodelifecycle' \
    --service-account-private-key-file "${pki}/sa.key" \
    --root-ca-file "${pki}/ca.crt" \
    --cluster-signing-cert-file "${pki}/ca.crt" \
    --cluster-signing-key-file "${pki}/ca.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --v=1

  # 7. kube-scheduler (--port=0: no insecure 10251)
  CURRENT_COMPONENT=kube-scheduler
  local sk="${STATE_DIR}/scheduler.kubeconfig"
  launch kube-scheduler "${BIN_DIR}/kube-scheduler" \
    --kubeconfig "$sk" \
    --authentication-kubeconfig "$sk" \
    --authorization-kubeconfig "$sk" \
    --authentication-skip-lookup=true \
    --bind-address 127.0.0.1 \
    --secure-port "${SCHED_PORT}" \
    --port 0 \
    --cert-dir "${STATE_DIR}/scheduler" \
    --leader-elect=false \
    --v=1

  # 8. Ready for tests: namespace default, its service account, and the SA's
  #    token secret (1.20's ServiceAccount admission rejects pods until the
  #    token controller has created it).
  wait_for "namespace default" 60 kube-apiserver \
    "${BIN_DIR}/kubectl" --kubeconfig "$KUBECONFIG_FILE" get namespace default
  wait_for "serviceaccount default/default with token secret" 60 kube-controller-manager \
    sa_token_ready
  wait_for "kube-controller-manager /healthz" 30 kube-controller-manager \
    curl -fsk "https://127.0.0.1:${CM_PORT}/healthz"
  wait_for "kube-scheduler /healthz" 30 kube-scheduler \
    curl -fsk "https://127.0.0.1:${SCHED_PORT}/healthz"
  trap - EXIT
  CURRENT_COMPONENT=""
  log "control plane up in $((SECONDS - t0)) s: https://127.0.0.1:${APISERVER_PORT} (state ${STATE_DIR})"
  print_usage_hint
}

sa_token_ready() {
  local s
  s="$("${BIN_DIR}/kubectl" --kubeconfig "$KUBECONFIG_FILE" -n default get serviceaccount default \
        -o jsonpath='{.secrets[0].name}' 2>/dev/null)" && [[ -n "$s" ]]
}

cmd_stop() {
  [[ -d "$STATE_DIR" ]] || { log "nothing to stop (${STATE_DIR} absent)"; return 0; }
  local c pid pids=() i
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c="${COMPONENTS[$i]}"
    if pid="$(component_pid "$c")"; then
      log "stopping ${c} (pid ${pid})"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  # Wait up to 20 s for a clean exit, then SIGKILL the stragglers.
  local deadline=$((SECONDS + 20)) alive
  while :; do
    alive=()
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    ((${#alive[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      log "killing -9: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  # Only remove a directory that we created (marker file), never e.g. "/".
  if [[ -f "${STATE_DIR}/.airflow-cdk8s-state" ]]; then
    rm -rf "$STATE_DIR"
  else
    log "not removing ${STATE_DIR}: no .airflow-cdk8s-state marker"
  fi
  log "stopped"
}

cmd_env() { effective_kubeconfig; }

cmd_status() {
  local k
  k="$(effective_kubeconfig)"
  if cluster_reachable "$k"; then log "reachable (KUBECONFIG=${k})"; return 0; fi
  log "not reachable (KUBECONFIG=${k})"; return 1
}

# ---------------------------------------------------------------------------
# add-node NAME [CPU] [MEMORY]: a fake, schedulable minikube-like Node
# ---------------------------------------------------------------------------
cmd_add_node() {
  local name="${1:?usage: add-node NAME [CPU] [MEMORY]}" cpu="${2:-2}" mem="${3:-4Gi}"
  local arch now
  arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: ${name}
  labels:
    kubernetes.io/hostname: ${name}
    kubernetes.io/os: linux
    kubernetes.io/arch: ${arch}
    beta.kubernetes.io/os: linux
    beta.kubernetes.io/arch: ${arch}
    node-role.kubernetes.io/control-plane: ""
    node-role.kubernetes.io/master: ""
    minikube.k8s.io/name: ${name}
    minikube.k8s.io/primary: "true"
spec: {}
EOF
  # TaintNodesByCondition admission puts node.kubernetes.io/not-ready on a
  # new Node; no kubelet/nodelifecycle controller will ever lift it.
  kc patch node "$name" --type merge -p '{"spec":{"taints":null}}' >/dev/null
  # Status lives in the status subresource, which kubectl 1.20 cannot target
  # (no --subresource): go through `kubectl proxy` (works with any auth).
  # Addresses are loopback so nothing ever dials a real network for "kubelet".
  local status
  status=$(cat <<EOF
{"status":{
  "capacity":   {"cpu":"${cpu}","memory":"${mem}","pods":"110","ephemeral-storage":"17784752Ki","hugepages-2Mi":"0"},
  "allocatable":{"cpu":"${cpu}","memory":"${mem}","pods":"110","ephemeral-storage":"17784752Ki","hugepages-2Mi":"0"},
  "conditions":[
    {"type":"MemoryPressure","status":"False","reason":"KubeletHasSufficientMemory","message":"kubelet has sufficient memory available","lastHeartbeatTime":"${now}","lastTransitionTime":"${now}"},
    {"type":"DiskPressure","status":"False","reason":"KubeletHasNoDiskPressure","message":"kubelet has no disk pressure","lastHeartbeatTime":"${now}","lastTransitionTime":"${now}"},
    {"type":"PIDPressure","status":"False","reason":"KubeletHasSufficientPID","message":"kubelet has sufficient PID available","lastHeartbeatTime":"${now}","lastTransitionTime":"${now}"},
    {"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"${now}","lastTransitionTime":"${now}"}],
  "addresses":[{"type":"InternalIP","address":"127.0.0.1"},{"type":"Hostname","address":"${name}"}],
  "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
  "nodeInfo":{"machineID":"airflow-cdk8s","systemUUID":"airflow-cdk8s","bootID":"airflow-cdk8s",
    "kernelVersion":"$(uname -r)","osImage":"Ubuntu 20.04.1 LTS","containerRuntimeVersion":"docker://20.10.2",
    "kubeletVersion":"v${K8S_VERSION}","kubeProxyVersion":"v${K8S_VERSION}","operatingSystem":"linux","architecture":"${arch}"}
}}
EOF
)
  local plog port ppid
  plog="$(mktemp)"
  KUBECONFIG="$(effective_kubeconfig)" "$(kubectl_bin)" proxy --address=127.0.0.1 --port=0 >"$plog" 2>&1 &
  ppid=$!
  local deadline=$((SECONDS + 15))
  until port="$(sed -n 's/^Starting to serve on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$plog")" && [[ -n "$port" ]]; do
    if ! kill -0 "$ppid" 2>/dev/null || ((SECONDS >= deadline)); then
      kill "$ppid" 2>/dev/null || true; cat "$plog" >&2; rm -f "$plog"
      die "kubectl proxy did not start"
    fi
    sleep 0.2
  done
  local rc=0
  curl -fsS -X PATCH -H 'Content-Type: application/merge-patch+json' \
    --data "$status" "http://127.0.0.1:${port}/api/v1/nodes/${name}/status" >/dev/null || rc=$?
  kill "$ppid" 2>/dev/null || true
  wait "$ppid" 2>/dev/null || true
  rm -f "$plog"
  ((rc == 0)) || die "PATCH /api/v1/nodes/${name}/status failed (curl exit ${rc})"
  log "node ${name} ready (cpu=${cpu}, memory=${mem}, pods=110)"
}

# ---------------------------------------------------------------------------
# selftest: the checks the tests rely on, against the running cluster
# ---------------------------------------------------------------------------
cmd_selftest() {
  local ns="airflow-cdk8s-selftest-$$" i phase node
  kc get ns >&2
  kc create namespace "$ns" >/dev/null
  # PV + PVC pinned by volumeName -> Bound (persistentvolume-binder)
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${ns}-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  hostPath: {path: /tmp/${ns}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: ${ns}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: ${ns}-pv
  resources: {requests: {storage: 1Gi}}
EOF
  for i in $(seq 60); do
    phase="$(kc -n "$ns" get pvc data -o jsonpath='{.status.phase}')"
    [[ "$phase" == Bound ]] && break; sleep 0.5
  done
  [[ "$phase" == Bound ]] || die "selftest: PVC not Bound (phase '${phase}')"
  log "selftest ok: PVC Bound"
  # RBAC is enforced
  if kc auth can-i --as="system:serviceaccount:${ns}:default" create pods -n "$ns" >/dev/null 2>&1; then
    die "selftest: service account may create pods (RBAC not enforced?)"
  fi
  log "selftest ok: RBAC denies the default service account"
  # scheduler binds a pod to a fake node
  cmd_add_node "${ns}-node" 2 4Gi
  kc -n "$ns" run sleeper --image=busybox --restart=Never \
    --requests=cpu=100m,memory=64Mi -- sleep 3600 >/dev/null
  for i in $(seq 60); do
    node="$(kc -n "$ns" get pod sleeper -o jsonpath='{.spec.nodeName}')"
    [[ -n "$node" ]] && break; sleep 0.5
  done
  [[ "$node" == "${ns}-node" ]] || die "selftest: pod not scheduled (nodeName '${node}')"
  log "selftest ok: pod scheduled to ${node}"
  kc delete namespace "$ns" --wait=false >/dev/null
  kc delete node "${ns}-node" >/dev/null
  kc delete pv "${ns}-pv" --wait=false >/dev/null
  log "selftest passed"
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    install-node) cmd_install_node "$@" ;;
    start) lock_state; cmd_start "$@" ;;
    stop) lock_state; cmd_stop "$@" ;;
    env) cmd_env ;;
    status) cmd_status ;;
    add-node) cmd_add_node "$@" ;;
    selftest) cmd_selftest ;;
    kubectl) kc "$@" ;;
    mirrors) derive_debian_mirrors ;;   # debug: mirrors the private apt uses
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
}

main "$@"
