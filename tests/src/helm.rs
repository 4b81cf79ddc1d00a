//! The real `helm` (built by tests/env/install-k8s.sh) and the project's chart: rendered
//! without a cluster, or installed into the local control plane.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::environment::{environment, repo_root, tool};

/// The release name the tests install under: the chart names objects after it.
pub const RELEASE: &str = "cognito-operator";

/// `--set` values that switch on every optional part of the chart.
pub const EVERYTHING_ON: &[&str] = &[
    "serviceMonitor.enabled=true",
    "networkPolicy.enabled=true",
    "webhookApi.config.pools[0].issuer=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
    "webhookApi.config.pools[0].clientIds[0]=abc",
    "webhookApi.signup.userPoolId=us-east-1_x",
    "webhookApi.signup.clientId=signupclient",
    "webhookApi.triggerSecret.existingSecret=triggers",
    "operator.watchNamespaces={default,kube-public}",
    "webhookApi.discovery.enabled=true",
    "webhookApi.discovery.namespaces={default}",
    "operator.cognitoRates.userRead=60",
];

/// `charts/cognito-operator`.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts/cognito-operator")
}

/// What a finished `helm` printed.
pub struct HelmOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl HelmOutput {
    /// Panics with helm's own words unless it succeeded.
    pub fn expect_success(self, what: &str) -> Self {
        assert!(
            self.success,
            "helm {what} failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

fn run(args: &[&str], kubeconfig: Option<&Path>) -> HelmOutput {
    // Keep helm's caches and repository config out of the user's home.
    let home = std::env::temp_dir().join("helm-e2e");
    let mut command = Command::new(tool("helm"));
    command
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    if let Some(kubeconfig) = kubeconfig {
        command.env("KUBECONFIG", kubeconfig);
    }
    let output = command.output().expect("run helm");
    HelmOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `helm ARGS...` against the local control plane (started if need be).
pub fn helm(args: &[&str]) -> HelmOutput {
    run(args, Some(&environment().kubeconfig))
}

/// `helm ARGS...` that needs no cluster (`lint`, `template`): starts nothing.
pub fn helm_offline(args: &[&str]) -> HelmOutput {
    run(args, None)
}

/// `helm <command> cognito-operator <chart> --namespace <namespace> --set ...`, the
/// arguments every render and install of the chart shares; a value that is itself a flag
/// (`--set-string=k=v`) is passed as it is.
fn chart_command(command: &str, namespace: &str, sets: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [command, RELEASE].into_iter().map(str::to_owned).collect();
    args.push(chart_dir().display().to_string());
    args.extend(["--namespace".to_owned(), namespace.to_owned()]);
    for set in sets {
        // A whole flag (`--set-string=...`) as it is; anything else is a `--set` value.
        if !set.starts_with("--") {
            args.push("--set".to_owned());
        }
        args.push((*set).to_owned());
    }
    args
}

/// `helm template` of the chart with `--set` values, without a cluster.
pub fn template(namespace: &str, sets: &[&str]) -> HelmOutput {
    let args = chart_command("template", namespace, sets);
    helm_offline(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// An installed release; uninstalled when dropped, since its ClusterRoles and
/// ClusterRoleBindings would outlive the test namespace otherwise.
pub struct Release {
    namespace: String,
}

/// Keeps an installed release's pods off the local node: tests that check the objects
/// the chart makes (or run its binaries on the host) must not also get running operators.
const NO_PODS: &[&str] = &[
    "--set-string=operator.nodeSelector.e2e\\.cognito\\.kubeauth\\.dev/no-node=true",
    "--set-string=webhookApi.nodeSelector.e2e\\.cognito\\.kubeauth\\.dev/no-node=true",
];

impl Release {
    /// `helm install` into `namespace`, with pods that never schedule (the objects only);
    /// returns the release and what helm printed.
    pub fn install(namespace: &str, sets: &[&str]) -> (Self, HelmOutput) {
        let sets: Vec<&str> = NO_PODS.iter().chain(sets).copied().collect();
        Self::run_install(namespace, chart_command("install", namespace, &sets))
    }

    /// `helm install --wait` into `namespace`: returns once its pods run Ready on the
    /// local node.
    pub fn install_with_pods(namespace: &str, sets: &[&str]) -> (Self, HelmOutput) {
        let mut args = chart_command("install", namespace, sets);
        args.extend(["--wait", "--timeout", "180s"].map(str::to_owned));
        Self::run_install(namespace, args)
    }

    fn run_install(namespace: &str, args: Vec<String>) -> (Self, HelmOutput) {
        let output =
            helm(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_success("install");
        (
            Self {
                namespace: namespace.to_owned(),
            },
            output,
        )
    }

    /// `helm upgrade --reuse-values` with more `--set` values.
    pub fn upgrade(&self, sets: &[&str]) -> HelmOutput {
        let mut args = chart_command("upgrade", &self.namespace, sets);
        args.push("--reuse-values".to_owned());
        helm(&args.iter().map(String::as_str).collect::<Vec<_>>()).expect_success("upgrade")
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let _ = helm(&["uninstall", RELEASE, "--namespace", &self.namespace]);
    }
}
