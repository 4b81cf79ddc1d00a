#!/usr/bin/env bash
# Builds the local test control plane (kube-apiserver, kube-controller-manager,
# kubectl, etcd) and helm from the pinned Go modules in tests/go/*, into a
# cache keyed by version. A binary that already exists is not rebuilt.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Static binaries; -s -w drops symbols to save disk; -p 2 matches the 2-core
# machines this runs on. -buildvcs=false because the wrapper modules live in
# this repo and the binaries should not depend on its git state.
export CGO_ENABLED=0
GO_BUILD=(go build -p 2 -trimpath -buildvcs=false)

# build MODULE_DIR OUT PACKAGE [LDFLAGS]
build() {
  local moddir="$REPO_ROOT/tests/go/$1" out="$2" pkg="$3" ldflags="-s -w ${4:-}"
  local name start
  name="$(basename "$out")"
  if [[ -x "$out" ]]; then
    log "$name: cached at $out"
  else
    log "$name: building $pkg"
    mkdir -p "$(dirname "$out")"
    start=$SECONDS
    # Build to a temporary name so an interrupted build never looks cached.
    (cd "$moddir" && "${GO_BUILD[@]}" -ldflags="$ldflags" -o "$out.tmp" "$pkg")
    mv -f "$out.tmp" "$out"
    log "$name: built in $((SECONDS - start))s"
  fi
  mkdir -p "$BIN_DIR/current"
  # Relative link so the cache directory can be moved as a whole.
  ln -sfn "../${out#"$BIN_DIR/"}" "$BIN_DIR/current/$name"
}

total_start=$SECONDS

# Stamp the real release version (as the upstream release build does), so
# /version, kubectl version and version-skew checks see it instead of v0.0.0.
k8s_minor="${K8S_VERSION#v1.}"; k8s_minor="${k8s_minor%%.*}"
k8s_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $p.gitTreeState=clean"
done
k8s_dir="$BIN_DIR/k8s-$K8S_VERSION"
for cmd in kube-apiserver kube-controller-manager kubectl; do
  build kubernetes "$k8s_dir/$cmd" "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
done

build etcd "$BIN_DIR/etcd-$ETCD_VERSION/etcd" .

build helm "$BIN_DIR/helm-$HELM_VERSION/helm" helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.metadata="

log "all binaries ready in $BIN_DIR/current ($((SECONDS - total_start))s)"
