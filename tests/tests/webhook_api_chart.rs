//! webhook-api's part of the Helm chart, rendered without a cluster: what an admin must
//! set before a tenant pool is trusted, and `/metrics` apart from the public port.

use cognito_operator_tests::helm::template;

fn rendered(sets: &[&str]) -> String {
    template("default", sets).expect_success("template").stdout
}

#[test]
fn no_tenant_pool_is_trusted_by_default() {
    let default = rendered(&[]);
    assert!(
        !default.contains("WEBHOOK_API_DISCOVER_USER_POOLS"),
        "{default}"
    );
    assert!(
        !default.contains("-webhook-api\n  labels"),
        "no discovery RBAC: {default}"
    );

    let without_namespaces = template("default", &["webhookApi.discovery.enabled=true"]);
    assert!(
        !without_namespaces.success,
        "discovery without namespaces was accepted"
    );
    assert!(without_namespaces.stderr.contains("discovery.namespaces"));
    let bad_name = template("default", &["webhookApi.discovery.namespaces={Team_A}"]);
    assert!(!bad_name.success, "an invalid namespace name was accepted");

    let two = rendered(&[
        "webhookApi.discovery.enabled=true",
        "webhookApi.discovery.namespaces={team-a,team-b}",
    ]);
    assert!(
        two.contains(
            "- name: WEBHOOK_API_DISCOVERY_NAMESPACES\n              value: \"team-a,team-b\""
        ),
        "{two}"
    );
    assert!(two.contains(
        "kind: RoleBinding\nmetadata:\n  name: cognito-operator-webhook-api\n  namespace: team-a"
    ));
    assert!(two.contains(
        "kind: RoleBinding\nmetadata:\n  name: cognito-operator-webhook-api\n  namespace: team-b"
    ));
    assert!(!two.contains(
        "kind: ClusterRoleBinding\nmetadata:\n  name: default-cognito-operator-webhook-api"
    ));

    let all = rendered(&[
        "webhookApi.discovery.enabled=true",
        "webhookApi.discovery.namespaces={*}",
    ]);
    assert!(
        all.contains(
            "kind: ClusterRoleBinding\nmetadata:\n  name: default-cognito-operator-webhook-api"
        ),
        "{all}"
    );
}

#[test]
fn metrics_have_their_own_port() {
    let text = rendered(&["serviceMonitor.enabled=true"]);
    assert!(
        text.contains("- name: WEBHOOK_API_METRICS_LISTEN\n              value: \"0.0.0.0:9090\""),
        "{text}"
    );
    assert!(
        text.contains("- name: metrics\n              containerPort: 9090"),
        "{text}"
    );
    assert_eq!(
        text.matches("    - port: metrics\n").count(),
        2,
        "both ServiceMonitors scrape a metrics port: {text}"
    );
}
