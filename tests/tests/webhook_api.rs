//! webhook-api end to end: real tokens from the emulator (`InitiateAuth`), crafted tokens
//! signed by a test key that a local JWKS stub serves (moto's key is static, so expiry,
//! unknown `kid` and rotation need our own), and pool discovery on the real API server.

use std::{
    net::SocketAddr,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, Router, body::Body, extract::State, http::Request, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use clap::Parser;
use cognito_operator_tests::{
    EmulatorPool, TestNamespace, aws_config, kube_client, kubectl, kubectl_with_stdin,
};
use reqwest::{StatusCode, header};
use ring::{
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use serde_json::{Value, json};
use tower::ServiceExt;
use webhook_api::{AppState, app, config::Cli};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const STUB_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_stub";
const STUB_CLIENT: &str = "stub-client";

/// webhook-api on a loopback port, built from command-line arguments.
struct Service {
    base: String,
    http: reqwest::Client,
}

impl Service {
    async fn start(args: &[&str]) -> Self {
        let state = state(args).await;
        state.spawn_background();
        Self::serve(state).await
    }

    async fn serve(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("local address");
        let router = app(state).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    async fn wait_ready(&self) {
        for _ in 0..100 {
            if self.get("/readyz", None).await.status() == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("webhook-api not ready within 10 s");
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request webhook-api")
    }

    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("request webhook-api")
    }

    async fn metrics(&self) -> String {
        self.get("/metrics", None)
            .await
            .text()
            .await
            .expect("metrics text")
    }
}

async fn state(args: &[&str]) -> AppState {
    let cli = Cli::parse_from(std::iter::once("webhook-api").chain(args.iter().copied()));
    AppState::new(&cli, &aws_config().await).expect("valid configuration")
}

fn pools_arg(pools: &[(&str, &str, &[&str])]) -> String {
    let pools: Vec<Value> = pools
        .iter()
        .map(|(issuer, jwks_uri, clients)| {
            json!({"issuer": issuer, "jwksUri": jwks_uri, "clientIds": clients})
        })
        .collect();
    Value::from(pools).to_string()
}

/// Asserts a 401 with the RFC 6750 challenge and the expected description, and that
/// nothing of the token comes back.
async fn assert_invalid(response: reqwest::Response, description: &str, token: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{description}");
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        challenge,
        format!(r#"Bearer error="invalid_token", error_description="{description}""#)
    );
    let body = response.text().await.expect("body");
    let signature = token.rsplit('.').next().unwrap_or(token);
    assert!(
        signature.len() < 8 || !body.contains(signature),
        "the token was echoed: {body}"
    );
}

/// The value of one sample in a Prometheus text exposition (0 when absent).
fn metric(exposition: &str, sample: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid_suffix())
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    )
}

async fn pool_with_user(name: &str) -> (EmulatorPool, String) {
    let pool = EmulatorPool::create(&format!("{name}-{}", uuid_suffix())).await;
    let user = email(name);
    pool.add_confirmed_user(&user, PASSWORD).await;
    (pool, user)
}

#[tokio::test]
async fn emulator_tokens_are_checked_per_route() {
    let (pool, user) = pool_with_user("routes").await;
    let group = "admins";
    pool.cognito
        .create_group()
        .user_pool_id(&pool.pool_id)
        .group_name(group)
        .send()
        .await
        .expect("CreateGroup");
    pool.cognito
        .admin_add_user_to_group()
        .user_pool_id(&pool.pool_id)
        .username(&user)
        .group_name(group)
        .send()
        .await
        .expect("AdminAddUserToGroup");
    let tokens = pool.sign_in(&user, PASSWORD).await;
    let other_client = pool.add_client("not-allowed").await;
    let other_client_tokens = pool.sign_in_with(&other_client, &user, PASSWORD).await;
    let (other_pool, other_user) = pool_with_user("untrusted").await;
    let untrusted = other_pool.sign_in(&other_user, PASSWORD).await;

    let issuer = pool.issuer();
    let jwks_uri = pool.jwks_uri();
    let service = Service::start(&[
        "--pools",
        &pools_arg(&[(&issuer, &jwks_uri, &[&pool.client_id])]),
    ])
    .await;
    service.wait_ready().await;

    // Access token on the API route: who am I.
    let me = service.get("/api/me", Some(&tokens.access_token)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["token_use"], "access");
    assert_eq!(me["groups"], json!([group]));
    assert!(me["sub"].as_str().is_some_and(|sub| !sub.is_empty()));

    // Id token on forward-auth: the user in headers for the ingress.
    let auth = service.get("/auth", Some(&tokens.id_token)).await;
    assert_eq!(auth.status(), StatusCode::OK);
    let header_of = |name: &str| {
        auth.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header_of("x-auth-request-email"), Some(user.clone()));
    assert_eq!(header_of("x-auth-request-groups"), Some(group.to_owned()));
    assert!(header_of("x-auth-request-user").is_some());

    // Each route takes one kind of token only.
    assert_invalid(
        service.get("/api/me", Some(&tokens.id_token)).await,
        "wrong token_use for this route",
        &tokens.id_token,
    )
    .await;
    assert_invalid(
        service.get("/auth", Some(&tokens.access_token)).await,
        "wrong token_use for this route",
        &tokens.access_token,
    )
    .await;
    assert_invalid(
        service.get("/api/me", None).await,
        "missing bearer token",
        "",
    )
    .await;

    // Tampered signature, tampered payload.
    let (signed, signature) = tokens.access_token.rsplit_once('.').expect("three parts");
    let mut signature_bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    signature_bytes[10] ^= 0x01;
    let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&signature_bytes));
    assert_invalid(
        service.get("/api/me", Some(&tampered)).await,
        "invalid signature",
        &tampered,
    )
    .await;
    let mut parts: Vec<String> = tokens.access_token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url"))
            .expect("JSON");
    claims["cognito:groups"] = json!(["admins", "superusers"]);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts.join(".");
    assert_invalid(
        service.get("/api/me", Some(&forged)).await,
        "invalid signature",
        &forged,
    )
    .await;

    // Wrong issuer (a pool nobody configured) and wrong client.
    assert_invalid(
        service.get("/api/me", Some(&untrusted.access_token)).await,
        "untrusted issuer",
        &untrusted.access_token,
    )
    .await;
    assert_invalid(
        service
            .get("/api/me", Some(&other_client_tokens.access_token))
            .await,
        "client not allowed",
        &other_client_tokens.access_token,
    )
    .await;

    // alg "none" with the real claims and no signature.
    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy"}"#);
    let unsigned = format!("{header_none}.{}.", parts[1]);
    assert_invalid(
        service.get("/api/me", Some(&unsigned)).await,
        "unsupported algorithm",
        &unsigned,
    )
    .await;
    let unsigned_with_sig = format!("{header_none}.{}.{signature}", parts[1]);
    assert_invalid(
        service.get("/api/me", Some(&unsigned_with_sig)).await,
        "unsupported algorithm",
        &unsigned_with_sig,
    )
    .await;

    // A repeated token is served from the verified-token cache.
    service.get("/api/me", Some(&tokens.access_token)).await;
    let metrics = service.metrics().await;
    assert!(
        metric(&metrics, "webhook_api_token_cache_hits_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"webhook_api_requests_total{route="/api/me",outcome="unauthorized"}"#)
    );

    // A route that requires a group the user lacks answers 403, not 401.
    let config = std::env::temp_dir().join(format!("webhook-api-{}.yaml", uuid_suffix()));
    std::fs::write(
        &config,
        format!(
            "pools:\n  - issuer: {issuer}\n    jwksUri: {jwks_uri}\n    clientIds: [{}]\nroutes:\n  api:\n    tokenUse: access\n    requiredGroups: [auditors]\n",
            pool.client_id
        ),
    )
    .expect("write config");
    let strict = Service::start(&["--config", config.to_str().expect("UTF-8 path")]).await;
    strict.wait_ready().await;
    let forbidden = strict.get("/api/me", Some(&tokens.access_token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope", error_description="a required group is missing""#
    );
    let _ = std::fs::remove_file(config);
}

/// An RSA key made by `openssl` for this test run.
struct TestKey {
    kid: String,
    pair: RsaKeyPair,
}

impl TestKey {
    fn generate(kid: &str) -> Self {
        let output = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .expect("run openssl");
        assert!(output.status.success(), "openssl genpkey failed");
        Self {
            kid: kid.to_owned(),
            pair: RsaKeyPair::from_der(&output.stdout).expect("PKCS#1 RSA key"),
        }
    }

    fn jwk(&self) -> Value {
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n), "e": URL_SAFE_NO_PAD.encode(public.e),
        })
    }

    fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// HS256 keyed with this key's public half: the classic key-confusion forgery.
    fn forge_hs256(&self, claims: &Value) -> String {
        let header = json!({"alg": "HS256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.pair.public().as_ref());
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

fn access_claims(issuer: &str, exp: u64) -> Value {
    json!({
        "iss": issuer, "sub": "stub-user", "token_use": "access", "client_id": STUB_CLIENT,
        "username": "stub-user", "exp": exp, "iat": unix_now(), "origin_jti": "session-ok",
    })
}

/// A JWKS endpoint on loopback whose document the test swaps, counting fetches.
#[derive(Clone)]
struct JwksStub {
    document: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksStub {
    async fn start(keys: &[&TestKey]) -> (Self, String) {
        let stub = Self {
            document: Arc::new(Mutex::new(Value::Null)),
            fetches: Arc::default(),
        };
        stub.serve_keys(keys);
        let router = Router::new()
            .route("/jwks.json", get(Self::jwks))
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!(
            "http://{}/jwks.json",
            listener.local_addr().expect("address")
        );
        tokio::spawn(async move { axum::serve(listener, router).await });
        (stub, url)
    }

    async fn jwks(State(stub): State<Self>) -> Json<Value> {
        stub.fetches.fetch_add(1, Ordering::SeqCst);
        Json(stub.document.lock().expect("lock").clone())
    }

    fn serve_keys(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|key| key.jwk()).collect();
        *self.document.lock().expect("lock") = json!({"keys": keys});
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn crafted_tokens_expiry_key_confusion_unknown_kid_and_rotation() {
    let first = TestKey::generate("first");
    let (stub, jwks_uri) = JwksStub::start(&[&first]).await;
    let cooldown = Duration::from_secs(2);
    let config = std::env::temp_dir().join(format!("webhook-api-stub-{}.yaml", uuid_suffix()));
    std::fs::write(
        &config,
        format!(
            "pools:\n  - issuer: {STUB_ISSUER}\n    jwksUri: {jwks_uri}\n    clientIds: [{STUB_CLIENT}]\nrevokedOriginJtis: [session-revoked]\n"
        ),
    )
    .expect("write config");
    let service = Service::start(&[
        "--config",
        config.to_str().expect("UTF-8 path"),
        "--jwks-cooldown-seconds",
        &cooldown.as_secs().to_string(),
    ])
    .await;
    service.wait_ready().await;
    assert_eq!(stub.fetches(), 1, "keys are fetched once before ready");

    let now = unix_now();
    let valid = first.sign("first", &access_claims(STUB_ISSUER, now + 600));
    assert_eq!(
        service.get("/api/me", Some(&valid)).await.status(),
        StatusCode::OK
    );

    // Both Cognito issuer forms name the same pool.
    let newer_form = STUB_ISSUER.replace("https://cognito-idp.", "https://issuer-cognito-idp.");
    let newer = first.sign("first", &access_claims(&newer_form, now + 600));
    assert_eq!(
        service.get("/api/me", Some(&newer)).await.status(),
        StatusCode::OK
    );

    let expired = first.sign("first", &access_claims(STUB_ISSUER, now - 120));
    assert_invalid(
        service.get("/api/me", Some(&expired)).await,
        "token expired",
        &expired,
    )
    .await;
    let mut early = access_claims(STUB_ISSUER, now + 600);
    early["nbf"] = json!(now + 600);
    let early = first.sign("first", &early);
    assert_invalid(
        service.get("/api/me", Some(&early)).await,
        "token not yet valid",
        &early,
    )
    .await;
    let mut without_exp = access_claims(STUB_ISSUER, now);
    without_exp
        .as_object_mut()
        .map(|claims| claims.remove("exp"));
    let without_exp = first.sign("first", &without_exp);
    assert_invalid(
        service.get("/api/me", Some(&without_exp)).await,
        "malformed token",
        &without_exp,
    )
    .await;
    let mut revoked = access_claims(STUB_ISSUER, now + 600);
    revoked["origin_jti"] = json!("session-revoked");
    let revoked = first.sign("first", &revoked);
    assert_invalid(
        service.get("/api/me", Some(&revoked)).await,
        "token revoked",
        &revoked,
    )
    .await;
    let foreign = first.sign(
        "first",
        &access_claims(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other",
            now + 600,
        ),
    );
    assert_invalid(
        service.get("/api/me", Some(&foreign)).await,
        "untrusted issuer",
        &foreign,
    )
    .await;
    let confused = first.forge_hs256(&access_claims(STUB_ISSUER, now + 600));
    assert_invalid(
        service.get("/api/me", Some(&confused)).await,
        "unsupported algorithm",
        &confused,
    )
    .await;
    assert_eq!(stub.fetches(), 1, "no check so far needed a refetch");

    // Unknown kid after the cool-down: exactly one refetch, then refusals without
    // fetching, even for a burst of made-up kids.
    tokio::time::sleep(cooldown + Duration::from_millis(200)).await;
    let unknown = first.sign("made-up", &access_claims(STUB_ISSUER, now + 600));
    assert_invalid(
        service.get("/api/me", Some(&unknown)).await,
        "unknown signing key",
        &unknown,
    )
    .await;
    assert_eq!(stub.fetches(), 2);
    let burst = (0..40).map(|n| {
        let token = first.sign(
            &format!("made-up-{n}"),
            &access_claims(STUB_ISSUER, now + 600),
        );
        let service = &service;
        async move { service.get("/api/me", Some(&token)).await.status() }
    });
    let statuses = futures_join_all(burst).await;
    assert!(
        statuses
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        stub.fetches(),
        2,
        "refusals during the cool-down do not fetch"
    );

    // Key rotation: a token from the new key is refused until the cool-down allows a
    // refetch, then accepted after exactly one more fetch.
    let second = TestKey::generate("second");
    stub.serve_keys(&[&first, &second]);
    let rotated = second.sign("second", &access_claims(STUB_ISSUER, now + 600));
    assert_invalid(
        service.get("/api/me", Some(&rotated)).await,
        "unknown signing key",
        &rotated,
    )
    .await;
    tokio::time::sleep(cooldown + Duration::from_millis(200)).await;
    let concurrent = (0..8).map(|_| {
        let service = &service;
        let rotated = &rotated;
        async move { service.get("/api/me", Some(rotated)).await.status() }
    });
    let statuses = futures_join_all(concurrent).await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        stub.fetches(),
        3,
        "concurrent refetches are merged into one"
    );
    let metrics = service.metrics().await;
    assert_eq!(
        metric(&metrics, r#"webhook_api_jwks_fetches_total{result="ok"}"#),
        3.0,
        "{metrics}"
    );
    let _ = std::fs::remove_file(config);
}

/// Runs futures concurrently on this task (no extra dependency for `join_all`).
async fn futures_join_all<F: std::future::Future<Output = StatusCode>>(
    futures: impl Iterator<Item = F>,
) -> Vec<StatusCode> {
    let handles: Vec<_> = futures.map(Box::pin).collect();
    let mut results = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for slot in pending.iter_mut() {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(status) => {
                        results.push(status);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results
}

#[tokio::test]
async fn keys_unreachable_keep_the_service_unready() {
    let service = Service::start(&[
        "--pools",
        &pools_arg(&[(STUB_ISSUER, "http://127.0.0.1:9/jwks.json", &[STUB_CLIENT])]),
    ])
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        service.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(service.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn signup_creates_a_user_who_can_sign_in() {
    let pool = EmulatorPool::create(&format!("signup-{}", uuid_suffix())).await;
    let service = Service::start(&[
        "--signup-user-pool-id",
        &pool.pool_id,
        "--signup-per-minute",
        "3",
    ])
    .await;
    let user = email("signup");
    let request = json!({"email": user, "password": PASSWORD});

    let created = service.post_json("/signup", &request).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let tokens = pool.sign_in(&user, PASSWORD).await;
    assert!(!tokens.access_token.is_empty());

    let again = service.post_json("/signup", &request).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let body = again.text().await.expect("body");
    assert!(
        !body.contains(&user),
        "a 409 reveals nothing about the account: {body}"
    );

    let malformed = service
        .http
        .post(format!("{}/signup", service.base))
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"email": "x@example.com", "password": 12345678}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert!(!malformed.text().await.expect("body").contains("12345678"));

    // The fourth request from this address within a minute is refused.
    let limited = service
        .post_json(
            "/signup",
            &json!({"email": email("limited"), "password": PASSWORD}),
        )
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn trigger_sink_returns_the_event_unmodified() {
    let state = state(&["--trigger-secret", "trigger-s3cret"]).await;
    // Deliberately odd spacing and key order: the answer must be these very bytes.
    let event = br#"{"version":"1", "triggerSource":"PreSignUp_SignUp","region":"us-east-1",
        "userPoolId":"us-east-1_x","userName":"alice","callerContext":{"awsSdkVersion":"1","clientId":"c"},
        "request":{"userAttributes":{"email":"alice@example.com"},"password":"hunter2-secret","validationData":null},
        "response":{"autoConfirmUser":false,"autoVerifyEmail":false,"autoVerifyPhone":false}}"#;
    let call = |secret: Option<&'static str>, body: &'static [u8]| {
        let mut request = Request::post("/triggers").header("content-type", "application/json");
        if let Some(secret) = secret {
            request = request.header("x-trigger-secret", secret);
        }
        app(state.clone()).oneshot(request.body(Body::from(body)).expect("request"))
    };

    let response = call(Some("trigger-s3cret"), event)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let returned = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    assert_eq!(&returned[..], &event[..]);
    let parsed: Value = serde_json::from_slice(&returned).expect("JSON");
    assert_eq!(
        parsed,
        serde_json::from_slice::<Value>(event).expect("JSON")
    );

    for wrong in [None, Some("trigger-s3cre"), Some("trigger-s3cret2")] {
        let response = call(wrong, event).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
    }
    let response = call(Some("trigger-s3cret"), b"{not json")
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Same over a real socket.
    let service = Service::serve(state.clone()).await;
    let response = service
        .http
        .post(format!("{}/triggers", service.base))
        .header("x-trigger-secret", "trigger-s3cret")
        .body(&event[..])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(&response.bytes().await.expect("body")[..], &event[..]);
}

#[tokio::test]
async fn pools_are_discovered_from_user_pool_status() {
    let namespace = TestNamespace::create("webhook-discovery");
    let (pool, user) = pool_with_user("discovered").await;
    let tokens = pool.sign_in(&user, PASSWORD).await;

    webhook_api::install_crypto_provider();
    let state = state(&["--discover-user-pools"]).await;
    state.spawn_background();
    state.spawn_discovery(kube_client().await, Some(namespace.name().to_owned()));
    let service = Service::serve(state).await;
    service.wait_ready().await;
    assert_invalid(
        service.get("/api/me", Some(&tokens.access_token)).await,
        "untrusted issuer",
        &tokens.access_token,
    )
    .await;

    let manifest = format!(
        "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: UserPool\nmetadata:\n  name: discovered\n  namespace: {}\nspec: {{}}\n",
        namespace.name()
    );
    kubectl_with_stdin(&["apply", "-f", "-"], &manifest)
        .run()
        .expect_success("apply UserPool");
    let status = json!({"status": {
        "issuer": pool.issuer(),
        "jwksUri": pool.jwks_uri(),
        "userPoolId": pool.pool_id,
        "clients": [{"name": "app", "clientId": pool.client_id}],
    }});
    kubectl(&[
        "patch",
        "userpool",
        "discovered",
        "-n",
        namespace.name(),
        "--subresource=status",
        "--type=merge",
        "-p",
    ])
    .arg(status.to_string())
    .run()
    .expect_success("patch UserPool status");

    let accepted = wait_for_status(&service, &tokens.access_token, StatusCode::OK).await;
    assert!(accepted, "the discovered pool's tokens are accepted");

    // A pool discovered later whose keys cannot be fetched: the service stays ready.
    let failed_fetches = || async {
        let metrics = service
            .get("/metrics", None)
            .await
            .text()
            .await
            .expect("metrics");
        metrics
            .lines()
            .filter(|line| {
                line.starts_with("webhook_api_jwks_fetches_total{") && line.contains("error")
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let failed_before = failed_fetches().await;
    let unreachable = manifest.replace("name: discovered", "name: unreachable");
    kubectl_with_stdin(&["apply", "-f", "-"], &unreachable)
        .run()
        .expect_success("apply a second UserPool");
    let unreachable_status = json!({"status": {
        "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_unreachable",
        "jwksUri": "http://127.0.0.1:9/jwks.json",
        "userPoolId": "us-east-1_unreachable",
        "clients": [{"name": "app", "clientId": "unreachable-client"}],
    }});
    kubectl(&[
        "patch",
        "userpool",
        "unreachable",
        "-n",
        namespace.name(),
        "--subresource=status",
        "--type=merge",
        "-p",
    ])
    .arg(unreachable_status.to_string())
    .run()
    .expect_success("patch the second UserPool's status");
    let mut tried = false;
    for _ in 0..100 {
        if failed_fetches().await > failed_before {
            tried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tried, "the unreachable pool's keys were never fetched");
    assert_eq!(service.get("/readyz", None).await.status(), StatusCode::OK);
    assert_eq!(
        service
            .get("/api/me", Some(&tokens.access_token))
            .await
            .status(),
        StatusCode::OK
    );

    kubectl(&["delete", "userpool", "discovered", "-n", namespace.name()])
        .run()
        .expect_success("delete UserPool");
    let refused = wait_for_status(&service, &tokens.access_token, StatusCode::UNAUTHORIZED).await;
    assert!(refused, "a deleted pool is no longer trusted");
}

async fn wait_for_status(service: &Service, token: &str, wanted: StatusCode) -> bool {
    for _ in 0..100 {
        if service.get("/api/me", Some(token)).await.status() == wanted {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
