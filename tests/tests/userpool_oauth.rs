//! What web applications need of a pool, end to end against the real control plane and
//! the emulator: pool settings reach Cognito; OAuth clients, resource servers, a prefix
//! domain with managed login are in the stack; status and the connection Secret publish
//! the endpoints; a machine client gets a client_credentials token with its scopes from
//! the published token URL, which webhook-api accepts on its machine route only; identity providers get their secrets from Secrets and never
//! show them; a scope or provider the spec does not declare is refused.

use std::collections::BTreeMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use cognito_operator_tests::{
    ConfigFile, OperatorNamespace, WebhookApi, cloudformation, cognito, describe_stack, kubectl,
    objects::user_pool_manifest, unique, wait::until,
};
use k8s_openapi::api::core::v1::Secret;
use serde_json::Value;

fn settings_spec() -> &'static str {
    r#"  featurePlan: Plus
  threatProtection: Audit
  email: {sender: SES, sourceArn: "arn:aws:ses:us-east-1:123456789012:identity/shop.example", from: "Shop <no-reply@shop.example>", replyToAddress: help@shop.example, configurationSet: shop}
  accountRecovery: [verified_email, verified_phone_number]
  verificationMessage: {emailSubject: "Your code", emailMessage: "Your code is {####}"}
  invitationMessage: {emailSubject: Welcome, emailMessage: "Hello {username}, your password is {####}"}
  autoVerifiedAttributes: [email]
  attributesRequireVerificationBeforeUpdate: [email]
"#
}

#[tokio::test]
async fn pool_settings_reach_cognito() {
    let t = OperatorNamespace::start("settings", &[]).await;
    let pool = t.apply_ready_pool("p", settings_spec()).await;
    let described = pool.describe().await.expect("the pool");

    assert_eq!(described.user_pool_tier().map(|t| t.as_str()), Some("PLUS"));
    assert_eq!(
        described
            .user_pool_add_ons()
            .map(|a| a.advanced_security_mode().as_str()),
        Some("AUDIT")
    );
    let email = described.email_configuration().expect("EmailConfiguration");
    assert_eq!(
        email.email_sending_account().map(|a| a.as_str()),
        Some("DEVELOPER")
    );
    assert_eq!(email.from(), Some("Shop <no-reply@shop.example>"));
    assert_eq!(email.configuration_set(), Some("shop"));
    let recovery: Vec<(String, i32)> = described
        .account_recovery_setting()
        .expect("AccountRecoverySetting")
        .recovery_mechanisms()
        .iter()
        .map(|m| (m.name().as_str().to_owned(), m.priority()))
        .collect();
    assert_eq!(
        recovery,
        [
            ("verified_email".to_owned(), 1),
            ("verified_phone_number".to_owned(), 2)
        ]
    );
    let verification = described
        .verification_message_template()
        .expect("VerificationMessageTemplate");
    assert_eq!(verification.email_message(), Some("Your code is {####}"));
    let invitation = described
        .admin_create_user_config()
        .and_then(|c| c.invite_message_template())
        .expect("InviteMessageTemplate");
    assert_eq!(invitation.email_subject(), Some("Welcome"));
    let auto_verified: Vec<&str> = described
        .auto_verified_attributes()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(auto_verified, ["email"]);
    let before_update: Vec<&str> = described
        .user_attribute_update_settings()
        .expect("UserAttributeUpdateSettings")
        .attributes_require_verification_before_update()
        .iter()
        .map(|a| a.as_str())
        .collect();
    assert_eq!(before_update, ["email"]);

    // Settings change in place: the pool stays the same pool.
    let pool_id = pool.pool_id.clone();
    t.ns.apply(&user_pool_manifest(
        "p",
        &settings_spec().replace("threatProtection: Audit", "threatProtection: Enforced"),
    ));
    until("threat protection is enforced", || async {
        pool.describe()
            .await
            .and_then(|p| p.user_pool_add_ons().cloned())
            .is_some_and(|a| a.advanced_security_mode().as_str() == "ENFORCED")
    })
    .await;
    let ready = t.ready_pool("p").await;
    assert_eq!(
        ready.status.and_then(|s| s.user_pool_id),
        Some(pool_id),
        "updated in place"
    );
}

fn web_app_spec(prefix: &str, machine_scopes: &str) -> String {
    format!(
        r#"  featurePlan: Essentials
  domain: {{prefix: {prefix}, managedLoginVersion: 2}}
  resourceServers:
    - identifier: orders
      name: Orders
      scopes: [{{name: read, description: Read orders}}, {{name: write, description: Change orders}}]
  clients:
    - name: web
      readAttributes: [email, name]
      refreshTokenRotation: {{retryGracePeriodSeconds: 10}}
      oauth:
        flows: [code]
        scopes: [openid, email, orders/read]
        callbackUrls: ["https://shop.example/callback", "http://localhost:3000/callback"]
        logoutUrls: ["https://shop.example/"]
        defaultRedirectUri: "https://shop.example/callback"
    - name: machine
      generateSecret: true
      oauth: {{flows: [client_credentials], scopes: [{machine_scopes}]}}
"#
    )
}

/// The claims of a JWT, unverified (webhook-api's tests verify signatures).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

/// A client_credentials token from `token_url`, or the error body.
async fn machine_token(
    token_url: &str,
    client_id: &str,
    client_secret: &str,
) -> Result<Value, String> {
    let response = reqwest::Client::new()
        .post(token_url)
        .basic_auth(client_id, Some(client_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON answer");
    if status.is_success() {
        Ok(body)
    } else {
        Err(body.to_string())
    }
}

#[tokio::test]
async fn web_and_machine_clients_with_a_domain_and_resource_servers() {
    let t = OperatorNamespace::start("oauth", &[]).await;
    let prefix = unique("shop");
    t.ns.apply(&user_pool_manifest(
        "p",
        &web_app_spec(&prefix, "orders/read"),
    ));
    let ready = t.ready_pool("p").await;
    let status = ready.status.clone().expect("status");
    let pool_id = status.user_pool_id.clone().expect("pool id");
    let client_id = |name: &str| {
        status
            .clients
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.client_id.clone())
            .expect("client id")
    };
    let cognito = cognito().await;

    let web = cognito
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(client_id("web"))
        .send()
        .await
        .expect("DescribeUserPoolClient")
        .user_pool_client
        .expect("client");
    assert_eq!(web.allowed_o_auth_flows_user_pool_client(), Some(true));
    let flows: Vec<&str> = web
        .allowed_o_auth_flows()
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(flows, ["code"]);
    assert_eq!(
        web.allowed_o_auth_scopes(),
        ["openid", "email", "orders/read"]
    );
    assert_eq!(web.callback_urls().len(), 2);
    assert_eq!(
        web.default_redirect_uri(),
        Some("https://shop.example/callback")
    );
    assert_eq!(web.supported_identity_providers(), ["COGNITO"]);
    assert_eq!(web.read_attributes(), ["email", "name"]);
    assert_eq!(
        web.refresh_token_rotation().map(|r| (
            r.feature().as_str().to_owned(),
            r.retry_grace_period_seconds()
        )),
        Some(("ENABLED".to_owned(), Some(10)))
    );

    let servers = cognito
        .describe_resource_server()
        .user_pool_id(&pool_id)
        .identifier("orders")
        .send()
        .await
        .expect("DescribeResourceServer")
        .resource_server
        .expect("resource server");
    let scopes: Vec<&str> = servers.scopes().iter().map(|s| s.scope_name()).collect();
    assert_eq!(scopes, ["read", "write"]);

    let domain = cognito
        .describe_user_pool_domain()
        .domain(&prefix)
        .send()
        .await
        .expect("DescribeUserPoolDomain")
        .domain_description
        .expect("domain");
    assert_eq!(domain.user_pool_id(), Some(pool_id.as_str()));
    assert_eq!(domain.managed_login_version(), Some(2));
    cognito
        .describe_managed_login_branding_by_client()
        .user_pool_id(&pool_id)
        .client_id(client_id("web"))
        .send()
        .await
        .expect("the web client has the default branding");

    // Status and the connection Secret publish the endpoints.
    let endpoints = status.oauth_endpoints.clone().expect("oauthEndpoints");
    assert!(
        endpoints
            .token_url
            .ends_with(&format!("/_cognito/domains/{prefix}/oauth2/token")),
        "{endpoints:?}"
    );
    assert!(
        status
            .open_id_configuration_url
            .as_deref()
            .is_some_and(|u| u.ends_with(&format!("/{pool_id}/.well-known/openid-configuration")))
    );
    let secret: Secret = t.secrets.get("p-cognito").await.expect("connection Secret");
    let data: BTreeMap<String, String> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8(v.0).expect("UTF-8")))
        .collect();
    for key in [
        "oauthBaseUrl",
        "authorizeUrl",
        "tokenUrl",
        "userInfoUrl",
        "logoutUrl",
        "openIdConfigurationUrl",
    ] {
        assert!(data.contains_key(key), "connection Secret lacks {key}");
    }
    let machine_id = data["machine.clientId"].clone();
    let machine_secret = data["machine.clientSecret"].clone();

    // The machine client gets a token for its scope from the published token URL.
    let token = machine_token(&data["tokenUrl"], &machine_id, &machine_secret)
        .await
        .expect("a client_credentials token");
    let access = claims(token["access_token"].as_str().expect("access_token"));
    assert_eq!(access["token_use"], "access");
    assert_eq!(access["client_id"], machine_id.as_str());
    assert_eq!(access["scope"], "orders/read");
    assert!(
        access.get("username").is_none(),
        "a machine has no user name"
    );
    assert_eq!(
        Some(access["iss"].as_str().expect("iss")),
        status.issuer.as_deref()
    );
    assert!(
        machine_token(&data["tokenUrl"], &machine_id, "wrong-secret")
            .await
            .is_err(),
        "a wrong secret gets no token"
    );

    // webhook-api, discovering this namespace's pools, lets the machine in on its
    // machine route and not on the user route.
    let config = ConfigFile::write(
        "routes:\n  machine: {tokenUse: access, requiredScopes: [orders/read]}\n",
    );
    let mut args: Vec<String> = WebhookApi::discovering(t.name()).into();
    args.extend(["--config".to_owned(), config.path().to_owned()]);
    let service = WebhookApi::start(&args.iter().map(String::as_str).collect::<Vec<_>>()).await;
    service.wait_ready().await;
    let bearer = token["access_token"].as_str().expect("access_token");
    let machine = service.get("/api/machine", Some(bearer)).await;
    assert_eq!(machine.status(), reqwest::StatusCode::OK);
    let machine: Value = machine.json().await.expect("JSON");
    assert_eq!(machine["clientId"], machine_id.as_str());
    assert_eq!(
        service.get("/api/me", Some(bearer)).await.status(),
        reqwest::StatusCode::FORBIDDEN
    );

    // A new scope and its grant change the resource server and the client in place.
    t.ns.apply(&user_pool_manifest(
        "p",
        &web_app_spec(&prefix, "orders/read, orders/write"),
    ));
    until("the machine token carries both scopes", || async {
        machine_token(&data["tokenUrl"], &machine_id, &machine_secret)
            .await
            .is_ok_and(|t| {
                claims(t["access_token"].as_str().unwrap_or_default())["scope"]
                    == "orders/read orders/write"
            })
    })
    .await;

    // A scope no resource server declares is refused before CloudFormation sees it.
    t.ns.apply(&user_pool_manifest(
        "p",
        &web_app_spec(&prefix, "orders/read, invoices/read"),
    ));
    let refused = t.pool_reason("p", "Synced", "InvalidSpec").await;
    let message = refused
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Synced"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(message.contains("invoices/read"), "{message}");

    // A new identifier replaces the resource server (and the scopes naming it), never
    // the pool.
    t.ns.apply(&user_pool_manifest(
        "p",
        &web_app_spec(&prefix, "orders/read")
            .replace("identifier: orders", "identifier: orders-v2")
            .replace("orders/read", "orders-v2/read"),
    ));
    until("the machine token carries the renamed scope", || async {
        machine_token(&data["tokenUrl"], &machine_id, &machine_secret)
            .await
            .is_ok_and(|t| {
                claims(t["access_token"].as_str().unwrap_or_default())["scope"] == "orders-v2/read"
            })
    })
    .await;
    let ready = t.ready_pool("p").await;
    assert_eq!(
        ready.status.and_then(|s| s.user_pool_id),
        Some(pool_id.clone()),
        "the pool stays"
    );
    assert!(
        cognito
            .describe_resource_server()
            .user_pool_id(&pool_id)
            .identifier("orders")
            .send()
            .await
            .is_err(),
        "the old resource server is gone"
    );
}

fn provider_secret_manifest(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: google-oauth}}\nstringData: {{client-secret: {value}}}\n"
    )
}

const GOOGLE_SECRET: &str = "google-secret-0123456789abcdef";
const NEW_GOOGLE_SECRET: &str = "google-secret-rotated-fedcba9876543210";

fn federated_spec(prefix: &str) -> String {
    format!(
        r#"  domain:
    prefix: {prefix}
    custom: {{name: auth.{prefix}.example, certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d"}}
  identityProviders:
    - name: Google
      type: Google
      clientId: shop.apps.googleusercontent.com
      clientSecretRef: {{name: google-oauth, key: client-secret}}
      authorizeScopes: [openid, email, profile]
      attributeMapping: {{email: email, given_name: given_name}}
    - name: Corp
      type: OIDC
      clientId: shop-web
      oidc: {{issuer: "https://idp.corp.example"}}
      authorizeScopes: [openid, email]
  clients:
    - name: web
      oauth:
        flows: [code]
        scopes: [openid, email]
        callbackUrls: ["https://shop.example/callback"]
        identityProviders: [COGNITO, Google, Corp]
"#
    )
}

/// `ProviderDetails` of the provider `name` of `pool_id`.
async fn provider_details(pool_id: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let provider = cognito()
        .await
        .describe_identity_provider()
        .user_pool_id(pool_id)
        .provider_name(name)
        .send()
        .await
        .ok()?
        .identity_provider?;
    Some(
        provider
            .provider_details()?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

#[tokio::test]
async fn identity_providers_take_their_secrets_from_secrets_beside_a_custom_domain() {
    let t = OperatorNamespace::start("idp", &[]).await;
    let prefix = unique("fed");
    t.ns.apply(&user_pool_manifest("p", &federated_spec(&prefix)));
    // No Secret yet: refused with a reason, nothing applied.
    t.pool_reason("p", "Ready", "IdentityProviderSecretInvalid")
        .await;

    t.ns.apply(&provider_secret_manifest(GOOGLE_SECRET));
    let ready = t.ready_pool("p").await;
    let status = ready.status.clone().expect("status");
    let pool_id = status.user_pool_id.clone().expect("pool id");
    // With a custom domain beside the prefix, the published URLs are the custom one's,
    // and status names the distribution its DNS record must point at.
    let endpoints = status.oauth_endpoints.clone().expect("oauthEndpoints");
    assert!(
        endpoints
            .base_url
            .ends_with(&format!("/_cognito/domains/auth.{prefix}.example")),
        "{endpoints:?}"
    );
    assert!(
        endpoints
            .cloud_front_distribution
            .is_some_and(|d| d.ends_with(".cloudfront.net")),
        "cloudFrontDistribution"
    );
    let google = provider_details(&pool_id, "Google")
        .await
        .expect("the Google provider");
    assert_eq!(google["client_id"], "shop.apps.googleusercontent.com");
    assert_eq!(google["client_secret"], GOOGLE_SECRET);
    assert_eq!(google["authorize_scopes"], "openid email profile");
    let corp = provider_details(&pool_id, "Corp")
        .await
        .expect("the OIDC provider");
    assert_eq!(corp["oidc_issuer"], "https://idp.corp.example");
    assert_eq!(corp["attributes_request_method"], "GET");
    let web = cognito()
        .await
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&status.clients[0].client_id)
        .send()
        .await
        .expect("DescribeUserPoolClient")
        .user_pool_client
        .expect("client");
    assert_eq!(
        web.supported_identity_providers(),
        ["COGNITO", "Google", "Corp"]
    );

    // The secret is in no template, stack answer, spec, status, Event or log.
    let stack_name = status.stack_name.clone().expect("stack name");
    let stack = describe_stack(&stack_name).await.expect("the stack");
    assert!(
        stack
            .parameters()
            .iter()
            .all(|p| p.parameter_value() == Some("****")),
        "NoEcho hides the value"
    );
    let template = cloudformation()
        .await
        .get_template()
        .stack_name(&stack_name)
        .send()
        .await
        .expect("GetTemplate")
        .template_body()
        .unwrap_or_default()
        .to_owned();
    let yaml = kubectl(&["get", "userpool", "p", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get");
    for (place, text) in [
        ("template", template),
        ("UserPool", yaml),
        ("events", t.ns.events()),
        ("operator log", t.operator.log_text()),
    ] {
        assert!(
            !text.contains(GOOGLE_SECRET),
            "the provider secret leaked into the {place}"
        );
    }

    // A new value in the Secret reaches the provider (the operator watches the Secret).
    t.ns.apply(&provider_secret_manifest(NEW_GOOGLE_SECRET));
    until("the provider has the new secret", || async {
        provider_details(&pool_id, "Google")
            .await
            .is_some_and(|d| d.get("client_secret").map(String::as_str) == Some(NEW_GOOGLE_SECRET))
    })
    .await;

    // A client naming an undeclared provider is refused before CloudFormation.
    t.ns.apply(&user_pool_manifest(
        "p",
        &federated_spec(&prefix).replace("[COGNITO, Google, Corp]", "[COGNITO, Facebook]"),
    ));
    let refused = t.pool_reason("p", "Synced", "InvalidSpec").await;
    let message = refused
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Synced"))
        .map(|c| c.message)
        .unwrap_or_default();
    assert!(message.contains("\"Facebook\""), "{message}");
}

#[test]
fn the_web_app_and_machine_examples_are_valid_for_the_api_server() {
    let ns = cognito_operator_tests::TestNamespace::create("oauth-examples");
    for example in [
        "examples/userpool-web-app.yaml",
        "examples/userpool-machine-to-machine.yaml",
    ] {
        kubectl(&["apply", "--dry-run=server", "-n", ns.name(), "-f"])
            .arg(
                cognito_operator_tests::environment()
                    .repo_root
                    .join(example),
            )
            .run()
            .expect_success(example);
    }
}
