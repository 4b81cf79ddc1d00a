//! AppUsers kept in line with their spec after they were created: the periodic census,
//! reconcile requests, a pool deleted with Retain, and a pool whose region was decided
//! before the operator's own region changed. The real operator binary, the real API
//! server and Cognito in the emulator.

use cognito_operator_tests::{
    EmulatorPool, OperatorNamespace, REGION, emulator_pool,
    objects::{app_user_manifest, handled_request, is_ready, manifest},
    wait, wait_for,
};

const PASSWORD: &str = "First-Passw0rd!";
/// The pool "shop" every AppUser here belongs to.
/// The tests sign users in with their password, which the client must allow.
const POOL_SPEC: &str = "  deletionPolicy: Delete\n  groups: [{name: admins}, {name: readers}]\n  clients: [{name: app, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}]\n";

/// An AppUser of the pool "shop" whose password is in the Secret "s".
fn user_manifest(name: &str, email: &str, extra_spec: &str) -> String {
    app_user_manifest(name, "shop", email, "s", extra_spec)
}

/// A namespace with its operator (extra environment `env`), the Ready pool "shop" (with
/// `pool_spec`) and the Ready AppUser "u" for `email` (with `user_spec`).
async fn with_user(
    prefix: &str,
    env: &[(&str, &str)],
    pool_spec: &str,
    email: &str,
    user_spec: &str,
) -> (OperatorNamespace, EmulatorPool) {
    let (t, pool) = OperatorNamespace::start_with_pool(prefix, env, "shop", pool_spec).await;
    t.apply_password("s", PASSWORD);
    t.ns.apply(&user_manifest("u", email, user_spec));
    t.ready_user("u").await;
    (t, pool)
}

/// Whether `email` in `pool` has given_name Ada, is enabled and in the group admins only.
async fn converged(pool: &EmulatorPool, email: &str) -> bool {
    pool.attribute(email, "given_name").await.as_deref() == Some("Ada")
        && pool.is_enabled(email).await == Some(true)
        && pool.groups_of(email).await == ["admins"]
}

#[tokio::test]
async fn drift_is_found_by_listing_pages_and_corrected() {
    let email = "drift@example.com";
    let spec = "  attributes: {given_name: Ada, locale: en}\n  groups: [admins]\n";
    let env = [("RESYNC_INTERVAL_SECONDS", "2")];
    let (t, pool) = with_user("user-drift", &env, POOL_SPEC, email, spec).await;

    // Idle: censuses read pages and write nothing. Two more ListUsers mean that a whole
    // census ran (the next starts an interval after one is done); then no reconcile runs.
    t.operator.idle("AppUser").await;
    let writes = t.operator.user_writes();
    let lists = t.operator.aws_calls("ListUsers");
    let reads = t.operator.aws_calls("AdminGetUser");
    wait::until("two more censuses", || async {
        t.operator.aws_calls("ListUsers") >= lists + 2
    })
    .await;
    t.operator.idle("AppUser").await;
    assert_eq!(
        t.operator.user_writes(),
        writes,
        "an idle census writes nothing"
    );
    assert_eq!(
        t.operator.aws_calls("AdminGetUser"),
        reads,
        "an idle census reads no single user"
    );

    // Out-of-band changes: an attribute, the enabled flag, a group.
    pool.set_attribute(email, "given_name", "Eve").await;
    pool.disable(email).await;
    pool.add_to_group(email, "readers").await;
    wait::until("drift corrected", || converged(&pool, email)).await;

    // An attribute removed from the spec is deleted from the user.
    t.ns.apply(&user_manifest(
        "u",
        email,
        "  attributes: {given_name: Ada}\n  groups: [admins]\n",
    ));
    t.ready_user("u").await;
    assert_eq!(pool.attribute(email, "locale").await, None);

    // Deleted out of band: recreated, with the Secret's password.
    pool.delete_user(email).await;
    wait::until("user recreated", || pool.signs_in(email, PASSWORD)).await;
    let events = t.ns.events();
    assert!(events.contains("UserRecreated"), "{events}");
    assert!(events.contains("Updated"), "{events}");
}

#[tokio::test]
async fn a_reconcile_request_repairs_a_user_disabled_out_of_band() {
    // An hour between censuses: only the request can find the drift.
    let email = "request@example.com";
    let env = [("RESYNC_INTERVAL_SECONDS", "3600")];
    let (t, pool) = with_user("user-request", &env, POOL_SPEC, email, "").await;
    pool.disable(email).await;
    assert_eq!(pool.is_enabled(email).await, Some(false));

    t.ns.request_reconcile("appuser", "u", "t1");
    wait_for(&t.users, "u", "request t1 handled", handled_request("t1")).await;
    assert_eq!(
        pool.is_enabled(email).await,
        Some(true),
        "the handled request enabled the user again"
    );
}

#[tokio::test]
async fn deleting_a_retained_pool_never_deletes_its_users() {
    let email = "stays@example.com";
    let retain = "  deletionPolicy: Retain\n  clients: [{name: app, explicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}]\n";
    let (t, pool) = with_user("user-pool-retain", &[], retain, email, "").await;
    t.ns.delete("userpool", "shop");
    t.user_reason("u", "Ready", "WaitingForUserPool").await;
    assert_eq!(t.operator.aws_calls("AdminDeleteUser"), 0);
    assert!(
        pool.signs_in(email, PASSWORD).await,
        "the user in the retained pool {} still signs in",
        pool.pool_id
    );
}

/// A region the emulator serves that is not the test [`REGION`].
const OTHER_REGION: &str = "eu-west-1";

/// The UserPool "shop" is Ready, is `pool` and is in the test region.
async fn assert_pool_stays(t: &OperatorNamespace, pool: &EmulatorPool) {
    let current = t.pools.get("shop").await.expect("get UserPool");
    let status = current.status.as_ref().expect("status");
    assert!(is_ready(&current), "the pool stays Ready: {status:?}");
    assert_eq!(status.region.as_deref(), Some(REGION), "its region stays");
    assert_eq!(
        status.user_pool_id.as_deref(),
        Some(pool.pool_id.as_str()),
        "the same pool"
    );
}

#[tokio::test]
async fn a_pools_region_is_decided_once_whatever_the_operator_region_becomes() {
    let mut t = OperatorNamespace::start("user-region", &[]).await;
    // No spec.region: the operator's region (the test region) applies, once.
    t.ns.apply(&manifest("UserPool", "shop", POOL_SPEC));
    let pool = emulator_pool(&t.ready_pool("shop").await).await;
    let email = "region@example.com";
    let spec = "  deletionPolicy: Delete\n";
    t.apply_password("s", PASSWORD);
    t.ns.apply(&user_manifest("u", email, spec));
    t.ready_user("u").await;
    assert_pool_stays(&t, &pool).await;

    // The operator moves to another region, with a census every 2 s.
    t.restart_operator(&[
        ("AWS_REGION", OTHER_REGION),
        ("RESYNC_INTERVAL_SECONDS", "2"),
    ]);
    t.operator.reconciled_since("UserPool", 0).await;
    assert_pool_stays(&t, &pool).await;

    // A spec change reaches the user in the pool's region.
    t.ns.apply(&user_manifest(
        "u",
        email,
        &format!("{spec}  attributes: {{given_name: Ada}}\n  groups: [admins]\n"),
    ));
    t.ready_user("u").await;
    assert!(converged(&pool, email).await, "the change reached the user");
    assert_pool_stays(&t, &pool).await;

    // The census repairs drift there.
    pool.disable(email).await;
    wait::until("the census enables the user again", || async {
        pool.is_enabled(email).await == Some(true)
    })
    .await;
    assert_pool_stays(&t, &pool).await;

    // Deleting the AppUser deletes the user there; the finalizer is done.
    t.ns.delete("appuser", "u");
    assert!(pool.user(email).await.is_none(), "the user is gone");
    assert!(
        t.users.get_opt("u").await.expect("get AppUser").is_none(),
        "the AppUser is gone"
    );
    assert_pool_stays(&t, &pool).await;
}
