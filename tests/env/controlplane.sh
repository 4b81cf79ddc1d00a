#!/usr/bin/env bash
# A real, minimal Kubernetes control plane on loopback for tests:
# etcd + kube-apiserver + kube-controller-manager (no kubelet, so no pods run).
# Binaries come from tests/env/install-k8s.sh.
#
# Usage: controlplane.sh start | stop [--clean] | status | env
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Ports are overridable so parallel checkouts/CI jobs need not collide.
# Defaults avoid the well-known ports (2379/2380/6443/10257) of a real cluster.
: "${ETCD_CLIENT_PORT:=23790}" "${ETCD_PEER_PORT:=23800}" "${APISERVER_PORT:=16443}" \
  "${KCM_PORT:=10357}" "${READY_TIMEOUT:=120}"

CP_DIR="$RUN_DIR/controlplane"
PKI="$CP_DIR/pki"
ETCD_DATA="$CP_DIR/etcd-data"
KUBECONFIG_FILE="$CP_DIR/kubeconfig"
CUR="$BIN_DIR/current"
COMPONENTS=(etcd kube-apiserver kube-controller-manager) # start order

# --- PKI ------------------------------------------------------------------

# sign NAME SUBJECT EXTENSIONS: key + cert for NAME signed by the test CA.
sign() {
  local name="$1" subj="$2" ext="$3"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -sha256 -out "$PKI/$name.crt" \
    -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$PKI/$name.csr"
}

# Generated once and kept across stop/start, so kubeconfigs stay valid.
ensure_pki() {
  [[ -f "$PKI/.complete" ]] && return 0
  log "generating PKI in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=cognito-operator-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  # 10.0.0.1 is the first IP of the service range: the in-cluster
  # "kubernetes" service address.
  sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # O=system:masters is bound to cluster-admin and bypasses RBAC.
  sign admin "/O=system:masters/CN=admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  touch "$PKI/.complete"
}

write_kubeconfig() {
  local tmp="$KUBECONFIG_FILE.tmp"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cognito-test
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/admin.crt")
    client-key-data: $(base64 -w0 <"$PKI/admin.key")
contexts:
- name: cognito-test
  context:
    cluster: cognito-test
    user: admin
current-context: cognito-test
EOF
  chmod 600 "$tmp"
  mv -f "$tmp" "$KUBECONFIG_FILE"
}

# --- processes --------------------------------------------------------------

args_for() {
  case "$1" in
    etcd)
      local peer="http://127.0.0.1:$ETCD_PEER_PORT"
      echo --name=cognito-test --data-dir="$ETCD_DATA" \
        --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --listen-peer-urls="$peer" --initial-advertise-peer-urls="$peer" \
        --initial-cluster="cognito-test=$peer" \
        --unsafe-no-fsync=true # throwaway test data: speed over durability
      ;;
    kube-apiserver)
      # Flags follow controller-runtime's envtest, with real authn/authz.
      # The endpoint reconciler refuses a loopback advertise address (and no
      # pod could reach it anyway), so the "kubernetes" Service has no
      # endpoints: fine without nodes.
      echo --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
        --secure-port="$APISERVER_PORT" --cert-dir="$CP_DIR/apiserver-certs" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --client-ca-file="$PKI/ca.crt" \
        --authorization-mode=Node,RBAC --allow-privileged=true \
        --service-cluster-ip-range=10.0.0.0/24 \
        --endpoint-reconciler-type=none \
        --service-account-issuer="https://127.0.0.1:$APISERVER_PORT" \
        --service-account-key-file="$PKI/sa.pub" \
        --service-account-signing-key-file="$PKI/sa.key"
      ;;
    kube-controller-manager)
      # Only controllers that make sense without nodes: namespace deletion,
      # garbage collection (ownerReferences), service accounts and their
      # tokens, kube-root-ca.crt and aggregated ClusterRoles.
      echo --kubeconfig="$KUBECONFIG_FILE" \
        --authentication-kubeconfig="$KUBECONFIG_FILE" \
        --authorization-kubeconfig="$KUBECONFIG_FILE" \
        --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
        --cert-dir="$CP_DIR/kcm-certs" \
        --controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller \
        --service-account-private-key-file="$PKI/sa.key" \
        --root-ca-file="$PKI/ca.crt" \
        --use-service-account-credentials=false --leader-elect=false
      ;;
  esac
}

pidfile() { echo "$CP_DIR/$1.pid"; }

# running NAME: prints the recorded PID if it is alive and is really our
# process (right executable, arguments pointing into our CP_DIR); a stale or
# recycled PID is never treated as ours.
running() {
  local name="$1" pid exe cmdline
  pid="$(cat "$(pidfile "$name")" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  exe="${exe% (deleted)}"
  [[ "$(basename "$exe")" == "$name" ]] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$CP_DIR"* ]] || return 1
  echo "$pid"
}

healthy() {
  case "$1" in
    etcd) curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" ;;
    kube-apiserver) "$CUR/kubectl" --kubeconfig="$KUBECONFIG_FILE" get --raw /readyz ;;
    kube-controller-manager) curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz" ;;
  esac
}

start_one() {
  local name="$1" pid
  if pid="$(running "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  [[ -x "$CUR/$name" ]] || die "$CUR/$name missing: run tests/env/install-k8s.sh"
  # shellcheck disable=SC2046 # args_for prints whitespace-free flags
  # setsid + nohup: own session, so the process outlives this script and its
  # terminal; stdin from /dev/null so it never holds the caller's pipes.
  setsid nohup "$CUR/$name" $(args_for "$name") \
    >>"$CP_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$(pidfile "$name")"
  log "started $name (pid $!), log $CP_DIR/$name.log"
}

# Waits for health, failing fast with the log tail if the process died.
wait_healthy() {
  local name="$1" deadline=$((SECONDS + READY_TIMEOUT))
  until healthy "$name" >/dev/null 2>&1; do
    if ! running "$name" >/dev/null; then
      tail -n 30 "$CP_DIR/$name.log" >&2 || true
      die "$name exited during startup (see $CP_DIR/$name.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$CP_DIR/$name.log" >&2 || true
      die "$name not healthy after ${READY_TIMEOUT}s (see $CP_DIR/$name.log)"
    fi
    sleep 1
  done
}

print_env() {
  echo "export KUBECONFIG=$KUBECONFIG_FILE; export PATH=$CUR:\$PATH"
}

cmd_start() {
  local all_up=1 name start=$SECONDS
  for name in "${COMPONENTS[@]}"; do
    if ! running "$name" >/dev/null || ! healthy "$name" >/dev/null 2>&1; then
      all_up=0
    fi
  done
  if ((all_up)); then
    log "control plane already running and healthy"
    print_env
    return 0
  fi
  mkdir -p "$CP_DIR"
  ensure_pki
  write_kubeconfig
  # Each component needs the previous one healthy to start cleanly.
  for name in "${COMPONENTS[@]}"; do
    start_one "$name"
    wait_healthy "$name"
  done
  log "control plane ready in $((SECONDS - start))s (apiserver https://127.0.0.1:$APISERVER_PORT)"
  log "use it with:  eval \"\$($0 env)\"  then e.g.  kubectl get ns"
  print_env
}

cmd_stop() {
  local clean=0 name pid
  [[ "${1:-}" == "--clean" ]] && clean=1
  # Reverse start order: clients before the servers they depend on.
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name="${COMPONENTS[i]}"
    if pid="$(running "$name")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      if ! wait_for 30 "$name to exit" bash -c "! kill -0 $pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_for 10 "$name to die" bash -c "! kill -0 $pid" || die "cannot stop $name (pid $pid)"
      fi
    fi
    rm -f "$(pidfile "$name")"
  done
  if ((clean)); then
    log "removing etcd data $ETCD_DATA"
    rm -rf "$ETCD_DATA"
  fi
  log "control plane stopped"
}

cmd_status() {
  local name pid rc=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(running "$name")"; then
      if healthy "$name" >/dev/null 2>&1; then
        echo "$name: running (pid $pid), healthy"
      else
        echo "$name: running (pid $pid), NOT healthy"; rc=1
      fi
    else
      echo "$name: stopped"; rc=1
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) print_env ;;
  *) echo "usage: $0 start | stop [--clean] | status | env" >&2; exit 2 ;;
esac
