//! webhook-api's key handling end to end, with tokens signed by test keys that a local
//! JWKS stub serves (moto's key is static, so expiry, an unknown `kid` and key rotation
//! need our own): claims checks, the key-confusion forgery, the refetch cool-down and
//! concurrent refetches merged into one.

mod signing;

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use cognito_operator_tests::{ConfigFile, WebhookApi, unix_now, wait};
use reqwest::StatusCode;
use serde_json::{Value, json};
use signing::{JwksStub, TestKey};

const STUB_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_stub";
const STUB_CLIENT: &str = "stub-client";

/// HS256 keyed with `key`'s public half: the classic key-confusion forgery.
fn forge_hs256(key: &TestKey, claims: &Value) -> String {
    let header = json!({"alg": "HS256", "kid": key.kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.pair.public().as_ref());
    let tag = ring::hmac::sign(&hmac, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// When `stub`'s keys were fetched last.
fn last_fetch(stub: &JwksStub) -> Instant {
    *stub
        .fetched_at
        .lock()
        .expect("lock")
        .last()
        .expect("fetched at least once")
}

fn access_claims(issuer: &str, exp: u64) -> Value {
    json!({
        "iss": issuer, "sub": "stub-user", "token_use": "access", "client_id": STUB_CLIENT,
        "username": "stub-user", "exp": exp, "iat": unix_now(), "origin_jti": "session-ok",
    })
}

#[tokio::test]
async fn crafted_tokens_expiry_key_confusion_unknown_kid_and_rotation() {
    let first = TestKey::generate("first");
    let (stub, jwks_uri) = JwksStub::start(&[&first]).await;
    let cooldown = Duration::from_secs(2);
    let config = ConfigFile::write(&format!(
        "pools:\n  - issuer: {STUB_ISSUER}\n    jwksUri: {jwks_uri}\n    clientIds: [{STUB_CLIENT}]\nrevokedOriginJtis: [session-revoked]\n"
    ));
    let service = WebhookApi::start(&[
        "--config",
        config.path(),
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
    service
        .refuses("/api/me", Some(&expired), "token expired")
        .await;
    let mut early = access_claims(STUB_ISSUER, now + 600);
    early["nbf"] = json!(now + 600);
    let early = first.sign("first", &early);
    service
        .refuses("/api/me", Some(&early), "token not yet valid")
        .await;
    let mut without_exp = access_claims(STUB_ISSUER, now);
    without_exp
        .as_object_mut()
        .map(|claims| claims.remove("exp"));
    let without_exp = first.sign("first", &without_exp);
    service
        .refuses("/api/me", Some(&without_exp), "malformed token")
        .await;
    let mut revoked = access_claims(STUB_ISSUER, now + 600);
    revoked["origin_jti"] = json!("session-revoked");
    let revoked = first.sign("first", &revoked);
    service
        .refuses("/api/me", Some(&revoked), "token revoked")
        .await;
    let foreign = first.sign(
        "first",
        &access_claims(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other",
            now + 600,
        ),
    );
    service
        .refuses("/api/me", Some(&foreign), "untrusted issuer")
        .await;
    let confused = forge_hs256(&first, &access_claims(STUB_ISSUER, now + 600));
    service
        .refuses("/api/me", Some(&confused), "unsupported algorithm")
        .await;
    assert_eq!(stub.fetches(), 1, "no check so far needed a refetch");

    // Unknown kid: refused without fetching while the cool-down since the last fetch
    // runs, then exactly one refetch once it has passed (the refetch is what shows it),
    // then refusals without fetching, even for a burst of made-up kids.
    let unknown = first.sign("made-up", &access_claims(STUB_ISSUER, now + 600));
    let fetched = last_fetch(&stub);
    wait::until(
        "a refetch for an unknown kid after the cool-down",
        || async {
            service
                .refuses("/api/me", Some(&unknown), "unknown signing key")
                .await;
            stub.fetches() > 1
        },
    )
    .await;
    assert_eq!(stub.fetches(), 2);
    assert!(
        last_fetch(&stub) - fetched >= cooldown,
        "refetched within the cool-down"
    );
    let burst = (0..40).map(|n| {
        let token = first.sign(
            &format!("made-up-{n}"),
            &access_claims(STUB_ISSUER, now + 600),
        );
        let service = &service;
        async move { service.get("/api/me", Some(&token)).await.status() }
    });
    let statuses = futures::future::join_all(burst).await;
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
    service
        .refuses("/api/me", Some(&rotated), "unknown signing key")
        .await;
    // The concurrent requests below must be the first after the cool-down, so nothing
    // may probe for its end: the one wait on the clock, until the window that the last
    // fetch opened has passed.
    let window_end = last_fetch(&stub) + cooldown + Duration::from_millis(200);
    tokio::time::sleep_until(window_end.into()).await;
    let concurrent = (0..8).map(|_| {
        let service = &service;
        let rotated = &rotated;
        async move { service.get("/api/me", Some(rotated)).await.status() }
    });
    let statuses = futures::future::join_all(concurrent).await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        stub.fetches(),
        3,
        "concurrent refetches are merged into one"
    );
    assert_eq!(
        service
            .metric_sum("webhook_api_jwks_fetches_total", r#"result="ok""#)
            .await,
        3.0,
        "{}",
        service.metrics().await
    );
}
