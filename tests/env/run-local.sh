#!/usr/bin/env bash
# Runs the product locally: the control plane and the AWS emulator, with the CRDs
# installed. Leaves everything running; tests/env/down.sh stops it.
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

cat <<MSG

The control plane and the AWS emulator are running. To use them from your shell:

  $("$REPO_ROOT/tests/env/controlplane.sh" env)
  $("$REPO_ROOT/tests/env/moto.sh" env)
  kubectl get crd
  kubectl explain userpool.spec

The operator, webhook-api and the sample sign-in are not built yet, so this run stops
here. Stop everything with: bash tests/env/down.sh
MSG
