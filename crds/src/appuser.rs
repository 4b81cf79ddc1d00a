//! The `AppUser` custom resource: one Cognito user whose password comes from a Secret.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::defaults::default_true;

/// Standard Cognito attributes a spec may set through `attributes`. `email`,
/// `email_verified` and `sub` are left out: the first two come from dedicated spec fields,
/// and Cognito assigns `sub`.
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "address",
    "birthdate",
    "family_name",
    "gender",
    "given_name",
    "locale",
    "middle_name",
    "name",
    "nickname",
    "phone_number",
    "phone_number_verified",
    "picture",
    "preferred_username",
    "profile",
    "updated_at",
    "website",
    "zoneinfo",
];

/// Desired state of a Cognito user.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    namespaced,
    group = "cognito.kubeauth.dev",
    version = "v1alpha1",
    kind = "AppUser",
    doc = "A Cognito user with a preset, permanent password taken from a Secret.",
    shortname = "cau",
    category = "cognito",
    status = "AppUserStatus",
    printcolumn = r#"{"name":"Email","type":"string","jsonPath":".spec.email"}"#,
    printcolumn = r#"{"name":"Pool","type":"string","jsonPath":".spec.userPoolRef.name"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"User Status","type":"string","jsonPath":".status.userStatus"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AppUserSpec {
    /// The UserPool, in the same namespace, that holds this user. Immutable.
    #[x_kube(validation = Rule::new("self == oldSelf").message("userPoolRef is immutable"))]
    pub user_pool_ref: UserPoolRef,

    /// Email address, used as the Cognito user name. Immutable.
    #[schemars(email, length(min = 3, max = 128))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("email is immutable: it is the Cognito user name"))]
    pub email: String,

    /// Secret key that holds the user's password. The operator sets it as a permanent
    /// password and re-applies it whenever the Secret changes.
    pub password_secret_ref: SecretKeyRef,

    /// When true and the password Secret or its key does not exist, the operator writes a
    /// strong password that meets the pool's policy: into a new Secret it creates (owned
    /// by this AppUser and deleted with it), or into one it created for this AppUser
    /// before. It never writes into any other existing Secret.
    #[serde(default)]
    pub generate_password: bool,

    /// Further user attributes: standard ones (`given_name`, `locale`, ...) or
    /// `custom:<name>` attributes declared in the pool's schema.
    #[serde(default)]
    #[schemars(extend("maxProperties" = 50), inner(length(max = 2048)))]
    #[x_kube(validation = Rule::new(attribute_names_rule())
        .message("attribute names must be standard Cognito attributes other than email, email_verified and sub, or custom:<name>"))]
    pub attributes: BTreeMap<String, String>,

    /// Whether the email address is marked verified (default true), so the user can
    /// sign in and recover the password at once.
    #[serde(default = "default_true")]
    pub email_verified: bool,

    /// Groups of the pool the user belongs to.
    #[serde(default)]
    #[schemars(length(max = 100), inner(length(min = 1, max = 128)))]
    #[x_kube(merge_strategy = ListMerge::Set)]
    pub groups: Vec<String>,

    /// Whether the user may sign in (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// What deleting the AppUser object does: `Delete` (default) deletes the Cognito user,
    /// `Retain` keeps it.
    #[serde(default)]
    pub deletion_policy: UserDeletionPolicy,
}

/// CEL rule that accepts only attribute names Cognito lets a client set.
fn attribute_names_rule() -> String {
    format!(
        "self.all(k, k.matches('^(custom:[A-Za-z0-9_]{{1,20}}|{})$'))",
        STANDARD_ATTRIBUTES.join("|")
    )
}

/// A reference to a UserPool in the same namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct UserPoolRef {
    /// Name of the UserPool.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A key of a Secret in the same namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,

    /// Key within the Secret (default `password`).
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_password_key() -> String {
    "password".to_owned()
}

/// What deleting the AppUser object does to the Cognito user.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserDeletionPolicy {
    #[default]
    Delete,
    Retain,
}

/// Observed state of the user, written by the operator.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppUserStatus {
    /// Id of the pool that holds the user.
    pub user_pool_id: Option<String>,

    /// Cognito's immutable user id (`sub` claim).
    pub sub: Option<String>,

    /// Cognito user name.
    pub username: Option<String>,

    /// Cognito user status, for example `CONFIRMED`.
    pub user_status: Option<String>,

    /// Names of the attributes the operator set, so that one removed from the spec is
    /// deleted from the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_attributes: Vec<String>,

    /// Whether the user is enabled in Cognito.
    pub enabled: Option<bool>,

    /// Version of the password Secret last applied (never the password itself): the
    /// Secret's `resourceVersion`.
    pub applied_password_version: Option<String>,

    /// Version of the password Secret that Cognito refused (pool policy); it is not tried
    /// again until the Secret changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_password_version: Option<String>,

    /// The `metadata.generation` the status describes.
    pub observed_generation: Option<i64>,

    /// The value of the `cognito.kubeauth.dev/reconcile-requested-at` annotation last
    /// handled: the user was read from Cognito and repaired then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,

    /// `Ready` (the user can sign in as declared) and `Synced`, following Kubernetes API
    /// conventions.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
