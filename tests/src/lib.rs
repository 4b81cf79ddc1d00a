//! End-to-end harness: a real kube-apiserver (with etcd and kube-controller-manager)
//! and the moto AWS emulator, both on loopback, started once and shared by all tests.
//!
//! Tests get their own namespace ([`TestNamespace`], or [`OperatorNamespace`] with an
//! operator of its own), the real `kubectl` ([`kubectl`]) and `helm` ([`helm`]), a kube
//! [`kube::Client`] and an AWS SDK config pointing at the emulator ([`aws_config`]).
//! Tests wait on conditions ([`wait`]), never on the clock.
#![forbid(unsafe_code)]

mod cognito;
mod environment;
pub mod helm;
mod impersonation;
mod kubectl;
mod namespace;
pub mod node;
pub mod objects;
mod operator;
mod operator_namespace;
mod process_log;
pub mod rollout;
mod serve;
pub mod wait;
mod webhook;

pub use cognito::{EmulatorPool, SignedIn};
pub use environment::{
    Environment, REGION, aws_config, cache_dir, cloudformation, cognito, control_plane_exclusive,
    control_plane_shared, describe_stack, environment, kube_client, repo_root,
    restart_api_server_and_etcd, tool, without_test_package_env,
};
pub use helm::helm;
pub use impersonation::{
    impersonating_kubeconfig, kube_client_as, namespace_tenant, service_account_user,
};
pub use kubectl::{KubectlOutput, kubectl, kubectl_with_stdin};
pub use namespace::TestNamespace;
pub use operator::{OperatorProcess, free_port};
pub use operator_namespace::{OperatorNamespace, emulator_pool};
pub use process_log::ProcessLog;
pub use serve::serve_on_loopback;
pub use wait::{wait_for, wait_for_deletion};
pub use webhook::{ConfigFile, WebhookApi, trusting, webhook_state};

/// `<prefix>-<random hex>`: a name that no other test or run uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Seconds since the Unix epoch, as JWT claims count time.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}
