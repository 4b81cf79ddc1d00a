#!/usr/bin/env bash
# Stops the local control plane and the AWS emulator started by up.sh.
set -euo pipefail

dir="$(dirname "${BASH_SOURCE[0]}")"
"$dir/moto.sh" stop
"$dir/controlplane.sh" stop "$@"
