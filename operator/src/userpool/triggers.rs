//! The trigger part of a pool's stack, as pure functions of the spec: the pool's
//! `LambdaConfig`, the invoke permissions of the tenant's functions, and the forwarder
//! that sends events to a webhook-api sink.
//!
//! The sink's shared secret never enters the template: the forwarder reads it from a
//! `NoEcho` stack parameter ([`SINK_SECRET_PARAMETER`]) that the operator fills from the
//! tenant's Secret on each create or update. CloudFormation masks NoEcho values in every
//! answer; the function keeps it as an environment variable, which Lambda encrypts at rest
//! and shows only to principals allowed `lambda:GetFunctionConfiguration` on it.

use cognito_crds::userpool::{Target, TokenEventVersion, TriggerSink, Triggers};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// Name of the NoEcho parameter that carries the sink's shared secret.
pub const SINK_SECRET_PARAMETER: &str = "TriggerSinkSecret";
/// The shortest shared secret accepted: short ones can be guessed.
pub const SINK_SECRET_MIN_LENGTH: usize = 32;

/// The forwarder's handler, a file of its own so it can be run and tested alone.
const FORWARDER_CODE: &str = include_str!("forwarder.py");
const FORWARDER: &str = "TriggerForwarder";
const FORWARDER_ROLE: &str = "TriggerForwarderRole";
const FORWARDER_LOGS: &str = "TriggerForwarderLogs";
const FORWARDER_PERMISSION: &str = "TriggerForwarderInvokePermission";
/// Roles the operator creates live under this path, so that an administrator can limit
/// the operator's IAM rights to it.
pub const ROLE_PATH: &str = "/cognito-operator/";

/// What the trigger resources need beyond the spec.
pub struct TriggerInputs<'a> {
    /// Logical id of the pool resource.
    pub pool_id: &'a str,
    /// Name of the stack: the forwarder's function name derives from it.
    pub stack_name: &'a str,
    /// Version of the tenant's sink Secret: a new version changes the template, so the
    /// stack is updated and the forwarder gets the new secret.
    pub sink_secret_revision: Option<&'a str>,
}

/// The pool's `LambdaConfig`, or `None` when no trigger is set.
pub fn lambda_config(triggers: &Triggers) -> Option<Value> {
    let wired = triggers.wired();
    if wired.is_empty() {
        return None;
    }
    let config: Map<String, Value> = wired
        .into_iter()
        .map(|w| {
            let arn = match w.target {
                Target::Function { arn, .. } => json!(arn),
                Target::Sink => json!({ "Fn::GetAtt": [FORWARDER, "Arn"] }),
            };
            let value = match w.event_version {
                Some(version) => json!({
                    "LambdaArn": arn,
                    "LambdaVersion": match version {
                        TokenEventVersion::V1 => "V1_0",
                        TokenEventVersion::V2 => "V2_0",
                        TokenEventVersion::V3 => "V3_0",
                    },
                }),
                None => arn,
            };
            (w.key.to_owned(), value)
        })
        .collect();
    Some(Value::Object(config))
}

/// The stack's parameters for triggers: the sink secret's, when a trigger uses the sink.
pub fn parameters(triggers: &Triggers) -> Map<String, Value> {
    triggers
        .used_sink()
        .map(|_| {
            (
                SINK_SECRET_PARAMETER.to_owned(),
                json!({
                    "Type": "String",
                    "NoEcho": true,
                    "MinLength": SINK_SECRET_MIN_LENGTH,
                    "Description": "Shared secret the trigger forwarder sends to the sink",
                }),
            )
        })
        .into_iter()
        .collect()
}

/// Invoke permissions and the forwarder's resources, by logical id.
pub fn resources(triggers: &Triggers, inputs: &TriggerInputs<'_>) -> Map<String, Value> {
    let pool_arn = json!({ "Fn::GetAtt": [inputs.pool_id, "Arn"] });
    let mut resources = Map::new();
    let granted = triggers.wired().into_iter().filter_map(|w| match w.target {
        Target::Function {
            arn,
            grant_invoke: true,
        } => Some(arn),
        _ => None,
    });
    for arn in granted {
        resources.insert(
            format!("InvokePermission{}", short_hash(arn)),
            invoke_permission(json!(arn), &pool_arn),
        );
    }
    if let Some(sink) = triggers.used_sink() {
        forwarder(sink, inputs, &pool_arn, &mut resources);
    }
    resources
}

/// Lets the pool `pool_arn`, and no other, invoke `function`.
fn invoke_permission(function: Value, pool_arn: &Value) -> Value {
    json!({
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": function,
            "Principal": "cognito-idp.amazonaws.com",
            "SourceArn": pool_arn,
            "SourceAccount": { "Ref": "AWS::AccountId" },
        },
    })
}

/// Name of the forwarder function: fixed per stack, because its log group (and the
/// role's right to write there) must be named before the function exists.
pub fn forwarder_name(stack_name: &str) -> String {
    format!("cognito-trigger-forwarder-{}", short_hash(stack_name))
}

fn forwarder(
    sink: &TriggerSink,
    inputs: &TriggerInputs<'_>,
    pool_arn: &Value,
    resources: &mut Map<String, Value>,
) {
    let name = forwarder_name(inputs.stack_name);
    let log_group = format!("/aws/lambda/{name}");
    resources.insert(
        FORWARDER_LOGS.into(),
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": { "LogGroupName": log_group, "RetentionInDays": 14 },
        }),
    );
    // Least privilege: the forwarder only writes its own logs. It reads the secret from
    // its environment and calls the sink over the internet, which needs no IAM right.
    resources.insert(
        FORWARDER_ROLE.into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Path": ROLE_PATH,
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Service": "lambda.amazonaws.com" },
                        "Action": "sts:AssumeRole",
                    }],
                },
                "Policies": [{
                    "PolicyName": "write-own-logs",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Effect": "Allow",
                            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                            "Resource": { "Fn::Sub": format!(
                                "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{log_group}:*"
                            )},
                        }],
                    },
                }],
            },
        }),
    );
    let mut variables = json!({
        "SINK_URL": sink.url,
        "SINK_SECRET": { "Ref": SINK_SECRET_PARAMETER },
        "SINK_TIMEOUT_MS": sink.timeout_milliseconds.to_string(),
    });
    if let Some(revision) = inputs.sink_secret_revision {
        variables["SINK_SECRET_REVISION"] = json!(revision);
    }
    resources.insert(
        FORWARDER.into(),
        json!({
            "Type": "AWS::Lambda::Function",
            "DependsOn": [FORWARDER_LOGS],
            "Properties": {
                "FunctionName": name,
                "Description": "Forwards Cognito trigger events to a webhook-api sink (cognito-operator)",
                "Runtime": "python3.13",
                "Handler": "index.handler",
                "Role": { "Fn::GetAtt": [FORWARDER_ROLE, "Arn"] },
                "Code": { "ZipFile": FORWARDER_CODE },
                // Cognito waits 5 s for a trigger; the forwarder gives up on the sink sooner.
                "Timeout": 5,
                "MemorySize": 128,
                "Environment": { "Variables": variables },
            },
        }),
    );
    resources.insert(
        FORWARDER_PERMISSION.into(),
        invoke_permission(json!({ "Fn::GetAtt": [FORWARDER, "Arn"] }), pool_arn),
    );
}

fn short_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggers(yaml: &str) -> Triggers {
        serde_yaml_ng::from_str(yaml).expect("valid triggers")
    }

    const INPUTS: TriggerInputs<'static> = TriggerInputs {
        pool_id: "UserPool",
        stack_name: "shop-users-0a1b2c3d-cognito",
        sink_secret_revision: Some("uid-1/42"),
    };

    #[test]
    fn each_granted_function_gets_one_permission_for_this_pool_only() {
        let t = triggers(
            r#"
            preSignUp: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:a"}
            postConfirmation: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:a"}
            customMessage: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:b", grantInvoke: false}
            "#,
        );
        let resources = resources(&t, &INPUTS);
        assert_eq!(resources.len(), 1, "{resources:?}");
        let permission = resources.values().next().expect("a permission");
        assert_eq!(
            permission["Properties"]["SourceArn"],
            json!({"Fn::GetAtt": ["UserPool", "Arn"]})
        );
        assert_eq!(
            permission["Properties"]["FunctionName"],
            "arn:aws:lambda:eu-west-1:123456789012:function:a"
        );
        assert!(parameters(&t).is_empty());
    }

    #[test]
    fn sink_triggers_go_through_the_forwarder_with_the_secret_as_a_parameter() {
        let t = triggers(
            r#"
            sink: {url: "https://hooks.example.com/triggers", secretRef: {name: sink}, timeoutMilliseconds: 1500}
            preSignUp: {sink: true}
            preTokenGeneration: {sink: true, eventVersion: V2_0}
            "#,
        );
        let config = lambda_config(&t).expect("LambdaConfig");
        assert_eq!(
            config["PreSignUp"],
            json!({"Fn::GetAtt": [FORWARDER, "Arn"]})
        );
        assert_eq!(config["PreTokenGenerationConfig"]["LambdaVersion"], "V2_0");
        let resources = resources(&t, &INPUTS);
        let forwarder = &resources[FORWARDER]["Properties"];
        assert_eq!(
            forwarder["Environment"]["Variables"]["SINK_SECRET"],
            json!({"Ref": SINK_SECRET_PARAMETER})
        );
        assert_eq!(
            forwarder["Environment"]["Variables"]["SINK_TIMEOUT_MS"],
            "1500"
        );
        assert_eq!(
            forwarder["Environment"]["Variables"]["SINK_SECRET_REVISION"],
            "uid-1/42"
        );
        assert_eq!(
            resources[FORWARDER_PERMISSION]["Properties"]["SourceArn"],
            json!({"Fn::GetAtt": ["UserPool", "Arn"]})
        );
        let role = resources[FORWARDER_ROLE].to_string();
        assert!(
            !role.contains("\"*\""),
            "the role grants nothing wide: {role}"
        );
        assert_eq!(parameters(&t)[SINK_SECRET_PARAMETER]["NoEcho"], true);
    }

    #[test]
    fn the_forwarder_fits_inline_code() {
        // CloudFormation takes at most 4096 bytes of inline (ZipFile) code.
        assert!(
            FORWARDER_CODE.len() <= 4096,
            "{} bytes",
            FORWARDER_CODE.len()
        );
        assert!(forwarder_name("x".repeat(128).as_str()).len() <= 64);
    }

    #[test]
    fn no_triggers_no_config() {
        assert!(lambda_config(&Triggers::default()).is_none());
        assert!(resources(&Triggers::default(), &INPUTS).is_empty());
    }
}
