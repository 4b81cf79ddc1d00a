//! The chart's ServiceAccounts at work: the chart installed into the real API server, then
//! the operator binary run out of cluster as the operator's ServiceAccount (impersonation,
//! leader election as the Deployment configures it) through a full UserPool and AppUser
//! life cycle, and webhook-api's pool discovery as its ServiceAccount. No node runs the
//! pods: the RBAC and the settings are what is under test.

use std::collections::BTreeSet;

use clap::Parser;
use cognito_crds::{AppUser, UserPool};
use cognito_operator_tests::{
    OperatorProcess, TestNamespace, aws_config, emulator_pool,
    helm::{RELEASE, Release},
    impersonating_kubeconfig, kube_client, kube_client_as,
    objects::{app_user_manifest, is_ready, password_secret_manifest, user_pool_manifest},
    repo_root, service_account_user, wait, wait_for, wait_for_deletion,
};
use k8s_openapi::api::{coordination::v1::Lease, core::v1::Secret, events::v1::Event};
use kube::{Api, api::ListParams};
use serde_json::Value;

const PASSWORD: &str = "Helm-Chart-Passw0rd!";

/// IAM actions of docs/iam-policy.json.
fn policy_actions() -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/iam-policy.json"))
        .expect("read docs/iam-policy.json");
    let policy: Value = serde_json::from_str(&text).expect("docs/iam-policy.json is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(statement["Effect"], "Allow");
        match &statement["Action"] {
            Value::String(action) => {
                actions.insert(action.clone());
            }
            Value::Array(list) => {
                actions.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)));
            }
            other => panic!("unexpected Action {other}"),
        }
    }
    actions
}

/// The IAM actions behind the AWS calls the operator counted in its metrics.
fn actions_called(operator: &OperatorProcess) -> BTreeSet<String> {
    operator
        .metrics()
        .lines()
        .filter(|line| line.starts_with("cognito_operator_aws_calls_total{"))
        .map(|line| {
            let label = |key: &str| {
                let start = line.find(&format!("{key}=\"")).expect("label") + key.len() + 2;
                let end = start + line[start..].find('"').expect("label end");
                line[start..end].to_owned()
            };
            let prefix = match label("service").as_str() {
                "CloudFormation" => "cloudformation",
                "Cognito Identity Provider" => "cognito-idp",
                "Lambda" => "lambda",
                other => panic!("unexpected AWS service {other}"),
            };
            format!("{prefix}:{}", label("operation"))
        })
        .collect()
}

#[tokio::test]
async fn the_chart_service_accounts_run_a_full_life_cycle() {
    let ns = TestNamespace::create("helm-run");
    let namespace = ns.name().to_owned();
    // Discovery of the release's own namespace, which an admin must name.
    let discovery = format!("webhookApi.discovery.namespaces={{{namespace}}}");
    let (_release, _) = Release::install(
        &namespace,
        &["webhookApi.discovery.enabled=true", &discovery],
    );
    let lease_name = format!("{RELEASE}-leader");
    let operator_user = service_account_user(&namespace, RELEASE);
    let webhook_user = service_account_user(&namespace, &format!("{RELEASE}-webhook-api"));
    let client = kube_client().await;

    // The operator binary, out of cluster, as the chart's ServiceAccount, with leader
    // election in the release namespace as the Deployment configures it.
    let kubeconfig = impersonating_kubeconfig(&operator_user);
    let kubeconfig = kubeconfig.display().to_string();
    let mut operator = OperatorProcess::start(
        &namespace,
        &[
            ("KUBECONFIG", kubeconfig.as_str()),
            ("LEADER_ELECTION", "true"),
            ("POD_NAMESPACE", namespace.as_str()),
            ("POD_NAME", "helm-e2e"),
            ("LEASE_NAME", lease_name.as_str()),
        ],
    );

    ns.apply(&user_pool_manifest(
        "shop",
        "  deletionPolicy: Delete\n  groups: [{name: admins}]\n  clients: [{name: web}, {name: backend, generateSecret: true}]\n",
    ));
    let pools: Api<UserPool> = Api::namespaced(client.clone(), &namespace);
    let pool = wait_for(&pools, "shop", "UserPool Ready", is_ready).await;
    let pool_status = pool.status.clone().expect("status");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let connection = secrets
        .get("shop-cognito")
        .await
        .expect("connection Secret");
    assert!(
        connection
            .data
            .expect("data")
            .contains_key("backend.clientSecret")
    );

    // One user with a password Secret, one whose Secret the operator generates.
    ns.apply(&password_secret_manifest("alice-password", PASSWORD));
    ns.apply(&app_user_manifest(
        "alice",
        "shop",
        "alice@example.com",
        "alice-password",
        "  groups: [admins]\n",
    ));
    ns.apply(&app_user_manifest(
        "bob",
        "shop",
        "bob@example.com",
        "bob-password",
        "  generatePassword: true\n",
    ));
    let users: Api<AppUser> = Api::namespaced(client.clone(), &namespace);
    for name in ["alice", "bob"] {
        wait_for(&users, name, "AppUser Ready", is_ready).await;
    }
    secrets
        .get("bob-password")
        .await
        .expect("generated password Secret");

    let leases = Api::<Lease>::namespaced(client.clone(), &namespace);
    let lease = leases.get(&lease_name).await.expect("leader Lease");
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("helm-e2e")
    );
    let events = Api::<Event>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .expect("Events");
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reporting_controller.as_deref() == Some("cognito-operator")),
        "the operator published Events"
    );

    // webhook-api's discovery as its ServiceAccount trusts the pool.
    webhook_api::install_crypto_provider();
    let cli = webhook_api::config::Cli::parse_from([
        "webhook-api",
        "--discover-user-pools",
        "--discovery-namespaces",
        &namespace,
    ]);
    let state = webhook_api::AppState::new(&cli, &aws_config().await).expect("webhook-api state");
    state.spawn_discovery(kube_client_as(&webhook_user).await);
    let issuer = pool_status.issuer.clone().expect("issuer");
    wait::until("webhook-api trusts the pool", || async {
        state.pools.pools().iter().any(|p| p.issuer == issuer)
    })
    .await;

    // Delete everything; the finalizers complete.
    for user in ["alice", "bob"] {
        ns.delete("appuser", user);
        wait_for_deletion(&users, user, "AppUser gone").await;
    }
    ns.delete("userpool", "shop");
    wait_for_deletion(&pools, "shop", "UserPool gone").await;
    assert!(
        emulator_pool(&pool).await.describe().await.is_none(),
        "deletionPolicy Delete removed the pool"
    );

    // Every AWS call the operator made is allowed by docs/iam-policy.json.
    let allowed = policy_actions();
    let called = actions_called(&operator);
    assert!(
        called.contains("cloudformation:CreateStack")
            && called.contains("cognito-idp:AdminCreateUser")
    );
    let missing: Vec<_> = called.difference(&allowed).collect();
    assert!(missing.is_empty(), "docs/iam-policy.json lacks {missing:?}");

    // A clean stop releases the Lease (an update by name).
    operator.stop();
    let lease = leases.get(&lease_name).await.expect("leader Lease");
    assert_eq!(lease.spec.and_then(|s| s.holder_identity), None, "released");

    let log = operator.log_text();
    // (A "reconcile failed" on a 409 conflict is normal optimistic concurrency.)
    for sign in ["forbidden", "Forbidden", "could not publish Event"] {
        assert!(!log.contains(sign), "operator log has {sign:?}:\n{log}");
    }
    assert!(!log.contains(PASSWORD), "the password leaked into the log");
}
