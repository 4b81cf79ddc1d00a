//! The chart for real: both images built from this checkout (tests/env/images.sh) and
//! loaded into the local node, `helm install` into a namespace that enforces the
//! restricted Pod Security Standard, then the whole flow through the pods: a UserPool and
//! an AppUser become Ready, cognito-client signs in and fetches /api/me through the
//! webhook-api Service. Then what running it means: the operator leader's pod dies and
//! the other replica takes over, `helm upgrade` to new images rolls both Deployments,
//! `helm test` passes, and `helm uninstall` leaves the pool and its user in AWS.

use std::{process::Stdio, time::Duration};

use cognito_crds::{AppUser, UserPool};
use cognito_operator_tests::{
    TestNamespace, cloudformation, emulator_pool, environment,
    helm::{RELEASE, Release},
    kube_client, kubectl,
    node::{emulator_endpoint_for_pods, load_images},
    objects::is_ready,
    unique, wait,
};
use k8s_openapi::api::{
    coordination::v1::Lease,
    core::v1::{Pod, Service},
};
use kube::{Api, api::ListParams};
use tokio::io::AsyncWriteExt;

/// Tag of the images the chart installs first (the chart's appVersion) and of the
/// rebuilt images `helm upgrade` moves to.
const FIRST_TAG: &str = "0.1.0";
const UPGRADE_TAG: &str = "0.1.0-e2e-upgrade";
const WEBHOOK_API: &str = "cognito-operator-webhook-api";
/// Pods start from local images in seconds; a rollout of two replicas, one after the
/// other, with readiness probes, within this.
const ROLLOUT: Duration = Duration::from_secs(180);

/// `--set` values of the release: the emulator at the node address for both components
/// (credentials only in the emulator's test form), the operator watching only this
/// test's namespace with two replicas, webhook-api trusting this namespace's pools.
fn release_values(namespace: &str) -> Vec<String> {
    let endpoint = emulator_endpoint_for_pods();
    let mut sets = vec![
        format!("aws.endpointUrl={endpoint}"),
        "aws.region=us-east-1".to_owned(),
        "operator.replicas=2".to_owned(),
        format!("operator.watchNamespaces={{{namespace}}}"),
        "operator.logLevel=info\\,cognito_operator=debug".to_owned(),
        "webhookApi.discovery.enabled=true".to_owned(),
        format!("webhookApi.discovery.namespaces={{{namespace}}}"),
        format!("webhookApi.discovery.cognitoEmulatorEndpoint={endpoint}"),
    ];
    for component in ["operator", "webhookApi"] {
        for (i, (name, value)) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .iter()
        .enumerate()
        {
            sets.push(format!("{component}.extraEnv[{i}].name={name}"));
            // Env values are strings: `--set` would make `true` a boolean.
            sets.push(format!(
                "--set-string={component}.extraEnv[{i}].value={value}"
            ));
        }
    }
    sets
}

/// Waits until `name` has rolled out completely: every replica updated, Ready and
/// available, and no old one left.
fn rollout(namespace: &str, name: &str) {
    kubectl(&["rollout", "status", "-n", namespace, "--timeout"])
        .arg(format!("{}s", ROLLOUT.as_secs()))
        .arg(format!("deployment/{name}"))
        .run()
        .expect_success(&format!("rollout of {name}"));
}

/// Waits until the Service at `api_url` routes to a ready webhook-api. A finished
/// rollout says the new pod is ready, not that kube-proxy has programmed its address
/// yet: right after an upgrade the Service may still point at the pod that went away.
async fn service_answers(api_url: &str) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let url = format!("{api_url}/readyz");
    wait::until("the webhook-api Service answers /readyz", || async {
        http.get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
}

/// The images the pods of `deployment` run, as the kubelet reports them.
async fn running_images(pods: &Api<Pod>, component: &str) -> Vec<String> {
    let selector = format!("app.kubernetes.io/component={component}");
    pods.list(&ListParams::default().labels(&selector))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_none())
        .flat_map(|pod| pod.spec.map(|s| s.containers).unwrap_or_default())
        .filter_map(|c| c.image)
        .collect()
}

/// Signs in as `email` with cognito-client (SRP) and fetches `/api/me` from `api_url`;
/// returns what the route answered.
async fn sign_in_and_fetch(pool_id: &str, client_id: &str, api_url: &str, email: &str) -> String {
    let home = std::env::temp_dir().join(unique("chart-node-home"));
    let env = [
        ("HOME", home.display().to_string()),
        ("XDG_CONFIG_HOME", home.join("config").display().to_string()),
        ("COGNITO_CLIENT_USER_POOL_ID", pool_id.to_owned()),
        ("COGNITO_CLIENT_CLIENT_ID", client_id.to_owned()),
        ("COGNITO_CLIENT_API_URL", api_url.to_owned()),
        ("AWS_ENDPOINT_URL", environment().aws_endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ];
    let client = environment().workspace_binary("cognito-client");
    let run = |args: Vec<&'static str>| {
        let mut command = tokio::process::Command::new(&client);
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    };
    let mut sign_in = run(vec!["sign-in", "--password-stdin", "--email"])
        .arg(email)
        .spawn()
        .expect("start cognito-client sign-in");
    let mut stdin = sign_in.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .await
        .expect("write the password");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(60), sign_in.wait_with_output())
        .await
        .expect("sign-in within 60 s")
        .expect("sign-in output");
    assert!(
        output.status.success(),
        "sign-in failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        run(vec!["fetch", "/api/me"]).output(),
    )
    .await
    .expect("fetch within 60 s")
    .expect("fetch output");
    assert!(
        output.status.success(),
        "fetch /api/me through the Service failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const PASSWORD: &str = "Node-Passw0rd!";

/// The claims `/api/me` printed (a JSON line).
fn claims(output: &str) -> serde_json::Value {
    output
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON from /api/me in:\n{output}"))
}

fn app_user(name: &str, email: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}-password}}\nstringData: {{password: '{PASSWORD}'}}\n---\n{}",
        cognito_operator_tests::objects::app_user_manifest(
            name,
            "demo",
            email,
            &format!("{name}-password"),
            "  groups: [admins]\n"
        )
    )
}

/// The holder of the operator's leader Lease (a pod name).
async fn leader(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(&format!("{RELEASE}-leader"))
        .await
        .expect("get the leader Lease")
        .and_then(|lease| lease.spec?.holder_identity)
        // A released Lease may name nobody.
        .filter(|holder| !holder.is_empty())
}

#[tokio::test(flavor = "multi_thread")]
async fn chart_runs_the_whole_flow_in_pods_on_the_node() {
    load_images(FIRST_TAG);
    let ns = TestNamespace::create("chart-node");
    let namespace = ns.name().to_owned();
    kubectl(&[
        "label",
        "namespace",
        &namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/warn=restricted",
    ])
    .run()
    .expect_success("enforce the restricted Pod Security Standard");

    let values = release_values(&namespace);
    let sets: Vec<&str> = values.iter().map(String::as_str).collect();
    let (release, _) = Release::install_with_pods(&namespace, &sets);
    rollout(&namespace, RELEASE);
    rollout(&namespace, WEBHOOK_API);
    let client = kube_client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    assert_eq!(
        running_images(&pods, "operator").await,
        vec![format!("cognito-operator:{FIRST_TAG}"); 2]
    );

    // The demo flow of the README, through the pods.
    ns.apply(
        &std::fs::read_to_string(environment().repo_root.join("examples/userpool.yaml"))
            .expect("read examples/userpool.yaml"),
    );
    let pools: Api<UserPool> = Api::namespaced(client.clone(), &namespace);
    let pool = wait::wait_for(
        &pools,
        "demo",
        "UserPool Ready (reconciled in a pod)",
        is_ready,
    )
    .await;
    let emulator = emulator_pool(&pool).await;
    ns.apply(&app_user("ada", "ada@example.com"));
    let users: Api<AppUser> = Api::namespaced(client.clone(), &namespace);
    wait::wait_for(&users, "ada", "AppUser Ready", is_ready).await;
    let service = Api::<Service>::namespaced(client.clone(), &namespace)
        .get(WEBHOOK_API)
        .await
        .expect("webhook-api Service");
    let cluster_ip = service
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("a ClusterIP");
    let api_url = format!("http://{cluster_ip}:80");
    let client_id = emulator.client_id.clone();
    service_answers(&api_url).await;
    let me = sign_in_and_fetch(&emulator.pool_id, &client_id, &api_url, "ada@example.com").await;
    assert_eq!(claims(&me)["token_use"], "access", "{me}");
    let stack_id = pool.status.as_ref().and_then(|s| s.stack_id.clone());

    // Leader election: the leader's pod dies; the other replica takes the Lease and
    // reconciles a new AppUser; nothing was made twice.
    let leases: Api<Lease> = Api::namespaced(client.clone(), &namespace);
    let first_leader = wait::poll("an operator leader", wait::TIMEOUT, || async {
        leader(&leases).await
    })
    .await;
    kubectl(&[
        "delete",
        "pod",
        "-n",
        &namespace,
        "--wait=false",
        &first_leader,
    ])
    .run()
    .expect_success("delete the leader's pod");
    let second_leader = wait::poll("another leader", ROLLOUT, || async {
        leader(&leases)
            .await
            .filter(|holder| *holder != first_leader)
    })
    .await;
    ns.apply(&app_user("bob", "bob@example.com"));
    wait::wait_for(
        &users,
        "bob",
        "AppUser Ready under the new leader",
        is_ready,
    )
    .await;
    assert_eq!(emulator.user_count().await, 2, "a user was created twice");
    let stacks = cloudformation()
        .await
        .describe_stacks()
        .send()
        .await
        .expect("DescribeStacks");
    let pool_stacks = stacks
        .stacks()
        .iter()
        .filter(|s| s.stack_id() == stack_id.as_deref())
        .count();
    assert_eq!(pool_stacks, 1, "the pool's stack exists once");
    assert_ne!(second_leader, first_leader);

    // helm upgrade to rebuilt images: both Deployments roll, nothing is lost or remade.
    load_images(UPGRADE_TAG);
    let upgrade_tags = [
        format!("operator.image.tag={UPGRADE_TAG}"),
        format!("webhookApi.image.tag={UPGRADE_TAG}"),
    ];
    release.upgrade(&upgrade_tags.iter().map(String::as_str).collect::<Vec<_>>());
    rollout(&namespace, RELEASE);
    rollout(&namespace, WEBHOOK_API);
    assert_eq!(
        running_images(&pods, "operator").await,
        vec![format!("cognito-operator:{UPGRADE_TAG}"); 2]
    );
    assert_eq!(
        running_images(&pods, "webhook-api").await,
        vec![format!("webhook-api:{UPGRADE_TAG}")]
    );
    let pool = pools.get("demo").await.expect("UserPool after the upgrade");
    assert_eq!(
        pool.status.as_ref().and_then(|s| s.stack_id.clone()),
        stack_id,
        "the upgrade re-created the stack"
    );
    service_answers(&api_url).await;
    let me = sign_in_and_fetch(&emulator.pool_id, &client_id, &api_url, "bob@example.com").await;
    assert_eq!(claims(&me)["groups"], serde_json::json!(["admins"]), "{me}");
    assert_eq!(emulator.user_count().await, 2);

    // helm test: webhook-api answers /readyz through its Service, from a pod.
    let tested = cognito_operator_tests::helm(&[
        "test",
        RELEASE,
        "--namespace",
        &namespace,
        "--timeout",
        "120s",
    ]);
    assert!(
        tested.success,
        "helm test failed:\n{}\n{}",
        tested.stdout, tested.stderr
    );

    // The pods logged the work (JSON), never a password.
    let logs = kubectl(&["logs", "-n", &namespace, "--prefix", "--tail=-1"])
        .arg(format!("--selector=app.kubernetes.io/instance={RELEASE}"))
        .run()
        .expect_success("the pods' logs");
    assert!(logs.contains("\"level\":\"INFO\""), "{logs}");
    assert!(!logs.contains(PASSWORD), "a password reached a pod's log");

    // helm uninstall: the operator goes, the pool and its users stay (Retain).
    drop(release);
    wait::until("the operator's pods are gone", || async {
        running_images(&pods, "operator").await.is_empty()
    })
    .await;
    assert!(emulator.describe().await.is_some(), "the pool was deleted");
    assert_eq!(emulator.user_count().await, 2, "users were deleted");
    // Nothing runs the finalizers any more: let the namespace go without them.
    for object in ["appuser/ada", "appuser/bob", "userpool/demo"] {
        kubectl(&["patch", "-n", &namespace, object, "--type=merge", "-p"])
            .arg(r#"{"metadata":{"finalizers":null}}"#)
            .run();
    }
}
