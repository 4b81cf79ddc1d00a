//! AWS failures told in words a person can act on: an operator without credentials, and
//! one whose IAM role lacks an action (the emulator refuses it on request,
//! tests/moto/faults.py). The Synced condition and the Warning Event say, in a sentence
//! or two, what failed, why and what to do; the operator's debug log has the whole error.

use std::{
    fs::File,
    process::{Child, Command, Stdio},
};

use cognito_crds::UserPool;
use cognito_operator_tests::{
    OperatorNamespace, ProcessLog, REGION, TestNamespace, environment, free_port, kube_client,
    objects::{Reconciled, app_user_manifest, has_reason, user_pool_manifest},
    unique, wait, wait_for,
};
use k8s_openapi::api::events::v1::Event;
use kube::{Api, api::ListParams};
use serde_json::json;

/// Longest message a condition may carry for these failures: a sentence or two, where
/// the SDK's debug text ran to 1,500 characters.
const SHORT: usize = 300;

/// The operator binary, started with no AWS credentials anywhere it looks: no `AWS_*`
/// variables, a `HOME` without `~/.aws`, and instance metadata switched off.
struct OperatorWithoutCredentials {
    child: Child,
    log: ProcessLog,
    _home: TempDir,
}

impl OperatorWithoutCredentials {
    fn start(namespace: &str) -> Self {
        let env = environment();
        let home = TempDir::new("home");
        let metrics_port = free_port();
        let log = ProcessLog::new(
            "cognito-operator",
            std::env::temp_dir().join(format!("cognito-operator-{namespace}-{metrics_port}.log")),
        );
        let log_file = File::create(log.path()).expect("create operator log");
        // A clean environment: nothing of the test runner's (or CI's) own AWS settings.
        let child = Command::new(env.workspace_binary("cognito-operator"))
            .arg("run")
            .env_clear()
            .env("HOME", &home.0)
            .env("KUBECONFIG", &env.kubeconfig)
            .env("WATCH_NAMESPACES", namespace)
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("LOG_FORMAT", "text")
            .env("RUST_LOG", "info,cognito_operator=debug")
            .env("AWS_ENDPOINT_URL", &env.aws_endpoint)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start cognito-operator");
        Self {
            child,
            log,
            _home: home,
        }
    }
}

impl Drop for OperatorWithoutCredentials {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An empty folder, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&path).expect("create a temporary folder");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The emulator's faults for one access key (tests/moto/faults.py).
struct Faults {
    url: String,
    http: reqwest::Client,
}

impl Faults {
    fn of(access_key: &str) -> Self {
        Self {
            url: format!("{}/_faults/{access_key}", environment().aws_endpoint),
            http: reqwest::Client::new(),
        }
    }

    /// Has IAM refuse `operations` to the key from now on.
    async fn deny(&self, operations: &[&str]) {
        let response = self
            .http
            .put(&self.url)
            .json(&json!({"accessDenied": operations}))
            .send()
            .await
            .expect("set faults");
        assert!(response.status().is_success(), "set faults: {response:?}");
    }

    async fn clear(&self) {
        let response = self
            .http
            .delete(&self.url)
            .send()
            .await
            .expect("clear faults");
        assert!(response.status().is_success(), "clear faults: {response:?}");
    }
}

/// The note of the Warning Event with `reason` about the object `name`, once published.
async fn warning_note(namespace: &str, name: &str, reason: &str) -> String {
    let events: Api<Event> = Api::namespaced(kube_client().await, namespace);
    wait::poll(
        &format!("a {reason} Warning Event about {name}"),
        wait::TIMEOUT,
        || async {
            let listed = events.list(&ListParams::default()).await.ok()?;
            listed.items.into_iter().find_map(|event| {
                let about = event.regarding.as_ref()?.name.as_deref() == Some(name);
                let warning = event.type_.as_deref() == Some("Warning");
                (about && warning && event.reason.as_deref() == Some(reason))
                    .then_some(event.note)
                    .flatten()
            })
        },
    )
    .await
}

/// Asserts that `message` is short and free of the SDK's debug text.
fn assert_short(message: &str) {
    assert!(
        message.chars().count() < SHORT,
        "{} characters: {message}",
        message.chars().count()
    );
    for internal in ["DispatchFailure", "ConnectorError", "SdkError", "{"] {
        assert!(!message.contains(internal), "{internal:?} in {message}");
    }
}

#[tokio::test]
async fn without_credentials_the_pool_says_how_to_give_the_operator_some() {
    let ns = TestNamespace::create("aws-no-credentials");
    let operator = OperatorWithoutCredentials::start(ns.name());
    let pools: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    ns.apply(&user_pool_manifest("p", ""));

    let pool = wait_for(
        &pools,
        "p",
        "Synced AWSCredentialsMissing",
        has_reason("Synced", "AWSCredentialsMissing"),
    )
    .await;
    let message = &pool.condition("Synced").expect("Synced").message;
    assert_short(message);
    assert!(
        message.contains("no AWS credentials found")
            && message.contains("IRSA")
            && message.contains("Pod Identity")
            && message.contains("AWS_ACCESS_KEY_ID"),
        "{message}"
    );
    assert_eq!(
        &warning_note(ns.name(), "p", "AWSCredentialsMissing").await,
        message,
        "the Event says what the condition says"
    );

    // The whole chain, down to the SDK's own words, is in the debug log.
    wait::until("the whole error in the operator's debug log", || async {
        let log = operator.log.text();
        log.contains("reconcile failed: the whole error")
            && log.contains("no credentials found in chain")
    })
    .await;
}

#[tokio::test]
async fn a_refused_cloudformation_action_is_named_with_where_to_add_it() {
    let access_key = unique("denied");
    let secret_key = unique("never-shown");
    let faults = Faults::of(&access_key);
    faults.deny(&["CreateStack"]).await;
    let t = OperatorNamespace::start(
        "aws-denied-stack",
        &[
            ("AWS_ACCESS_KEY_ID", &access_key),
            ("AWS_SECRET_ACCESS_KEY", &secret_key),
        ],
    )
    .await;
    t.ns.apply(&user_pool_manifest("p", ""));

    let pool = t.pool_reason("p", "Synced", "AccessDenied").await;
    let message = &pool.condition("Synced").expect("Synced").message;
    assert_short(message);
    assert!(
        message.contains("CreateStack")
            && message.contains("access denied: the role lacks cloudformation:CreateStack")
            && message.contains("add it to the role's IAM policy")
            && message.contains("docs/iam-policy.json"),
        "{message}"
    );
    let note = warning_note(t.name(), "p", "AccessDenied").await;
    assert_eq!(&note, message, "the Event says what the condition says");

    // IAM's whole sentence is in the debug log; the secret key is nowhere.
    t.operator
        .wait_for_log("is not authorized to perform: cloudformation:CreateStack")
        .await;
    for text in [message.as_str(), note.as_str(), &t.operator.log_text()] {
        assert!(!text.contains(&secret_key), "the secret key leaked: {text}");
    }

    // Once the role may create stacks, the pool is created.
    faults.clear().await;
    t.ready_pool("p").await;
}

#[tokio::test]
async fn a_refused_cognito_user_call_is_named_on_the_appuser() {
    let access_key = unique("denied");
    let faults = Faults::of(&access_key);
    faults.deny(&["AdminCreateUser"]).await;
    let (t, _pool) = OperatorNamespace::start_with_pool(
        "aws-denied-user",
        &[("AWS_ACCESS_KEY_ID", &access_key)],
        "shop",
        "",
    )
    .await;
    let password = "Denied-Passw0rd-7";
    t.apply_password("alice-password", password);
    t.ns.apply(&app_user_manifest(
        "alice",
        "shop",
        "alice@example.com",
        "alice-password",
        "",
    ));

    let user = t.user_reason("alice", "Synced", "AccessDenied").await;
    let message = &user.condition("Synced").expect("Synced").message;
    assert_short(message);
    assert!(
        message.contains("Cognito AdminCreateUser: access denied")
            && message.contains("lacks cognito-idp:AdminCreateUser")
            && message.contains("docs/iam-policy.json"),
        "{message}"
    );
    let note = warning_note(t.name(), "alice", "AccessDenied").await;
    assert_eq!(&note, message, "the Event says what the condition says");
    t.operator
        .wait_for_log("is not authorized to perform: cognito-idp:AdminCreateUser")
        .await;
    for text in [message.as_str(), note.as_str(), &t.operator.log_text()] {
        assert!(!text.contains(password), "the password leaked: {text}");
    }

    faults.clear().await;
    t.ready_user("alice").await;
}
