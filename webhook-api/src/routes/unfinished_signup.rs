//! A sign-up that stopped half way: `AdminCreateUser` succeeded, `AdminSetUserPassword`
//! did not (throttled, network), so the user is `FORCE_CHANGE_PASSWORD` and every retry
//! finds the name taken.
//!
//! A retry finishes such a user only when both hold:
//! - the user carries sign-up's mark ([`MARK_ATTRIBUTE`]), which sign-up writes in the
//!   same `AdminCreateUser` call, so a user made by the AppUser controller or by an admin
//!   is never touched (not even asked for a password);
//! - the retry's password is the user's temporary password: Cognito checks it
//!   (`AdminInitiateAuth` answers `NEW_PASSWORD_REQUIRED`). Sign-up sets the caller's
//!   password as the temporary one, so only the caller who made the user knows it, and
//!   a mark copied onto another user (an AppUser spec may name any `custom:` attribute)
//!   gains nothing: the caller would still have to know that user's password.
//!
//! Then that same password is made permanent, which is all the first request would have
//! done; Cognito itself lets whoever knows a temporary password choose any new one.

use aws_sdk_cognitoidentityprovider::{
    operation::admin_initiate_auth::AdminInitiateAuthOutput,
    types::{AttributeType, AuthFlowType, ChallengeNameType, UserStatusType},
};
use cognito_crds::user_provisioning::{CognitoError, CognitoErrorKind, set_permanent_password};

use crate::state::Signup;

/// The attribute sign-up writes on the users it creates. The pool's schema must declare
/// the custom attribute `created_by` (a String; immutable is best, so that nothing can
/// add the mark to an existing user).
pub const MARK_ATTRIBUTE: &str = "custom:created_by";
/// Its value.
pub const MARK_VALUE: &str = "webhook-api/signup";

/// What a sign-up may do with the user that holds the name it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Sign-up made it and never finished: ask Cognito whether the password is its own.
    TryPassword,
    /// Leave it alone; the reason is for the log.
    Refuse(&'static str),
}

/// The pure part of the check, on what `AdminGetUser` returned.
pub fn verdict(
    status: Option<&UserStatusType>,
    enabled: bool,
    attributes: &[AttributeType],
) -> Verdict {
    let marked = attributes
        .iter()
        .any(|a| a.name() == MARK_ATTRIBUTE && a.value() == Some(MARK_VALUE));
    if status != Some(&UserStatusType::ForceChangePassword) {
        Verdict::Refuse("the user is not waiting for a password")
    } else if !marked {
        Verdict::Refuse("the user was not made by sign-up")
    } else if !enabled {
        Verdict::Refuse("the user is disabled")
    } else {
        Verdict::TryPassword
    }
}

/// Whether `AdminInitiateAuth` proved the password to be the user's temporary one.
/// Tokens mean the user is no longer unfinished (another request finished it): nothing
/// left to do here, and the taken name stands.
pub fn password_proven(auth: &AdminInitiateAuthOutput) -> bool {
    auth.challenge_name() == Some(&ChallengeNameType::NewPasswordRequired)
}

/// What a retry did with the taken name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The user's password is permanent now: the sign-up succeeded.
    Finished,
    /// Not finished; the reason is for the log.
    Refused(&'static str),
}

/// Finishes the unfinished sign-up of `email` with `password` through the app client
/// `client_id`, if the user is sign-up's and the password its own.
pub async fn finish(
    signup: &Signup,
    client_id: &str,
    email: &str,
    password: &str,
) -> Result<Retry, CognitoError> {
    let cognito = &signup.cognito;
    let pool = &signup.user_pool_id;
    let user = match cognito
        .admin_get_user()
        .user_pool_id(pool)
        .username(email)
        .send()
        .await
    {
        Ok(user) => user,
        Err(error) => {
            let error = CognitoError::from_sdk("AdminGetUser", error);
            return match error.kind {
                CognitoErrorKind::UserNotFound(_) => Ok(Retry::Refused("the user is gone")),
                _ => Err(error),
            };
        }
    };
    let status = user.user_status();
    if let Verdict::Refuse(reason) = verdict(status, user.enabled(), user.user_attributes()) {
        return Ok(Retry::Refused(reason));
    }
    // Cognito's own name for the user from here on, so every call acts on the user just
    // checked.
    let username = user.username();
    let auth = cognito
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", username)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|error| CognitoError::from_sdk("AdminInitiateAuth", error));
    match auth {
        Ok(auth) if password_proven(&auth) => {}
        Ok(_) => {
            return Ok(Retry::Refused(
                "the user is no longer waiting for a password",
            ));
        }
        Err(error) => {
            return match error.kind {
                // A wrong password, too many attempts, an expired temporary password (or
                // a client with a secret): Cognito's words go to the log.
                CognitoErrorKind::NotAuthorized(message) => {
                    tracing::info!(%message, "AdminInitiateAuth refused the retry's password");
                    Ok(Retry::Refused("the password is not the user's"))
                }
                _ => Err(error),
            };
        }
    }
    set_permanent_password(cognito, pool, username, password).await?;
    Ok(Retry::Finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(name: &str, value: &str) -> AttributeType {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("attribute")
    }

    #[test]
    fn only_an_enabled_unfinished_user_with_the_mark_is_tried() {
        let email = attribute("email", "alice@example.com");
        let marked = [email.clone(), attribute(MARK_ATTRIBUTE, MARK_VALUE)];
        // As the AppUser controller or an admin creates users: no mark, or another one.
        let appuser = [email.clone(), attribute("email_verified", "true")];
        let other_mark = [email.clone(), attribute(MARK_ATTRIBUTE, "admin")];
        let mark_elsewhere = [email, attribute("nickname", MARK_VALUE)];
        let waiting = Some(&UserStatusType::ForceChangePassword);
        let cases: [(Option<&UserStatusType>, bool, &[AttributeType], Verdict); 9] = [
            (waiting, true, &marked, Verdict::TryPassword),
            (
                waiting,
                true,
                &appuser,
                Verdict::Refuse("the user was not made by sign-up"),
            ),
            (
                waiting,
                true,
                &other_mark,
                Verdict::Refuse("the user was not made by sign-up"),
            ),
            (
                waiting,
                true,
                &mark_elsewhere,
                Verdict::Refuse("the user was not made by sign-up"),
            ),
            (
                waiting,
                false,
                &marked,
                Verdict::Refuse("the user is disabled"),
            ),
            (
                Some(&UserStatusType::Confirmed),
                true,
                &marked,
                Verdict::Refuse("the user is not waiting for a password"),
            ),
            (
                Some(&UserStatusType::ResetRequired),
                true,
                &marked,
                Verdict::Refuse("the user is not waiting for a password"),
            ),
            (
                Some(&UserStatusType::ExternalProvider),
                true,
                &marked,
                Verdict::Refuse("the user is not waiting for a password"),
            ),
            (
                None,
                true,
                &marked,
                Verdict::Refuse("the user is not waiting for a password"),
            ),
        ];
        for (status, enabled, attributes, expected) in cases {
            assert_eq!(
                verdict(status, enabled, attributes),
                expected,
                "{status:?} enabled={enabled} {attributes:?}"
            );
        }
    }

    #[test]
    fn only_a_new_password_challenge_proves_the_password() {
        let challenge = |name: ChallengeNameType| {
            AdminInitiateAuthOutput::builder()
                .challenge_name(name)
                .session("session")
                .build()
        };
        assert!(password_proven(&challenge(
            ChallengeNameType::NewPasswordRequired
        )));
        assert!(!password_proven(&challenge(ChallengeNameType::SmsMfa)));
        assert!(!password_proven(&challenge(ChallengeNameType::MfaSetup)));
        // Tokens: the user holds a permanent password already.
        let tokens = aws_sdk_cognitoidentityprovider::types::AuthenticationResultType::builder()
            .access_token("token")
            .build();
        let signed_in = AdminInitiateAuthOutput::builder()
            .authentication_result(tokens)
            .build();
        assert!(!password_proven(&signed_in));
    }
}
