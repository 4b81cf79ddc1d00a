#!/usr/bin/env bash
# Run the moto AWS emulator (tests/moto/server.py) for the tests, on loopback, and on
# the local node's address too when that is up (its pods reach the emulator there).
#
#   moto.sh start   start in the background (no-op if already healthy); prints
#                   the export line for the AWS SDKs on stdout:
#                     eval "$(tests/env/moto.sh start)"
#   moto.sh stop    stop the server this script started (the recorded pid only)
#   moto.sh status  exit 0 if our server runs and answers, 1 otherwise
#   moto.sh env     print the export line
#   moto.sh reset   drop all emulated AWS state (POST /moto-api/reset)
#
# Env: MOTO_PORT (default 5055), COGNITO_OPERATOR_CACHE (default <repo>/.cache).
# State: $CACHE/run/moto/moto.pid and moto.log.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MOTO_DIR="$RUN_DIR/moto"
PID_FILE="$MOTO_DIR/moto.pid"
LOG_FILE="$MOTO_DIR/moto.log"
SERVER="$REPO_ROOT/tests/moto/server.py"
PORT="${MOTO_PORT:-5055}"
ENDPOINT="http://127.0.0.1:$PORT"
START_TIMEOUT=30

log() { echo "moto: $*" >&2; }

print_env() {
  echo "export AWS_ENDPOINT_URL=$ENDPOINT AWS_ACCESS_KEY_ID=testing" \
    "AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"
}

# Anything listening on the port at all (a plain TCP connect, no HTTP).
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

# answers [ENDPOINT]: the fault plugin's control API answers at once, however much state
# the emulator holds (moto's data.json dumps all of it: seconds with 100,000 users).
answers() {
  curl -fsS -o /dev/null --max-time 2 "${1:-$ENDPOINT}/_faults/health-check" 2>/dev/null
}

# The local node's address, when it is up: the emulator listens there too, for pods
# (the machine's loopback is not theirs).
node_listen_address() {
  ip -4 -o addr show dev "$NODE_BRIDGE" 2>/dev/null | grep -qF " $NODE_ADDRESS/" &&
    echo "$NODE_ADDRESS"
}

# Answers on loopback, and on the node address if that is up.
answers_everywhere() {
  local node
  answers || return 1
  node="$(node_listen_address)" || return 0
  answers "http://$node:$PORT"
}

# The recorded pid, if that process is alive and is our server.py (a stale pid
# file may name a pid since reused by something else: never signal that).
our_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$SERVER" || return 1
  echo "$pid"
}

cmd_start() {
  if our_pid >/dev/null && answers_everywhere; then
    log "already running on $ENDPOINT (pid $(our_pid))"
    print_env
    return 0
  fi
  if pid="$(our_pid)"; then
    log "pid $pid is ours but does not answer (everywhere); restarting it"
    cmd_stop
  fi
  if port_taken; then
    log "another program listens on 127.0.0.1:$PORT; set MOTO_PORT to a free port"
    return 1
  fi

  local venv
  venv="$("$REPO_ROOT/tests/env/install-moto.sh" | tail -n 1)"
  mkdir -p "$MOTO_DIR"
  rm -f "$PID_FILE"
  log "starting on $ENDPOINT (log: $LOG_FILE)"
  echo "=== moto.sh start $(date -u +%FT%TZ) port $PORT" >>"$LOG_FILE"
  # setsid: own session, so the server outlives this shell and its job control.
  # server.py writes its own pid, whatever setsid/nohup do about forking.
  local also=() node
  if node="$(node_listen_address)"; then also=(--also-host "$node"); fi
  setsid nohup "$venv/bin/python" "$SERVER" --host 127.0.0.1 "${also[@]}" --port "$PORT" \
    --pid-file "$PID_FILE" >>"$LOG_FILE" 2>&1 </dev/null &
  local child=$!

  local deadline=$((SECONDS + START_TIMEOUT))
  until our_pid >/dev/null && answers_everywhere; do
    if ! kill -0 "$child" 2>/dev/null || ((SECONDS >= deadline)); then
      log "did not come up on $ENDPOINT; last log lines:"
      tail -n 20 "$LOG_FILE" >&2 || true
      cmd_stop || true
      return 1
    fi
    sleep 0.3
  done
  log "ready (pid $(our_pid))"
  print_env
}

cmd_stop() {
  local pid
  if ! pid="$(our_pid)"; then
    [[ -f "$PID_FILE" ]] && log "stale pid file, removing it"
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 10s; sending SIGKILL"
    kill -KILL "$pid"
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(our_pid)" && answers; then
    log "running on $ENDPOINT (pid $pid)"
    return 0
  fi
  log "not running"
  return 1
}

cmd_reset() {
  curl -fsS -o /dev/null --max-time 10 -X POST "$ENDPOINT/moto-api/reset" \
    || { log "reset failed: is it running on $ENDPOINT?"; return 1; }
  log "state reset"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env ;;
  reset) cmd_reset ;;
  *)
    echo "usage: $0 start|stop|status|env|reset" >&2
    exit 2
    ;;
esac
