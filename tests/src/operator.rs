//! Running the real `cognito-operator` binary against the local control plane and the
//! AWS emulator, one process per test, watching only that test's namespace.

use std::{
    fs::File,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

use crate::environment::{REGION, environment};

/// A running operator; killed when dropped.
pub struct OperatorProcess {
    child: Child,
    metrics_port: u16,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl OperatorProcess {
    /// Starts the operator for `namespace` with extra environment variables.
    pub fn start(namespace: &str, extra_env: &[(&str, &str)]) -> Self {
        let env = environment();
        let metrics_port = free_port();
        let log =
            std::env::temp_dir().join(format!("cognito-operator-{namespace}-{metrics_port}.log"));
        let log_file = File::create(&log).expect("create operator log");
        let child = Command::new(env.workspace_binary("cognito-operator"))
            .arg("run")
            .env("KUBECONFIG", &env.kubeconfig)
            .env("WATCH_NAMESPACE", namespace)
            .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
            .env("LOG_FORMAT", "text")
            .env("RUST_LOG", "info,cognito_operator=debug")
            .env("AWS_ENDPOINT_URL", &env.aws_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", REGION)
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

    /// The operator's Prometheus metrics text.
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
        let prefix = format!("{metric}{{");
        self.metrics()
            .lines()
            .filter(|line| line.starts_with(&prefix) && line.contains(label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// How many AWS calls of `operation` the operator made (all outcomes).
    pub fn aws_calls(&self, operation: &str) -> u64 {
        self.metric_sum(
            "cognito_operator_aws_calls_total",
            &format!("operation=\"{operation}\""),
        )
    }

    /// The operator's log so far (for assertion messages and secret-leak checks).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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
            std::thread::sleep(std::time::Duration::from_millis(100));
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
    }
}
