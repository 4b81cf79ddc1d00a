# shellcheck shell=bash
# Shared helpers for tests/env scripts. Source it; do not execute it.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The cache lives in the git-ignored .cache/ unless overridden.
CACHE_DIR="${COGNITO_OPERATOR_CACHE:-$REPO_ROOT/.cache}"
BIN_DIR="$CACHE_DIR/bin"
RUN_DIR="$CACHE_DIR/run"
export REPO_ROOT CACHE_DIR BIN_DIR RUN_DIR

# shellcheck source=tests/env/versions.env
. "$REPO_ROOT/tests/env/versions.env"

log() { printf '==> %s\n' "$*" >&2; }

die() { log "ERROR: $*"; exit 1; }

# wait_for TIMEOUT_SECONDS DESCRIPTION CMD...
# Retries CMD (quietly) once a second until it succeeds or the timeout passes.
wait_for() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for: $what"
      return 1
    fi
    sleep 1
  done
}

# short_hash: the first 12 hex digits of the SHA-256 of stdin (cache keys).
short_hash() { sha256sum | cut -c1-12; }

# install_once NAME DIR INSTALL_CMD...: fills DIR with INSTALL_CMD unless an earlier run
# did. DIR/.installed is written only after INSTALL_CMD succeeded, so a half-done install
# is redone. Runs sharing the cache (parallel test binaries, CI steps) wait for each
# other on the lock NAME, held until the calling script exits.
install_once() {
  local name="$1" dir="$2"; shift 2
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/$name.lock"
  flock 9
  if [[ -f "$dir/.installed" ]]; then
    log "cached: $dir"
    return 0
  fi
  log "installing into $dir"
  rm -rf "$dir"
  mkdir -p "$dir"
  "$@"
  touch "$dir/.installed"
}

# Static binaries; -s -w drops symbols to save disk; -p 2 matches the 2-core
# machines this runs on. -buildvcs=false because the wrapper modules live in
# this repo and the binaries should not depend on its git state.
GO_BUILD=(go build -p 2 -trimpath -buildvcs=false)

# go_build MODULE_DIR OUT PACKAGE [LDFLAGS]: builds PACKAGE of the wrapper module
# tests/go/MODULE_DIR into OUT and links it from $BIN_DIR/current; an OUT that already
# exists is not rebuilt.
go_build() {
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
    (cd "$moddir" && CGO_ENABLED=0 "${GO_BUILD[@]}" -ldflags="$ldflags" -o "$out.tmp" "$pkg")
    mv -f "$out.tmp" "$out"
    log "$name: built in $((SECONDS - start))s"
  fi
  link_current "$out"
}

# link_current PATH: $BIN_DIR/current/<basename> -> PATH, relative so the cache directory
# can be moved as a whole.
link_current() {
  mkdir -p "$BIN_DIR/current"
  ln -sfn "../${1#"$BIN_DIR/"}" "$BIN_DIR/current/$(basename "$1")"
}

# --- the local node's addresses (controlplane.sh, node.sh) ---------------------------
# Ranges used by nothing else on the machine (its own network is elsewhere), overridable
# like the ports. The node address lives alone on a bridge without ports: the API server
# binds to it (pods reach it through the `kubernetes` Service) and the kubelet is named
# by it. Pods get addresses from POD_CIDR on their own bridge and are routed nowhere but
# to the node address and the service range.
: "${NODE_ADDRESS:=10.213.0.1}" "${NODE_BRIDGE:=cogn-node0}" \
  "${POD_CIDR:=10.214.0.0/24}" "${POD_GATEWAY:=10.214.0.1}" "${POD_BRIDGE:=cogn-pods0}" \
  "${SERVICE_CIDR:=10.0.0.0/24}" "${SERVICE_IP:=10.0.0.1}"
export NODE_ADDRESS NODE_BRIDGE POD_CIDR POD_GATEWAY POD_BRIDGE SERVICE_CIDR SERVICE_IP

# node_address_up: creates NODE_BRIDGE holding NODE_ADDRESS/32 (idempotent).
node_address_up() {
  if ! ip link show dev "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link add name "$NODE_BRIDGE" type bridge
  fi
  ip link set dev "$NODE_BRIDGE" up
  ip -4 addr show dev "$NODE_BRIDGE" | grep -qF " $NODE_ADDRESS/32 " ||
    ip addr add "$NODE_ADDRESS/32" dev "$NODE_BRIDGE"
}

# alive_pid PIDFILE EXE: prints the recorded PID if that process is alive and runs an
# executable named EXE (a stale or recycled PID is never treated as ours).
alive_pid() {
  local pid exe
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  exe="${exe% (deleted)}"
  [[ "$(basename "$exe")" == "$2" ]] || return 1
  echo "$pid"
}

# node_address_down_if_unused: removes NODE_BRIDGE unless the API server or the node
# (whichever stops last removes it) still runs on it.
node_address_down_if_unused() {
  alive_pid "$RUN_DIR/controlplane/kube-apiserver.pid" kube-apiserver >/dev/null && return 0
  alive_pid "$RUN_DIR/node/kubelet.pid" kubelet >/dev/null && return 0
  alive_pid "$RUN_DIR/node/kube-proxy.pid" kube-proxy >/dev/null && return 0
  if ip link show dev "$NODE_BRIDGE" >/dev/null 2>&1; then
    ip link delete dev "$NODE_BRIDGE"
    log "removed $NODE_BRIDGE ($NODE_ADDRESS)"
  fi
}

# components_status NAME...: a line per component of the calling script (through its own
# `running` and `healthy` functions); fails if any is stopped or unhealthy.
components_status() {
  local name pid rc=0
  for name in "$@"; do
    if pid="$(running "$name")"; then
      if healthy "$name" >/dev/null 2>&1; then
        echo "$name: running (pid $pid), healthy"
      else
        echo "$name: running (pid $pid), NOT healthy"; rc=1
      fi
    else
      echo "$name: stopped"; rc=1
    fi
  done
  return "$rc"
}
