//! Starting (or reusing) the local control plane and the AWS emulator.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::{Duration, Instant},
};

use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

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

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate lives inside the repository")
        .to_path_buf()
}

/// The cache `tests/env/*.sh` fill: `$COGNITO_OPERATOR_CACHE` or `.cache/`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("COGNITO_OPERATOR_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".cache"))
}

/// Runs `tests/env/<script>`; panics unless it succeeds.
fn run_env_script(script: &str) {
    run_env_script_with(script, &[]);
}

/// Runs `tests/env/<script> ARGS...`; panics unless it succeeds.
fn run_env_script_with(script: &str, args: &[&str]) {
    let path = repo_root().join("tests/env").join(script);
    let status = Command::new("bash")
        .arg(&path)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    assert!(status.success(), "{} failed: {status}", path.display());
}

static TOOLS: OnceLock<PathBuf> = OnceLock::new();

/// Path of a tool built by `tests/env/install-k8s.sh` (`kubectl`, `helm`, ...), built on
/// first use; starts no control plane, for tests that need none (`helm template`).
pub fn tool(name: &str) -> PathBuf {
    TOOLS
        .get_or_init(|| {
            run_env_script("install-k8s.sh");
            cache_dir().join("bin/current")
        })
        .join(name)
}

/// The shared environment, started on first use by `tests/env/up.sh` (idempotent: a
/// running control plane and emulator are reused).
pub fn environment() -> &'static Environment {
    ENVIRONMENT.get_or_init(|| {
        // kube and the AWS SDK pull in different rustls backends: pick one for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        run_env_script("up.sh");
        let cache = cache_dir();
        let moto_port = std::env::var("MOTO_PORT").unwrap_or_else(|_| "5055".to_owned());
        let environment = Environment {
            kubeconfig: cache.join("run/controlplane/kubeconfig"),
            bin_dir: cache.join("bin/current"),
            aws_endpoint: format!("http://127.0.0.1:{moto_port}"),
            repo_root: repo_root(),
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
        // `kubectl wait` fails at once, instead of waiting, on a CRD created a moment ago
        // whose status.conditions is still null ("accessor error: <nil> ..."): look again.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let waited = crate::kubectl(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                "crd/userpools.cognito.kubeauth.dev",
                "crd/appusers.cognito.kubeauth.dev",
            ])
            .run_with(self);
            let conditions_not_yet_set = !waited.success
                && format!("{}{}", waited.stdout, waited.stderr).contains("accessor error");
            if conditions_not_yet_set && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(500));
                continue;
            }
            waited.expect_success("wait for CRDs");
            return;
        }
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

/// A CloudFormation client for the emulator.
pub async fn cloudformation() -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::new(&aws_config().await)
}

/// `DescribeStacks` of the stack named (or with the id) `stack`, if CloudFormation
/// knows it (a deleted stack is still described by its id).
pub async fn describe_stack(stack: &str) -> Option<aws_sdk_cloudformation::types::Stack> {
    cloudformation()
        .await
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .ok()?
        .stacks
        .and_then(|stacks| stacks.into_iter().next())
}

/// A Cognito client for the emulator, in the test region.
pub async fn cognito() -> aws_sdk_cognitoidentityprovider::Client {
    aws_sdk_cognitoidentityprovider::Client::new(&aws_config().await)
}

/// Held shared by every test of a binary that also restarts the control plane, and
/// exclusively by the restart: the tests of one binary run in parallel, and a restart
/// would fail the others' API calls. (Test binaries run one after another.)
static CONTROL_PLANE: RwLock<()> = RwLock::const_new(());

/// Shared use of the control plane: no restart happens while the guard lives.
pub async fn control_plane_shared() -> RwLockReadGuard<'static, ()> {
    CONTROL_PLANE.read().await
}

/// Exclusive use of the control plane, which [`restart_api_server_and_etcd`] needs.
pub async fn control_plane_exclusive() -> RwLockWriteGuard<'static, ()> {
    CONTROL_PLANE.write().await
}

/// Whether the process `pid` has exited (gone, or a zombie nobody reaped yet).
fn exited(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        // "<pid> (<comm>) <state> ...": the state follows the last ')'.
        stat.rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_none_or(|state| state == "Z" || state == "X")
    })
}

/// Stops the control-plane component `name` (SIGTERM, then SIGKILL after 10 s: the API
/// server here can hang in its shutdown for minutes), found by the pid file
/// tests/env/controlplane.sh writes; only a process whose command line points into that
/// folder, as the script checks too.
fn stop_component(run_dir: &Path, name: &str) {
    let pid_file = run_dir.join(format!("{name}.pid"));
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}: is the control plane up?", pid_file.display()));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&cmdline).contains(&*run_dir.to_string_lossy()),
        "pid {pid} of {} is not the control plane's {name}",
        pid_file.display()
    );
    for (signal, wait) in [
        ("-TERM", Duration::from_secs(10)),
        ("-KILL", Duration::from_secs(10)),
    ] {
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if exited(pid) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("{name} (pid {pid}) did not exit");
}

/// Restarts kube-apiserver and etcd as an outage of the control plane would: both get
/// SIGTERM (the API server first, see [`stop_component`]), then
/// `tests/env/controlplane.sh start` starts what is down (the controller manager, the
/// scheduler and the node keep running and reconnect) and waits until the API server is
/// ready. Blocks; returns how long the API was down. Needs the exclusive guard, so that
/// no other test of the binary is using the API.
pub fn restart_api_server_and_etcd(_exclusive: &RwLockWriteGuard<'static, ()>) -> Duration {
    let env = environment();
    let run_dir = cache_dir().join("run/controlplane");
    let down = Instant::now();
    for name in ["kube-apiserver", "etcd"] {
        stop_component(&run_dir, name);
    }
    run_env_script_with("controlplane.sh", &["start"]);
    crate::kubectl(&["get", "--raw", "/readyz"])
        .run_with(env)
        .expect_success("API server ready after its restart");
    down.elapsed()
}
