//! How a reconcile's end is handled the same way for both kinds: failures counted,
//! logged and retried with backoff; reconcile requests recognised.

use std::time::Duration;

use cognito_crds::RECONCILE_REQUEST_ANNOTATION;
use kube::{Resource, ResourceExt, runtime::controller::Action};

use super::status::ObjectStatus;
use crate::{error::Error, runtime::context::Context};

/// The error policy of both controllers: count the failure, say why, and retry with
/// backoff that grows with the failures in a row.
pub fn retry_with_backoff<K: Resource>(
    object: &K,
    error: &Error,
    ctx: &Context,
    kind: &'static str,
) -> Action {
    ctx.metrics.reconcile_failure(kind, error.label());
    let failures = ctx.record_failure(&object.uid().unwrap_or_default());
    tracing::warn!(
        kind,
        name = %object.name_any(),
        namespace = ?object.namespace(),
        %error,
        failures,
        "reconcile failed"
    );
    Action::requeue(backoff(failures))
}

/// Exponential backoff with jitter: 1 s doubling per failure up to 5 minutes, each delay
/// drawn between half and all of its step so that many objects do not retry in lockstep.
pub fn backoff(failures: u32) -> Duration {
    let step = Duration::from_secs(1u64 << failures.clamp(1, 9).saturating_sub(1))
        .min(Duration::from_secs(300));
    let jitter = rand::random_range(0.5..=1.0);
    step.mul_f64(jitter)
}

/// The value of a reconcile request (annotation) not handled yet, if there is one.
pub fn pending_request<K: Resource>(object: &K, status: &impl ObjectStatus) -> Option<String> {
    object
        .annotations()
        .get(RECONCILE_REQUEST_ANNOTATION)
        .filter(|requested| Some(requested.as_str()) != status.last_handled_request())
        .cloned()
}

#[cfg(test)]
mod tests {
    use cognito_crds::{AppUser, AppUserStatus};

    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) <= Duration::from_secs(1));
        assert!(backoff(4) >= Duration::from_secs(4) && backoff(4) <= Duration::from_secs(8));
        assert!(backoff(100) <= Duration::from_secs(300));
    }

    #[test]
    fn a_request_is_pending_until_its_value_is_handled() {
        let mut user: AppUser = serde_json::from_value(serde_json::json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "AppUser",
            "metadata": {"name": "alice", "namespace": "shop"},
            "spec": {
                "userPoolRef": {"name": "shop"},
                "email": "alice@example.com",
                "passwordSecretRef": {"name": "s"},
            },
        }))
        .expect("an AppUser");
        let mut status = AppUserStatus::default();
        assert_eq!(pending_request(&user, &status), None, "no annotation");

        user.annotations_mut()
            .insert(RECONCILE_REQUEST_ANNOTATION.into(), "t1".into());
        assert_eq!(pending_request(&user, &status).as_deref(), Some("t1"));

        status.last_handled_reconcile_at = Some("t1".into());
        assert_eq!(pending_request(&user, &status), None, "handled");

        user.annotations_mut()
            .insert(RECONCILE_REQUEST_ANNOTATION.into(), "t2".into());
        assert_eq!(pending_request(&user, &status).as_deref(), Some("t2"));
    }
}
