#!/usr/bin/env bash
# Builds the local test control plane (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd), the local node's kubelet and kube-proxy, helm and
# promtool from the pinned Go modules in tests/go/*, into a cache keyed by version. A binary that
# already exists is not rebuilt. (install-node.sh builds the rest of the node.)
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

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
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
  go_build kubernetes "$k8s_dir/$cmd" "k8s.io/kubernetes/cmd/$cmd" "$k8s_ldflags"
done

go_build etcd "$BIN_DIR/etcd-$ETCD_VERSION/etcd" .

go_build helm "$BIN_DIR/helm-$HELM_VERSION/helm" helm.sh/helm/v4/cmd/helm \
  "-X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.metadata="

# remove_all_sd leaves Prometheus' service-discovery plugins (and the cloud SDKs they
# pull in) out of promtool: only `promtool check config` of scrape configs uses them.
GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=remove_all_sd" \
  go_build prometheus "$BIN_DIR/prometheus-$PROMETHEUS_VERSION/promtool" \
  github.com/prometheus/prometheus/cmd/promtool \
  "-X github.com/prometheus/common/version.Version=${PROMETHEUS_VERSION#v}"

log "all binaries ready in $BIN_DIR/current ($((SECONDS - total_start))s)"
