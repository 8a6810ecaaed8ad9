# kubectl-path.sh — sourced by test-live.sh and test-runtime.sh (not run on its own).

# use_cached_kubectl START_OUTPUT: puts the directory of the cached kubectl first on PATH, taken from the
# `export PATH=<dir>:$PATH` line that `local-control-plane.sh start` prints; without such a line (no cached
# kubectl), PATH stays as it is.
use_cached_kubectl() {
  local path_line kubectl_dir
  path_line="$(grep -E '^export PATH=' <<<"$1" || true)"
  if [[ -n "$path_line" ]]; then
    kubectl_dir="${path_line#export PATH=}"
    kubectl_dir="${kubectl_dir%%:*}"
    export PATH="${kubectl_dir}:${PATH}"
  fi
}
