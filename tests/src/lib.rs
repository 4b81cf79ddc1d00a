//! End-to-end test harness: a real kube-apiserver (with etcd and kube-controller-manager)
//! and the moto AWS emulator, both on loopback, started once and shared by all tests.
//!
//! Tests get their own namespace ([`TestNamespace`]), the real `kubectl` ([`kubectl`]), a
//! kube [`kube::Client`] and an AWS SDK config pointing at the emulator ([`aws_config`]).
#![forbid(unsafe_code)]

mod cognito;
mod environment;
mod impersonation;
mod kubectl;
mod namespace;
mod operator;
mod wait;

pub use cognito::{EmulatorPool, SignedIn};
pub use environment::{
    Environment, aws_config, environment, kube_client, without_test_package_env,
};
pub use impersonation::{impersonating_kubeconfig, kube_client_as, service_account_user};
pub use kubectl::{KubectlOutput, kubectl, kubectl_with_stdin};
pub use namespace::TestNamespace;
pub use operator::OperatorProcess;
pub use wait::wait_for;
