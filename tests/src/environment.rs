//! Starting (or reusing) the local control plane and the AWS emulator.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};

/// Region the emulator serves in tests.
pub const REGION: &str = "us-east-1";

/// Where the running test environment lives.
#[derive(Debug)]
pub struct Environment {
    /// Repository root.
    pub repo_root: PathBuf,
    /// Admin kubeconfig of the local control plane.
    pub kubeconfig: PathBuf,
    /// Folder with `kubectl`, `helm` and the control-plane binaries.
    pub bin_dir: PathBuf,
    /// Base URL of the AWS emulator.
    pub aws_endpoint: String,
}

static ENVIRONMENT: OnceLock<Environment> = OnceLock::new();

/// The shared environment, started on first use by `tests/env/up.sh` (idempotent: a
/// running control plane and emulator are reused).
pub fn environment() -> &'static Environment {
    ENVIRONMENT.get_or_init(|| {
        // kube and the AWS SDK pull in different rustls backends: pick one for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests crate lives inside the repository")
            .to_path_buf();
        let status = Command::new("bash")
            .arg(repo_root.join("tests/env/up.sh"))
            .status()
            .expect("run tests/env/up.sh");
        assert!(status.success(), "tests/env/up.sh failed: {status}");

        let cache = std::env::var_os("COGNITO_OPERATOR_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join(".cache"));
        let moto_port = std::env::var("MOTO_PORT").unwrap_or_else(|_| "5055".to_owned());
        let environment = Environment {
            kubeconfig: cache.join("run/controlplane/kubeconfig"),
            bin_dir: cache.join("bin/current"),
            aws_endpoint: format!("http://127.0.0.1:{moto_port}"),
            repo_root,
        };
        environment.apply_crds();
        environment
    })
}

static WORKSPACE_BINARIES: OnceLock<PathBuf> = OnceLock::new();

/// Removes what `cargo test` sets for this test package (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, ...) from a command that runs cargo: some build scripts (ring's) rerun
/// when those change, and everything above them would be rebuilt.
pub fn without_test_package_env(command: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}

impl Environment {
    /// Path of a tool built by `tests/env/install-k8s.sh`.
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Path of one of the workspace's binaries, built on first use. Built here, in
    /// tests/env/test.sh and in run-local.sh with `--workspace --bins --tests`: the
    /// feature set of `cargo test --workspace` (dev-dependencies on), so none of them
    /// rebuilds what another just built.
    pub fn workspace_binary(&self, name: &str) -> PathBuf {
        WORKSPACE_BINARIES
            .get_or_init(|| {
                let status = without_test_package_env(&mut Command::new(env!("CARGO")))
                    .args(["build", "--quiet", "--workspace", "--bins", "--tests"])
                    .current_dir(&self.repo_root)
                    .status()
                    .expect("run cargo build");
                assert!(status.success(), "building the workspace binaries failed");
                std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| self.repo_root.join("target"))
                    .join("debug")
            })
            .join(name)
    }

    fn apply_crds(&self) {
        let crds = self.repo_root.join("crds");
        crate::kubectl(&["apply", "--server-side", "--force-conflicts", "-f"])
            .arg(&crds)
            .run_with(self)
            .expect_success("apply crds/");
        crate::kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/userpools.cognito.kubeauth.dev",
            "crd/appusers.cognito.kubeauth.dev",
        ])
        .run_with(self)
        .expect_success("wait for CRDs");
    }
}

/// A kube client for the local control plane's admin user.
pub async fn kube_client() -> kube::Client {
    let env = environment();
    let kubeconfig = kube::config::Kubeconfig::read_from(&env.kubeconfig).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("load kubeconfig");
    kube::Client::try_from(config).expect("build kube client")
}

/// AWS SDK configuration that talks to the emulator with throwaway credentials.
pub async fn aws_config() -> aws_config::SdkConfig {
    let env = environment();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(&env.aws_endpoint)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}
