//! The AppUser controller end to end: the real operator binary, the real API server
//! (Secrets and AppUsers applied with kubectl) and Cognito in the emulator, with sign-ins
//! through the AWS SDK.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::{
    Client,
    types::{AttributeType, AuthFlowType, MessageActionType},
};
use cognito_operator::crd::{AppUser, UserPool};
use cognito_operator_tests::{
    OperatorProcess, TestNamespace, aws_config, kube_client, kubectl, wait_for,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

const PASSWORD: &str = "First-Passw0rd!";
const ROTATED: &str = "Second-Passw0rd!";

fn pool_manifest(name: &str, deletion_policy: &str) -> String {
    format!(
        "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: UserPool\nmetadata: {{name: {name}}}\nspec:\n  region: us-east-1\n  deletionPolicy: {deletion_policy}\n  groups: [{{name: admins}}, {{name: readers}}]\n"
    )
}

fn secret_manifest(name: &str, password: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  password: '{password}'\n"
    )
}

fn user_manifest(name: &str, email: &str, secret: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: AppUser\nmetadata: {{name: {name}}}\nspec:\n  userPoolRef: {{name: shop}}\n  email: {email}\n  passwordSecretRef: {{name: {secret}}}\n{extra_spec}"
    )
}

fn condition(user: &AppUser, type_: &str) -> Option<(String, String, String)> {
    user.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn is_ready(user: &AppUser) -> bool {
    user.status.as_ref().and_then(|s| s.observed_generation) == user.metadata.generation
        && condition(user, "Ready").is_some_and(|c| c.0 == "True")
        && condition(user, "Synced").is_some_and(|c| c.0 == "True")
}

fn has_reason(reason: &'static str) -> impl Fn(&AppUser) -> bool {
    move |user| condition(user, "Ready").is_some_and(|c| c.0 == "False" && c.1 == reason)
}

fn pool_is_ready(pool: &UserPool) -> bool {
    pool.status.as_ref().is_some_and(|s| {
        s.user_pool_id.is_some()
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn events(ns: &TestNamespace) -> String {
    kubectl(&[
        "get",
        "events",
        "-n",
        ns.name(),
        "-o",
        "custom-columns=REASON:.reason,NOTE:.note,MESSAGE:.message",
    ])
    .run()
    .expect_success("get events")
}

/// The Ready pool "shop" in `ns`: its id and first client id.
async fn ready_pool(ns: &TestNamespace, operator: &OperatorProcess) -> (String, String) {
    ready_pool_with_policy(ns, operator, "Delete").await
}

async fn ready_pool_with_policy(
    ns: &TestNamespace,
    operator: &OperatorProcess,
    deletion_policy: &str,
) -> (String, String) {
    ns.apply(&pool_manifest("shop", deletion_policy));
    let pools: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let pool = wait_for(&pools, "shop", operator, "pool Ready", pool_is_ready).await;
    let status = pool.status.expect("status");
    (
        status.user_pool_id.expect("pool id"),
        status.clients[0].client_id.clone(),
    )
}

async fn cognito() -> Client {
    Client::new(&aws_config().await)
}

/// Whether `USER_PASSWORD_AUTH` with these credentials returns tokens.
async fn signs_in(cognito: &Client, client_id: &str, username: &str, password: &str) -> bool {
    cognito
        .initiate_auth()
        .client_id(client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .ok()
        .and_then(|out| out.authentication_result)
        .is_some_and(|tokens| tokens.access_token.is_some() && tokens.id_token.is_some())
}

async fn secret_version(ns: &TestNamespace, name: &str) -> String {
    let secrets: Api<Secret> = Api::namespaced(kube_client().await, ns.name());
    secrets
        .get(name)
        .await
        .expect("secret")
        .metadata
        .resource_version
        .expect("resourceVersion")
}

fn user_writes(operator: &OperatorProcess) -> u64 {
    [
        "AdminCreateUser",
        "AdminSetUserPassword",
        "AdminUpdateUserAttributes",
        "AdminDeleteUserAttributes",
        "AdminEnableUser",
        "AdminDisableUser",
        "AdminAddUserToGroup",
        "AdminRemoveUserFromGroup",
        "AdminDeleteUser",
    ]
    .iter()
    .map(|op| operator.aws_calls(op))
    .sum()
}

/// Panics if `password` appears in the operator log, the namespace's Events or the AppUsers.
fn assert_no_leak(ns: &TestNamespace, operator: &OperatorProcess, password: &str) {
    let users = kubectl(&["get", "appusers", "-n", ns.name(), "-o", "yaml"])
        .run()
        .expect_success("get appusers");
    let events = kubectl(&["get", "events", "-n", ns.name(), "-o", "yaml"])
        .run()
        .expect_success("get events");
    for (place, text) in [
        ("operator log", operator.log_text()),
        ("Events", events),
        ("AppUsers", users),
    ] {
        assert!(
            !text.contains(password),
            "the password leaked into the {place}"
        );
    }
}

#[tokio::test]
async fn secret_and_appuser_give_a_user_who_signs_in_rotates_disables_and_deletes() {
    let ns = TestNamespace::create("user-lifecycle");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());
    let cognito = cognito().await;
    let email = "ada@example.com";

    ns.apply(&secret_manifest("ada-password", PASSWORD));
    ns.apply(&user_manifest(
        "ada",
        email,
        "ada-password",
        "  attributes: {given_name: Ada}\n  groups: [admins]\n",
    ));
    let user = wait_for(&users, "ada", &operator, "Ready", is_ready).await;
    let status = user.status.clone().expect("status");
    assert_eq!(status.user_status.as_deref(), Some("CONFIRMED"));
    assert_eq!(status.enabled, Some(true));
    assert_eq!(status.user_pool_id.as_deref(), Some(pool_id.as_str()));
    assert!(status.sub.is_some() && status.username.is_some());
    assert_eq!(
        status.applied_password_version,
        Some(secret_version(&ns, "ada-password").await)
    );
    // A new user costs exactly a create and a set-password (plus the group it joins).
    assert_eq!(operator.aws_calls("AdminCreateUser"), 1);
    assert_eq!(operator.aws_calls("AdminSetUserPassword"), 1);
    assert_eq!(operator.aws_calls("AdminGetUser"), 0);
    assert_eq!(operator.aws_calls("AdminAddUserToGroup"), 1);

    let got = cognito
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await
        .expect("AdminGetUser");
    let attribute = |name: &str| {
        got.user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    };
    assert_eq!(attribute("given_name").as_deref(), Some("Ada"));
    assert_eq!(attribute("email_verified").as_deref(), Some("true"));
    assert!(signs_in(&cognito, &client_id, email, PASSWORD).await);

    // Rotation: the old password stops working, the new one works.
    ns.apply(&secret_manifest("ada-password", ROTATED));
    let rotated = secret_version(&ns, "ada-password").await;
    wait_for(&users, "ada", &operator, "new password applied", |u| {
        u.status
            .as_ref()
            .and_then(|s| s.applied_password_version.as_deref())
            == Some(rotated.as_str())
    })
    .await;
    assert!(!signs_in(&cognito, &client_id, email, PASSWORD).await);
    assert!(signs_in(&cognito, &client_id, email, ROTATED).await);

    // Disabled: sign-in fails.
    ns.apply(&user_manifest(
        "ada",
        email,
        "ada-password",
        "  attributes: {given_name: Ada}\n  groups: [admins]\n  enabled: false\n",
    ));
    wait_for(&users, "ada", &operator, "disabled", |u| {
        is_ready(u) && u.status.as_ref().and_then(|s| s.enabled) == Some(false)
    })
    .await;
    assert!(!signs_in(&cognito, &client_id, email, ROTATED).await);

    // Deleting the AppUser deletes the Cognito user.
    kubectl(&["delete", "-n", ns.name(), "appuser", "ada", "--timeout=30s"])
        .run()
        .expect_success("delete");
    let gone = cognito
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await;
    assert!(gone.is_err(), "the Cognito user is deleted");

    let events = events(&ns);
    for reason in ["Created", "PasswordApplied", "Updated", "Deleted"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
    assert_no_leak(&ns, &operator, PASSWORD);
    assert_no_leak(&ns, &operator, ROTATED);
}

#[tokio::test]
async fn user_waits_for_its_pool_without_aws_calls() {
    let ns = TestNamespace::create("user-wait");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&secret_manifest("s", PASSWORD));
    ns.apply(&user_manifest("u", "wait@example.com", "s", ""));
    let user = wait_for(
        &users,
        "u",
        &operator,
        "waiting for the pool",
        has_reason("WaitingForUserPool"),
    )
    .await;
    assert!(condition(&user, "Ready").is_some_and(|c| c.2.contains("shop")));
    assert_eq!(
        operator.metric_sum(
            "cognito_operator_aws_calls_total",
            "service=\"Cognito Identity Provider\""
        ),
        0,
        "no Cognito call while the pool is missing"
    );

    let (_, client_id) = ready_pool(&ns, &operator).await;
    wait_for(&users, "u", &operator, "Ready once the pool is", is_ready).await;
    assert!(signs_in(&cognito().await, &client_id, "wait@example.com", PASSWORD).await);
}

#[tokio::test]
async fn missing_secret_and_refused_password_are_reported_without_retry_storm() {
    let ns = TestNamespace::create("user-secret");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (_, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&user_manifest("u", "weak@example.com", "s", ""));
    wait_for(
        &users,
        "u",
        &operator,
        "Secret missing",
        has_reason("PasswordSecretMissing"),
    )
    .await;

    // A Secret without the key.
    ns.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {other: x}\n");
    wait_for(&users, "u", &operator, "key missing", |u| {
        condition(u, "Ready")
            .is_some_and(|c| c.1 == "PasswordSecretMissing" && c.2.contains("no key password"))
    })
    .await;

    // A password the pool policy refuses.
    ns.apply(&secret_manifest("s", "short"));
    let user = wait_for(
        &users,
        "u",
        &operator,
        "password refused",
        has_reason("InvalidPassword"),
    )
    .await;
    assert!(condition(&user, "Ready").is_some_and(|c| c.2.contains("password policy")));
    let attempts = operator.aws_calls("AdminSetUserPassword");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        operator.aws_calls("AdminSetUserPassword"),
        attempts,
        "a refused password is not retried until the Secret changes"
    );

    // A trailing newline, as `kubectl create secret --from-file` keeps it: refused before
    // any AWS call, with a message that says why.
    let calls = operator.aws_calls("AdminCreateUser") + operator.aws_calls("AdminSetUserPassword");
    ns.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData:\n  password: \"{PASSWORD}\\n\"\n"
    ));
    wait_for(&users, "u", &operator, "whitespace refused", |u| {
        condition(u, "Ready")
            .is_some_and(|c| c.1 == "InvalidPassword" && c.2.contains("end with whitespace"))
    })
    .await;
    assert_eq!(
        operator.aws_calls("AdminCreateUser") + operator.aws_calls("AdminSetUserPassword"),
        calls,
        "a password Cognito's format refuses is not sent"
    );

    // The fix: a good password.
    ns.apply(&secret_manifest("s", PASSWORD));
    wait_for(
        &users,
        "u",
        &operator,
        "Ready with a good password",
        is_ready,
    )
    .await;
    assert!(signs_in(&cognito().await, &client_id, "weak@example.com", PASSWORD).await);
    let events = events(&ns);
    for reason in ["PasswordSecretMissing", "InvalidPassword"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
    assert_no_leak(&ns, &operator, PASSWORD);
}

#[tokio::test]
async fn a_secret_change_reconciles_only_the_users_that_reference_it() {
    let ns = TestNamespace::create("user-secret-watch");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (_, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    for name in ["a", "b"] {
        ns.apply(&secret_manifest(name, PASSWORD));
        ns.apply(&user_manifest(
            name,
            &format!("{name}@example.com"),
            name,
            "",
        ));
    }
    for name in ["a", "b"] {
        wait_for(&users, name, &operator, "Ready", is_ready).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = operator.aws_calls("AdminSetUserPassword");
    let reads_before = operator.aws_calls("AdminGetUser");

    ns.apply(&secret_manifest("a", ROTATED));
    let version = secret_version(&ns, "a").await;
    wait_for(&users, "a", &operator, "rotated", |u| {
        u.status
            .as_ref()
            .and_then(|s| s.applied_password_version.as_deref())
            == Some(version.as_str())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(operator.aws_calls("AdminSetUserPassword"), before + 1);
    assert_eq!(
        operator.aws_calls("AdminGetUser"),
        reads_before,
        "a rotation needs no read"
    );
    let cognito = cognito().await;
    assert!(signs_in(&cognito, &client_id, "a@example.com", ROTATED).await);
    assert!(signs_in(&cognito, &client_id, "b@example.com", PASSWORD).await);
}

#[tokio::test]
async fn a_user_left_half_created_by_a_crash_is_adopted_and_confirmed() {
    let ns = TestNamespace::create("user-crash");
    let mut first = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, client_id) = ready_pool(&ns, &first).await;
    first.kill();

    // What a crash between AdminCreateUser and AdminSetUserPassword leaves behind.
    let cognito = cognito().await;
    let email = "crash@example.com";
    let created = cognito
        .admin_create_user()
        .user_pool_id(&pool_id)
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

    ns.apply(&secret_manifest("s", PASSWORD));
    ns.apply(&user_manifest("u", email, "s", ""));
    let operator = OperatorProcess::start(ns.name(), &[]);
    assert_recovered(&ns, &operator, &pool_id, &client_id, email).await;
    assert!(events(&ns).contains("Adopted"));
}

/// After a crash: the AppUser `u` becomes Ready with a CONFIRMED user who signs in with
/// PASSWORD, and the pool holds that one user, not a second one.
async fn assert_recovered(
    ns: &TestNamespace,
    operator: &OperatorProcess,
    pool_id: &str,
    client_id: &str,
    email: &str,
) {
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());
    let user = wait_for(&users, "u", operator, "Ready after the crash", is_ready).await;
    assert_eq!(
        user.status.and_then(|s| s.user_status).as_deref(),
        Some("CONFIRMED")
    );
    let cognito = cognito().await;
    assert!(signs_in(&cognito, client_id, email, PASSWORD).await);
    let listed = cognito
        .list_users()
        .user_pool_id(pool_id)
        .send()
        .await
        .expect("ListUsers");
    assert_eq!(listed.users().len(), 1, "converged, not duplicated");
}

#[tokio::test]
async fn an_operator_killed_after_a_failed_set_password_converges_on_restart() {
    let ns = TestNamespace::create("user-kill");
    let mut first = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, client_id) = ready_pool(&ns, &first).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    // The emulator takes any temporary password but applies the pool policy to
    // AdminSetUserPassword: the create succeeds and the second call fails.
    let email = "killed@example.com";
    ns.apply(&secret_manifest("s", "short"));
    ns.apply(&user_manifest("u", email, "s", ""));
    wait_for(
        &users,
        "u",
        &first,
        "password refused",
        has_reason("InvalidPassword"),
    )
    .await;
    assert_eq!(first.aws_calls("AdminCreateUser"), 1);
    first.kill();
    let half_created = cognito()
        .await
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await
        .expect("the user was created before the failure");
    assert_eq!(
        half_created.user_status().map(|s| s.as_str()),
        Some("FORCE_CHANGE_PASSWORD")
    );

    ns.apply(&secret_manifest("s", PASSWORD));
    let second = OperatorProcess::start(ns.name(), &[]);
    assert_recovered(&ns, &second, &pool_id, &client_id, email).await;
    assert_no_leak(&ns, &second, PASSWORD);
}

#[tokio::test]
async fn a_second_appuser_for_an_email_waits_until_the_first_is_gone() {
    let ns = TestNamespace::create("user-duplicate");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());
    let cognito = cognito().await;

    ns.apply(&secret_manifest("first", PASSWORD));
    ns.apply(&secret_manifest("second", ROTATED));
    ns.apply(&user_manifest(
        "first",
        "shared@example.com",
        "first",
        "  deletionPolicy: Retain\n",
    ));
    wait_for(&users, "first", &operator, "first Ready", is_ready).await;
    let writes = user_writes(&operator);

    ns.apply(&user_manifest("second", "shared@example.com", "second", ""));
    let second = wait_for(
        &users,
        "second",
        &operator,
        "second refused",
        has_reason("DuplicateEmail"),
    )
    .await;
    assert!(
        condition(&second, "Ready").is_some_and(|c| c.2.contains("AppUser first")),
        "{:?}",
        condition(&second, "Ready")
    );
    assert_eq!(
        user_writes(&operator),
        writes,
        "the second AppUser touched Cognito"
    );
    assert!(signs_in(&cognito, &client_id, "shared@example.com", PASSWORD).await);

    // The holder goes (keeping the Cognito user): the second adopts it and sets its password.
    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "appuser",
        "first",
        "--timeout=30s",
    ])
    .run()
    .expect_success("delete the first AppUser");
    wait_for(&users, "second", &operator, "second Ready", is_ready).await;
    assert!(signs_in(&cognito, &client_id, "shared@example.com", ROTATED).await);
    let listed = cognito
        .list_users()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("ListUsers");
    assert_eq!(listed.users().len(), 1, "one Cognito user throughout");
    let events = events(&ns);
    for reason in ["DuplicateEmail", "Adopted"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
}

#[tokio::test]
async fn retain_keeps_the_cognito_user() {
    let ns = TestNamespace::create("user-retain");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, _) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&secret_manifest("s", PASSWORD));
    ns.apply(&user_manifest(
        "u",
        "kept@example.com",
        "s",
        "  deletionPolicy: Retain\n",
    ));
    wait_for(&users, "u", &operator, "Ready", is_ready).await;
    kubectl(&["delete", "-n", ns.name(), "appuser", "u", "--timeout=30s"])
        .run()
        .expect_success("delete");
    cognito()
        .await
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username("kept@example.com")
        .send()
        .await
        .expect("Retain keeps the user");
    assert_eq!(operator.aws_calls("AdminDeleteUser"), 0);
    assert!(events(&ns).contains("Retained"));
}

#[tokio::test]
async fn drift_is_found_by_listing_pages_and_corrected() {
    let ns = TestNamespace::create("user-drift");
    let operator = OperatorProcess::start(ns.name(), &[("RESYNC_INTERVAL_SECONDS", "2")]);
    let (pool_id, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());
    let cognito = cognito().await;
    let email = "drift@example.com";

    ns.apply(&secret_manifest("s", PASSWORD));
    ns.apply(&user_manifest(
        "u",
        email,
        "s",
        "  attributes: {given_name: Ada, locale: en}\n  groups: [admins]\n",
    ));
    wait_for(&users, "u", &operator, "Ready", is_ready).await;

    // Idle: censuses read pages and write nothing.
    let writes = user_writes(&operator);
    let lists = operator.aws_calls("ListUsers");
    let reads = operator.aws_calls("AdminGetUser");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(operator.aws_calls("ListUsers") > lists, "the census ran");
    assert_eq!(
        user_writes(&operator),
        writes,
        "an idle census writes nothing"
    );
    assert_eq!(
        operator.aws_calls("AdminGetUser"),
        reads,
        "an idle census reads no single user"
    );

    // Out-of-band changes: an attribute, the enabled flag, a group.
    let attribute = |name: &str, value: &str| {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("attribute")
    };
    cognito
        .admin_update_user_attributes()
        .user_pool_id(&pool_id)
        .username(email)
        .user_attributes(attribute("given_name", "Eve"))
        .send()
        .await
        .expect("update attributes");
    cognito
        .admin_disable_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await
        .expect("disable");
    cognito
        .admin_add_user_to_group()
        .user_pool_id(&pool_id)
        .username(email)
        .group_name("readers")
        .send()
        .await
        .expect("add to group");
    let converged = async || {
        let got = cognito
            .admin_get_user()
            .user_pool_id(&pool_id)
            .username(email)
            .send()
            .await
            .ok()?;
        let groups = cognito
            .admin_list_groups_for_user()
            .user_pool_id(&pool_id)
            .username(email)
            .send()
            .await
            .ok()?;
        let given = got
            .user_attributes()
            .iter()
            .find(|a| a.name() == "given_name")
            .and_then(|a| a.value())
            .map(str::to_owned);
        let groups: Vec<&str> = groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name())
            .collect();
        Some(given.as_deref() == Some("Ada") && got.enabled() && groups == ["admins"])
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while converged().await != Some(true) {
        assert!(
            Instant::now() < deadline,
            "drift not corrected\n{}",
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // An attribute removed from the spec is deleted from the user.
    ns.apply(&user_manifest(
        "u",
        email,
        "s",
        "  attributes: {given_name: Ada}\n  groups: [admins]\n",
    ));
    wait_for(&users, "u", &operator, "Ready after the edit", is_ready).await;
    let got = cognito
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await
        .expect("AdminGetUser");
    assert!(!got.user_attributes().iter().any(|a| a.name() == "locale"));

    // Deleted out of band: recreated, with the Secret's password.
    cognito
        .admin_delete_user()
        .user_pool_id(&pool_id)
        .username(email)
        .send()
        .await
        .expect("delete");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !signs_in(&cognito, &client_id, email, PASSWORD).await {
        assert!(
            Instant::now() < deadline,
            "user not recreated\n{}",
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let events = events(&ns);
    assert!(events.contains("UserRecreated"), "{events}");
    assert!(events.contains("Updated"), "{events}");
}

#[tokio::test]
async fn deleting_a_retained_pool_never_deletes_its_users() {
    let ns = TestNamespace::create("user-pool-retain");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (pool_id, client_id) = ready_pool_with_policy(&ns, &operator, "Retain").await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&secret_manifest("s", PASSWORD));
    ns.apply(&user_manifest("u", "stays@example.com", "s", ""));
    wait_for(&users, "u", &operator, "Ready", is_ready).await;
    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "userpool",
        "shop",
        "--timeout=30s",
    ])
    .run()
    .expect_success("delete pool");
    wait_for(
        &users,
        "u",
        &operator,
        "waiting for the pool",
        has_reason("WaitingForUserPool"),
    )
    .await;
    assert_eq!(operator.aws_calls("AdminDeleteUser"), 0);
    assert!(
        signs_in(&cognito().await, &client_id, "stays@example.com", PASSWORD).await,
        "the user in the retained pool {pool_id} still signs in"
    );
}

#[tokio::test]
async fn generated_password_is_written_to_an_owned_secret_and_works() {
    let ns = TestNamespace::create("user-generate");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let (_, client_id) = ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&user_manifest(
        "u",
        "gen@example.com",
        "gen-password",
        "  generatePassword: true
",
    ));
    let user = wait_for(&users, "u", &operator, "Ready", is_ready).await;
    let secret = Api::<Secret>::namespaced(kube_client().await, ns.name())
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
    assert!(signs_in(&cognito().await, &client_id, "gen@example.com", &password).await);
    assert!(events(&ns).contains("PasswordGenerated"));
    assert_no_leak(&ns, &operator, &password);
}

#[tokio::test]
async fn user_calls_stay_under_the_configured_rates() {
    let ns = TestNamespace::create("user-rates");
    let operator = OperatorProcess::start(ns.name(), &[("COGNITO_USER_CREATION_RPS", "1")]);
    ready_pool(&ns, &operator).await;
    let users: Api<AppUser> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&secret_manifest("s", PASSWORD));
    let start = Instant::now();
    for i in 0..5 {
        ns.apply(&user_manifest(
            &format!("u{i}"),
            &format!("u{i}@example.com"),
            "s",
            "",
        ));
    }
    for i in 0..5 {
        wait_for(&users, &format!("u{i}"), &operator, "Ready", is_ready).await;
    }
    // One create per second, after a burst of one: five creates take at least 4 s.
    assert!(
        start.elapsed() >= Duration::from_secs(4),
        "created 5 users in {:?} at 1 creation/s",
        start.elapsed()
    );
    assert_eq!(operator.aws_calls("AdminCreateUser"), 5);
}
