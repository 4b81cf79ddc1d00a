//! The UserPool controller end to end: the real operator binary, the real API server
//! (objects applied with kubectl) and CloudFormation + Cognito in the emulator.
//! (userpool_recovery.rs: failures, crashes, adoption and repairs.)

use cognito_crds::UserPool;
use cognito_operator_tests::{
    OperatorNamespace, OperatorProcess, TestNamespace, cloudformation, describe_stack,
    emulator_pool, kube_client, kubectl,
    objects::{Reconciled, is_ready, user_pool_manifest},
    wait, wait_for,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

const KIND: &str = "UserPool";

#[tokio::test]
async fn create_update_noop_and_retain() {
    let spec = "  groups: [{name: admins}]\n";
    let (t, pool) = OperatorNamespace::start_with_pool("pool-lifecycle", &[], "shop", spec).await;
    let object = t.ready_pool("shop").await;
    let status = object.status.clone().expect("status");
    let pool_id = pool.pool_id.clone();
    let default_name = cognito_operator::userpool::placement::stack_name(&object, None, t.name());
    assert!(
        default_name.starts_with(&format!("{}-shop-", t.name()))
            && default_name.ends_with("-cognito"),
        "{default_name}"
    );
    assert_eq!(status.stack_name, Some(default_name));
    assert_eq!(status.region.as_deref(), Some("us-east-1"));
    assert_eq!(
        status.issuer,
        Some(format!(
            "https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
        ))
    );
    assert!(
        status
            .jwks_uri
            .as_deref()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")
                && u.ends_with(&format!("{pool_id}/.well-known/jwks.json")))
    );
    assert_eq!(status.clients.len(), 1);
    assert_eq!(status.clients[0].name, "shop");

    // The ids are real in Cognito.
    let described = pool.describe().await.expect("DescribeUserPool");
    assert_eq!(
        described.name(),
        Some(format!("{}-shop", t.name()).as_str())
    );
    let client = pool
        .client(&pool.client_id)
        .await
        .expect("the client exists");
    let flows: Vec<&str> = client
        .explicit_auth_flows()
        .iter()
        .map(|f| f.as_str())
        .collect();
    assert_eq!(flows, ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]);
    let writable = client.write_attributes();
    assert!(
        writable.iter().any(|a| a == "name") && !writable.iter().any(|a| a == "email"),
        "{writable:?}"
    );
    // The pool carries its owner's namespace, which user reconciles check.
    let tags = described.user_pool_tags().expect("UserPoolTags");
    assert_eq!(
        tags.get(cognito_operator::userpool::placement::OWNER_NAMESPACE_TAG)
            .map(String::as_str),
        Some(t.name())
    );
    assert_eq!(pool.groups().await, ["admins"]);

    // The connection Secret carries what an application needs.
    let secret = t
        .secrets
        .get("shop-cognito")
        .await
        .expect("connection Secret");
    let data = secret.data.expect("data");
    assert_eq!(data["userPoolId"].0, pool_id.as_bytes());
    assert_eq!(data["clientId"].0, pool.client_id.as_bytes());
    assert_eq!(data["shop.clientId"].0, pool.client_id.as_bytes());
    assert!(
        data.contains_key("issuer") && data.contains_key("jwksUri") && data.contains_key("region")
    );
    assert_eq!(
        status.connection_secret_name.as_deref(),
        Some("shop-cognito")
    );

    // Re-applying the same object and annotating it: reconciled, and no CloudFormation
    // write.
    let writes = |op: &OperatorProcess| {
        op.aws_calls("CreateStack") + op.aws_calls("UpdateStack") + op.aws_calls("DeleteStack")
    };
    let finished = t.operator.idle(KIND).await;
    let before = writes(&t.operator);
    assert_eq!(before, 1, "one CreateStack");
    t.ns.apply(&user_pool_manifest("shop", "  groups: [{name: admins}]\n"));
    t.ns.annotate("userpool", "shop", "touched", "1");
    t.operator.reconciled_since(KIND, finished).await;
    assert_eq!(
        writes(&t.operator),
        before,
        "an unchanged object costs no CloudFormation write"
    );

    // An update: a new group and a stricter password policy.
    t.ns.apply(&user_pool_manifest(
        "shop",
        "  groups: [{name: admins}, {name: readers}]\n  passwordPolicy: {minimumLength: 12}\n",
    ));
    t.ready_pool("shop").await;
    assert_eq!(t.operator.aws_calls("UpdateStack"), 1);
    let described = pool.describe().await.expect("DescribeUserPool");
    let policy = described
        .policies()
        .and_then(|p| p.password_policy())
        .expect("policy");
    assert_eq!(
        policy.minimum_length(),
        Some(12),
        "updated in place, same pool id"
    );
    assert_eq!(pool.groups().await.len(), 2);

    // Deleting with the default Retain policy keeps the pool.
    t.ns.delete("userpool", "shop");
    assert!(pool.describe().await.is_some(), "Retain keeps the pool");
    let events = t.ns.events();
    for reason in ["Creating", "Ready", "Updating", "Retained"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
}

#[tokio::test]
async fn create_only_change_is_refused_without_aws_calls() {
    let (t, _) =
        OperatorNamespace::start_with_pool("pool-refuse", &[], "p", "  schema: [{name: tier}]\n")
            .await;
    let updates = t.operator.aws_calls("UpdateStack");

    // Removing a schema attribute is not something CloudFormation can do in place.
    t.ns.apply(&user_pool_manifest("p", "  schema: []\n"));
    let pool = t
        .pool_reason("p", "Synced", "CreateOnlyChangeRefused")
        .await;
    let message = &pool.condition("Synced").expect("Synced").message;
    assert!(
        message.contains("schema attribute tier removed") && message.contains("allowReplacement"),
        "{message}"
    );
    assert!(
        pool.condition("Ready").is_some_and(|c| c.status == "True"),
        "the pool itself still works"
    );
    assert_eq!(
        t.operator.aws_calls("UpdateStack"),
        updates,
        "no CloudFormation write"
    );
    assert!(t.ns.events().contains("Refused"));
}

#[tokio::test]
async fn delete_policy_deletes_the_stack_and_pool() {
    let spec = "  deletionPolicy: Delete\n";
    let (t, pool) = OperatorNamespace::start_with_pool("pool-delete", &[], "gone", spec).await;
    let stack_id = stack_id(&t.ready_pool("gone").await);

    t.ns.delete("userpool", "gone");
    assert!(pool.describe().await.is_none(), "pool deleted");
    assert_eq!(
        stack_status(&stack_id).await.as_deref(),
        Some("DELETE_COMPLETE"),
        "a deleted stack is still described by id"
    );
    assert!(t.operator.aws_calls("DeleteStack") >= 1);
}

/// The id of the stack a UserPool reports.
fn stack_id(pool: &UserPool) -> String {
    pool.status
        .as_ref()
        .and_then(|s| s.stack_id.clone())
        .expect("stack id")
}

/// The status of the stack named (or with the id) `stack`, if CloudFormation knows it.
async fn stack_status(stack: &str) -> Option<String> {
    Some(
        describe_stack(stack)
            .await?
            .stack_status()?
            .as_str()
            .to_owned(),
    )
}

/// Deletes the stack `stack_id` behind the operator's back and waits until it is gone.
async fn delete_stack_out_of_band(stack_id: &str) {
    cloudformation()
        .await
        .delete_stack()
        .stack_name(stack_id)
        .send()
        .await
        .expect("DeleteStack");
    wait::until("the stack deleted", || async {
        stack_status(stack_id)
            .await
            .is_none_or(|s| s == "DELETE_COMPLETE")
    })
    .await;
}

#[tokio::test]
async fn stack_of_another_object_is_never_touched() {
    let t = OperatorNamespace::start("pool-owner", &[]).await;
    let stack = format!("  stackName: {}-shared\n", t.name());
    t.apply_ready_pool("first", &stack).await;
    t.ns.apply(&user_pool_manifest("second", &stack));
    let second = t
        .pool_reason("second", "Ready", "StackOwnedByAnotherObject")
        .await;
    assert!(
        second
            .condition("Ready")
            .is_some_and(|c| c.message.contains("stackName"))
    );
    assert_eq!(t.operator.aws_calls("CreateStack"), 1);
    assert_eq!(t.operator.aws_calls("UpdateStack"), 0);
}

/// The Ready UserPool "p" (deletion policy Delete) under an operator that resyncs every
/// `resync` seconds, after its stack was deleted behind the operator's back; returns the
/// deleted stack's id.
async fn pool_without_its_stack(prefix: &str, resync: &str) -> (OperatorNamespace, String) {
    let env = [("RESYNC_INTERVAL_SECONDS", resync)];
    let spec = "  deletionPolicy: Delete\n";
    let (t, _) = OperatorNamespace::start_with_pool(prefix, &env, "p", spec).await;
    let deleted = stack_id(&t.ready_pool("p").await);
    delete_stack_out_of_band(&deleted).await;
    (t, deleted)
}

#[tokio::test]
async fn stack_deleted_out_of_band_is_recreated() {
    let (t, first_stack) = pool_without_its_stack("pool-resync", "2").await;
    wait_for(&t.pools, "p", "a new stack", |p| {
        is_ready(p) && stack_id(p) != first_stack
    })
    .await;
    assert!(t.ns.events().contains("StackRecreated"));
}

#[tokio::test]
async fn a_reconcile_request_recreates_a_stack_deleted_out_of_band() {
    // An hour between resyncs: only the request can find the missing stack.
    let (t, first_stack) = pool_without_its_stack("pool-request", "3600").await;
    t.ns.request_reconcile("userpool", "p", "t1");
    let pool = wait_for(&t.pools, "p", "request t1 handled and Ready", |p| {
        p.last_handled_reconcile_at() == Some("t1") && is_ready(p)
    })
    .await;
    let stack_name = pool
        .status
        .as_ref()
        .and_then(|s| s.stack_name.clone())
        .expect("stack name");
    let status = stack_status(&stack_name).await;
    assert!(
        status
            .as_deref()
            .is_some_and(|s| s.ends_with("_COMPLETE") && !s.starts_with("DELETE")),
        "the pool's stack {stack_name} exists again: {status:?}"
    );
    assert_ne!(stack_id(&pool), first_stack, "a new stack");
}

#[tokio::test]
async fn only_the_leader_reconciles() {
    let ns = TestNamespace::create("pool-leader");
    let leader_env = [
        ("LEADER_ELECTION", "true"),
        ("POD_NAMESPACE", ns.name()),
        ("LEASE_NAME", "operator-leader"),
    ];
    let mut first = OperatorProcess::start(ns.name(), &leader_env);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&user_pool_manifest("p", ""));
    wait_for(&api, "p", "Ready", is_ready).await;
    let mut second = OperatorProcess::start(ns.name(), &leader_env);
    second.wait_for_log("waiting for the leader's lease").await;
    ns.apply(&user_pool_manifest("p", "  groups: [{name: admins}]\n"));
    wait_for(&api, "p", "Ready after update", is_ready).await;

    let reconciles = |op: &OperatorProcess| {
        op.metric_sum("cognito_operator_reconciles_total", "kind=\"UserPool\"")
    };
    assert!(reconciles(&first) > 0);
    assert_eq!(reconciles(&second), 0, "the standby must not reconcile");
    second.kill();

    // The leader's graceful exit releases the Lease: a new replica takes over at once.
    first.stop();
    let third = OperatorProcess::start(ns.name(), &leader_env);
    ns.apply(&user_pool_manifest(
        "p",
        "  groups: [{name: admins}, {name: readers}]\n",
    ));
    wait_for(&api, "p", "Ready under the new leader", is_ready).await;
    assert!(reconciles(&third) > 0);
}

#[tokio::test]
async fn client_secret_reaches_only_the_connection_secret() {
    let spec = "  clients: [{name: backend, generateSecret: true}]\n";
    let (t, _) = OperatorNamespace::start_with_pool("pool-secret", &[], "s", spec).await;
    let data = t
        .secrets
        .get("s-cognito")
        .await
        .expect("connection Secret")
        .data
        .expect("data");
    let client_secret = String::from_utf8(data["backend.clientSecret"].0.clone()).expect("UTF-8");
    assert!(client_secret.len() > 10);

    let status = kubectl(&["get", "userpool", "s", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get");
    for (place, text) in [
        ("status", status),
        ("events", t.ns.events()),
        ("operator log", t.operator.log_text()),
    ] {
        assert!(
            !text.contains(&client_secret),
            "the client secret leaked into the {place}"
        );
    }
}

#[tokio::test]
async fn allow_replacement_replaces_the_pool() {
    let t = OperatorNamespace::start("pool-replace", &[]).await;
    let old_id = t
        .apply_ready_pool("p", "  schema: [{name: tier}]\n")
        .await
        .pool_id;

    // The emulator keeps the replacing update in progress for 3 s, as CloudFormation would.
    let replacing =
        "  allowReplacement: true\n  schema: []\n  tags: {emulator/update-seconds: '3'}\n";
    t.ns.apply(&user_pool_manifest("p", replacing));
    // An edit while the replacement runs updates the new pool; it does not replace it again.
    wait_for(&t.pools, "p", "replacement submitted", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.pool_revision == Some(1) && s.stack_status.as_deref() == Some("UPDATE_IN_PROGRESS")
        })
    })
    .await;
    t.ns.apply(&user_pool_manifest(
        "p",
        &format!("{replacing}  groups: [{{name: admins}}]\n"),
    ));
    let after = wait_for(&t.pools, "p", "a new pool with the group", |p| {
        is_ready(p)
            && p.status.as_ref().and_then(|s| s.user_pool_id.as_deref()) != Some(old_id.as_str())
    })
    .await;
    assert_eq!(after.status.as_ref().and_then(|s| s.pool_revision), Some(1));
    assert!(t.ns.events().contains("Replacing"));
    assert_eq!(
        emulator_pool(&after).await.groups().await.len(),
        1,
        "the edit reached the new pool"
    );
}

#[tokio::test]
async fn same_name_in_two_namespaces_gets_two_pools_and_the_secret_comes_back() {
    let first = OperatorNamespace::start("pool-twin-a", &[]).await;
    let second = OperatorNamespace::start("pool-twin-b", &[]).await;

    first.ns.apply(&user_pool_manifest("shop", ""));
    second.ns.apply(&user_pool_manifest("shop", ""));
    let a = first.ready_pool("shop").await.status.expect("status");
    let b = second.ready_pool("shop").await.status.expect("status");
    assert_ne!(a.user_pool_id, b.user_pool_id);
    assert_ne!(a.stack_name, b.stack_name);

    // The connection Secret is owned and watched: deleting it brings it back.
    let secrets: &Api<Secret> = &first.secrets;
    secrets
        .delete("shop-cognito", &Default::default())
        .await
        .expect("delete Secret");
    wait::until("the connection Secret recreated", || async {
        matches!(secrets.get_opt("shop-cognito").await, Ok(Some(_)))
    })
    .await;
}

#[tokio::test]
async fn one_operator_serves_each_listed_namespace_and_no_other() {
    let listed = [
        TestNamespace::create("watch-a"),
        TestNamespace::create("watch-b"),
    ];
    let unlisted = TestNamespace::create("watch-c");
    let watched = format!("{},{}", listed[0].name(), listed[1].name());
    // Declared after the namespaces: stopped before they are deleted.
    let operator = OperatorProcess::start(listed[0].name(), &[("WATCH_NAMESPACES", &watched)]);
    let client = kube_client().await;
    for ns in listed.iter().chain([&unlisted]) {
        ns.apply(&user_pool_manifest("p", ""));
    }
    for ns in &listed {
        let pools = Api::<UserPool>::namespaced(client.clone(), ns.name());
        wait_for(&pools, "p", "UserPool Ready", is_ready).await;
    }
    let ignored = Api::<UserPool>::namespaced(client, unlisted.name())
        .get("p")
        .await
        .expect("get UserPool");
    assert!(ignored.status.is_none() && ignored.metadata.finalizers.is_none());
    assert_eq!(operator.aws_calls("CreateStack"), 2);
}
