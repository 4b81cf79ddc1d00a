//! The UserPool controller end to end: the real operator binary, the real API server
//! (objects applied with kubectl) and CloudFormation + Cognito in the emulator.

use std::time::{Duration, Instant};

use cognito_operator::crd::UserPool;
use cognito_operator_tests::{
    OperatorProcess, TestNamespace, aws_config, kube_client, kubectl, kubectl_with_stdin,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

fn pool_manifest(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: cognito.kubeauth.dev/v1alpha1\nkind: UserPool\nmetadata: {{name: {name}}}\nspec:\n  region: us-east-1\n{extra_spec}"
    )
}

fn apply(ns: &TestNamespace, manifest: &str) {
    kubectl_with_stdin(&["apply", "-n", ns.name(), "-f", "-"], manifest)
        .run()
        .expect_success("apply");
}

/// Polls the UserPool until `done` holds, for at most 60 s.
async fn wait_for(
    api: &Api<UserPool>,
    name: &str,
    operator: &OperatorProcess,
    what: &str,
    done: impl Fn(&UserPool) -> bool,
) -> UserPool {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(pool) = api.get(name).await
            && done(&pool)
        {
            return pool;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {name}: {what}\nstatus: {:?}\noperator log:\n{}",
            api.get(name).await.ok().and_then(|p| p.status),
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
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

    apply(&ns, &pool_manifest("shop", "  groups: [{name: admins}]\n"));
    let pool = wait_for(&api, "shop", &operator, "Ready", is_ready).await;
    let status = pool.status.clone().expect("status");
    let pool_id = status.user_pool_id.clone().expect("pool id");
    assert_eq!(
        status.stack_name.as_deref(),
        Some(format!("{}-shop-cognito", ns.name()).as_str())
    );
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
    apply(&ns, &pool_manifest("shop", "  groups: [{name: admins}]\n"));
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
    apply(
        &ns,
        &pool_manifest(
            "shop",
            "  groups: [{name: admins}, {name: readers}]\n  passwordPolicy: {minimumLength: 12}\n",
        ),
    );
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

    apply(&ns, &pool_manifest("p", "  schema: [{name: tier}]\n"));
    wait_for(&api, "p", &operator, "Ready", is_ready).await;
    let updates = operator.aws_calls("UpdateStack");

    // Removing a schema attribute is not something CloudFormation can do in place.
    apply(&ns, &pool_manifest("p", "  schema: []\n"));
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

    apply(&ns, &pool_manifest("gone", "  deletionPolicy: Delete\n"));
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
    apply(
        &ns,
        &pool_manifest("first", &format!("  stackName: {stack}\n")),
    );
    wait_for(&api, "first", &operator, "Ready", is_ready).await;
    apply(
        &ns,
        &pool_manifest("second", &format!("  stackName: {stack}\n")),
    );
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

    apply(&ns, &pool_manifest("p", "  deletionPolicy: Delete\n"));
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
