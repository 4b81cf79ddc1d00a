#!/usr/bin/env bash
# Runs the product locally: the control plane and the AWS emulator, the CRDs, the
# operator with a sample UserPool, and webhook-api trusting that pool. Leaves
# everything running; tests/env/down.sh stops it.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$REPO_ROOT"

step() {
  local started=$SECONDS
  log "$1"
  shift
  "$@"
  log "  done in $((SECONDS - started))s"
}

step "installing and starting the control plane and the AWS emulator" \
  "$REPO_ROOT/tests/env/up.sh"
export KUBECONFIG="$RUN_DIR/controlplane/kubeconfig" PATH="$BIN_DIR/current:$PATH"
step "installing the CRDs" kubectl apply --server-side -f crds/
step "waiting for the CRDs" kubectl wait --for=condition=Established --timeout=60s \
  crd/userpools.cognito.kubeauth.dev crd/appusers.cognito.kubeauth.dev

LOCAL_DIR="$RUN_DIR/local"
mkdir -p "$LOCAL_DIR"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT:-5055}" AWS_ACCESS_KEY_ID=testing \
  AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1

# start_service NAME COMMAND...: runs COMMAND in the background, logging to
# $LOCAL_DIR/NAME.log, and records its pid for down.sh. A running one is kept.
start_service() {
  local name="$1"; shift
  local pid_file="$LOCAL_DIR/$name.pid"
  if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    log "  $name already running (pid $(cat "$pid_file"))"
    return 0
  fi
  setsid nohup "$@" >>"$LOCAL_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
}

step "building the operator and webhook-api" \
  cargo build --quiet -p cognito-operator -p webhook-api
step "starting the operator (log: $LOCAL_DIR/operator.log)" \
  start_service operator env METRICS_ADDR=127.0.0.1:8081 LOG_FORMAT=text \
  "$REPO_ROOT/target/debug/cognito-operator" run
step "applying examples/userpool.yaml" kubectl apply -f examples/userpool.yaml
step "waiting for the UserPool to be Ready" \
  kubectl wait --for=condition=Ready --timeout=120s userpool/demo
kubectl get userpool demo
step "starting webhook-api on 127.0.0.1:8080 (log: $LOCAL_DIR/webhook-api.log)" \
  start_service webhook-api "$REPO_ROOT/target/debug/webhook-api" \
  --listen 127.0.0.1:8080 --discover-user-pools
step "waiting for webhook-api to have the pool's keys" \
  wait_for 60 "webhook-api /readyz" curl -fsS http://127.0.0.1:8080/readyz

cat <<MSG

Running: the control plane, the AWS emulator, the operator (metrics on
127.0.0.1:8081) and webhook-api (127.0.0.1:8080), with the UserPool "demo" Ready.
To use them from your shell:

  $("$REPO_ROOT/tests/env/controlplane.sh" env)
  $("$REPO_ROOT/tests/env/moto.sh" env)
  kubectl get userpools,appusers
  kubectl get secret demo-cognito -o jsonpath='{.data.clientId}' | base64 -d

Users (AppUser), sign-in with cognito-client and the protected fetch are not built yet,
so this run stops here. Stop everything with: bash tests/env/down.sh
MSG
