//! The local test node (tests/env/node.sh): it is Ready, runs a pod under the restricted
//! Pod Security Standard on the pod network, pulls no image from anywhere, and pods reach
//! the API server through the `kubernetes` Service, whose endpoint is the node address.

use std::net::Ipv4Addr;

use cognito_operator_tests::{
    TestNamespace, kube_client, kubectl,
    node::{env_setting, node_address},
    wait::wait_for,
};
use k8s_openapi::api::{
    core::v1::{Node, Pod},
    discovery::v1::EndpointSlice,
};
use kube::Api;

/// Whether `ip` lies in `cidr` (`a.b.c.d/n`).
fn in_cidr(ip: &str, cidr: &str) -> bool {
    let (network, bits) = cidr.split_once('/').expect("CIDR has a prefix length");
    let bits: u32 = bits.parse().expect("prefix length");
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    let ip: Ipv4Addr = ip.parse().expect("IPv4 address");
    let network: Ipv4Addr = network.parse().expect("IPv4 network");
    u32::from(ip) & mask == u32::from(network) & mask
}

/// A namespace where the restricted Pod Security Standard is enforced.
fn restricted_namespace(prefix: &str) -> TestNamespace {
    let ns = TestNamespace::create(prefix);
    kubectl(&["label", "namespace", ns.name()])
        .arg("pod-security.kubernetes.io/enforce=restricted")
        .run()
        .expect_success("label namespace restricted");
    ns
}

/// A pod running `image` as the restricted standard asks.
fn restricted_pod(name: &str, image: &str, pull_policy: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 0
  securityContext:
    runAsNonRoot: true
    runAsUser: 65535
    runAsGroup: 65535
    seccompProfile: {{type: RuntimeDefault}}
  containers:
  - name: main
    image: {image}
    imagePullPolicy: {pull_policy}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {{drop: [ALL]}}
    resources:
      requests: {{cpu: 10m, memory: 16Mi}}
      limits: {{cpu: 100m, memory: 16Mi}}
"#
    )
}

#[tokio::test]
async fn the_node_is_ready_and_named_by_its_address() {
    let address = node_address();
    let nodes: Api<Node> = Api::all(kube_client().await);
    let node = wait_for(&nodes, &address, "the node to be Ready", |node| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    })
    .await;
    let addresses = node.status.and_then(|s| s.addresses).unwrap_or_default();
    assert!(
        addresses
            .iter()
            .any(|a| a.type_ == "InternalIP" && a.address == address),
        "node addresses: {addresses:?}"
    );
    let taints = node.spec.and_then(|s| s.taints).unwrap_or_default();
    assert!(taints.is_empty(), "a Ready node has no taints: {taints:?}");
}

#[tokio::test]
async fn a_restricted_pod_runs_on_the_pod_network() {
    let ns = restricted_namespace("node-pod");
    let pause = env_setting("PAUSE_IMAGE");

    // The label is enforced: a pod that asks for more is refused at admission.
    let refused = ns
        .try_apply(&format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: root\nspec:\n  containers:\n  - name: main\n    image: {pause}\n    securityContext: {{privileged: true}}\n"
        ))
        .expect_failure("apply a privileged pod");
    assert!(refused.contains("violates PodSecurity"), "{refused}");

    ns.apply(&restricted_pod("pause", &pause, "Never"));
    let pods: Api<Pod> = Api::namespaced(kube_client().await, ns.name());
    let pod = wait_for(&pods, "pause", "the pod to run with an IP", |pod| {
        pod.status
            .as_ref()
            .is_some_and(|s| s.phase.as_deref() == Some("Running") && s.pod_ip.is_some())
    })
    .await;
    let status = pod.status.expect("status");
    let ip = status.pod_ip.expect("pod IP");
    let pod_cidr = env_setting("POD_CIDR");
    assert!(in_cidr(&ip, &pod_cidr), "pod IP {ip} outside {pod_cidr}");
    assert_eq!(status.host_ip.as_deref(), Some(node_address().as_str()));
}

#[tokio::test]
async fn no_image_is_pulled_from_a_registry() {
    let ns = restricted_namespace("node-pull");
    // Any registry resolves to a closed loopback port: the pull fails at once.
    ns.apply(&restricted_pod(
        "pull",
        "docker.io/library/busybox:1.37",
        "Always",
    ));
    let pods: Api<Pod> = Api::namespaced(kube_client().await, ns.name());
    let pod = wait_for(&pods, "pull", "the pull to fail", |pod| {
        pod.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.message.as_ref())
            .is_some_and(|m| m.contains("127.0.0.1:1"))
    })
    .await;
    let waiting = pod
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default()[0]
        .state
        .clone()
        .and_then(|s| s.waiting)
        .expect("waiting");
    assert!(
        matches!(
            waiting.reason.as_deref(),
            Some("ErrImagePull" | "ImagePullBackOff")
        ),
        "{waiting:?}"
    );
}

#[tokio::test]
async fn the_kubernetes_service_has_its_endpoint_at_the_node_address() {
    let address = node_address();
    let slices: Api<EndpointSlice> = Api::namespaced(kube_client().await, "default");
    let slice = wait_for(
        &slices,
        "kubernetes",
        "the API server's endpoint",
        |slice| {
            slice
                .endpoints
                .iter()
                .flatten()
                .any(|e| e.addresses.contains(&address))
        },
    )
    .await;
    assert_eq!(slice.address_type, "IPv4");
    let ports = slice.ports.unwrap_or_default();
    let kubeconfig_port =
        std::fs::read_to_string(&cognito_operator_tests::environment().kubeconfig)
            .expect("read kubeconfig")
            .lines()
            .find_map(|l| l.trim().strip_prefix("server: "))
            .and_then(|server| server.rsplit(':').next().map(str::to_owned))
            .expect("server URL with a port");
    assert!(
        ports
            .iter()
            .any(|p| p.port.map(|p| p.to_string()) == Some(kubeconfig_port.clone())),
        "ports {ports:?}, API server port {kubeconfig_port}"
    );
}
