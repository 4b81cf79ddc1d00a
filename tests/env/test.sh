#!/usr/bin/env bash
# The project's full test run: lint, the emulator plugin's tests, and every Rust test
# (unit and end-to-end) against a real control plane and the moto emulator on loopback.
# A failing step does not stop the run: every step and every test binary runs, and one
# summary at the end lists what failed (the exit status is then 1). The output of
# `cargo test` is kept in .cache/test-logs/. Stops on exit only what it started itself.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

started=()
# The node first, so it is stopped first (it deletes its Node object through the API).
"$REPO_ROOT/tests/env/node.sh" status >/dev/null 2>&1 || started+=(node)
"$REPO_ROOT/tests/env/controlplane.sh" status >/dev/null 2>&1 || started+=(controlplane)
"$REPO_ROOT/tests/env/moto.sh" status >/dev/null 2>&1 || started+=(moto)
stop_started() {
  for service in "${started[@]}"; do
    "$REPO_ROOT/tests/env/$service.sh" stop >/dev/null 2>&1 || true
  done
}
trap stop_started EXIT

LOG_DIR="$CACHE_DIR/test-logs"
mkdir -p "$LOG_DIR"
TEST_LOG="$LOG_DIR/cargo-test-$(date +%Y%m%d-%H%M%S).log"
ln -sfn "$(basename "$TEST_LOG")" "$LOG_DIR/cargo-test-latest.log"

failed_steps=()
# step DESCRIPTION CMD...: runs CMD; a failure is recorded for the summary, not fatal.
step() {
  local what="$1"; shift
  log "$what"
  "$@" || failed_steps+=("$what (exit $?)")
}

# failed_tests LOG: one line per failed test, "<binary> (<source>): <test>", from the
# output of `cargo test`; a binary that failed without naming a test (it crashed, or
# did not build) is listed with the words cargo used.
failed_tests() {
  awk '
    /^ +Running / {
      source = $2 == "unittests" ? $2 " " $3 : $2
      path = $NF; gsub(/[()]/, "", path); sub(/.*\//, "", path); sub(/-[0-9a-f]+$/, "", path)
      binary = path " (" source ")"; next
    }
    /^ +Doc-tests / { binary = "doc-tests " $2; next }
    /^test .* \.\.\. FAILED$/ {
      name = $0; sub(/^test /, "", name); sub(/ \.\.\. FAILED$/, "", name)
      print binary ": " name; named[binary] = 1; next
    }
    # "error: test failed, to rerun pass `-p crate --test name`" and, with
    # --no-fail-fast, the closing list of failed targets.
    /^error: test failed, to rerun pass / && !named[binary] {
      print binary ": (the binary failed without a failed test; see the log)"; next
    }
  ' "$1"
}

SECONDS=0
# A full build needs about 5 GB; say how much there is, so a full disk reads as such.
log "free disk space: $(df -h --output=avail "$REPO_ROOT" | tail -n 1 | tr -d ' ')"
"$REPO_ROOT/tests/env/up.sh" >/dev/null
"$REPO_ROOT/tests/env/install-srp-reference.sh" >/dev/null
log "environment ready after ${SECONDS}s"

step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "emulator plugin tests (pytest)" \
  "$CACHE_DIR/venv-moto/bin/python" -m pytest -p no:cacheprovider -q tests/moto

# The binaries the end-to-end tests run, in the feature set of `cargo test --workspace`
# (dev-dependencies on), which the harness also builds: nothing is compiled twice.
step "cargo build --workspace --bins --tests" cargo build --workspace --bins --tests --locked
# The images (release build + BuildKit) the chart tests run on the local node; built here
# once, so that the tests only rebuild them from the caches.
step "container images (tests/env/images.sh build)" "$REPO_ROOT/tests/env/images.sh" build

log "cargo test (unit and end-to-end; every binary, output in $TEST_LOG)"
export PATH="$BIN_DIR/current:$PATH"
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$TEST_LOG"
test_status=${PIPESTATUS[0]}
set -e
mapfile -t failures < <(failed_tests "$TEST_LOG")
if ((test_status != 0)); then
  failed_steps+=("cargo test (exit $test_status)")
  ((${#failures[@]} > 0)) ||
    failures+=("cargo test failed before naming a test (a build error?); see $TEST_LOG")
fi

if ((${#failed_steps[@]} == 0)); then
  log "all tests passed in ${SECONDS}s"
  exit 0
fi
log "SUMMARY: ${#failed_steps[@]} failed step(s), ${#failures[@]} failed test(s) in ${SECONDS}s"
for failed in "${failed_steps[@]}"; do log "  failed step: $failed"; done
for failed in "${failures[@]}"; do log "  failed test: $failed"; done
log "cargo test output: $TEST_LOG"
log "FAILED"
exit 1
