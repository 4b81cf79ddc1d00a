//! The UserPool controller when things go wrong: CloudFormation failures, an operator
//! killed mid-way, AWS out of reach, and a stack made by hand. The real operator binary,
//! the real API server and CloudFormation + Cognito in the emulator.

use cognito_crds::UserPool;
use cognito_operator_tests::{
    OperatorNamespace, OperatorProcess, TestNamespace, cloudformation, describe_stack, kube_client,
    objects::{Reconciled, is_ready, user_pool_manifest},
    wait_for,
};
use kube::Api;

const KIND: &str = "UserPool";

#[tokio::test]
async fn cloudformation_failure_is_surfaced_then_fixed_by_a_spec_change() {
    let t = OperatorNamespace::start("pool-failure", &[]).await;

    // Cognito refuses to retype the standard attribute email: the stack rolls back.
    t.ns.apply(&user_pool_manifest(
        "p",
        "  schema: [{name: email, attributeDataType: Number}]\n",
    ));
    let pool = t.pool_reason("p", "Ready", "StackCreateFailed").await;
    let message = &pool.condition("Ready").expect("Ready").message;
    assert!(
        message.contains("ROLLBACK_COMPLETE")
            && message.contains("standard schema attribute email"),
        "{message}"
    );
    assert!(t.ns.events().contains("standard schema attribute email"));

    // Unchanged spec: a reconcile (here made by an annotation) leaves the failed stack
    // alone, no retry storm.
    let finished = t.operator.idle(KIND).await;
    t.ns.annotate("userpool", "p", "touched", "1");
    t.operator.reconciled_since(KIND, finished).await;
    assert_eq!(t.operator.aws_calls("CreateStack"), 1);
    assert_eq!(t.operator.aws_calls("DeleteStack"), 0);

    // A fixed spec: the rolled-back stack is deleted and created again.
    t.ns.apply(&user_pool_manifest("p", "  schema: [{name: tier}]\n"));
    t.ready_pool("p").await;
    assert_eq!(t.operator.aws_calls("DeleteStack"), 1);
    assert_eq!(t.operator.aws_calls("CreateStack"), 2);
}

#[tokio::test]
async fn crash_after_create_stack_converges_without_a_second_stack() {
    let ns = TestNamespace::create("pool-crash");
    ns.apply(&user_pool_manifest("p", ""));
    let pools: Api<UserPool> = Api::namespaced(kube_client().await, ns.name());
    let pool = pools.get("p").await.expect("pool");

    // What an operator killed right after CreateStack leaves behind: a stack tagged for
    // this object, and no trace of it in status.
    let uid = pool.metadata.uid.clone().expect("uid");
    let tags = cognito_operator::userpool::placement::stack_tags(&pool, ns.name(), &uid);
    let stack_name = cognito_operator::userpool::placement::stack_name(&pool, None, ns.name());
    let template = cognito_operator::userpool::template::render(
        &pool.spec,
        &cognito_operator::userpool::template::TemplateInputs {
            pool_name: &format!("{}-p", ns.name()),
            default_client_name: "p",
            pool_revision: 0,
            pool_tags: &tags,
            stack_name: &stack_name,
            sink_secret_revision: None,
            provider_secret_versions: &Default::default(),
        },
    );
    let stack_tags = tags.iter().map(|(key, value)| {
        aws_sdk_cloudformation::types::Tag::builder()
            .key(key)
            .value(value)
            .build()
    });
    let created = cloudformation()
        .await
        .create_stack()
        .stack_name(&stack_name)
        .template_body(template.to_json())
        .set_tags(Some(stack_tags.collect()))
        .send()
        .await
        .expect("CreateStack");

    let operator = OperatorProcess::start(ns.name(), &[]);
    let pool = wait_for(&pools, "p", "Ready", is_ready).await;
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
async fn unreachable_aws_is_reported_in_a_condition() {
    // Nothing listens on port 9 of loopback: every AWS call fails to connect.
    let t = OperatorNamespace::start(
        "pool-unreachable",
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
    )
    .await;
    t.ns.apply(&user_pool_manifest("p", ""));
    let pool = t.pool_reason("p", "Synced", "ReconcileError").await;
    let message = &pool.condition("Synced").expect("Synced").message;
    assert!(message.contains("DescribeStacks"), "{message}");
    assert!(t.ns.events().contains("ReconcileError"));
}

#[tokio::test]
async fn an_untagged_stack_is_adopted_only_when_annotated_where_an_admin_allows() {
    // The operator watches only this namespace; `*` allows adoption in all it watches.
    let t = OperatorNamespace::start("pool-adopt", &[("ADOPT_NAMESPACES", "*")]).await;
    let cloudformation = cloudformation().await;

    // A stack made by hand (no operator tags) under the name the object names.
    let body = r#"{"Resources": {"UserPool": {"Type": "AWS::Cognito::UserPool", "DeletionPolicy": "Retain", "Properties": {"UserPoolName": "by-hand"}}}}"#;
    let stack_name = format!("{}-legacy", t.name());
    let created = cloudformation
        .create_stack()
        .stack_name(&stack_name)
        .template_body(body)
        .send()
        .await
        .expect("CreateStack");

    t.ns.apply(&user_pool_manifest(
        "legacy",
        &format!("  stackName: {stack_name}\n"),
    ));
    t.pool_reason("legacy", "Ready", "StackExistsNotAdopted")
        .await;
    assert_eq!(t.operator.aws_calls("UpdateStack"), 0);

    t.ns.annotate("userpool", "legacy", "cognito.kubeauth.dev/adopt", "true");
    let pool = t.ready_pool("legacy").await;
    assert_eq!(
        pool.status.and_then(|s| s.stack_id),
        created.stack_id().map(str::to_owned)
    );
    let stack = describe_stack(&stack_name).await.expect("DescribeStacks");
    let tagged = stack
        .tags()
        .iter()
        .any(|t| t.key() == Some(cognito_operator::userpool::placement::OWNER_UID_TAG));
    assert!(tagged, "the adopted stack now carries the owner tag");
}

#[tokio::test]
async fn reverting_a_failed_update_brings_the_pool_back_in_sync() {
    let (t, _) = OperatorNamespace::start_with_pool("pool-revert", &[], "p", "").await;

    // The emulator fails this update and rolls it back, as CloudFormation would.
    t.ns.apply(&user_pool_manifest(
        "p",
        "  tags: {emulator/fail-update: simulated failure}\n",
    ));
    let failed = t.pool_reason("p", "Synced", "StackUpdateFailed").await;
    assert!(
        failed
            .condition("Ready")
            .is_some_and(|c| c.status == "True"),
        "the pool keeps working with its previous settings"
    );
    assert!(
        failed
            .condition("Synced")
            .is_some_and(|c| c.message.contains("simulated failure"))
    );

    // Put back as it was: the stack runs that template, CloudFormation has nothing to
    // update, and the pool is in sync again.
    t.ns.apply(&user_pool_manifest("p", ""));
    t.ready_pool("p").await;
    assert_eq!(t.operator.aws_calls("UpdateStack"), 2);
}
