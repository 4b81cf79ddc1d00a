//! Attacks of a namespace tenant on CloudFormation stacks that are not its own: the
//! tenant has the built-in `admin` role in its namespace only and acts through
//! impersonation. Each attack is refused; an admin's setting is what allows adoption.

use cognito_crds::UserPool;
use cognito_operator::userpool::placement;
use cognito_operator_tests::{
    OperatorNamespace, REGION, cloudformation, describe_stack, namespace_tenant,
    objects::{Reconciled, user_pool_manifest},
    unique, wait_for_deletion,
};
use kube::{Api, api::PostParams};
use serde_json::json;

/// A UserPool as a tenant would write it: the test region, `spec` fields, `annotations`.
fn tenant_pool(name: &str, spec: serde_json::Value, annotations: serde_json::Value) -> UserPool {
    let mut spec = spec;
    spec["region"] = REGION.into();
    serde_json::from_value(serde_json::json!({
        "apiVersion": "cognito.kubeauth.dev/v1alpha1",
        "kind": "UserPool",
        "metadata": {"name": name, "annotations": annotations},
        "spec": spec,
    }))
    .expect("a UserPool")
}

/// A stack made outside the operator (no owner tags) holding a "production" pool.
async fn foreign_stack() -> String {
    let name = unique("production");
    let body = r#"{"Resources": {"UserPool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "production"}}}}"#;
    cloudformation()
        .await
        .create_stack()
        .stack_name(&name)
        .template_body(body)
        .send()
        .await
        .expect("CreateStack");
    name
}

#[tokio::test]
async fn a_tenant_can_neither_adopt_nor_delete_a_foreign_stack() {
    let t = OperatorNamespace::start("tenant-hijack", &[]).await;
    let (_, tenant) = namespace_tenant(&t.ns).await;
    let production = foreign_stack().await;

    let hijack = tenant_pool(
        "hijack",
        json!({"stackName": production, "deletionPolicy": "Delete"}),
        json!({"cognito.kubeauth.dev/adopt": "true"}),
    );
    Api::<UserPool>::namespaced(tenant.clone(), t.name())
        .create(&PostParams::default(), &hijack)
        .await
        .expect("the tenant may create UserPools in its namespace");

    let refused = t
        .pool_reason("hijack", "Ready", "StackExistsNotAdopted")
        .await;
    let message = &refused.condition("Ready").expect("Ready").message;
    assert!(message.contains("--adopt-namespaces"), "{message}");
    assert_eq!(t.operator.aws_calls("UpdateStack"), 0);

    Api::<UserPool>::namespaced(tenant, t.name())
        .delete("hijack", &Default::default())
        .await
        .expect("the tenant may delete its UserPool");
    wait_for_deletion(&t.pools, "hijack", "UserPool deleted").await;
    let stack = describe_stack(&production).await.expect("DescribeStacks");
    assert_eq!(
        stack.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE"),
        "the foreign stack is untouched"
    );
    assert_eq!(t.operator.aws_calls("DeleteStack"), 0);
    let events = t.ns.events();
    assert!(
        events.contains("NotDeleted") && !events.contains("is gone"),
        "{events}"
    );
}

#[tokio::test]
async fn a_tenant_cannot_squat_another_namespaces_default_stack_name() {
    let t = OperatorNamespace::start("tenant-squat", &[]).await;
    let (_, tenant) = namespace_tenant(&t.ns).await;
    let victim = tenant_pool("shop", json!({}), json!({}));
    let victims_name = placement::stack_name(&victim, None, "team-b");

    let squat = tenant_pool("squat", json!({"stackName": victims_name}), json!({}));
    let refusal = Api::<UserPool>::namespaced(tenant, t.name())
        .create(&PostParams::default(), &squat)
        .await
        .expect_err("admission refuses a default-shaped stackName");
    assert!(refusal.to_string().contains("reserved"), "{refusal}");
    assert_eq!(t.operator.aws_calls("CreateStack"), 0);
}

#[tokio::test]
async fn a_pool_back_with_a_new_uid_takes_its_stack_back_only_when_an_admin_allows() {
    let mut t = OperatorNamespace::start("tenant-return", &[]).await;
    let first = t.apply_ready_pool("p", "").await;
    let stack_name = t.ready_pool("p").await.status.and_then(|s| s.stack_name);
    t.ns.delete("userpool", "p");

    // Re-applied (a new UID): the stack still carries the old UID, and the tenant's
    // annotation alone does not hand it over.
    t.ns.apply(&user_pool_manifest("p", ""));
    t.ns.annotate("userpool", "p", "cognito.kubeauth.dev/adopt", "true");
    let refused = t
        .pool_reason("p", "Ready", "StackOwnedByAnotherObject")
        .await;
    let message = &refused.condition("Ready").expect("Ready").message;
    assert!(message.contains("earlier UserPool"), "{message}");

    // The admin allows adoption in this namespace: the pool takes its stack back.
    let namespace = t.name().to_owned();
    t.restart_operator(&[("ADOPT_NAMESPACES", &namespace)]);
    let back = t.ready_pool("p").await.status.expect("status");
    assert_eq!(back.stack_name, stack_name);
    assert_eq!(back.user_pool_id.as_deref(), Some(first.pool_id.as_str()));
    assert_eq!(t.operator.aws_calls("CreateStack"), 0);
}
