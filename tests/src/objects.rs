//! The operator's custom resources as tests write and read them: manifests in the YAML a
//! user would give kubectl, and what the operator reports in their status.

use cognito_crds::{AppUser, UserPool};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::environment::REGION;

/// API group and version of both kinds.
pub const API_VERSION: &str = "cognito.kubeauth.dev/v1alpha1";

/// A manifest of `kind` named `name`; `spec` holds its spec's YAML lines, each indented by
/// two spaces and ending with a newline (empty for an empty spec).
pub fn manifest(kind: &str, name: &str, spec: &str) -> String {
    let spec = if spec.is_empty() {
        " {}\n".to_owned()
    } else {
        format!("\n{spec}")
    };
    format!("apiVersion: {API_VERSION}\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:{spec}")
}

/// A UserPool in the test region, with more spec lines.
pub fn user_pool_manifest(name: &str, spec: &str) -> String {
    manifest("UserPool", name, &format!("  region: {REGION}\n{spec}"))
}

/// An AppUser of pool `pool` named by `email`, whose password is in the Secret `secret`,
/// with more spec lines.
pub fn app_user_manifest(name: &str, pool: &str, email: &str, secret: &str, spec: &str) -> String {
    manifest(
        "AppUser",
        name,
        &format!(
            "  userPoolRef: {{name: {pool}}}\n  email: {email}\n  passwordSecretRef: {{name: {secret}}}\n{spec}"
        ),
    )
}

/// A Secret holding `password` under the key `password`.
pub fn password_secret_manifest(name: &str, password: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  password: '{password}'\n"
    )
}

/// What the operator reports on both kinds.
pub trait Reconciled {
    fn conditions(&self) -> &[Condition];
    fn observed_generation(&self) -> Option<i64>;
    fn generation(&self) -> Option<i64>;
    /// The `reconcile-requested-at` annotation value the operator handled last.
    fn last_handled_reconcile_at(&self) -> Option<&str>;

    fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions().iter().find(|c| c.type_ == type_)
    }
}

// Both statuses carry the same fields under the same names.
macro_rules! reconciled {
    ($($kind:ty),*) => {$(
        impl Reconciled for $kind {
            fn conditions(&self) -> &[Condition] {
                self.status.as_ref().map_or(&[], |s| &s.conditions)
            }
            fn observed_generation(&self) -> Option<i64> {
                self.status.as_ref()?.observed_generation
            }
            fn generation(&self) -> Option<i64> {
                self.metadata.generation
            }
            fn last_handled_reconcile_at(&self) -> Option<&str> {
                self.status.as_ref()?.last_handled_reconcile_at.as_deref()
            }
        }
    )*};
}
reconciled!(UserPool, AppUser);

/// Ready and Synced are True for the object's current generation.
pub fn is_ready<K: Reconciled>(object: &K) -> bool {
    object.observed_generation() == object.generation()
        && ["Ready", "Synced"]
            .iter()
            .all(|type_| object.condition(type_).is_some_and(|c| c.status == "True"))
}

/// The condition `type_` has `reason`.
pub fn has_reason<K: Reconciled>(type_: &'static str, reason: &'static str) -> impl Fn(&K) -> bool {
    move |object| object.condition(type_).is_some_and(|c| c.reason == reason)
}

/// The operator has handled the reconcile request `value` (see
/// [`crate::TestNamespace::request_reconcile`]).
pub fn handled_request<K: Reconciled>(value: &str) -> impl Fn(&K) -> bool + '_ {
    move |object| object.last_handled_reconcile_at() == Some(value)
}
