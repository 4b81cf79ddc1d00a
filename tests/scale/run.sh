#!/usr/bin/env bash
# The long fault, soak and scale runs of issue 15: the tests of
# tests/tests/faults_and_scale.rs at the issue's sizes, against the local control plane
# and the AWS emulator (brought up as tests/env/test.sh does, and stopped again if this
# script started them). The operator runs as a release build (COGNITO_OPERATOR_BIN,
# built here); the test binary is the usual debug build of `cargo test`. The tests run
# one at a time, so that their figures do not disturb each other.
#
# Figures: one `REPORT <figure> k=v ...` line each, on stdout and appended to
# .cache/scale/report.txt.
#
#   tests/scale/run.sh                    every long run (about 1.5 hours)
#   tests/scale/run.sh chaos              only the tests whose name contains "chaos"
#   CHAOS_USERS=300 tests/scale/run.sh chaos
#   RELEASE=0 tests/scale/run.sh soak     with the debug operator
#
# Test names (arguments filter them as `cargo test` does): chaos_rollout_..., rollout_
# converges_after_throttling / _server_errors / _an_outage, rollout_survives_an_api_
# server_and_etcd_restart, soak_costs_one_census_per_resync_..., big_pool_census_...
# ("census" matches both of the last two; use "big_pool" or "soak").
#
# Sizes and durations, long-run defaults here (CI's defaults, in the test, in brackets):
#   CHAOS_USERS=1000 [200]  CHAOS_KILLS=100 [10]  CHAOS_SEED=<random>  CHAOS_MAX_RATIO=1.05 [1.05]
#   FAULT_USERS=500 [100]  FAULT_RPS=20 [20]  FAULT_SHARE=0.5 [0.5]  OUTAGE_SECONDS=60 [60]
#   RESTART_USERS=1000 [150]
#   SOAK_USERS=10000 [300]  SOAK_SECONDS=1800 [40]  SOAK_RESYNC_SECONDS=60 [10]
#   CENSUS_POOL_USERS=100000 [10000]  CENSUS_RESYNC_SECONDS=30 [5]  CENSUS_LIST_RPS=60 [60]
#   ROLLOUT_RPS=100 [operator defaults]: creation and update rates of the rollouts
#     without faults (the emulator, not AWS's quotas, is then the limit)
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../env/common.sh"
cd "$REPO_ROOT"

: "${CHAOS_USERS:=1000}" "${CHAOS_KILLS:=100}"
: "${FAULT_USERS:=500}" "${FAULT_RPS:=20}" "${FAULT_SHARE:=0.5}" "${OUTAGE_SECONDS:=60}"
: "${RESTART_USERS:=1000}"
: "${SOAK_USERS:=10000}" "${SOAK_SECONDS:=1800}" "${SOAK_RESYNC_SECONDS:=60}"
: "${CENSUS_POOL_USERS:=100000}" "${CENSUS_RESYNC_SECONDS:=30}" "${CENSUS_LIST_RPS:=60}"
: "${ROLLOUT_RPS:=100}" "${RELEASE:=1}"
export CHAOS_USERS CHAOS_KILLS FAULT_USERS FAULT_RPS FAULT_SHARE OUTAGE_SECONDS \
  RESTART_USERS SOAK_USERS SOAK_SECONDS SOAK_RESYNC_SECONDS CENSUS_POOL_USERS \
  CENSUS_RESYNC_SECONDS CENSUS_LIST_RPS ROLLOUT_RPS
[[ -n "${CHAOS_SEED:-}" ]] && export CHAOS_SEED

started=()
"$REPO_ROOT/tests/env/node.sh" status >/dev/null 2>&1 || started+=(node)
"$REPO_ROOT/tests/env/controlplane.sh" status >/dev/null 2>&1 || started+=(controlplane)
"$REPO_ROOT/tests/env/moto.sh" status >/dev/null 2>&1 || started+=(moto)
stop_started() {
  for service in "${started[@]}"; do
    "$REPO_ROOT/tests/env/$service.sh" stop >/dev/null 2>&1 || true
  done
}
trap stop_started EXIT
"$REPO_ROOT/tests/env/up.sh" >/dev/null

if ((RELEASE)); then
  log "building the operator (release)"
  cargo build --release --locked -p cognito-operator --bin cognito-operator
  export COGNITO_OPERATOR_BIN="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/cognito-operator"
fi

mkdir -p "$CACHE_DIR/scale"
echo "# $(date -u +%FT%TZ) tests/scale/run.sh ${*:-all} (release=$RELEASE, commit $(git rev-parse --short HEAD))" \
  >>"$CACHE_DIR/scale/report.txt"
export PATH="$BIN_DIR/current:$PATH"
SECONDS=0
status=0
cargo test --locked -p cognito-operator-tests --test faults_and_scale -- \
  --nocapture --test-threads=1 "$@" || status=$?
log "long runs done in ${SECONDS}s (exit $status); figures in $CACHE_DIR/scale/report.txt"
exit "$status"
