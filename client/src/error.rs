//! Every way a command can fail, each with a one-line message and a documented exit code
//! (README, "cognito-client"). Messages never contain passwords or tokens.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or malformed, or the profile file cannot be used.
    #[error("{0}")]
    Config(String),
    /// No cached tokens for the profile.
    #[error("not signed in (profile {0}): run `cognito-client sign-in`")]
    NotSignedIn(String),
    /// Cognito no longer accepts the refresh token (expired, revoked, user gone).
    #[error("the session has ended: run `cognito-client sign-in` again")]
    SessionEnded,
    /// Cognito's `NotAuthorizedException` during sign-in. Pools that hide whether a user
    /// exists (`PreventUserExistenceErrors`) answer this for unknown users too.
    #[error("wrong e-mail or password")]
    WrongPassword,
    #[error("unknown user")]
    UnknownUser,
    #[error("the user is disabled")]
    UserDisabled,
    /// Sign-in needs something this client does not do (confirmation, a new password, MFA).
    #[error("the account needs a step this client does not perform: {0}")]
    AccountAction(String),
    /// `POST /signup` answered 409.
    #[error("an account with this e-mail address cannot be created (it may exist already)")]
    AccountExists,
    /// The API refused the request's content (400), with its reason.
    #[error("refused: {0}")]
    Invalid(String),
    #[error("rate limited: {0}")]
    RateLimited(String),
    #[error("network error: {0}")]
    Network(String),
    /// The protected route (or the sign-up route) answered with an error status.
    #[error("{0}")]
    HttpStatus(String),
    /// Any other refusal or failure reported by Cognito.
    #[error("Cognito: {0}")]
    Cognito(String),
    /// Cognito refused the access token (`GetUser`); a refresh may help.
    #[error("Cognito refused the access token: run `cognito-client sign-in` again")]
    TokenRefused,
    /// Sign-out deleted the local tokens but could not revoke the refresh token.
    #[error("the cached tokens were deleted, but the refresh token was not revoked: {0}")]
    NotRevoked(Box<Error>),
    /// A local file (the token cache) or standard input/output failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The token cache holds something this version cannot read.
    #[error("the token cache {} is damaged ({reason}): run `cognito-client sign-in` again", path.display())]
    DamagedCache { path: PathBuf, reason: String },
}

impl Error {
    /// The process exit code; 2 is also what clap uses for command-line errors.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Io { .. } | Self::DamagedCache { .. } => 1,
            Self::Config(_) => 2,
            Self::NotSignedIn(_) | Self::SessionEnded | Self::TokenRefused => 3,
            Self::WrongPassword => 4,
            Self::UnknownUser => 5,
            Self::UserDisabled => 6,
            Self::AccountAction(_) => 7,
            Self::AccountExists => 8,
            Self::Invalid(_) => 9,
            Self::RateLimited(_) => 10,
            Self::Network(_) => 11,
            Self::HttpStatus(_) => 12,
            Self::Cognito(_) => 13,
            Self::NotRevoked(cause) => cause.exit_code(),
        }
    }
}

/// Folds a message from a server or a library onto one line and bounds its length, so
/// every failure prints exactly one line.
pub fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 300;
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded.chars().count() <= MAX_CHARS {
        folded
    } else {
        let cut: String = folded.chars().take(MAX_CHARS).collect();
        format!("{cut}...")
    }
}

/// An error and its causes, each by its `Display`, on one line (libraries put the
/// useful part, such as "Connection refused", in the innermost cause).
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Wrappers often repeat their cause's words; say them once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_single_lines() {
        assert_eq!(one_line("a\n  b\r\n\tc "), "a b c");
        let long = one_line(&"x ".repeat(400));
        assert!(long.ends_with("...") && long.chars().count() == 303);
    }

    #[test]
    fn exit_codes_are_distinct_per_failure_kind() {
        let codes = [
            Error::Config(String::new()),
            Error::NotSignedIn(String::new()),
            Error::WrongPassword,
            Error::UnknownUser,
            Error::UserDisabled,
            Error::AccountAction(String::new()),
            Error::AccountExists,
            Error::Invalid(String::new()),
            Error::RateLimited(String::new()),
            Error::Network(String::new()),
            Error::HttpStatus(String::new()),
            Error::Cognito(String::new()),
        ]
        .map(|error| error.exit_code());
        let mut unique = codes.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(!codes.contains(&0));
    }
}
