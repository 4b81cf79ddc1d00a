//! Creating a Cognito user whose password is permanent from the start: the one code path
//! shared by the AppUser controller and webhook-api's sign-up.
//!
//! `AdminCreateUser` with `MessageAction=SUPPRESS` (no invitation email) and the password as
//! the temporary one, so Cognito checks it against the pool policy before the user exists;
//! then `AdminSetUserPassword Permanent=true`, which moves the user from
//! `FORCE_CHANGE_PASSWORD` to `CONFIRMED`. The user never sees a temporary password.

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::{AttributeType, MessageActionType, UserType},
};

/// A failed Cognito call: the operation, and what kind of failure Cognito reported.
/// Messages carry Cognito's words, never a password.
#[derive(Debug, thiserror::Error)]
#[error("Cognito {operation}: {kind}")]
pub struct CognitoError {
    pub operation: &'static str,
    pub kind: CognitoErrorKind,
}

/// The kinds of Cognito failure callers act on differently; the rest are `Other`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CognitoErrorKind {
    #[error("a user with that name already exists")]
    UserExists,
    #[error("the password does not meet the pool's policy: {0}")]
    InvalidPassword(String),
    #[error("Cognito rejected a parameter: {0}")]
    InvalidParameter(String),
    #[error("Cognito throttled the request: {0}")]
    Throttled(String),
    #[error("the user pool does not exist: {0}")]
    PoolNotFound(String),
    #[error("the user does not exist: {0}")]
    UserNotFound(String),
    #[error("Cognito refused the credentials: {0}")]
    NotAuthorized(String),
    /// Cognito answered with a server error (5xx): it may work again in a moment.
    #[error("Cognito failed on its side: {0}")]
    ServerError(String),
    /// No answer: the connection failed or the call timed out.
    #[error("Cognito did not answer: {0}")]
    Unreachable(String),
    #[error("{code}: {message}")]
    Other { code: String, message: String },
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
}

impl CognitoError {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        error: SdkError<E>,
    ) -> Self {
        let code = error.code().unwrap_or("Unknown").to_owned();
        let message = error.message().map(str::to_owned).unwrap_or_else(|| {
            aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&error).to_string()
        });
        let server_failed = error
            .raw_response()
            .is_some_and(|response| response.status().is_server_error());
        let kind = match code.as_str() {
            // Checked first: a throttling code can come with a 5xx status.
            "TooManyRequestsException" => CognitoErrorKind::Throttled(message),
            _ if matches!(
                error,
                SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
            ) =>
            {
                CognitoErrorKind::Unreachable(message)
            }
            _ if server_failed || matches!(error, SdkError::ResponseError(_)) => {
                CognitoErrorKind::ServerError(format!("{code}: {message}"))
            }
            "UsernameExistsException" => CognitoErrorKind::UserExists,
            "InvalidPasswordException" => CognitoErrorKind::InvalidPassword(message),
            "InvalidParameterException" => CognitoErrorKind::InvalidParameter(message),
            "ResourceNotFoundException" => CognitoErrorKind::PoolNotFound(message),
            "UserNotFoundException" => CognitoErrorKind::UserNotFound(message),
            "NotAuthorizedException" => CognitoErrorKind::NotAuthorized(message),
            _ => CognitoErrorKind::Other { code, message },
        };
        Self { operation, kind }
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
    created.user.ok_or_else(|| CognitoError {
        operation: "AdminCreateUser",
        kind: CognitoErrorKind::Other {
            code: "MissingUser".to_owned(),
            message: "the response carried no user".to_owned(),
        },
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
