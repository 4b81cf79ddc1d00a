//! App clients of a UserPool: the identities applications sign users in with.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    appuser::STANDARD_ATTRIBUTES,
    defaults::default_true,
    oauth::{ClientOAuth, RefreshTokenRotation},
};

/// An app client: the identity an application uses to sign users in.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.generateSecret == oldSelf.generateSecret")
    .message("generateSecret cannot change for an existing client; add a client with a new name instead")
    .field_path(".generateSecret"))]
#[x_kube(validation = Rule::new("!has(self.secretRotation) || self.generateSecret")
    .message("secretRotation needs generateSecret: true")
    .field_path(".secretRotation"))]
#[x_kube(validation = Rule::new("!has(self.oauth) || !('client_credentials' in self.oauth.flows) || self.generateSecret")
    .message("the client_credentials flow needs generateSecret: true (Cognito authenticates machines by their client secret)")
    .field_path(".oauth.flows"))]
#[x_kube(validation = Rule::new("self.explicitAuthFlows.exists(f, f == 'ALLOW_REFRESH_TOKEN_AUTH')")
    .message("explicitAuthFlows must include ALLOW_REFRESH_TOKEN_AUTH (Cognito requires it)")
    .field_path(".explicitAuthFlows"))]
pub struct AppClient {
    /// Client name, unique within the pool: letters, digits, `-`, `_` and `.` (it also
    /// names the client's keys in the connection Secret).
    #[schemars(regex(pattern = r"^[A-Za-z0-9][-._A-Za-z0-9]{0,127}$"))]
    pub name: String,

    /// Whether the client has a secret (default false: a public client, as in the seed).
    /// The secret goes only to the connection Secret. Immutable.
    #[serde(default)]
    pub generate_secret: bool,

    /// Authentication flows the client allows. Defaults to SRP and refresh tokens only: the
    /// flows that send the password itself (`ALLOW_USER_PASSWORD_AUTH`,
    /// `ALLOW_ADMIN_USER_PASSWORD_AUTH`) are opt-in.
    #[serde(default = "default_auth_flows")]
    #[schemars(length(min = 1, max = 6))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub explicit_auth_flows: Vec<AuthFlow>,

    /// Access-token lifetime in minutes, 5 to 1440 (default 60).
    #[serde(default = "default_token_validity_minutes")]
    #[schemars(range(min = 5, max = 1440))]
    pub access_token_validity_minutes: i32,

    /// Id-token lifetime in minutes, 5 to 1440 (default 60).
    #[serde(default = "default_token_validity_minutes")]
    #[schemars(range(min = 5, max = 1440))]
    pub id_token_validity_minutes: i32,

    /// Refresh-token lifetime in days, 1 to 3650 (default 30).
    #[serde(default = "default_refresh_token_validity_days")]
    #[schemars(range(min = 1, max = 3650))]
    pub refresh_token_validity_days: i32,

    /// Allow revoking refresh tokens (default true).
    #[serde(default = "default_true")]
    pub enable_token_revocation: bool,

    /// Attributes users may change themselves through this client (`UpdateUserAttributes`
    /// with their own token). Unset: the profile attributes of the standard set, never
    /// `email`, `phone_number`, their `_verified` flags or a `custom:` attribute, so a
    /// user cannot change what apps take as their identity. List `email` to let users
    /// change their address (Cognito then marks it unverified). At least one entry: an
    /// empty list would mean "every attribute" to Cognito.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 50),
        inner(regex(pattern = r"^(custom:)?[A-Za-z0-9_]{1,32}$"))
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub write_attributes: Option<Vec<String>>,

    /// Rotation of the client secret. Without it, the secret is rotated only on request
    /// (the UserPool annotation `cognito.kubeauth.dev/rotate-client-secrets`), with the
    /// default grace period.
    pub secret_rotation: Option<SecretRotation>,

    /// OAuth 2.0 settings, for the managed login pages and the token endpoint (needs
    /// `spec.domain`). Unset: the client signs users in through the API only.
    pub oauth: Option<ClientOAuth>,

    /// Attributes the client may read from the user's profile. Unset: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 50),
        inner(regex(pattern = r"^(custom:)?[A-Za-z0-9_]{1,32}$"))
    )]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub read_attributes: Option<Vec<String>>,

    /// Rotate refresh tokens on each use. Unset: a refresh token is reused until it
    /// expires.
    pub refresh_token_rotation: Option<RefreshTokenRotation>,

    /// Minutes a sign-in session (between challenges, such as MFA) stays valid, 3 to 15.
    /// Unset: Cognito's default, 3.
    #[schemars(range(min = 3, max = 15))]
    pub auth_session_validity_minutes: Option<i32>,
}

/// When a client secret is replaced, and how long the old one stays valid. A rotation
/// adds a second secret, publishes it in the connection Secret as `<client>.clientSecret`
/// with the old one as `<client>.previousClientSecret`, and deletes the old one once the
/// grace period has passed.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretRotation {
    /// Rotate when the current secret is this many days old, 1 to 3650. Unset: only on
    /// request.
    #[schemars(range(min = 1, max = 3650))]
    pub interval_days: Option<i32>,

    /// Minutes both secrets stay valid after a rotation, so that every consumer can
    /// reload the connection Secret; 0 to 10080 (default 60).
    #[serde(default = "default_grace_period_minutes")]
    #[schemars(range(min = 0, max = 10080))]
    pub grace_period_minutes: i32,
}

impl Default for SecretRotation {
    fn default() -> Self {
        Self {
            interval_days: None,
            grace_period_minutes: default_grace_period_minutes(),
        }
    }
}

fn default_grace_period_minutes() -> i32 {
    60
}

/// Standard attributes users may change themselves when a client sets no
/// `writeAttributes`: those a spec may set, less the phone number apps identify users by
/// (`email` and `email_verified` are never in that list).
pub fn default_write_attributes() -> Vec<&'static str> {
    const IDENTIFYING: &[&str] = &["phone_number", "phone_number_verified"];
    STANDARD_ATTRIBUTES
        .iter()
        .copied()
        .filter(|name| !IDENTIFYING.contains(name))
        .collect()
}

impl AppClient {
    /// The client a pool gets when `spec.clients` is empty.
    pub fn default_named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            generate_secret: false,
            explicit_auth_flows: default_auth_flows(),
            access_token_validity_minutes: default_token_validity_minutes(),
            id_token_validity_minutes: default_token_validity_minutes(),
            refresh_token_validity_days: default_refresh_token_validity_days(),
            enable_token_revocation: true,
            write_attributes: None,
            secret_rotation: None,
            oauth: None,
            read_attributes: None,
            refresh_token_rotation: None,
            auth_session_validity_minutes: None,
        }
    }
}

fn default_auth_flows() -> Vec<AuthFlow> {
    vec![AuthFlow::AllowUserSrpAuth, AuthFlow::AllowRefreshTokenAuth]
}

fn default_token_validity_minutes() -> i32 {
    60
}

fn default_refresh_token_validity_days() -> i32 {
    30
}

/// Cognito's `ExplicitAuthFlows` values.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthFlow {
    AllowAdminUserPasswordAuth,
    AllowCustomAuth,
    AllowUserPasswordAuth,
    AllowUserSrpAuth,
    AllowRefreshTokenAuth,
    AllowUserAuth,
}
