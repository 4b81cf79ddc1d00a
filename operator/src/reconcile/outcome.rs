//! How a reconcile's end is handled the same way for both kinds: failures counted,
//! logged and retried with backoff; reconcile requests recognised.

use std::time::Duration;

use cognito_crds::{RECONCILE_REQUEST_ANNOTATION, aws_failure::AwsFailure};
use kube::{Resource, ResourceExt, runtime::controller::Action};

use super::{conditions::reasons, status::ObjectStatus};
use crate::{error::Error, runtime::context::Context};

/// The error policy of both controllers: count the failure, say why, and retry with
/// backoff that grows with the failures in a row. The warning carries the error's short
/// text, as status does; the whole chain is logged at debug level.
pub fn retry_with_backoff<K: Resource>(
    object: &K,
    error: &Error,
    ctx: &Context,
    kind: &'static str,
) -> Action {
    ctx.metrics.reconcile_failure(kind, error.label());
    let failures = ctx.record_failure(&object.uid().unwrap_or_default());
    let (name, namespace) = (object.name_any(), object.namespace());
    tracing::warn!(kind, %name, ?namespace, %error, failures, "reconcile failed");
    tracing::debug!(kind, %name, ?namespace, chain = %error.chain(), "reconcile failed: the whole error");
    Action::requeue(backoff(failures))
}

/// Where the operator's IAM policy is, for messages about a missing action.
const IAM_POLICY: &str = "docs/iam-policy.json";

/// The Synced reason and message of a reconcile that failed with `error`, the same for
/// both kinds: what a person must fix (credentials, IAM) has a reason of its own; the
/// rest is `ReconcileError`, with the cause and what to do in the message.
pub fn failure_report(error: &Error) -> (&'static str, String) {
    let retrying = "retrying with backoff";
    match error.aws_failure() {
        Some(AwsFailure::NoCredentials { .. }) => (
            reasons::AWS_CREDENTIALS_MISSING,
            format!("{error}; {retrying}"),
        ),
        Some(AwsFailure::CredentialsRejected { .. }) => (
            reasons::AWS_CREDENTIALS_REJECTED,
            format!("{error}; {retrying}"),
        ),
        // Only the role's own policy is the operator's to fix.
        Some(AwsFailure::AccessDenied {
            blocked_by: None, ..
        }) => (
            reasons::ACCESS_DENIED,
            format!("{error} ({IAM_POLICY} lists every action the operator needs); {retrying}"),
        ),
        Some(AwsFailure::AccessDenied { .. }) => {
            (reasons::ACCESS_DENIED, format!("{error}; {retrying}"))
        }
        _ => (reasons::RECONCILE_ERROR, format!("{error}; {retrying}")),
    }
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
    fn credentials_and_iam_failures_have_reasons_of_their_own() {
        let cloudformation = |failure| Error::CloudFormation {
            operation: "CreateStack",
            failure,
            chain: String::new(),
        };
        let (reason, message) =
            failure_report(&cloudformation(AwsFailure::NoCredentials { problem: None }));
        assert_eq!(reason, reasons::AWS_CREDENTIALS_MISSING);
        assert!(
            message.starts_with("CloudFormation CreateStack: no AWS credentials found")
                && message.ends_with("; retrying with backoff"),
            "{message}"
        );

        let (reason, message) = failure_report(&cloudformation(AwsFailure::AccessDenied {
            action: "cloudformation:CreateStack".into(),
            blocked_by: None,
        }));
        assert_eq!(reason, reasons::ACCESS_DENIED);
        assert!(
            message.contains("lacks cloudformation:CreateStack") && message.contains(IAM_POLICY),
            "{message}"
        );
        assert!(message.len() < 300, "{} chars: {message}", message.len());

        let cognito = Error::Cognito(cognito_crds::user_provisioning::CognitoError::new(
            "AdminCreateUser",
            cognito_crds::user_provisioning::CognitoErrorKind::CredentialsRejected(
                "ExpiredToken".into(),
            ),
        ));
        assert_eq!(
            failure_report(&cognito).0,
            reasons::AWS_CREDENTIALS_REJECTED
        );

        let unreachable = cloudformation(AwsFailure::Unreachable {
            detail: "Connection refused".into(),
        });
        assert_eq!(failure_report(&unreachable).0, reasons::RECONCILE_ERROR);
        assert_eq!(
            failure_report(&Error::MissingObjectKey("uid")).0,
            reasons::RECONCILE_ERROR
        );
    }

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
