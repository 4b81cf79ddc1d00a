#!/usr/bin/env bash
# Installs (once, cached) and starts the local control plane, the AWS emulator and the
# node (kubelet + containerd, so pods run). Idempotent: what is already running and
# healthy is reused.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$REPO_ROOT/tests/env/install-k8s.sh"
"$REPO_ROOT/tests/env/install-node.sh"
"$REPO_ROOT/tests/env/install-moto.sh" >/dev/null
"$REPO_ROOT/tests/env/controlplane.sh" start >/dev/null
"$REPO_ROOT/tests/env/moto.sh" start >/dev/null
"$REPO_ROOT/tests/env/node.sh" start >/dev/null
log "control plane, AWS emulator and node are up; for your shell:"
"$REPO_ROOT/tests/env/controlplane.sh" env
"$REPO_ROOT/tests/env/moto.sh" env
"$REPO_ROOT/tests/env/node.sh" env
