//! Client-secret rotation end to end: a rotation requested by annotation publishes a new
//! secret with the old one as previous, both work during the grace period, the old one
//! is deleted after it (also by an operator restarted in between), and a secret whose
//! add was interrupted is cleaned up. Against the real control plane and the emulator.

use std::collections::BTreeMap;

use base64::Engine;
use cognito_operator_tests::{
    EmulatorPool, OperatorNamespace, kubectl,
    objects::user_pool_manifest,
    wait::{TIMEOUT, poll, until},
};
use k8s_openapi::{ByteString, jiff::Timestamp};

const PASSWORD: &str = "Rotate-me-1!";

fn spec(grace_minutes: u32) -> String {
    format!(
        "  clients: [{{name: backend, generateSecret: true, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH], secretRotation: {{gracePeriodMinutes: {grace_minutes}}}}}]\n"
    )
}

type Data = BTreeMap<String, ByteString>;

fn text(data: &Data, key: &str) -> Option<String> {
    data.get(key)
        .map(|v| String::from_utf8(v.0.clone()).expect("UTF-8"))
}

async fn connection(t: &OperatorNamespace) -> Data {
    t.secrets
        .get("s-cognito")
        .await
        .expect("connection Secret")
        .data
        .unwrap_or_default()
}

async fn listed_ids(pool: &EmulatorPool) -> Vec<String> {
    pool.cognito
        .list_user_pool_client_secrets()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.client_id)
        .send()
        .await
        .expect("ListUserPoolClientSecrets")
        .client_secrets()
        .iter()
        .filter_map(|s| s.client_secret_id().map(str::to_owned))
        .collect()
}

/// Whether a refresh through the client with `secret` in its SECRET_HASH succeeds.
async fn refreshes_with(pool: &EmulatorPool, username: &str, refresh: &str, secret: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{username}{}", pool.client_id).as_bytes());
    let hash = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
    pool.cognito
        .initiate_auth()
        .client_id(&pool.client_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::RefreshTokenAuth)
        .auth_parameters("REFRESH_TOKEN", refresh)
        .auth_parameters("SECRET_HASH", hash)
        .send()
        .await
        .map_err(|e| eprintln!("refresh refused: {e:?}"))
        .is_ok()
}

/// A user of the pool and a refresh token of theirs, with the Cognito user name the
/// SECRET_HASH is computed over.
async fn session(pool: &EmulatorPool) -> (String, String) {
    pool.add_confirmed_user("rotation@example.com", PASSWORD)
        .await;
    let username = "rotation@example.com".to_owned();
    let tokens = pool
        .password_auth(&pool.client_id, "rotation@example.com", PASSWORD)
        .await
        .expect("sign-in");
    (
        username,
        tokens.refresh_token().expect("refresh token").to_owned(),
    )
}

/// Annotates the UserPool `s` with `key` = `value`.
fn annotate(t: &OperatorNamespace, key: &str, value: &str) {
    let annotation = format!("{key}={value}");
    kubectl(&[
        "annotate",
        "--overwrite",
        "-n",
        t.name(),
        "userpool",
        "s",
        &annotation,
    ])
    .run()
    .expect_success("annotate");
}

fn request_rotation(t: &OperatorNamespace) {
    let now = Timestamp::now().to_string();
    annotate(t, cognito_crds::ROTATE_CLIENT_SECRETS_ANNOTATION, &now);
}

#[tokio::test]
async fn rotation_keeps_both_secrets_valid_for_the_grace_period_then_retires_the_old_one() {
    let (mut t, pool) = OperatorNamespace::start_with_pool("rotate", &[], "s", &spec(60)).await;
    let adopted = poll(
        "the client's secret published with its id",
        TIMEOUT,
        || async {
            let data = connection(&t).await;
            Some((
                text(&data, "backend.clientSecretId")?,
                text(&data, "backend.clientSecret")?,
            ))
        },
    )
    .await;
    let (old_id, old_value) = adopted;
    let (username, refresh) = session(&pool).await;
    assert!(refreshes_with(&pool, &username, &refresh, &old_value).await);

    request_rotation(&t);
    let rotated = poll("a new secret published", TIMEOUT, || async {
        let data = connection(&t).await;
        let id = text(&data, "backend.clientSecretId")?;
        (id != old_id).then_some(data)
    })
    .await;
    let new_id = text(&rotated, "backend.clientSecretId").expect("new id");
    let new_value = text(&rotated, "backend.clientSecret").expect("new value");
    assert_eq!(
        text(&rotated, "backend.previousClientSecret"),
        Some(old_value.clone())
    );
    assert_eq!(
        text(&rotated, "backend.previousClientSecretId"),
        Some(old_id.clone())
    );
    let mut ids = listed_ids(&pool).await;
    ids.sort();
    let mut expected = vec![old_id.clone(), new_id.clone()];
    expected.sort();
    assert_eq!(
        ids, expected,
        "Cognito holds exactly the two published secrets"
    );
    assert!(refreshes_with(&pool, &username, &refresh, &old_value).await);
    assert!(refreshes_with(&pool, &username, &refresh, &new_value).await);

    // An operator that restarts during the grace period finishes the rotation.
    t.restart_operator(&[]);
    t.ns.apply(&user_pool_manifest("s", &spec(0)));
    until("the old secret deleted after the grace period", || async {
        listed_ids(&pool).await == [new_id.clone()]
    })
    .await;
    let retired = connection(&t).await;
    assert_eq!(
        text(&retired, "backend.clientSecret"),
        Some(new_value.clone())
    );
    assert!(!retired.contains_key("backend.previousClientSecret"));
    assert!(!refreshes_with(&pool, &username, &refresh, &old_value).await);
    assert!(refreshes_with(&pool, &username, &refresh, &new_value).await);

    let events = t.ns.events();
    for reason in ["ClientSecretRotated", "ClientSecretRetired"] {
        assert!(events.contains(reason), "no {reason} Event:\n{events}");
    }
    let status = kubectl(&["get", "userpool", "s", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get");
    for (place, text) in [
        ("status", status),
        ("events", events),
        ("operator log", t.operator.log_text()),
    ] {
        for value in [&old_value, &new_value] {
            assert!(
                !text.contains(value.as_str()),
                "a client secret leaked into the {place}"
            );
        }
    }
}

#[tokio::test]
async fn a_secret_added_but_never_published_is_deleted() {
    let (t, pool) = OperatorNamespace::start_with_pool("rotate-lost", &[], "s", &spec(60)).await;
    let published = poll(
        "the client's secret published with its id",
        TIMEOUT,
        || async { text(&connection(&t).await, "backend.clientSecretId") },
    )
    .await;

    // What an operator killed right after AddUserPoolClientSecret leaves behind.
    pool.cognito
        .add_user_pool_client_secret()
        .user_pool_id(&pool.pool_id)
        .client_id(&pool.client_id)
        .send()
        .await
        .expect("AddUserPoolClientSecret");
    assert_eq!(listed_ids(&pool).await.len(), 2);
    let now = Timestamp::now().to_string();
    annotate(&t, cognito_crds::RECONCILE_REQUEST_ANNOTATION, &now);

    until("the unpublished secret deleted", || async {
        listed_ids(&pool).await == [published.clone()]
    })
    .await;
    assert_eq!(
        text(&connection(&t).await, "backend.clientSecretId"),
        Some(published)
    );
    assert!(t.ns.events().contains("ClientSecretCleanedUp"));
}

#[tokio::test]
async fn a_rotation_request_in_the_future_is_refused() {
    let (t, pool) = OperatorNamespace::start_with_pool("rotate-future", &[], "s", &spec(60)).await;
    annotate(
        &t,
        cognito_crds::ROTATE_CLIENT_SECRETS_ANNOTATION,
        "2999-01-01T00:00:00Z",
    );
    until("a Warning about the request", || async {
        t.ns.events().contains("RotationRequestRefused")
    })
    .await;
    assert_eq!(listed_ids(&pool).await.len(), 1, "nothing was rotated");
}

#[tokio::test]
async fn a_secret_older_than_its_interval_is_rotated_by_schedule_once() {
    // The emulator dates the client's first secret 91 days back (an emulator control).
    let spec = "  tags: {emulator/client-secret-age-days: '91'}\n  clients: [{name: backend, generateSecret: true, secretRotation: {intervalDays: 90}}]\n";
    let (t, pool) = OperatorNamespace::start_with_pool("rotate-schedule", &[], "s", spec).await;
    let rotated = poll("a scheduled rotation", TIMEOUT, || async {
        let data = connection(&t).await;
        text(&data, "backend.previousClientSecretId").map(|_| data)
    })
    .await;
    let new_id = text(&rotated, "backend.clientSecretId").expect("new id");
    assert_eq!(listed_ids(&pool).await.len(), 2);
    let events = t.ns.events();
    assert!(events.contains("intervalDays 90"), "{events}");

    // The new secret is not due: another look at the pool rotates nothing.
    let now = Timestamp::now().to_string();
    annotate(&t, cognito_crds::RECONCILE_REQUEST_ANNOTATION, &now);
    until("the request handled", || async {
        t.pools
            .get("s")
            .await
            .ok()
            .and_then(|p| p.status)
            .and_then(|s| s.last_handled_reconcile_at)
            .is_some_and(|handled| handled == now)
    })
    .await;
    assert_eq!(
        text(&connection(&t).await, "backend.clientSecretId"),
        Some(new_id)
    );
    assert_eq!(
        listed_ids(&pool).await.len(),
        2,
        "still in its grace period"
    );
}
