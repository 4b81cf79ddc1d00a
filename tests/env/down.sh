#!/usr/bin/env bash
# Stops what run-local.sh and up.sh started: the operator and webhook-api (by recorded
# pid, or the Helm release run-local.sh installed), the node, the AWS emulator and the
# local control plane. `down.sh --clean` also
# drops the etcd data and the node's images.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for name in webhook-api operator; do
  pid_file="$RUN_DIR/local/$name.pid"
  [[ -f "$pid_file" ]] || continue
  pid="$(cat "$pid_file")"
  # Only a process still running our binary: a stale pid may belong to anything.
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$REPO_ROOT/target/debug/"; then
    kill -TERM "$pid"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pid_file"
done
release_file="$RUN_DIR/local/release"
if [[ -f "$release_file" ]]; then
  read -r namespace kubeconfig <"$release_file"
  KUBECONFIG="$kubeconfig" "$BIN_DIR/current/helm" uninstall cognito-operator -n "$namespace" \
    >/dev/null 2>&1 && log "uninstalled the chart from $namespace"
  rm -f "$release_file"
fi
"$REPO_ROOT/tests/env/node.sh" stop "$@"
"$REPO_ROOT/tests/env/moto.sh" stop
"$REPO_ROOT/tests/env/controlplane.sh" stop "$@"
