//! The trigger forwarder (`operator/src/userpool/forwarder.py`, the inline Lambda a
//! pool's stack gets for sink triggers) run by the machine's `python3` against
//! webhook-api's `POST /triggers` in this process: every documented event shape comes
//! back unchanged and reaches the sink, and a sink that is down, slow or refuses the
//! secret never holds up or alters the event, nor leaks it or the secret into the log.
//! Needs no cluster and no AWS emulator; every URL the forwarder gets is on loopback.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use clap::Parser;
use cognito_operator_tests::{WebhookApi, free_port, repo_root};
use serde_json::Value;
use tokio::{io::AsyncWriteExt, net::TcpListener, process::Command};
use webhook_api::{AppState, config::Cli};

/// As long as the operator demands of a sink secret.
const SECRET: &str = "forwarder-test-secret-4f1c9a2e7b3d8e60";
/// CloudFormation's limit on inline (`ZipFile`) code.
const ZIP_FILE_LIMIT: u64 = 4096;
/// Generous: the forwarder's own bound is far below it (and Cognito's 5 s).
const QUICK: Duration = Duration::from_secs(3);
const TRIGGER_EVENTS: &str = "webhook_api_trigger_events_total";

/// Loads the forwarder as Lambda's runtime does (a module from its file), calls
/// `handler(event, context)` with the event from stdin and a context that reports
/// `argv[2]` ms left, and prints what it returned as JSON. `-I -B`: no user site, no
/// environment settings, no `__pycache__` beside the operator's sources.
const DRIVER: &str = r#"
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
forwarder = importlib.util.module_from_spec(spec)
spec.loader.exec_module(forwarder)
class Context:
    def get_remaining_time_in_millis(self):
        return int(sys.argv[2])
event = json.load(sys.stdin)
returned = forwarder.handler(event, Context())
assert returned is event, "the handler returned another object"
print(json.dumps(returned))
"#;

fn forwarder_path() -> PathBuf {
    repo_root().join("operator/src/userpool/forwarder.py")
}

/// Every sample event, with its file name.
fn sample_events() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/cognito-events");
    let mut events: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("read the fixtures directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a sample event");
            let event = serde_json::from_str(&text).expect("a sample event is JSON");
            let name = path.file_name().expect("file name").to_string_lossy();
            (name.into_owned(), event)
        })
        .collect();
    events.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(events.len() >= 12, "sample events: {}", events.len());
    events
}

fn trigger_source(event: &Value) -> &str {
    event["triggerSource"].as_str().expect("a triggerSource")
}

/// webhook-api with only the trigger sink configured, on loopback; no AWS calls are made.
async fn sink() -> WebhookApi {
    let cli = Cli::parse_from(["webhook-api", "--trigger-secret", SECRET]);
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .build();
    WebhookApi::serve(AppState::new(&cli, &aws).expect("valid configuration")).await
}

async fn trigger_events(sink: &WebhookApi, source: &str) -> f64 {
    sink.metric_sum(TRIGGER_EVENTS, &format!(r#"trigger="{source}""#))
        .await
}

struct Forwarded {
    returned: Value,
    /// The forwarder's stdout and stderr (all Lambda would log) apart from the result.
    log: String,
    took: Duration,
}

/// Runs the handler on `event` with `env` (and nothing else of this process's
/// environment) and `remaining_ms` left of the invocation.
async fn forward(event: &Value, env: &[(&str, &str)], remaining_ms: u32) -> Forwarded {
    let mut command = Command::new("python3");
    command
        .args(["-I", "-B", "-c", DRIVER])
        .arg(forwarder_path())
        .arg(remaining_ms.to_string())
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command.spawn().expect("run python3");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(event.to_string().as_bytes())
        .await
        .expect("write the event");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the forwarder returns")
        .expect("python3 output");
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python3 failed: {stdout}\n{stderr}"
    );
    let (log, result) = stdout.trim_end().rsplit_once('\n').unwrap_or(("", &stdout));
    Forwarded {
        returned: serde_json::from_str(result).expect("the handler's result is JSON"),
        log: format!("{log}{stderr}"),
        took,
    }
}

fn sink_env<'a>(url: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("SINK_URL", url), ("SINK_SECRET", secret)]
}

/// Every string in `value` of at least four characters (shorter ones are too common to
/// tell a leak).
fn strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) if text.chars().count() >= 4 => found.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, found)),
        Value::Object(map) => map.values().for_each(|item| strings(item, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_sample_event_comes_back_unchanged_and_reaches_the_sink() {
    let sink = sink().await;
    let url = format!("{}/triggers", sink.base);
    for (name, event) in sample_events() {
        let source = trigger_source(&event);
        let before = trigger_events(&sink, source).await;
        let forwarded = forward(&event, &sink_env(&url, SECRET), 5000).await;
        assert_eq!(forwarded.returned, event, "{name}");
        assert_eq!(forwarded.log, "", "{name}: nothing to report");
        assert_eq!(
            trigger_events(&sink, source).await,
            before + 1.0,
            "{name}: the sink counted {source} once"
        );
    }
    assert_eq!(
        trigger_events(&sink, "other").await,
        0.0,
        "every sample is a documented triggerSource"
    );
}

#[tokio::test]
async fn a_sink_that_is_down_does_not_hold_up_the_event() {
    let url = format!("http://127.0.0.1:{}/triggers", free_port());
    let (_, event) = &sample_events()[0];
    let forwarded = forward(event, &sink_env(&url, SECRET), 5000).await;
    assert_eq!(&forwarded.returned, event);
    assert!(forwarded.took < QUICK, "took {:?}", forwarded.took);
    assert!(
        forwarded.log.contains(&format!(
            "triggerSource={} failure=connection_error",
            trigger_source(event)
        )),
        "{}",
        forwarded.log
    );
}

#[tokio::test]
async fn a_sink_that_never_answers_is_given_up_on() {
    // Accepts connections and holds them open without reading or answering.
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!(
        "http://{}/triggers",
        listener.local_addr().expect("address")
    );
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let (_, event) = &sample_events()[0];

    // The configured timeout ends the wait; a long one still ends before the
    // invocation's time runs out.
    for (timeout_ms, remaining_ms) in [("300", 5000), ("60000", 1000)] {
        let mut env = sink_env(&url, SECRET);
        env.push(("SINK_TIMEOUT_MS", timeout_ms));
        let forwarded = forward(event, &env, remaining_ms).await;
        assert_eq!(&forwarded.returned, event);
        assert!(forwarded.took < QUICK, "took {:?}", forwarded.took);
        assert!(
            forwarded.log.contains("failure=timeout"),
            "{}",
            forwarded.log
        );
    }
}

#[tokio::test]
async fn a_refused_secret_is_logged_without_the_secret_or_the_event() {
    let sink = sink().await;
    let url = format!("{}/triggers", sink.base);
    let wrong = "wrong-forwarder-secret-9d2e6b1a0c7f4e38";
    let samples = sample_events();
    let refused = samples.len() as u64;
    for (name, event) in samples {
        let source = trigger_source(&event);
        let forwarded = forward(&event, &sink_env(&url, wrong), 5000).await;
        assert_eq!(forwarded.returned, event, "{name}");
        assert!(
            forwarded
                .log
                .contains(&format!("triggerSource={source} failure=http_status 401")),
            "{name}: {}",
            forwarded.log
        );
        assert_eq!(forwarded.log.lines().count(), 1, "{}", forwarded.log);
        for secret in [wrong, SECRET] {
            assert!(!forwarded.log.contains(secret), "{name}: {}", forwarded.log);
        }
        let mut values = Vec::new();
        strings(&event["request"], &mut values);
        strings(&event["userName"], &mut values);
        for value in values {
            assert!(
                !forwarded.log.contains(&value),
                "{name}: {value} in {}",
                forwarded.log
            );
        }
    }
    assert_eq!(sink.requests("/triggers", "unauthorized").await, refused);
    assert_eq!(sink.requests("/triggers", "ok").await, 0);
}

#[test]
fn the_forwarder_fits_inline_code() {
    let size = std::fs::metadata(forwarder_path())
        .expect("the forwarder exists")
        .len();
    assert!(size <= ZIP_FILE_LIMIT, "{size} bytes");
}
