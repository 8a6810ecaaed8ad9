# apt-host.sh — sourced (not run) by the scripts that install Debian packages on the machine itself
# (scripts/local-control-plane.sh, scripts/runtime/real-node.sh, scripts/runtime/build-images.sh, .ci/run).
#
# dpkg and the machine's package lists are one per machine, and CI builds its caches side by side (.ci/run starts
# the control plane's build, the runtime roots and the real node's packages at the same time): two `apt-get
# install`s at once make the second fail at once ("Could not get lock /var/lib/dpkg/lock-frontend"), two `apt-get
# update`s on /var/lib/apt/lists/lock. Every host apt-get of these scripts goes through one machine-wide flock
# here (not under AIRFLOW_CDK8S_CACHE: two caches still share one dpkg), and waits for dpkg's own lock when an apt
# outside these scripts holds it (DPkg::Lock::Timeout; apt-get's default is to fail at once).
#
#   apt_host_missing PKG...   print the packages that are not installed, one a line
#   apt_host_install PKG...   install the missing ones (apt-get update first: a fresh machine's lists may be empty);
#                             a no-op (dpkg-query only, no lock) when none is missing. The caller's environment goes to
#                             apt-get (e.g. RUNLEVEL=1 apt_host_install ...: no package starts its daemon)
#   apt_host_update           apt-get update (for a caller's `apt-get download` that found no package)
#
# ENVIRONMENT
#   AIRFLOW_CDK8S_APT_LOCK    the machine-wide lock file                 [/run/lock/airflow-cdk8s-apt.lock]

APT_HOST_LOCK="${AIRFLOW_CDK8S_APT_LOCK:-/run/lock/airflow-cdk8s-apt.lock}"
APT_HOST_OPTS=(-o DPkg::Lock::Timeout=600)

apt_host_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$p"
  done
}

# _apt_host_locked CMD...: CMD under the machine-wide lock, in a subshell (the lock's fd is closed when it ends and
# is not passed on to apt-get, whose maintainer scripts may start daemons that would hold it).
_apt_host_locked() {
  mkdir -p "$(dirname "$APT_HOST_LOCK")"
  (
    exec {fd}>"$APT_HOST_LOCK"
    if ! flock -n "$fd"; then
      printf '[apt-host] waiting for another apt-get (lock %s) ...\n' "$APT_HOST_LOCK" >&2
      flock "$fd"
    fi
    "$@" {fd}>&-
  )
}

_apt_host_install_locked() {
  local missing
  # Another caller may have installed them while this one waited for the lock.
  mapfile -t missing < <(apt_host_missing "$@")
  ((${#missing[@]})) || return 0
  printf '[apt-host] installing Debian packages: %s\n' "${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_HOST_OPTS[@]}" update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get "${APT_HOST_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

apt_host_install() {
  [[ -n "$(apt_host_missing "$@")" ]] || return 0
  [[ $(id -u) -eq 0 ]] || { printf '[apt-host] ERROR: need root to apt-get install: %s\n' "$(apt_host_missing "$@" | tr '\n' ' ')" >&2; return 1; }
  _apt_host_locked _apt_host_install_locked "$@"
}

apt_host_update() {
  _apt_host_locked env DEBIAN_FRONTEND=noninteractive apt-get "${APT_HOST_OPTS[@]}" update -qq >/dev/null
}
