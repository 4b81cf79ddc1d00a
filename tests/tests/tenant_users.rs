//! Attacks of a namespace tenant on Cognito users that are not its own, through the
//! status of its objects (tenant-writable: the tenant holds every right on the
//! operator's kinds in its namespace, status included, and acts through impersonation),
//! and on Secrets the operator did not create, through names in its objects. The victim
//! is a pool the operator did not make for this namespace, or a Secret someone else
//! made; each attack leaves it untouched. Last, a user's own attempt to take another
//! identity: changing their e-mail address through an app client.

use cognito_crds::{AppUser, UserPool};
use cognito_operator_tests::{
    EmulatorPool, OperatorNamespace, WebhookApi, namespace_tenant,
    objects::{Reconciled, app_user_manifest},
    unique, wait_for_deletion,
};
use k8s_openapi::serde::de::DeserializeOwned;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const CEO: &str = "ceo@corp.example";

/// A production pool made outside the operator, holding `ceo@corp.example`.
async fn victim_pool() -> EmulatorPool {
    let victim = EmulatorPool::create(&unique("victim")).await;
    victim.add_confirmed_user(CEO, PASSWORD).await;
    victim
}

/// Merges `status` into the status of `name` with `api`'s rights.
async fn patch_status<K>(api: &Api<K>, name: &str, status: Value)
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .expect("the tenant may patch status in its namespace");
}

#[tokio::test]
async fn a_forged_user_status_never_deletes_a_user_of_another_pool() {
    let mut t = OperatorNamespace::start("tenant-user-delete", &[]).await;
    let (_, tenant) = namespace_tenant(&t.ns).await;
    let victim = victim_pool().await;
    let own = t.apply_ready_pool("corp", "").await;
    t.apply_password("ceo-password", PASSWORD);
    t.ns.apply(&app_user_manifest(
        "ceo",
        "corp",
        CEO,
        "ceo-password",
        "  deletionPolicy: Delete\n",
    ));
    t.ready_user("ceo").await;

    // With the operator down (so no write of its own races the forgery), the tenant
    // points its AppUser's status at the victim's pool and deletes the AppUser.
    t.operator.stop();
    let users = Api::<AppUser>::namespaced(tenant, t.name());
    patch_status(&users, "ceo", json!({"userPoolId": victim.pool_id})).await;
    users
        .delete("ceo", &Default::default())
        .await
        .expect("the tenant may delete its AppUser");
    t.restart_operator(&[]);

    wait_for_deletion(&t.users, "ceo", "AppUser deleted").await;
    assert!(
        victim.user(CEO).await.is_some(),
        "the victim's user is untouched"
    );
    assert!(own.user(CEO).await.is_some(), "status named no other pool");
    let events = t.ns.events();
    assert!(
        events.contains("NotDeleted") && events.contains("not tagged"),
        "{events}"
    );
    assert_eq!(t.operator.aws_calls("AdminDeleteUser"), 0);
}

#[tokio::test]
async fn a_forged_pool_status_never_puts_a_user_into_another_pool() {
    let mut t = OperatorNamespace::start("tenant-pool-status", &[]).await;
    let (_, tenant) = namespace_tenant(&t.ns).await;
    let victim = victim_pool().await;
    let own = t.apply_ready_pool("corp", "").await;

    // The tenant's UserPool, Ready, now names the victim's pool; an AppUser in it would
    // add an account (with a password the tenant knows) to the victim's pool.
    t.operator.stop();
    let pools = Api::<UserPool>::namespaced(tenant, t.name());
    patch_status(&pools, "corp", json!({"userPoolId": victim.pool_id})).await;
    let impostor = "impostor@corp.example";
    t.apply_password("impostor-password", PASSWORD);
    t.ns.apply(&app_user_manifest(
        "impostor",
        "corp",
        impostor,
        "impostor-password",
        "",
    ));
    t.restart_operator(&[]);

    // The UserPool's own reconcile writes back the pool its stack holds; the user lands
    // there and only there.
    t.ready_user("impostor").await;
    assert!(own.user(impostor).await.is_some());
    assert!(
        victim.user(impostor).await.is_none(),
        "no user was added to the victim's pool"
    );
    assert_eq!(victim.user_count().await, 1);
    assert_eq!(t.operator.aws_calls("AdminCreateUser"), 1);
}

/// A Secret someone else made (no owner): `config` holds what it holds.
const FOREIGN_SECRET: &str =
    "apiVersion: v1\nkind: Secret\nmetadata: {name: NAME}\nstringData: {config: keep-me}\n";

fn foreign_secret(name: &str) -> String {
    FOREIGN_SECRET.replace("NAME", name)
}

/// The Secret `name`'s data and resourceVersion.
async fn secret_state(t: &OperatorNamespace, name: &str) -> (Value, Option<String>) {
    let secret = t.secrets.get(name).await.expect("get Secret");
    (
        serde_json::to_value(&secret.data).expect("Secret data as JSON"),
        secret.metadata.resource_version,
    )
}

#[tokio::test]
async fn generate_password_never_writes_into_a_secret_the_operator_did_not_create() {
    let t = OperatorNamespace::start("tenant-generate", &[]).await;
    let (tenant, _) = namespace_tenant(&t.ns).await;
    let own = t.apply_ready_pool("corp", "").await;
    t.ns.apply(&foreign_secret("app-config"));
    let before = secret_state(&t, "app-config").await;

    t.ns.apply_as(
        &tenant,
        &app_user_manifest(
            "u",
            "corp",
            "u@corp.example",
            "app-config",
            "  generatePassword: true\n",
        ),
    );

    let refused = t.user_reason("u", "Ready", "PasswordSecretMissing").await;
    let message = &refused.condition("Ready").expect("Ready").message;
    assert!(message.contains("not created by the operator"), "{message}");
    assert_eq!(secret_state(&t, "app-config").await, before);
    assert!(own.user("u@corp.example").await.is_none());
    assert!(!t.ns.events().contains("PasswordGenerated"));
}

#[tokio::test]
async fn the_connection_secret_never_takes_over_a_secret_of_its_name() {
    let t = OperatorNamespace::start("tenant-connection", &[]).await;
    t.ns.apply(&foreign_secret("corp-cognito"));
    let before = secret_state(&t, "corp-cognito").await;

    let pool = t.apply_ready_pool("corp", "").await;
    assert_eq!(secret_state(&t, "corp-cognito").await, before);
    let status = t.ready_pool("corp").await.status.expect("status");
    assert_eq!(status.connection_secret_name, None);
    assert!(t.ns.events().contains("ConnectionSecretNameTaken"));

    // Once the name is free, the next reconcile writes the pool's own Secret.
    t.ns.delete("secret", "corp-cognito");
    t.ns.request_reconcile("userpool", "corp", "after-rename");
    let written = cognito_operator_tests::wait::wait_for(
        &t.pools,
        "corp",
        "connection Secret written",
        |p: &UserPool| {
            p.status
                .as_ref()
                .is_some_and(|s| s.connection_secret_name.is_some())
        },
    )
    .await;
    assert_eq!(
        written
            .status
            .and_then(|s| s.connection_secret_name)
            .as_deref(),
        Some("corp-cognito")
    );
    let secret = t
        .secrets
        .get("corp-cognito")
        .await
        .expect("the pool's own Secret");
    assert_eq!(
        secret.data.expect("data")["userPoolId"].0,
        pool.pool_id.as_bytes()
    );
}

#[tokio::test]
async fn users_change_their_own_email_only_where_the_spec_allows_and_then_lose_the_header() {
    let spec = "  clients:\n  - {name: web, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}\n  - {name: editor, writeAttributes: [email, name], explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}\n  - {name: spa}\n";
    let (t, pool) = OperatorNamespace::start_with_pool("self-service", &[], "corp", spec).await;
    let status = t.ready_pool("corp").await.status.expect("status");
    let client_ids: Vec<&str> = status
        .clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    let (web, editor, spa) = (client_ids[0], client_ids[1], client_ids[2]);
    let user = format!("{}@corp.example", unique("staff"));
    t.apply_password("staff-password", PASSWORD);
    t.ns.apply(&app_user_manifest(
        "staff",
        "corp",
        &user,
        "staff-password",
        "  emailVerified: true\n",
    ));
    t.ready_user("staff").await;

    let pools = serde_json::json!([{
        "issuer": pool.issuer(),
        "jwksUri": pool.jwks_uri(),
        "clientIds": client_ids,
    }])
    .to_string();
    let service = WebhookApi::start(&["--pools", &pools]).await;
    service.wait_ready().await;
    let email_header = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-auth-request-email")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let before = service
        .get(
            "/auth",
            Some(&pool.sign_in_with(web, &user, PASSWORD).await.id_token),
        )
        .await;
    assert_eq!(email_header(&before), Some(user.clone()));
    // A client with the default flows takes no password itself (SRP only).
    let refused = pool
        .password_auth(spa, &user, PASSWORD)
        .await
        .expect_err("SRP only");
    assert!(refused.contains("flow not enabled"), "{refused}");

    // Through a client with the default write list, the address cannot change.
    let web_session = pool.sign_in_with(web, &user, PASSWORD).await;
    assert_eq!(
        pool.update_own_attribute(&web_session.access_token, "email", CEO)
            .await,
        Err("NotAuthorizedException".to_owned())
    );
    assert_eq!(
        pool.attribute(&user, "email").await.as_deref(),
        Some(user.as_str())
    );

    // Through the client whose spec lists email, it can; the new address is
    // unverified, so the gate names nobody.
    let editor_session = pool.sign_in_with(editor, &user, PASSWORD).await;
    pool.update_own_attribute(&editor_session.access_token, "email", CEO)
        .await
        .expect("the editor client may write email");
    let after = pool.sign_in_with(editor, CEO, PASSWORD).await;
    let auth = service.get("/auth", Some(&after.id_token)).await;
    assert_eq!(auth.status(), reqwest::StatusCode::OK);
    assert_eq!(email_header(&auth), None);
}
