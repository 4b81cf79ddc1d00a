//! Cognito triggers end to end, against the real control plane and the emulator: sink
//! triggers get a forwarder function in the stack whose secret never shows in clear
//! text, tenant functions get an invoke permission limited to the pool, and a tenant
//! cannot wire (or grant itself) a function handed to another namespace.

use cognito_crds::UserPool;
use cognito_operator::userpool::{placement::OWNER_NAMESPACE_TAG, triggers::forwarder_name};
use cognito_operator_tests::{
    OperatorNamespace, REGION, TestNamespace, aws_config, cloudformation, describe_stack,
    environment, kubectl, namespace_tenant,
    objects::{Reconciled, user_pool_manifest},
    unique,
    wait::{until, wait_for},
};
use kube::{Api, api::PostParams};
use serde_json::{Value, json};

const SECRET: &str = "sink-secret-0123456789-abcdefghijklmnop";
const NEW_SECRET: &str = "sink-secret-rotated-9876543210-qrstuvwxyz";

async fn lambda() -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&aws_config().await)
}

/// A Lambda function made outside the operator, tagged for `owner_namespace` if any; its
/// ARN.
async fn tenant_function(owner_namespace: Option<&str>) -> String {
    let stack = unique("hooks");
    let template = json!({
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}}},
            "Function": {"Type": "AWS::Lambda::Function", "Properties": {
                "FunctionName": stack,
                "Runtime": "python3.13", "Handler": "index.handler",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Code": {"ZipFile": "def handler(event, context):\n    return event\n"}}},
        },
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Function", "Arn"]}}},
    });
    cloudformation()
        .await
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("CreateStack of a tenant function");
    let described = describe_stack(&stack).await.expect("the function's stack");
    let arn = described.outputs()[0]
        .output_value()
        .expect("function ARN")
        .to_owned();
    // How an administrator hands the function to a namespace.
    if let Some(namespace) = owner_namespace {
        lambda()
            .await
            .tag_resource()
            .resource(&arn)
            .tags(OWNER_NAMESPACE_TAG, namespace)
            .send()
            .await
            .expect("TagResource");
    }
    arn
}

/// The environment of the function `name`.
async fn function_variables(name: &str) -> std::collections::HashMap<String, String> {
    lambda()
        .await
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .expect("GetFunctionConfiguration")
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default()
}

/// The statements of `function`'s resource policy.
async fn policy_statements(function: &str) -> Vec<Value> {
    match lambda()
        .await
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(policy) => {
            let policy: Value =
                serde_json::from_str(policy.policy().unwrap_or("{}")).expect("policy JSON");
            policy["Statement"].as_array().cloned().unwrap_or_default()
        }
        Err(_) => Vec::new(),
    }
}

fn sink_secret_manifest(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: sink}}\nstringData: {{trigger-secret: {value}}}\n"
    )
}

fn triggers_spec(function: &str) -> String {
    format!(
        r#"  triggers:
    sink: {{url: "https://hooks.example.com/triggers", secretRef: {{name: sink}}, timeoutMilliseconds: 1500}}
    preSignUp: {{sink: true}}
    postConfirmation: {{lambdaArn: "{function}"}}
    preTokenGeneration: {{sink: true, eventVersion: V2_0}}
"#
    )
}

#[tokio::test]
async fn sink_triggers_get_a_forwarder_and_functions_a_permission_for_this_pool_only() {
    let t = OperatorNamespace::start("triggers", &[]).await;
    let function = tenant_function(Some(t.name())).await;
    t.ns.apply(&sink_secret_manifest(SECRET));
    let pool = t.apply_ready_pool("p", &triggers_spec(&function)).await;
    let ready = t.ready_pool("p").await;
    let status = ready.status.clone().expect("status");
    let pool_arn = status.user_pool_arn.clone().expect("pool ARN");
    let stack_name = status.stack_name.clone().expect("stack name");

    let config = pool
        .describe()
        .await
        .expect("the pool")
        .lambda_config()
        .cloned()
        .expect("LambdaConfig");
    let forwarder = config.pre_sign_up().expect("PreSignUp").to_owned();
    assert!(
        forwarder.ends_with(&forwarder_name(&stack_name)),
        "{forwarder}"
    );
    assert_eq!(config.post_confirmation(), Some(function.as_str()));
    let token = config
        .pre_token_generation_config()
        .expect("PreTokenGenerationConfig");
    assert_eq!(token.lambda_arn(), forwarder.as_str());
    assert_eq!(token.lambda_version().as_str(), "V2_0");

    for target in [&function, &forwarder] {
        let statements = policy_statements(target).await;
        assert_eq!(statements.len(), 1, "{target}: {statements:?}");
        assert_eq!(
            statements[0]["Principal"]["Service"], "cognito-idp.amazonaws.com",
            "{target}"
        );
        assert_eq!(
            statements[0]["Condition"]["ArnLike"]["AWS:SourceArn"], pool_arn,
            "{target}: only this pool may invoke"
        );
    }

    let variables = function_variables(&forwarder).await;
    assert_eq!(
        variables.get("SINK_URL").map(String::as_str),
        Some("https://hooks.example.com/triggers")
    );
    assert_eq!(
        variables.get("SINK_TIMEOUT_MS").map(String::as_str),
        Some("1500")
    );
    assert_eq!(
        variables.get("SINK_SECRET").map(String::as_str),
        Some(SECRET)
    );

    // The secret is in no template, no stack answer, no status, Event or log.
    let stack = describe_stack(&stack_name).await.expect("the stack");
    let parameters: Vec<_> = stack
        .parameters()
        .iter()
        .map(|p| p.parameter_value().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(parameters, ["****"], "NoEcho hides the value");
    let template = cloudformation()
        .await
        .get_template()
        .stack_name(&stack_name)
        .send()
        .await
        .expect("GetTemplate")
        .template_body()
        .unwrap_or_default()
        .to_owned();
    let yaml = kubectl(&["get", "userpool", "p", "-n", t.name(), "-o", "yaml"])
        .run()
        .expect_success("get");
    for (place, text) in [
        ("template", template),
        ("UserPool", yaml),
        ("events", t.ns.events()),
        ("operator log", t.operator.log_text()),
    ] {
        assert!(
            !text.contains(SECRET),
            "the sink secret leaked into the {place}"
        );
    }

    // A new secret in the tenant's Secret reaches the forwarder (the operator watches it).
    t.ns.apply(&sink_secret_manifest(NEW_SECRET));
    until("the forwarder has the new secret", || async {
        function_variables(&forwarder)
            .await
            .get("SINK_SECRET")
            .is_some_and(|v| v == NEW_SECRET)
    })
    .await;
}

#[tokio::test]
async fn a_short_or_missing_sink_secret_is_reported_until_a_good_one_arrives() {
    let t = OperatorNamespace::start("triggers-secret", &[]).await;
    let spec = "  triggers:\n    sink: {url: \"https://hooks.example.com/triggers\", secretRef: {name: sink}}\n    postAuthentication: {sink: true}\n";
    t.ns.apply(&user_pool_manifest("p", spec));
    let missing = t
        .pool_reason("p", "Ready", "TriggerSinkSecretInvalid")
        .await;
    let message = &missing.condition("Ready").expect("Ready").message;
    assert!(message.contains("Secret sink does not exist"), "{message}");

    // Watched: the Secret's arrival is looked at without waiting for a resync.
    t.ns.apply(&sink_secret_manifest("too-short"));
    wait_for(&t.pools, "p", "the short secret refused", |p| {
        p.condition("Ready")
            .is_some_and(|c| c.message.contains("fewer than 32 characters"))
    })
    .await;
    assert!(!t.ns.events().contains("too-short"));
    assert_eq!(t.operator.aws_calls("CreateStack"), 0);

    t.ns.apply(&sink_secret_manifest(SECRET));
    t.ready_pool("p").await;
}

/// Attack: a tenant wires a function handed to another namespace, or one nobody handed
/// over, hoping the operator grants its pool the right to invoke it.
#[tokio::test]
async fn a_tenant_cannot_wire_a_function_of_another_namespace() {
    let t = OperatorNamespace::start("triggers-attack", &[]).await;
    let (_, tenant) = namespace_tenant(&t.ns).await;
    let victims = [
        tenant_function(Some("billing")).await,
        tenant_function(None).await,
    ];
    for (index, victim) in victims.iter().enumerate() {
        let name = format!("steal{index}");
        let pool: UserPool = serde_json::from_value(json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "UserPool",
            "metadata": {"name": name},
            "spec": {
                "region": REGION,
                "triggers": {"preAuthentication": {"lambdaArn": victim}},
            },
        }))
        .expect("a UserPool");
        Api::<UserPool>::namespaced(tenant.clone(), t.name())
            .create(&PostParams::default(), &pool)
            .await
            .expect("the tenant may create UserPools in its namespace");
        let refused = t
            .pool_reason(&name, "Ready", "TriggerFunctionRefused")
            .await;
        let message = &refused.condition("Ready").expect("Ready").message;
        assert!(message.contains(victim.as_str()), "{message}");
        assert!(
            policy_statements(victim).await.is_empty(),
            "no permission was granted on {victim}"
        );
    }
    assert_eq!(t.operator.aws_calls("CreateStack"), 0);
}

#[test]
fn the_trigger_examples_are_valid_for_the_api_server() {
    let ns = TestNamespace::create("triggers-examples");
    for example in [
        "examples/userpool-triggers.yaml",
        "examples/trigger-sink-ingress.yaml",
    ] {
        kubectl(&["apply", "--dry-run=server", "-n", ns.name(), "-f"])
            .arg(environment().repo_root.join(example))
            .run()
            .expect_success(example);
    }
}
