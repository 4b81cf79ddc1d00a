//! The `UserPool` custom resource: a Cognito user pool, its app clients and groups, managed
//! through one CloudFormation stack.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::app_client::{AppClient, AuthFlow, SecretRotation, default_write_attributes};
use crate::defaults::default_true;
pub use crate::identity_provider::{
    AppleSettings, AttributesRequestMethod, IdentityProvider, OidcSettings, ProviderSecretRef,
    ProviderType, SamlSettings,
};
pub use crate::oauth::{
    COGNITO_PROVIDER, ClientOAuth, CustomDomain, Domain, OAuthFlow, RefreshTokenRotation,
    ResourceScope, ResourceServer,
};
pub use crate::pool_settings::{
    EmailSender, EmailSettings, FeaturePlan, InvitationMessage, RecoveryMechanism,
    ThreatProtection, VerifiableAttribute, VerificationMessage, VerificationStyle,
};
pub use crate::triggers::{Target, TokenEventVersion, Trigger, TriggerSink, Triggers};

/// Desired state of a Cognito user pool.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "cognito.kubeauth.dev",
    version = "v1alpha1",
    kind = "UserPool",
    doc = "An AWS Cognito user pool with its app clients and groups, managed through a CloudFormation stack.",
    namespaced,
    shortname = "cup",
    category = "cognito",
    status = "UserPoolStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Pool ID","type":"string","jsonPath":".status.userPoolId"}"#,
    printcolumn = r#"{"name":"Stack Status","type":"string","jsonPath":".status.stackStatus"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.allowReplacement || self.usernameAttributes == oldSelf.usernameAttributes")
    .message("usernameAttributes cannot change after the pool exists (a create-only Cognito property); set allowReplacement: true to replace the pool")
    .field_path(".usernameAttributes"))]
#[x_kube(validation = Rule::new("self.allowReplacement || self.usernameCaseSensitive == oldSelf.usernameCaseSensitive")
    .message("usernameCaseSensitive cannot change after the pool exists (a create-only Cognito property); set allowReplacement: true to replace the pool")
    .field_path(".usernameCaseSensitive"))]
#[x_kube(validation = Rule::new("has(self.stackName) == has(oldSelf.stackName) && (!has(self.stackName) || self.stackName == oldSelf.stackName)")
    .message("stackName is immutable: changing it would orphan the existing stack")
    .field_path(".stackName"))]
#[x_kube(validation = Rule::new("!has(self.stackName) || !self.stackName.matches('-[0-9a-f]{8}-cognito$')")
    .message("stackName must not end in -<8 hex digits>-cognito: that shape is reserved for the operator's default names, which belong to other objects")
    .field_path(".stackName"))]
#[x_kube(validation = Rule::new("has(self.region) == has(oldSelf.region) && (!has(self.region) || self.region == oldSelf.region)")
    .message("region is immutable: a pool in another region is a new pool, and the stack in this one would be orphaned")
    .field_path(".region"))]
#[x_kube(validation = Rule::new("!(self.deletionPolicy == 'Delete' && self.deletionProtection)")
    .message("deletionProtection must be false when deletionPolicy is Delete")
    .field_path(".deletionProtection"))]
#[x_kube(validation = Rule::new("self.threatProtection == 'Disabled' || (has(self.featurePlan) && self.featurePlan == 'Plus')")
    .message("threatProtection Audit or Enforced needs featurePlan: Plus")
    .field_path(".threatProtection"))]
#[x_kube(validation = Rule::new("self.attributesRequireVerificationBeforeUpdate.all(a, a in self.autoVerifiedAttributes)")
    .message("every attribute in attributesRequireVerificationBeforeUpdate must also be in autoVerifiedAttributes")
    .field_path(".attributesRequireVerificationBeforeUpdate"))]
#[x_kube(validation = Rule::new("!has(self.featurePlan) || self.featurePlan != 'Lite' || !has(self.domain) || self.domain.managedLoginVersion == 1")
    .message("managed login (managedLoginVersion 2) needs featurePlan Essentials or Plus")
    .field_path(".domain.managedLoginVersion"))]
#[x_kube(validation = Rule::new("!has(self.featurePlan) || self.featurePlan != 'Lite' || !has(self.triggers.preTokenGeneration) || self.triggers.preTokenGeneration.eventVersion == 'V1_0'")
    .message("preTokenGeneration eventVersion V2_0 and V3_0 need featurePlan Essentials or Plus")
    .field_path(".triggers.preTokenGeneration.eventVersion"))]
#[x_kube(validation = Rule::new("!has(self.accountRecovery) || !('admin_only' in self.accountRecovery) || self.accountRecovery.size() == 1")
    .message("admin_only must be the only account recovery mechanism")
    .field_path(".accountRecovery"))]
pub struct UserPoolSpec {
    /// AWS region of the pool, for example `eu-west-1`. Defaults to the operator's region
    /// at creation (kept in `status.region`). Immutable.
    #[schemars(regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"))]
    pub region: Option<String>,

    /// Attributes that users sign in with instead of a separate user name: `email` and/or
    /// `phone_number`. Create-only in Cognito: changing it needs `allowReplacement: true`.
    #[serde(default = "default_username_attributes")]
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub username_attributes: Vec<UsernameAttribute>,

    /// Whether user names are case sensitive. Create-only in Cognito: changing it needs
    /// `allowReplacement: true`.
    #[serde(default)]
    pub username_case_sensitive: bool,

    /// Password rules that every user password must meet.
    #[serde(default)]
    pub password_policy: PasswordPolicy,

    /// Multi-factor authentication settings.
    #[serde(default)]
    pub mfa: Mfa,

    /// Custom attributes, readable as `custom:<name>`. Cognito cannot remove or change an
    /// attribute once added; only adding new ones is an in-place update.
    #[serde(default)]
    #[schemars(length(max = 50))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub schema: Vec<SchemaAttribute>,

    /// Groups in the pool; users join them through `AppUser.spec.groups`.
    #[serde(default)]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub groups: Vec<Group>,

    /// App clients of the pool. When empty, the pool gets one client named after the
    /// UserPool object with the defaults described on each field.
    #[serde(default)]
    #[schemars(length(max = 20))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub clients: Vec<AppClient>,

    /// Feature plan (`UserPoolTier`): `Lite`, `Essentials` or `Plus`. Unset: the plan
    /// the pool has (Essentials for pools AWS creates today), never changed by the
    /// operator, so that upgrading does not move an existing pool to another price.
    // Left out when unset: the API server checks a null against the enum and refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_plan: Option<FeaturePlan>,

    /// Threat protection (adaptive authentication and compromised-credentials checks):
    /// `Disabled` (default), `Audit` or `Enforced`; needs `featurePlan: Plus`.
    #[serde(default)]
    pub threat_protection: ThreatProtection,

    /// How Cognito sends e-mail. Unset: Cognito's own sender.
    pub email: Option<EmailSettings>,

    /// How users recover their account, in order of preference: `verified_email`,
    /// `verified_phone_number`, or `admin_only` alone. Unset: Cognito's default.
    #[schemars(length(min = 1, max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub account_recovery: Option<Vec<RecoveryMechanism>>,

    /// The message that asks a user to verify an e-mail address or phone number.
    pub verification_message: Option<VerificationMessage>,

    /// The message a user created with a temporary password receives.
    pub invitation_message: Option<InvitationMessage>,

    /// Attributes Cognito verifies by sending a code when they are set or changed.
    #[serde(default)]
    #[schemars(length(max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub auto_verified_attributes: Vec<VerifiableAttribute>,

    /// Attributes whose new value takes effect only once verified; until then the old
    /// value stays (and keeps working for sign-in). A subset of `autoVerifiedAttributes`.
    #[serde(default)]
    #[schemars(length(max = 2))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub attributes_require_verification_before_update: Vec<VerifiableAttribute>,

    /// The domain of the managed login pages and OAuth endpoints.
    pub domain: Option<Domain>,

    /// APIs the pool issues access tokens for, with their custom scopes.
    #[serde(default)]
    #[schemars(length(max = 25))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["identifier".into()]))]
    pub resource_servers: Vec<ResourceServer>,

    /// External identity providers (Google, Facebook, Login with Amazon, Apple, OIDC,
    /// SAML) for the managed login pages; clients list them by name in
    /// `oauth.identityProviders`. Their secrets come from Secrets in this namespace.
    #[serde(default)]
    #[schemars(length(max = 50))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub identity_providers: Vec<IdentityProvider>,

    /// Cognito triggers: each one goes to a Lambda function of yours or, through a
    /// forwarder function in the stack, to a webhook-api `/triggers` sink.
    #[serde(default)]
    pub triggers: Triggers,

    /// What happens to the stack and pool when this object is deleted: `Retain` (default)
    /// keeps both, `Delete` deletes the stack and with it the pool and all its users.
    #[serde(default)]
    pub deletion_policy: PoolDeletionPolicy,

    /// Cognito deletion protection: when true, Cognito refuses to delete the pool.
    #[serde(default)]
    pub deletion_protection: bool,

    /// Allow changes that replace the pool (and lose its users), such as changing
    /// `usernameAttributes`. Off by default: such changes are refused.
    #[serde(default)]
    pub allow_replacement: bool,

    /// CloudFormation stack name. Defaults to `<namespace>-<name>-<hash>-cognito` (`<hash>`:
    /// 8 hex digits of `<namespace>/<name>`; names of that shape are reserved for
    /// defaults). Immutable.
    #[schemars(regex(pattern = r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$"))]
    pub stack_name: Option<String>,

    /// Tags put on the stack and the pool.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 40), inner(length(max = 256)))]
    pub tags: BTreeMap<String, String>,
}

fn default_username_attributes() -> Vec<UsernameAttribute> {
    vec![UsernameAttribute::Email]
}

/// An attribute users may sign in with.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UsernameAttribute {
    Email,
    PhoneNumber,
}

/// Password rules of the pool.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordPolicy {
    /// Minimum password length, 6 to 99 (default 8).
    #[serde(default = "default_minimum_length")]
    #[schemars(range(min = 6, max = 99))]
    pub minimum_length: i32,

    /// Require at least one lower-case letter (default true).
    #[serde(default = "default_true")]
    pub require_lowercase: bool,

    /// Require at least one upper-case letter (default true).
    #[serde(default = "default_true")]
    pub require_uppercase: bool,

    /// Require at least one digit (default true).
    #[serde(default = "default_true")]
    pub require_numbers: bool,

    /// Require at least one symbol (default true).
    #[serde(default = "default_true")]
    pub require_symbols: bool,

    /// Days a temporary password set by an administrator stays valid, 0 to 365 (default 7).
    #[serde(default = "default_temporary_password_validity_days")]
    #[schemars(range(min = 0, max = 365))]
    pub temporary_password_validity_days: i32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            minimum_length: default_minimum_length(),
            require_lowercase: true,
            require_uppercase: true,
            require_numbers: true,
            require_symbols: true,
            temporary_password_validity_days: default_temporary_password_validity_days(),
        }
    }
}

fn default_minimum_length() -> i32 {
    8
}

fn default_temporary_password_validity_days() -> i32 {
    7
}

/// Multi-factor authentication settings.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.mode == 'Disabled' || self.softwareToken")
    .message("mode Optional or Required needs softwareToken: true (SMS MFA is not supported)")
    .field_path(".softwareToken"))]
pub struct Mfa {
    /// `Disabled` (default; Cognito's `OFF`), `Optional` (users may enrol; `OPTIONAL`) or
    /// `Required` (for every user; `ON`). Not `OFF`/`ON`, which YAML reads as booleans.
    #[serde(default)]
    pub mode: MfaMode,

    /// Enable time-based one-time passwords from an authenticator app (default true).
    #[serde(default = "default_true")]
    pub software_token: bool,
}

impl Default for Mfa {
    fn default() -> Self {
        Self {
            mode: MfaMode::Disabled,
            software_token: true,
        }
    }
}

/// Cognito's `MfaConfiguration`, in words YAML cannot mistake for booleans.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MfaMode {
    #[default]
    Disabled,
    Optional,
    Required,
}

/// A custom attribute of the pool.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.stringConstraints) || self.attributeDataType == 'String'")
    .message("stringConstraints apply only to attributeDataType String")
    .field_path(".stringConstraints"))]
#[x_kube(validation = Rule::new("!has(self.numberConstraints) || self.attributeDataType == 'Number'")
    .message("numberConstraints apply only to attributeDataType Number")
    .field_path(".numberConstraints"))]
pub struct SchemaAttribute {
    /// Attribute name without the `custom:` prefix: 1 to 20 letters, digits or underscores.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_]{1,20}$"))]
    pub name: String,

    /// Data type: `String` (default), `Number`, `DateTime` or `Boolean`.
    #[serde(default)]
    pub attribute_data_type: AttributeDataType,

    /// Whether the value can change after the user is created (default true).
    #[serde(default = "default_true")]
    pub mutable: bool,

    /// Length limits for a `String` attribute.
    pub string_constraints: Option<StringConstraints>,

    /// Value limits for a `Number` attribute.
    pub number_constraints: Option<NumberConstraints>,
}

/// Cognito attribute data types.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttributeDataType {
    #[default]
    String,
    Number,
    DateTime,
    Boolean,
}

/// Length limits of a string attribute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minLength) || !has(self.maxLength) || self.minLength <= self.maxLength")
    .message("minLength must not exceed maxLength"))]
pub struct StringConstraints {
    /// Minimum length, 0 to 2048.
    #[schemars(range(min = 0, max = 2048))]
    pub min_length: Option<i32>,

    /// Maximum length, 0 to 2048.
    #[schemars(range(min = 0, max = 2048))]
    pub max_length: Option<i32>,
}

/// Value limits of a number attribute.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minValue) || !has(self.maxValue) || self.minValue <= self.maxValue")
    .message("minValue must not exceed maxValue"))]
pub struct NumberConstraints {
    /// Smallest allowed value.
    pub min_value: Option<i64>,

    /// Largest allowed value.
    pub max_value: Option<i64>,
}

/// A group of users.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Group name, as it appears in the `cognito:groups` token claim.
    /// No whitespace or commas: webhook-api joins a user's groups with commas into
    /// `X-Auth-Request-Groups`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[^\s,]+$"))]
    pub name: String,

    /// What the group is for.
    #[schemars(length(max = 2048))]
    pub description: Option<String>,

    /// Lower values win when a user's groups carry IAM roles; 0 or more.
    #[schemars(range(min = 0))]
    pub precedence: Option<i32>,
}

/// What deleting the UserPool object does to the stack and pool.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PoolDeletionPolicy {
    #[default]
    Retain,
    Delete,
}

/// Observed state of the pool, written by the operator.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserPoolStatus {
    /// `Ready` (the pool is usable) and `Synced` (the stack matches the spec), following
    /// Kubernetes API conventions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// The `metadata.generation` the status describes.
    pub observed_generation: Option<i64>,

    /// AWS region of the stack and pool, fixed when the stack is created.
    pub region: Option<String>,

    /// Name of the CloudFormation stack.
    pub stack_name: Option<String>,

    /// Id of the CloudFormation stack.
    pub stack_id: Option<String>,

    /// Last seen stack status, for example `CREATE_COMPLETE`.
    pub stack_status: Option<String>,

    /// Cognito user pool id.
    pub user_pool_id: Option<String>,

    /// Cognito user pool ARN.
    pub user_pool_arn: Option<String>,

    /// Token issuer (`iss` claim) of the pool.
    pub issuer: Option<String>,

    /// Where the pool's signing keys are published.
    pub jwks_uri: Option<String>,

    /// App client ids by client name.
    #[serde(default)]
    pub clients: Vec<ClientStatus>,

    /// Where the pool's OpenID Connect discovery document is served.
    pub open_id_configuration_url: Option<String>,

    /// The managed login pages and OAuth 2.0 endpoints, once `spec.domain` exists.
    pub oauth_endpoints: Option<OAuthEndpoints>,

    /// Secret holding the connection details (pool id, client ids, issuer).
    pub connection_secret_name: Option<String>,

    /// Hash of the CloudFormation template last sent to the stack; an unchanged hash
    /// means no CloudFormation write.
    pub applied_template_hash: Option<String>,

    /// Create-only settings of the last successfully applied spec (JSON), compared with
    /// the spec before every update to refuse changes Cognito cannot make in place.
    pub applied_create_only: Option<String>,

    /// How many times the pool was replaced (`allowReplacement`); part of the pool's
    /// logical id in the template.
    // Kubernetes knows the formats int32 and int64, not schemars' uint32.
    #[schemars(extend("format" = "int64"))]
    pub pool_revision: Option<u32>,

    /// The value of the `cognito.kubeauth.dev/reconcile-requested-at` annotation last
    /// handled: the stack was checked against AWS and repaired then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

/// The URLs of a pool's domain.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OAuthEndpoints {
    /// Base URL of the managed login pages.
    pub base_url: String,
    /// Authorization endpoint (`/oauth2/authorize`).
    pub authorize_url: String,
    /// Token endpoint (`/oauth2/token`).
    pub token_url: String,
    /// User-info endpoint (`/oauth2/userInfo`).
    pub user_info_url: String,
    /// Sign-out endpoint (`/logout`).
    pub logout_url: String,
    /// CloudFront distribution a custom domain's DNS record must point at.
    pub cloud_front_distribution: Option<String>,
}

/// An app client's id.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientStatus {
    /// Client name from the spec.
    pub name: String,

    /// Cognito client id.
    pub client_id: String,
}
