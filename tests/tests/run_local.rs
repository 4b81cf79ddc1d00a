//! The README's "run it" command, end to end: `tests/env/run-local.sh --once` against the
//! harness's control plane and node (an existing cluster, as far as the script knows) and
//! emulator, in a namespace of its own, through sign-in and the protected fetch: by
//! default with the images and the chart, and with `--host-binaries`.

use std::process::Command;

use cognito_operator_tests::{
    ProcessLog, TestNamespace, environment, free_port, kubectl, without_test_package_env,
};

/// What one `run-local.sh --once` run printed, with its namespace.
struct Run {
    ns: TestNamespace,
    stdout: String,
    stderr: String,
    logs: Vec<ProcessLog>,
    run_dir: std::path::PathBuf,
}

/// Runs `run-local.sh --once ARGS...` in a namespace of its own.
fn run_local(prefix: &str, args: &[&str]) -> Run {
    let env = environment();
    let ns = TestNamespace::create(prefix);
    let run_dir = std::env::temp_dir().join(format!("run-local-{}", ns.name()));
    // Shown if the test fails (with --host-binaries; the pods' logs are in the cluster).
    let logs = ["operator", "webhook-api"]
        .map(|name| {
            ProcessLog::new(
                format!("run-local {name}"),
                run_dir.join(format!("{name}.log")),
            )
        })
        .into();
    // The script runs cargo build.
    let output = without_test_package_env(&mut Command::new("bash"))
        .arg(env.repo_root.join("tests/env/run-local.sh"))
        .arg("--once")
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("DEMO_NAMESPACE", ns.name())
        // The operator watches every namespace unless told otherwise; here the other
        // tests' namespaces have operators of their own.
        .env("WATCH_NAMESPACES", ns.name())
        .env("RUN_LOCAL_DIR", &run_dir)
        .env("OPERATOR_METRICS_PORT", free_port().to_string())
        .env("WEBHOOK_API_PORT", free_port().to_string())
        .env("WEBHOOK_API_METRICS_PORT", free_port().to_string())
        .current_dir(&env.repo_root)
        .output()
        .expect("run run-local.sh");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // The operator is gone: let the namespace go without it.
    for object in ["appuser/ada", "userpool/demo"] {
        let _ = kubectl(&["patch", "-n", ns.name(), object, "--type=merge", "-p"])
            .arg(r#"{"metadata":{"finalizers":null}}"#)
            .run();
    }
    assert!(
        output.status.success(),
        "run-local.sh failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    Run {
        ns,
        stdout,
        stderr,
        logs,
        run_dir,
    }
}

/// The steps of the demo flow, /api/me's answer, and no password anywhere.
fn assert_demo_flow(run: &Run) {
    let Run {
        stdout,
        stderr,
        logs,
        ..
    } = run;
    // Each step is announced with its duration.
    for step in [
        "installing the CRDs",
        "waiting for the UserPool to be Ready",
        "waiting for the AppUser to be Ready",
        "signing in as ada@example.com",
        "fetching the protected",
    ] {
        assert!(stderr.contains(step), "step {step:?} missing:\n{stderr}");
    }
    assert!(stderr.matches("  done in ").count() >= 10, "{stderr}");
    // /api/me answered with the signed-in user's claims.
    let me: serde_json::Value = stdout
        .lines()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no JSON from /api/me in:\n{stdout}"));
    assert_eq!(me["token_use"], "access", "{me}");
    assert_eq!(me["groups"], serde_json::json!(["admins"]), "{me}");
    let password = "Demo-Passw0rd!";
    for log in logs {
        assert!(
            !log.text().contains(password),
            "the password leaked into {}",
            log.path().display()
        );
    }
    assert!(!stdout.contains(password) && !stderr.contains(password));
}

#[test]
fn run_local_installs_the_chart_and_goes_to_a_protected_fetch() {
    let run = run_local("run-local", &[]);
    assert_demo_flow(&run);
    for step in [
        "building both images",
        "installing the chart into",
        "webhook-api's Service: http://10.",
    ] {
        assert!(
            run.stderr.contains(step),
            "step {step:?} missing:\n{}",
            run.stderr
        );
    }
    // --once uninstalls the release it installed, not the shared cluster.
    assert!(
        run.stderr
            .contains("stopped what this run started: release"),
        "{}",
        run.stderr
    );
}

#[test]
fn run_local_with_host_binaries_goes_to_a_protected_fetch() {
    let run = run_local("run-local-host", &["--host-binaries"]);
    let Run {
        ns,
        stderr,
        run_dir,
        ..
    } = &run;
    assert_demo_flow(&run);
    // --once stops what it started: the operator and webhook-api, not the shared cluster.
    assert!(stderr.contains("stopped what this run started: operator webhook-api"));
    assert!(!run_dir.join("operator.pid").exists());

    // The forward-auth example is valid for the API server (no ingress controller here).
    kubectl(&["apply", "--dry-run=server", "-n", ns.name(), "-f"])
        .arg(
            environment()
                .repo_root
                .join("examples/forward-auth-ingress.yaml"),
        )
        .run()
        .expect_success("server-side dry run of examples/forward-auth-ingress.yaml");
}
