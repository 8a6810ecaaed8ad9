#!/usr/bin/env bash
# test-live.sh — the live-cluster tests (`npm run test:live`): prove the synthesized YAML on a real
# Kubernetes API server. See docs/live-tests.md.
#
# Starts the local Kubernetes 1.20 control plane (scripts/local-control-plane.sh start: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler on 127.0.0.1, no kubelet; builds and caches the
# binaries on first use) — or, when $KUBECONFIG points to a reachable cluster such as minikube, uses that
# and starts nothing — then runs jest with jest.live.config.js and exits with jest's code. Whatever was
# started is stopped on exit.
#
# Extra arguments go to jest, e.g.: scripts/test-live.sh -t 'second apply'
#
# Environment (besides local-control-plane.sh's AIRFLOW_CDK8S_* ports/state/cache variables):
#   KUBECONFIG                          use this cluster when reachable (minikube: ~/.kube/config)
#   AIRFLOW_CDK8S_LIVE_MUTATE_CLUSTER=1 on an external cluster, allow the tests' cluster-wide objects
#   AIRFLOW_CDK8S_LIVE_KEEP=1           leave the applied chart in the cluster after the tests
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/kubectl-path.sh
source scripts/kubectl-path.sh

# One test run per control plane: the live and the runtime stages start the local control plane on the same
# ports and state directory (AIRFLOW_CDK8S_STATE) unless told otherwise, and each stops it when it ends; a second
# run would share (and then stop) the first one's cluster. Wait for the other run instead.
cp_lock="${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s}.run.lock"
exec 5>"$cp_lock"
if ! flock -n 5; then
  echo "== waiting for another test run on the control plane of ${AIRFLOW_CDK8S_STATE:-/tmp/airflow-cdk8s-k8s} (lock ${cp_lock})"
  flock 5
fi

cp_script=scripts/local-control-plane.sh
started=0
cleanup() {
  local rc=$?
  if ((started)); then bash "$cp_script" stop || true; fi
  exit "$rc"
}
trap cleanup EXIT

t0=$SECONDS
# `start` prints the export lines to use (KUBECONFIG, and PATH with the cached kubectl 1.20.2).
started=1
env_lines="$(bash "$cp_script" start 5>&-)"
KUBECONFIG="$(bash "$cp_script" env)"
export KUBECONFIG
use_cached_kubectl "$env_lines"
echo "== cluster ready in $((SECONDS - t0)) s: KUBECONFIG=${KUBECONFIG}, $(command -v kubectl) ($(kubectl version --client --short 2>/dev/null || kubectl version --client | head -n1))"

rc=0
npx jest -c jest.live.config.js --runInBand "$@" || rc=$?
echo "== live tests finished in $((SECONDS - t0)) s (jest exit ${rc})"
exit "$rc"
