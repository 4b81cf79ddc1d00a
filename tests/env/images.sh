#!/usr/bin/env bash
# Builds the project's container images from their Dockerfiles (operator/Dockerfile,
# webhook-api/Dockerfile) with BuildKit, as OCI image archives, with no Docker and no
# registry: the build context is the release binary plus a distroless-style root
# filesystem assembled from Debian packages (glibc, libgcc, CA certificates). The same
# commit gives the same image digests (timestamps come from the commit).
#
#   images.sh build [--push]   build both images; print the archive paths
#                              (--push: push to IMAGE_REGISTRY instead, for releases)
#   images.sh context          prepare the build context only; print its path
#   images.sh pause            build the local node's sandbox (pause) image; print its path
#   images.sh digest ARCHIVE   print the manifest digest of an archive
#
# Env: IMAGE_TAG (default: the chart's appVersion), IMAGE_REGISTRY (name prefix, e.g.
# registry.example/team; default none, so the names are the chart's default repositories),
# IMAGE_SOURCE (org.opencontainers.image.source; default: the git remote "origin" if it
# is a URL), IMAGES_OUT_DIR (.cache/images), BUILDKIT_STATE_DIR (.cache/buildkit: its
# build cache; an empty folder gives a build from nothing).
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

IMAGES=(cognito-operator webhook-api)
OUT_DIR="${IMAGES_OUT_DIR:-$CACHE_DIR/images}"
CONTEXT_DIR="$CACHE_DIR/image-context"
BUILDKIT_DIR="${BUILDKIT_STATE_DIR:-$CACHE_DIR/buildkit}"
BUILDKIT_SOCKET="$BUILDKIT_DIR/buildkitd.sock"

chart_app_version() {
  sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/cognito-operator/Chart.yaml
}

# --- the root filesystem -----------------------------------------------------

# fetch_deb NAME VERSION: the path of NAME's .deb in the cache, downloaded once. Debian
# serves only the current version of a package; when the pinned one is gone the current
# one is used, with a warning to update the pin (the digest then changes once).
fetch_deb() {
  local name="$1" version="$2" dir="$CACHE_DIR/debs" deb
  mkdir -p "$dir"
  deb="$(compgen -G "$dir/${name}_${version//:/%3a}_*.deb" || true)"
  if [[ -z "$deb" ]]; then
    if ! (cd "$dir" && apt-get -q -o APT::Sandbox::User=root download "$name=$version" >&2); then
      log "WARNING: $name $version is no longer served; using the current version." \
        "Update its pin in tests/env/versions.env."
      (cd "$dir" && apt-get -q -o APT::Sandbox::User=root download "$name" >&2)
    fi
    deb="$(compgen -G "$dir/${name}_*.deb" | tail -n 1)"
  fi
  echo "$deb"
}

# assemble_rootfs BINARY... : writes $CONTEXT_DIR/rootfs with the shared libraries the
# binaries link (and nothing else of glibc), CA certificates, the nonroot user and the
# packages' copyright files.
assemble_rootfs() {
  local rootfs="$CONTEXT_DIR/rootfs" unpacked="$CONTEXT_DIR/unpacked" pkg deb lib
  rm -rf "$rootfs" "$unpacked"
  mkdir -p "$rootfs"/{etc/ssl/certs,lib/x86_64-linux-gnu,lib64,tmp,usr/share/doc}
  for pkg in libc6:"$DEB_LIBC6" libgcc-s1:"$DEB_LIBGCC_S1" gcc-12-base:"$DEB_GCC_12_BASE" \
    ca-certificates:"$DEB_CA_CERTIFICATES"; do
    deb="$(fetch_deb "${pkg%%:*}" "${pkg#*:}")"
    mkdir -p "$unpacked/${pkg%%:*}"
    dpkg-deb -x "$deb" "$unpacked/${pkg%%:*}"
    if [[ -f "$unpacked/${pkg%%:*}/usr/share/doc/${pkg%%:*}/copyright" ]]; then
      mkdir -p "$rootfs/usr/share/doc/${pkg%%:*}"
      cp "$unpacked/${pkg%%:*}/usr/share/doc/${pkg%%:*}/copyright" "$rootfs/usr/share/doc/${pkg%%:*}/"
    fi
  done
  # The loader and every library a binary names (readelf), from the unpacked packages;
  # a library they do not hold fails the build rather than an image at start.
  local needed=(ld-linux-x86-64.so.2)
  mapfile -t -O 1 needed < <(readelf -d "$@" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
  for lib in "${needed[@]}"; do
    local found
    found="$(compgen -G "$unpacked/*/lib/x86_64-linux-gnu/$lib" | head -n 1 || true)"
    [[ -n "$found" ]] || die "no package of the image provides $lib (needed by $*)"
    cp -L "$found" "$rootfs/lib/x86_64-linux-gnu/$lib"
  done
  ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rootfs/lib64/ld-linux-x86-64.so.2"
  # The package ships certificates, not the bundle (update-ca-certificates builds it
  # at install); concatenate them in a fixed order.
  LC_ALL=C find "$unpacked/ca-certificates/usr/share/ca-certificates/mozilla" -name '*.crt' |
    LC_ALL=C sort | xargs cat >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
    >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
  rm -rf "$unpacked"
  # Modes are part of the image: set them, whatever the umask of this checkout.
  find "$rootfs" -type d -exec chmod 0755 {} +
  find "$rootfs" -type f -exec chmod 0644 {} +
  chmod 0755 "$rootfs"/lib/x86_64-linux-gnu/*
  chmod 1777 "$rootfs/tmp"
}

# Release binaries, with this checkout's and cargo's paths remapped so that they (and
# the images) do not depend on where the repository was cloned.
build_context() {
  local bin
  log "release build of ${IMAGES[*]}"
  RUSTFLAGS="--remap-path-prefix=$REPO_ROOT=/src --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo" \
    cargo build --release --locked -p cognito-operator -p webhook-api --bins >&2
  rm -rf "$CONTEXT_DIR/bin"
  mkdir -p "$CONTEXT_DIR/bin"
  for bin in "${IMAGES[@]}"; do
    install -m 0755 "target/release/$bin" "$CONTEXT_DIR/bin/$bin"
  done
  assemble_rootfs "$CONTEXT_DIR"/bin/*
  stamp "$CONTEXT_DIR"
}

# stamp DIR: every file's time is 0 (1970), as in distroless images. BuildKit's cache
# keys ignore file times, so a layer built earlier (another commit, another time) is
# reused as it is: only a fixed time makes the layer the same whatever the cache holds.
stamp() {
  find "$1" -exec touch -h -d @0 {} +
}

# --- BuildKit -----------------------------------------------------------------

install_buildkit() {
  local ldflags="-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" cmd
  for cmd in buildkitd buildctl; do
    go_build buildkit "$BIN_DIR/buildkit-$BUILDKIT_VERSION/$cmd" \
      "github.com/moby/buildkit/cmd/$cmd" "$ldflags" 2>&1 | grep -v ': cached at ' >&2 || true
    [[ -x "$BIN_DIR/buildkit-$BUILDKIT_VERSION/$cmd" ]] || die "could not build $cmd"
  done
}

buildkitd_pid=""
stop_buildkitd() {
  [[ -n "$buildkitd_pid" ]] || return 0
  kill -TERM "$buildkitd_pid" 2>/dev/null || true
  wait "$buildkitd_pid" 2>/dev/null || true
  buildkitd_pid=""
  # What buildkitd leaves outside its root: its cgroup in every hierarchy.
  rmdir /sys/fs/cgroup/*/buildkit 2>/dev/null || true
}

# A buildkitd for this run only (root, as it needs to unpack layers with their owners).
# The Dockerfiles have no RUN step, so BuildKit never starts a container; it only
# checks that its OCI runtime exists: runc when the local node installed one.
start_buildkitd() {
  local runtime="$BIN_DIR/current/runc"
  [[ -x "$runtime" ]] || runtime="$(command -v runc || command -v false)"
  mkdir -p "$BUILDKIT_DIR"
  rm -f "$BUILDKIT_SOCKET"
  "$BIN_DIR/current/buildkitd" --root "$BUILDKIT_DIR/root" --addr "unix://$BUILDKIT_SOCKET" \
    --oci-worker=true --containerd-worker=false --oci-worker-binary "$runtime" \
    --otel-socket-path "$BUILDKIT_DIR/otel.sock" >"$BUILDKIT_DIR/buildkitd.log" 2>&1 &
  buildkitd_pid=$!
  trap stop_buildkitd EXIT
  wait_for 30 "buildkitd on $BUILDKIT_SOCKET" \
    "$BIN_DIR/current/buildctl" --addr "unix://$BUILDKIT_SOCKET" debug workers ||
    { tail -n 20 "$BUILDKIT_DIR/buildkitd.log" >&2; die "buildkitd did not start"; }
}

source_date_epoch() { git log -1 --format=%ct 2>/dev/null || echo 0; }

revision() {
  local rev
  rev="$(git rev-parse HEAD 2>/dev/null)" || { echo unknown; return; }
  git diff --quiet HEAD 2>/dev/null || rev+="-dirty"
  echo "$rev"
}

image_source() {
  if [[ -n "${IMAGE_SOURCE:-}" ]]; then echo "$IMAGE_SOURCE"; return; fi
  local origin
  origin="$(git remote get-url origin 2>/dev/null || true)"
  [[ "$origin" == https://* ]] && echo "${origin%.git}" || echo unknown
}

# buildctl_build DOCKERFILE_DIR CONTEXT OUTPUT [BUILD_ARG=VALUE...]
buildctl_build() {
  local dockerfile_dir="$1" context="$2" output="$3" arg args=()
  shift 3
  for arg in "SOURCE_DATE_EPOCH=$(source_date_epoch)" "$@"; do
    args+=(--opt "build-arg:$arg")
  done
  "$BIN_DIR/current/buildctl" --addr "unix://$BUILDKIT_SOCKET" build --progress plain \
    --frontend dockerfile.v0 --local "context=$context" --local "dockerfile=$dockerfile_dir" \
    "${args[@]}" --output "$output" 2>>"$BUILDKIT_DIR/build.log" ||
    { tail -n 30 "$BUILDKIT_DIR/build.log" >&2; die "image build failed ($dockerfile_dir)"; }
}

cmd_build() {
  local push=false tag registry image name output
  [[ "${1:-}" == --push ]] && push=true
  tag="${IMAGE_TAG:-$(chart_app_version)}"
  registry="${IMAGE_REGISTRY:-}"
  if $push && [[ -z "$registry" ]]; then die "--push needs IMAGE_REGISTRY"; fi
  build_context
  install_buildkit
  start_buildkitd
  mkdir -p "$OUT_DIR"
  for image in "${IMAGES[@]}"; do
    name="${registry:+$registry/}$image:$tag"
    if $push; then
      output="type=image,name=$name,push=true,rewrite-timestamp=true"
    else
      output="type=oci,dest=$OUT_DIR/$image.tar.tmp,name=$name,rewrite-timestamp=true"
    fi
    log "building $name"
    buildctl_build "${image/cognito-operator/operator}" "$CONTEXT_DIR" "$output" \
      "VERSION=$tag" "REVISION=$(revision)" "SOURCE=$(image_source)"
    if $push; then
      log "pushed $name"
    else
      mv -f "$OUT_DIR/$image.tar.tmp" "$OUT_DIR/$image.tar"
      echo "$OUT_DIR/$image.tar"
    fi
  done
}

# The upstream pause program (from the pinned Kubernetes module), static, in its own
# image: the node never pulls its sandbox image.
cmd_pause() {
  local src context="$CACHE_DIR/pause-context"
  src="$(cd tests/go/kubernetes && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  rm -rf "$context"
  mkdir -p "$context" "$OUT_DIR"
  gcc -Os -static -s -DVERSION="${PAUSE_IMAGE##*:}" -o "$context/pause" "$src"
  chmod 0755 "$context/pause"
  stamp "$context"
  install_buildkit
  start_buildkitd
  buildctl_build tests/env/pause "$context" \
    "type=oci,dest=$OUT_DIR/pause.tar.tmp,name=$PAUSE_IMAGE,rewrite-timestamp=true"
  mv -f "$OUT_DIR/pause.tar.tmp" "$OUT_DIR/pause.tar"
  echo "$OUT_DIR/pause.tar"
}

cmd_digest() {
  tar -xOf "$1" index.json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])'
}

# Builds sharing the cache (parallel tests, the suite and run-local) take turns.
mkdir -p "$CACHE_DIR"
exec 8>"$CACHE_DIR/images.lock"
flock 8

case "${1:-}" in
  build) cmd_build "${2:-}" ;;
  context) build_context; echo "$CONTEXT_DIR" ;;
  pause) cmd_pause ;;
  digest) cmd_digest "${2:?usage: images.sh digest ARCHIVE}" ;;
  *) die "usage: images.sh build [--push] | context | pause | digest ARCHIVE" ;;
esac
