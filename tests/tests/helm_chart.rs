//! The Helm chart installed into the real API server: the rendered chart passes strict
//! server-side validation, the objects it creates are hardened and least-privileged (as
//! the API server sees it), the namespaced mode and the documented upgrade work. No node
//! runs the pods. (helm_render.rs checks the chart without a cluster;
//! helm_service_accounts.rs runs the operator as the chart's ServiceAccount.)

use std::time::Instant;

use cognito_operator_tests::{
    TestNamespace,
    helm::{EVERYTHING_ON, RELEASE, Release, chart_dir, template},
    kube_client, kubectl, kubectl_with_stdin, service_account_user, wait,
};
use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{Container, Service, ServiceAccount},
    networking::v1::NetworkPolicy,
    rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding},
};
use kube::{Api, api::ListParams};

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/cognito-operator";

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

/// The one container of `deployment`'s pods.
fn only_container(deployment: &Deployment) -> &Container {
    let pod = deployment.spec.template.spec.as_ref().expect("pod spec");
    let [container] = pod.containers.as_slice() else {
        panic!("{:?}: one container expected", deployment.metadata.name);
    };
    container
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
    let container = only_container(deployment);
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

/// Whether `user` may do `request` in `namespace` (what follows `kubectl auth can-i`: a
/// verb, a resource and any flags), asked of the API server.
fn can_i(user: &str, namespace: &str, request: &str) -> bool {
    let mut command = kubectl(&["auth", "can-i", "-n", namespace, "--as", user]);
    for arg in request.split_whitespace() {
        command = command.arg(arg);
    }
    command.run().stdout.trim() == "yes"
}

/// Checks each `(user, namespace, request, allowed)` with [`can_i`]; fails listing every
/// answer that differs.
fn assert_access(cases: &[(&String, &str, &str, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(user, namespace, request, allowed)| can_i(user, namespace, request) != *allowed)
        .map(|(user, namespace, request, allowed)| {
            let should = if *allowed { "may" } else { "must not" };
            format!("{user} {should} {request} in {namespace}")
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A server-side dry run with strict field validation of `manifests` (each in the
/// namespace it names, else `default`); returns kubectl's list of what it would create.
fn dry_run(manifests: &str, what: &str) -> String {
    kubectl_with_stdin(
        &["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
        manifests,
    )
    .run()
    .expect_success(what)
}

#[test]
fn rendered_chart_passes_strict_server_validation() {
    let rendered = template("default", &[]).expect_success("template").stdout;
    let created = dry_run(&rendered, "server-side dry run of the default render");
    for object in [
        "deployment.apps/cognito-operator ",
        "deployment.apps/cognito-operator-webhook-api ",
        "service/cognito-operator-webhook-api ",
        "serviceaccount/cognito-operator ",
        "clusterrole.rbac.authorization.k8s.io/default-cognito-operator ",
        "role.rbac.authorization.k8s.io/cognito-operator-leader-election ",
    ] {
        assert!(
            created.contains(object),
            "{object} missing from:\n{created}"
        );
    }

    // Everything on: the ServiceMonitor CRD is not installed here, so it is left out.
    let rendered = template("default", EVERYTHING_ON)
        .expect_success("template")
        .stdout;
    let without_servicemonitor: String = rendered
        .split("\n---")
        .filter(|doc| !doc.contains("kind: ServiceMonitor"))
        .collect::<Vec<_>>()
        .join("\n---");
    dry_run(
        &without_servicemonitor,
        "server-side dry run with every option on",
    );
}

#[tokio::test]
async fn install_creates_hardened_least_privileged_objects() {
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
    let container = only_container(&operator_deployment);
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
    let webhook_container = only_container(&webhook_deployment);
    // By default no tenant pool is trusted: discovery is off until an admin names
    // namespaces.
    assert_eq!(
        env_value(webhook_container, "WEBHOOK_API_DISCOVER_USER_POOLS"),
        None
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
    // Discovery is off by default: webhook-api gets no rights on UserPools at all.
    let webhook_role = Api::<ClusterRole>::all(client.clone())
        .get_opt(&format!("{cluster_name}-webhook-api"))
        .await
        .expect("get webhook-api ClusterRole");
    assert!(webhook_role.is_none(), "{webhook_role:?}");
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
    let operator = service_account_user(&namespace, RELEASE);
    let webhook = service_account_user(&namespace, &webhook_name);
    let ns = namespace.as_str();
    let status = "patch userpools.cognito.kubeauth.dev --subresource=status";
    let own_lease = format!("update leases/{lease_name}");
    let mut cases = vec![
        (&operator, ns, status, true),
        (&operator, ns, "create secrets", true),
        (&operator, ns, "create events.events.k8s.io", true),
        (&operator, ns, "list secrets --all-namespaces", true),
        (&operator, ns, own_lease.as_str(), true),
        (&operator, ns, "get leases/some-other-lease", false),
        (&operator, "kube-system", "create leases", false),
        (&webhook, ns, "watch userpools.cognito.kubeauth.dev", false),
    ];
    for refused in [
        "delete secrets",
        "update secrets",
        "get configmaps",
        "delete userpools.cognito.kubeauth.dev",
        "create userpools.cognito.kubeauth.dev",
        "update userpools.cognito.kubeauth.dev",
        "create events",
        "list pods",
    ] {
        cases.push((&operator, ns, refused, false));
    }
    for refused in [
        "get secrets",
        "patch userpools.cognito.kubeauth.dev",
        "get userpools.cognito.kubeauth.dev",
    ] {
        cases.push((&webhook, ns, refused, false));
    }
    assert_access(&cases);
}

#[tokio::test]
async fn watch_namespaces_confine_the_operator_to_them() {
    let ns = TestNamespace::create("helm-ns");
    let namespace = ns.name().to_owned();
    let other = TestNamespace::create("helm-ns-b");
    let watch = format!("operator.watchNamespaces={{{namespace},{}}}", other.name());
    let discovery = format!("webhookApi.discovery.namespaces={{{namespace}}}");
    let (_release, _) = Release::install(
        &namespace,
        &[&watch, "webhookApi.discovery.enabled=true", &discovery],
    );

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

    let operator = service_account_user(&namespace, RELEASE);
    let webhook = service_account_user(&namespace, &format!("{RELEASE}-webhook-api"));
    let ns = namespace.as_str();
    let list_pools = "list userpools.cognito.kubeauth.dev";
    assert_access(&[
        (&operator, ns, "get secrets", true),
        (&operator, other.name(), "get secrets", true),
        (
            &operator,
            other.name(),
            "list appusers.cognito.kubeauth.dev",
            true,
        ),
        (&operator, "default", "get secrets", false),
        (&operator, ns, "list secrets --all-namespaces", false),
        (&webhook, ns, list_pools, true),
        (&webhook, "default", list_pools, false),
    ]);

    // A tenant with the built-in admin role in its namespace gets the operator's kinds
    // there through aggregation, and never their status.
    other.apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: tenant}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\nsubjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: tenant-b}]\n",
    );
    let tenant = "tenant-b".to_owned();
    let b = other.name();
    let create_pools = "create userpools.cognito.kubeauth.dev";
    // The aggregation controller fills the admin role in shortly after the install.
    wait::until("admin aggregates UserPools", || async {
        can_i(&tenant, b, create_pools)
    })
    .await;
    assert_access(&[
        (&tenant, b, "delete appusers.cognito.kubeauth.dev", true),
        (
            &tenant,
            b,
            "patch userpools.cognito.kubeauth.dev --subresource=status",
            false,
        ),
        (
            &tenant,
            b,
            "patch appusers.cognito.kubeauth.dev --subresource=status",
            false,
        ),
        (&tenant, ns, create_pools, false),
    ]);
}

/// The upgrade procedure of docs/operations.md: CRDs applied server-side first (Helm
/// never upgrades `crds/`), then `helm upgrade --reuse-values` with a changed setting.
#[tokio::test]
async fn documented_upgrade_applies_the_crds_then_the_release() {
    let ns = TestNamespace::create("helm-up");
    let namespace = ns.name().to_owned();
    let (release, _) = Release::install(&namespace, &["operator.resyncIntervalSeconds=600"]);

    let crds = chart_dir().join("crds");
    let crds = crds.display().to_string();
    kubectl(&["apply", "--server-side", "--force-conflicts", "-f", &crds])
        .run()
        .expect_success("apply the chart's CRDs");

    let upgrade = release.upgrade(&["operator.resyncIntervalSeconds=300"]);
    assert!(upgrade.stdout.contains("REVISION: 2"), "{}", upgrade.stdout);

    let deployment = Api::<Deployment>::namespaced(kube_client().await, &namespace)
        .get(RELEASE)
        .await
        .expect("operator Deployment");
    let container = only_container(&deployment);
    assert_eq!(env_value(container, "RESYNC_INTERVAL_SECONDS"), Some("300"));
    assert_eq!(
        env_value(container, "LEADER_ELECTION"),
        Some("true"),
        "--reuse-values kept the rest"
    );
}
