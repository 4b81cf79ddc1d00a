#!/usr/bin/env bash
# Runs the whole product locally, printing each step and how long it took: the control
# plane and the AWS emulator, the CRDs, the operator and webhook-api, examples/ (a
# UserPool, a password Secret and an AppUser), then signs in with cognito-client and
# fetches the protected /api/me.
#
#   run-local.sh [--keep-running | --once] [--existing-cluster] [--real-aws]
#
#   (default)           then wait: Ctrl-C stops everything this run started
#   --keep-running      leave everything running and exit (tests/env/down.sh stops it)
#   --once              stop everything this run started right after the fetch
#   --existing-cluster  use the cluster of $KUBECONFIG instead of the local control
#                       plane (implied when KUBECONFIG is set)
#   --real-aws          use AWS (standard credential chain, AWS_REGION) instead of the
#                       emulator: creates a real pool (Retain) and user
#
# Env: DEMO_NAMESPACE (cognito-demo), OPERATOR_METRICS_PORT (8081), WEBHOOK_API_PORT
# (8080), WEBHOOK_API_METRICS_PORT (9090), RUN_LOCAL_DIR (logs, pids and the CLI's files; .cache/run/local). The operator
# watches every namespace, as an installed one does (WATCH_NAMESPACES, if set, narrows it
# as it does for the binary); webhook-api discovers pools in DEMO_NAMESPACE only.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

mode=wait existing_cluster=false real_aws=false
[[ -n "${KUBECONFIG:-}" ]] && existing_cluster=true
for arg in "$@"; do
  case "$arg" in
    --keep-running) mode=keep ;;
    --once) mode=once ;;
    --existing-cluster) existing_cluster=true ;;
    --real-aws) real_aws=true ;;
    *) die "unknown argument $arg (see the header of $0)" ;;
  esac
done

NAMESPACE="${DEMO_NAMESPACE:-cognito-demo}"
OPERATOR_METRICS_PORT="${OPERATOR_METRICS_PORT:-8081}"
WEBHOOK_API_PORT="${WEBHOOK_API_PORT:-8080}"
WEBHOOK_API_METRICS_PORT="${WEBHOOK_API_METRICS_PORT:-9090}"
API_URL="http://127.0.0.1:$WEBHOOK_API_PORT"
LOCAL_DIR="${RUN_LOCAL_DIR:-$RUN_DIR/local}"
mkdir -p "$LOCAL_DIR"

step() {
  local step_start=$SECONDS
  log "$1"
  shift
  "$@"
  log "  done in $((SECONDS - step_start))s"
}

# What this run started, stopped in reverse order unless it is to keep running.
started=()
stop_started() {
  local status=$?
  if [[ "$mode" == keep && $status -eq 0 ]]; then return; fi
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    case "${started[i]}" in
      controlplane | moto) "$REPO_ROOT/tests/env/${started[i]}.sh" stop >/dev/null 2>&1 || true ;;
      *) stop_service "${started[i]}" ;;
    esac
  done
  ((${#started[@]} == 0)) || log "stopped what this run started: ${started[*]}"
}
trap stop_started EXIT
trap 'exit 130' INT TERM

# start_service NAME COMMAND...: runs COMMAND in the background, logging to
# $LOCAL_DIR/NAME.log, and records its pid (for down.sh too). A running one is kept.
start_service() {
  local name="$1"; shift
  local pid_file="$LOCAL_DIR/$name.pid"
  if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    log "  $name already running (pid $(cat "$pid_file"))"
    return 0
  fi
  setsid nohup "$@" >>"$LOCAL_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  started+=("$name")
}

stop_service() {
  local pid_file="$LOCAL_DIR/$1.pid"
  [[ -f "$pid_file" ]] || return 0
  kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
  rm -f "$pid_file"
}

if $existing_cluster; then
  [[ -n "${KUBECONFIG:-}" ]] || export KUBECONFIG="$HOME/.kube/config"
  log "using the existing cluster of $KUBECONFIG"
  # kubectl and helm from this repo's cache when the machine has none.
  command -v kubectl >/dev/null || PATH="$BIN_DIR/current:$PATH"
else
  step "installing the Kubernetes binaries (built once, cached)" "$REPO_ROOT/tests/env/install-k8s.sh"
  "$REPO_ROOT/tests/env/controlplane.sh" status >/dev/null 2>&1 || started+=(controlplane)
  step "starting the local control plane" "$REPO_ROOT/tests/env/controlplane.sh" start
  export KUBECONFIG="$RUN_DIR/controlplane/kubeconfig"
  PATH="$BIN_DIR/current:$PATH"
fi
export PATH
if $real_aws; then
  unset AWS_ENDPOINT_URL
  log "using real AWS (region ${AWS_REGION:-from your AWS config})"
else
  step "installing the AWS emulator" "$REPO_ROOT/tests/env/install-moto.sh"
  "$REPO_ROOT/tests/env/moto.sh" status >/dev/null 2>&1 || started+=(moto)
  step "starting the AWS emulator" "$REPO_ROOT/tests/env/moto.sh" start
  eval "$("$REPO_ROOT/tests/env/moto.sh" env)"
fi

step "installing the CRDs" kubectl apply --server-side -f crds/
step "waiting for the CRDs" kubectl wait --for=condition=Established --timeout=60s \
  crd/userpools.cognito.kubeauth.dev crd/appusers.cognito.kubeauth.dev
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# `--tests` too: the feature set the test suite builds the same binaries with, so running
# this script and the tests one after the other does not rebuild them each time.
step "building the operator, webhook-api and cognito-client" \
  cargo build --quiet --workspace --bins --tests
target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug"
step "starting the operator (log: $LOCAL_DIR/operator.log)" \
  start_service operator env METRICS_ADDR="127.0.0.1:$OPERATOR_METRICS_PORT" LOG_FORMAT=text \
  "$target/cognito-operator" run
step "waiting for the operator" \
  wait_for 60 "operator /readyz" curl -fsS "http://127.0.0.1:$OPERATOR_METRICS_PORT/readyz"

step "applying examples/userpool.yaml" kubectl apply -n "$NAMESPACE" -f examples/userpool.yaml
step "waiting for the UserPool to be Ready (CloudFormation stack)" \
  kubectl wait -n "$NAMESPACE" --for=condition=Ready --timeout=300s userpool/demo
kubectl get -n "$NAMESPACE" userpool demo

secret_value() {
  kubectl get -n "$NAMESPACE" secret "$1" -o jsonpath="{.data.$2}" | base64 -d
}
pool_id="$(secret_value demo-cognito userPoolId)"
client_id="$(secret_value demo-cognito clientId)"
step "starting webhook-api on $API_URL (log: $LOCAL_DIR/webhook-api.log)" \
  start_service webhook-api "$target/webhook-api" --listen "127.0.0.1:$WEBHOOK_API_PORT" \
  --metrics-listen "127.0.0.1:$WEBHOOK_API_METRICS_PORT" \
  --discover-user-pools --discovery-namespaces "$NAMESPACE" --signup-user-pool-id "$pool_id" \
  ${AWS_ENDPOINT_URL:+--cognito-emulator-endpoint "$AWS_ENDPOINT_URL"}
step "waiting for webhook-api to have the pool's keys" \
  wait_for 60 "webhook-api /readyz" curl -fsS "$API_URL/readyz"

step "applying examples/appuser.yaml (a password Secret and an AppUser)" \
  kubectl apply -n "$NAMESPACE" -f examples/appuser.yaml
step "waiting for the AppUser to be Ready (user created with a permanent password)" \
  kubectl wait -n "$NAMESPACE" --for=condition=Ready --timeout=120s appuser/ada
kubectl get -n "$NAMESPACE" appuser ada

# The CLI keeps its profile and token cache here, not in your own config directory.
export XDG_CONFIG_HOME="$LOCAL_DIR/xdg" COGNITO_CLIENT_USER_POOL_ID="$pool_id" \
  COGNITO_CLIENT_CLIENT_ID="$client_id" COGNITO_CLIENT_API_URL="$API_URL"
email="$(kubectl get -n "$NAMESPACE" appuser ada -o jsonpath='{.spec.email}')"
step "signing in as $email with cognito-client (SRP: the password never leaves this machine)" \
  bash -c 'set -o pipefail; kubectl get -n "$1" secret ada-password -o jsonpath="{.data.password}" |
    base64 -d | "$2" sign-in --email "$3" --password-stdin' _ "$NAMESPACE" "$target/cognito-client" "$email"
step "fetching the protected $API_URL/api/me with the cached access token" \
  "$target/cognito-client" fetch /api/me
echo

cat <<MSG
The whole flow works: UserPool "demo" and AppUser "ada" are Ready in namespace
$NAMESPACE, ada signed in, and webhook-api accepted her token. To use it from your shell:

  export KUBECONFIG=$KUBECONFIG PATH=$BIN_DIR/current:\$PATH
  export XDG_CONFIG_HOME=$XDG_CONFIG_HOME COGNITO_CLIENT_USER_POOL_ID=$pool_id COGNITO_CLIENT_CLIENT_ID=$client_id COGNITO_CLIENT_API_URL=$API_URL
MSG
$real_aws || echo "  $("$REPO_ROOT/tests/env/moto.sh" env)"
cat <<MSG
  kubectl get -n $NAMESPACE userpools,appusers
  $target/cognito-client whoami
  $target/cognito-client fetch /api/me
MSG

case "$mode" in
  keep) log "left running; stop everything with: bash tests/env/down.sh" ;;
  once) ;;
  wait)
    log "running; press Ctrl-C to stop everything this run started"
    while sleep 3600; do :; done
    ;;
esac
