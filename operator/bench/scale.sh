#!/usr/bin/env bash
# AppUser scale benchmark against the local control plane and the moto emulator, bounded
# in time (TIMEOUT seconds per phase). Applies USERS password Secrets and USERS AppUsers
# of one UserPool, then reports
#   - seconds from the AppUsers' apply until all are Ready (and the apply's own share),
#   - Cognito calls per new user (by operation),
#   - Cognito calls during one idle resync (the census) once all are Ready,
#   - the operator's peak RSS,
#   - the same users created by a plain program (tests/src/bin/plain-provisioning.rs: the
#     same calls, rate limits and concurrency, no Kubernetes), and the ratio of the two.
# Cognito rate limits are the operator's defaults (AWS's default quotas).
#   USERS=1000 operator/bench/scale.sh
#   USERS=10000 RESYNC=120 BASELINE=0 operator/bench/scale.sh   (no plain-program run)
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/env/common.sh"
: "${USERS:=1000}" "${RESYNC:=60}" "${TIMEOUT:=1800}" "${METRICS_PORT:=18481}"
PASSWORD="Bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')-Pw1"
export BENCH_PASSWORD="$PASSWORD"

work="$(mktemp -d)"
ns="bench-$USERS-$$"
operator_pid=""
cleanup() {
    # Users and the pool are Retain: deleting the namespace makes no AWS call, but the
    # operator must still run to take its finalizers off, or the namespace never goes.
    kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
    if [ -n "$operator_pid" ]; then
        kubectl wait --for=delete "namespace/$ns" --timeout=600s >/dev/null 2>&1 ||
            log "namespace $ns still terminating; run the operator to finish it"
        kill "$operator_pid" 2>/dev/null || true
        wait "$operator_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$REPO_ROOT/tests/env/up.sh" >/dev/null
eval "$("$REPO_ROOT/tests/env/controlplane.sh" env)"
eval "$("$REPO_ROOT/tests/env/moto.sh" env)"
export PATH="$BIN_DIR/current:$PATH"
kubectl apply --server-side -f "$REPO_ROOT/crds/" >/dev/null

log "building the operator and the baseline (release)"
cargo build --release --locked -p cognito-operator --bin cognito-operator \
    -p cognito-operator-tests --bin plain-provisioning --manifest-path "$REPO_ROOT/Cargo.toml" >&2
release="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release"

metric() { # metric <name-and-labels-regex>: the sum of matching samples
    # Label values hold spaces ("Cognito Identity Provider"): the value is the last field.
    curl -fsS "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk -v re="$1" '$0 !~ /^#/ && $0 ~ re { sum += $NF } END { printf "%d\n", sum }'
}
calls() { metric "^cognito_operator_aws_calls_total\\{.*operation=\"$1\""; }
ok_calls() { metric "^cognito_operator_aws_calls_total\\{.*operation=\"$1\",outcome=\"success\""; }
failed_attempts() { metric '^cognito_operator_aws_calls_total\{.*service="Cognito Identity Provider".*outcome="(error|throttled)"'; }
cognito_calls() { metric '^cognito_operator_aws_calls_total\{.*service="Cognito Identity Provider"'; }
writes() { metric '^cognito_operator_aws_calls_total\{.*operation="Admin(Create|Set|Update|Delete|Enable|Disable|Add|Remove)'; }
ready_count() {
    kubectl get appusers -n "$ns" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
        grep -c '^True$' || true
}
# No AppUser reconcile is running: as many have finished (the duration histogram's count)
# as have started.
reconciles_settled() {
    [ "$(metric '^cognito_operator_reconciles_total\{kind="AppUser"')" = \
        "$(metric '^cognito_operator_reconcile_duration_seconds_count\{kind="AppUser"')" ]
}
peak_rss_mb() { awk '/^VmHWM/ { printf "%.1f\n", $2 / 1024 }' "/proc/$operator_pid/status"; }

kubectl create namespace "$ns" >/dev/null
WATCH_NAMESPACES="$ns" METRICS_ADDR="127.0.0.1:$METRICS_PORT" RESYNC_INTERVAL_SECONDS="$RESYNC" \
    LOG_FORMAT=json RUST_LOG=info "$release/cognito-operator" run >"$work/operator.log" 2>&1 &
operator_pid=$!
wait_for 60 "operator metrics" curl -fsS "http://127.0.0.1:$METRICS_PORT/readyz"

kubectl apply -n "$ns" -f - >/dev/null <<YAML
apiVersion: cognito.kubeauth.dev/v1alpha1
kind: UserPool
metadata: {name: bench}
spec:
  region: us-east-1
  passwordPolicy: {minimumLength: 10}
  clients: [{name: bench}]
  deletionPolicy: Retain
YAML
kubectl wait -n "$ns" userpool/bench --for=condition=Ready --timeout=120s >/dev/null
pool_id="$(kubectl get -n "$ns" userpool/bench -o jsonpath='{.status.userPoolId}')"

log "writing $USERS Secrets and $USERS AppUsers"
python3 - "$USERS" "$PASSWORD" "$work" <<'PY'
import json, sys
users, password, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def write(path, items):
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
# In chunks of 100, applied in parallel: one kubectl would spend a minute per thousand
# objects on round trips, which is the client's cost, not the operator's.
for chunk in range(0, users, 100):
    write(f"{work}/secrets-{chunk // 100:05d}.json", [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"user-{n}"},
         "stringData": {"password": password}} for n in range(chunk, min(chunk + 100, users))])
    write(f"{work}/appusers-{chunk // 100:05d}.json", [
        {"apiVersion": "cognito.kubeauth.dev/v1alpha1", "kind": "AppUser",
         "metadata": {"name": f"user-{n}"},
         "spec": {"userPoolRef": {"name": "bench"}, "email": f"user-{n}@bench.example",
                  "passwordSecretRef": {"name": f"user-{n}", "key": "password"},
                  "deletionPolicy": "Retain"}} for n in range(chunk, min(chunk + 100, users))])
PY
apply_all() { # apply_all <file prefix>
    printf '%s\n' "$work/$1"-*.json |
        xargs -P "${APPLY_PARALLELISM:-8}" -I{} kubectl apply --server-side -n "$ns" -f {} >/dev/null
}
apply_all secrets

log "applying $USERS AppUsers"
SECONDS=0
start_ms=$(date +%s%3N)
apply_all appusers
apply_s=$(( ($(date +%s%3N) - start_ms) ))
all_ready() { [ "$(ready_count)" -ge "$USERS" ]; }
wait_for "$TIMEOUT" "all $USERS AppUsers Ready" all_ready ||
    die "only $(ready_count) of $USERS AppUsers Ready after ${TIMEOUT}s (log: $work/operator.log)"
ready_ms=$(( $(date +%s%3N) - start_ms ))
created=$(ok_calls AdminCreateUser)
set_password=$(ok_calls AdminSetUserPassword)
all_cognito=$(cognito_calls)
retried=$(failed_attempts)
rss_ready=$(peak_rss_mb)
log "all $USERS Ready after $((ready_ms / 1000))s"

log "idle resync: one census window of ${RESYNC}s"
wait_for 60 "no AppUser reconcile running" reconciles_settled
list_before=$(calls ListUsers); writes_before=$(writes); cognito_before=$(cognito_calls)
# What is measured is a window of time (the calls one resync interval costs), not an
# event: this wait is the measurement.
sleep "$RESYNC"
list_idle=$(( $(calls ListUsers) - list_before ))
writes_idle=$(( $(writes) - writes_before ))
cognito_idle=$(( $(cognito_calls) - cognito_before ))
rss_peak=$(peak_rss_mb)

plain_ms=0
if [ "${BASELINE:-1}" = 1 ]; then
log "baseline: the same calls from a plain program"
plain_pool="$("$CACHE_DIR/venv-moto/bin/python" - <<'PY'
import boto3
pool = boto3.client("cognito-idp").create_user_pool(
    PoolName="bench-plain", UsernameAttributes=["email"],
    Policies={"PasswordPolicy": {"MinimumLength": 10}})
print(pool["UserPool"]["Id"])
PY
)"
plain_json="$("$release/plain-provisioning" --pool-id "$plain_pool" --count "$USERS" --prefix "plain-$$")"
plain_ms=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["seconds"] * 1000))' "$plain_json")
fi

if grep -qF "$PASSWORD" "$work/operator.log"; then die "the password appears in the operator log"; fi

ratio() { python3 -c 'import sys; print(f"{int(sys.argv[1]) / max(int(sys.argv[2]), 1):.2f}")' "$1" "$2"; }
plain_s="n/a" vs_plain="n/a"
if [ "$plain_ms" -gt 0 ]; then plain_s=$(ratio "$plain_ms" 1000); vs_plain=$(ratio "$ready_ms" "$plain_ms"); fi
cat <<TABLE

| AppUsers | apply (s) | all Ready (s) | plain program (s) | operator / plain | Cognito calls per new user | calls in one idle resync | peak RSS (MB) |
|---:|---:|---:|---:|---:|---|---|---:|
| $USERS | $(ratio "$apply_s" 1000) | $(ratio "$ready_ms" 1000) | $plain_s | $vs_plain | $(ratio "$((created + set_password))" "$USERS") ($created AdminCreateUser, $set_password AdminSetUserPassword succeeded; $all_cognito attempts, $retried failed and retried) | $cognito_idle ($list_idle ListUsers, $writes_idle writes) | $rss_peak (at Ready: $rss_ready) |
TABLE
echo "pool $pool_id; operator log kept until exit: $work/operator.log" >&2
