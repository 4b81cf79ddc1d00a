//! AppUsers kept in line with their spec after they were created: the periodic census
//! and a pool deleted with Retain. The real operator binary, the real API server and
//! Cognito in the emulator.

use cognito_operator_tests::{EmulatorPool, OperatorNamespace, objects::app_user_manifest, wait};

const PASSWORD: &str = "First-Passw0rd!";
/// The pool "shop" every AppUser here belongs to.
const POOL_SPEC: &str = "  deletionPolicy: Delete\n  groups: [{name: admins}, {name: readers}]\n";

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
async fn deleting_a_retained_pool_never_deletes_its_users() {
    let email = "stays@example.com";
    let retain = "  deletionPolicy: Retain\n";
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
