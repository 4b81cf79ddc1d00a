//! The Cognito triggers of a UserPool: each trigger, when set, goes either to a Lambda
//! function of the tenant's or, through a forwarder function the stack holds, to a
//! webhook-api `/triggers` sink.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::defaults::default_true;

/// The triggers of the pool, by Cognito's trigger name; each one is optional.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(sink_configured_rule())
    .message("a trigger with sink: true needs spec.triggers.sink")
    .field_path(".sink"))]
pub struct Triggers {
    /// Where triggers marked `sink: true` send their events: a webhook-api `/triggers`
    /// URL, reached through a forwarder function the operator adds to the stack.
    pub sink: Option<TriggerSink>,

    /// Before a user signs up (`PreSignUp`).
    pub pre_sign_up: Option<Trigger>,
    /// After a user is confirmed (`PostConfirmation`).
    pub post_confirmation: Option<Trigger>,
    /// Before a user signs in (`PreAuthentication`).
    pub pre_authentication: Option<Trigger>,
    /// After a user signed in (`PostAuthentication`).
    pub post_authentication: Option<Trigger>,
    /// Before tokens are issued, to change their claims (`PreTokenGenerationConfig`).
    pub pre_token_generation: Option<TokenTrigger>,
    /// To write the messages Cognito sends (`CustomMessage`).
    pub custom_message: Option<Trigger>,
    /// To import a user from another directory at sign-in (`UserMigration`).
    pub user_migration: Option<Trigger>,
    /// Custom authentication: decides the next challenge (`DefineAuthChallenge`).
    pub define_auth_challenge: Option<Trigger>,
    /// Custom authentication: creates a challenge (`CreateAuthChallenge`).
    pub create_auth_challenge: Option<Trigger>,
    /// Custom authentication: checks an answer (`VerifyAuthChallengeResponse`).
    pub verify_auth_challenge_response: Option<Trigger>,
}

/// Every trigger field of [`Triggers`] except `preTokenGeneration`, with the
/// CloudFormation `LambdaConfig` key it fills.
const PLAIN_TRIGGERS: [(&str, &str); 9] = [
    ("preSignUp", "PreSignUp"),
    ("postConfirmation", "PostConfirmation"),
    ("preAuthentication", "PreAuthentication"),
    ("postAuthentication", "PostAuthentication"),
    ("customMessage", "CustomMessage"),
    ("userMigration", "UserMigration"),
    ("defineAuthChallenge", "DefineAuthChallenge"),
    ("createAuthChallenge", "CreateAuthChallenge"),
    ("verifyAuthChallengeResponse", "VerifyAuthChallengeResponse"),
];

fn sink_configured_rule() -> String {
    let sink_users: Vec<String> = PLAIN_TRIGGERS
        .iter()
        .map(|(field, _)| *field)
        .chain(["preTokenGeneration"])
        .map(|field| format!("(has(self.{field}) && self.{field}.sink)"))
        .collect();
    format!("has(self.sink) || !({})", sink_users.join(" || "))
}

const ONE_TARGET: &str = "has(self.lambdaArn) != self.sink";
const ONE_TARGET_MESSAGE: &str = "set exactly one of lambdaArn or sink: true";

/// Where one trigger goes: exactly one of `lambdaArn` or `sink: true`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_TARGET).message(ONE_TARGET_MESSAGE))]
pub struct Trigger {
    /// ARN of your Lambda function. It must carry the tag `cognito.kubeauth.dev/namespace`
    /// with this object's namespace: that is how an administrator hands a function to a
    /// namespace, and the operator refuses any other.
    #[schemars(regex(
        pattern = r"^arn:[\w+=/,.@-]+:lambda:[a-z0-9-]+:[0-9]{12}:function:[\w-]+(:[\w$-]+)?$"
    ))]
    pub lambda_arn: Option<String>,

    /// Send this trigger's events to `spec.triggers.sink` instead.
    #[serde(default)]
    pub sink: bool,

    /// Add the `AWS::Lambda::Permission` that lets this pool (and only this pool) invoke
    /// `lambdaArn` (default true). Set false when the function's policy already allows it.
    #[serde(default = "default_true")]
    pub grant_invoke: bool,
}

/// The pre token generation trigger: a [`Trigger`] with the event version Cognito sends.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TokenTrigger {
    #[serde(flatten)]
    pub target: Trigger,

    /// Event version: `V1_0` (default; ID token claims and groups), `V2_0` (also access
    /// token claims and scopes) or `V3_0` (also machine-to-machine tokens). V2_0 and V3_0
    /// need the Essentials or Plus feature plan.
    #[serde(default)]
    pub event_version: TokenEventVersion,
}

/// Cognito's `PreTokenGenerationConfig.LambdaVersion`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenEventVersion {
    #[default]
    #[serde(rename = "V1_0")]
    V1,
    #[serde(rename = "V2_0")]
    V2,
    #[serde(rename = "V3_0")]
    V3,
}

/// A webhook-api trigger sink.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSink {
    /// HTTPS URL of webhook-api's `POST /triggers`, reachable from Lambda.
    #[schemars(length(max = 2048), regex(pattern = r"^https://[^\s/?#]+(/[^\s]*)?$"))]
    pub url: String,

    /// Secret in this namespace holding the shared secret webhook-api expects in
    /// `X-Trigger-Secret` (its `--trigger-secret`); at least 32 characters.
    pub secret_ref: SinkSecretRef,

    /// How long the forwarder waits for the sink, in milliseconds, 100 to 4000 (default
    /// 2000). Cognito gives a trigger 5 s; past this the event goes on unchanged.
    #[serde(default = "default_sink_timeout")]
    #[schemars(range(min = 100, max = 4000))]
    pub timeout_milliseconds: i32,
}

fn default_sink_timeout() -> i32 {
    2000
}

/// A key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SinkSecretRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,

    /// Key within the Secret (default `trigger-secret`, as in the chart's webhook-api
    /// Secret).
    #[serde(default = "default_sink_secret_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_sink_secret_key() -> String {
    "trigger-secret".to_owned()
}

/// Where a wired trigger goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A Lambda function of the tenant's; `grant_invoke` asks for the invoke permission.
    Function { arn: &'a str, grant_invoke: bool },
    /// The stack's forwarder to the sink.
    Sink,
}

/// A trigger that is set: its `LambdaConfig` key, where it goes, and (for pre token
/// generation) its event version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wired<'a> {
    pub key: &'static str,
    pub target: Target<'a>,
    pub event_version: Option<TokenEventVersion>,
}

fn target(lambda_arn: Option<&str>, sink: bool, grant_invoke: bool) -> Option<Target<'_>> {
    match (lambda_arn, sink) {
        (_, true) => Some(Target::Sink),
        (Some(arn), false) => Some(Target::Function { arn, grant_invoke }),
        // Admission refuses a trigger with neither; an unset trigger is simply not wired.
        (None, false) => None,
    }
}

impl Triggers {
    /// The triggers that are set, in a stable order.
    pub fn wired(&self) -> Vec<Wired<'_>> {
        let plain = [
            &self.pre_sign_up,
            &self.post_confirmation,
            &self.pre_authentication,
            &self.post_authentication,
            &self.custom_message,
            &self.user_migration,
            &self.define_auth_challenge,
            &self.create_auth_challenge,
            &self.verify_auth_challenge_response,
        ];
        let mut wired: Vec<Wired<'_>> = PLAIN_TRIGGERS
            .iter()
            .zip(plain)
            .filter_map(|((_, key), trigger)| {
                let trigger = trigger.as_ref()?;
                Some(Wired {
                    key,
                    target: target(
                        trigger.lambda_arn.as_deref(),
                        trigger.sink,
                        trigger.grant_invoke,
                    )?,
                    event_version: None,
                })
            })
            .collect();
        if let Some(token) = &self.pre_token_generation
            && let Some(target) = target(
                token.target.lambda_arn.as_deref(),
                token.target.sink,
                token.target.grant_invoke,
            )
        {
            wired.push(Wired {
                key: "PreTokenGenerationConfig",
                target,
                event_version: Some(token.event_version),
            });
        }
        wired
    }

    /// The tenant's functions the triggers name, each once, sorted.
    pub fn functions(&self) -> Vec<&str> {
        let mut arns: Vec<&str> = self
            .wired()
            .into_iter()
            .filter_map(|w| match w.target {
                Target::Function { arn, .. } => Some(arn),
                Target::Sink => None,
            })
            .collect();
        arns.sort_unstable();
        arns.dedup();
        arns
    }

    /// The sink, when some trigger goes to it.
    pub fn used_sink(&self) -> Option<&TriggerSink> {
        self.wired()
            .iter()
            .any(|w| w.target == Target::Sink)
            .then_some(self.sink.as_ref())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggers(yaml: &str) -> Triggers {
        serde_yaml_ng::from_str(yaml).expect("valid triggers")
    }

    #[test]
    fn wired_triggers_name_their_targets() {
        let t = triggers(
            r#"
            sink: {url: "https://hooks.example.com/triggers", secretRef: {name: sink}}
            preSignUp: {sink: true}
            postConfirmation: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:a"}
            customMessage: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:a", grantInvoke: false}
            preTokenGeneration: {sink: true, eventVersion: V2_0}
            "#,
        );
        let wired = t.wired();
        assert_eq!(wired.len(), 4);
        assert_eq!(wired[0].key, "PreSignUp");
        assert_eq!(wired[0].target, Target::Sink);
        assert_eq!(
            wired[2].target,
            Target::Function {
                arn: "arn:aws:lambda:eu-west-1:123456789012:function:a",
                grant_invoke: false
            }
        );
        assert_eq!(wired[3].key, "PreTokenGenerationConfig");
        assert_eq!(wired[3].event_version, Some(TokenEventVersion::V2));
        assert_eq!(t.functions().len(), 1);
        assert_eq!(
            t.used_sink().map(|s| s.secret_ref.key.as_str()),
            Some("trigger-secret")
        );
    }

    #[test]
    fn a_sink_nobody_uses_is_not_used() {
        let t = triggers(
            r#"{sink: {url: "https://h.example.com/triggers", secretRef: {name: s}}, preSignUp: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:a"}}"#,
        );
        assert!(t.used_sink().is_none());
    }

    #[test]
    fn the_sink_rule_names_every_trigger() {
        let rule = sink_configured_rule();
        for (field, _) in PLAIN_TRIGGERS {
            assert!(rule.contains(&format!("self.{field}.sink")), "{field}");
        }
        assert!(rule.contains("self.preTokenGeneration.sink"));
    }
}
