//! The Helm chart without a cluster: `helm lint` and `helm template` with the real `helm`,
//! and the chart's CRDs against the generated ones. (helm_chart.rs installs it.)

use std::{collections::BTreeSet, path::Path};

use cognito_operator_tests::{
    helm::{EVERYTHING_ON, RELEASE, chart_dir, helm_offline, template},
    repo_root,
};

#[test]
fn chart_crds_are_the_generated_crds() {
    // crds/ is also the Rust crate of the types: only its YAML goes into the chart.
    let names = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .map(|entry| {
                entry
                    .expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".yaml"))
            .collect()
    };
    let generated = repo_root().join("crds");
    let in_chart = chart_dir().join("crds");
    let hint = "re-sync with: cp crds/*.yaml charts/cognito-operator/crds/";
    assert_eq!(names(&generated), names(&in_chart), "{hint}");
    for name in names(&generated) {
        let a = std::fs::read(generated.join(&name)).expect("read crds/");
        let b = std::fs::read(in_chart.join(&name)).expect("read chart crds/");
        assert!(
            a == b,
            "charts/cognito-operator/crds/{name} differs from crds/{name}; {hint}"
        );
    }
}

#[test]
fn lint_is_clean_with_defaults_and_with_everything_on() {
    let chart = chart_dir().display().to_string();
    for sets in [&[][..], EVERYTHING_ON] {
        let mut args = vec!["lint", "--strict", &chart];
        for set in sets {
            args.extend(["--set", set]);
        }
        let lint = helm_offline(&args).expect_success("lint");
        assert!(lint.stdout.contains("0 chart(s) failed"), "{}", lint.stdout);
        assert!(!lint.stdout.contains("[WARNING]"), "{}", lint.stdout);
    }
}

#[test]
fn optional_parts_render_only_when_enabled() {
    let rendered = template("default", &[]).expect_success("template").stdout;
    assert!(
        !rendered.contains("kind: ServiceMonitor") && !rendered.contains("kind: NetworkPolicy")
    );

    let rendered = template("default", EVERYTHING_ON)
        .expect_success("template")
        .stdout;
    for (kind, count) in [
        ("ServiceMonitor", 2),
        ("NetworkPolicy", 2),
        ("ConfigMap", 1),
    ] {
        assert_eq!(
            rendered.matches(&format!("kind: {kind}")).count(),
            count,
            "{kind}:\n{rendered}"
        );
    }
    // Namespaced mode: RoleBindings in each watched namespace, no ClusterRoleBinding.
    assert!(!rendered.contains("kind: ClusterRoleBinding"), "{rendered}");
    assert_eq!(
        rendered.matches("kind: RoleBinding").count(),
        4,
        "leader election, operator (two namespaces) and webhook-api RoleBindings:\n{rendered}"
    );
    assert!(rendered.contains("namespace: kube-public"), "{rendered}");
    for env in [
        "WATCH_NAMESPACES",
        "WEBHOOK_API_DISCOVERY_NAMESPACE",
        "WEBHOOK_API_SIGNUP_USER_POOL_ID",
        "WEBHOOK_API_SIGNUP_CLIENT_ID",
        "WEBHOOK_API_TRIGGER_SECRET",
        "WEBHOOK_API_CONFIG",
        "COGNITO_USER_READ_RPS",
    ] {
        assert!(rendered.contains(env), "{env} missing from:\n{rendered}");
    }
}

#[test]
fn values_schema_refuses_typos_and_out_of_range_values() {
    let chart = chart_dir().display().to_string();
    for bad in [
        "operator.replica=2",
        "operator.logFormat=xml",
        "operator.cognitoRates.userList=0",
    ] {
        let output = helm_offline(&["template", RELEASE, &chart, "--set", bad]);
        assert!(!output.success, "{bad} was accepted");
        assert!(output.stderr.contains("schema"), "{bad}: {}", output.stderr);
    }
}

#[test]
fn adoption_is_off_unless_an_admin_names_namespaces() {
    let rendered = template("default", &[]).expect_success("template").stdout;
    assert!(!rendered.contains("ADOPT_NAMESPACES"), "{rendered}");
    let rendered = template("default", &["operator.adoptNamespaces={team-a,team-b}"])
        .expect_success("template")
        .stdout;
    assert!(
        rendered.contains("- name: ADOPT_NAMESPACES\n              value: \"team-a,team-b\""),
        "{rendered}"
    );
    let output = template("default", &["operator.adoptNamespaces={Team_A}"]);
    assert!(!output.success, "an invalid namespace name was accepted");
}

/// The rendered document of `kind` named `name`, if any.
fn document<'a>(rendered: &'a str, kind: &str, name: &str) -> Option<&'a str> {
    rendered.split("\n---").find(|doc| {
        doc.contains(&format!("\nkind: {kind}\n")) && doc.contains(&format!("\n  name: {name}\n"))
    })
}

#[test]
fn availability_follows_replicas_and_autoscaling() {
    let operator = "cognito-operator";
    let api = "cognito-operator-webhook-api";
    let rendered = template("default", &[]).expect_success("template").stdout;
    let budget = document(&rendered, "PodDisruptionBudget", api).expect("a PDB by default");
    assert!(budget.contains("maxUnavailable: 1") && !budget.contains("minAvailable"));
    assert!(document(&rendered, "HorizontalPodAutoscaler", api).is_none());
    // One replica each: nothing to spread.
    assert!(
        !rendered.contains("topologySpreadConstraints"),
        "{rendered}"
    );

    let rendered = template(
        "default",
        &[
            "operator.replicas=2",
            "webhookApi.autoscaling.enabled=true",
            "webhookApi.podDisruptionBudget.minAvailable=1",
        ],
    )
    .expect_success("template")
    .stdout;
    for name in [operator, api] {
        let deployment = document(&rendered, "Deployment", name).expect("Deployment");
        assert!(
            deployment.contains("topologyKey: kubernetes.io/hostname")
                && deployment.contains("topologyKey: topology.kubernetes.io/zone")
                && deployment.contains("whenUnsatisfiable: ScheduleAnyway"),
            "{name} spreads its replicas softly:\n{deployment}"
        );
    }
    let autoscaled = document(&rendered, "Deployment", api).expect("Deployment");
    assert!(
        !autoscaled.contains("\n  replicas:"),
        "the autoscaler owns replicas:\n{autoscaled}"
    );
    let autoscaler =
        document(&rendered, "HorizontalPodAutoscaler", api).expect("an autoscaler when enabled");
    assert!(autoscaler.contains("minReplicas: 2") && autoscaler.contains("maxReplicas: 10"));
    let budget = document(&rendered, "PodDisruptionBudget", api).expect("PDB");
    assert!(budget.contains("minAvailable: 1") && !budget.contains("maxUnavailable"));

    // The values' own constraints replace the default spread.
    let rendered = template(
        "default",
        &[
            "operator.replicas=3",
            "operator.topologySpreadConstraints[0].maxSkew=2",
            "operator.topologySpreadConstraints[0].topologyKey=example.com/rack",
            "operator.topologySpreadConstraints[0].whenUnsatisfiable=DoNotSchedule",
            "webhookApi.podDisruptionBudget.enabled=false",
        ],
    )
    .expect_success("template")
    .stdout;
    let deployment = document(&rendered, "Deployment", operator).expect("Deployment");
    assert!(deployment.contains("topologyKey: example.com/rack"));
    assert!(!deployment.contains("topologyKey: kubernetes.io/hostname"));
    assert!(document(&rendered, "PodDisruptionBudget", api).is_none());
}

#[test]
fn helm_test_checks_webhook_api_readiness_from_a_restricted_pod() {
    let rendered = template("default", &[]).expect_success("template").stdout;
    let pod = document(&rendered, "Pod", "cognito-operator-webhook-api-test-ready")
        .expect("a helm test Pod");
    assert!(pod.contains("helm.sh/hook: test"), "{pod}");
    assert!(pod.contains("image: \"webhook-api:"), "{pod}");
    assert!(
        pod.contains("- --check-ready\n        - http://$(COGNITO_OPERATOR_WEBHOOK_API_SERVICE_HOST):$(COGNITO_OPERATOR_WEBHOOK_API_SERVICE_PORT_HTTP)/readyz"),
        "{pod}"
    );
    assert!(pod.contains("readOnlyRootFilesystem: true") && pod.contains("runAsNonRoot: true"));
    let without = template("default", &["webhookApi.enabled=false"])
        .expect_success("template")
        .stdout;
    assert!(!without.contains("helm.sh/hook: test"));
}

/// The `env` entry `name` of a rendered container, with its value on the next line.
fn env_entry(name: &str, value: &str) -> String {
    format!("- name: {name}\n              value: \"{value}\"")
}

#[test]
fn webhook_api_drain_reaches_the_pod_within_its_grace_period() {
    let api = "cognito-operator-webhook-api";
    let drain = "WEBHOOK_API_SHUTDOWN_DRAIN_SECONDS";
    let rendered = template("default", &[]).expect_success("template").stdout;
    let deployment = document(&rendered, "Deployment", api).expect("Deployment");
    assert!(
        deployment.contains(&env_entry(drain, "5"))
            && deployment.contains("terminationGracePeriodSeconds: 30"),
        "the default drain (5 s) within the default grace period:\n{deployment}"
    );

    // A longer drain with a grace period that covers it and the request time limit.
    let rendered = template(
        "default",
        &[
            "webhookApi.shutdownDrainSeconds=17",
            "webhookApi.requestTimeoutSeconds=12",
            "webhookApi.terminationGracePeriodSeconds=30",
        ],
    )
    .expect_success("template")
    .stdout;
    let deployment = document(&rendered, "Deployment", api).expect("Deployment");
    assert!(
        deployment.contains(&env_entry(drain, "17"))
            && deployment.contains(&env_entry("WEBHOOK_API_REQUEST_TIMEOUT_SECONDS", "12"))
            && deployment.contains("terminationGracePeriodSeconds: 30"),
        "{deployment}"
    );
    assert_eq!(
        rendered.matches(drain).count(),
        1,
        "only webhook-api drains:\n{rendered}"
    );

    // No drain at all is allowed (the schema's minimum is 0) and still passed on.
    let rendered = template("default", &["webhookApi.shutdownDrainSeconds=0"])
        .expect_success("template")
        .stdout;
    let deployment = document(&rendered, "Deployment", api).expect("Deployment");
    assert!(deployment.contains(&env_entry(drain, "0")), "{deployment}");
    let output = template("default", &["webhookApi.shutdownDrainSeconds=-1"]);
    assert!(!output.success, "a negative drain was accepted");
    assert!(output.stderr.contains("schema"), "{}", output.stderr);
}

#[test]
fn grace_period_must_exceed_drain_plus_request_timeout() {
    let refusal = "webhookApi.terminationGracePeriodSeconds must exceed \
                   shutdownDrainSeconds + requestTimeoutSeconds";
    // Equal to drain + timeout is refused as well: nothing would be left for the exit.
    for sets in [
        // 5 + 10 (defaults) >= 15
        &["webhookApi.terminationGracePeriodSeconds=15"][..],
        &["webhookApi.terminationGracePeriodSeconds=10"],
        &["webhookApi.terminationGracePeriodSeconds=0"],
        // 25 + 10 > 30 (the default grace period)
        &["webhookApi.shutdownDrainSeconds=25"],
        // 5 + 25 = 30
        &["webhookApi.requestTimeoutSeconds=25"],
        &[
            "webhookApi.shutdownDrainSeconds=40",
            "webhookApi.requestTimeoutSeconds=20",
            "webhookApi.terminationGracePeriodSeconds=60",
        ],
    ] {
        let output = template("default", sets);
        assert!(!output.success, "{sets:?} was accepted:\n{}", output.stdout);
        assert!(
            output.stderr.contains(refusal),
            "{sets:?} refused without saying why: {}",
            output.stderr
        );
    }

    // One second more than drain + timeout renders.
    for sets in [
        &["webhookApi.terminationGracePeriodSeconds=16"][..],
        &["webhookApi.shutdownDrainSeconds=19"],
        &[
            "webhookApi.shutdownDrainSeconds=0",
            "webhookApi.terminationGracePeriodSeconds=11",
        ],
        &[
            "webhookApi.shutdownDrainSeconds=40",
            "webhookApi.requestTimeoutSeconds=20",
            "webhookApi.terminationGracePeriodSeconds=61",
        ],
    ] {
        template("default", sets).expect_success(&format!("template {sets:?}"));
    }

    // The check belongs to webhook-api's Deployment: without webhook-api there is none.
    template(
        "default",
        &[
            "webhookApi.enabled=false",
            "webhookApi.terminationGracePeriodSeconds=5",
        ],
    )
    .expect_success("template without webhook-api");
}
