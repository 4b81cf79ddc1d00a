#!/usr/bin/env bash
# Install the SRP reference implementation for cognito-client's tests:
# amazon-cognito-identity-js, pinned by client/srp-reference/package-lock.json.
#
# The packages go to "$CACHE/srp-reference-<hash>/node_modules", the hash covering the
# package files and Node's version, so an unchanged lockfile is reused at once. The
# test runs client/srp-reference/reference.js with NODE_PATH set to that folder, which
# is printed as the last line of stdout.
#
# Env: COGNITO_OPERATOR_CACHE (default: <repo>/.cache). Needs node and npm on PATH.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
PACKAGE="$REPO_ROOT/client/srp-reference"

log() { echo "install-srp-reference: $*" >&2; }

for tool in node npm; do
  command -v "$tool" >/dev/null || { log "no $tool on PATH"; exit 1; }
done
dir="$CACHE_DIR/srp-reference-$({ cat "$PACKAGE/package.json" "$PACKAGE/package-lock.json"
  node --version; } | short_hash)"

install_packages() {
  log "node $(node --version), pins from $PACKAGE/package-lock.json"
  cp "$PACKAGE/package.json" "$PACKAGE/package-lock.json" "$dir/"
  # The packages need no install scripts; not running any is the safer default.
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
}
install_once srp-reference "$dir" install_packages

echo "$dir/node_modules"
