#!/usr/bin/env bash
# A real Kubernetes node for tests, joined to the local control plane
# (tests/env/controlplane.sh): containerd + runc, kubelet and kube-proxy (nftables mode),
# so that pods (the Helm chart's Deployments) really run. Binaries come from
# tests/env/install-node.sh; state lives under .cache/run/node.
#
# The node is named by its address (NODE_ADDRESS in common.sh, on a bridge of its own).
# Pods get addresses from POD_CIDR on POD_BRIDGE and routes only to the service range
# and the node address; an nftables table of ours drops anything forwarded between the
# pod bridge and another interface, so nothing from a pod leaves the machine. Images are
# never pulled: every registry is redirected to an unreachable loopback port; `load`
# imports image archives instead.
#
# Usage: node.sh start | stop [--clean] | status | env | load ARCHIVE...
#   stop --clean also drops containerd's images.
set -euo pipefail

# shellcheck source=tests/env/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

: "${KUBELET_PORT:=10350}" "${KUBELET_HEALTHZ_PORT:=10348}" \
  "${KUBE_PROXY_HEALTHZ_PORT:=10356}" "${KUBE_PROXY_METRICS_PORT:=10349}" \
  "${READY_TIMEOUT:=120}"

NODE_DIR="$RUN_DIR/node"
CP_DIR="$RUN_DIR/controlplane"
PKI="$CP_DIR/pki"
ADMIN_KUBECONFIG="$CP_DIR/kubeconfig"
CUR="$BIN_DIR/current"
SOCK="$NODE_DIR/containerd.sock"
CONTAINERD_DIR="$NODE_DIR/containerd" # root (images), kept by a plain stop
KUBELET_DIR="$NODE_DIR/kubelet"
CNI_NET="cognito-pods"
GUARD_TABLE="cognito_node_guard"
RESTORE="$NODE_DIR/restore.env"
COMPONENTS=(containerd kubelet kube-proxy) # start order
# Written by the kubelet or kube-proxy whatever their flags say: restored on stop.
SYSCTLS=(net.ipv4.ip_forward vm.overcommit_memory vm.panic_on_oom kernel.panic
  kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# Fixed paths the kubelet, containerd and the CNI library write outside NODE_DIR:
# removed on stop if they did not exist before start (a folder that did may still
# get a new subfolder).
OUTSIDE=(/var/lib/kubelet /var/lib/kubelet/device-plugins /var/log/containers /var/log/pods
  /var/lib/cni /var/lib/cni/results /run/containerd)

kubectl_admin() { timeout 30 "$CUR/kubectl" --kubeconfig="$ADMIN_KUBECONFIG" "$@"; }
# ctr on cgroup v1 warns of its deprecation on every call: that line is dropped.
ctr_k8s() {
  timeout 120 "$CUR/ctr" --address "$SOCK" --namespace k8s.io "$@" \
    2> >(grep -v 'support for cgroup v1 is deprecated' >&2)
}

# --- configuration ------------------------------------------------------------------

# kubeconfig FILE CERT: a kubeconfig for the control plane's certificate CERT, to the
# API server the admin kubeconfig names.
kubeconfig() {
  local file="$1" cert="$2"
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cognito-test
  cluster:
    server: $(awk '$1 == "server:" { print $2; exit }' "$ADMIN_KUBECONFIG")
    certificate-authority: $PKI/ca.crt
users:
- name: $cert
  user:
    client-certificate: $PKI/$cert.crt
    client-key: $PKI/$cert.key
contexts:
- name: cognito-test
  context: {cluster: cognito-test, user: $cert}
current-context: cognito-test
EOF
  chmod 600 "$file.tmp"
  mv -f "$file.tmp" "$file"
}

write_config() {
  mkdir -p "$CONTAINERD_DIR" "$NODE_DIR/certs.d/_default" "$NODE_DIR/cni/net.d" \
    "$NODE_DIR/manifests" "$KUBELET_DIR"

  # containerd: everything under NODE_DIR; CRI namespace k8s.io. restrict_oom_score_adj
  # is required where the sandbox lacks CAP_SYS_RESOURCE (runc cannot lower the pause
  # container's OOM score and every sandbox fails). The sandbox image is pinned, so
  # the kubelet's image GC keeps it.
  cat >"$NODE_DIR/containerd.toml" <<EOF
version = 3
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.native",
]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$NODE_DIR/containerd-debug.sock"
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$CUR/runc"
        Root = "$NODE_DIR/runc"
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$CUR/cni-plugins"]
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$NODE_DIR/certs.d"
EOF
  # No pull may leave the machine: every registry without a folder of its own (all of
  # them) resolves to a closed loopback port and fails at once.
  cat >"$NODE_DIR/certs.d/_default/hosts.toml" <<'EOF'
server = "http://127.0.0.1:1"
[host."http://127.0.0.1:1"]
  capabilities = ["pull", "resolve"]
EOF

  # Pods: routes to the services and the node address only (no default route).
  # ip_forward is turned on by the bridge plugin (restored on stop); the nftables guard
  # table keeps the bridge from forwarding anywhere else.
  cat >"$NODE_DIR/cni/net.d/10-$CNI_NET.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$CNI_NET",
  "plugins": [{
    "type": "bridge",
    "bridge": "$POD_BRIDGE",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "$NODE_DIR/cni/ipam",
      "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
      "routes": [{"dst": "$SERVICE_CIDR"}, {"dst": "$NODE_ADDRESS/32"}]
    }
  }]
}
EOF

  kubeconfig "$NODE_DIR/kubelet.kubeconfig" kubelet
  kubeconfig "$NODE_DIR/kube-proxy.kubeconfig" kube-proxy

  # failCgroupV1: false because these machines run cgroup v1. Serving on the node
  # address with a CA-signed certificate; API server requests authenticated by client
  # certificate and authorized by the API server (no anonymous access). No eviction,
  # no image GC (imported images cannot be pulled again), no DNS for pods, kernel
  # settings left alone where the kubelet allows it (oomScoreAdj 0), no iptables chains
  # (kube-proxy uses nftables).
  cat >"$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
address: $NODE_ADDRESS
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
rotateCertificates: false
serverTLSBootstrap: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
staticPodPath: $NODE_DIR/manifests
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $NODE_DIR/volume-plugins
failSwapOn: false
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: ""
oomScoreAdj: 0
makeIPTablesUtilChains: false
maxPods: 110
EOF

  # Service rules in nftables; node ports only on the node address; health and
  # metrics on loopback; conntrack sysctls left alone (the zero values).
  cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $NODE_DIR/kube-proxy.kubeconfig
mode: nftables
hostnameOverride: $NODE_ADDRESS
bindAddress: $NODE_ADDRESS
clusterCIDR: $POD_CIDR
nodePortAddresses: ["$NODE_ADDRESS/32"]
healthzBindAddress: 127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$KUBE_PROXY_METRICS_PORT
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# --- host state ---------------------------------------------------------------------

# What start changes outside NODE_DIR, recorded once (before the first start) so stop
# can put it back.
record_host_state() {
  [[ -f "$RESTORE" ]] && return 0
  local name path
  {
    for name in "${SYSCTLS[@]}"; do
      echo "sysctl $name $(sysctl -n "$name" 2>/dev/null || echo -)"
    done
    for path in "${OUTSIDE[@]}"; do
      [[ -e "$path" ]] || echo "created $path"
    done
  } >"$RESTORE.tmp"
  mv -f "$RESTORE.tmp" "$RESTORE"
}

# Drops whatever is forwarded between the pod bridge and any other interface (traffic
# between pods on the bridge, and from pods to the node's own addresses, is not
# forwarded and stays allowed).
guard_up() {
  nft -f - <<EOF
table inet $GUARD_TABLE
delete table inet $GUARD_TABLE
table inet $GUARD_TABLE {
  chain forward {
    type filter hook forward priority filter - 10; policy accept;
    iifname "$POD_BRIDGE" oifname != "$POD_BRIDGE" counter drop
    oifname "$POD_BRIDGE" iifname != "$POD_BRIDGE" counter drop
  }
}
EOF
}

# --- processes ----------------------------------------------------------------------

args_for() {
  case "$1" in
    containerd) echo --config="$NODE_DIR/containerd.toml" ;;
    kubelet)
      echo --config="$NODE_DIR/kubelet.yaml" --kubeconfig="$NODE_DIR/kubelet.kubeconfig" \
        --root-dir="$KUBELET_DIR" --cert-dir="$NODE_DIR/kubelet-pki" \
        --hostname-override="$NODE_ADDRESS" --node-ip="$NODE_ADDRESS" --v=1
      ;;
    kube-proxy) echo --config="$NODE_DIR/kube-proxy.yaml" --v=1 ;;
  esac
}

pidfile() { echo "$NODE_DIR/$1.pid"; }

# running NAME: the recorded PID, if alive, running NAME, with arguments into NODE_DIR.
running() {
  local pid
  pid="$(alive_pid "$(pidfile "$1")" "$1")" || return 1
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$NODE_DIR"* ]] || return 1
  echo "$pid"
}

healthy() {
  case "$1" in
    containerd) timeout 10 "$CUR/ctr" --address "$SOCK" version ;;
    kubelet) curl -fsS --max-time 5 "http://127.0.0.1:$KUBELET_HEALTHZ_PORT/healthz" ;;
    kube-proxy) curl -fsS --max-time 5 "http://127.0.0.1:$KUBE_PROXY_HEALTHZ_PORT/livez" ;;
  esac
}

start_one() {
  local name="$1" pid
  if pid="$(running "$name")"; then
    log "$name already running (pid $pid)"
    return 0
  fi
  [[ -x "$CUR/$name" ]] || die "$CUR/$name missing: run tests/env/install-node.sh"
  rm -f "$(pidfile "$name")"
  # Own session (outlives this script); the PID written from inside, since setsid may
  # fork. containerd finds the runc shim on PATH.
  # shellcheck disable=SC2046 # args_for prints whitespace-free flags
  PATH="$CUR:$PATH" setsid bash -c 'echo $$ >"$0"; exec "$@"' "$(pidfile "$name")" \
    "$CUR/$name" $(args_for "$name") >>"$NODE_DIR/$name.log" 2>&1 </dev/null &
  wait_for 10 "$name to record its pid" test -s "$(pidfile "$name")" || die "$name did not start"
  log "started $name (pid $(cat "$(pidfile "$name")")), log $NODE_DIR/$name.log"
}

# fail NAME MESSAGE: the log tail, then die.
fail() {
  tail -n 30 "$NODE_DIR/$1.log" >&2 || true
  die "$2 (see $NODE_DIR/$1.log)"
}

wait_healthy() {
  local name="$1" deadline=$((SECONDS + READY_TIMEOUT))
  until healthy "$name" >/dev/null 2>&1; do
    running "$name" >/dev/null || fail "$name" "$name exited during startup"
    ((SECONDS < deadline)) || fail "$name" "$name not healthy after ${READY_TIMEOUT}s"
    sleep 1
  done
}

# node_ready: the Node is Ready and untainted (the node lifecycle controller removes the
# not-ready taint), so pods can be scheduled on it.
node_ready() {
  local out
  out="$(kubectl_admin get node "$NODE_ADDRESS" -o \
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.spec.taints}' 2>/dev/null)" ||
    return 1
  [[ "$out" == "True/" ]]
}

# The pause (sandbox) image as an OCI archive, built by images.sh; PAUSE_ARCHIVE
# overrides it (a hand-made archive).
pause_archive() {
  if [[ -n "${PAUSE_ARCHIVE:-}" ]]; then
    echo "$PAUSE_ARCHIVE"
  else
    bash "$REPO_ROOT/tests/env/images.sh" pause | tail -n 1
  fi
}

print_env() {
  echo "export CONTAINERD_ADDRESS=$SOCK CONTAINERD_NAMESPACE=k8s.io"
}

cmd_start() {
  local name start=$SECONDS all_up=1 archive
  for name in "${COMPONENTS[@]}"; do
    running "$name" >/dev/null && healthy "$name" >/dev/null 2>&1 || all_up=0
  done
  if ((all_up)) && node_ready; then
    log "node $NODE_ADDRESS already running and Ready"
    print_env
    return 0
  fi
  [[ -f "$ADMIN_KUBECONFIG" ]] && kubectl_admin get --raw /readyz >/dev/null 2>&1 ||
    die "the control plane is not running: start it first (tests/env/controlplane.sh start)"
  for name in "${COMPONENTS[@]}"; do
    [[ -x "$CUR/$name" ]] || die "$CUR/$name missing: run tests/env/install-node.sh"
  done
  mkdir -p "$NODE_DIR"
  record_host_state
  node_address_up
  guard_up
  write_config

  start_one containerd
  wait_healthy containerd
  archive="$(pause_archive)"
  [[ -f "$archive" ]] || die "no pause image archive at '$archive'"
  ctr_k8s images import "$archive" >/dev/null
  log "imported $PAUSE_IMAGE from $archive"

  start_one kubelet
  wait_healthy kubelet
  start_one kube-proxy
  wait_healthy kube-proxy

  local deadline=$((SECONDS + READY_TIMEOUT))
  until node_ready; do
    running kubelet >/dev/null || fail kubelet "kubelet exited"
    if ((SECONDS >= deadline)); then
      kubectl_admin get node "$NODE_ADDRESS" -o yaml >&2 || true
      fail kubelet "node $NODE_ADDRESS not Ready after ${READY_TIMEOUT}s"
    fi
    sleep 1
  done
  log "node $NODE_ADDRESS Ready in $((SECONDS - start))s"
  print_env
}

stop_process() {
  local name="$1" pid
  pid="$(running "$name")" || { rm -f "$(pidfile "$name")"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for 30 "$name to exit" bash -c "! kill -0 $pid"; then
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 10 "$name to die" bash -c "! kill -0 $pid" || die "cannot stop $name (pid $pid)"
  fi
  rm -f "$(pidfile "$name")"
}

# Every process of the node's pods (they live in the kubepods cgroups, and under k8s.io
# for containers started with ctr), and the runc shims of our containerd.
kill_pods() {
  local procs pid
  procs="$(find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/k8s.io -name cgroup.procs \
    -exec cat {} + 2>/dev/null | sort -u)" || true
  for pid in $procs; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in $(pgrep -x containerd-shim || true) $(pgrep -f containerd-shim-runc-v2 || true); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$SOCK" &&
      kill -KILL "$pid" 2>/dev/null || true
  done
}

# Unmounts everything under NODE_DIR (volumes, network namespaces, the kubelet's bind
# mount of its own root, containerd's overlays), deepest first.
unmount_all() {
  local round mounts m
  for round in 1 2 3 4 5; do
    mounts="$(awk -v dir="$NODE_DIR/" 'index($5, dir) == 1 || $5 == substr(dir, 1, length(dir) - 1) { print $5 }' \
      /proc/self/mountinfo | awk '{ print length, $0 }' | sort -rn | cut -d' ' -f2-)"
    [[ -n "$mounts" ]] || return 0
    while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done <<<"$mounts"
  done
  log "WARNING: mounts left under $NODE_DIR"
}

remove_cgroups() {
  local hierarchy dir round
  for round in 1 2 3 4 5; do
    local left=0
    for hierarchy in /sys/fs/cgroup/*/; do
      for dir in "$hierarchy"kubepods "$hierarchy"k8s.io; do
        [[ -d "$dir" ]] || continue
        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [[ -d "$dir" ]] && left=1
      done
    done
    ((left)) || return 0
    kill_pods
    sleep 1
  done
  log "WARNING: cgroups kubepods/k8s.io left behind"
}

restore_host_state() {
  [[ -f "$RESTORE" ]] || return 0
  local kind name value
  while read -r kind name value; do
    case "$kind" in
      sysctl) [[ "$value" == - ]] || sysctl -qw "$name=$value" 2>/dev/null || true ;;
      created) rm -rf "$name" ;;
    esac
  done <"$RESTORE"
  rm -f "$RESTORE"
}

cmd_stop() {
  local clean=0
  [[ "${1:-}" == "--clean" ]] && clean=1
  stop_process kube-proxy
  stop_process kubelet
  # The Node object goes too (its pods are then garbage collected), so a later start
  # registers a fresh node.
  if [[ -f "$ADMIN_KUBECONFIG" ]] && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
    kubectl_admin delete node "$NODE_ADDRESS" --ignore-not-found --wait=false >/dev/null ||
      log "could not delete node $NODE_ADDRESS"
  fi
  if running containerd >/dev/null; then
    local task
    for task in $(ctr_k8s tasks ls -q 2>/dev/null || true); do
      ctr_k8s tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
  fi
  kill_pods
  stop_process containerd
  kill_pods
  unmount_all
  remove_cgroups
  # Network: kube-proxy's tables, our guard table, the pod bridge and its veths.
  local table link
  for table in "ip kube-proxy" "ip6 kube-proxy" "inet $GUARD_TABLE"; do
    # shellcheck disable=SC2086
    nft list table $table >/dev/null 2>&1 && nft delete table $table
  done
  for link in $(ip -o link show master "$POD_BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    ip link delete dev "$link" 2>/dev/null || true
  done
  ip link show dev "$POD_BRIDGE" >/dev/null 2>&1 && ip link delete dev "$POD_BRIDGE"
  # What the shims and the CNI library write at fixed paths.
  if ! pgrep -x containerd >/dev/null; then
    rm -rf /run/containerd/s /run/containerd/runc /run/containerd/fifo
    rmdir /run/containerd 2>/dev/null || true
  fi
  rm -f /var/lib/cni/results/"$CNI_NET"-* /var/lib/cni/results/cni-loopback-*
  find /var/log/containers -maxdepth 1 -type l -lname "$NODE_DIR/*" -delete 2>/dev/null || true
  restore_host_state
  rm -rf "$KUBELET_DIR" "$CONTAINERD_DIR/state" "$NODE_DIR/runc" "$NODE_DIR/cni/ipam" \
    "$NODE_DIR/pod-logs"
  if ((clean)); then
    log "removing $NODE_DIR (images too)"
    rm -rf "$NODE_DIR"
  fi
  node_address_down_if_unused
  log "node stopped"
}

cmd_status() {
  local rc=0
  components_status "${COMPONENTS[@]}" || rc=1
  if node_ready; then
    echo "node $NODE_ADDRESS: Ready"
  else
    echo "node $NODE_ADDRESS: not Ready"; rc=1
  fi
  return "$rc"
}

cmd_load() {
  (($#)) || die "usage: $0 load ARCHIVE..."
  running containerd >/dev/null || die "containerd is not running: tests/env/node.sh start"
  local archive
  for archive in "$@"; do
    [[ -f "$archive" ]] || die "no such archive: $archive"
    ctr_k8s images import "$archive"
  done
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) print_env ;;
  load) shift; cmd_load "$@" ;;
  *) echo "usage: $0 start | stop [--clean] | status | env | load ARCHIVE..." >&2; exit 2 ;;
esac
