#!/usr/bin/env bash
# test-runtime.sh — the runtime tests (`npm run test:runtime`): the real Apache Airflow on the synthesized YAML.
# See docs/runtime-tests.md.
#
# 1. Takes the machine-wide lock of its node kind: one emulated run at a time (its pod network 10.244.0.0/24, the
#    bridge acdk8s0 and the local route of the Service CIDR are the machine's), one real-node run at a time (its
#    network namespace acdk8s-realnode, its ports, /data and /var/log/pods are the machine's). An emulated and a
#    real-node run share none of these (the real node's network, 10.246.0.0/16, exists only in its namespace), so they
#    may run side by side, each on a control plane of its own (AIRFLOW_CDK8S_STATE and the ports), as .ci/run does.
# 2. Installs what the host needs (python3, iproute2, util-linux; debootstrap when the root must be built).
# 3. Builds or reuses the Debian trixie roots with Airflow 3.1 and with Airflow 3.2, PostgreSQL 17 in each
#    (scripts/runtime/build-root.sh, cached under /var/cache/airflow-cdk8s/runtime; 3-5 min cold, instant when cached);
#    each test file's kubelet serves its chart's apache/airflow:X.Y.* image from the root of X.Y.
# 4. Starts the local Kubernetes 1.20 control plane (scripts/local-control-plane.sh start; never an external
#    cluster: the runtime kubelet is this machine) — KUBECONFIG is ignored.
# 5. Runs jest with jest.runtime.config.js: one file at a time on the emulated kubelet, each test file starting its own
#    runtime kubelet (scripts/runtime/kubelet.py) and Node, running its chart and removing them; on the real node one
#    too by default, or two at once (AIRFLOW_CDK8S_RUNTIME_WORKERS=2), each in a namespace of its own, 4Gi per file.
# Everything started is stopped on exit (kubelets by their pid files, then the control plane).
#
# Extra arguments go to jest, e.g.: scripts/test-runtime.sh -t 'team-a'
#
# Environment (besides local-control-plane.sh's AIRFLOW_CDK8S_* ports/state/cache variables):
#   AIRFLOW_CDK8S_AIRFLOW_SRC      the Airflow source bundle (airflow-src.tgz)  [<repo>/../shared/airflow-runtime/]
#   AIRFLOW_CDK8S_RUNTIME_STATE    the kubelets' state: host paths, pod logs   [/tmp/airflow-cdk8s-runtime]
#   AIRFLOW_CDK8S_RUNTIME_LOCK     the machine-wide lock file                  [/tmp/airflow-cdk8s-runtime.lock;
#                                  the real node's: /tmp/airflow-cdk8s-realnode.lock]
#   AIRFLOW_CDK8S_RUNTIME_KEEP=1   leave the charts and kubelets running after the tests (to look at them)
#   AIRFLOW_CDK8S_RUNTIME_AIRFLOWS the Airflow minor versions whose roots to build [3.1 3.2]
#   AIRFLOW_CDK8S_RUNTIME_POD_CIDR the pod network                             [10.244.0.0/24]
#   AIRFLOW_CDK8S_RUNTIME_NODE     emulated: scripts/runtime/kubelet.py per test file [emulated]
#                                  real: the real node (scripts/runtime/real-node.sh: kubelet, containerd, runc,
#                                  kube-proxy, dnsmasq) and its images (scripts/runtime/build-images.sh push),
#                                  started once for the run (`npm run test:runtime:real`; issue #27)
#   AIRFLOW_CDK8S_RUNTIME_RESULTS  where the run's results go                  [build/runtime-results.json;
#                                  the real node's: build/runtime-results-real-node.json]
#                                  (npm run bench's start-latency run uses its own, so the tests' stay)
#   AIRFLOW_CDK8S_RUNTIME_WORKERS  real node: test files at once (jest's workers)  [1]
#   AIRFLOW_CDK8S_NODE_MEMORY      real node: allocatable memory               [4Gi per worker]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kubectl-path.sh
source scripts/kubectl-path.sh

if [[ "${AIRFLOW_CDK8S_RUNTIME_NODE:-emulated}" == real ]]; then
  lock="${AIRFLOW_CDK8S_RUNTIME_LOCK:-/tmp/airflow-cdk8s-realnode.lock}"
else
  lock="${AIRFLOW_CDK8S_RUNTIME_LOCK:-/tmp/airflow-cdk8s-runtime.lock}"
fi
exec 6>"$lock"
if ! flock -n 6; then
  echo "== waiting for another runtime run (lock ${lock}), held by:"
  for fd in /proc/[0-9]*/fd/*; do
    [[ "$(readlink "$fd" 2>/dev/null)" == "$(readlink -f "$lock")" ]] || continue
    p="${fd#/proc/}"; p="${p%%/*}"; [[ "$p" == "$$" ]] && continue
    echo "   pid ${p}: $(tr '\0' ' ' <"/proc/${p}/cmdline" 2>/dev/null | cut -c1-120)"
  done | sort -u | head -n 5
  flock 6
fi

# One test run per control plane: the live and the runtime stages start the local control plane on the same
# ports and state directory (AIRFLOW_CDK8S_STATE) unless told otherwise, and each stops it when it ends; a second
# run would share (and then stop) the first one's cluster. Wait for the other run instead.
cp_lock="${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s}.run.lock"
exec 5>"$cp_lock"
if ! flock -n 5; then
  echo "== waiting for another test run on the control plane of ${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s} (lock ${cp_lock})"
  flock 5
fi

[[ $(id -u) -eq 0 ]] || { echo "the runtime tests need root (network and mount namespaces, chroot, overlay mounts)" >&2; exit 1; }

t0=$SECONDS
missing=()
[[ -x /usr/bin/python3 ]] || missing+=(python3)
command -v ip >/dev/null || missing+=(iproute2)
for b in unshare nsenter setpriv flock; do command -v "$b" >/dev/null || { missing+=(util-linux); break; }; done
if ((${#missing[@]})); then
  echo "== installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export AIRFLOW_CDK8S_RUNTIME_STATE="${AIRFLOW_CDK8S_RUNTIME_STATE:-/tmp/airflow-cdk8s-runtime}"
mkdir -p "$AIRFLOW_CDK8S_RUNTIME_STATE" build
export AIRFLOW_CDK8S_RUNTIME_PYTHON=/usr/bin/python3
kubelet_script=scripts/runtime/kubelet.py

started=0
real_started=0
export AIRFLOW_CDK8S_RUNTIME_NODE="${AIRFLOW_CDK8S_RUNTIME_NODE:-emulated}"
# The real node's /data (its charts' hostPath volumes, the machine's own folder as on minikube's node) serves the
# whole run: two test files use it side by side, each its own folders (test/runtime/support/real-node.ts claimData).
# Removed before the run (what a crashed run left) and after it, only when it carries the harness's marker.
remove_real_data() {
  if [[ -f /data/.airflow-cdk8s-real-node ]]; then rm -rf /data; fi
}
cleanup() {
  local rc=$?
  if [[ "${AIRFLOW_CDK8S_RUNTIME_KEEP:-0}" != 1 ]]; then
    # kubelets a crashed jest left behind (each stops its containers and pod network)
    for d in "$AIRFLOW_CDK8S_RUNTIME_STATE"/*/; do
      [[ -f "$d/kubelet.pid" || -d "$d/pods" ]] && /usr/bin/python3 "$kubelet_script" stop --state "$d" || true
    done
    if ((real_started)); then bash scripts/runtime/real-node.sh stop || true; remove_real_data; fi
    if ((started)); then bash scripts/local-control-plane.sh stop || true; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The roots: cached, or built now (the time of a cold build goes into the results). AIRFLOW_CDK8S_RUNTIME_AIRFLOWS
# names the Airflow minor versions whose roots are needed [3.1 3.2]: `=3.2` for files whose charts run 3.2 only.
want_roots=" ${AIRFLOW_CDK8S_RUNTIME_AIRFLOWS:-3.1 3.2} "
# The 3.2 root's source bundle is made here when it is missing (a cold cache, or a new bundle name after its inputs
# changed): make-bundle-3.2.sh reads pinned git snapshots (AIRFLOW_CDK8S_MIRRORS), nothing from the network.
if [[ "$want_roots" == *" 3.2 "* ]] && ! AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh --path >/dev/null 2>&1; then
  t_bundle=$SECONDS
  echo "== the Airflow 3.2 source bundle is missing: scripts/runtime/make-bundle-3.2.sh"
  if bash scripts/runtime/make-bundle-3.2.sh; then echo "== 3.2 bundle made in $((SECONDS - t_bundle)) s"; else echo "== make-bundle-3.2.sh failed: the 3.2 files will say so"; fi
fi
if [[ "$want_roots" != *" 3.1 "* ]]; then
  root_path="$(AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh --path)"
  root_cached=false
  [[ -f "$root_path/.airflow-cdk8s-root" ]] && root_cached=true
  t_root=$SECONDS
  AIRFLOW_CDK8S_RUNTIME_ROOT="$(AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh)"
  export AIRFLOW_CDK8S_RUNTIME_ROOT AIRFLOW_CDK8S_RUNTIME_ROOT_3_2="$AIRFLOW_CDK8S_RUNTIME_ROOT"
  root_seconds=$((SECONDS - t_root))
  echo "== root ${AIRFLOW_CDK8S_RUNTIME_ROOT} (Airflow 3.2 only): $(tr '\n' ' ' <"$AIRFLOW_CDK8S_RUNTIME_ROOT/.airflow-cdk8s-root")"
else
root_path="$(bash scripts/runtime/build-root.sh --path)"
root_cached=false
[[ -f "$root_path/.airflow-cdk8s-root" ]] && root_cached=true
t_root=$SECONDS
AIRFLOW_CDK8S_RUNTIME_ROOT="$(bash scripts/runtime/build-root.sh)"
export AIRFLOW_CDK8S_RUNTIME_ROOT
root_seconds=$((SECONDS - t_root))
echo "== root ${AIRFLOW_CDK8S_RUNTIME_ROOT} ($([[ $root_cached == true ]] && echo cached || echo "built in ${root_seconds} s")): $(tr '\n' ' ' <"$AIRFLOW_CDK8S_RUNTIME_ROOT/.airflow-cdk8s-root")"
export AIRFLOW_CDK8S_RUNTIME_ROOT_3_1="$AIRFLOW_CDK8S_RUNTIME_ROOT"
# The Airflow 3.2 root (the same root with the 3.2 bundle, docs/runtime-tests.md "Airflow 3.2"): charts whose image is
# apache/airflow:3.2.* run on it. Without its bundle (scripts/runtime/make-bundle-3.2.sh) those tests fail and say so.
if [[ "$want_roots" != *" 3.2 "* ]]; then
  echo "== no Airflow 3.2 root (AIRFLOW_CDK8S_RUNTIME_AIRFLOWS=${AIRFLOW_CDK8S_RUNTIME_AIRFLOWS})"
elif AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh --path >/dev/null 2>&1; then
  t_root32=$SECONDS
  AIRFLOW_CDK8S_RUNTIME_ROOT_3_2="$(AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh)"
  export AIRFLOW_CDK8S_RUNTIME_ROOT_3_2
  echo "== root ${AIRFLOW_CDK8S_RUNTIME_ROOT_3_2} ($((SECONDS - t_root32)) s): $(tr '\n' ' ' <"$AIRFLOW_CDK8S_RUNTIME_ROOT_3_2/.airflow-cdk8s-root")"
else
  echo "== no Airflow 3.2 root: $(AIRFLOW_CDK8S_RUNTIME_AIRFLOW=3.2 bash scripts/runtime/build-root.sh --path 2>&1 | tail -n1)"
fi
fi

# The local control plane only: the runtime kubelet runs pods on this machine, so never an external cluster.
unset KUBECONFIG
t_cp=$SECONDS
started=1
env_lines="$(bash scripts/local-control-plane.sh start 5>&- 6>&-)"   # its daemons must not hold the runtime lock
KUBECONFIG="$(bash scripts/local-control-plane.sh env)"
export KUBECONFIG
use_cached_kubectl "$env_lines"
cp_seconds=$((SECONDS - t_cp))
echo "== cluster ready in ${cp_seconds} s: KUBECONFIG=${KUBECONFIG}, $(command -v kubectl)"

# The real node and its images (issue #27): started once, stopped by cleanup.
node_seconds=0 images_seconds=0
if [[ "$AIRFLOW_CDK8S_RUNTIME_NODE" == real ]]; then
  t_node=$SECONDS
  real_started=1
  # Test files at once (jest.runtime.config.js, AIRFLOW_CDK8S_RUNTIME_WORKERS, 1 by default): the node gets a minikube node's 4Gi
  # per file running at once (allocatable memory; the CPUs stay the machine's 2). One file's chart did not fit beside
  # another in 4Gi: the second one's task pods stayed Pending. That each chart fits a minikube-sized node (2 CPUs,
  # 4Gi) is the live stage's proof ("scheduling on a minikube-sized node", test/live/airflow-chart.live.test.ts).
  export AIRFLOW_CDK8S_RUNTIME_WORKERS="${AIRFLOW_CDK8S_RUNTIME_WORKERS:-1}"
  export AIRFLOW_CDK8S_NODE_MEMORY="${AIRFLOW_CDK8S_NODE_MEMORY:-$((4 * AIRFLOW_CDK8S_RUNTIME_WORKERS))Gi}"
  bash scripts/runtime/real-node.sh start 5>&- 6>&-
  remove_real_data
  node_seconds=$((SECONDS - t_node))
  t_images=$SECONDS
  # apache/airflow of the 3.1 suite (default-chart-3-1's IMAGE), built from the 3.1 root, when that root is wanted:
  # cached, it costs a second or two (docs/runtime-tests.md "The real node")
  other_images=()
  if [[ "$want_roots" == *" 3.1 "* ]]; then
    mapfile -t other_images < <(sed -n "s/^const IMAGE = '\(apache\/airflow:3\.1\.[^']*\)';.*/\1/p" test/runtime/default-chart-3-1.runtime.test.ts)
    ((${#other_images[@]})) || { echo "no apache/airflow:3.1.* IMAGE in test/runtime/default-chart-3-1.runtime.test.ts" >&2; exit 1; }
  fi
  bash scripts/runtime/build-images.sh push "${other_images[@]}" 5>&- 6>&-
  images_seconds=$((SECONDS - t_images))
  echo "== real node ready in ${node_seconds} s, images built/pushed in ${images_seconds} s"
fi

# build/runtime-results.json (the real node's: build/runtime-results-real-node.json, so that neither stage's run
# overwrites the other's) starts over with this run's machine and set-up times; the tests add theirs.
if [[ "$AIRFLOW_CDK8S_RUNTIME_NODE" == real ]]; then
  export AIRFLOW_CDK8S_RUNTIME_RESULTS="${AIRFLOW_CDK8S_RUNTIME_RESULTS:-$PWD/build/runtime-results-real-node.json}"
else
  export AIRFLOW_CDK8S_RUNTIME_RESULTS="${AIRFLOW_CDK8S_RUNTIME_RESULTS:-$PWD/build/runtime-results.json}"
fi
mkdir -p "$(dirname "$AIRFLOW_CDK8S_RUNTIME_RESULTS")"
/usr/bin/python3 - "$root_cached" "$root_seconds" "$cp_seconds" "$AIRFLOW_CDK8S_RUNTIME_ROOT" "$AIRFLOW_CDK8S_RUNTIME_RESULTS" "$AIRFLOW_CDK8S_RUNTIME_NODE" "$node_seconds" "$images_seconds" <<'PY'
import json, os, sys, time
cached, root_s, cp_s, root, results = sys.argv[1] == "true", int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
node, node_s, images_s = sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
info = dict(l.strip().split("=", 1) for l in open(os.path.join(root, ".airflow-cdk8s-root")) if "=" in l)
json.dump({"startedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "machine": {"cpus": os.cpu_count(), "memoryMiB": mem // 1024, "loadAverage": os.getloadavg()},
           "root": {"path": root, "cached": cached, "seconds": root_s, **info},
           "controlPlaneSeconds": cp_s, "node": node,
           **({"realNodeSeconds": node_s, "imagesSeconds": images_s} if node == "real" else {})},
          open(results, "w"), indent=2)
PY

rc=0
t_jest=$SECONDS
# jest.runtime.config.js says how many files run at once (AIRFLOW_CDK8S_RUNTIME_WORKERS on the real node)
npx jest -c jest.runtime.config.js "$@" || rc=$?
echo "== runtime tests finished in $((SECONDS - t_jest)) s (jest exit ${rc}); whole stage $((SECONDS - t0)) s (root $([[ $root_cached == true ]] && echo cached || echo "built in ${root_seconds} s"), cluster ${cp_seconds} s)"
/usr/bin/python3 - "$((SECONDS - t_jest))" "$((SECONDS - t0))" "$AIRFLOW_CDK8S_RUNTIME_RESULTS" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[3]))
r["jestSeconds"], r["stageSeconds"] = int(sys.argv[1]), int(sys.argv[2])
json.dump(r, open(sys.argv[3], "w"), indent=2)
PY
exit "$rc"
