//! The operator's error type: one variant per failure source, each with a stable label
//! for metrics and Events.

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

    #[error("Cognito {operation}: {message}")]
    Cognito {
        operation: &'static str,
        message: String,
    },

    #[error("Cognito {operation} throttled: {message}")]
    Throttled {
        operation: &'static str,
        message: String,
    },

    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),

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
            Self::Cognito { .. } => "cognito",
            Self::Throttled { .. } => "throttled",
            Self::Finalizer(_) => "finalizer",
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
}

impl Error {
    /// Builds an error from a classified Cognito user-call failure of `operation`.
    pub fn cognito_user(
        operation: &'static str,
        error: crate::user_provisioning::ProvisionError,
    ) -> Self {
        use crate::user_provisioning::ProvisionError;
        match error {
            ProvisionError::Throttled(message) => Self::Throttled { operation, message },
            ProvisionError::Cognito {
                operation,
                code,
                message,
            } => Self::Cognito {
                operation,
                message: format!("{code}: {message}"),
            },
            other => Self::Cognito {
                operation,
                message: other.to_string(),
            },
        }
    }
}

/// The service's error code and message, or the transport error.
pub fn aws_message<E>(error: &aws_sdk_cloudformation::error::SdkError<E>) -> String
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
