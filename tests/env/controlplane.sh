#!/usr/bin/env bash
# A real, minimal Kubernetes control plane for tests: etcd + kube-apiserver +
# kube-controller-manager + kube-scheduler. etcd and the controllers listen on loopback;
# the API server on the node address (NODE_ADDRESS in common.sh, on a bridge of its own
# that start creates), so that pods of the local node (tests/env/node.sh) reach it
# through the `kubernetes` Service. Binaries come from tests/env/install-k8s.sh and
# tests/env/install-node.sh (kube-scheduler).
#
# Usage: controlplane.sh start | stop [--clean] | status | env
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Ports are overridable so parallel checkouts/CI jobs need not collide.
# Defaults avoid the well-known ports (2379/2380/6443/10257) of a real cluster.
: "${ETCD_CLIENT_PORT:=23790}" "${ETCD_PEER_PORT:=23800}" "${APISERVER_PORT:=16443}" \
  "${KCM_PORT:=10357}" "${SCHEDULER_PORT:=10359}" "${READY_TIMEOUT:=120}"

CP_DIR="$RUN_DIR/controlplane"
PKI="$CP_DIR/pki"
ETCD_DATA="$CP_DIR/etcd-data"
KUBECONFIG_FILE="$CP_DIR/kubeconfig"
CUR="$BIN_DIR/current"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler) # start order

# --- PKI ------------------------------------------------------------------

# sign NAME SUBJECT EXTENSIONS: key + cert for NAME signed by the test CA. Kept while
# SUBJECT and EXTENSIONS stay the same (recorded in NAME.spec), so a changed address
# (new SANs) gets a new certificate while the CA and every other cert stay valid.
sign() {
  local name="$1" subj="$2" ext="$3" spec
  spec="$(printf '%s\n%s\n' "$subj" "$ext")"
  if [[ -f "$PKI/$name.crt" && "$(cat "$PKI/$name.spec" 2>/dev/null)" == "$spec" ]]; then
    return 0
  fi
  log "signing $name certificate"
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 3650 -sha256 -out "$PKI/$name.crt" \
    -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$PKI/$name.csr"
  printf '%s\n' "$spec" >"$PKI/$name.spec"
}

# The CA and the service-account key are generated once and kept across stop/start,
# so kubeconfigs and tokens stay valid; leaf certificates follow their spec (sign).
ensure_pki() {
  if [[ ! -f "$PKI/.complete" ]]; then
    generate_ca
  fi
  # 10.0.0.1 (SERVICE_IP) is the first IP of the service range: the in-cluster
  # "kubernetes" service address; NODE_ADDRESS is where the API server listens.
  sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:$NODE_ADDRESS,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  # O=system:masters is bound to cluster-admin and bypasses RBAC.
  sign admin "/O=system:masters/CN=admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  # The API server's identity towards the kubelet (logs, exec, port-forward).
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" \
    "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  # The node's kubelet: a client of the Node authorizer, and a server the API server
  # verifies (--kubelet-certificate-authority).
  sign kubelet "/O=system:nodes/CN=system:node:$NODE_ADDRESS" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
  sign kubelet-serving "/CN=system:node:$NODE_ADDRESS" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:$NODE_ADDRESS"
  # Bound to the system:node-proxier ClusterRole by the default RBAC policy.
  sign kube-proxy "/CN=system:kube-proxy" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
}

generate_ca() {
  log "generating PKI in $PKI"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=cognito-operator-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
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
    server: https://$NODE_ADDRESS:$APISERVER_PORT
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
      # Listens on the node address, never on all interfaces. The lease endpoint
      # reconciler gives the "kubernetes" Service its endpoint there (it refuses
      # loopback, which no pod could reach anyway). The kubelet is reached by its
      # InternalIP (never by a name the machine's resolver would look up), with a
      # client certificate, its serving certificate verified.
      # The service-account issuer is only a name: it stays what it was.
      echo --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
        --bind-address="$NODE_ADDRESS" --advertise-address="$NODE_ADDRESS" \
        --secure-port="$APISERVER_PORT" --cert-dir="$CP_DIR/apiserver-certs" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --client-ca-file="$PKI/ca.crt" \
        --authorization-mode=Node,RBAC --allow-privileged=true \
        --enable-admission-plugins=NodeRestriction \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --endpoint-reconciler-type=lease \
        --kubelet-preferred-address-types=InternalIP \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" \
        --service-account-issuer="https://127.0.0.1:$APISERVER_PORT" \
        --service-account-key-file="$PKI/sa.pub" \
        --service-account-signing-key-file="$PKI/sa.key"
      ;;
    kube-controller-manager)
      # Namespace deletion, garbage collection (ownerReferences), service
      # accounts and their tokens, kube-root-ca.crt and aggregated ClusterRoles;
      # and for the node's pods: node lifecycle (the not-ready taint goes when the
      # node is Ready), Deployments/ReplicaSets, EndpointSlices of Services, pod
      # garbage collection, PodDisruptionBudgets and HorizontalPodAutoscalers.
      echo --kubeconfig="$KUBECONFIG_FILE" \
        --authentication-kubeconfig="$KUBECONFIG_FILE" \
        --authorization-kubeconfig="$KUBECONFIG_FILE" \
        --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
        --cert-dir="$CP_DIR/kcm-certs" \
        --controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller,node-lifecycle-controller,deployment-controller,replicaset-controller,endpointslice-controller,pod-garbage-collector-controller,disruption-controller,horizontal-pod-autoscaler-controller \
        --service-account-private-key-file="$PKI/sa.key" \
        --root-ca-file="$PKI/ca.crt" \
        --use-service-account-credentials=false --leader-elect=false
      ;;
    kube-scheduler)
      echo --kubeconfig="$KUBECONFIG_FILE" \
        --authentication-kubeconfig="$KUBECONFIG_FILE" \
        --authorization-kubeconfig="$KUBECONFIG_FILE" \
        --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
        --cert-dir="$CP_DIR/scheduler-certs" --leader-elect=false
      ;;
  esac
}

pidfile() { echo "$CP_DIR/$1.pid"; }

# running NAME: prints the recorded PID if it is alive and is really our
# process (right executable, arguments pointing into our CP_DIR); a stale or
# recycled PID is never treated as ours.
running() {
  local name="$1" pid cmdline
  pid="$(alive_pid "$(pidfile "$name")" "$name")" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"$CP_DIR"* ]] || return 1
  echo "$pid"
}

# current_args NAME: whether the running NAME has the flags args_for gives now (a
# control plane started by an older version of this script is restarted).
current_args() {
  local pid
  pid="$(running "$1")" || return 1
  # shellcheck disable=SC2046
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == "$(printf '%s ' "$CUR/$1" $(args_for "$1"))" ]]
}

healthy() {
  case "$1" in
    etcd) curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health" ;;
    kube-apiserver) timeout 10 "$CUR/kubectl" --kubeconfig="$KUBECONFIG_FILE" get --raw /readyz ;;
    kube-controller-manager) curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz" ;;
    kube-scheduler) curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz" ;;
  esac
}

start_one() {
  local name="$1" pid
  if pid="$(running "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  [[ -x "$CUR/$name" ]] ||
    die "$CUR/$name missing: run tests/env/install-k8s.sh and tests/env/install-node.sh"
  rm -f "$(pidfile "$name")"
  # shellcheck disable=SC2046 # args_for prints whitespace-free flags
  # setsid: own session, so the process outlives this script and its terminal;
  # stdin from /dev/null so it never holds the caller's pipes. The PID is written
  # from inside (setsid may fork, and then $! would be setsid's).
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$(pidfile "$name")" \
    "$CUR/$name" $(args_for "$name") >>"$CP_DIR/$name.log" 2>&1 </dev/null &
  wait_for 10 "$name to record its pid" test -s "$(pidfile "$name")" ||
    die "$name did not start"
  log "started $name (pid $(cat "$(pidfile "$name")")), log $CP_DIR/$name.log"
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
  mkdir -p "$CP_DIR"
  ensure_pki
  for name in "${COMPONENTS[@]}"; do
    if running "$name" >/dev/null && ! current_args "$name"; then
      log "$name runs with other flags (an older configuration): restarting the control plane"
      cmd_stop
      break
    fi
  done
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
  # The API server listens on the node address: it must exist first.
  node_address_up
  write_kubeconfig
  # Each component needs the previous one healthy to start cleanly.
  for name in "${COMPONENTS[@]}"; do
    start_one "$name"
    wait_healthy "$name"
  done
  log "control plane ready in $((SECONDS - start))s (apiserver https://$NODE_ADDRESS:$APISERVER_PORT)"
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
  # Left in place while the node (tests/env/node.sh) still uses it.
  node_address_down_if_unused
  log "control plane stopped"
}

cmd_status() {
  components_status "${COMPONENTS[@]}"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) print_env ;;
  *) echo "usage: $0 start | stop [--clean] | status | env" >&2; exit 2 ;;
esac
