//! The AppUser controller end to end: the real operator binary, the real API server
//! (Secrets and AppUsers applied with kubectl) and Cognito in the emulator, with sign-ins
//! through the AWS SDK. (appuser_drift.rs: drift, reconcile requests and regions.)

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use cognito_operator_tests::{
    EmulatorPool, OperatorNamespace, kubectl,
    objects::{Reconciled, app_user_manifest},
    wait_for,
};
use k8s_openapi::api::core::v1::Secret;

const PASSWORD: &str = "First-Passw0rd!";
const ROTATED: &str = "Second-Passw0rd!";
const KIND: &str = "AppUser";
/// The pool "shop" every AppUser here belongs to.
/// The tests sign users in with their password, which the client must allow.
const POOL_SPEC: &str = "  deletionPolicy: Delete\n  groups: [{name: admins}, {name: readers}]\n  clients: [{name: app, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}]\n";

/// An AppUser of the pool "shop".
fn user_manifest(name: &str, email: &str, secret: &str, extra_spec: &str) -> String {
    app_user_manifest(name, "shop", email, secret, extra_spec)
}

/// A namespace with its operator (extra environment `env`) and the Ready pool "shop".
async fn with_pool(prefix: &str, env: &[(&str, &str)]) -> (OperatorNamespace, EmulatorPool) {
    OperatorNamespace::start_with_pool(prefix, env, "shop", POOL_SPEC).await
}

/// Panics if `password` appears in the operator log, the namespace's Events or the AppUsers.
fn assert_no_leak(t: &OperatorNamespace, password: &str) {
    let users = kubectl(&["get", "appusers", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get appusers");
    let events = kubectl(&["get", "events", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get events");
    for (place, text) in [
        ("operator log", t.operator.log_text()),
        ("Events", events),
        ("AppUsers", users),
    ] {
        assert!(
            !text.contains(password),
            "the password leaked into the {place}"
        );
    }
}

/// Waits until the AppUser `name` reports the password of the Secret `secret` as applied.
async fn wait_for_password_of(t: &OperatorNamespace, name: &str, secret: &str) {
    let version = t.secret_version(secret).await;
    wait_for(&t.users, name, "password applied", |u| {
        u.status
            .as_ref()
            .and_then(|s| s.applied_password_version.as_deref())
            == Some(version.as_str())
    })
    .await;
}

#[tokio::test]
async fn secret_and_appuser_give_a_user_who_signs_in_rotates_disables_and_deletes() {
    let (t, pool) = with_pool("user-lifecycle", &[]).await;
    let email = "ada@example.com";
    let spec = "  attributes: {given_name: Ada}\n  groups: [admins]\n";

    t.apply_password("ada-password", PASSWORD);
    t.ns.apply(&user_manifest("ada", email, "ada-password", spec));
    let user = t.ready_user("ada").await;
    let status = user.status.clone().expect("status");
    assert_eq!(status.user_status.as_deref(), Some("CONFIRMED"));
    assert_eq!(status.enabled, Some(true));
    assert_eq!(status.user_pool_id.as_deref(), Some(pool.pool_id.as_str()));
    assert!(status.sub.is_some() && status.username.is_some());
    assert_eq!(
        status.applied_password_version,
        Some(t.secret_version("ada-password").await)
    );
    // A new user costs exactly a create and a set-password (plus the group it joins).
    assert_eq!(t.operator.aws_calls("AdminCreateUser"), 1);
    assert_eq!(t.operator.aws_calls("AdminSetUserPassword"), 1);
    assert_eq!(t.operator.aws_calls("AdminGetUser"), 0);
    assert_eq!(t.operator.aws_calls("AdminAddUserToGroup"), 1);

    assert_eq!(
        pool.attribute(email, "given_name").await.as_deref(),
        Some("Ada")
    );
    assert_eq!(
        pool.attribute(email, "email_verified").await.as_deref(),
        Some("true")
    );
    assert!(pool.signs_in(email, PASSWORD).await);

    // Rotation: the old password stops working, the new one works.
    t.apply_password("ada-password", ROTATED);
    wait_for_password_of(&t, "ada", "ada-password").await;
    assert!(!pool.signs_in(email, PASSWORD).await);
    assert!(pool.signs_in(email, ROTATED).await);

    // Disabled: sign-in fails.
    t.ns.apply(&user_manifest(
        "ada",
        email,
        "ada-password",
        &format!("{spec}  enabled: false\n"),
    ));
    t.ready_user("ada").await;
    assert_eq!(pool.is_enabled(email).await, Some(false));
    assert!(!pool.signs_in(email, ROTATED).await);

    // Deleting the AppUser deletes the Cognito user.
    t.ns.delete("appuser", "ada");
    assert!(
        pool.user(email).await.is_none(),
        "the Cognito user is deleted"
    );

    let events = t.ns.events();
    for reason in ["Created", "PasswordApplied", "Updated", "Deleted"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
    assert_no_leak(&t, PASSWORD);
    assert_no_leak(&t, ROTATED);
}

#[tokio::test]
async fn user_waits_for_its_pool_without_aws_calls() {
    let t = OperatorNamespace::start("user-wait", &[]).await;

    t.apply_password("s", PASSWORD);
    t.ns.apply(&user_manifest("u", "wait@example.com", "s", ""));
    let user = t.user_reason("u", "Ready", "WaitingForUserPool").await;
    assert!(
        user.condition("Ready")
            .is_some_and(|c| c.message.contains("shop"))
    );
    assert_eq!(
        t.operator.metric_sum(
            "cognito_operator_aws_calls_total",
            "service=\"Cognito Identity Provider\""
        ),
        0,
        "no Cognito call while the pool is missing"
    );

    let pool = t.apply_ready_pool("shop", POOL_SPEC).await;
    t.ready_user("u").await;
    assert!(pool.signs_in("wait@example.com", PASSWORD).await);
}

#[tokio::test]
async fn missing_secret_and_refused_password_are_reported_without_retry_storm() {
    let (t, pool) = with_pool("user-secret", &[]).await;

    t.ns.apply(&user_manifest("u", "weak@example.com", "s", ""));
    t.user_reason("u", "Ready", "PasswordSecretMissing").await;

    // A Secret without the key.
    t.ns.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {other: x}\n");
    wait_for(&t.users, "u", "key missing", |u| {
        u.condition("Ready").is_some_and(|c| {
            c.reason == "PasswordSecretMissing" && c.message.contains("no key password")
        })
    })
    .await;

    // A password the pool policy refuses.
    t.apply_password("s", "short");
    let user = t.user_reason("u", "Ready", "InvalidPassword").await;
    assert!(
        user.condition("Ready")
            .is_some_and(|c| c.message.contains("password policy"))
    );
    // Reconciled again (an annotation) with the same Secret: not sent again.
    let attempts = t.operator.aws_calls("AdminSetUserPassword");
    let finished = t.operator.idle(KIND).await;
    t.ns.annotate("appuser", "u", "touched", "1");
    t.operator.reconciled_since(KIND, finished).await;
    assert_eq!(
        t.operator.aws_calls("AdminSetUserPassword"),
        attempts,
        "a refused password is not retried until the Secret changes"
    );

    // A trailing newline, as `kubectl create secret --from-file` keeps it: refused before
    // any AWS call, with a message that says why.
    let calls =
        t.operator.aws_calls("AdminCreateUser") + t.operator.aws_calls("AdminSetUserPassword");
    t.ns.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: \"{PASSWORD}\\n\"\n"
    ));
    wait_for(&t.users, "u", "whitespace refused", |u| {
        u.condition("Ready").is_some_and(|c| {
            c.reason == "InvalidPassword" && c.message.contains("end with whitespace")
        })
    })
    .await;
    assert_eq!(
        t.operator.aws_calls("AdminCreateUser") + t.operator.aws_calls("AdminSetUserPassword"),
        calls,
        "a password Cognito's format refuses is not sent"
    );

    // The fix: a good password.
    t.apply_password("s", PASSWORD);
    t.ready_user("u").await;
    assert!(pool.signs_in("weak@example.com", PASSWORD).await);
    let events = t.ns.events();
    for reason in ["PasswordSecretMissing", "InvalidPassword"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
    assert_no_leak(&t, PASSWORD);
}

#[tokio::test]
async fn a_secret_change_reconciles_only_the_users_that_reference_it() {
    let (t, pool) = with_pool("user-secret-watch", &[]).await;

    for name in ["a", "b"] {
        t.apply_password(name, PASSWORD);
        t.ns.apply(&user_manifest(
            name,
            &format!("{name}@example.com"),
            name,
            "",
        ));
    }
    for name in ["a", "b"] {
        t.ready_user(name).await;
    }
    let finished = t.operator.idle(KIND).await;
    let before = t.operator.aws_calls("AdminSetUserPassword");
    let reads_before = t.operator.aws_calls("AdminGetUser");

    t.apply_password("a", ROTATED);
    wait_for_password_of(&t, "a", "a").await;
    t.operator.reconciled_since(KIND, finished).await;
    assert_eq!(t.operator.aws_calls("AdminSetUserPassword"), before + 1);
    assert_eq!(
        t.operator.aws_calls("AdminGetUser"),
        reads_before,
        "a rotation needs no read"
    );
    assert!(pool.signs_in("a@example.com", ROTATED).await);
    assert!(pool.signs_in("b@example.com", PASSWORD).await);
}

#[tokio::test]
async fn a_user_left_half_created_by_a_crash_is_adopted_and_confirmed() {
    let (mut t, pool) = with_pool("user-crash", &[]).await;
    t.operator.kill();

    // What a crash between AdminCreateUser and AdminSetUserPassword leaves behind.
    let email = "crash@example.com";
    let created = pool
        .cognito
        .admin_create_user()
        .user_pool_id(&pool.pool_id)
        .username(email)
        .user_attributes(
            AttributeType::builder()
                .name("email")
                .value(email)
                .build()
                .expect("attribute"),
        )
        .temporary_password(PASSWORD)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .expect("AdminCreateUser");
    assert_eq!(
        created
            .user()
            .and_then(|u| u.user_status())
            .map(|s| s.as_str()),
        Some("FORCE_CHANGE_PASSWORD")
    );

    t.apply_password("s", PASSWORD);
    t.ns.apply(&user_manifest("u", email, "s", ""));
    t.restart_operator(&[]);
    assert_recovered(&t, &pool, email).await;
    assert!(t.ns.events().contains("Adopted"));
}

/// After a crash: the AppUser `u` becomes Ready with a CONFIRMED user who signs in with
/// PASSWORD, and the pool holds that one user, not a second one.
async fn assert_recovered(t: &OperatorNamespace, pool: &EmulatorPool, email: &str) {
    let user = t.ready_user("u").await;
    assert_eq!(
        user.status.and_then(|s| s.user_status).as_deref(),
        Some("CONFIRMED")
    );
    assert!(pool.signs_in(email, PASSWORD).await);
    assert_eq!(pool.user_count().await, 1, "converged, not duplicated");
}

#[tokio::test]
async fn an_operator_killed_after_a_failed_set_password_converges_on_restart() {
    let (mut t, pool) = with_pool("user-kill", &[]).await;

    // The emulator takes any temporary password but applies the pool policy to
    // AdminSetUserPassword: the create succeeds and the second call fails.
    let email = "killed@example.com";
    t.apply_password("s", "short");
    t.ns.apply(&user_manifest("u", email, "s", ""));
    t.user_reason("u", "Ready", "InvalidPassword").await;
    assert_eq!(t.operator.aws_calls("AdminCreateUser"), 1);
    t.operator.kill();
    let half_created = pool
        .user(email)
        .await
        .expect("the user was created before the failure");
    assert_eq!(
        half_created.user_status().map(|s| s.as_str()),
        Some("FORCE_CHANGE_PASSWORD")
    );

    t.apply_password("s", PASSWORD);
    t.restart_operator(&[]);
    assert_recovered(&t, &pool, email).await;
    assert_no_leak(&t, PASSWORD);
}

#[tokio::test]
async fn a_second_appuser_for_an_email_waits_until_the_first_is_gone() {
    let (t, pool) = with_pool("user-duplicate", &[]).await;
    let email = "shared@example.com";

    t.apply_password("first", PASSWORD);
    t.apply_password("second", ROTATED);
    t.ns.apply(&user_manifest(
        "first",
        email,
        "first",
        "  deletionPolicy: Retain\n",
    ));
    t.ready_user("first").await;
    let writes = t.operator.user_writes();

    t.ns.apply(&user_manifest("second", email, "second", ""));
    let second = t.user_reason("second", "Ready", "DuplicateEmail").await;
    assert!(
        second
            .condition("Ready")
            .is_some_and(|c| c.message.contains("AppUser first")),
        "{:?}",
        second.condition("Ready")
    );
    assert_eq!(
        t.operator.user_writes(),
        writes,
        "the second AppUser touched Cognito"
    );
    assert!(pool.signs_in(email, PASSWORD).await);

    // The holder goes (keeping the Cognito user): the second adopts it and sets its password.
    t.ns.delete("appuser", "first");
    t.ready_user("second").await;
    assert!(pool.signs_in(email, ROTATED).await);
    assert_eq!(pool.user_count().await, 1, "one Cognito user throughout");
    let events = t.ns.events();
    for reason in ["DuplicateEmail", "Adopted"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
}

#[tokio::test]
async fn retain_keeps_the_cognito_user() {
    let (t, pool) = with_pool("user-retain", &[]).await;

    t.apply_password("s", PASSWORD);
    t.ns.apply(&user_manifest(
        "u",
        "kept@example.com",
        "s",
        "  deletionPolicy: Retain\n",
    ));
    t.ready_user("u").await;
    t.ns.delete("appuser", "u");
    assert!(
        pool.user("kept@example.com").await.is_some(),
        "Retain keeps the user"
    );
    assert_eq!(t.operator.aws_calls("AdminDeleteUser"), 0);
    assert!(t.ns.events().contains("Retained"));
}

#[tokio::test]
async fn generated_password_is_written_to_an_owned_secret_and_works() {
    let (t, pool) = with_pool("user-generate", &[]).await;

    t.ns.apply(&user_manifest(
        "u",
        "gen@example.com",
        "gen-password",
        "  generatePassword: true\n",
    ));
    let user = t.ready_user("u").await;
    let secret: Secret = t
        .secrets
        .get("gen-password")
        .await
        .expect("the operator wrote the Secret");
    let owner = secret
        .metadata
        .owner_references
        .as_deref()
        .and_then(|o| o.first())
        .expect("owned by the AppUser");
    assert_eq!(Some(&owner.uid), user.metadata.uid.as_ref());
    let password = String::from_utf8(secret.data.expect("data")["password"].0.clone())
        .expect("UTF-8 password");
    assert!(password.len() >= 24);
    assert!(pool.signs_in("gen@example.com", &password).await);
    assert!(t.ns.events().contains("PasswordGenerated"));
    assert_no_leak(&t, &password);
}

#[tokio::test]
async fn user_calls_stay_under_the_configured_rates() {
    let (t, _) = with_pool("user-rates", &[("COGNITO_USER_CREATION_RPS", "1")]).await;

    t.apply_password("s", PASSWORD);
    let start = Instant::now();
    for i in 0..5 {
        t.ns.apply(&user_manifest(
            &format!("u{i}"),
            &format!("u{i}@example.com"),
            "s",
            "",
        ));
    }
    for i in 0..5 {
        t.ready_user(&format!("u{i}")).await;
    }
    // One create per second, after a burst of one: five creates take at least 4 s.
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "created 5 users in {:?} at 1 creation/s",
        start.elapsed()
    );
    assert_eq!(t.operator.aws_calls("AdminCreateUser"), 5);
}
