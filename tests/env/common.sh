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
