//! webhook-api under load (issue 15, "the gate under stress"), bounded to a few seconds
//! each:
//! - a thousand distinct valid tokens of an emulator pool (real sign-ins, plus tokens
//!   of keys the test rotates, which the emulator's static key cannot do) while the
//!   pool's signing keys rotate: no 5xx (no refusal either), exactly one JWKS fetch per
//!   rotation, p99 printed;
//! - SIGTERM to the real binary under load: readiness goes false while the listener
//!   still serves, requests keep being answered (asking clients to reconnect) until the
//!   drain ends, a request in flight when the listener closes completes, and no client
//!   sees a connection error.

mod signing;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::State, routing::get};
use cognito_operator_tests::{
    EmulatorPool, ProcessLog, WebhookApi, environment, free_port, serve_on_loopback, unique,
    unix_now, wait,
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use signing::{JwksStub, TestKey};

const PASSWORD: &str = "Correct-Horse-Battery-9";
/// Clients sending requests back to back.
const LOAD_TASKS: usize = 16;

/// The tokens the load cycles through, swapped whole by the test.
type Tokens = Arc<RwLock<Arc<Vec<String>>>>;

/// One request as its client saw it.
struct Sample {
    started: Instant,
    latency: Duration,
    /// The status, or the client's error (a reset or closed connection, a timeout).
    result: Result<StatusCode, String>,
    /// The response said `Connection: close`.
    closes: bool,
}

/// Clients that each send `GET url` with the next token, one request after the
/// other, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Sample>>>,
}

impl Load {
    fn start(url: String, tokens: Tokens, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicUsize::new(0));
        let http = reqwest::Client::new();
        let tasks = (0..clients)
            .map(|_| {
                let (url, tokens, stop, next, http) = (
                    url.clone(),
                    Arc::clone(&tokens),
                    Arc::clone(&stop),
                    Arc::clone(&next),
                    http.clone(),
                );
                tokio::spawn(async move {
                    let mut samples = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let token = {
                            let tokens = tokens.read().expect("lock");
                            tokens[next.fetch_add(1, Ordering::Relaxed) % tokens.len()].clone()
                        };
                        let started = Instant::now();
                        let (result, closes) = match http.get(&url).bearer_auth(token).send().await
                        {
                            Ok(response) => {
                                let status = response.status();
                                let closes = response
                                    .headers()
                                    .get(header::CONNECTION)
                                    .is_some_and(|value| value == "close");
                                match response.bytes().await {
                                    Ok(_) => (Ok(status), closes),
                                    Err(error) => (Err(format!("{error:?}")), closes),
                                }
                            }
                            Err(error) => (Err(format!("{error:?}")), false),
                        };
                        samples.push(Sample {
                            started,
                            latency: started.elapsed(),
                            result,
                            closes,
                        });
                    }
                    samples
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the clients (each finishes the request it is in) and returns what they saw.
    async fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Release);
        let mut samples = Vec::new();
        for task in self.tasks {
            samples.extend(task.await.expect("load client"));
        }
        samples
    }
}

/// Statuses and errors by count, for assertion messages.
fn outcomes(samples: &[Sample]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for sample in samples {
        let outcome = match &sample.result {
            Ok(status) => status.to_string(),
            Err(error) => error.clone(),
        };
        *counts.entry(outcome).or_insert(0) += 1;
    }
    counts
}

/// The `percent` latency percentile (nearest rank).
fn percentile(samples: &[Sample], percent: usize) -> Duration {
    let mut latencies: Vec<Duration> = samples.iter().map(|sample| sample.latency).collect();
    latencies.sort_unstable();
    let rank = (latencies.len() * percent).div_ceil(100).max(1);
    latencies[rank - 1]
}

fn user_claims(issuer: &str, client_id: &str, user: &str) -> Value {
    json!({
        "iss": issuer, "sub": user, "username": user, "token_use": "access",
        "client_id": client_id, "exp": unix_now() + 600, "iat": unix_now(),
    })
}

/// `count` distinct access tokens of `key`, signed on blocking threads: RSA signing in
/// a debug build is slow enough to matter for a thousand tokens.
async fn sign_tokens(
    key: &Arc<TestKey>,
    issuer: &str,
    client_id: &str,
    count: usize,
) -> Vec<String> {
    let halves = [0..count / 2, count / 2..count].map(|range| {
        let (key, issuer, client_id) = (Arc::clone(key), issuer.to_owned(), client_id.to_owned());
        tokio::task::spawn_blocking(move || {
            range
                .map(|n| {
                    let user = format!("{}-user-{n}", key.kid);
                    key.sign(&key.kid, &user_claims(&issuer, &client_id, &user))
                })
                .collect::<Vec<_>>()
        })
    });
    let mut tokens = Vec::with_capacity(count);
    for half in halves {
        tokens.extend(half.await.expect("signing"));
    }
    tokens
}

async fn fetched_keys(service: &WebhookApi) -> f64 {
    service
        .metric_sum("webhook_api_jwks_fetches_total", r#"result="ok""#)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tokens_while_the_signing_keys_rotate() {
    const EMULATOR_USERS: usize = 8;
    const TOKENS_PER_KEY: usize = 250;
    const ROTATIONS: usize = 3;
    const COOLDOWN: Duration = Duration::from_secs(1);
    /// Load between two rotations.
    const PHASE: Duration = Duration::from_millis(800);
    /// Time for requests in flight with tokens the test stopped sending to finish.
    const IN_FLIGHT: Duration = Duration::from_millis(300);

    let pool = EmulatorPool::create(&unique("stress")).await;
    let (issuer, client_id) = (pool.issuer(), pool.client_id.clone());
    let mut emulator_tokens = Vec::new();
    for n in 0..EMULATOR_USERS {
        let user = format!("{}@example.com", unique(&format!("stress-{n}")));
        pool.add_confirmed_user(&user, PASSWORD).await;
        emulator_tokens.push(pool.sign_in(&user, PASSWORD).await.access_token);
    }
    // The emulator's key stays published; the test's keys rotate beside it.
    let emulator_jwks: Value = reqwest::get(pool.jwks_uri())
        .await
        .expect("emulator JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let emulator_keys = emulator_jwks["keys"].as_array().expect("keys").clone();
    let keys: Vec<Arc<TestKey>> = (0..=ROTATIONS)
        .map(|generation| Arc::new(TestKey::generate(&format!("rotation-{generation}"))))
        .collect();
    let mut generations = Vec::new();
    for key in &keys {
        generations.push(sign_tokens(key, &issuer, &client_id, TOKENS_PER_KEY).await);
    }

    let (stub, jwks_uri) = JwksStub::start(&[&keys[0]]).await;
    let publish = |published: &[&Arc<TestKey>]| {
        let mut document = emulator_keys.clone();
        document.extend(published.iter().map(|key| key.jwk()));
        *stub.document.lock().expect("lock") = json!({ "keys": document });
    };
    publish(&[&keys[0]]);
    let pools = json!([{"issuer": issuer, "jwksUri": jwks_uri, "clientIds": [client_id]}]);
    // No token cache: every request checks its signature against the key set that the
    // rotations swap.
    let service = WebhookApi::start(&[
        "--pools",
        &pools.to_string(),
        "--jwks-cooldown-seconds",
        &COOLDOWN.as_secs().to_string(),
        "--token-cache-size",
        "0",
    ])
    .await;
    service.wait_ready().await;
    assert_eq!(
        fetched_keys(&service).await,
        1.0,
        "keys fetched before ready"
    );

    let active = |generations_in_use: &[&Vec<String>]| {
        let mut tokens = emulator_tokens.clone();
        for generation in generations_in_use {
            tokens.extend(generation.iter().cloned());
        }
        Arc::new(tokens)
    };
    let tokens: Tokens = Arc::new(RwLock::new(active(&[&generations[0]])));
    let started = Instant::now();
    let load = Load::start(
        format!("{}/api/me", service.base),
        Arc::clone(&tokens),
        LOAD_TASKS,
    );
    tokio::time::sleep(PHASE).await;
    for rotation in 1..=ROTATIONS {
        // Cognito's old key leaves the JWKS when nothing signed by it is in use: stop
        // sending those tokens first.
        *tokens.write().expect("lock") = active(&[&generations[rotation - 1]]);
        tokio::time::sleep(IN_FLIGHT).await;
        publish(&[&keys[rotation - 1], &keys[rotation]]);
        // Tokens of the new key before the cool-down since the last fetch has passed
        // would be refused; the one wait on the clock.
        let last_fetch = *stub
            .fetched_at
            .lock()
            .expect("lock")
            .last()
            .expect("fetched");
        tokio::time::sleep_until((last_fetch + COOLDOWN + Duration::from_millis(200)).into()).await;
        *tokens.write().expect("lock") =
            active(&[&generations[rotation - 1], &generations[rotation]]);
        let wanted = 1.0 + rotation as f64;
        wait::until(
            &format!("the JWKS fetch of rotation {rotation}"),
            || async { fetched_keys(&service).await >= wanted },
        )
        .await;
        tokio::time::sleep(PHASE).await;
        assert_eq!(
            fetched_keys(&service).await,
            wanted,
            "exactly one JWKS fetch for rotation {rotation} under load"
        );
    }
    let samples = load.finish().await;
    let elapsed = started.elapsed();

    assert_eq!(
        stub.fetches(),
        1 + ROTATIONS,
        "fetches the JWKS endpoint saw"
    );
    assert_eq!(service.failed_key_fetches().await, 0.0);
    let outcomes = outcomes(&samples);
    assert_eq!(
        outcomes.keys().collect::<Vec<_>>(),
        ["200 OK"],
        "every valid token passes, whatever the rotation: {outcomes:?}"
    );
    assert_eq!(service.requests("/api/me", "server_error").await, 0);
    let distinct = EMULATOR_USERS + TOKENS_PER_KEY * (ROTATIONS + 1);
    println!(
        "webhook-api (debug build, in the test process), {distinct} distinct tokens, \
         {ROTATIONS} key rotations, {LOAD_TASKS} clients: {} requests in {:.1} s \
         ({:.0} req/s), p50 {:?}, p99 {:?}",
        samples.len(),
        elapsed.as_secs_f64(),
        samples.len() as f64 / elapsed.as_secs_f64(),
        percentile(&samples, 50),
        percentile(&samples, 99),
    );
}

/// A JWKS endpoint whose answer the test can delay, so that a request waiting for a key
/// is still in flight when webhook-api closes its listener.
#[derive(Clone, Default)]
struct SlowJwks {
    document: Arc<Mutex<Value>>,
    delay: Arc<Mutex<Duration>>,
}

impl SlowJwks {
    async fn start(keys: &[&TestKey]) -> (Self, String) {
        let jwks = Self::default();
        jwks.publish(keys, Duration::ZERO);
        let router = Router::new()
            .route("/jwks.json", get(Self::answer))
            .with_state(jwks.clone());
        let base = serve_on_loopback(router).await;
        (jwks, format!("{base}/jwks.json"))
    }

    fn publish(&self, keys: &[&TestKey], delay: Duration) {
        let keys: Vec<Value> = keys.iter().map(|key| key.jwk()).collect();
        *self.document.lock().expect("lock") = json!({ "keys": keys });
        *self.delay.lock().expect("lock") = delay;
    }

    async fn answer(State(jwks): State<Self>) -> Json<Value> {
        let delay = *jwks.delay.lock().expect("lock");
        tokio::time::sleep(delay).await;
        Json(jwks.document.lock().expect("lock").clone())
    }
}

/// The webhook-api binary, stopped by the test with SIGTERM; killed when dropped.
struct WebhookProcess {
    child: Child,
    address: SocketAddr,
    log: ProcessLog,
}

impl WebhookProcess {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let log = ProcessLog::new(
            "webhook-api",
            std::env::temp_dir().join(format!("{}.log", unique("webhook-api-stress"))),
        );
        let log_file = std::fs::File::create(log.path()).expect("create log");
        let child = Command::new(environment().workspace_binary("webhook-api"))
            .args(["--listen", &address.to_string()])
            .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
            .args(args)
            .env("RUST_LOG", "info")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start webhook-api");
        Self {
            child,
            address,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        assert!(status.is_ok_and(|status| status.success()), "kill -TERM");
    }

    /// Whether a TCP connection to the API port is refused: the listener is closed.
    async fn refuses_connections(&self) -> bool {
        tokio::net::TcpStream::connect(self.address)
            .await
            .is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionRefused)
    }
}

impl Drop for WebhookProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_turns_unready_drains_and_finishes_requests() {
    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_drain";
    const CLIENT: &str = "drain-client";
    const DRAIN: Duration = Duration::from_secs(2);
    /// Load goes on this long after readiness went false, as while endpoints update.
    const ROUTED_WHILE_UNREADY: Duration = Duration::from_secs(1);
    /// Longer than the drain: the JWKS answer arrives after the listener closed.
    const SLOW_FETCH: Duration = Duration::from_secs(3);

    let steady = Arc::new(TestKey::generate("steady"));
    let late = TestKey::generate("late");
    let (jwks, jwks_uri) = SlowJwks::start(&[&steady]).await;
    let tokens = sign_tokens(&steady, ISSUER, CLIENT, 100).await;
    let pools = json!([{"issuer": ISSUER, "jwksUri": jwks_uri, "clientIds": [CLIENT]}]);
    let mut server = WebhookProcess::start(
        &[
            "--pools",
            &pools.to_string(),
            "--token-cache-size",
            "0",
            "--jwks-cooldown-seconds",
            "0",
        ],
        &[(
            "WEBHOOK_API_SHUTDOWN_DRAIN_SECONDS",
            &DRAIN.as_secs().to_string(),
        )],
    );
    let probe = reqwest::Client::new();
    let readyz = server.url("/readyz");
    wait::until("webhook-api ready", || async {
        probe
            .get(&readyz)
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK)
    })
    .await;

    let load = Load::start(
        server.url("/api/me"),
        Arc::new(RwLock::new(Arc::new(tokens))),
        LOAD_TASKS,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = Instant::now();
    server.terminate();
    // Readiness goes false first, answered by the listener that still serves.
    let unready = loop {
        let response = probe
            .get(&readyz)
            .send()
            .await
            .expect("/readyz answers while draining");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(response.text().await.expect("body"), "shutting down");
            break Instant::now();
        }
        assert!(signalled.elapsed() < DRAIN, "still ready after the drain");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    // A request whose key is new: webhook-api fetches the JWKS, which answers only after
    // the drain, so the request is in flight when the listener closes.
    jwks.publish(&[&steady, &late], SLOW_FETCH);
    let late_token = late.sign("late", &user_claims(ISSUER, CLIENT, "late-user"));
    let slow = tokio::spawn(
        reqwest::Client::new()
            .get(server.url("/api/me"))
            .bearer_auth(late_token)
            .send(),
    );
    tokio::time::sleep_until((unready + ROUTED_WHILE_UNREADY).into()).await;
    let samples = load.finish().await;

    let closed = loop {
        if server.refuses_connections().await {
            break Instant::now();
        }
        assert!(
            signalled.elapsed() < DRAIN + SLOW_FETCH,
            "the listener is still open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        closed - signalled >= DRAIN,
        "the listener closed {:?} after SIGTERM, before the {DRAIN:?} drain",
        closed - signalled
    );
    assert!(
        !slow.is_finished(),
        "the slow request was still in flight when the listener closed"
    );
    let slow = slow
        .await
        .expect("task")
        .expect("the in-flight request is answered");
    assert_eq!(slow.status(), StatusCode::OK);

    let exit = wait::poll("webhook-api to exit", Duration::from_secs(15), || {
        std::future::ready(server.child.try_wait().expect("wait"))
    })
    .await;
    assert!(exit.success(), "exit status {exit}\n{}", server.log.text());

    let outcomes = outcomes(&samples);
    assert_eq!(
        outcomes.keys().collect::<Vec<_>>(),
        ["200 OK"],
        "every request under load is answered, none reset: {outcomes:?}"
    );
    let while_unready: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.started >= unready)
        .collect();
    assert!(
        !while_unready.is_empty(),
        "requests were served while unready"
    );
    assert!(
        while_unready.iter().all(|sample| sample.closes),
        "answers while draining ask the client to reconnect elsewhere"
    );
    println!(
        "SIGTERM under load: unready after {:?}, {} requests answered while draining, \
         listener closed after {:?}, {} requests, p99 {:?}",
        unready - signalled,
        while_unready.len(),
        closed - signalled,
        samples.len(),
        percentile(&samples, 99),
    );
}
