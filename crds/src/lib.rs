//! cognito-crds: what more than one binary needs.
//!
//! - the `UserPool` and `AppUser` custom resource types (their generated YAML lives beside
//!   this crate, in `crds/*.yaml`, written by `cognito-operator crdgen`);
//! - [`user_provisioning`]: creating a Cognito user whose password is permanent, shared by
//!   the AppUser controller and webhook-api's sign-up;
//! - [`aws_failure`]: what a failed AWS call means, in words a person can act on.
#![forbid(unsafe_code)]

pub mod app_client;
pub mod appuser;
pub mod aws_failure;
mod defaults;
pub mod identity_provider;
pub mod oauth;
pub mod pool_settings;
pub mod triggers;
pub mod user_provisioning;
pub mod userpool;

/// Annotation that asks the operator to check an object against AWS now and repair any
/// drift, instead of waiting for the next resync. Any new value (a timestamp, say) is a
/// new request; the value handled last is reported in `status.lastHandledReconcileAt`.
pub const RECONCILE_REQUEST_ANNOTATION: &str = "cognito.kubeauth.dev/reconcile-requested-at";

/// Annotation that asks the operator to rotate every client secret of a UserPool created
/// before the time it holds (RFC 3339, e.g. `2026-11-30T20:00:00Z`): annotate with the
/// current time to rotate now. Times in the future are refused.
pub const ROTATE_CLIENT_SECRETS_ANNOTATION: &str = "cognito.kubeauth.dev/rotate-client-secrets";

pub use appuser::{AppUser, AppUserSpec, AppUserStatus};
pub use userpool::{UserPool, UserPoolSpec, UserPoolStatus};
