//! Machine-to-machine tokens at webhook-api: an app client's own access token (OAuth
//! `client_credentials`: no user, `sub` = `client_id`, custom scopes) passes the routes
//! whose `caller` admits machines, with their `requiredScopes`, and no route written
//! for users; a user's token does not pass a machine route. First with crafted tokens
//! (every route and header), then with the emulator's token endpoint.

mod signing;

use aws_sdk_cognitoidentityprovider::types::{OAuthFlowType, ResourceServerScopeType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use cognito_operator_tests::{ConfigFile, EmulatorPool, WebhookApi, environment, unique, unix_now};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use signing::{JwksStub, TestKey};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const STUB_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_m2m";
const USER_CLIENT: &str = "user-client";
const MACHINE_CLIENT: &str = "machine-client";
const USER_ONLY: &str = "this route needs a signed-in user; machine tokens are refused";
const MACHINE_ONLY: &str = "this route is for app clients; user tokens are refused";
const MISSING_SCOPE: &str = "a required scope is missing";

/// Asserts that `path` answers `token` with 403 and the RFC 6750 `insufficient_scope`
/// challenge saying `description`.
async fn forbids(service: &WebhookApi, path: &str, token: &str, description: &str) {
    let response = service.get(path, Some(token)).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "{path}: {description}"
    );
    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        format!(r#"Bearer error="insufficient_scope", error_description="{description}""#),
        "{path}"
    );
}

/// GET `path` with `token`: 200 and the JSON body.
async fn json_of(service: &WebhookApi, path: &str, token: &str) -> Value {
    let response = service.get(path, Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("JSON")
}

/// The value of `name` in `response`'s headers, if any.
fn header_of(response: &reqwest::Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    Some(value.to_str().expect("ASCII header").to_owned())
}

/// The claims of a client_credentials access token as Cognito writes them.
fn machine_claims(scope: &str) -> Value {
    json!({
        "iss": STUB_ISSUER, "sub": MACHINE_CLIENT, "client_id": MACHINE_CLIENT,
        "token_use": "access", "scope": scope, "version": 2,
        "exp": unix_now() + 600, "iat": unix_now(), "jti": "m2m-1",
    })
}

/// The claims of a user's access token.
fn user_claims() -> Value {
    json!({
        "iss": STUB_ISSUER, "sub": "7d1f-user", "client_id": USER_CLIENT,
        "token_use": "access", "username": "alice", "scope": "aws.cognito.signin.user.admin",
        "cognito:groups": ["staff"], "exp": unix_now() + 600, "iat": unix_now(),
    })
}

/// webhook-api trusting the stub pool (both clients) with `routes` (YAML lines).
async fn stub_service(jwks_uri: &str, routes: &str) -> (WebhookApi, ConfigFile) {
    let config = ConfigFile::write(&format!(
        "pools:\n  - issuer: {STUB_ISSUER}\n    jwksUri: {jwks_uri}\n    clientIds: [{USER_CLIENT}, {MACHINE_CLIENT}]\n{routes}"
    ));
    let service = WebhookApi::start(&["--config", config.path()]).await;
    service.wait_ready().await;
    (service, config)
}

#[tokio::test]
async fn crafted_machine_tokens_pass_machine_routes_only() {
    let key = TestKey::generate("m2m");
    let (stub, jwks_uri) = JwksStub::start(&[&key]).await;
    let machine = key.sign("m2m", &machine_claims("orders/read"));
    let user = key.sign("m2m", &user_claims());

    // Defaults: /api/machine admits app clients with any scopes, /api/me users only,
    // /auth id tokens (so users) only.
    let (service, _config) = stub_service(&jwks_uri, "").await;
    assert_eq!(stub.fetches(), 1, "keys fetched once before ready");
    let answer = json_of(&service, "/api/machine", &machine).await;
    assert_eq!(
        answer,
        json!({"clientId": MACHINE_CLIENT, "scopes": ["orders/read"]})
    );
    forbids(&service, "/api/me", &machine, USER_ONLY).await;
    forbids(&service, "/api/machine", &user, MACHINE_ONLY).await;
    service
        .refuses("/auth", Some(&machine), "wrong token_use for this route")
        .await;
    assert_eq!(
        json_of(&service, "/api/me", &user).await["username"],
        "alice"
    );

    // A token that names no user and whose sub is not its client passes nowhere.
    let mut stray = machine_claims("orders/read");
    stray["sub"] = json!("7d1f-user");
    let stray = key.sign("m2m", &stray);
    for path in ["/api/me", "/api/machine"] {
        service
            .refuses(
                path,
                Some(&stray),
                "token names neither a user nor a client",
            )
            .await;
    }

    // Scopes on the machine route; /auth open to both kinds of caller, each named in
    // its own header.
    let routes = "routes:\n  machine: {tokenUse: access, requiredScopes: [orders/read]}\n  forwardAuth: {tokenUse: access, caller: any}\n";
    let (service, _config) = stub_service(&jwks_uri, routes).await;
    assert_eq!(
        json_of(&service, "/api/machine", &machine).await["clientId"],
        MACHINE_CLIENT
    );
    let write_only = key.sign("m2m", &machine_claims("orders/write"));
    forbids(&service, "/api/machine", &write_only, MISSING_SCOPE).await;

    let auth = service.get("/auth", Some(&machine)).await;
    assert_eq!(auth.status(), StatusCode::OK);
    assert_eq!(
        header_of(&auth, "x-auth-request-client").as_deref(),
        Some(MACHINE_CLIENT)
    );
    assert_eq!(header_of(&auth, "x-auth-request-user"), None);
    let auth = service.get("/auth", Some(&user)).await;
    assert_eq!(auth.status(), StatusCode::OK);
    assert_eq!(
        header_of(&auth, "x-auth-request-user").as_deref(),
        Some("alice")
    );
    assert_eq!(header_of(&auth, "x-auth-request-client"), None);
    assert_eq!(
        header_of(&auth, "x-auth-request-groups").as_deref(),
        Some("staff")
    );
}

/// A pool set up for the client_credentials grant: the resource server `orders`
/// (`read`, `write`), a domain, and a client with a secret allowed `orders/read`.
struct MachinePool {
    pool: EmulatorPool,
    domain: String,
    client_id: String,
    client_secret: String,
}

impl MachinePool {
    async fn create() -> Self {
        let pool = EmulatorPool::create(&unique("m2m")).await;
        let scope = |name: &str| {
            ResourceServerScopeType::builder()
                .scope_name(name)
                .scope_description(format!("{name} orders"))
                .build()
                .expect("scope")
        };
        pool.cognito
            .create_resource_server()
            .user_pool_id(&pool.pool_id)
            .identifier("orders")
            .name("orders")
            .scopes(scope("read"))
            .scopes(scope("write"))
            .send()
            .await
            .expect("CreateResourceServer");
        let created = pool
            .cognito
            .create_user_pool_client()
            .user_pool_id(&pool.pool_id)
            .client_name(unique("m2m-client"))
            .generate_secret(true)
            .allowed_o_auth_flows_user_pool_client(true)
            .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
            .allowed_o_auth_scopes("orders/read")
            .send()
            .await
            .expect("CreateUserPoolClient");
        let client = created.user_pool_client().expect("client");
        let domain = unique("m2m");
        pool.cognito
            .create_user_pool_domain()
            .user_pool_id(&pool.pool_id)
            .domain(&domain)
            .send()
            .await
            .expect("CreateUserPoolDomain");
        Self {
            domain,
            client_id: client.client_id().expect("client id").to_owned(),
            client_secret: client.client_secret().expect("client secret").to_owned(),
            pool,
        }
    }

    /// `POST /oauth2/token` on the pool's domain with `grant_type=client_credentials`.
    async fn token_response(&self, scope: &str) -> reqwest::Response {
        let url = format!(
            "{}/_cognito/domains/{}/oauth2/token",
            environment().aws_endpoint,
            self.domain
        );
        reqwest::Client::new()
            .post(url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("request the token endpoint")
    }

    async fn machine_token(&self, scope: &str) -> String {
        let response = self.token_response(scope).await;
        assert_eq!(response.status(), StatusCode::OK, "token endpoint");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["token_type"], "Bearer");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

/// The claims of `token`, undecoded by webhook-api: what the emulator signed.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn emulator_client_credentials_tokens_pass_machine_routes_only() {
    let machine = MachinePool::create().await;
    let pool = &machine.pool;
    let token = machine.machine_token("orders/read").await;
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], machine.client_id.as_str());
    assert_eq!(claims["client_id"], machine.client_id.as_str());
    assert!(claims.get("username").is_none(), "{claims}");
    let user = format!("{}@example.com", unique("m2m-user"));
    pool.add_confirmed_user(&user, PASSWORD).await;
    let user_tokens = pool.sign_in(&user, PASSWORD).await;

    let trusted = format!(
        "pools:\n  - issuer: {}\n    jwksUri: {}\n    clientIds: [{}, {}]\n",
        pool.issuer(),
        pool.jwks_uri(),
        pool.client_id,
        machine.client_id
    );
    let start = |routes: &str| {
        let config = ConfigFile::write(&format!("{trusted}{routes}"));
        async move {
            let service = WebhookApi::start(&["--config", config.path()]).await;
            service.wait_ready().await;
            (service, config)
        }
    };

    let (service, _config) =
        start("routes:\n  machine: {tokenUse: access, requiredScopes: [orders/read]}\n").await;
    let answer = json_of(&service, "/api/machine", &token).await;
    assert_eq!(
        answer,
        json!({"clientId": machine.client_id, "scopes": ["orders/read"]})
    );
    forbids(&service, "/api/me", &token, USER_ONLY).await;
    forbids(
        &service,
        "/api/machine",
        &user_tokens.access_token,
        MACHINE_ONLY,
    )
    .await;
    let me = json_of(&service, "/api/me", &user_tokens.access_token).await;
    assert!(me["username"].as_str().is_some_and(|name| !name.is_empty()));

    // The client may not ask for a scope it was not allowed; a route that requires
    // one refuses the token it did get.
    assert_ne!(
        machine.token_response("orders/write").await.status(),
        StatusCode::OK,
        "orders/write is not among the client's allowed scopes"
    );
    let (writers, _config) =
        start("routes:\n  machine: {tokenUse: access, requiredScopes: [orders/write]}\n").await;
    forbids(&writers, "/api/machine", &token, MISSING_SCOPE).await;
}
