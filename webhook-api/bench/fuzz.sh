#!/usr/bin/env bash
# Fuzzes webhook-api's token-parsing path for a bounded time (default 60 s).
# Needs a nightly toolchain and cargo-fuzz (installed here when missing).
#   FUZZ_SECONDS=300 webhook-api/bench/fuzz.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# A few well-formed seeds so the fuzzer starts from real token shapes.
corpus=fuzz/corpus/parse_token
mkdir -p "$corpus"
b64() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
header=$(b64 '{"alg":"RS256","kid":"fuzz"}')
claims=$(b64 '{"iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_fuzz","sub":"s","token_use":"access","client_id":"client","exp":1800000000,"cognito:groups":["admins"],"scope":"read"}')
printf '%s.%s.c2ln' "$header" "$claims" >"$corpus/seed-access"
printf '%s.%s.' "$(b64 '{"alg":"none"}')" "$claims" >"$corpus/seed-none"

cargo +nightly fuzz run parse_token "$corpus" -- \
    -max_total_time="$seconds" -max_len=20000 -rss_limit_mb=1024
