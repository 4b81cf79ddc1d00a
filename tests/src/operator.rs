//! Running the real `cognito-operator` binary against the local control plane and the
//! AWS emulator, one process per test, watching only that test's namespace.

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::{
    ProcessLog,
    environment::{REGION, environment},
    wait,
};

/// A running operator; killed when dropped. When its test fails, the tail of its log is
/// printed (see [`ProcessLog`]).
pub struct OperatorProcess {
    child: Child,
    metrics_port: u16,
    log: ProcessLog,
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Sum of the samples of `metric` in a Prometheus exposition whose labels contain
/// `label` (e.g. `kind="UserPool"`).
fn metric_sum_in(exposition: &str, metric: &str, label: &str) -> u64 {
    let prefix = format!("{metric}{{");
    exposition
        .lines()
        .filter(|line| line.starts_with(&prefix) && line.contains(label))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

impl OperatorProcess {
    /// The operator binary tests run: `$COGNITO_OPERATOR_BIN` when set (tests/scale/run.sh
    /// points it at a release build), else the workspace's debug build.
    pub fn binary() -> PathBuf {
        std::env::var_os("COGNITO_OPERATOR_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| environment().workspace_binary("cognito-operator"))
    }

    /// Starts the operator for `namespace` with extra environment variables (which
    /// override the defaults, e.g. `AWS_REGION` or `KUBECONFIG`).
    pub fn start(namespace: &str, extra_env: &[(&str, &str)]) -> Self {
        let env = environment();
        let metrics_port = free_port();
        let log = ProcessLog::new(
            "cognito-operator",
            std::env::temp_dir().join(format!("cognito-operator-{namespace}-{metrics_port}.log")),
        );
        let log_file = File::create(log.path()).expect("create operator log");
        let child = Command::new(Self::binary())
            .arg("run")
            .env("KUBECONFIG", &env.kubeconfig)
            .env("WATCH_NAMESPACES", namespace)
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("LOG_FORMAT", "text")
            .env("RUST_LOG", "info,cognito_operator=debug")
            .env("AWS_ENDPOINT_URL", &env.aws_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start cognito-operator");
        Self {
            child,
            metrics_port,
            log,
        }
    }

    /// The operator's Prometheus metrics text (empty while it does not answer).
    pub fn metrics(&self) -> String {
        let output = Command::new("curl")
            .args(["-fsS", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{}/metrics", self.metrics_port))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Sum of the samples of `metric` whose labels contain `label` (e.g. `kind="UserPool"`).
    pub fn metric_sum(&self, metric: &str, label: &str) -> u64 {
        metric_sum_in(&self.metrics(), metric, label)
    }

    /// How many AWS calls of `operation` the operator made (all outcomes).
    pub fn aws_calls(&self, operation: &str) -> u64 {
        self.metric_sum(
            "cognito_operator_aws_calls_total",
            &format!("operation=\"{operation}\""),
        )
    }

    /// AWS calls that change a Cognito user, of every kind.
    pub fn user_writes(&self) -> u64 {
        let metrics = self.metrics();
        [
            "AdminCreateUser",
            "AdminSetUserPassword",
            "AdminUpdateUserAttributes",
            "AdminDeleteUserAttributes",
            "AdminEnableUser",
            "AdminDisableUser",
            "AdminAddUserToGroup",
            "AdminRemoveUserFromGroup",
            "AdminDeleteUser",
        ]
        .iter()
        .map(|op| {
            metric_sum_in(
                &metrics,
                "cognito_operator_aws_calls_total",
                &format!("operation=\"{op}\""),
            )
        })
        .sum()
    }

    /// Reconciles of `kind` (`UserPool`, `AppUser`) started and finished so far, from one
    /// scrape: the counter counts a reconcile when it starts, the duration histogram
    /// when it returns.
    fn reconciles(&self, kind: &str) -> (u64, u64) {
        let metrics = self.metrics();
        let kind = format!("kind=\"{kind}\"");
        (
            metric_sum_in(&metrics, "cognito_operator_reconciles_total", &kind),
            metric_sum_in(
                &metrics,
                "cognito_operator_reconcile_duration_seconds_count",
                &kind,
            ),
        )
    }

    /// Waits until no reconcile of `kind` is running; returns how many have finished.
    /// Pass that number to [`Self::reconciled_since`] after doing something.
    pub async fn idle(&self, kind: &str) -> u64 {
        wait::poll(
            &format!("no {kind} reconcile running"),
            wait::TIMEOUT,
            || async {
                let (started, finished) = self.reconciles(kind);
                (started == finished).then_some(finished)
            },
        )
        .await
    }

    /// Waits until a reconcile of `kind` has finished since [`Self::idle`] returned
    /// `finished` and none is running: the operator has handled what the test did in
    /// between. The positive signal that lets a test assert what did not happen.
    pub async fn reconciled_since(&self, kind: &str, finished: u64) {
        wait::poll(
            &format!("a {kind} reconcile after the {finished} finished before"),
            wait::TIMEOUT,
            || async {
                let (started, now_finished) = self.reconciles(kind);
                (started == now_finished && now_finished > finished).then_some(())
            },
        )
        .await;
    }

    /// Waits until the operator's log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        wait::until(&format!("{needle:?} in the operator log"), || async {
            self.log.text().contains(needle)
        })
        .await;
    }

    /// The operator's log so far (for assertion messages and secret-leak checks).
    pub fn log_text(&self) -> String {
        self.log.text()
    }

    /// The operator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's resident memory now and at its peak, in KiB (`VmRSS`, `VmHWM` of
    /// `/proc/<pid>/status`); `None` once it has exited.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
        };
        Some((field("VmRSS")?, field("VmHWM")?))
    }

    /// Stops the process as Kubernetes would (SIGTERM) and waits up to 10 s for it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
        // Then `log` is dropped, which prints its tail if the test is failing.
    }
}
