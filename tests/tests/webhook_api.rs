//! webhook-api end to end: real tokens from the emulator (`InitiateAuth`) on each route,
//! verified e-mail only in identity headers, unreachable keys, sign-up (and a retry
//! that finishes only its own half-made user), the trigger sink, `/metrics` on its own
//! port, and pool discovery on the real API server.
//! (webhook_api_keys.rs: crafted tokens, the cool-down and key rotation; tenant_gate.rs:
//! attacks on the gate.)

use aws_sdk_cognitoidentityprovider::{
    error::ProvideErrorMetadata,
    types::{
        AttributeDataType, AttributeType, AuthFlowType, ChallengeNameType, ExplicitAuthFlowsType,
        MessageActionType, SchemaAttributeType, UserStatusType,
    },
};
use axum::{body::Body, http::Request};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use cognito_crds::user_provisioning::{NewUser, create_suppressed};
use cognito_operator_tests::{
    ConfigFile, EmulatorPool, TestNamespace, WebhookApi, kubectl, objects::manifest, trusting,
    unique, wait, webhook_state,
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use webhook_api::app;

const PASSWORD: &str = "Correct-Horse-Battery-9";
const STUB_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_stub";
const STUB_CLIENT: &str = "stub-client";

fn pools_arg(pools: &[(&str, &str, &[&str])]) -> String {
    let pools: Vec<Value> = pools
        .iter()
        .map(|(issuer, jwks_uri, clients)| {
            json!({"issuer": issuer, "jwksUri": jwks_uri, "clientIds": clients})
        })
        .collect();
    Value::from(pools).to_string()
}

/// The value of one sample in a Prometheus text exposition (0 when absent).
fn metric(exposition: &str, sample: &str) -> f64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn email(prefix: &str) -> String {
    format!("{}@example.com", unique(prefix))
}

async fn pool_with_user(name: &str) -> (EmulatorPool, String) {
    let pool = EmulatorPool::create(&unique(name)).await;
    let user = email(name);
    pool.add_confirmed_user(&user, PASSWORD).await;
    (pool, user)
}

#[tokio::test]
async fn emulator_tokens_are_checked_per_route() {
    let (pool, user) = pool_with_user("routes").await;
    let group = "admins";
    pool.create_group(group).await;
    pool.add_to_group(&user, group).await;
    pool.set_attribute(&user, "email_verified", "true").await;
    let tokens = pool.sign_in(&user, PASSWORD).await;
    let other_client = pool.add_client("not-allowed").await;
    let other_client_tokens = pool.sign_in_with(&other_client, &user, PASSWORD).await;
    let (other_pool, other_user) = pool_with_user("untrusted").await;
    let untrusted = other_pool.sign_in(&other_user, PASSWORD).await;

    let issuer = pool.issuer();
    let jwks_uri = pool.jwks_uri();
    let service = WebhookApi::start(&[
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
    service
        .refuses(
            "/api/me",
            Some(&tokens.id_token),
            "wrong token_use for this route",
        )
        .await;
    service
        .refuses(
            "/auth",
            Some(&tokens.access_token),
            "wrong token_use for this route",
        )
        .await;
    service
        .refuses("/api/me", None, "missing bearer token")
        .await;

    // Tampered signature, tampered payload.
    let (signed, signature) = tokens.access_token.rsplit_once('.').expect("three parts");
    let mut signature_bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
    signature_bytes[10] ^= 0x01;
    let tampered = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&signature_bytes));
    service
        .refuses("/api/me", Some(&tampered), "invalid signature")
        .await;
    let mut parts: Vec<String> = tokens.access_token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64url"))
            .expect("JSON");
    claims["cognito:groups"] = json!(["admins", "superusers"]);
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = parts.join(".");
    service
        .refuses("/api/me", Some(&forged), "invalid signature")
        .await;

    // Wrong issuer (a pool nobody configured) and wrong client.
    service
        .refuses("/api/me", Some(&untrusted.access_token), "untrusted issuer")
        .await;
    service
        .refuses(
            "/api/me",
            Some(&other_client_tokens.access_token),
            "client not allowed",
        )
        .await;

    // alg "none" with the real claims and no signature.
    let header_none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy"}"#);
    let unsigned = format!("{header_none}.{}.", parts[1]);
    service
        .refuses("/api/me", Some(&unsigned), "unsupported algorithm")
        .await;
    let unsigned_with_sig = format!("{header_none}.{}.{signature}", parts[1]);
    service
        .refuses("/api/me", Some(&unsigned_with_sig), "unsupported algorithm")
        .await;

    // A repeated token is served from the verified-token cache; metrics are on their
    // own listener, not on the public port.
    service.get("/api/me", Some(&tokens.access_token)).await;
    assert_eq!(
        service.get("/metrics", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let metrics = service.metrics().await;
    assert!(
        metric(&metrics, "webhook_api_token_cache_hits_total") >= 1.0,
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"webhook_api_requests_total{route="/api/me",outcome="unauthorized"}"#)
    );

    // A route that requires a group the user lacks answers 403, not 401.
    let config = ConfigFile::write(&format!(
        "pools:\n  - issuer: {issuer}\n    jwksUri: {jwks_uri}\n    clientIds: [{}]\nroutes:\n  api:\n    tokenUse: access\n    requiredGroups: [auditors]\n",
        pool.client_id
    ));
    let strict = WebhookApi::start(&["--config", config.path()]).await;
    strict.wait_ready().await;
    let forbidden = strict.get("/api/me", Some(&tokens.access_token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="insufficient_scope", error_description="a required group is missing""#
    );
}

#[tokio::test]
async fn keys_unreachable_keep_the_service_unready() {
    let service = WebhookApi::start(&[
        "--pools",
        &pools_arg(&[(STUB_ISSUER, "http://127.0.0.1:9/jwks.json", &[STUB_CLIENT])]),
    ])
    .await;
    wait::until("a failed fetch of the keys", || async {
        service.failed_key_fetches().await > 0.0
    })
    .await;
    assert_eq!(
        service.get("/readyz", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(service.get("/healthz", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn signup_creates_a_user_who_can_sign_in() {
    let pool = EmulatorPool::create(&unique("signup")).await;
    let service = WebhookApi::start(&[
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

/// The mark sign-up writes when it can finish users (the README's contract with the
/// admin who declares the attribute), spelled out rather than imported.
const SIGNUP_MARK: (&str, &str) = ("custom:created_by", "webhook-api/signup");

/// A sign-up pool set up as the README asks for finishing unfinished sign-ups: the
/// immutable custom attribute `created_by`, and an app client that allows
/// `ADMIN_USER_PASSWORD_AUTH` (returned).
async fn finishing_pool(name: &str) -> (EmulatorPool, String) {
    let pool = EmulatorPool::create(&unique(name)).await;
    let created_by = SchemaAttributeType::builder()
        .name("created_by")
        .attribute_data_type(AttributeDataType::String)
        .mutable(false)
        .build();
    pool.cognito
        .add_custom_attributes()
        .user_pool_id(&pool.pool_id)
        .custom_attributes(created_by)
        .send()
        .await
        .expect("AddCustomAttributes");
    let client = pool
        .cognito
        .create_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_name(unique("signup"))
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .send()
        .await
        .expect("CreateUserPoolClient");
    let client_id = client
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id")
        .to_owned();
    (pool, client_id)
}

/// A user in the state `create_user` leaves when its second call fails (and the AppUser
/// controller between its two calls): made by `AdminCreateUser` with `password` as the
/// temporary password, `FORCE_CHANGE_PASSWORD`.
async fn leave_unfinished(
    pool: &EmulatorPool,
    email: &str,
    attributes: &[(&str, &str)],
    password: &str,
) {
    let attributes = attributes
        .iter()
        .map(|(name, value)| {
            AttributeType::builder()
                .name(*name)
                .value(*value)
                .build()
                .expect("attribute")
        })
        .collect();
    let user = NewUser {
        username: email,
        attributes,
        password,
    };
    create_suppressed(&pool.cognito, &pool.pool_id, user)
        .await
        .expect("AdminCreateUser");
}

/// What Cognito makes of `password` for `email`.
#[derive(Debug, PartialEq, Eq)]
enum Password {
    /// The temporary password: `NEW_PASSWORD_REQUIRED`.
    Temporary,
    /// The permanent password: tokens.
    Permanent,
    /// Not the user's password.
    Wrong,
}

async fn password_of(
    pool: &EmulatorPool,
    client_id: &str,
    email: &str,
    password: &str,
) -> Password {
    let auth = pool
        .cognito
        .admin_initiate_auth()
        .user_pool_id(&pool.pool_id)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", password)
        .send()
        .await;
    match auth {
        Ok(auth) if auth.challenge_name() == Some(&ChallengeNameType::NewPasswordRequired) => {
            Password::Temporary
        }
        Ok(auth) if auth.authentication_result().is_some() => Password::Permanent,
        Ok(auth) => panic!("unexpected answer: {auth:?}"),
        Err(error) if error.code() == Some("NotAuthorizedException") => Password::Wrong,
        Err(error) => panic!("AdminInitiateAuth: {error:?}"),
    }
}

/// webhook-api signing up into `pool`, finishing unfinished sign-ups through `client_id`.
async fn finishing_service(pool: &EmulatorPool, client_id: &str) -> WebhookApi {
    WebhookApi::start(&[
        "--signup-user-pool-id",
        &pool.pool_id,
        "--signup-client-id",
        client_id,
    ])
    .await
}

async fn status_of(pool: &EmulatorPool, email: &str) -> Option<UserStatusType> {
    pool.user(email).await.expect("user").user_status().cloned()
}

#[tokio::test]
async fn signup_retry_finishes_a_user_an_earlier_signup_left_unfinished() {
    let (pool, client_id) = finishing_pool("unfinished").await;
    let service = finishing_service(&pool, &client_id).await;
    // The first sign-up's AdminCreateUser went through, its AdminSetUserPassword did not.
    let user = email("unfinished");
    leave_unfinished(&pool, &user, &[("email", &user), SIGNUP_MARK], PASSWORD).await;
    assert!(!pool.signs_in(&user, PASSWORD).await);

    // Someone else asking for the name (any other password) does not finish it.
    let other = json!({"email": user, "password": "Someone-Else-Pass-7"});
    let refused = service.post_json("/signup", &other).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(
        password_of(&pool, &client_id, &user, PASSWORD).await,
        Password::Temporary
    );

    // The caller's own retry does.
    let request = json!({"email": user, "password": PASSWORD});
    let retried = service.post_json("/signup", &request).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(
        status_of(&pool, &user).await,
        Some(UserStatusType::Confirmed)
    );
    let tokens = pool.sign_in(&user, PASSWORD).await;
    assert!(!tokens.access_token.is_empty());

    // Finished once: from now on the name is simply taken.
    let again = service.post_json("/signup", &request).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // Users this service creates carry the mark.
    let fresh = email("marked");
    let created = service
        .post_json("/signup", &json!({"email": fresh, "password": PASSWORD}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        pool.attribute(&fresh, SIGNUP_MARK.0).await.as_deref(),
        Some(SIGNUP_MARK.1)
    );
}

#[tokio::test]
async fn signup_never_finishes_a_user_it_did_not_make() {
    const APPUSER_PASSWORD: &str = "Appuser-Secret-Pass-4";
    const HANDED_OUT: &str = "Admin-Temporary-Pass-5";
    let (pool, client_id) = finishing_pool("not-signup").await;
    let service = finishing_service(&pool, &client_id).await;
    // The AppUser controller between its two calls: the Secret's password as the
    // temporary one, email_verified written.
    let appuser = email("appuser");
    let attributes = [("email", appuser.as_str()), ("email_verified", "true")];
    leave_unfinished(&pool, &appuser, &attributes, APPUSER_PASSWORD).await;
    // An admin by hand: a temporary password to hand over, the user to choose their own.
    let by_hand = email("by-hand");
    pool.cognito
        .admin_create_user()
        .user_pool_id(&pool.pool_id)
        .username(&by_hand)
        .temporary_password(HANDED_OUT)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    // An AppUser whose spec copies sign-up's mark (a spec may name any custom attribute).
    let copied = email("copied");
    let attributes = [("email", copied.as_str()), SIGNUP_MARK];
    leave_unfinished(&pool, &copied, &attributes, APPUSER_PASSWORD).await;

    // Refused with the caller's own password, and, for the unmarked users, even with
    // the temporary password itself.
    let attempts = [
        (&appuser, APPUSER_PASSWORD, PASSWORD),
        (&appuser, APPUSER_PASSWORD, APPUSER_PASSWORD),
        (&by_hand, HANDED_OUT, PASSWORD),
        (&by_hand, HANDED_OUT, HANDED_OUT),
        (&copied, APPUSER_PASSWORD, PASSWORD),
    ];
    for (user, temporary, password) in attempts {
        let answer = service
            .post_json("/signup", &json!({"email": user, "password": password}))
            .await;
        assert_eq!(answer.status(), StatusCode::CONFLICT, "{user}");
        assert_eq!(
            status_of(&pool, user).await,
            Some(UserStatusType::ForceChangePassword),
            "{user}"
        );
        assert_eq!(
            password_of(&pool, &client_id, user, temporary).await,
            Password::Temporary,
            "{user}"
        );
        assert_eq!(
            password_of(&pool, &client_id, user, PASSWORD).await,
            Password::Wrong,
            "{user}"
        );
    }
}

#[tokio::test]
async fn trigger_sink_returns_the_event_unmodified() {
    let state = webhook_state(&["--trigger-secret", "trigger-s3cret"]).await;
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
    let service = WebhookApi::serve(state.clone()).await;
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

/// Publishes a UserPool `name` in `namespace` whose status reports a pool with `issuer`,
/// `jwks_uri`, `pool_id` and one client `client_id`, as the operator would.
fn publish_pool(
    namespace: &TestNamespace,
    name: &str,
    (issuer, jwks_uri, pool_id, client_id): (&str, &str, &str, &str),
) {
    namespace.apply(&manifest("UserPool", name, ""));
    let status = json!({"status": {
        "issuer": issuer,
        "jwksUri": jwks_uri,
        "userPoolId": pool_id,
        "clients": [{"name": "app", "clientId": client_id}],
    }});
    kubectl(&[
        "patch",
        "userpool",
        name,
        "-n",
        namespace.name(),
        "--subresource=status",
        "--type=merge",
        "-p",
    ])
    .arg(status.to_string())
    .run()
    .expect_success("patch UserPool status");
}

#[tokio::test]
async fn pools_are_discovered_from_user_pool_status() {
    let namespace = TestNamespace::create("webhook-discovery");
    let (pool, user) = pool_with_user("discovered").await;
    let tokens = pool.sign_in(&user, PASSWORD).await;

    let service = WebhookApi::start(
        &WebhookApi::discovering(namespace.name())
            .each_ref()
            .map(String::as_str),
    )
    .await;
    service.wait_ready().await;
    service
        .refuses("/api/me", Some(&tokens.access_token), "untrusted issuer")
        .await;

    let (issuer, jwks_uri) = (pool.issuer(), pool.jwks_uri());
    publish_pool(
        &namespace,
        "discovered",
        (&issuer, &jwks_uri, &pool.pool_id, &pool.client_id),
    );
    service
        .wait_for_status(&tokens.access_token, StatusCode::OK, "the pool trusted")
        .await;

    namespace.delete("userpool", "discovered");
    service
        .wait_for_status(
            &tokens.access_token,
            StatusCode::UNAUTHORIZED,
            "a deleted pool no longer trusted",
        )
        .await;
}

#[tokio::test]
async fn ready_after_a_restart_with_a_discovered_pool_whose_keys_fail() {
    // A pool in an allowed namespace exists before webhook-api starts, and discovered
    // pools' keys are unreachable (an emulator endpoint where nothing listens).
    let namespace = TestNamespace::create("webhook-broken");
    let broken = "us-east-1_broken";
    let broken_issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{broken}");
    publish_pool(
        &namespace,
        "broken",
        (&broken_issuer, "", broken, "broken-client"),
    );
    let (pool, user) = pool_with_user("configured").await;
    let tokens = pool.sign_in(&user, PASSWORD).await;

    let pools = trusting(&pool);
    let service = WebhookApi::start(&[
        "--pools",
        &pools,
        "--discover-user-pools",
        "--discovery-namespaces",
        namespace.name(),
        "--cognito-emulator-endpoint",
        "http://127.0.0.1:9",
    ])
    .await;
    service.wait_ready().await;
    assert_eq!(
        service
            .get("/api/me", Some(&tokens.access_token))
            .await
            .status(),
        StatusCode::OK,
        "the other pools keep working"
    );
    let metrics = service.metrics().await;
    assert_eq!(
        metric(&metrics, "webhook_api_pools_without_keys"),
        1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn identity_headers_carry_only_a_verified_email() {
    let pool = EmulatorPool::create(&unique("verified")).await;
    let pools = trusting(&pool);
    let service =
        WebhookApi::start(&["--pools", &pools, "--signup-user-pool-id", &pool.pool_id]).await;
    service.wait_ready().await;

    // Signed up: the address is whatever the caller typed, so not verified.
    let user = email("typed");
    let created = service
        .post_json("/signup", &json!({"email": user, "password": PASSWORD}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_ne!(
        pool.attribute(&user, "email_verified").await.as_deref(),
        Some("true")
    );
    let tokens = pool.sign_in(&user, PASSWORD).await;
    let auth = service.get("/auth", Some(&tokens.id_token)).await;
    assert_eq!(auth.status(), StatusCode::OK);
    assert!(auth.headers().get("x-auth-request-email").is_none());
    assert!(auth.headers().get("x-auth-request-user").is_some());

    // Verified (by an admin, or Cognito's own verification): passed on.
    pool.set_attribute(&user, "email_verified", "true").await;
    let tokens = pool.sign_in(&user, PASSWORD).await;
    let auth = service.get("/auth", Some(&tokens.id_token)).await;
    assert_eq!(
        auth.headers()
            .get("x-auth-request-email")
            .and_then(|v| v.to_str().ok()),
        Some(user.as_str())
    );

    // An admin who verifies addresses otherwise can have sign-up mark them.
    let verifying = WebhookApi::start(&[
        "--signup-user-pool-id",
        &pool.pool_id,
        "--signup-email-verified",
    ])
    .await;
    let user = email("vouched");
    let created = verifying
        .post_json("/signup", &json!({"email": user, "password": PASSWORD}))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(
        pool.attribute(&user, "email_verified").await.as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn trigger_secret_is_checked_before_the_body_is_read() {
    // The secret as a mounted file gives it, with a newline nobody sends.
    let service = WebhookApi::start(&[
        "--trigger-secret",
        "trigger-s3cret\n",
        "--request-timeout-seconds",
        "60",
    ])
    .await;
    let address = service.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    // A wrong secret and a body announced but never sent: the answer cannot wait for it.
    stream
        .write_all(b"POST /triggers HTTP/1.1\r\nHost: x\r\nX-Trigger-Secret: wrong\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"partial\":")
        .await
        .expect("write");
    let mut answer = [0u8; 12];
    tokio::time::timeout(wait::TIMEOUT / 4, stream.read_exact(&mut answer))
        .await
        .expect("an answer before the body")
        .expect("read");
    assert_eq!(&answer, b"HTTP/1.1 401");

    let trimmed = service
        .http
        .post(format!("{}/triggers", service.base))
        .header("x-trigger-secret", "trigger-s3cret")
        .body(r#"{"triggerSource":"PreSignUp_SignUp"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(
        trimmed.status(),
        StatusCode::OK,
        "the loaded secret is trimmed"
    );
}
