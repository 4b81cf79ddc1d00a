#!/usr/bin/env bash
# Install the moto AWS emulator (tests/moto/requirements.txt) into a cached venv.
#
# The venv is "$CACHE/venv-moto-<hash>", the hash covering requirements.txt and
# the Python version, so a changed pin set (or interpreter) gets a fresh venv
# and an unchanged one is reused at once. "$CACHE/venv-moto" is symlinked to
# the current one. The venv path is printed as the last line of stdout.
#
# Env: COGNITO_OPERATOR_CACHE (default: <repo>/.cache), PYTHON (default: python3).
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
CACHE="$CACHE_DIR"
REQUIREMENTS="$REPO_ROOT/tests/moto/requirements.txt"
PYTHON="${PYTHON:-python3}"

log() { echo "install-moto: $*" >&2; }

command -v "$PYTHON" >/dev/null || { log "no $PYTHON on PATH"; exit 1; }
py_version="$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
venv="$CACHE/venv-moto-$({ cat "$REQUIREMENTS"; echo "python $py_version"; } | short_hash)"

create_venv() {
  log "python $py_version, pins from $REQUIREMENTS"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-input -r "$REQUIREMENTS"
}
install_once venv-moto "$venv" create_venv

ln -sfn "$venv" "$CACHE/venv-moto"
echo "$venv"
