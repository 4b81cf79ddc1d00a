#!/usr/bin/env bash
# webhook-api benchmark, all on loopback and bounded in time (about 8 x ROUNDS x (WARMUP
# + DURATION) seconds plus builds): GET /api/me with valid emulator access tokens, the
# same wrk settings for each of
#   unchecked         webhook-api, claims decoded but not verified (/bench/unchecked/me)
#   checked + cache   webhook-api, full check, verified-token cache on (the default)
#   checked, no cache webhook-api, full check, RSA verification on every request
#   aws-jwt-verify    Node.js + fastify + aws-jwt-verify, one worker per CPU it may use
# in two layouts: "pinned" (each server alone on CPU 0, wrk on CPU 1: the servers'
# per-CPU throughput, without the load generator taking CPU from them) and "shared"
# (servers and wrk on all CPUs). Prints one Markdown table per layout.
#   DURATION=10 CONNECTIONS=64 webhook-api/bench/run.sh
# USERS (1000): distinct tokens, each request takes the next; LAYOUTS ("pinned shared");
# ROUNDS (1): measurements of each server, taking turns; WEBHOOK_API_BIN: a webhook-api
# binary to run instead of building the checkout's.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/../.." && pwd)"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
USERS="${USERS:-1000}"
LAYOUTS="${LAYOUTS:-pinned shared}"
ROUNDS="${ROUNDS:-1}"
RUST_PORT="${RUST_PORT:-8090}"
RUST_NOCACHE_PORT="${RUST_NOCACHE_PORT:-8092}"
NODE_PORT="${NODE_PORT:-8091}"

work="$(mktemp -d)"
pids=()
moto_started=false
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    # An emulator left on its port makes the next tests/env/up.sh fail.
    if $moto_started; then "$REPO_ROOT/tests/env/moto.sh" stop >/dev/null 2>&1 || true; fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }

command -v wrk >/dev/null || { log "installing wrk"; apt-get install -y wrk >/dev/null; }

log "starting the AWS emulator"
"$REPO_ROOT/tests/env/install-moto.sh" >/dev/null
"$REPO_ROOT/tests/env/moto.sh" status >/dev/null 2>&1 || moto_started=true
"$REPO_ROOT/tests/env/moto.sh" start >/dev/null
eval "$("$REPO_ROOT/tests/env/moto.sh" env)"
# The emulator's virtualenv has boto3.
python="${COGNITO_OPERATOR_CACHE:-$REPO_ROOT/.cache}/venv-moto/bin/python"

log "creating a pool and $USERS signed-in users"
USERS="$USERS" "$python" "$BENCH_DIR/make_tokens.py" "$work"
# shellcheck disable=SC1091
. "$work/pool.env"
export TOKENS_FILE="$work/tokens.txt"
issuer="https://cognito-idp.us-east-1.amazonaws.com/$USER_POOL_ID"
pools="[{\"issuer\": \"$issuer\", \"jwksUri\": \"$AWS_ENDPOINT_URL/$USER_POOL_ID/.well-known/jwks.json\", \"clientIds\": [\"$CLIENT_ID\"]}]"

if [ -n "${WEBHOOK_API_BIN:-}" ]; then
    server="$WEBHOOK_API_BIN"
else
    log "building webhook-api (release)"
    cargo build --release -j2 -p webhook-api --manifest-path "$REPO_ROOT/Cargo.toml" >&2
    server="$REPO_ROOT/target/release/webhook-api"
fi
log "installing the aws-jwt-verify service"
(cd "$BENCH_DIR/node" && npm ci --no-audit --no-fund --loglevel=error >&2)

# Starts the three servers, each confined to the CPUs "$1" (empty: all CPUs), with one
# worker thread (Rust) or process (Node) per CPU it may use.
start_servers() {
    local cpus="$1" run=() workers
    if [ -n "$cpus" ]; then
        run=(taskset -c "$cpus")
        workers=$(( $(tr ',' '\n' <<<"$cpus" | wc -l) ))
    else
        workers="$(nproc)"
    fi
    TOKIO_WORKER_THREADS="$workers" RUST_LOG=warn "${run[@]}" "$server" \
        --listen "127.0.0.1:$RUST_PORT" --metrics-listen 127.0.0.1:0 --pools "$pools" \
        --insecure-bench-unchecked-route &
    servers+=($!)
    TOKIO_WORKER_THREADS="$workers" RUST_LOG=warn "${run[@]}" "$server" \
        --listen "127.0.0.1:$RUST_NOCACHE_PORT" --metrics-listen 127.0.0.1:0 --pools "$pools" \
        --token-cache-size 0 &
    servers+=($!)
    NODE_WORKERS="$workers" USER_POOL_ID="$USER_POOL_ID" CLIENT_ID="$CLIENT_ID" \
        JWKS_FILE="$work/jwks.json" PORT="$NODE_PORT" "${run[@]}" node "$BENCH_DIR/node/server.js" &
    servers+=($!)
    pids+=("${servers[@]}")
}

stop_servers() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    # Node's cluster workers go with their primary; wait for the ports to be free.
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    servers=()
    for _ in $(seq 1 50); do
        if ! (ss -ltn | grep -qE ":($RUST_PORT|$RUST_NOCACHE_PORT|$NODE_PORT)\b"); then return 0; fi
        sleep 0.1
    done
}

wait_ok() {
    local url="$1" token
    token="$(head -n1 "$TOKENS_FILE")"
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null -H "Authorization: Bearer $token" "$url" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    log "$url never answered 200"; exit 1
}

# CPU time (clock ticks) used so far by process $1 and its children (Node's workers).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
    done
    echo "$total"
}

# Runs wrk (confined to the CPUs $WRK_CPUS when set) against $2, served by process $3,
# and prints "requests_per_second p99_ms requests cpu_ticks".
measure() {
    local name="$1" url="$2" pid="$3" output rps p99 requests errors before after run=()
    if [ -n "$WRK_CPUS" ]; then run=(taskset -c "$WRK_CPUS"); fi
    "${run[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" -s "$BENCH_DIR/tokens.lua" "$url" >/dev/null
    before="$(cpu_ticks "$pid")"
    output="$("${run[@]}" wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$BENCH_DIR/tokens.lua" "$url")"
    after="$(cpu_ticks "$pid")"
    errors="$(awk '/Non-2xx or 3xx responses/ {print $NF}' <<<"$output")"
    if [ -n "$errors" ]; then log "$name: $errors non-2xx responses"; echo "$output" >&2; exit 1; fi
    rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$output")"
    requests="$(awk '/ requests in / {print $1}' <<<"$output")"
    p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v}' <<<"$output")"
    log "$name: $rps req/s, p99 $p99 ms, $requests requests in $(( after - before )) CPU ticks"
    echo "$rps $p99 $requests $(( after - before ))"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
median() { tr ' ' '\n' <<<"$*" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
sum() { tr ' ' '\n' <<<"$*" | awk '{s += $1} END {print s}'; }
# One layout: servers on $1 (empty: all CPUs), wrk on $2 with $3 threads; $4 names it.
# Each server is measured ROUNDS times, the servers taking turns, so that load from
# elsewhere on the machine falls on all of them alike; the table shows the median req/s
# and p99, and requests per second of CPU time the server used over all rounds (what
# other load on its CPU changes least).
run_layout() {
    local title="$4" round name ticks_per_second r p n t
    WRK_CPUS="$2" WRK_THREADS="$3"
    log "layout: $title"
    start_servers "$1"
    wait_ok "http://127.0.0.1:$RUST_PORT/api/me"
    wait_ok "http://127.0.0.1:$RUST_PORT/bench/unchecked/me"
    wait_ok "http://127.0.0.1:$RUST_NOCACHE_PORT/api/me"
    wait_ok "http://127.0.0.1:$NODE_PORT/api/me"
    local -A url=(
        [unchecked]="http://127.0.0.1:$RUST_PORT/bench/unchecked/me"
        [cached]="http://127.0.0.1:$RUST_PORT/api/me"
        [nocache]="http://127.0.0.1:$RUST_NOCACHE_PORT/api/me"
        [node]="http://127.0.0.1:$NODE_PORT/api/me"
    )
    local -A pid=([unchecked]="${servers[0]}" [cached]="${servers[0]}" [nocache]="${servers[1]}" [node]="${servers[2]}")
    local -A rps=() p99=() requests=() ticks=()
    for round in $(seq 1 "$ROUNDS"); do
        for name in unchecked cached nocache node; do
            read -r r p n t < <(measure "$name (round $round)" "${url[$name]}" "${pid[$name]}")
            rps[$name]+="$r " p99[$name]+="$p " requests[$name]+="$n " ticks[$name]+="$t "
        done
    done
    stop_servers
    ticks_per_second="$(getconf CLK_TCK)"
    local -A med_rps=() med_p99=() per_cpu=()
    for name in unchecked cached nocache node; do
        med_rps[$name]="$(median ${rps[$name]})"
        med_p99[$name]="$(median ${p99[$name]})"
        per_cpu[$name]="$(awk -v n="$(sum ${requests[$name]})" -v t="$(sum ${ticks[$name]})" -v hz="$ticks_per_second" 'BEGIN { printf "%.0f", n / (t / hz) }')"
    done
    row() {
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "${med_rps[$2]}" "${med_p99[$2]}" \
            "${per_cpu[$2]}" "$(ratio "${med_rps[$2]}" "${med_rps[unchecked]}")" \
            "$(ratio "${med_rps[$2]}" "${med_rps[node]}")" "$(ratio "${per_cpu[$2]}" "${per_cpu[node]}")"
    }
    cat <<TABLE

$title: wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, $USERS distinct access tokens, median of $ROUNDS rounds

| server | req/s | p99 (ms) | req per CPU-second | vs unchecked | vs aws-jwt-verify | vs aws-jwt-verify, per CPU-second |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
TABLE
    row "webhook-api, unchecked" unchecked
    row "webhook-api, checked + token cache" cached
    row "webhook-api, checked, no token cache" nocache
    row "Node.js fastify + aws-jwt-verify" node
}

servers=()
# pinned: each server gets CPU 0 alone and wrk CPU 1, so the load generator does not take
# CPU from the server it measures. shared: everything on every CPU.
if [[ " $LAYOUTS " == *" pinned "* ]] && [ "$(nproc)" -ge 2 ]; then
    run_layout 0 1 1 "pinned (server on CPU 0, wrk on CPU 1)"
fi
if [[ " $LAYOUTS " == *" shared "* ]]; then
    run_layout "" "" "$THREADS" "shared ($(nproc) CPUs for servers and wrk)"
fi
