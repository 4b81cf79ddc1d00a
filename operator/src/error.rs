//! The operator's error type: one variant per failure source, each with a stable label
//! for metrics and Events. Its text is what conditions and Events say: one sentence with
//! the likely cause and what to do; [`Error::chain`] has the whole error for debug logs.

use cognito_crds::{
    aws_failure::{self, AwsFailure, Service, clip},
    user_provisioning::CognitoError,
};

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {}", kube_failure(.0))]
    Kube(#[from] kube::Error),

    #[error("CloudFormation {operation}: {failure}")]
    CloudFormation {
        operation: &'static str,
        failure: AwsFailure,
        chain: String,
    },

    #[error("Lambda {operation}: {failure}")]
    Lambda {
        operation: &'static str,
        failure: AwsFailure,
        chain: String,
    },

    #[error(transparent)]
    Cognito(#[from] CognitoError),

    #[error("object has no {0}")]
    MissingObjectKey(&'static str),
}

/// `Result` with the operator's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An SDK error of any AWS service, as the operator's clients return them.
type SdkError<E> = aws_smithy_runtime_api::client::result::SdkError<
    E,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

impl Error {
    /// Fixed category for metrics labels (never per-object text).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Kube(_) => "kube",
            Self::CloudFormation { .. } => "cloudformation",
            Self::Lambda { .. } => "lambda",
            Self::Cognito(e) if e.kind.is_throttling() => "throttled",
            Self::Cognito(e) if e.kind.is_unavailable() => "cognito_unavailable",
            Self::Cognito(_) => "cognito",
            Self::MissingObjectKey(_) => "missing_object_key",
        }
    }

    /// Builds an error from a CloudFormation call's SDK error.
    pub fn cloudformation<E>(operation: &'static str, error: SdkError<E>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::CloudFormation {
            operation,
            failure: AwsFailure::of(Service::CLOUDFORMATION, operation, &error),
            chain: aws_failure::chain(&error),
        }
    }

    /// Builds an error from a Lambda call's SDK error.
    pub fn lambda<E>(operation: &'static str, error: SdkError<E>) -> Self
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::Lambda {
            operation,
            failure: AwsFailure::of(Service::LAMBDA, operation, &error),
            chain: aws_failure::chain(&error),
        }
    }

    /// Whether AWS throttled the call that failed.
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Cognito(e) if e.kind.is_throttling())
    }

    /// What failed at AWS, told the same way for every service; `None` for Kubernetes
    /// and Cognito's own answers about users and pools.
    pub fn aws_failure(&self) -> Option<AwsFailure> {
        match self {
            Self::CloudFormation { failure, .. } | Self::Lambda { failure, .. } => {
                Some(failure.clone())
            }
            Self::Cognito(error) => error.kind.aws_failure(),
            Self::Kube(_) | Self::MissingObjectKey(_) => None,
        }
    }

    /// The whole error chain, for debug logs only: never in status or Events, where the
    /// error's own text goes.
    pub fn chain(&self) -> String {
        match self {
            Self::Kube(error) => aws_failure::chain(error),
            Self::CloudFormation { chain, .. } | Self::Lambda { chain, .. } => chain.clone(),
            Self::Cognito(error) => error.chain(),
            Self::MissingObjectKey(_) => self.to_string(),
        }
    }
}

/// A failed Kubernetes API call told by its likely cause and what to do: the API
/// server's own message for refusals about the object, RBAC's missing permission, or an
/// unreachable server. `kube::Error`'s own text holds the whole `Status` in debug form.
fn kube_failure(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => match status.code {
            401 => "the API server does not accept the operator's credentials (401 Unauthorized); check its ServiceAccount token or kubeconfig".to_owned(),
            403 => match missing_permission(&status.message) {
                Some(permission) => format!(
                    "the operator's RBAC lacks {permission}; add it to the operator's ClusterRole (the chart's RBAC templates)"
                ),
                None => format!("forbidden: {}", clip(&status.message)),
            },
            429 => "the API server is throttling the operator (429 TooManyRequests)".to_owned(),
            code if code >= 500 => format!(
                "the API server failed ({code} {}): {}",
                status.reason,
                clip(&status.message)
            ),
            code => format!("{} ({code} {})", clip(&status.message), status.reason),
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => format!(
            "the API server did not answer ({}); check that it is up and reachable from the operator",
            clip(&aws_failure::root_cause(error).to_string())
        ),
        kube::Error::SerdeError(_) => format!(
            "the API server's answer could not be read ({}); the installed CRDs may be older than the operator: upgrade them",
            clip(&aws_failure::root_cause(error).to_string())
        ),
        kube::Error::Auth(_) => format!(
            "the operator could not authenticate ({}); check its ServiceAccount token or kubeconfig",
            clip(&aws_failure::root_cause(error).to_string())
        ),
        other => clip(&other.to_string()),
    }
}

/// The verb and resource in an RBAC refusal: `secrets "x" is forbidden: User "…" cannot
/// create resource "secrets" in API group "" in the namespace "shop"` reads `create on
/// secrets`; a group is added as `userpools/status.cognito.kubeauth.dev`.
fn missing_permission(message: &str) -> Option<String> {
    let (_, rest) = message.split_once(" cannot ")?;
    let (verb, rest) = rest.split_once(" resource \"")?;
    let (resource, rest) = rest.split_once('"')?;
    let group = rest
        .strip_prefix(" in API group \"")
        .and_then(|g| g.split_once('"'))
        .map(|(group, _)| group)
        .unwrap_or_default();
    let resource = match group {
        "" => resource.to_owned(),
        group => format!("{resource}.{group}"),
    };
    let scope = match rest.split_once(" in the namespace \"") {
        Some((_, namespace)) => namespace
            .split_once('"')
            .map(|(namespace, _)| format!(" in namespace {namespace}"))
            .unwrap_or_default(),
        None => String::new(),
    };
    Some(format!("{verb} on {resource}{scope}"))
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> Error {
        Error::Kube(kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Status::failure(message, reason)
        })))
    }

    #[test]
    fn rbac_refusals_name_the_missing_permission() {
        let forbidden = api(
            403,
            "Forbidden",
            r#"secrets "shop-cognito" is forbidden: User "system:serviceaccount:ops:cognito-operator" cannot create resource "secrets" in API group "" in the namespace "shop""#,
        );
        assert_eq!(
            forbidden.to_string(),
            "Kubernetes API: the operator's RBAC lacks create on secrets in namespace shop; add it to the operator's ClusterRole (the chart's RBAC templates)"
        );
        assert_eq!(
            missing_permission(
                r#"userpools.cognito.kubeauth.dev "p" is forbidden: User "u" cannot patch resource "userpools/status" in API group "cognito.kubeauth.dev" at the cluster scope"#
            )
            .as_deref(),
            Some("patch on userpools/status.cognito.kubeauth.dev")
        );
        // Another kind of 403 (an admission webhook, say) keeps the server's words.
        let other = api(403, "Forbidden", "denied by policy tenants-only");
        assert_eq!(
            other.to_string(),
            "Kubernetes API: forbidden: denied by policy tenants-only"
        );
    }

    #[test]
    fn api_answers_are_short_and_keep_the_servers_message() {
        let conflict = api(
            409,
            "Conflict",
            r#"Operation cannot be fulfilled on userpools "p": the object has been modified"#,
        );
        let text = conflict.to_string();
        assert!(
            text.contains("the object has been modified (409 Conflict)"),
            "{text}"
        );
        assert!(!text.contains("Status {"), "no debug dump: {text}");
        // The log keeps the whole of it.
        assert!(
            conflict.chain().contains("Status {"),
            "{}",
            conflict.chain()
        );

        let failing = api(500, "InternalError", "etcdserver: request timed out");
        assert!(
            failing
                .to_string()
                .contains("the API server failed (500 InternalError)"),
            "{failing}"
        );
        assert!(
            api(401, "Unauthorized", "Unauthorized")
                .to_string()
                .contains("credentials")
        );
    }

    #[test]
    fn aws_failures_come_out_of_every_service_alike() {
        let denied = Error::CloudFormation {
            operation: "CreateStack",
            failure: AwsFailure::AccessDenied {
                action: "cloudformation:CreateStack".into(),
                blocked_by: None,
            },
            chain: "service error: AccessDenied: User: u is not authorized".into(),
        };
        assert_eq!(
            denied.to_string(),
            "CloudFormation CreateStack: access denied: the role lacks cloudformation:CreateStack; add it to the role's IAM policy"
        );
        assert_eq!(denied.label(), "cloudformation");
        assert!(denied.chain().contains("is not authorized"));
        assert_eq!(
            denied.aws_failure(),
            Some(AwsFailure::AccessDenied {
                action: "cloudformation:CreateStack".into(),
                blocked_by: None
            })
        );
        assert_eq!(Error::MissingObjectKey("uid").aws_failure(), None);
    }
}
