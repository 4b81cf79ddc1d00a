//! Identity providers of a UserPool: social sign-in (Google, Facebook, Login with Amazon,
//! Sign in with Apple) and enterprise federation (OIDC, SAML). Their secrets come from
//! Kubernetes Secrets in the pool's namespace, never from the spec.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Provider types whose name Cognito fixes to the type's.
const SOCIAL: &str = "['Google', 'Facebook', 'LoginWithAmazon', 'SignInWithApple']";

/// An external identity provider users can sign in with on the managed login pages.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(format!("!(self.type in {SOCIAL}) || self.name == self.type"))
    .message("Google, Facebook, LoginWithAmazon and SignInWithApple providers must be named after their type")
    .field_path(".name"))]
#[x_kube(validation = Rule::new("self.type == 'SAML' || has(self.clientId)")
    .message("this provider type needs clientId")
    .field_path(".clientId"))]
#[x_kube(validation = Rule::new("!(self.type in ['Google', 'Facebook', 'LoginWithAmazon']) || has(self.clientSecretRef)")
    .message("Google, Facebook and LoginWithAmazon need clientSecretRef")
    .field_path(".clientSecretRef"))]
#[x_kube(validation = Rule::new("(self.type == 'SignInWithApple') == has(self.apple)")
    .message("apple is required for, and only for, type SignInWithApple")
    .field_path(".apple"))]
#[x_kube(validation = Rule::new("(self.type == 'OIDC') == has(self.oidc)")
    .message("oidc is required for, and only for, type OIDC")
    .field_path(".oidc"))]
#[x_kube(validation = Rule::new("(self.type == 'SAML') == has(self.saml)")
    .message("saml is required for, and only for, type SAML")
    .field_path(".saml"))]
#[x_kube(validation = Rule::new("self.type != 'SAML' || (!has(self.clientId) && !has(self.clientSecretRef))")
    .message("a SAML provider takes no clientId or clientSecretRef")
    .field_path(".clientId"))]
#[x_kube(validation = Rule::new("self.type == oldSelf.type")
    .message("type cannot change: Cognito would need a second provider of the same name. Remove the provider, apply, then add it with the new type")
    .field_path(".type"))]
pub struct IdentityProvider {
    /// Provider name, as app clients list it in `oauth.identityProviders`: the type's
    /// name for social providers, your choice (1 to 32 characters) for OIDC and SAML.
    #[schemars(
        length(min = 1, max = 32),
        regex(pattern = r"^[^_\s][^\s]{0,30}[^_\s]$|^[^_\s]$")
    )]
    pub name: String,

    /// `Google`, `Facebook`, `LoginWithAmazon`, `SignInWithApple`, `OIDC` or `SAML`.
    /// Cannot change.
    #[serde(rename = "type")]
    pub provider_type: ProviderType,

    /// The client (app) id the provider gave you.
    #[schemars(length(min = 1, max = 512))]
    pub client_id: Option<String>,

    /// The Secret key holding the provider's client secret (optional for OIDC).
    pub client_secret_ref: Option<ProviderSecretRef>,

    /// Scopes asked of the provider, for example `[openid, email, profile]`.
    #[serde(default)]
    #[schemars(
        length(max = 50),
        inner(length(min = 1, max = 256), regex(pattern = r"^\S+$"))
    )]
    pub authorize_scopes: Vec<String>,

    /// Sign in with Apple settings.
    pub apple: Option<AppleSettings>,

    /// OpenID Connect settings.
    pub oidc: Option<OidcSettings>,

    /// SAML settings.
    pub saml: Option<SamlSettings>,

    /// Pool attribute -> provider attribute, for example `email: email`.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50), inner(length(min = 1, max = 128)))]
    pub attribute_mapping: BTreeMap<String, String>,

    /// Other names for the provider, such as e-mail domains users type to be sent to it.
    #[serde(default)]
    #[schemars(length(max = 50), inner(length(min = 1, max = 40)))]
    pub identifiers: Vec<String>,
}

/// Cognito's provider types.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderType {
    Google,
    Facebook,
    LoginWithAmazon,
    SignInWithApple,
    #[serde(rename = "OIDC")]
    Oidc,
    #[serde(rename = "SAML")]
    Saml,
}

/// A key of a Secret in the pool's namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSecretRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,

    /// Key in the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// What Apple gave you for Sign in with Apple.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppleSettings {
    /// Your Apple developer team id.
    #[schemars(length(min = 1, max = 64))]
    pub team_id: String,

    /// The id of the private key.
    #[schemars(length(min = 1, max = 64))]
    pub key_id: String,

    /// The Secret key holding the private key (PEM).
    pub private_key_ref: ProviderSecretRef,
}

/// An OpenID Connect provider.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OidcSettings {
    /// The provider's issuer URL; Cognito reads its discovery document.
    #[schemars(length(max = 2048), regex(pattern = r"^https://\S+$"))]
    pub issuer: String,

    /// How Cognito asks for user attributes: `GET` (default) or `POST`.
    #[serde(default)]
    pub attributes_request_method: AttributesRequestMethod,
}

/// HTTP method of the user-info request.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AttributesRequestMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

/// A SAML identity provider.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SamlSettings {
    /// URL of the provider's metadata document, which Cognito fetches.
    #[schemars(length(max = 2048), regex(pattern = r"^https://\S+$"))]
    pub metadata_url: String,
}
