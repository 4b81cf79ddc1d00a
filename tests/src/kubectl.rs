//! Running the real `kubectl` against the local control plane.

use std::{
    ffi::{OsStr, OsString},
    io::Write,
    process::{Command, Stdio},
};

use crate::Environment;

/// A `kubectl` invocation being built.
pub struct Kubectl {
    args: Vec<OsString>,
    stdin: Option<String>,
}

/// What a finished `kubectl` printed.
#[derive(Debug)]
pub struct KubectlOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `kubectl ARGS...` with the local control plane's kubeconfig.
pub fn kubectl(args: &[&str]) -> Kubectl {
    Kubectl {
        args: args.iter().map(OsString::from).collect(),
        stdin: None,
    }
}

/// `kubectl ARGS...` reading `stdin` (for `apply -f -`).
pub fn kubectl_with_stdin(args: &[&str], stdin: &str) -> Kubectl {
    Kubectl {
        stdin: Some(stdin.to_owned()),
        ..kubectl(args)
    }
}

impl Kubectl {
    /// Adds one more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Runs against the shared environment.
    pub fn run(self) -> KubectlOutput {
        self.run_with(crate::environment())
    }

    pub(crate) fn run_with(self, env: &Environment) -> KubectlOutput {
        let program = env.tool("kubectl");
        let mut child = Command::new(&program)
            .args(&self.args)
            .env("KUBECONFIG", &env.kubeconfig)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        if let Some(input) = &self.stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(input.as_bytes())
                .expect("write kubectl stdin");
        }
        let output = child.wait_with_output().expect("wait for kubectl");
        KubectlOutput {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl KubectlOutput {
    /// Panics with kubectl's own words unless it succeeded; returns stdout.
    pub fn expect_success(self, what: &str) -> String {
        assert!(
            self.success,
            "kubectl {what} failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self.stdout
    }

    /// Panics unless kubectl failed; returns stderr.
    pub fn expect_failure(self, what: &str) -> String {
        assert!(
            !self.success,
            "kubectl {what} unexpectedly succeeded:\n{}",
            self.stdout
        );
        self.stderr
    }
}
