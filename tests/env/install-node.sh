#!/usr/bin/env bash
# Builds what the local test node (tests/env/node.sh) runs besides kubelet and kube-proxy
# (install-k8s.sh), into the same versioned cache: containerd + ctr + the runc shim, runc
# (with seccomp: the restricted Pod Security Standard asks for the RuntimeDefault profile)
# and the CNI plugins bridge, host-local and loopback, all from the Go module proxy at the
# versions in versions.env. Also installs the Debian packages they need (libseccomp-dev
# and pkg-config to build runc, nftables for kube-proxy and the node's forwarding guard)
# when missing. Anything already built is not rebuilt.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Parallel runs sharing the cache (test binaries, CI steps) wait for each other here
# instead of building the same binaries twice; the lock is released on exit.
mkdir -p "$CACHE_DIR"
exec 8>"$CACHE_DIR/install-node.lock"
flock 8

total_start=$SECONDS

# --- Debian packages --------------------------------------------------------------

missing=()
for pkg in libseccomp-dev pkg-config nftables; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Static binaries (runc alone needs cgo, below).
export CGO_ENABLED=0

# --- containerd, runc, CNI plugins (go install MODULE/PKG@VERSION) -----------------

# go_install DIR LDFLAGS PACKAGE@VERSION...: installs the packages into DIR (built in
# DIR.tmp, renamed when complete, so an interrupted build never looks cached).
# GO_TAGS and CGO_ENABLED come from the environment.
go_install() {
  local dir="$1" ldflags="-s -w $2" start; shift 2
  if [[ -f "$dir/.complete" ]]; then
    log "$(basename "$dir"): cached at $dir"
    return 0
  fi
  log "$(basename "$dir"): building $*"
  start=$SECONDS
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  GOBIN="$dir.tmp" go install -p 2 -trimpath -tags "${GO_TAGS:-}" -ldflags="$ldflags" "$@"
  touch "$dir.tmp/.complete"
  rm -rf "$dir"
  mv "$dir.tmp" "$dir"
  log "$(basename "$dir"): built in $((SECONDS - start))s"
}

containerd_dir="$BIN_DIR/containerd-$CONTAINERD_VERSION"
go_install "$containerd_dir" \
  "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION -X github.com/containerd/containerd/v2/version.Revision=" \
  "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" \
  "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION"
for name in containerd ctr containerd-shim-runc-v2; do link_current "$containerd_dir/$name"; done

# runc needs cgo (its nsenter part is C) and links libseccomp.
runc_dir="$BIN_DIR/runc-$RUNC_VERSION"
CGO_ENABLED=1 GO_TAGS="seccomp urfave_cli_no_docs" go_install "$runc_dir" \
  "-X main.version=${RUNC_VERSION#v}" "github.com/opencontainers/runc@$RUNC_VERSION"
link_current "$runc_dir/runc"

# The plugins get a folder of their own: a `bridge` on PATH would hide iproute2's.
cni_dir="$BIN_DIR/cni-plugins-$CNI_PLUGINS_VERSION"
cni_mod="github.com/containernetworking/plugins"
go_install "$cni_dir" \
  "-X $cni_mod/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
  "$cni_mod/plugins/main/bridge@$CNI_PLUGINS_VERSION" \
  "$cni_mod/plugins/main/loopback@$CNI_PLUGINS_VERSION" \
  "$cni_mod/plugins/ipam/host-local@$CNI_PLUGINS_VERSION"
ln -sfn "../${cni_dir#"$BIN_DIR/"}" "$BIN_DIR/current/cni-plugins"

log "node binaries ready in $BIN_DIR/current ($((SECONDS - total_start))s)"
