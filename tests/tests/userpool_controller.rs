//! The UserPool controller end to end: the real operator binary, the real API server
//! (objects applied with kubectl) and CloudFormation + Cognito in the emulator.

use std::time::{Duration, Instant};

use cognito_operator::crd::UserPool;
use cognito_operator_tests::{
    OperatorProcess, TestNamespace, aws_config, kube_client, kubectl, wait_for,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

fn pool_manifest(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: UserPool\nmetadata: {{name: {name}}}\nspec:\n  region: us-east-1\n{extra_spec}"
    )
}

fn condition(pool: &UserPool, type_: &str) -> Option<(String, String, String)> {
    pool.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

fn is_ready(pool: &UserPool) -> bool {
    let synced_now =
        pool.status.as_ref().and_then(|s| s.observed_generation) == pool.metadata.generation;
    synced_now
        && condition(pool, "Ready").is_some_and(|c| c.0 == "True")
        && condition(pool, "Synced").is_some_and(|c| c.0 == "True")
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

#[tokio::test]
async fn create_update_noop_and_retain() {
    let ns = TestNamespace::create("pool-lifecycle");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws_config().await);

    ns.apply(&pool_manifest("shop", "  groups: [{name: admins}]\n"));
    let pool = wait_for(&api, "shop", &operator, "Ready", is_ready).await;
    let status = pool.status.clone().expect("status");
    let pool_id = status.user_pool_id.clone().expect("pool id");
    assert_eq!(
        status.stack_name.as_deref(),
        Some(format!("{}-shop-cognito", ns.name()).as_str())
    );
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
    let described = cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("DescribeUserPool");
    let described = described.user_pool().expect("pool");
    assert_eq!(
        described.name(),
        Some(format!("{}-shop", ns.name()).as_str())
    );
    cognito
        .describe_user_pool_client()
        .user_pool_id(&pool_id)
        .client_id(&status.clients[0].client_id)
        .send()
        .await
        .expect("the client exists");
    let groups = cognito
        .list_groups()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("ListGroups");
    assert_eq!(
        groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name())
            .collect::<Vec<_>>(),
        ["admins"]
    );

    // The connection Secret carries what an application needs.
    let secrets: Api<Secret> = Api::namespaced(kube_client().await, ns.name());
    let secret = secrets
        .get("shop-cognito")
        .await
        .expect("connection Secret");
    let data = secret.data.expect("data");
    assert_eq!(data["userPoolId"].0, pool_id.as_bytes());
    assert_eq!(data["clientId"].0, status.clients[0].client_id.as_bytes());
    assert_eq!(
        data["shop.clientId"].0,
        status.clients[0].client_id.as_bytes()
    );
    assert!(
        data.contains_key("issuer") && data.contains_key("jwksUri") && data.contains_key("region")
    );
    assert_eq!(
        status.connection_secret_name.as_deref(),
        Some("shop-cognito")
    );

    // Re-applying the same object writes nothing to CloudFormation.
    let writes = |op: &OperatorProcess| {
        op.aws_calls("CreateStack") + op.aws_calls("UpdateStack") + op.aws_calls("DeleteStack")
    };
    let before = writes(&operator);
    assert_eq!(before, 1, "one CreateStack");
    ns.apply(&pool_manifest("shop", "  groups: [{name: admins}]\n"));
    kubectl(&["annotate", "-n", ns.name(), "userpool", "shop", "touched=1"])
        .run()
        .expect_success("annotate");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        writes(&operator),
        before,
        "an unchanged object costs no CloudFormation write"
    );

    // An update: a new group and a stricter password policy.
    ns.apply(&pool_manifest(
        "shop",
        "  groups: [{name: admins}, {name: readers}]\n  passwordPolicy: {minimumLength: 12}\n",
    ));
    wait_for(&api, "shop", &operator, "Ready after update", is_ready).await;
    assert_eq!(operator.aws_calls("UpdateStack"), 1);
    let described = cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("DescribeUserPool");
    let policy = described
        .user_pool()
        .and_then(|p| p.policies())
        .and_then(|p| p.password_policy())
        .expect("policy");
    assert_eq!(
        policy.minimum_length(),
        Some(12),
        "updated in place, same pool id"
    );
    let groups = cognito
        .list_groups()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("ListGroups");
    assert_eq!(groups.groups().len(), 2);

    // Deleting with the default Retain policy keeps the pool.
    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "userpool",
        "shop",
        "--timeout=30s",
    ])
    .run()
    .expect_success("delete");
    cognito
        .describe_user_pool()
        .user_pool_id(&pool_id)
        .send()
        .await
        .expect("Retain keeps the pool");
    let events = events(&ns);
    for reason in ["Creating", "Ready", "Updating", "Retained"] {
        assert!(events.contains(reason), "missing Event {reason}:\n{events}");
    }
}

#[tokio::test]
async fn create_only_change_is_refused_without_aws_calls() {
    let ns = TestNamespace::create("pool-refuse");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&pool_manifest("p", "  schema: [{name: tier}]\n"));
    wait_for(&api, "p", &operator, "Ready", is_ready).await;
    let updates = operator.aws_calls("UpdateStack");

    // Removing a schema attribute is not something CloudFormation can do in place.
    ns.apply(&pool_manifest("p", "  schema: []\n"));
    let pool = wait_for(&api, "p", &operator, "refusal", |p| {
        condition(p, "Synced").is_some_and(|c| c.1 == "CreateOnlyChangeRefused")
    })
    .await;
    let (_, _, message) = condition(&pool, "Synced").expect("Synced");
    assert!(
        message.contains("schema attribute tier removed") && message.contains("allowReplacement"),
        "{message}"
    );
    assert!(
        condition(&pool, "Ready").is_some_and(|c| c.0 == "True"),
        "the pool itself still works"
    );
    assert_eq!(
        operator.aws_calls("UpdateStack"),
        updates,
        "no CloudFormation write"
    );
    assert!(events(&ns).contains("Refused"));
}

#[tokio::test]
async fn delete_policy_deletes_the_stack_and_pool() {
    let ns = TestNamespace::create("pool-delete");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&aws_config().await);
    let cloudformation = aws_sdk_cloudformation::Client::new(&aws_config().await);

    ns.apply(&pool_manifest("gone", "  deletionPolicy: Delete\n"));
    let pool = wait_for(&api, "gone", &operator, "Ready", is_ready).await;
    let status = pool.status.expect("status");
    let pool_id = status.user_pool_id.expect("pool id");

    kubectl(&[
        "delete",
        "-n",
        ns.name(),
        "userpool",
        "gone",
        "--timeout=60s",
    ])
    .run()
    .expect_success("delete");
    assert!(
        cognito
            .describe_user_pool()
            .user_pool_id(&pool_id)
            .send()
            .await
            .is_err(),
        "pool deleted"
    );
    let stack = cloudformation
        .describe_stacks()
        .stack_name(status.stack_id.expect("stack id"))
        .send()
        .await
        .expect("a deleted stack is still described by id");
    assert_eq!(
        stack.stacks()[0].stack_status().map(|s| s.as_str()),
        Some("DELETE_COMPLETE")
    );
    assert!(operator.aws_calls("DeleteStack") >= 1);
}

#[tokio::test]
async fn stack_of_another_object_is_never_touched() {
    let ns = TestNamespace::create("pool-owner");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    let stack = format!("{}-shared", ns.name());
    ns.apply(&pool_manifest("first", &format!("  stackName: {stack}\n")));
    wait_for(&api, "first", &operator, "Ready", is_ready).await;
    ns.apply(&pool_manifest("second", &format!("  stackName: {stack}\n")));
    let second = wait_for(&api, "second", &operator, "refusal", |p| {
        condition(p, "Ready").is_some_and(|c| c.1 == "StackOwnedByAnotherObject")
    })
    .await;
    assert!(condition(&second, "Ready").is_some_and(|c| c.2.contains("stackName")));
    assert_eq!(operator.aws_calls("CreateStack"), 1);
    assert_eq!(operator.aws_calls("UpdateStack"), 0);
}

#[tokio::test]
async fn stack_deleted_out_of_band_is_recreated() {
    let ns = TestNamespace::create("pool-resync");
    let operator = OperatorProcess::start(ns.name(), &[("RESYNC_INTERVAL_SECONDS", "2")]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let cloudformation = aws_sdk_cloudformation::Client::new(&aws_config().await);

    ns.apply(&pool_manifest("p", "  deletionPolicy: Delete\n"));
    let pool = wait_for(&api, "p", &operator, "Ready", is_ready).await;
    let first_stack = pool.status.and_then(|s| s.stack_id).expect("stack id");
    cloudformation
        .delete_stack()
        .stack_name(&first_stack)
        .send()
        .await
        .expect("DeleteStack");

    wait_for(&api, "p", &operator, "a new stack", |p| {
        is_ready(p)
            && p.status.as_ref().and_then(|s| s.stack_id.as_deref()) != Some(first_stack.as_str())
    })
    .await;
    assert!(events(&ns).contains("StackRecreated"));
}

#[tokio::test]
async fn cloudformation_failure_is_surfaced_then_fixed_by_a_spec_change() {
    let ns = TestNamespace::create("pool-failure");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    // Cognito refuses to retype the standard attribute email: the stack rolls back.
    ns.apply(&pool_manifest(
        "p",
        "  schema: [{name: email, attributeDataType: Number}]\n",
    ));
    let pool = wait_for(&api, "p", &operator, "create failure", |p| {
        condition(p, "Ready").is_some_and(|c| c.1 == "StackCreateFailed")
    })
    .await;
    let (_, _, message) = condition(&pool, "Ready").expect("Ready");
    assert!(
        message.contains("ROLLBACK_COMPLETE")
            && message.contains("standard schema attribute email"),
        "{message}"
    );
    assert!(events(&ns).contains("standard schema attribute email"));

    // Unchanged spec: the failed stack is left alone (no retry storm).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(operator.aws_calls("CreateStack"), 1);
    assert_eq!(operator.aws_calls("DeleteStack"), 0);

    // A fixed spec: the rolled-back stack is deleted and created again.
    ns.apply(&pool_manifest("p", "  schema: [{name: tier}]\n"));
    wait_for(&api, "p", &operator, "Ready after the fix", is_ready).await;
    assert_eq!(operator.aws_calls("DeleteStack"), 1);
    assert_eq!(operator.aws_calls("CreateStack"), 2);
}

#[tokio::test]
async fn crash_after_create_stack_converges_without_a_second_stack() {
    let ns = TestNamespace::create("pool-crash");
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    ns.apply(&pool_manifest("p", ""));
    let pool = api.get("p").await.expect("pool");

    // What an operator killed right after CreateStack leaves behind: a stack tagged for
    // this object, and no trace of it in status.
    let template = cognito_operator::template::render(
        &pool.spec,
        &cognito_operator::template::TemplateInputs {
            pool_name: &format!("{}-p", ns.name()),
            default_client_name: "p",
            pool_revision: 0,
        },
    );
    let cloudformation = aws_sdk_cloudformation::Client::new(&aws_config().await);
    let tag = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    let created = cloudformation
        .create_stack()
        .stack_name(format!("{}-p-cognito", ns.name()))
        .template_body(template.to_json())
        .tags(tag(
            cognito_operator::stack::OWNER_UID_TAG,
            &pool.metadata.uid.clone().expect("uid"),
        ))
        .send()
        .await
        .expect("CreateStack");

    let operator = OperatorProcess::start(ns.name(), &[]);
    let pool = wait_for(&api, "p", &operator, "Ready", is_ready).await;
    assert_eq!(
        pool.status.and_then(|s| s.stack_id),
        created.stack_id().map(str::to_owned)
    );
    assert_eq!(
        operator.aws_calls("CreateStack"),
        0,
        "the existing stack is reused"
    );
}

#[tokio::test]
async fn only_the_leader_reconciles() {
    let ns = TestNamespace::create("pool-leader");
    let leader_env = [
        ("LEADER_ELECTION", "true"),
        ("POD_NAMESPACE", ns.name()),
        ("LEASE_NAME", "operator-leader"),
    ];
    let first = OperatorProcess::start(ns.name(), &leader_env);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&pool_manifest("p", ""));
    wait_for(&api, "p", &first, "Ready", is_ready).await;
    let mut second = OperatorProcess::start(ns.name(), &leader_env);
    tokio::time::sleep(Duration::from_secs(2)).await;
    ns.apply(&pool_manifest("p", "  groups: [{name: admins}]\n"));
    wait_for(&api, "p", &first, "Ready after update", is_ready).await;

    let reconciles = |op: &OperatorProcess| {
        op.metric_sum("cognito_operator_reconciles_total", "kind=\"UserPool\"")
    };
    assert!(reconciles(&first) > 0);
    assert_eq!(reconciles(&second), 0, "the standby must not reconcile");
    second.kill();

    // The leader's graceful exit releases the Lease: a new replica takes over at once.
    let mut first = first;
    first.stop();
    let third = OperatorProcess::start(ns.name(), &leader_env);
    ns.apply(&pool_manifest(
        "p",
        "  groups: [{name: admins}, {name: readers}]\n",
    ));
    wait_for(&api, "p", &third, "Ready under the new leader", is_ready).await;
    assert!(reconciles(&third) > 0);
}

#[tokio::test]
async fn client_secret_reaches_only_the_connection_secret() {
    let ns = TestNamespace::create("pool-secret");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&pool_manifest(
        "s",
        "  clients: [{name: backend, generateSecret: true}]\n",
    ));
    wait_for(&api, "s", &operator, "Ready", is_ready).await;
    let secrets: Api<Secret> = Api::namespaced(kube_client().await, ns.name());
    let data = secrets
        .get("s-cognito")
        .await
        .expect("connection Secret")
        .data
        .expect("data");
    let client_secret = String::from_utf8(data["backend.clientSecret"].0.clone()).expect("UTF-8");
    assert!(client_secret.len() > 10);

    let status = kubectl(&["get", "userpool", "s", "-n", ns.name(), "-o", "yaml"])
        .run()
        .expect_success("get");
    for (place, text) in [
        ("status", status),
        ("events", events(&ns)),
        ("operator log", operator.log_text()),
    ] {
        assert!(
            !text.contains(&client_secret),
            "the client secret leaked into the {place}"
        );
    }
}

#[tokio::test]
async fn unreachable_aws_is_reported_in_a_condition() {
    let ns = TestNamespace::create("pool-unreachable");
    // Nothing listens on port 9 of loopback: every AWS call fails to connect.
    let operator = OperatorProcess::start(ns.name(), &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&pool_manifest("p", ""));
    let pool = wait_for(&api, "p", &operator, "ReconcileError", |p| {
        condition(p, "Synced").is_some_and(|c| c.1 == "ReconcileError")
    })
    .await;
    let (_, _, message) = condition(&pool, "Synced").expect("Synced");
    assert!(message.contains("DescribeStacks"), "{message}");
    assert!(events(&ns).contains("ReconcileError"));
}

#[tokio::test]
async fn an_untagged_stack_is_adopted_only_when_annotated() {
    let ns = TestNamespace::create("pool-adopt");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let cloudformation = aws_sdk_cloudformation::Client::new(&aws_config().await);

    // A stack made by hand (no operator tags) under the name the object will use.
    let body = r#"{"Resources": {"UserPool": {"Type": "AWS::Cognito::UserPool", "DeletionPolicy": "Retain", "Properties": {"UserPoolName": "by-hand"}}}}"#;
    let stack_name = format!("{}-legacy-cognito", ns.name());
    let created = cloudformation
        .create_stack()
        .stack_name(&stack_name)
        .template_body(body)
        .send()
        .await
        .expect("CreateStack");

    ns.apply(&pool_manifest("legacy", ""));
    wait_for(&api, "legacy", &operator, "not adopted", |p| {
        condition(p, "Ready").is_some_and(|c| c.1 == "StackExistsNotAdopted")
    })
    .await;
    assert_eq!(operator.aws_calls("UpdateStack"), 0);

    kubectl(&[
        "annotate",
        "-n",
        ns.name(),
        "userpool",
        "legacy",
        "cognito.kubeauth.dev/adopt=true",
    ])
    .run()
    .expect_success("annotate");
    let pool = wait_for(&api, "legacy", &operator, "adopted and Ready", is_ready).await;
    assert_eq!(
        pool.status.and_then(|s| s.stack_id),
        created.stack_id().map(str::to_owned)
    );
    let stack = cloudformation
        .describe_stacks()
        .stack_name(&stack_name)
        .send()
        .await
        .expect("DescribeStacks");
    let tagged = stack.stacks()[0]
        .tags()
        .iter()
        .any(|t| t.key() == Some(cognito_operator::stack::OWNER_UID_TAG));
    assert!(tagged, "the adopted stack now carries the owner tag");
}

#[tokio::test]
async fn reverting_a_failed_update_brings_the_pool_back_in_sync() {
    let ns = TestNamespace::create("pool-revert");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let original = pool_manifest("p", "");
    ns.apply(&original);
    wait_for(&api, "p", &operator, "Ready", is_ready).await;

    // The emulator fails this update and rolls it back, as CloudFormation would.
    ns.apply(&pool_manifest(
        "p",
        "  tags: {emulator/fail-update: simulated failure}\n",
    ));
    let failed = wait_for(&api, "p", &operator, "update failure", |p| {
        condition(p, "Synced").is_some_and(|c| c.1 == "StackUpdateFailed")
    })
    .await;
    assert!(
        condition(&failed, "Ready").is_some_and(|c| c.0 == "True"),
        "the pool keeps working with its previous settings"
    );
    assert!(condition(&failed, "Synced").is_some_and(|c| c.2.contains("simulated failure")));

    // Put back as it was: the stack runs that template, CloudFormation has nothing to
    // update, and the pool is in sync again.
    ns.apply(&original);
    wait_for(&api, "p", &operator, "in sync after the revert", is_ready).await;
    assert_eq!(operator.aws_calls("UpdateStack"), 2);
}

#[tokio::test]
async fn allow_replacement_replaces_the_pool() {
    let ns = TestNamespace::create("pool-replace");
    let operator = OperatorProcess::start(ns.name(), &[]);
    let api: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());

    ns.apply(&pool_manifest("p", "  schema: [{name: tier}]\n"));
    let before = wait_for(&api, "p", &operator, "Ready", is_ready).await;
    let old_id = before.status.and_then(|s| s.user_pool_id).expect("pool id");

    // The emulator keeps the replacing update in progress for 3 s, as CloudFormation would.
    ns.apply(&pool_manifest(
        "p",
        "  allowReplacement: true\n  schema: []\n  tags: {emulator/update-seconds: '3'}\n",
    ));
    // An edit while the replacement runs updates the new pool; it does not replace it again.
    wait_for(&api, "p", &operator, "replacement submitted", |p| {
        p.status.as_ref().is_some_and(|s| {
            s.pool_revision == Some(1) && s.stack_status.as_deref() == Some("UPDATE_IN_PROGRESS")
        })
    })
    .await;
    ns.apply(&pool_manifest(
        "p",
        "  allowReplacement: true\n  schema: []\n  tags: {emulator/update-seconds: '3'}\n  groups: [{name: admins}]\n",
    ));
    let after = wait_for(&api, "p", &operator, "a new pool with the group", |p| {
        is_ready(p)
            && p.status.as_ref().and_then(|s| s.user_pool_id.as_deref()) != Some(old_id.as_str())
    })
    .await;
    assert_eq!(after.status.as_ref().and_then(|s| s.pool_revision), Some(1));
    assert!(events(&ns).contains("Replacing"));
    let new_id = after.status.and_then(|s| s.user_pool_id).expect("pool id");
    let groups = aws_sdk_cognitoidentityprovider::Client::new(&aws_config().await)
        .list_groups()
        .user_pool_id(&new_id)
        .send()
        .await
        .expect("ListGroups");
    assert_eq!(groups.groups().len(), 1, "the edit reached the new pool");
}

#[tokio::test]
async fn same_name_in_two_namespaces_gets_two_pools_and_the_secret_comes_back() {
    let first_ns = TestNamespace::create("pool-twin-a");
    let second_ns = TestNamespace::create("pool-twin-b");
    let first = OperatorProcess::start(first_ns.name(), &[]);
    let second = OperatorProcess::start(second_ns.name(), &[]);
    let client = kube_client().await;

    first_ns.apply(&pool_manifest("shop", ""));
    second_ns.apply(&pool_manifest("shop", ""));
    let a = wait_for(
        &Api::namespaced(client.clone(), first_ns.name()),
        "shop",
        &first,
        "Ready",
        is_ready,
    )
    .await;
    let b = wait_for(
        &Api::namespaced(client.clone(), second_ns.name()),
        "shop",
        &second,
        "Ready",
        is_ready,
    )
    .await;
    let (a, b) = (a.status.expect("status"), b.status.expect("status"));
    assert_ne!(a.user_pool_id, b.user_pool_id);
    assert_ne!(a.stack_name, b.stack_name);

    // The connection Secret is owned and watched: deleting it brings it back.
    let secrets: Api<Secret> = Api::namespaced(client, first_ns.name());
    secrets
        .delete("shop-cognito", &Default::default())
        .await
        .expect("delete Secret");
    let deadline = Instant::now() + Duration::from_secs(30);
    while secrets
        .get_opt("shop-cognito")
        .await
        .expect("get Secret")
        .is_none()
    {
        assert!(
            Instant::now() < deadline,
            "the connection Secret was not recreated"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
