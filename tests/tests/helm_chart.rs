//! The Helm chart end to end: lint and render it with the real `helm`, install it into the
//! real API server, check what it created, then run the operator binary out of cluster as
//! the chart's ServiceAccount (impersonation) through a full UserPool and AppUser life
//! cycle, and webhook-api's pool discovery as its ServiceAccount. No node runs the pods:
//! the RBAC, the objects and the settings are what is under test.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use clap::Parser;
use cognito_operator::crd::{AppUser, UserPool};
use cognito_operator_tests::{
    OperatorProcess, TestNamespace, aws_config, environment, impersonating_kubeconfig, kube_client,
    kube_client_as, kubectl, kubectl_with_stdin, service_account_user,
};
use k8s_openapi::api::{
    apps::v1::Deployment,
    coordination::v1::Lease,
    core::v1::{Container, Secret, Service, ServiceAccount},
    events::v1::Event,
    networking::v1::NetworkPolicy,
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding},
};
use kube::{Api, api::ListParams};
use serde_json::Value;

/// The release name used by the installs below: the chart names objects after it.
const RELEASE: &str = "cognito-operator";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/cognito-operator";
const PASSWORD: &str = "Helm-Chart-Passw0rd!";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives inside the repository")
        .to_path_buf()
}

fn chart_dir() -> PathBuf {
    repo_root().join("charts/cognito-operator")
}

/// What a finished `helm` printed.
struct HelmOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

impl HelmOutput {
    fn expect_success(self, what: &str) -> Self {
        assert!(
            self.success,
            "helm {what} failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The `helm` that tests/env/install-k8s.sh built, against the local control plane.
fn helm(args: &[&str]) -> HelmOutput {
    let env = environment();
    // Keep helm's caches and repository config out of the user's home.
    let home = std::env::temp_dir().join("helm-e2e");
    let output = Command::new(env.tool("helm"))
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("run helm");
    HelmOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn chart_arg() -> String {
    chart_dir().display().to_string()
}

/// `helm template` with `--set` values.
fn template(namespace: &str, sets: &[&str]) -> String {
    let chart = chart_arg();
    let mut args = vec!["template", RELEASE, &chart, "--namespace", namespace];
    for set in sets {
        args.extend(["--set", set]);
    }
    helm(&args).expect_success("template").stdout
}

/// Uninstalls the release when dropped: its ClusterRoles and ClusterRoleBindings would
/// outlive the test namespace otherwise.
struct Release {
    namespace: String,
}

impl Release {
    /// `helm install` into `namespace`; returns the release and what helm printed.
    fn install(namespace: &str, sets: &[&str]) -> (Self, HelmOutput) {
        let chart = chart_arg();
        let mut args = vec!["install", RELEASE, &chart, "--namespace", namespace];
        for set in sets {
            args.extend(["--set", set]);
        }
        let output = helm(&args).expect_success("install");
        (
            Self {
                namespace: namespace.to_owned(),
            },
            output,
        )
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(&["uninstall", RELEASE, "--namespace", &self.namespace]);
    }
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let root = repo_root();
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| {
                entry
                    .expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    };
    let generated = root.join("crds");
    let in_chart = chart_dir().join("crds");
    let hint = "re-sync with: cp crds/*.yaml charts/cognito-operator/crds/";
    assert_eq!(names(&generated), names(&in_chart), "{hint}");
    for name in names(&generated) {
        let a = std::fs::read(generated.join(&name)).expect("read crds/");
        let b = std::fs::read(in_chart.join(&name)).expect("read chart crds/");
        assert!(
            a == b,
            "charts/cognito-operator/crds/{name} differs from crds/{name}; {hint}"
        );
    }
}

#[test]
fn lint_and_template_are_clean() {
    let chart = chart_arg();
    let everything = [
        "serviceMonitor.enabled=true",
        "networkPolicy.enabled=true",
        "webhookApi.config.pools[0].issuer=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
        "webhookApi.config.pools[0].clientIds[0]=abc",
        "webhookApi.signup.userPoolId=us-east-1_x",
        "webhookApi.triggerSecret.existingSecret=triggers",
        "operator.watchNamespace=default",
        "webhookApi.discovery.namespace=default",
        "operator.cognitoRates.userRead=60",
    ];
    for sets in [&[][..], &everything[..]] {
        let mut args = vec!["lint", "--strict", &chart];
        for set in sets {
            args.extend(["--set", set]);
        }
        let lint = helm(&args).expect_success("lint");
        assert!(lint.stdout.contains("0 chart(s) failed"), "{}", lint.stdout);
        assert!(!lint.stdout.contains("[WARNING]"), "{}", lint.stdout);
    }

    // The default render is valid for the real API server (strict field validation).
    let rendered = template("default", &[]);
    let dry_run = kubectl_with_stdin(
        &[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-n",
            "default",
            "-f",
            "-",
        ],
        &rendered,
    )
    .run()
    .expect_success("server-side dry run of the default render");
    for object in [
        "deployment.apps/cognito-operator ",
        "deployment.apps/cognito-operator-webhook-api ",
        "service/cognito-operator-webhook-api ",
        "serviceaccount/cognito-operator ",
        "clusterrole.rbac.authorization.k8s.io/default-cognito-operator ",
        "role.rbac.authorization.k8s.io/cognito-operator-leader-election ",
    ] {
        assert!(
            dry_run.contains(object),
            "{object} missing from:\n{dry_run}"
        );
    }
    assert!(
        !rendered.contains("kind: ServiceMonitor") && !rendered.contains("kind: NetworkPolicy")
    );

    // Everything on: the ServiceMonitor CRD is not installed here, so it is checked as text.
    let rendered = template("default", &everything);
    assert_eq!(
        rendered.matches("kind: ServiceMonitor").count(),
        2,
        "{rendered}"
    );
    assert_eq!(
        rendered.matches("kind: NetworkPolicy").count(),
        2,
        "{rendered}"
    );
    assert_eq!(rendered.matches("kind: ConfigMap").count(), 1, "{rendered}");
    // Namespaced mode: RoleBindings in the watched namespace, no ClusterRoleBinding.
    assert!(!rendered.contains("kind: ClusterRoleBinding"), "{rendered}");
    assert_eq!(
        rendered.matches("kind: RoleBinding").count(),
        3,
        "leader election, operator and webhook-api RoleBindings:\n{rendered}"
    );
    for env in [
        "WATCH_NAMESPACE",
        "WEBHOOK_API_DISCOVERY_NAMESPACE",
        "WEBHOOK_API_SIGNUP_USER_POOL_ID",
        "WEBHOOK_API_TRIGGER_SECRET",
        "WEBHOOK_API_CONFIG",
        "COGNITO_USER_READ_RPS",
    ] {
        assert!(rendered.contains(env), "{env} missing from:\n{rendered}");
    }
    let without_servicemonitor: String = rendered
        .split("\n---")
        .filter(|doc| !doc.contains("kind: ServiceMonitor"))
        .collect::<Vec<_>>()
        .join("\n---");
    kubectl_with_stdin(
        &[
            "apply",
            "--dry-run=server",
            "--validate=strict",
            "-n",
            "default",
            "-f",
            "-",
        ],
        &without_servicemonitor,
    )
    .run()
    .expect_success("server-side dry run with every option on");

    // values.schema.json refuses typos and out-of-range values.
    for bad in [
        "operator.replica=2",
        "operator.logFormat=xml",
        "operator.cognitoRates.userList=0",
    ] {
        let output = helm(&["template", RELEASE, &chart, "--set", bad]);
        assert!(!output.success, "{bad} was accepted");
        assert!(output.stderr.contains("schema"), "{bad}: {}", output.stderr);
    }
}

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

fn env_value<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    container
        .env
        .as_ref()?
        .iter()
        .find(|e| e.name == name)?
        .value
        .as_deref()
}

/// Checks the restricted Pod Security settings, probes and resources of one Deployment.
fn assert_hardened(deployment: &Deployment, service_account: &str, port_name: &str) {
    let name = deployment.metadata.name.as_deref().unwrap_or_default();
    let pod = deployment.spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(service_account));
    let pod_security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true), "{name}");
    assert_eq!(
        pod_security
            .seccomp_profile
            .as_ref()
            .map(|p| p.type_.as_str()),
        Some("RuntimeDefault"),
        "{name}"
    );
    let [container] = pod.containers.as_slice() else {
        panic!("{name}: one container expected");
    };
    let security = container
        .security_context
        .as_ref()
        .expect("securityContext");
    assert_eq!(security.run_as_non_root, Some(true), "{name}");
    assert_eq!(security.read_only_root_filesystem, Some(true), "{name}");
    assert_eq!(security.allow_privilege_escalation, Some(false), "{name}");
    assert_eq!(
        security.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()]),
        "{name}"
    );
    assert_eq!(
        security.seccomp_profile.as_ref().map(|p| p.type_.as_str()),
        Some("RuntimeDefault"),
        "{name}"
    );
    for (probe, path) in [
        (&container.liveness_probe, "/healthz"),
        (&container.readiness_probe, "/readyz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("{name}: {path} probe"));
        assert_eq!(get.path.as_deref(), Some(path), "{name}");
        assert_eq!(
            get.port,
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(port_name.into()),
            "{name}"
        );
    }
    let resources = container.resources.as_ref().expect("resources");
    assert!(
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key("memory"))
    );
    assert!(
        resources
            .limits
            .as_ref()
            .is_some_and(|r| r.contains_key("memory"))
    );
}

/// Whether `user` may `verb` `resource` in `namespace`, asked of the API server.
fn can_i(user: &str, namespace: &str, verb: &str, resource: &str, extra: &[&str]) -> bool {
    let mut command = kubectl(&[
        "auth", "can-i", verb, resource, "-n", namespace, "--as", user,
    ]);
    for arg in extra {
        command = command.arg(arg);
    }
    let output = command.run();
    output.stdout.trim() == "yes"
}

/// Polls until `done` holds, for at most 90 s, showing the operator log on time-out.
async fn wait_until<F, Fut>(what: &str, operator: &OperatorProcess, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\noperator log:\n{}",
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn is_ready(conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]) -> bool {
    ["Ready", "Synced"].iter().all(|t| {
        conditions
            .iter()
            .any(|c| c.type_ == *t && c.status == "True")
    })
}

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
                other => panic!("unexpected AWS service {other}"),
            };
            format!("{prefix}:{}", label("operation"))
        })
        .collect()
}

#[tokio::test]
async fn install_then_run_as_the_chart_service_accounts() {
    let ns = TestNamespace::create("helm");
    let namespace = ns.name().to_owned();
    // The API server warns about any pod template that breaks the restricted standard.
    kubectl(&[
        "label",
        "namespace",
        &namespace,
        "pod-security.kubernetes.io/warn=restricted",
        "pod-security.kubernetes.io/audit=restricted",
    ])
    .run()
    .expect_success("label namespace");

    let started = Instant::now();
    let role_annotation =
        format!("operator.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn={ROLE_ARN}");
    let (_release, install) = Release::install(
        &namespace,
        &[
            &role_annotation,
            "operator.replicas=2",
            "networkPolicy.enabled=true",
            "aws.region=us-east-1",
        ],
    );
    assert!(
        !install.stderr.contains("PodSecurity"),
        "the chart breaks the restricted Pod Security Standard:\n{}",
        install.stderr
    );
    assert!(
        install.stdout.contains("STATUS: deployed"),
        "{}",
        install.stdout
    );
    assert!(
        install.stdout.contains(ROLE_ARN),
        "NOTES name the IRSA role"
    );
    eprintln!("helm install took {:?}", started.elapsed());

    // What the chart created.
    let client = kube_client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let operator_deployment = deployments.get(RELEASE).await.expect("operator Deployment");
    assert_eq!(operator_deployment.spec.replicas, Some(2));
    assert_hardened(&operator_deployment, RELEASE, "metrics");
    let container = &operator_deployment
        .spec
        .template
        .spec
        .as_ref()
        .expect("pod spec")
        .containers[0];
    assert_eq!(container.args, Some(vec!["run".to_owned()]));
    assert_eq!(env_value(container, "LEADER_ELECTION"), Some("true"));
    let lease_name = format!("{RELEASE}-leader");
    assert_eq!(
        env_value(container, "LEASE_NAME"),
        Some(lease_name.as_str())
    );
    assert_eq!(env_value(container, "AWS_REGION"), Some("us-east-1"));
    for downward in ["POD_NAME", "POD_NAMESPACE"] {
        let var = container
            .env
            .as_ref()
            .and_then(|env| env.iter().find(|e| e.name == downward))
            .unwrap_or_else(|| panic!("{downward} missing"));
        assert!(
            var.value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .is_some()
        );
    }

    let webhook_name = format!("{RELEASE}-webhook-api");
    let webhook_deployment = deployments
        .get(&webhook_name)
        .await
        .expect("webhook-api Deployment");
    assert_hardened(&webhook_deployment, &webhook_name, "http");
    let webhook_container = &webhook_deployment
        .spec
        .template
        .spec
        .as_ref()
        .expect("pod spec")
        .containers[0];
    assert_eq!(
        env_value(webhook_container, "WEBHOOK_API_DISCOVER_USER_POOLS"),
        Some("true")
    );

    let service = Api::<Service>::namespaced(client.clone(), &namespace)
        .get(&webhook_name)
        .await
        .expect("webhook-api Service");
    let ports = service.spec.and_then(|s| s.ports).expect("ports");
    assert_eq!(ports[0].port, 80);
    assert_eq!(
        ports[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("http".into()))
    );

    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let operator_sa = service_accounts
        .get(RELEASE)
        .await
        .expect("operator ServiceAccount");
    assert_eq!(
        operator_sa
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("eks.amazonaws.com/role-arn"))
            .map(String::as_str),
        Some(ROLE_ARN)
    );
    service_accounts
        .get(&webhook_name)
        .await
        .expect("webhook-api ServiceAccount");

    let cluster_name = format!("{namespace}-{RELEASE}");
    let cluster_role = Api::<ClusterRole>::all(client.clone())
        .get(&cluster_name)
        .await
        .expect("operator ClusterRole");
    let group = "cognito.kubeauth.dev";
    assert_eq!(
        cluster_role.rules.expect("rules"),
        vec![
            rule(&["get", "list", "watch", "patch"], group, &["userpools"]),
            rule(&["list", "watch", "patch"], group, &["appusers"]),
            rule(&["patch"], group, &["userpools/status", "appusers/status"]),
            rule(
                &["update"],
                group,
                &["userpools/finalizers", "appusers/finalizers"]
            ),
            rule(
                &["get", "list", "watch", "create", "patch"],
                "",
                &["secrets"]
            ),
            rule(&["create", "patch"], "events.k8s.io", &["events"]),
        ]
    );
    let binding = Api::<ClusterRoleBinding>::all(client.clone())
        .get(&cluster_name)
        .await
        .expect("operator ClusterRoleBinding");
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        (RELEASE, Some(namespace.as_str()))
    );
    Api::<ClusterRole>::all(client.clone())
        .get(&format!("{cluster_name}-webhook-api"))
        .await
        .expect("webhook-api ClusterRole");
    let lease_role = Api::<Role>::namespaced(client.clone(), &namespace)
        .get(&format!("{RELEASE}-leader-election"))
        .await
        .expect("leader-election Role");
    assert!(
        lease_role
            .rules
            .expect("rules")
            .iter()
            .any(|r| r.resource_names == Some(vec![lease_name.clone()]))
    );
    Api::<RoleBinding>::namespaced(client.clone(), &namespace)
        .get(&format!("{RELEASE}-leader-election"))
        .await
        .expect("leader-election RoleBinding");
    let policies = Api::<NetworkPolicy>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .expect("NetworkPolicies");
    assert_eq!(policies.items.len(), 2);

    // Least privilege, as the API server sees it.
    let operator_user = service_account_user(&namespace, RELEASE);
    let webhook_user = service_account_user(&namespace, &webhook_name);
    for (verb, resource, extra) in [
        (
            "patch",
            "userpools.cognito.kubeauth.dev",
            &["--subresource=status"][..],
        ),
        ("create", "secrets", &[]),
        ("create", "events.events.k8s.io", &[]),
        ("list", "secrets", &["--all-namespaces"]),
    ] {
        assert!(
            can_i(&operator_user, &namespace, verb, resource, extra),
            "operator: {verb} {resource}"
        );
    }
    for (verb, resource) in [
        ("delete", "secrets"),
        ("update", "secrets"),
        ("get", "configmaps"),
        ("delete", "userpools.cognito.kubeauth.dev"),
        ("create", "userpools.cognito.kubeauth.dev"),
        ("update", "userpools.cognito.kubeauth.dev"),
        ("create", "events"),
        ("list", "pods"),
    ] {
        assert!(
            !can_i(&operator_user, &namespace, verb, resource, &[]),
            "operator may {verb} {resource}"
        );
    }
    assert!(!can_i(
        &operator_user,
        &namespace,
        "get",
        "leases/some-other-lease",
        &[]
    ));
    assert!(can_i(
        &operator_user,
        &namespace,
        "update",
        &format!("leases/{lease_name}"),
        &[]
    ));
    assert!(!can_i(
        &operator_user,
        "kube-system",
        "create",
        "leases",
        &[]
    ));
    assert!(can_i(
        &webhook_user,
        &namespace,
        "watch",
        "userpools.cognito.kubeauth.dev",
        &[]
    ));
    for (verb, resource) in [
        ("get", "secrets"),
        ("patch", "userpools.cognito.kubeauth.dev"),
        ("get", "userpools.cognito.kubeauth.dev"),
    ] {
        assert!(
            !can_i(&webhook_user, &namespace, verb, resource, &[]),
            "webhook-api may {verb} {resource}"
        );
    }

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

    ns.apply("apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: UserPool\nmetadata: {name: shop}\nspec:\n  region: us-east-1\n  deletionPolicy: Delete\n  groups: [{name: admins}]\n  clients: [{name: web}, {name: backend, generateSecret: true}]\n",
    );
    let pools: Api<UserPool> = Api::namespaced(client.clone(), &namespace);
    wait_until("UserPool Ready", &operator, || async {
        pools
            .get("shop")
            .await
            .ok()
            .and_then(|p| p.status)
            .is_some_and(|s| s.user_pool_id.is_some() && is_ready(&s.conditions))
    })
    .await;
    let pool_status = pools
        .get("shop")
        .await
        .expect("pool")
        .status
        .expect("status");
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
    ns.apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: alice-password}}\nstringData: {{password: '{PASSWORD}'}}\n---\napiVersion: cognito.kubeauth.dev/v1alpha1\nkind: AppUser\nmetadata: {{name: alice}}\nspec:\n  userPoolRef: {{name: shop}}\n  email: alice@example.com\n  passwordSecretRef: {{name: alice-password}}\n  groups: [admins]\n---\napiVersion: cognito.kubeauth.dev/v1alpha1\nkind: AppUser\nmetadata: {{name: bob}}\nspec:\n  userPoolRef: {{name: shop}}\n  email: bob@example.com\n  passwordSecretRef: {{name: bob-password}}\n  generatePassword: true\n"
        ),
    );
    let users: Api<AppUser> = Api::namespaced(client.clone(), &namespace);
    for name in ["alice", "bob"] {
        wait_until(&format!("AppUser {name} Ready"), &operator, || async {
            users
                .get(name)
                .await
                .ok()
                .and_then(|u| u.status)
                .is_some_and(|s| s.sub.is_some() && is_ready(&s.conditions))
        })
        .await;
    }
    secrets
        .get("bob-password")
        .await
        .expect("generated password Secret");

    let lease = Api::<Lease>::namespaced(client.clone(), &namespace)
        .get(&lease_name)
        .await
        .expect("leader Lease");
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
    let cli = webhook_api::config::Cli::parse_from(["webhook-api", "--discover-user-pools"]);
    let state = webhook_api::AppState::new(&cli, &aws_config().await).expect("webhook-api state");
    state.spawn_discovery(kube_client_as(&webhook_user).await, Some(namespace.clone()));
    let issuer = pool_status.issuer.clone().expect("issuer");
    wait_until("webhook-api trusts the pool", &operator, || async {
        state.pools.pools().iter().any(|p| p.issuer == issuer)
    })
    .await;

    // Delete everything; the finalizers complete.
    kubectl(&[
        "delete",
        "appusers",
        "alice",
        "bob",
        "-n",
        &namespace,
        "--wait=false",
    ])
    .run()
    .expect_success("delete AppUsers");
    wait_until("AppUsers gone", &operator, || async {
        users
            .list(&ListParams::default())
            .await
            .is_ok_and(|l| l.items.is_empty())
    })
    .await;
    kubectl(&[
        "delete",
        "userpool",
        "shop",
        "-n",
        &namespace,
        "--wait=false",
    ])
    .run()
    .expect_success("delete UserPool");
    wait_until("UserPool gone", &operator, || async {
        matches!(pools.get_opt("shop").await, Ok(None))
    })
    .await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws_config().await);
    let pool_id = pool_status.user_pool_id.expect("pool id");
    assert!(
        cognito
            .describe_user_pool()
            .user_pool_id(&pool_id)
            .send()
            .await
            .is_err(),
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
    let lease = Api::<Lease>::namespaced(client.clone(), &namespace)
        .get(&lease_name)
        .await
        .expect("leader Lease");
    assert_eq!(lease.spec.and_then(|s| s.holder_identity), None, "released");

    let log = operator.log_text();
    // (A "reconcile failed" on a 409 conflict is normal optimistic concurrency.)
    for sign in ["forbidden", "Forbidden", "could not publish Event"] {
        assert!(!log.contains(sign), "operator log has {sign:?}:\n{log}");
    }
    assert!(!log.contains(PASSWORD), "the password leaked into the log");
}

#[tokio::test]
async fn watch_namespace_confines_the_operator_to_it() {
    let ns = TestNamespace::create("helm-ns");
    let namespace = ns.name().to_owned();
    let watch = format!("operator.watchNamespace={namespace}");
    let discovery = format!("webhookApi.discovery.namespace={namespace}");
    let (_release, _) = Release::install(&namespace, &[&watch, &discovery]);

    let client = kube_client().await;
    let cluster_name = format!("{namespace}-{RELEASE}");
    assert!(
        Api::<ClusterRoleBinding>::all(client.clone())
            .get_opt(&cluster_name)
            .await
            .expect("get ClusterRoleBinding")
            .is_none(),
        "no cluster-wide binding in namespaced mode"
    );
    let bindings = Api::<RoleBinding>::namespaced(client.clone(), &namespace);
    bindings.get(RELEASE).await.expect("operator RoleBinding");
    bindings
        .get(&format!("{RELEASE}-webhook-api"))
        .await
        .expect("webhook-api RoleBinding");

    let operator_user = service_account_user(&namespace, RELEASE);
    assert!(can_i(&operator_user, &namespace, "get", "secrets", &[]));
    assert!(!can_i(&operator_user, "default", "get", "secrets", &[]));
    assert!(!can_i(
        &operator_user,
        &namespace,
        "list",
        "secrets",
        &["--all-namespaces"]
    ));
    let webhook_user = service_account_user(&namespace, &format!("{RELEASE}-webhook-api"));
    assert!(can_i(
        &webhook_user,
        &namespace,
        "list",
        "userpools.cognito.kubeauth.dev",
        &[]
    ));
    assert!(!can_i(
        &webhook_user,
        "default",
        "list",
        "userpools.cognito.kubeauth.dev",
        &[]
    ));
}

/// The upgrade procedure of docs/operations.md: CRDs applied server-side first (Helm
/// never upgrades `crds/`), then `helm upgrade --reuse-values` with a changed setting.
#[tokio::test]
async fn documented_upgrade_applies_the_crds_then_the_release() {
    let ns = TestNamespace::create("helm-up");
    let namespace = ns.name().to_owned();
    let (_release, _) = Release::install(&namespace, &["operator.resyncIntervalSeconds=600"]);

    let crds = chart_dir().join("crds");
    let crds = crds.display().to_string();
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &crds])
        .run()
        .expect_success("apply the chart's CRDs");

    let chart = chart_arg();
    let upgrade = helm(&[
        "upgrade",
        RELEASE,
        &chart,
        "--namespace",
        &namespace,
        "--reuse-values",
        "--set",
        "operator.resyncIntervalSeconds=300",
    ])
    .expect_success("upgrade");
    assert!(upgrade.stdout.contains("REVISION: 2"), "{}", upgrade.stdout);

    let deployment = Api::<Deployment>::namespaced(kube_client().await, &namespace)
        .get(RELEASE)
        .await
        .expect("operator Deployment");
    let container = &deployment.spec.template.spec.expect("pod spec").containers[0];
    assert_eq!(env_value(container, "RESYNC_INTERVAL_SECONDS"), Some("300"));
    assert_eq!(
        env_value(container, "LEADER_ELECTION"),
        Some("true"),
        "--reuse-values kept the rest"
    );
}
