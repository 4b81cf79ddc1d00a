//! The chart's Grafana dashboard and PrometheusRule (`monitoring.*`): rendered only when
//! asked for, with configurable labels; the alerts checked and unit-tested by the real
//! `promtool` (tests/go/prometheus) on the rules file the chart renders; every query of the
//! dashboard valid PromQL; and every metric the dashboard and the alerts read exported by
//! the real operator and webhook-api.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use cognito_operator_tests::{
    OperatorNamespace, TestNamespace, WebhookApi, emulator_pool, environment,
    helm::{chart_dir, template},
    kubectl_with_stdin,
    objects::{app_user_manifest, user_pool_manifest},
    tool, trusting, unique, wait,
};
use serde_json::{Value, json};

/// The namespace the rules are rendered for; tests/fixtures/monitoring/alerts_test.yaml
/// feeds series of this namespace (and of another, which must never fire).
const NAMESPACE: &str = "cognito";

const BOTH_ON: &[&str] = &[
    "monitoring.dashboard.enabled=true",
    "monitoring.prometheusRule.enabled=true",
];

/// `helm template` with `sets`, split into its documents.
fn documents(sets: &[&str]) -> Vec<String> {
    let rendered = template(NAMESPACE, sets).expect_success("template").stdout;
    rendered
        .split("\n---\n")
        .map(str::to_owned)
        .filter(|doc| doc.contains("kind:"))
        .collect()
}

/// The rendered document of `kind`, if there is one.
fn document(docs: &[String], kind: &str) -> Option<String> {
    let line = format!("\nkind: {kind}\n");
    docs.iter().find(|doc| doc.contains(&line)).cloned()
}

/// The metadata block of a rendered document (up to `spec:` or `data:`).
fn metadata(doc: &str) -> &str {
    let end = ["\nspec:", "\ndata:"]
        .iter()
        .filter_map(|key| doc.find(key))
        .min()
        .unwrap_or(doc.len());
    &doc[..end]
}

/// The rules file the chart renders: the PrometheusRule's `spec` (its `groups`), taken
/// out of the object as it is, one level less indented.
fn rendered_rules(sets: &[&str]) -> String {
    let sets: Vec<&str> = BOTH_ON.iter().chain(sets).copied().collect();
    let rule = document(&documents(&sets), "PrometheusRule").expect("a PrometheusRule");
    let (_, spec) = rule.split_once("\nspec:\n").expect("a spec");
    let lines: Vec<&str> = spec
        .lines()
        .map(|line| line.strip_prefix("  ").unwrap_or(line))
        .collect();
    assert!(lines[0].starts_with("groups:"), "{spec}");
    lines.join("\n") + "\n"
}

/// The dashboard JSON in the rendered ConfigMap.
fn rendered_dashboard(sets: &[&str]) -> Value {
    let sets: Vec<&str> = BOTH_ON.iter().chain(sets).copied().collect();
    let config_map = document(&documents(&sets), "ConfigMap")
        .into_iter()
        .find(|doc| doc.contains("cognito-operator.json: |-"))
        .expect("the dashboard ConfigMap");
    let (_, json) = config_map
        .split_once("cognito-operator.json: |-\n")
        .expect("the dashboard key");
    let json: String = json
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).expect("the dashboard is JSON")
}

/// The chart's dashboard file.
fn dashboard_file() -> Value {
    let path = chart_dir().join("dashboards/cognito-operator.json");
    let text = std::fs::read_to_string(&path).expect("read the dashboard");
    serde_json::from_str(&text).expect("the dashboard file is JSON")
}

/// Every PromQL expression of the dashboard's panels, with the panel's title.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            queries.push((title, expr.to_owned()));
        }
    }
    queries
}

/// The metric names a PromQL expression reads (those of the two binaries' prefixes).
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Label values are strings: leave them out.
    let mut unquoted = String::new();
    let mut in_string = false;
    for c in expr.chars() {
        if c == '"' {
            in_string = !in_string;
        } else if !in_string {
            unquoted.push(c);
        }
    }
    unquoted
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("cognito_operator_") || word.starts_with("webhook_api_"))
        .map(str::to_owned)
        .collect()
}

/// The sample names an exposition offers: those of its samples, and for each `# TYPE`
/// those its type gives (a family without a series yet still counts).
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(declared) = line.strip_prefix("# TYPE ") {
            let mut words = declared.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total"],
                "histogram" => &["_bucket", "_sum", "_count"],
                "info" => &["_info"],
                _ => &[""],
            };
            names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
        } else if !line.starts_with('#')
            && let Some(name) = line.split(['{', ' ']).next().filter(|n| !n.is_empty())
        {
            names.insert(name.to_owned());
        }
    }
    names
}

/// A fresh directory for promtool's files.
fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique("promtool"));
    std::fs::create_dir_all(&dir).expect("create a temp dir");
    dir
}

/// `promtool ARGS...` in `dir`; panics with its output unless it succeeds.
fn promtool(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(tool("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool {} failed:\n{text}",
        args.join(" ")
    );
    text
}

#[test]
fn dashboard_and_rules_render_only_when_enabled() {
    let off = documents(&[]);
    assert!(document(&off, "PrometheusRule").is_none());
    assert!(
        !off.iter().any(|doc| doc.contains("grafana_dashboard")),
        "a dashboard by default"
    );

    let dashboard_only = documents(&["monitoring.dashboard.enabled=true"]);
    assert!(document(&dashboard_only, "PrometheusRule").is_none());
    let config_map = dashboard_only
        .iter()
        .find(|doc| doc.contains("cognito-operator.json: |-"))
        .expect("the dashboard ConfigMap");
    assert!(
        metadata(config_map).contains("grafana_dashboard: \"1\""),
        "the sidecar's label by default:\n{config_map}"
    );

    let rules_only = documents(&["monitoring.prometheusRule.enabled=true"]);
    assert!(document(&rules_only, "PrometheusRule").is_some());
    assert!(
        !rules_only
            .iter()
            .any(|doc| doc.contains("grafana_dashboard"))
    );
}

#[test]
fn rendered_dashboard_is_the_chart_file() {
    assert_eq!(rendered_dashboard(&[]), dashboard_file());
    let dashboard = dashboard_file();
    // Grafana places panels by id and grid position: unique ids, no two panels overlap.
    let panels = dashboard["panels"].as_array().expect("panels");
    let ids: BTreeSet<u64> = panels.iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), panels.len(), "panel ids are not unique");
    let cells = |panel: &Value| {
        let at = |key: &str| panel["gridPos"][key].as_u64().expect("gridPos");
        let (x, y, w, h) = (at("x"), at("y"), at("w"), at("h"));
        assert!(x + w <= 24, "{} is wider than the grid", panel["title"]);
        (x..x + w).flat_map(move |cx| (y..y + h).map(move |cy| (cx, cy)))
    };
    let mut taken = BTreeSet::new();
    for panel in panels {
        for cell in cells(panel) {
            assert!(
                taken.insert(cell),
                "{} overlaps another panel",
                panel["title"]
            );
        }
    }
    assert!(dashboard_queries(&dashboard).len() >= 20, "too few queries");
    for (title, expr) in dashboard_queries(&dashboard) {
        assert!(
            expr.contains("namespace=\"$namespace\""),
            "{title}: not scoped to the chosen namespace: {expr}"
        );
    }
}

#[test]
fn labels_namespace_and_alert_settings_are_configurable() {
    let docs = documents(&[
        "monitoring.dashboard.enabled=true",
        "monitoring.dashboard.labels.team-dashboards=yes",
        "monitoring.dashboard.labels.grafana_dashboard=null",
        "monitoring.dashboard.annotations.grafana_folder=Cognito",
        "monitoring.dashboard.namespace=grafana",
        "monitoring.prometheusRule.enabled=true",
        "monitoring.prometheusRule.labels.release=kube-prometheus",
        "monitoring.prometheusRule.alertLabels.team=identity",
        "monitoring.prometheusRule.runbookUrl=https://wiki.example.com/cognito",
        "monitoring.prometheusRule.alerts.CognitoOperatorThrottled.enabled=false",
        "monitoring.prometheusRule.alerts.CognitoUserPoolsNotReady.for=1h",
        "monitoring.prometheusRule.alerts.CognitoUserPoolsNotReady.severity=critical",
        "--set-json=monitoring.prometheusRule.alerts.WebhookApiServerErrors.ratio=0.2",
    ]);
    let config_map = docs
        .iter()
        .find(|doc| doc.contains("cognito-operator.json: |-"))
        .expect("the dashboard ConfigMap");
    let meta = metadata(config_map);
    assert!(meta.contains("namespace: grafana"), "{meta}");
    assert!(meta.contains("team-dashboards: \"yes\""), "{meta}");
    assert!(meta.contains("grafana_folder: Cognito"), "{meta}");
    assert!(!meta.contains("grafana_dashboard"), "{meta}");

    let rule = document(&docs, "PrometheusRule").expect("a PrometheusRule");
    assert!(
        metadata(&rule).contains("release: kube-prometheus"),
        "{rule}"
    );
    assert!(!rule.contains("CognitoOperatorThrottled"), "{rule}");
    let alerts = rule.matches("- alert: ").count();
    assert_eq!(alerts, 8, "{rule}");
    assert_eq!(rule.matches("team: identity").count(), alerts, "{rule}");
    assert!(
        rule.contains("runbook_url: \"https://wiki.example.com/cognito#cognitouserpoolsnotready\""),
        "{rule}"
    );
    let pools = rule
        .split("- alert: ")
        .find(|alert| alert.starts_with("CognitoUserPoolsNotReady"))
        .expect("the UserPool alert");
    assert!(pools.contains("for: 1h") && pools.contains("severity: \"critical\""));
    assert!(rule.contains("> 0.2\n"), "{rule}");

    // Without webhook-api, no alert about it.
    let docs = documents(&[
        "monitoring.prometheusRule.enabled=true",
        "webhookApi.enabled=false",
    ]);
    let rule = document(&docs, "PrometheusRule").expect("a PrometheusRule");
    assert!(!rule.contains("webhook_api_") && !rule.contains("WebhookApi"));
}

#[test]
fn the_dashboard_config_map_passes_the_api_server() {
    let ns = TestNamespace::create("dashboard");
    let rendered = template(ns.name(), &["monitoring.dashboard.enabled=true"])
        .expect_success("template")
        .stdout;
    let config_map = rendered
        .split("\n---\n")
        .find(|doc| doc.contains("cognito-operator.json: |-"))
        .expect("the dashboard ConfigMap");
    kubectl_with_stdin(&["apply", "--dry-run=server", "-f", "-"], config_map)
        .run()
        .expect_success("server-side dry run of the dashboard ConfigMap");
}

#[test]
fn values_out_of_range_are_refused() {
    for set in [
        "monitoring.prometheusRule.alerts.CognitoOperatorThrottled.ratio=2",
        "monitoring.prometheusRule.alerts.CognitoOperatorNoLeader.for=soon",
        "monitoring.prometheusRule.alerts.NoSuchAlert.enabled=true",
        "monitoring.prometheusRule.runbookUrl=docs/operations.md",
    ] {
        let rendered = template(NAMESPACE, &[set]);
        assert!(!rendered.success, "{set} accepted");
    }
}

#[test]
fn rendered_rules_pass_promtool_check_and_unit_tests() {
    let dir = work_dir();
    std::fs::write(dir.join("rules.yaml"), rendered_rules(&[])).expect("write rules");
    let fixture = cognito_operator_tests::repo_root().join("tests/fixtures/monitoring");
    std::fs::copy(
        fixture.join("alerts_test.yaml"),
        dir.join("alerts_test.yaml"),
    )
    .expect("copy the promtool tests");

    let checked = promtool(&dir, &["check", "rules", "rules.yaml"]);
    assert!(checked.contains("SUCCESS: 9 rules found"), "{checked}");
    let tested = promtool(&dir, &["test", "rules", "alerts_test.yaml"]);
    assert!(tested.contains("SUCCESS"), "{tested}");

    // Every alert is exercised, firing and not firing, by the unit tests.
    let tests = std::fs::read_to_string(dir.join("alerts_test.yaml")).expect("read tests");
    for alert in rendered_rules(&[])
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- alert: "))
    {
        let cases = tests.matches(&format!("alertname: {alert}\n")).count();
        assert!(cases >= 2, "{alert} has {cases} promtool cases");
        let firing = tests
            .split("alertname: ")
            .filter(|case| case.starts_with(&format!("{alert}\n")))
            .any(|case| !case.contains("exp_alerts: []"));
        assert!(firing, "no promtool case where {alert} fires");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dashboard_queries_are_valid_promql() {
    // Grafana's variables as a chosen dashboard would have them.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (title, expr)) in dashboard_queries(&dashboard_file()).iter().enumerate() {
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$namespace", NAMESPACE);
        assert!(
            !expr.contains('$'),
            "{title}: an unknown variable in {expr}"
        );
        let expr = serde_json::to_string(&expr).expect("a JSON string");
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {expr}\n"
        ));
    }
    let dir = work_dir();
    std::fs::write(dir.join("dashboard.yaml"), rules).expect("write rules");
    promtool(&dir, &["check", "rules", "dashboard.yaml"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A pool with an app client, as the other operator tests make them.
const POOL_SPEC: &str = "  deletionPolicy: Delete\n  clients: [{name: app}]\n";

/// Long enough for the trigger sink.
const TRIGGER_SECRET: &str = "monitoring-trigger-secret-0123456789";

#[tokio::test]
async fn dashboard_and_alerts_read_only_metrics_the_binaries_export() {
    // Every series the dashboard and the alerts read, made for real: the operator signs
    // with a key of its own, for which the emulator throttles CreateStack until told not
    // to (reconcile errors, throttled and failed AWS calls, then successful ones).
    let key = unique("monitoring");
    let faults = format!("{}/_faults/{key}", environment().aws_endpoint);
    let http = reqwest::Client::new();
    let throttle =
        json!({"throttle": 1.0, "services": ["cloudformation"], "operations": ["CreateStack"]});
    let set = http.put(&faults).json(&throttle).send().await;
    assert!(set.expect("set faults").status().is_success());
    let t = OperatorNamespace::start("monitoring", &[("AWS_ACCESS_KEY_ID", &key)]).await;
    t.ns.apply(&user_pool_manifest("shop", POOL_SPEC));
    wait::until("a failed UserPool reconcile counted", || async {
        t.operator.metric_sum(
            "cognito_operator_reconcile_errors_total",
            "kind=\"UserPool\"",
        ) > 0
    })
    .await;
    let cleared = http.delete(&faults).send().await;
    assert!(cleared.expect("clear faults").status().is_success());
    let pool = emulator_pool(&t.ready_pool("shop").await).await;
    assert!(
        t.operator.metric_sum(
            "cognito_operator_aws_calls_total",
            "operation=\"CreateStack\",outcome=\"throttled\""
        ) > 0
    );

    // An AppUser of a pool that does not exist: not Ready, counted as such.
    t.apply_password("s", "Monitoring-Passw0rd!");
    t.ns.apply(&app_user_manifest(
        "waiting",
        "absent",
        "waiting@example.com",
        "s",
        "",
    ));
    t.user_reason("waiting", "Ready", "WaitingForUserPool")
        .await;
    let user_not_ready = r#"kind="AppUser",condition="Ready",status="False""#;
    let pool_ready = r#"kind="UserPool",condition="Ready",status="True""#;
    wait::until("the objects counted by condition", || async {
        t.operator
            .metric_sum("cognito_operator_objects", user_not_ready)
            == 1
            && t.operator
                .metric_sum("cognito_operator_objects", pool_ready)
                == 1
    })
    .await;
    assert_eq!(
        t.operator
            .metric_sum("cognito_operator_leader", "identity=\"cognito-operator-"),
        1,
        "without leader election the only process leads"
    );

    // webhook-api trusting the pool (a JWKS fetch), asked without a token and sent a
    // trigger event.
    let webhook = WebhookApi::start(&[
        "--pools",
        &trusting(&pool),
        "--trigger-secret",
        TRIGGER_SECRET,
    ])
    .await;
    webhook.wait_ready().await;
    let refused = webhook.get("/api/me", None).await;
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let event =
        json!({"version": "1", "triggerSource": "PreSignUp_SignUp", "request": {}, "response": {}});
    let sent = webhook
        .http
        .post(format!("{}/triggers", webhook.base))
        .header("x-trigger-secret", TRIGGER_SECRET)
        .json(&event)
        .send()
        .await
        .expect("POST /triggers");
    assert_eq!(sent.status(), reqwest::StatusCode::OK);

    let mut exported = exported_names(&t.operator.metrics());
    exported.extend(exported_names(&webhook.metrics().await));
    let mut read = Vec::new();
    for (title, expr) in dashboard_queries(&dashboard_file()) {
        read.extend(metric_names(&expr).into_iter().map(|m| (title.clone(), m)));
    }
    for expr in rendered_rules(&[])
        .lines()
        .filter(|line| line.contains("cognito_operator_") || line.contains("webhook_api_"))
    {
        read.extend(metric_names(expr).into_iter().map(|m| ("alerts".into(), m)));
    }
    assert!(read.len() > 20, "{read:?}");
    let missing: Vec<_> = read
        .iter()
        .filter(|(_, metric)| !exported.contains(metric))
        .collect();
    assert!(
        missing.is_empty(),
        "read but not exported: {missing:?}\nexported: {exported:?}"
    );

    // Deleted, it is no longer counted.
    t.ns.delete("appuser", "waiting");
    wait::until("the deleted AppUser no longer counted", || async {
        t.operator
            .metric_sum("cognito_operator_objects", user_not_ready)
            == 0
    })
    .await;
}

#[test]
fn metric_names_are_read_from_promql_and_expositions() {
    assert_eq!(
        metric_names(
            r#"sum by (le) (rate(webhook_api_verify_duration_seconds_bucket{route="cognito_operator_x"}[5m])) / cognito_operator_leader"#
        ),
        BTreeSet::from([
            "cognito_operator_leader".to_owned(),
            "webhook_api_verify_duration_seconds_bucket".to_owned(),
        ])
    );
    let exposition = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
        # TYPE a_seconds histogram\na_seconds_count 1\n# TYPE a_up gauge\n# EOF\n";
    assert_eq!(
        exported_names(exposition),
        BTreeSet::from(
            [
                "a_requests_total",
                "a_seconds_bucket",
                "a_seconds_sum",
                "a_seconds_count",
                "a_up"
            ]
            .map(str::to_owned)
        )
    );
}
