//! Desired state of a UserPool's stack: a pure function from the spec to a CloudFormation
//! template, plus the create-only settings that the safety check compares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    identity_providers, oauth,
    triggers::{self, TriggerInputs},
};
use cognito_crds::userpool::{
    AppClient, EmailSender, FeaturePlan, MfaMode, PoolDeletionPolicy, SchemaAttribute,
    ThreatProtection, UserPoolSpec, VerificationStyle, default_write_attributes,
};

/// Output key of the pool id.
pub const OUTPUT_POOL_ID: &str = "UserPoolId";
/// Output key of the pool ARN.
pub const OUTPUT_POOL_ARN: &str = "UserPoolArn";
/// Output key of the pool's provider URL (its token issuer).
pub const OUTPUT_PROVIDER_URL: &str = "ProviderURL";

/// What the template needs beyond the spec.
#[derive(Debug, Clone)]
pub struct TemplateInputs<'a> {
    /// Cognito pool name: `<namespace>-<name>`.
    pub pool_name: &'a str,
    /// Name of the client a pool gets when `spec.clients` is empty: the object's name.
    pub default_client_name: &'a str,
    /// Bumped each time `allowReplacement` replaces the pool.
    pub pool_revision: u32,
    /// The pool's tags: the stack's, owner tags included, so that whoever holds only a
    /// pool id (an AppUser, the census) can check which namespace the pool belongs to.
    pub pool_tags: &'a BTreeMap<String, String>,
    /// Name of the stack.
    pub stack_name: &'a str,
    /// Version of the tenant's trigger sink Secret, when a trigger uses the sink.
    pub sink_secret_revision: Option<&'a str>,
    /// Versions of the Secrets of identity providers, by stack parameter.
    pub provider_secret_versions: &'a BTreeMap<String, String>,
}

/// A rendered CloudFormation template and its content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct StackTemplate {
    pub body: Value,
    pub hash: String,
}

impl StackTemplate {
    /// The template body as CloudFormation takes it.
    pub fn to_json(&self) -> String {
        self.body.to_string()
    }
}

/// The clients a spec declares, or the single default client.
pub fn effective_clients(spec: &UserPoolSpec, default_client_name: &str) -> Vec<AppClient> {
    if spec.clients.is_empty() {
        vec![AppClient::default_named(default_client_name)]
    } else {
        spec.clients.clone()
    }
}

/// Logical id of the pool resource; a new id makes CloudFormation create a new pool.
pub fn pool_logical_id(revision: u32) -> String {
    if revision == 0 {
        "UserPool".to_owned()
    } else {
        format!("UserPoolR{revision}")
    }
}

/// Output key holding the id of the client named `name`.
pub fn client_output_key(name: &str) -> String {
    format!("{}Id", logical_id("Client", name))
}

/// A CloudFormation logical id (alphanumeric only) for a named thing; the hash suffix
/// keeps `a-b` and `ab` apart.
pub(super) fn logical_id(kind: &str, name: &str) -> String {
    let readable: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let digest = Sha256::digest(name.as_bytes());
    format!("{kind}{readable}{}", &hex::encode(digest)[..8])
}

/// Renders the stack template for `spec`.
pub fn render(spec: &UserPoolSpec, inputs: &TemplateInputs) -> StackTemplate {
    let pool_id = pool_logical_id(inputs.pool_revision);
    let pool_ref = json!({ "Ref": pool_id });
    let mut resources = serde_json::Map::new();
    let mut outputs = serde_json::Map::new();

    resources.insert(pool_id.clone(), pool_resource(spec, inputs));
    outputs.insert(OUTPUT_POOL_ID.into(), json!({ "Value": pool_ref }));
    outputs.insert(
        OUTPUT_POOL_ARN.into(),
        json!({ "Value": { "Fn::GetAtt": [pool_id, "Arn"] } }),
    );
    outputs.insert(
        OUTPUT_PROVIDER_URL.into(),
        json!({ "Value": { "Fn::GetAtt": [pool_id, "ProviderURL"] } }),
    );

    for group in &spec.groups {
        let mut properties = json!({ "UserPoolId": pool_ref, "GroupName": group.name });
        if let Some(description) = &group.description {
            properties["Description"] = json!(description);
        }
        if let Some(precedence) = group.precedence {
            properties["Precedence"] = json!(precedence);
        }
        resources.insert(
            logical_id("Group", &group.name),
            json!({ "Type": "AWS::Cognito::UserPoolGroup", "Properties": properties }),
        );
    }

    let clients = effective_clients(spec, inputs.default_client_name);
    let clients: Vec<(String, &AppClient)> = clients
        .iter()
        .map(|client| (logical_id("Client", &client.name), client))
        .collect();
    for (id, client) in &clients {
        outputs.insert(
            client_output_key(&client.name),
            json!({ "Value": { "Ref": id } }),
        );
        resources.insert(id.clone(), client_resource(client, spec, &pool_ref));
    }
    resources.extend(oauth::resources(spec, &pool_ref, &clients));
    resources.extend(identity_providers::resources(
        spec,
        &pool_ref,
        inputs.provider_secret_versions,
    ));
    outputs.extend(oauth::outputs(spec));

    resources.extend(triggers::resources(
        &spec.triggers,
        &TriggerInputs {
            pool_id: &pool_id,
            stack_name: inputs.stack_name,
            sink_secret_revision: inputs.sink_secret_revision,
        },
    ));

    let mut body = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("Cognito user pool {} (managed by cognito-operator)", inputs.pool_name),
        "Resources": resources,
        "Outputs": outputs,
    });
    let mut parameters = identity_providers::parameters(spec);
    parameters.extend(triggers::parameters(&spec.triggers));
    if !parameters.is_empty() {
        body["Parameters"] = Value::Object(parameters);
    }
    let hash = content_hash(&body);
    StackTemplate { body, hash }
}

/// Hash of a template's content: equal for equal JSON, whatever its key order.
pub fn content_hash(body: &Value) -> String {
    let canonical = crate::canonical_json::sorted(body.clone()).to_string();
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

fn pool_resource(spec: &UserPoolSpec, inputs: &TemplateInputs) -> Value {
    let policy = &spec.password_policy;
    let mut properties = json!({
        "UserPoolName": inputs.pool_name,
        "UsernameAttributes": spec.username_attributes,
        "UsernameConfiguration": { "CaseSensitive": spec.username_case_sensitive },
        "Policies": { "PasswordPolicy": {
            "MinimumLength": policy.minimum_length,
            "RequireLowercase": policy.require_lowercase,
            "RequireUppercase": policy.require_uppercase,
            "RequireNumbers": policy.require_numbers,
            "RequireSymbols": policy.require_symbols,
            "TemporaryPasswordValidityDays": policy.temporary_password_validity_days,
        }},
        // Users are created by the operator and webhook-api, as in the seed.
        "AdminCreateUserConfig": admin_create_user_config(spec),
        "MfaConfiguration": match spec.mfa.mode {
            MfaMode::Disabled => "OFF",
            MfaMode::Optional => "OPTIONAL",
            MfaMode::Required => "ON",
        },
        "DeletionProtection": if spec.deletion_protection { "ACTIVE" } else { "INACTIVE" },
    });
    if spec.mfa.mode != MfaMode::Disabled && spec.mfa.software_token {
        properties["EnabledMfas"] = json!(["SOFTWARE_TOKEN_MFA"]);
    }
    if !spec.schema.is_empty() {
        properties["Schema"] = spec.schema.iter().map(schema_attribute).collect();
    }
    if let Some(config) = triggers::lambda_config(&spec.triggers) {
        properties["LambdaConfig"] = config;
    }
    add_pool_settings(&mut properties, spec);
    if !inputs.pool_tags.is_empty() {
        properties["UserPoolTags"] = json!(inputs.pool_tags);
    }
    // Retain keeps the pool and its users even when someone deletes the stack by hand.
    let policy = match spec.deletion_policy {
        PoolDeletionPolicy::Retain => "Retain",
        PoolDeletionPolicy::Delete => "Delete",
    };
    json!({
        "Type": "AWS::Cognito::UserPool",
        "DeletionPolicy": policy,
        "UpdateReplacePolicy": policy,
        "Properties": properties,
    })
}

fn admin_create_user_config(spec: &UserPoolSpec) -> Value {
    let mut config = json!({ "AllowAdminCreateUserOnly": true });
    if let Some(message) = &spec.invitation_message {
        config["InviteMessageTemplate"] = present([
            ("EmailSubject", &message.email_subject),
            ("EmailMessage", &message.email_message),
            ("SMSMessage", &message.sms_message),
        ]);
    }
    config
}

/// The pool-wide settings. Each is rendered only when the spec sets it, so a pool whose
/// spec is silent keeps what Cognito has (a plan, say, that AWS chose at creation).
fn add_pool_settings(properties: &mut Value, spec: &UserPoolSpec) {
    if let Some(plan) = spec.feature_plan {
        properties["UserPoolTier"] = json!(match plan {
            FeaturePlan::Lite => "LITE",
            FeaturePlan::Essentials => "ESSENTIALS",
            FeaturePlan::Plus => "PLUS",
        });
        // Only Plus has the add-on; said explicitly there, so that turning it off is a
        // change CloudFormation sends.
        if plan == FeaturePlan::Plus {
            properties["UserPoolAddOns"] = json!({
                "AdvancedSecurityMode": match spec.threat_protection {
                    ThreatProtection::Disabled => "OFF",
                    ThreatProtection::Audit => "AUDIT",
                    ThreatProtection::Enforced => "ENFORCED",
                },
            });
        }
    }
    if let Some(email) = &spec.email {
        let mut config = present([
            ("SourceArn", &email.source_arn),
            ("From", &email.from),
            ("ReplyToEmailAddress", &email.reply_to_address),
            ("ConfigurationSet", &email.configuration_set),
        ]);
        config["EmailSendingAccount"] = json!(match email.sender {
            EmailSender::Cognito => "COGNITO_DEFAULT",
            EmailSender::Ses => "DEVELOPER",
        });
        properties["EmailConfiguration"] = config;
    }
    if let Some(mechanisms) = &spec.account_recovery {
        let mechanisms: Vec<Value> = mechanisms
            .iter()
            .zip(1..)
            .map(|(name, priority)| json!({ "Name": name, "Priority": priority }))
            .collect();
        properties["AccountRecoverySetting"] = json!({ "RecoveryMechanisms": mechanisms });
    }
    if let Some(message) = &spec.verification_message {
        let mut template = present([
            ("EmailSubject", &message.email_subject),
            ("EmailMessage", &message.email_message),
            ("EmailSubjectByLink", &message.email_subject_by_link),
            ("EmailMessageByLink", &message.email_message_by_link),
            ("SmsMessage", &message.sms_message),
        ]);
        template["DefaultEmailOption"] = json!(match message.default_email_option {
            VerificationStyle::Code => "CONFIRM_WITH_CODE",
            VerificationStyle::Link => "CONFIRM_WITH_LINK",
        });
        properties["VerificationMessageTemplate"] = template;
    }
    if !spec.auto_verified_attributes.is_empty() {
        properties["AutoVerifiedAttributes"] = json!(spec.auto_verified_attributes);
    }
    if !spec
        .attributes_require_verification_before_update
        .is_empty()
    {
        properties["UserAttributeUpdateSettings"] = json!({
            "AttributesRequireVerificationBeforeUpdate":
                spec.attributes_require_verification_before_update,
        });
    }
}

/// An object of the entries whose value is set.
fn present<const N: usize>(entries: [(&str, &Option<String>); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), json!(value.as_ref()?))))
            .collect(),
    )
}

fn schema_attribute(attribute: &SchemaAttribute) -> Value {
    let mut value = json!({
        "Name": attribute.name,
        "AttributeDataType": attribute.attribute_data_type,
        "Mutable": attribute.mutable,
    });
    if let Some(limits) = &attribute.string_constraints {
        value["StringAttributeConstraints"] = limits_as_strings([
            ("MinLength", limits.min_length),
            ("MaxLength", limits.max_length),
        ]);
    }
    if let Some(limits) = &attribute.number_constraints {
        value["NumberAttributeConstraints"] = limits_as_strings([
            ("MinValue", limits.min_value),
            ("MaxValue", limits.max_value),
        ]);
    }
    value
}

fn client_resource(client: &AppClient, spec: &UserPoolSpec, pool_ref: &Value) -> Value {
    let mut properties = json!({
        "UserPoolId": pool_ref,
        "ClientName": client.name,
        "GenerateSecret": client.generate_secret,
        "ExplicitAuthFlows": client.explicit_auth_flows,
        "AccessTokenValidity": client.access_token_validity_minutes,
        "IdTokenValidity": client.id_token_validity_minutes,
        "RefreshTokenValidity": client.refresh_token_validity_days,
        "TokenValidityUnits": {
            "AccessToken": "minutes",
            "IdToken": "minutes",
            "RefreshToken": "days",
        },
        "EnableTokenRevocation": client.enable_token_revocation,
        "PreventUserExistenceErrors": "ENABLED",
        "WriteAttributes": match &client.write_attributes {
            Some(listed) => json!(listed),
            None => json!(default_write_attributes()),
        },
    });
    if let Some(object) = properties.as_object_mut() {
        object.extend(oauth::client_properties(client, spec));
    }
    json!({ "Type": "AWS::Cognito::UserPoolClient", "Properties": properties })
}

/// The settings Cognito cannot change on an existing pool or client.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CreateOnlySettings {
    username_attributes: Vec<String>,
    username_case_sensitive: bool,
    schema: BTreeMap<String, Value>,
    client_secrets: BTreeMap<String, bool>,
}

impl CreateOnlySettings {
    pub fn of(spec: &UserPoolSpec, default_client_name: &str) -> Self {
        let mut username_attributes: Vec<String> = spec
            .username_attributes
            .iter()
            .map(|a| json!(a).as_str().unwrap_or_default().to_owned())
            .collect();
        username_attributes.sort();
        Self {
            username_attributes,
            username_case_sensitive: spec.username_case_sensitive,
            schema: spec
                .schema
                .iter()
                .map(|a| (a.name.clone(), schema_attribute(a)))
                .collect(),
            client_secrets: effective_clients(spec, default_client_name)
                .into_iter()
                .map(|c| (c.name, c.generate_secret))
                .collect(),
        }
    }

    /// Describes every change from `self` (applied) to `desired` that needs a replacement.
    /// Adding schema attributes or clients is fine; removing a client deletes it.
    pub fn changes_to(&self, desired: &Self) -> Vec<String> {
        let mut changes = Vec::new();
        if self.username_attributes != desired.username_attributes {
            changes.push(format!(
                "usernameAttributes {:?} -> {:?}",
                self.username_attributes, desired.username_attributes
            ));
        }
        if self.username_case_sensitive != desired.username_case_sensitive {
            changes.push(format!(
                "usernameCaseSensitive {} -> {}",
                self.username_case_sensitive, desired.username_case_sensitive
            ));
        }
        for (name, applied) in &self.schema {
            match desired.schema.get(name) {
                None => changes.push(format!("schema attribute {name} removed")),
                Some(wanted) if wanted != applied => {
                    changes.push(format!("schema attribute {name} changed"))
                }
                Some(_) => {}
            }
        }
        for (name, applied) in &self.client_secrets {
            if let Some(wanted) = desired.client_secrets.get(name)
                && wanted != applied
            {
                changes.push(format!(
                    "client {name} generateSecret {applied} -> {wanted}"
                ));
            }
        }
        changes
    }
}

/// Constraints as CloudFormation takes them: the limits that are set, as strings.
fn limits_as_strings<T: ToString>(limits: [(&str, Option<T>); 2]) -> Value {
    Value::Object(
        limits
            .into_iter()
            .filter_map(|(key, limit)| Some((key.to_owned(), json!(limit?.to_string()))))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use cognito_crds::userpool::{
        Group, Mfa, NumberConstraints, StringConstraints, UsernameAttribute,
    };

    const INPUTS: TemplateInputs = TemplateInputs {
        pool_name: "shop-users",
        default_client_name: "users",
        pool_revision: 0,
        pool_tags: &BTreeMap::new(),
        stack_name: "shop-users-0a1b2c3d-cognito",
        sink_secret_revision: None,
        provider_secret_versions: &BTreeMap::new(),
    };

    fn spec(yaml: &str) -> UserPoolSpec {
        serde_yaml_ng::from_str(yaml).expect("valid spec")
    }

    #[test]
    fn default_spec() {
        insta::assert_json_snapshot!(crate::canonical_json::sorted(
            render(&spec("{}"), &INPUTS).body
        ));
    }

    #[test]
    fn full_spec() {
        let spec = spec(
            r#"
            usernameAttributes: [email, phone_number]
            usernameCaseSensitive: true
            passwordPolicy: {minimumLength: 12, requireSymbols: false, temporaryPasswordValidityDays: 1}
            mfa: {mode: Optional}
            schema:
              - {name: tier, stringConstraints: {minLength: 1, maxLength: 16}}
              - {name: age, attributeDataType: Number, mutable: false, numberConstraints: {minValue: 0}}
            groups:
              - {name: admins, description: Administrators, precedence: 1}
              - {name: readers}
            clients:
              - {name: web, accessTokenValidityMinutes: 15, writeAttributes: [email, name]}
              - {name: backend, generateSecret: true, explicitAuthFlows: [ALLOW_ADMIN_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]}
            triggers:
              sink: {url: "https://hooks.example.com/triggers", secretRef: {name: sink}}
              preSignUp: {lambdaArn: "arn:aws:lambda:eu-west-1:123456789012:function:hooks"}
              postConfirmation: {sink: true}
              preTokenGeneration: {sink: true, eventVersion: V2_0}
            deletionPolicy: Delete
            "#,
        );
        let tags = BTreeMap::from([
            ("team".to_owned(), "shop".to_owned()),
            (
                "cognito.kubeauth.dev/namespace".to_owned(),
                "shop".to_owned(),
            ),
        ]);
        let inputs = TemplateInputs {
            pool_tags: &tags,
            ..INPUTS
        };
        let mut body = render(&spec, &inputs).body;
        // The forwarder's code has tests of its own; the snapshot is about the stack.
        body["Resources"]["TriggerForwarder"]["Properties"]["Code"]["ZipFile"] =
            json!("<forwarder.py>");
        insta::assert_json_snapshot!(crate::canonical_json::sorted(body));
    }

    #[test]
    fn web_app_spec() {
        let spec = spec(
            r#"
            featurePlan: Plus
            threatProtection: Audit
            email: {sender: SES, sourceArn: "arn:aws:ses:eu-west-1:123456789012:identity/shop.example", from: "Shop <no-reply@shop.example>", configurationSet: shop}
            accountRecovery: [verified_email, verified_phone_number]
            verificationMessage: {defaultEmailOption: Link, emailSubjectByLink: Verify, emailMessageByLink: "{##Verify your address##}"}
            invitationMessage: {emailSubject: Welcome, emailMessage: "Hello {username}, your code is {####}"}
            autoVerifiedAttributes: [email]
            attributesRequireVerificationBeforeUpdate: [email]
            domain: {prefix: shop-login, managedLoginVersion: 2}
            resourceServers:
              - {identifier: orders, name: Orders, scopes: [{name: read, description: Read orders}]}
            clients:
              - name: web
                readAttributes: [email, name]
                refreshTokenRotation: {retryGracePeriodSeconds: 10}
                authSessionValidityMinutes: 5
                oauth:
                  flows: [code]
                  scopes: [openid, email, orders/read]
                  callbackUrls: ["https://shop.example/callback", "http://localhost:3000/callback"]
                  logoutUrls: ["https://shop.example/"]
                  defaultRedirectUri: "https://shop.example/callback"
              - name: machine
                generateSecret: true
                oauth: {flows: [client_credentials], scopes: [orders/read]}
            "#,
        );
        insta::assert_json_snapshot!(crate::canonical_json::sorted(render(&spec, &INPUTS).body));
    }

    #[test]
    fn retain_is_the_default_deletion_policy_and_revision_renames_the_pool() {
        let inputs = TemplateInputs {
            pool_revision: 2,
            ..INPUTS
        };
        let body = render(&spec("{}"), &inputs).body;
        assert_eq!(body["Resources"]["UserPoolR2"]["DeletionPolicy"], "Retain");
        assert_eq!(body["Outputs"]["UserPoolId"]["Value"]["Ref"], "UserPoolR2");
    }

    #[test]
    fn hash_changes_with_content_only() {
        let a = render(&spec("{}"), &INPUTS);
        assert_eq!(a.hash, render(&spec("{}"), &INPUTS).hash);
        let b = render(&spec("{groups: [{name: admins}]}"), &INPUTS);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn similar_names_get_distinct_logical_ids() {
        assert_ne!(logical_id("Client", "a-b"), logical_id("Client", "ab"));
        assert!(
            logical_id("Group", "a.b-c")
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn create_only_changes_are_detected() {
        let base =
            spec("{schema: [{name: tier}], clients: [{name: web}], usernameAttributes: [email]}");
        let applied = CreateOnlySettings::of(&base, "users");

        let mut added = base.clone();
        added.schema.push(SchemaAttribute {
            name: "level".into(),
            attribute_data_type: cognito_crds::userpool::AttributeDataType::Number,
            mutable: true,
            string_constraints: None,
            number_constraints: Some(NumberConstraints {
                min_value: Some(1),
                max_value: None,
            }),
        });
        added.groups.push(Group {
            name: "g".into(),
            description: None,
            precedence: None,
        });
        added.mfa = Mfa {
            mode: MfaMode::Optional,
            software_token: true,
        };
        assert!(
            applied
                .changes_to(&CreateOnlySettings::of(&added, "users"))
                .is_empty()
        );

        let mut changed = base.clone();
        changed.username_attributes = vec![UsernameAttribute::PhoneNumber];
        changed.username_case_sensitive = true;
        changed.schema[0].string_constraints = Some(StringConstraints {
            min_length: Some(2),
            max_length: None,
        });
        changed.clients[0].generate_secret = true;
        let changes = applied.changes_to(&CreateOnlySettings::of(&changed, "users"));
        assert_eq!(changes.len(), 4, "{changes:?}");

        let mut removed = base;
        removed.schema.clear();
        let changes = applied.changes_to(&CreateOnlySettings::of(&removed, "users"));
        assert_eq!(changes, vec!["schema attribute tier removed".to_owned()]);
    }
}
