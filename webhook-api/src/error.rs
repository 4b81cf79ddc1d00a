//! `AppError`: every failure a handler can return, mapped once to a response. Bodies
//! carry fixed words; details go to the log, never to the client.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use cognito_crds::user_provisioning::{CognitoError, CognitoErrorKind};

use crate::{policy::VerifyError, token::InvalidToken};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("the password does not meet the pool's policy")]
    WeakPassword(String),
    #[error("an account with this e-mail address cannot be created")]
    AccountExists,
    #[error("too many requests")]
    RateLimited,
    #[error("missing or wrong trigger secret")]
    BadTriggerSecret,
    #[error("the user directory is busy, try again later")]
    Throttled,
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// Short, stable label for logs.
    fn category(&self) -> &'static str {
        match self {
            Self::Verify(VerifyError::Invalid(_)) => "invalid_token",
            Self::Verify(VerifyError::Forbidden(_)) => "insufficient_scope",
            Self::Verify(VerifyError::KeysUnavailable) => "keys_unavailable",
            Self::BadRequest(_) | Self::WeakPassword(_) => "bad_request",
            Self::AccountExists => "conflict",
            Self::RateLimited => "rate_limited",
            Self::BadTriggerSecret => "bad_trigger_secret",
            Self::Throttled => "throttled",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<CognitoError> for AppError {
    fn from(error: CognitoError) -> Self {
        match error.kind {
            // Same answer whatever the reason the name is taken: nothing more is revealed.
            CognitoErrorKind::UserExists => Self::AccountExists,
            CognitoErrorKind::InvalidPassword(message) => Self::WeakPassword(message),
            CognitoErrorKind::InvalidParameter(_) => Self::BadRequest("invalid e-mail or password"),
            CognitoErrorKind::Throttled(_) => Self::Throttled,
            _ => Self::Internal(error.to_string()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, challenge) = match &self {
            Self::Verify(VerifyError::Invalid(reason)) => (
                StatusCode::UNAUTHORIZED,
                Some(format!(
                    r#"Bearer error="invalid_token", error_description="{reason}""#
                )),
            ),
            Self::Verify(VerifyError::Forbidden(reason)) => (
                StatusCode::FORBIDDEN,
                Some(format!(
                    r#"Bearer error="insufficient_scope", error_description="{reason}""#
                )),
            ),
            Self::Verify(VerifyError::KeysUnavailable) | Self::Throttled => {
                (StatusCode::SERVICE_UNAVAILABLE, None)
            }
            Self::BadRequest(_) | Self::WeakPassword(_) => (StatusCode::BAD_REQUEST, None),
            Self::AccountExists => (StatusCode::CONFLICT, None),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, None),
            Self::BadTriggerSecret => (StatusCode::UNAUTHORIZED, None),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        if status.is_server_error() {
            tracing::error!(category = self.category(), error = ?self, "request failed");
        } else {
            tracing::debug!(category = self.category(), error = %self, "request refused");
        }
        let message = match &self {
            // Cognito's policy text tells the user what to fix and holds no secret.
            Self::WeakPassword(policy) => policy.clone(),
            other => other.to_string(),
        };
        let body = Json(serde_json::json!({"error": self.category(), "message": message}));
        let mut response = (status, body).into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<InvalidToken> for AppError {
    fn from(invalid: InvalidToken) -> Self {
        Self::Verify(invalid.into())
    }
}
