#!/usr/bin/env bash
# make-bundle-3.2.sh — the Airflow 3.2 source bundle of the runtime stage (docs/runtime-tests.md, "Airflow 3.2").
#
# USAGE
#   scripts/runtime/make-bundle-3.2.sh [OUT]     write the bundle (default $AIRFLOW_CDK8S_CACHE/airflow-src-3.2+git.tgz)
#
# The 3.1 bundle (../shared/airflow-runtime/airflow-src.tgz) is laid on the machines; nothing lays a 3.2 one, and no
# PyPI is reachable, so this script builds it from git snapshots of the public repositories (one directory per
# repository, `owner+name/repo`, a bare git directory each, in $AIRFLOW_CDK8S_MIRRORS) at the commits pinned below,
# plus the libraries of the 3.1 bundle that 3.2 still uses unchanged. Its output is deterministic (sorted names, fixed
# mtimes and owners): the same inputs give the same bytes, so the runtime root's cache key stays the same.
#
# What it holds (at /opt/src in the root):
#   airflow-core-3.2/{airflow-core/src,task-sdk/src,shared}  apache/airflow main of 2026-03-05 (commit AIRFLOW_COMMIT:
#                                                   `airflow version` says 3.2.0; 3.2.0 was released from v3-2-test on
#                                                   2026-04-07, so fixes made on that branch afterwards are missing)
#   airflow-providers/providers/<p>/src             the providers the chart uses (and git, for DAG bundles), same commit
#   deps/                                           pure-Python libraries Debian trixie lacks or ships too old (DEPS)
#   deps/<from the 3.1 bundle>                      the 3.1 bundle's libraries 3.2 still takes (REUSED)
#   metadata/<dist>.dist-info                       minimal METADATA (+ provider entry points) for importlib.metadata
#
# ENVIRONMENT
#   AIRFLOW_CDK8S_MIRRORS       git snapshots, owner+name/repo each      [/work/.mirror]
#   AIRFLOW_CDK8S_AIRFLOW_SRC   the 3.1 bundle                           [<repo>/../shared/airflow-runtime/airflow-src.tgz]
#   AIRFLOW_CDK8S_CACHE        where the bundle goes                    [/var/cache/airflow-cdk8s]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MIRRORS="${AIRFLOW_CDK8S_MIRRORS:-/work/.mirror}"
OUT="${1:-${AIRFLOW_CDK8S_CACHE:-/var/cache/airflow-cdk8s}/airflow-src-3.2+git.tgz}"
B31="${AIRFLOW_CDK8S_AIRFLOW_SRC:-$REPO/../shared/airflow-runtime/airflow-src.tgz}"
[[ -r "$B31" ]] || B31=/work/shared/airflow-runtime/airflow-src.tgz

# apache/airflow main, 2026-03-05 ("Enable dependabot for simple auth manager in `v3-1-test` (#62951)"): the newest
# commit of apache/airflow found in a stored fork (Eason09053360/airflow, merged into its branches; Miretpl/airflow
# stops at 2026-03-01). No fork holding v3-2-test or a 3.2.x tag could be found.
AIRFLOW_REPO=Eason09053360+airflow
AIRFLOW_COMMIT=7a8a1c3cb896ee66bb144ad28a2918ac9610492b
# git: GitDagBundle and GitHook for `dagBundles` (test/runtime/dag-bundles.runtime.test.ts); it needs GitPython and the
# git binary, which the 3.2 root takes from Debian (build-root.sh). With it the bundle's name changed
# (airflow-src-3.2.tgz -> airflow-src-3.2+git.tgz) so that roots built from the older bundle stay as they are.
PROVIDERS=(cncf/kubernetes celery standard common/sql common/compat common/io fab smtp git)
# name  repository  tag  path in the repository (the package's parent)  distribution  version
DEPS=(
  "fastapi        fastapi+fastapi                0.129.0      .    fastapi            0.129.0"
  "annotated_doc  fastapi+annotated-doc          0.0.4        src  annotated_doc      0.0.4"
  "cadwyn         zmievsa+cadwyn                 6.0.3        .    cadwyn             6.0.3"
  "upath          fsspec+universal_pathlib       v0.3.9       .    universal_pathlib  0.3.9"
  "pathlib_abc    barneygale+pathlib-abc         0.5.1        .    pathlib_abc        0.5.1"
  "greenback      oremanj+greenback              v1.2.1       .    greenback          1.2.1"
  "outcome        python-trio+outcome            v1.3.0.post0 src  outcome            1.3.0.post0"
  "uvicorn        Kludex+uvicorn                 0.41.0       .    uvicorn            0.41.0"
)
# The 3.1 bundle's libraries 3.2 takes as they are (deps/<dir>, and their metadata)
REUSED=(svcs uuid6 methodtools wirerope sajsonfield retryhttp k8sasync otel fab fjwt fwtf connexion typing_inspection pygtrie-compat)
REUSED_META=(svcs uuid6 methodtools wirerope sqlalchemy_jsonfield retryhttp kubernetes_asyncio opentelemetry_api
  flask_appbuilder flask_jwt_extended flask_wtf connexion)

log() { printf '[make-bundle-3.2] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
git_dir() { local d="$MIRRORS/$1/repo"; [[ -d "$d" ]] || die "missing snapshot $d (fetch github:${1/+//})"; echo "$d"; }

W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
S="$W/src"; mkdir -p "$S/deps" "$S/metadata"
A="$(git_dir "$AIRFLOW_REPO")"
git -C "$A" cat-file -e "$AIRFLOW_COMMIT^{commit}" || die "$AIRFLOW_REPO lacks $AIRFLOW_COMMIT"
paths=(airflow-core/src task-sdk/src shared)
for p in "${PROVIDERS[@]}"; do paths+=("providers/$p/src"); done
mkdir -p "$W/a"; git -C "$A" archive "$AIRFLOW_COMMIT" "${paths[@]}" | tar x -C "$W/a"
mkdir -p "$S/airflow-core-3.2" "$S/airflow-providers"
mv "$W/a/airflow-core" "$W/a/task-sdk" "$W/a/shared" "$S/airflow-core-3.2/"
mv "$W/a/providers" "$S/airflow-providers/"
# The _shared symlinks (airflow/_shared/<x> -> shared/<x>/src/airflow_shared/<x>) must resolve inside the bundle
# (other symlinks point into the repository's other folders, e.g. example_dags/standard: removed if dangling)
for l in $(find "$S/airflow-core-3.2" -type l); do
  [[ -e "$l" ]] && continue
  [[ "$l" == */_shared/* ]] && die "dangling symlink $l"
  rm "$l"
done
# The image ships the built UI in airflow/ui/dist; the source has none, and the api-server (read-only root) would
# mkdir it on start (api_fastapi/core_api/app.py init_views): an empty folder, as in the 3.1 bundle.
mkdir -p "$S/airflow-core-3.2/airflow-core/src/airflow/ui/dist"
ver() { sed -n 's/^__version__ = "\(.*\)"/\1/p' "$1" | head -n1; }
core_v="$(ver "$S/airflow-core-3.2/airflow-core/src/airflow/__init__.py")"
sdk_v="$(ver "$S/airflow-core-3.2/task-sdk/src/airflow/sdk/__init__.py")"
[[ "$core_v" == 3.2.* && -n "$sdk_v" ]] || die "unexpected versions: core $core_v, task sdk $sdk_v"
meta() { # dist version [entry point]
  local d="$S/metadata/$1-$2.dist-info"; mkdir -p "$d"
  printf 'Metadata-Version: 2.1\nName: %s\nVersion: %s\n' "$1" "$2" >"$d/METADATA"
  [[ -z "${3:-}" ]] || printf '[apache_airflow_provider]\nprovider_info = %s\n' "$3" >"$d/entry_points.txt"
}
meta apache_airflow "$core_v"; meta apache_airflow_core "$core_v"; meta apache_airflow_task_sdk "$sdk_v"
for p in "${PROVIDERS[@]}"; do
  v="$(git -C "$A" show "$AIRFLOW_COMMIT:providers/$p/pyproject.toml" | sed -n 's/^version = "\(.*\)"/\1/p' | head -n1)"
  mod="airflow.providers.${p//\//.}"
  meta "apache_airflow_providers_${p//\//_}" "$v" "$mod.get_provider_info:get_provider_info"
done
{ echo "airflow-core-3.2, airflow-providers <- apache/airflow main @ $AIRFLOW_COMMIT (via $AIRFLOW_REPO): core $core_v, task sdk $sdk_v"; } >"$S/deps/SOURCES.txt"
for line in "${DEPS[@]}"; do
  read -r name repo tag sub dist version <<<"$line"
  g="$(git_dir "$repo")"; c="$(git -C "$g" rev-parse "$tag^{commit}")"
  mkdir -p "$S/deps/$name"
  if [[ "$sub" == . ]]; then git -C "$g" archive "$c" "$name" "LICENSE*" | tar x -C "$S/deps/$name"
  else git -C "$g" archive "$c" "$sub/$name" "LICENSE*" | tar x -C "$S/deps/$name"; mv "$S/deps/$name/$sub/$name" "$S/deps/$name/"; rmdir "$S/deps/$name/$sub"; fi
  [[ -f "$S/deps/$name/$name/__init__.py" ]] || die "$repo@$tag has no package $name"
  meta "$dist" "$version"
  echo "$name <- ${repo/+//}@$tag ($c)" >>"$S/deps/SOURCES.txt"
done
# The 3.1 bundle's libraries that 3.2 still takes (their provenance: the 3.1 bundle's deps/SOURCES.txt)
tar xzf "$B31" -C "$W/a" ./deps ./metadata
for d in "${REUSED[@]}"; do mv "$W/a/deps/$d" "$S/deps/"; done
for m in "${REUSED_META[@]}"; do mv "$W/a/metadata/$m"-*.dist-info "$S/metadata/"; done
grep -E "^($(IFS='|'; echo "${REUSED[*]}")) " "$W/a/deps/SOURCES.txt" | sed 's/$/ (from the 3.1 bundle)/' >>"$S/deps/SOURCES.txt"
echo "pygtrie-compat: the 3.1 bundle's shim (Debian's pygtrie 2.2 with the 2.5 API)" >>"$S/deps/SOURCES.txt"
mkdir -p "$(dirname "$OUT")"
tar --sort=name --mtime='2026-03-05 00:00Z' --owner=0 --group=0 --numeric-owner -C "$S" -cf - . | gzip -n >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
log "wrote $OUT ($(du -h "$OUT" | cut -f1), sha256 $(sha256sum <"$OUT" | cut -c1-12)): core $core_v, task sdk $sdk_v"
