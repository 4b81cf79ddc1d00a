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
  mkdir -p "$BIN_DIR/current"
  # Relative link so the cache directory can be moved as a whole.
  ln -sfn "../${out#"$BIN_DIR/"}" "$BIN_DIR/current/$name"
}
