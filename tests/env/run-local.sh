#!/usr/bin/env bash
# Runs the whole product locally, printing each step and how long it took: the control
# plane, the local node and the AWS emulator; the operator and webhook-api images built
# from this checkout and installed with the Helm chart (what a user does); then
# examples/ (a UserPool, a password Secret and an AppUser), a cognito-client sign-in and
# a fetch of the protected /api/me through the webhook-api Service.
#
#   run-local.sh [--keep-running | --once] [--host-binaries] [--existing-cluster] [--real-aws]
#
#   (default)           then wait: Ctrl-C stops everything this run started
#   --keep-running      leave everything running and exit (tests/env/down.sh stops it)
#   --once              stop everything this run started right after the fetch
#   --host-binaries     run the operator and webhook-api as processes on this machine
#                       (debug build, no images, no chart): the fast development loop
#   --existing-cluster  use the cluster of $KUBECONFIG instead of the local control
#                       plane (implied when KUBECONFIG is set). With the chart, its images
#                       come from the local node if that is the cluster's, else from
#                       IMAGE_REGISTRY, to which they are pushed first
#   --real-aws          use AWS (standard credential chain, AWS_REGION) instead of the
#                       emulator: creates a real pool (Retain) and user; with
#                       --host-binaries only (the pods would need AWS credentials)
#
# Env: DEMO_NAMESPACE (cognito-demo: the demo objects, and the release with the chart),
# OPERATOR_METRICS_PORT (8081), WEBHOOK_API_PORT (8080), WEBHOOK_API_METRICS_PORT (9090)
# (the last three with --host-binaries), RUN_LOCAL_DIR (logs, pids and the CLI's files;
# .cache/run/local). The operator watches every namespace, as an installed one does
# (WATCH_NAMESPACES, if set, narrows it); webhook-api trusts DEMO_NAMESPACE's pools only.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

mode=wait existing_cluster=false real_aws=false host_binaries=false
[[ -n "${KUBECONFIG:-}" ]] && existing_cluster=true
for arg in "$@"; do
  case "$arg" in
    --keep-running) mode=keep ;;
    --once) mode=once ;;
    --existing-cluster) existing_cluster=true ;;
    --real-aws) real_aws=true ;;
    --host-binaries) host_binaries=true ;;
    *) die "unknown argument $arg (see the header of $0)" ;;
  esac
done

if $real_aws && ! $host_binaries; then
  die "--real-aws needs --host-binaries: the chart's pods would need AWS credentials (see docs/install-eks.md for a real cluster)"
fi
NAMESPACE="${DEMO_NAMESPACE:-cognito-demo}"
OPERATOR_METRICS_PORT="${OPERATOR_METRICS_PORT:-8081}"
WEBHOOK_API_PORT="${WEBHOOK_API_PORT:-8080}"
WEBHOOK_API_METRICS_PORT="${WEBHOOK_API_METRICS_PORT:-9090}"
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
      controlplane | moto | node) "$REPO_ROOT/tests/env/${started[i]}.sh" stop >/dev/null 2>&1 || true ;;
      release)
        helm uninstall cognito-operator -n "$NAMESPACE" >/dev/null 2>&1 || true
        rm -f "$LOCAL_DIR/release"
        ;;
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
  { command -v kubectl && command -v helm; } >/dev/null || PATH="$BIN_DIR/current:$PATH"
else
  step "installing the Kubernetes binaries (built once, cached)" "$REPO_ROOT/tests/env/install-k8s.sh"
  "$REPO_ROOT/tests/env/controlplane.sh" status >/dev/null 2>&1 || started+=(controlplane)
  step "starting the local control plane" "$REPO_ROOT/tests/env/controlplane.sh" start
  if ! $host_binaries; then
    step "installing the local node's binaries (built once, cached)" "$REPO_ROOT/tests/env/install-node.sh"
    "$REPO_ROOT/tests/env/node.sh" status >/dev/null 2>&1 || started+=(node)
    step "starting the local node (containerd, kubelet, kube-proxy)" "$REPO_ROOT/tests/env/node.sh" start
  fi
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

# kubectl wait fails at once on a just-created CRD whose status.conditions is still
# null ("accessor error: <nil>"), so it is asked again.
crds_established() {
  for _ in {1..10}; do
    kubectl wait --for=condition=Established --timeout=60s \
      crd/userpools.cognito.kubeauth.dev crd/appusers.cognito.kubeauth.dev 2>/dev/null && return 0
    sleep 1
  done
  kubectl wait --for=condition=Established --timeout=60s \
    crd/userpools.cognito.kubeauth.dev crd/appusers.cognito.kubeauth.dev
}

step "installing the CRDs" kubectl apply --server-side -f crds/
step "waiting for the CRDs" crds_established
kubectl create namespace "$NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

secret_value() {
  kubectl get -n "$NAMESPACE" secret "$1" -o jsonpath="{.data.$2}" | base64 -d
}

# reconciled_ready OBJECT TIMEOUT: asks the operator to check OBJECT against AWS now, and
# waits until it has done so and OBJECT is Ready. An object left by an earlier run may
# still show the Ready of a pool or user the emulator has since forgotten.
reconciled_ready() {
  local request
  request="run-local-$(date +%s%N)"
  kubectl annotate -n "$NAMESPACE" "$1" --overwrite \
    "cognito.kubeauth.dev/reconcile-requested-at=$request" >/dev/null
  kubectl wait -n "$NAMESPACE" --timeout="$2" "$1" \
    --for=jsonpath="{.status.lastHandledReconcileAt}=$request" >/dev/null
  kubectl wait -n "$NAMESPACE" --timeout="$2" "$1" --for=condition=Ready
}

wait_for_pool() {
  step "applying examples/userpool.yaml" kubectl apply -n "$NAMESPACE" -f examples/userpool.yaml
  step "waiting for the UserPool to be Ready (CloudFormation stack)" \
    reconciled_ready userpool/demo 300s
  kubectl get -n "$NAMESPACE" userpool demo
}

# --host-binaries: the debug binaries as local processes.
run_on_host() {
  # `--tests` too: the feature set the test suite builds the same binaries with, so
  # running this script and the tests one after the other does not rebuild them each time.
  step "building the operator, webhook-api and cognito-client" \
    cargo build --quiet --workspace --bins --tests
  step "starting the operator (log: $LOCAL_DIR/operator.log)" \
    start_service operator env METRICS_ADDR="127.0.0.1:$OPERATOR_METRICS_PORT" LOG_FORMAT=text \
    "$target/cognito-operator" run
  step "waiting for the operator" \
    wait_for 60 "operator /readyz" curl -fsS "http://127.0.0.1:$OPERATOR_METRICS_PORT/readyz"
  wait_for_pool
  local pool_id
  pool_id="$(secret_value demo-cognito userPoolId)"
  API_URL="http://127.0.0.1:$WEBHOOK_API_PORT"
  step "starting webhook-api on $API_URL (log: $LOCAL_DIR/webhook-api.log)" \
    start_service webhook-api "$target/webhook-api" --listen "127.0.0.1:$WEBHOOK_API_PORT" \
    --metrics-listen "127.0.0.1:$WEBHOOK_API_METRICS_PORT" \
    --discover-user-pools --discovery-namespaces "$NAMESPACE" --signup-user-pool-id "$pool_id" \
    ${AWS_ENDPOINT_URL:+--cognito-emulator-endpoint "$AWS_ENDPOINT_URL"}
  step "waiting for webhook-api to have the pool's keys" \
    wait_for 60 "webhook-api /readyz" curl -fsS "$API_URL/readyz"
}

# The images where the cluster finds them: the local node's containerd, or a registry.
provide_images() {
  local archive
  if "$REPO_ROOT/tests/env/node.sh" status >/dev/null 2>&1; then
    for archive in $("$REPO_ROOT/tests/env/images.sh" build); do
      "$REPO_ROOT/tests/env/node.sh" load "$archive"
    done
  elif [[ -n "${IMAGE_REGISTRY:-}" ]]; then
    "$REPO_ROOT/tests/env/images.sh" build --push
  else
    die "the cluster has no local node to load the images into: set IMAGE_REGISTRY (pushed to, then pulled by the cluster) or use --host-binaries"
  fi
}

# The default: the images in the cluster, the chart installed, its pods Ready.
run_chart() {
  local sets=() endpoint="" namespaces
  step "building both images (release build, BuildKit) and loading them" provide_images
  if [[ -n "${IMAGE_REGISTRY:-}" ]]; then
    sets+=(--set "operator.image.repository=$IMAGE_REGISTRY/cognito-operator"
      --set "webhookApi.image.repository=$IMAGE_REGISTRY/webhook-api")
  fi
  if [[ -n "${AWS_ENDPOINT_URL:-}" ]]; then
    # Pods reach the emulator at the node address, not at this machine's loopback.
    endpoint="${AWS_ENDPOINT_URL/127.0.0.1/$NODE_ADDRESS}"
    sets+=(--set "aws.endpointUrl=$endpoint"
      --set "webhookApi.discovery.cognitoEmulatorEndpoint=$endpoint")
    local i=0 name
    for name in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_EC2_METADATA_DISABLED; do
      local value="${!name:-true}"
      sets+=(--set "operator.extraEnv[$i].name=$name" --set-string "operator.extraEnv[$i].value=$value"
        --set "webhookApi.extraEnv[$i].name=$name" --set-string "webhookApi.extraEnv[$i].value=$value")
      i=$((i + 1))
    done
  fi
  if [[ -n "${WATCH_NAMESPACES:-}" ]]; then
    namespaces="${WATCH_NAMESPACES//,/\,}"
    sets+=(--set "operator.watchNamespaces={$namespaces}")
  fi
  kubectl label namespace "$NAMESPACE" --overwrite pod-security.kubernetes.io/enforce=restricted >/dev/null
  if ! helm status cognito-operator -n "$NAMESPACE" >/dev/null 2>&1; then
    started+=(release)
    # For down.sh: a release left running would come back with the node, watching
    # every namespace (the tests' too).
    printf '%s %s\n' "$NAMESPACE" "$KUBECONFIG" >"$LOCAL_DIR/release"
  fi
  step "installing the chart into $NAMESPACE (both Deployments Ready)" \
    helm upgrade --install cognito-operator charts/cognito-operator -n "$NAMESPACE" \
    --set aws.region="${AWS_REGION:-us-east-1}" --set webhookApi.discovery.enabled=true \
    --set "webhookApi.discovery.namespaces={$NAMESPACE}" "${sets[@]}" --wait --timeout 180s
  kubectl get -n "$NAMESPACE" pods -o wide
  wait_for_pool
  local cluster_ip
  cluster_ip="$(kubectl get -n "$NAMESPACE" service cognito-operator-webhook-api -o jsonpath='{.spec.clusterIP}')"
  API_URL="http://$cluster_ip:80"
  log "webhook-api's Service: $API_URL"
}

target="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug"
if $host_binaries; then
  run_on_host
else
  step "building cognito-client" cargo build --quiet --workspace --bins --tests
  run_chart
fi
pool_id="$(secret_value demo-cognito userPoolId)"
client_id="$(secret_value demo-cognito clientId)"

step "applying examples/appuser.yaml (a password Secret and an AppUser)" \
  kubectl apply -n "$NAMESPACE" -f examples/appuser.yaml
step "waiting for the AppUser to be Ready (user created with a permanent password)" \
  reconciled_ready appuser/ada 120s
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
  $target/cognito-client sign-out
MSG
$real_aws || cat <<MSG

AWS here is the moto emulator with the plugins in tests/moto/ (README, "AWS emulator"):
sign-in checks the password as Cognito does (the SRP proof too), unknown users get
"Incorrect username or password.", and sign-out revokes the refresh token and its access
tokens. It sends no e-mail, runs no Lambda trigger, and all pools share one signing key.
MSG

case "$mode" in
  keep) log "left running; stop everything with: bash tests/env/down.sh" ;;
  once) ;;
  wait)
    log "running; press Ctrl-C to stop everything this run started"
    while sleep 3600; do :; done
    ;;
esac
