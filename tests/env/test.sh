#!/usr/bin/env bash
# The project's full test run: lint, the emulator plugin's tests, and every Rust test
# (unit and end-to-end) against a real control plane and the moto emulator on loopback.
# Stops on exit only what it started itself.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

started=()
"$REPO_ROOT/tests/env/controlplane.sh" status >/dev/null 2>&1 || started+=(controlplane)
"$REPO_ROOT/tests/env/moto.sh" status >/dev/null 2>&1 || started+=(moto)
stop_started() {
  for service in "${started[@]}"; do
    "$REPO_ROOT/tests/env/$service.sh" stop >/dev/null 2>&1 || true
  done
}
trap stop_started EXIT

SECONDS=0
# A full build needs about 5 GB; say how much there is, so a full disk reads as such.
log "free disk space: $(df -h --output=avail "$REPO_ROOT" | tail -n 1 | tr -d ' ')"
"$REPO_ROOT/tests/env/up.sh" >/dev/null
"$REPO_ROOT/tests/env/install-srp-reference.sh" >/dev/null
log "environment ready after ${SECONDS}s"

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "emulator plugin tests (pytest)"
"$CACHE_DIR/venv-moto/bin/python" -m pytest -p no:cacheprovider -q tests/moto

# The binaries the end-to-end tests run, in the feature set of `cargo test --workspace`
# (dev-dependencies on), which the harness also builds: nothing is compiled twice.
log "cargo build --workspace --bins --tests"
cargo build --workspace --bins --tests --locked
log "cargo test (unit and end-to-end)"
export PATH="$BIN_DIR/current:$PATH"
cargo test --workspace --locked
log "all tests passed in ${SECONDS}s"
