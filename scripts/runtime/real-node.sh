#!/usr/bin/env bash
# real-node.sh — a real Kubernetes node for the local control plane (issue #27): the real kubelet 1.20.2 and
# kube-proxy 1.20.2 (built from the same Debian source as the control plane, scripts/local-control-plane.sh
# install-node), Debian's containerd through CRI, runc, the bridge CNI plugin (containernetworking-plugins),
# kube-proxy in iptables mode, and cluster DNS answered by dnsmasq from the Services (Debian packages no CoreDNS).
# The images the pods pull come from Debian's docker-registry on the node's loopback (scripts/runtime/build-images.sh).
#
# USAGE (as root; the control plane of $AIRFLOW_CDK8S_STATE must be running: scripts/local-control-plane.sh start)
#   scripts/runtime/real-node.sh start    install what is missing, start the node, wait until it is Ready
#   scripts/runtime/real-node.sh install  install what is missing (the Debian packages, kubelet and kube-proxy), start
#                                         nothing; no control plane needed (.ci/run runs it in the background, early)
#   scripts/runtime/real-node.sh stop     stop every process it started (by pid file), remove the pods' containers,
#                                         mounts, cgroups and the node's network namespace (its bridge, veth and
#                                         iptables rules go with it), delete the Node object; safe when nothing runs
#   scripts/runtime/real-node.sh status   exit 0 when the node is Ready
#   scripts/runtime/real-node.sh exec CMD run CMD in the node's network namespace (e.g. curl the registry)
#
# THE NODE IS ITS OWN NETWORK NAMESPACE. Everything that touches the network (containerd and the pods' bridge,
# the kubelet, kube-proxy's iptables rules, dnsmasq, the registry) runs in the network namespace $NETNS, joined
# to the machine by one veth pair (machine side $HOST_IP, node side $NODE_IP, the node's InternalIP). Nothing is
# added to the machine's own iptables, routes or bridges, so the emulated runtime stage (10.244.0.0/24, bridge
# acdk8s0, its own route of the Service CIDR) and other control planes on this machine are untouched; stop
# deletes the namespace and with it every rule kube-proxy, the kubelet and the CNI plugins made. The processes
# share the machine's mount namespace (nsenter --net only): the kubelet's volume mounts must be seen by runc.
#   - kubelet -> API server: https://$HOST_IP:$APISERVER_PORT, a socat on the machine side forwarding to the API
#     server's 127.0.0.1 (tls-server-name localhost: the serving certificate names localhost and 127.0.0.1).
#   - pods -> API server: the Service `kubernetes` (10.0.0.1:443); the control plane runs with
#     --endpoint-reconciler-type none, so this script writes its Endpoints: $HOST_IP:$APISERVER_PORT.
#   - API server -> kubelet (logs, exec, port-forward): $NODE_IP:$KUBELET_PORT over the veth.
#   - cluster DNS: the Service kube-system/kube-dns 10.0.0.10 (the kubelet's --cluster-dns), its Endpoints
#     $NODE_IP:53 where dnsmasq answers cluster.local from a hosts file that a loop rewrites from the Services and
#     Endpoints every second (A records of Services, of headless Services' ready addresses, and of StatefulSet pods
#     by hostname.subdomain). Names outside cluster.local get no answer from upstream: the machine has no network.
#
# RESOURCES: allocatable 2 CPU / 4Gi like minikube's default node: capacity is the machine (2 CPUs, its
# MemTotal), --system-reserved takes the memory above 4Gi + the eviction threshold, and --enforce-node-allocatable
# pods sets the pods' cgroup (${CGROUP_ROOT}/kubepods) memory limit to it, so a pod over its limit is OOM-killed.
# CPU: the node's cgroup root weighs what kubepods weighs (cpu.shares = allocatable millicores * 1024 / 1000, 2048),
# as kubepods does on a node whose cgroup root is the machine's: see step 5.
#
# ENVIRONMENT (besides local-control-plane.sh's AIRFLOW_CDK8S_STATE / _CACHE / _APISERVER_PORT)
#   AIRFLOW_CDK8S_NODE_STATE      the node's state: containerd root, kubelet root, logs, pids [${AIRFLOW_CDK8S_STATE}-node]
#   AIRFLOW_CDK8S_NODE_NAME       the Node's name                                           [airflow-cdk8s-real-node]
#   AIRFLOW_CDK8S_NODE_NETNS      the network namespace                                     [acdk8s-realnode]
#   AIRFLOW_CDK8S_NODE_POD_CIDR   the pods' network (host-local IPAM)                       [10.246.0.0/24]
#   AIRFLOW_CDK8S_NODE_LINK       the veth's /30: machine .1, node .2                       [10.246.1.0]
#   AIRFLOW_CDK8S_NODE_BRIDGE     the pods' bridge (in the namespace)                        [acdk8sr0]
#   AIRFLOW_CDK8S_KUBELET_PORT    the kubelet's port on the node IP                          [21250]
#   AIRFLOW_CDK8S_REGISTRY_PORT   the image registry, on the node's 127.0.0.1               [21500]
#   AIRFLOW_CDK8S_NODE_CPU / _MEMORY  allocatable                                          [2 / 4Gi]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CP="$REPO/scripts/local-control-plane.sh"
CACHE_ROOT="${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}"
BIN_DIR="${CACHE_ROOT}/k8s-1.20.2/bin"
CP_STATE="${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s}"
STATE="${AIRFLOW_CDK8S_NODE_STATE:-${CP_STATE}-node}"
NODE="${AIRFLOW_CDK8S_NODE_NAME:-airflow-cdk8s-real-node}"
NETNS="${AIRFLOW_CDK8S_NODE_NETNS:-acdk8s-realnode}"
POD_CIDR="${AIRFLOW_CDK8S_NODE_POD_CIDR:-10.246.0.0/24}"
LINK="${AIRFLOW_CDK8S_NODE_LINK:-10.246.1.0}"
BRIDGE="${AIRFLOW_CDK8S_NODE_BRIDGE:-acdk8sr0}"
APISERVER_PORT="${AIRFLOW_CDK8S_APISERVER_PORT:-16443}"
KUBELET_PORT="${AIRFLOW_CDK8S_KUBELET_PORT:-21250}"
REGISTRY_PORT="${AIRFLOW_CDK8S_REGISTRY_PORT:-21500}"
NODE_CPU="${AIRFLOW_CDK8S_NODE_CPU:-2}"
NODE_MEMORY="${AIRFLOW_CDK8S_NODE_MEMORY:-4Gi}"
REGISTRY_DIR="${CACHE_ROOT}/images/registry"
HOST_IP="${LINK%.*}.$((${LINK##*.} + 1))"
NODE_IP="${LINK%.*}.$((${LINK##*.} + 2))"
VETH_HOST="${NETNS:0:10}-h"   # interface names: at most 15 characters
CGROUP_ROOT="/${NETNS}"
DNS_IP=10.0.0.10               # in the control plane's Service CIDR 10.0.0.0/24
SANDBOX_IMAGE=registry.k8s.io/pause:3.6
# Ports only the node's own loopback sees (its own network namespace: they clash with nothing on the machine).
KUBELET_HEALTHZ_PORT=21248
PROXY_HEALTHZ_PORT=21256
PROXY_METRICS_PORT=21249
# Started in this order, stopped in reverse.
COMPONENTS=(apiserver-link registry containerd kubelet kube-proxy dnsmasq dns-sync)
APT_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack dnsmasq-base socat docker-registry openssl curl)

log() { printf '[real-node] %s\n' "$*" >&2; }
# shellcheck source=scripts/apt-host.sh
source "$REPO/scripts/apt-host.sh"
die() { log "ERROR: $*"; exit 1; }
kc() { "${BIN_DIR}/kubectl" --kubeconfig "${CP_STATE}/kubeconfig" "$@"; }
in_ns() { nsenter --net="/var/run/netns/${NETNS}" -- "$@"; }

pid_of() {
  local f="${STATE}/pids/$1.pid" pid
  [[ -r "$f" ]] || return 1
  pid="$(<"$f")"
  [[ "$pid" =~ ^[0-9]+$ && -d "/proc/$pid" ]] || return 1
  echo "$pid"
}

# launch NAME CMD...: a daemon in the node's network namespace, in its own session, logging to logs/NAME.log
launch() {
  local name="$1"; shift
  setsid nsenter --net="/var/run/netns/${NETNS}" -- "$@" </dev/null >>"${STATE}/logs/${name}.log" 2>&1 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"${STATE}/pids/${name}.pid"
  log "started ${name} (pid $!, log ${STATE}/logs/${name}.log)"
}
# launch_host NAME CMD...: the same on the machine's network
launch_host() {
  local name="$1"; shift
  setsid "$@" </dev/null >>"${STATE}/logs/${name}.log" 2>&1 5>&- 6>&- 7>&- 8>&- 9>&- &
  echo $! >"${STATE}/pids/${name}.pid"
  log "started ${name} (pid $!, log ${STATE}/logs/${name}.log)"
}

wait_for() {  # wait_for WHAT SECONDS CMD...
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${secs} s waiting for ${what} (logs: ${STATE}/logs)"
    sleep 0.5
  done
}

install() {
  # No package may start its daemon (containerd, docker-registry): this script runs its own. The machine's apt goes
  # through one machine-wide lock (scripts/apt-host.sh): .ci/run installs this while other caches build.
  RUNLEVEL=1 apt_host_install "${APT_PACKAGES[@]}" || die "installing Debian packages failed"
  bash "$CP" install-node 5>&- 6>&-
}

# ---------------------------------------------------------------------------------------------------------------
# certificates and kubeconfigs: client certificates signed by the control plane's CA
# ---------------------------------------------------------------------------------------------------------------
client_kubeconfig() {  # client_kubeconfig NAME CN ORG
  local d="${STATE}/pki" subj="/CN=$2"
  [[ -n "$3" ]] && subj="/O=$3/CN=$2"
  openssl req -new -nodes -newkey rsa:2048 -sha256 -subj "$subj" -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$d/$1.ext"
  openssl x509 -req -sha256 -days 30 -in "$d/$1.csr" -CA "${CP_STATE}/pki/ca.crt" -CAkey "${CP_STATE}/pki/ca.key" \
    -CAcreateserial -CAserial "$d/ca.srl" -extfile "$d/$1.ext" -out "$d/$1.crt" 2>/dev/null
  chmod 600 "$d/$1.key"
  cat >"${STATE}/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: airflow-cdk8s
  cluster:
    server: https://${HOST_IP}:${APISERVER_PORT}
    certificate-authority: ${CP_STATE}/pki/ca.crt
    tls-server-name: localhost
users:
- name: $2
  user:
    client-certificate: $d/$1.crt
    client-key: $d/$1.key
contexts:
- name: airflow-cdk8s
  context: {cluster: airflow-cdk8s, user: "$2"}
current-context: airflow-cdk8s
EOF
  chmod 600 "${STATE}/$1.kubeconfig"
}

# ---------------------------------------------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------------------------------------------
cmd_start() {
  [[ $(id -u) -eq 0 ]] || die "the real node needs root (network namespace, containerd, kubelet)"
  [[ -r "${CP_STATE}/kubeconfig" && -r "${CP_STATE}/pki/ca.key" ]] \
    || die "no local control plane in ${CP_STATE} (run scripts/local-control-plane.sh start first)"
  kc --request-timeout=5s get --raw /readyz >/dev/null || die "the control plane of ${CP_STATE} does not answer"
  local t0=$SECONDS
  install
  local t_install=$((SECONDS - t0))
  cmd_stop_quiet
  mkdir -p "${STATE}"/{pids,logs,pki,cni/net.d,cni/ipam,containerd/root,containerd/state,kubelet,kubelet-pki,volume-plugins}
  touch "${STATE}/.airflow-cdk8s-node-state"
  chmod 700 "${STATE}/pki"
  # What /var/log/pods held before this node: stop removes everything else (the pods of a namespace deleted just
  # before stop are gone from the kubelet's root-dir while their logs are still there).
  ls -A /var/log/pods 2>/dev/null >"${STATE}/var-log-pods.before" || true
  trap 'rc=$?; if ((rc)); then log "start failed: stopping what started"; tail_logs; cmd_stop_quiet; fi' EXIT

  # 1. The node's network namespace and its link to the machine.
  ip netns add "$NETNS"
  ip link add "$VETH_HOST" type veth peer name eth0 netns "$NETNS"
  ip addr add "${HOST_IP}/30" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  in_ns ip link set lo up
  in_ns ip addr add "${NODE_IP}/30" dev eth0
  in_ns ip link set eth0 up
  in_ns ip route add default via "$HOST_IP"
  # Namespace-local sysctls: the pods' traffic is routed, and bridged traffic passes iptables (kube-proxy's DNAT
  # must see a pod's reply to a pod on the same bridge).
  in_ns sysctl -qw net.ipv4.ip_forward=1
  in_ns sysctl -qw net.bridge.bridge-nf-call-iptables=1 || log "net.bridge.bridge-nf-call-iptables not settable in the namespace"
  in_ns sysctl -qw net.ipv4.conf.all.route_localnet=1

  # 2. The API server, reachable from the node (kubelet, kube-proxy) and the pods (Service `kubernetes`).
  launch_host apiserver-link socat "TCP-LISTEN:${APISERVER_PORT},bind=${HOST_IP},fork,reuseaddr" "TCP:127.0.0.1:${APISERVER_PORT}"
  client_kubeconfig kubelet "system:node:${NODE}" system:nodes
  client_kubeconfig kube-proxy system:kube-proxy ""
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Endpoints
metadata: {name: kubernetes, namespace: default}
subsets:
- addresses: [{ip: ${HOST_IP}}]
  ports: [{name: https, port: ${APISERVER_PORT}, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns, "kubernetes.io/name": dnsmasq}}
spec:
  clusterIP: ${DNS_IP}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: v1
kind: Endpoints
metadata: {name: kube-dns, namespace: kube-system}
subsets:
- addresses: [{ip: ${NODE_IP}}]
  ports: [{name: dns, port: 53, protocol: UDP}, {name: dns-tcp, port: 53, protocol: TCP}]
EOF

  # 3. The image registry on the node's loopback (its storage is the cache: images survive the node).
  mkdir -p "$REGISTRY_DIR"
  cat >"${STATE}/registry.yml" <<EOF
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: ${REGISTRY_DIR}}
  delete: {enabled: true}
http: {addr: "127.0.0.1:${REGISTRY_PORT}"}
EOF
  launch registry docker-registry serve "${STATE}/registry.yml"

  # 4. containerd with its own root, state and socket; the CRI plugin runs pods with runc and the bridge plugin,
  #    and pulls docker.io and registry.k8s.io from the loopback registry.
  local RESTRICT_OOM=false
  grep -q '^CapEff:' /proc/self/status && (( (0x$(awk '/^CapEff:/ {print $2}' /proc/self/status) >> 24) & 1 )) || RESTRICT_OOM=true
  cat >"${STATE}/containerd.toml" <<EOF
version = 2
root = "${STATE}/containerd/root"
state = "${STATE}/containerd/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "${STATE}/containerd.sock"
[ttrpc]
  address = "${STATE}/containerd.ttrpc.sock"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # This machine's root lacks CAP_SYS_RESOURCE: no process may lower its oom_score_adj (the kubelet asks -998 for
  # a pod's sandbox, runc fails "failed to update /proc/self/oom_score_adj: Permission denied"). Clamp to ours.
  restrict_oom_score_adj = ${RESTRICT_OOM}
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${AIRFLOW_CDK8S_NODE_RUNC:-$(command -v runc)}"
        SystemdCgroup = false
        Root = "${STATE}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${STATE}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:${REGISTRY_PORT}"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = ["http://127.0.0.1:${REGISTRY_PORT}"]
EOF
  cat >"${STATE}/cni/net.d/10-airflow-cdk8s.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "airflow-cdk8s-real-node",
  "plugins": [
    {"type": "bridge", "bridge": "${BRIDGE}", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "${STATE}/cni/ipam", "ranges": [[{"subnet": "${POD_CIDR}"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  launch containerd containerd --config "${STATE}/containerd.toml"
  wait_for "containerd's socket" 30 ctr --address "${STATE}/containerd.sock" version

  # 5. The kubelet: the node's own cgroup root, allocatable = capacity - system-reserved - eviction threshold.
  local cg
  for cg in /sys/fs/cgroup/*/; do
    [[ "$cg" == */unified/ ]] && continue
    mkdir -p "${cg}${CGROUP_ROOT#/}"
    if [[ -f "${cg}cpuset.cpus" ]]; then
      cat "${cg}cpuset.cpus" >"${cg}${CGROUP_ROOT#/}/cpuset.cpus"
      cat "${cg}cpuset.mems" >"${cg}${CGROUP_ROOT#/}/cpuset.mems"
    fi
  done
  # The node's pods compete for the CPU with the machine's processes through this cgroup. On a node whose cgroup root
  # is the machine's, the kubelet's kubepods sits at the top with cpu.shares = allocatable CPU in millicores * 1024 /
  # 1000 (the kubelet sets it below us, on ${CGROUP_ROOT}/kubepods); left at the default 1024, the whole node weighed
  # half that, one nice-0 process: in a CI rehearsal of b1b30d4 the pods got less than half the CPUs while the
  # harness and the stages beside it took the rest, and the api-server's stall as a task pod started (the execution
  # API's first-request initialisation, which the startup probe pays now) lasted the longer (docs/runtime-tests.md,
  # "The real node's share of the CPU").
  echo $(($(numfmt --from=si "${NODE_CPU}") * 1024)) >"/sys/fs/cgroup/cpu/${CGROUP_ROOT#/}/cpu.shares"
  local mem_kib cpus reserve_kib alloc_kib evict_mi=100 reserve_cpu_m
  mem_kib="$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
  cpus="$(nproc --all)"
  alloc_kib="$(numfmt --from=iec-i "$NODE_MEMORY" --to-unit=1024)"
  reserve_kib=$((mem_kib - alloc_kib - evict_mi * 1024))
  ((reserve_kib >= 0)) || die "the machine has ${mem_kib} KiB: cannot leave ${NODE_MEMORY} allocatable"
  reserve_cpu_m=$((cpus * 1000 - $(numfmt --from=si "${NODE_CPU}") * 1000))
  ((reserve_cpu_m >= 0)) || die "the machine has ${cpus} CPUs: cannot leave ${NODE_CPU} allocatable"
  printf 'nameserver %s\n' "$NODE_IP" >"${STATE}/resolv.conf"
  launch kubelet "${BIN_DIR}/kubelet" \
    --kubeconfig "${STATE}/kubelet.kubeconfig" \
    --hostname-override "$NODE" \
    --node-ip "$NODE_IP" \
    --address "$NODE_IP" --port "$KUBELET_PORT" --read-only-port 0 \
    --healthz-bind-address 127.0.0.1 --healthz-port "$KUBELET_HEALTHZ_PORT" \
    --container-runtime remote \
    --container-runtime-endpoint "unix://${STATE}/containerd.sock" \
    --runtime-request-timeout 10m \
    --root-dir "${STATE}/kubelet" \
    --cert-dir "${STATE}/kubelet-pki" \
    --volume-plugin-dir "${STATE}/volume-plugins" \
    --cgroup-driver cgroupfs \
    --cgroup-root "$CGROUP_ROOT" \
    --cgroups-per-qos=true \
    --enforce-node-allocatable pods \
    --system-reserved "cpu=${reserve_cpu_m}m,memory=${reserve_kib}Ki" \
    --eviction-hard "memory.available<${evict_mi}Mi,nodefs.available<1%,nodefs.inodesFree<1%,imagefs.available<1%" \
    --max-pods 110 \
    --fail-swap-on=false \
    --cluster-dns "$DNS_IP" --cluster-domain cluster.local \
    --resolv-conf "${STATE}/resolv.conf" \
    --anonymous-auth=true --authorization-mode AlwaysAllow \
    --logtostderr --v=1

  # 6. kube-proxy, iptables mode. conntrack sysctls are left alone (they are the machine's, not the namespace's).
  launch kube-proxy "${BIN_DIR}/kube-proxy" \
    --kubeconfig "${STATE}/kube-proxy.kubeconfig" \
    --hostname-override "$NODE" \
    --proxy-mode iptables \
    --cluster-cidr "$POD_CIDR" \
    --bind-address "$NODE_IP" \
    --nodeport-addresses "${NODE_IP}/32" \
    --healthz-bind-address "127.0.0.1:${PROXY_HEALTHZ_PORT}" \
    --metrics-bind-address "127.0.0.1:${PROXY_METRICS_PORT}" \
    --conntrack-max-per-core 0 \
    --conntrack-tcp-timeout-established 0 --conntrack-tcp-timeout-close-wait 0 \
    --v=1

  # 7. Cluster DNS: dnsmasq answers cluster.local from hosts.cluster (rewritten by dns-sync, re-read on SIGHUP).
  : >"${STATE}/hosts.cluster"
  launch dnsmasq dnsmasq --keep-in-foreground --log-facility=- --user=root \
    --no-resolv --no-hosts --no-poll --bind-interfaces --listen-address="$NODE_IP" --port=53 \
    --local=/cluster.local/ --domain-needed --addn-hosts="${STATE}/hosts.cluster" --cache-size=0 \
    --pid-file="${STATE}/pids/dnsmasq.inner.pid"
  launch_host dns-sync bash "$0" dns-sync

  # 8. Ready: the Node registered and Ready; lift the not-ready taint (1.20's TaintNodesByCondition admission puts
  #    it on a new Node and the control plane runs without the node-lifecycle controller that would lift it).
  wait_for "the kubelet to register Node ${NODE}" 120 kc get node "$NODE"
  wait_for "Node ${NODE} Ready" 120 node_ready
  kc patch node "$NODE" --type merge -p '{"spec":{"taints":null}}' >/dev/null
  wait_for "kube-proxy /healthz" 60 in_ns curl -fsS "http://127.0.0.1:${PROXY_HEALTHZ_PORT}/healthz"
  wait_for "the registry" 30 in_ns curl -fsS "http://127.0.0.1:${REGISTRY_PORT}/v2/"
  trap - EXIT
  local alloc
  alloc="$(kc get node "$NODE" -o jsonpath='{.status.allocatable.cpu} CPU, {.status.allocatable.memory}')"
  log "node ${NODE} Ready in $((SECONDS - t0)) s (install ${t_install} s): allocatable ${alloc}; IP ${NODE_IP}, pods ${POD_CIDR}"
}

node_ready() {
  [[ "$(kc get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

tail_logs() {
  local f
  for f in "${STATE}"/logs/*.log; do
    [[ -f "$f" ]] || continue
    log "--- $(basename "$f")"; tail -n 15 "$f" >&2
  done
}

# dns-sync: rewrite hosts.cluster from the Services and Endpoints every second; SIGHUP dnsmasq when it changed.
# One Python process on one kept-alive HTTPS connection to the API server (the admin token of the control plane's
# kubeconfig). It was a bash loop starting kubectl and python3 every second: 0.19 of the 2 CPUs all through the real
# node's stage (a 15 s sample of a two-file CI rehearsal, 2026-12-06), more than any Airflow process but two.
cmd_dns_sync() {
  exec /usr/bin/python3 - "${CP_STATE}/kubeconfig" "${STATE}/hosts.cluster" "${STATE}/pids/dnsmasq.inner.pid" "$STATE" <<'EOF'
import base64, http.client, json, os, re, signal, ssl, sys, time
kubeconfig, out, dnsmasq_pid, state = sys.argv[1:5]
text = open(kubeconfig).read()
server = re.search(r"^\s*server: https://([^\s]+)$", text, re.M).group(1)
token = re.search(r"^\s*token: (\S+)$", text, re.M).group(1)
ca = base64.b64decode(re.search(r"^\s*certificate-authority-data: (\S+)$", text, re.M).group(1)).decode()
host, port = server.rsplit(":", 1)
context = ssl.create_default_context(cadata=ca)
conn = None


def get(path):
    global conn
    for attempt in (1, 2):  # a kept-alive connection the server closed is opened again once
        try:
            if conn is None:
                conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=10)
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
            r = conn.getresponse()
            body = r.read()
            if r.status != 200:
                raise OSError(f"GET {path}: {r.status}")
            return json.loads(body)["items"]
        except (OSError, http.client.HTTPException):
            conn.close() if conn else None
            conn = None
            if attempt == 2:
                raise


def hosts():
    svcs = {(i["metadata"]["namespace"], i["metadata"]["name"]): i for i in get("/api/v1/services")}
    lines = []
    for (ns, name), s in sorted(svcs.items()):
        ip = s["spec"].get("clusterIP")
        if ip and ip != "None":
            lines.append(f"{ip} {name}.{ns}.svc.cluster.local")
    for e in get("/api/v1/endpoints"):
        key = (e["metadata"]["namespace"], e["metadata"]["name"])
        s = svcs.get(key)
        if not s:
            continue
        fq = f"{key[1]}.{key[0]}.svc.cluster.local"
        headless = s["spec"].get("clusterIP") == "None"
        for sub in e.get("subsets") or []:
            for a in sub.get("addresses") or []:
                ip, host_name = a.get("ip"), a.get("hostname")
                if headless:
                    lines.append(f"{ip} {fq}")
                if host_name:
                    lines.append(f"{ip} {host_name}.{fq}")
    return "\n".join(sorted(set(lines))) + "\n"


last = None
while os.path.isdir(state):
    try:
        text = hosts()
    except Exception as e:  # the API server not there (yet, or any more): try again
        print(f"dns-sync: {e}", file=sys.stderr, flush=True)
        text = None
    if text is not None and text != last:
        with open(out + ".new", "w") as f:
            f.write(text)
        os.replace(out + ".new", out)
        last = text
        try:
            os.kill(int(open(dnsmasq_pid).read().strip()), signal.SIGHUP)
        except (OSError, ValueError):
            pass
    time.sleep(1)
EOF
}

# ---------------------------------------------------------------------------------------------------------------
# stop
# ---------------------------------------------------------------------------------------------------------------
kill_wait() {  # kill_wait PID...: TERM, up to 20 s, then KILL
  local pids=("$@") alive p deadline=$((SECONDS + 20))
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while :; do
    alive=()
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    ((${#alive[@]})) || return 0
    if ((SECONDS >= deadline)); then kill -KILL "${alive[@]}" 2>/dev/null || true; sleep 0.5; return 0; fi
    sleep 0.2
  done
}

cmd_stop_quiet() {
  local i c pid
  if [[ -d "$STATE" && ! -f "${STATE}/.airflow-cdk8s-node-state" && -n "$(ls -A "$STATE")" ]]; then
    die "${STATE} exists but is not a node state directory (no .airflow-cdk8s-node-state): not touching it"
  fi
  local t0=$SECONDS
  # The node's agents first (kubelet would restart what we stop), then the containers, then containerd.
  for c in dns-sync dnsmasq kube-proxy kubelet; do
    pid="$(pid_of "$c")" && kill_wait "$pid"
  done
  if pid="$(pid_of containerd)"; then
    # Every container's task: killed through containerd (its shims exit with them).
    local ctr=(ctr --address "${STATE}/containerd.sock" -n k8s.io) t
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    sleep 1
    for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do "${ctr[@]}" tasks delete -f "$t" >/dev/null 2>&1 || true; done
    kill_wait "$pid"
  fi
  log "agents and containerd stopped ($((SECONDS - t0)) s)"
  # Shims of our containerd that outlived it (their command line names our state directory).
  local shims=() p
  for p in /proc/[0-9]*; do
    { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "containerd-shim.*${STATE}/" && shims+=("${p#/proc/}")
  done
  ((${#shims[@]})) && { log "killing leftover shims ${shims[*]}"; kill -KILL "${shims[@]}" 2>/dev/null || true; sleep 0.5; }
  for c in registry apiserver-link; do
    pid="$(pid_of "$c")" && kill_wait "$pid"
  done
  # The pods' logs: the kubelet 1.20 writes them to the machine's /var/log/pods/<ns>_<pod>_<uid> (with symlinks in
  # /var/log/containers), whatever --root-dir says: remove those of this node's pods.
  local uid link
  for uid in "${STATE}"/kubelet/pods/*/; do
    [[ -d "$uid" ]] || continue
    uid="$(basename "$uid")"
    rm -rf /var/log/pods/*_"${uid}"
  done
  if [[ -f "${STATE}/var-log-pods.before" ]]; then
    local entry
    for entry in /var/log/pods/*; do
      [[ -e "$entry" ]] || continue
      grep -qxF -- "$(basename "$entry")" "${STATE}/var-log-pods.before" || rm -rf "$entry"
    done
  fi
  for link in /var/log/containers/*.log; do
    [[ -L "$link" && ! -e "$link" && "$(readlink "$link")" == /var/log/pods/* ]] && rm -f "$link"
  done
  # Mounts below the state directory (rootfs overlays, secrets' tmpfs, netns pins), deepest first.
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(
    awk -v s="${STATE}/" 'index($2, s) == 1 { print $2 }' /proc/mounts | sort -r)
  # The pods' cgroups, deepest first (empty now that their processes are gone).
  if [[ -d "/sys/fs/cgroup/memory${CGROUP_ROOT}" ]]; then
    find /sys/fs/cgroup/*"${CGROUP_ROOT}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  fi
  log "mounts and cgroups removed ($((SECONDS - t0)) s)"
  # The network namespace: its bridge, veths, routes and iptables rules go with it.
  if ip netns list | grep -qw "$NETNS"; then
    for p in $(ip netns pids "$NETNS"); do log "process ${p} still in ${NETNS}: killing it"; kill -KILL "$p" || true; done
  fi
  ip netns delete "$NETNS" 2>/dev/null || true
  ip link delete "$VETH_HOST" 2>/dev/null || true
  if [[ -f "${CP_STATE}/kubeconfig" ]] && kc --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
    kc delete node "$NODE" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  [[ -f "${STATE}/.airflow-cdk8s-node-state" ]] && rm -rf --one-file-system "$STATE"
  return 0
}

cmd_stop() {
  cmd_stop_quiet
  if awk -v s="${STATE}/" 'index($2, s) == 1 { f = 1 } END { exit !f }' /proc/mounts; then die "mounts left below ${STATE}"; fi
  ip netns list | grep -qw "$NETNS" && die "network namespace ${NETNS} left"
  log "stopped"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  mkdir -p "$(dirname "$STATE")"
  case "$cmd" in
    start) exec 7>"${STATE}.lock"; flock 7; cmd_start ;;
    install) [[ $(id -u) -eq 0 ]] || die "installing the node's packages needs root"; install ;;
    stop) exec 7>"${STATE}.lock"; flock 7; cmd_stop ;;
    status) node_ready ;;
    dns-sync) cmd_dns_sync ;;
    exec) in_ns "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
  esac
}

main "$@"
