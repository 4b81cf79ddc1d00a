//! The operator's error type: one variant per failure source, each with a stable label
//! for metrics and Events.

use cognito_crds::user_provisioning::CognitoError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    #[error("CloudFormation {operation}: {message}")]
    CloudFormation {
        operation: &'static str,
        message: String,
    },

    #[error("Lambda {operation}: {message}")]
    Lambda {
        operation: &'static str,
        message: String,
    },

    #[error(transparent)]
    Cognito(#[from] CognitoError),

    #[error("object has no {0}")]
    MissingObjectKey(&'static str),
}

/// `Result` with the operator's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

    /// Builds an error from an AWS SDK error, keeping the service's code and message.
    pub fn cloudformation<E>(
        operation: &'static str,
        error: aws_sdk_cloudformation::error::SdkError<E>,
    ) -> Self
    where
        E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::CloudFormation {
            operation,
            message: aws_message(&error),
        }
    }

    /// Builds an error from a Lambda call's SDK error.
    pub fn lambda<E>(operation: &'static str, error: aws_sdk_lambda::error::SdkError<E>) -> Self
    where
        E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self::Lambda {
            operation,
            message: aws_message(&error),
        }
    }

    /// Whether AWS throttled the call that failed.
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Cognito(e) if e.kind.is_throttling())
    }
}

/// The service's error code and message, or the transport error.
fn aws_message<E>(error: &aws_sdk_cloudformation::error::SdkError<E>) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_cloudformation::error::ProvideErrorMetadata;
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_cloudformation::error::DisplayErrorContext(error).to_string(),
    }
}
