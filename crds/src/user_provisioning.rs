//! Creating a Cognito user whose password is permanent from the start: the one code path
//! shared by the AppUser controller and webhook-api's sign-up.
//!
//! `AdminCreateUser` with `MessageAction=SUPPRESS` (no invitation email) and the password as
//! the temporary one, so Cognito checks it against the pool policy before the user exists;
//! then `AdminSetUserPassword Permanent=true`, which moves the user from
//! `FORCE_CHANGE_PASSWORD` to `CONFIRMED`. The user never sees a temporary password.

use std::fmt;

use aws_sdk_cognitoidentityprovider::{
    Client,
    config::http::HttpResponse,
    error::{ProvideErrorMetadata, SdkError},
    types::{AttributeType, MessageActionType, UserType},
};

use crate::aws_failure::{self, AwsFailure, Service};

/// A failed Cognito call: the operation, and what kind of failure Cognito reported.
/// Its text is one sentence (cause, then what to do) with Cognito's words, never a
/// password; [`CognitoError::chain`] has the SDK's whole error, for debug logs.
#[derive(Debug, thiserror::Error)]
#[error("Cognito {operation}: {kind}")]
pub struct CognitoError {
    pub operation: &'static str,
    pub kind: CognitoErrorKind,
    chain: Option<String>,
}

/// The kinds of Cognito failure callers act on differently; the rest are `Other`. The
/// kinds any AWS service can fail with are told as [`AwsFailure`] tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CognitoErrorKind {
    UserExists,
    InvalidPassword(String),
    InvalidParameter(String),
    Throttled(String),
    PoolNotFound(String),
    UserNotFound(String),
    /// Cognito refused a user's credentials (a wrong password, say): not the operator's.
    NotAuthorized(String),
    /// Cognito answered with a server error (5xx): it may work again in a moment.
    ServerError(String),
    /// No answer: the connection failed or the call timed out.
    Unreachable(String),
    /// The caller has no AWS credentials (`None`), or could not load them (why).
    NoCredentials(Option<String>),
    /// AWS does not accept the caller's credentials (the error code).
    CredentialsRejected(String),
    /// IAM refused `action`; `blocked_by` names a policy other than the caller's own.
    AccessDenied {
        action: String,
        blocked_by: Option<String>,
    },
    Other {
        code: String,
        message: String,
    },
}

impl CognitoErrorKind {
    /// Whether Cognito refused the call for its request rate (retry later, slower).
    pub fn is_throttling(&self) -> bool {
        matches!(self, Self::Throttled(_))
    }

    /// Whether Cognito failed on its side or did not answer at all.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::ServerError(_) | Self::Unreachable(_))
    }

    /// The failure any AWS service could have had, if this is one (not a Cognito answer
    /// about users or pools).
    pub fn aws_failure(&self) -> Option<AwsFailure> {
        Some(match self.clone() {
            Self::InvalidParameter(message) => AwsFailure::Validation { message },
            Self::Throttled(message) => AwsFailure::Throttled { message },
            Self::ServerError(code) => AwsFailure::ServerError { code },
            Self::Unreachable(detail) => AwsFailure::Unreachable { detail },
            Self::NoCredentials(problem) => AwsFailure::NoCredentials { problem },
            Self::CredentialsRejected(code) => AwsFailure::CredentialsRejected { code },
            Self::AccessDenied { action, blocked_by } => {
                AwsFailure::AccessDenied { action, blocked_by }
            }
            Self::Other { code, message } => AwsFailure::Other { code, message },
            Self::UserExists
            | Self::InvalidPassword(_)
            | Self::PoolNotFound(_)
            | Self::UserNotFound(_)
            | Self::NotAuthorized(_) => return None,
        })
    }
}

impl From<AwsFailure> for CognitoErrorKind {
    /// Cognito's own answers (a taken name, a refused password...) are told apart by
    /// their codes, which [`AwsFailure`] leaves in `Other`.
    fn from(failure: AwsFailure) -> Self {
        match failure {
            AwsFailure::NoCredentials { problem } => Self::NoCredentials(problem),
            AwsFailure::CredentialsRejected { code } => Self::CredentialsRejected(code),
            AwsFailure::AccessDenied { action, blocked_by } => {
                Self::AccessDenied { action, blocked_by }
            }
            AwsFailure::Unreachable { detail } => Self::Unreachable(detail),
            AwsFailure::Throttled { message } => Self::Throttled(message),
            AwsFailure::Validation { message } => Self::InvalidParameter(message),
            AwsFailure::ServerError { code } => Self::ServerError(code),
            AwsFailure::Other { code, message } => match code.as_str() {
                "UsernameExistsException" => Self::UserExists,
                "InvalidPasswordException" => Self::InvalidPassword(message),
                "ResourceNotFoundException" => Self::PoolNotFound(message),
                "UserNotFoundException" => Self::UserNotFound(message),
                "NotAuthorizedException" => Self::NotAuthorized(message),
                _ => Self::Other { code, message },
            },
        }
    }
}

impl fmt::Display for CognitoErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserExists => f.write_str("a user with that name already exists"),
            Self::InvalidPassword(message) => {
                write!(f, "the password does not meet the pool's policy: {message}")
            }
            Self::PoolNotFound(message) => write!(f, "the user pool does not exist: {message}"),
            Self::UserNotFound(message) => write!(f, "the user does not exist: {message}"),
            Self::NotAuthorized(message) => {
                write!(f, "Cognito refused the credentials: {message}")
            }
            other => match other.aws_failure() {
                Some(failure) => failure.fmt(f),
                None => Ok(()),
            },
        }
    }
}

impl CognitoError {
    /// A failure the caller found itself (an incomplete answer, say).
    pub fn new(operation: &'static str, kind: CognitoErrorKind) -> Self {
        Self {
            operation,
            kind,
            chain: None,
        }
    }

    /// Classifies an SDK error of `operation`, keeping its whole chain for the log.
    pub fn from_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        error: SdkError<E, HttpResponse>,
    ) -> Self {
        let failure = AwsFailure::of(Service::COGNITO, operation, &error);
        Self {
            operation,
            kind: failure.into(),
            chain: Some(aws_failure::chain(&error)),
        }
    }

    /// The SDK's whole error chain, for debug logs only: long, and full of the SDK's
    /// internals.
    pub fn chain(&self) -> String {
        self.chain.clone().unwrap_or_else(|| self.to_string())
    }
}

/// Cognito's limit on password length, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Why Cognito would refuse `password` whatever the pool's policy, or `None`. Cognito
/// answers these with `InvalidParameterException` (its pattern is `^[\S]+.*[\S]+$`), so
/// they are checked here to give a clear message instead.
pub fn password_format_problem(password: &str) -> Option<&'static str> {
    if password.is_empty() {
        Some("password must not be empty")
    } else if password.trim() != password {
        Some("password must not start or end with whitespace")
    } else if password.chars().count() > MAX_PASSWORD_CHARS {
        Some("password must be at most 256 characters")
    } else {
        None
    }
}

/// A user to create: its name, attributes and (permanent) password.
#[derive(Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub attributes: Vec<AttributeType>,
    pub password: &'a str,
}

/// Creates `user` in the pool and makes its password permanent.
pub async fn create_user(
    cognito: &Client,
    user_pool_id: &str,
    user: NewUser<'_>,
) -> Result<UserType, CognitoError> {
    let (username, password) = (user.username, user.password);
    let created = create_suppressed(cognito, user_pool_id, user).await?;
    set_permanent_password(cognito, user_pool_id, username, password).await?;
    Ok(created)
}

/// The first half of [`create_user`]: `AdminCreateUser` with `MessageAction=SUPPRESS` and
/// `password` as the temporary password. The user is `FORCE_CHANGE_PASSWORD` until
/// [`set_permanent_password`] runs; callers that must survive a crash in between (the
/// AppUser controller) record the user first and converge on the next reconcile.
pub async fn create_suppressed(
    cognito: &Client,
    user_pool_id: &str,
    user: NewUser<'_>,
) -> Result<UserType, CognitoError> {
    let created = cognito
        .admin_create_user()
        .user_pool_id(user_pool_id)
        .username(user.username)
        .set_user_attributes(Some(user.attributes))
        .temporary_password(user.password)
        .message_action(MessageActionType::Suppress)
        .send()
        .await
        .map_err(|e| CognitoError::from_sdk("AdminCreateUser", e))?;
    created.user.ok_or_else(|| {
        CognitoError::new(
            "AdminCreateUser",
            CognitoErrorKind::Other {
                code: "MissingUser".to_owned(),
                message: "the response carried no user".to_owned(),
            },
        )
    })
}

/// Sets `password` as the permanent password of an existing user.
pub async fn set_permanent_password(
    cognito: &Client,
    user_pool_id: &str,
    username: &str,
    password: &str,
) -> Result<(), CognitoError> {
    cognito
        .admin_set_user_password()
        .user_pool_id(user_pool_id)
        .username(username)
        .password(password)
        .permanent(true)
        .send()
        .await
        .map_err(|e| CognitoError::from_sdk("AdminSetUserPassword", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_cognitoidentityprovider::{
        config::http::HttpResponse, error::ErrorMetadata,
        operation::admin_create_user::AdminCreateUserError,
    };
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn answered(status: u16, code: &str) -> SdkError<AdminCreateUserError, HttpResponse> {
        let status = StatusCode::try_from(status).expect("a status code");
        let metadata = ErrorMetadata::builder().code(code).message("m").build();
        SdkError::service_error(
            AdminCreateUserError::generic(metadata),
            HttpResponse::new(status, SdkBody::empty()),
        )
    }

    fn kind_of(error: SdkError<AdminCreateUserError, HttpResponse>) -> CognitoErrorKind {
        CognitoError::from_sdk("AdminCreateUser", error).kind
    }

    #[test]
    fn failures_are_classified_by_code_status_and_transport() {
        assert!(kind_of(answered(400, "TooManyRequestsException")).is_throttling());
        assert!(kind_of(answered(500, "InternalErrorException")).is_unavailable());
        assert!(kind_of(answered(503, "ServiceUnavailable")).is_unavailable());
        assert_eq!(
            kind_of(answered(400, "UsernameExistsException")),
            CognitoErrorKind::UserExists
        );
        let timeout = SdkError::timeout_error("the attempt timed out after 15 s");
        assert!(matches!(kind_of(timeout), CognitoErrorKind::Unreachable(_)));
        let unexpected = kind_of(answered(400, "AliasExistsException"));
        assert!(!unexpected.is_unavailable() && !unexpected.is_throttling());
    }

    #[test]
    fn access_denied_and_missing_credentials_read_as_what_to_do() {
        let metadata = ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message("User: arn:aws:iam::123456789012:user/op is not authorized to perform: cognito-idp:AdminCreateUser on resource: arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_x because no identity-based policy allows the cognito-idp:AdminCreateUser action")
            .build();
        let denied = CognitoError::from_sdk(
            "AdminCreateUser",
            SdkError::service_error(
                AdminCreateUserError::generic(metadata),
                HttpResponse::new(StatusCode::try_from(400).expect("400"), SdkBody::empty()),
            ),
        );
        assert_eq!(
            denied.to_string(),
            "Cognito AdminCreateUser: access denied: the role lacks cognito-idp:AdminCreateUser; add it to the role's IAM policy"
        );
        // The log gets AWS's whole sentence.
        assert!(
            denied
                .chain()
                .contains("because no identity-based policy allows")
        );

        let timeout = CognitoError::from_sdk(
            "AdminGetUser",
            SdkError::<AdminCreateUserError, HttpResponse>::timeout_error("timed out after 15s"),
        );
        assert!(timeout.kind.is_unavailable());
        assert!(timeout.to_string().len() < 300, "{timeout}");
    }

    #[test]
    fn cognito_kinds_and_aws_failures_tell_the_same_story() {
        let generic = [
            AwsFailure::NoCredentials { problem: None },
            AwsFailure::CredentialsRejected {
                code: "ExpiredToken".into(),
            },
            AwsFailure::AccessDenied {
                action: "cognito-idp:AdminGetUser".into(),
                blocked_by: None,
            },
            AwsFailure::Unreachable {
                detail: "Connection refused".into(),
            },
            AwsFailure::Throttled {
                message: "Rate exceeded".into(),
            },
            AwsFailure::Validation {
                message: "bad email".into(),
            },
            AwsFailure::ServerError {
                code: "InternalErrorException".into(),
            },
            AwsFailure::Other {
                code: "AliasExistsException".into(),
                message: "taken".into(),
            },
        ];
        for failure in generic {
            let kind = CognitoErrorKind::from(failure.clone());
            assert_eq!(kind.to_string(), failure.to_string());
            assert_eq!(kind.aws_failure(), Some(failure));
        }
        let own = CognitoErrorKind::from(AwsFailure::Other {
            code: "InvalidPasswordException".into(),
            message: "too short".into(),
        });
        assert_eq!(own, CognitoErrorKind::InvalidPassword("too short".into()));
        assert_eq!(own.aws_failure(), None);
    }

    #[test]
    fn password_format_problems_are_named() {
        assert_eq!(password_format_problem("Correct-Horse-9"), None);
        assert_eq!(password_format_problem("with inner space-9"), None);
        assert_eq!(
            password_format_problem("Correct-Horse-9\n"),
            Some("password must not start or end with whitespace")
        );
        assert_eq!(
            password_format_problem(" Correct-Horse-9"),
            Some("password must not start or end with whitespace")
        );
        assert_eq!(
            password_format_problem(""),
            Some("password must not be empty")
        );
        assert_eq!(
            password_format_problem(&"x".repeat(MAX_PASSWORD_CHARS + 1)),
            Some("password must be at most 256 characters")
        );
        assert_eq!(
            password_format_problem(&"é".repeat(MAX_PASSWORD_CHARS)),
            None
        );
    }
}
