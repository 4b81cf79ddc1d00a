//! The Cognito user API through the AWS SDK: sign-in (SRP or password), refresh,
//! revocation and `GetUser`, with Cognito's errors sorted into [`Error`] once.
//!
//! These calls authenticate with the user's password or tokens, not AWS credentials:
//! a user's machine needs none.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, timeout::TimeoutConfig};
use aws_sdk_cognitoidentityprovider::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    operation::initiate_auth::InitiateAuthOutput,
    types::{AuthFlowType, AuthenticationResultType, ChallengeNameType},
};

use crate::{
    error::{Error, Result, causes, one_line},
    srp, unix_now,
};

/// Bounds one attempt, so an unresponsive endpoint fails instead of hanging the shell.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);

/// Tokens as Cognito issued them.
pub struct Issued {
    pub access_token: String,
    pub id_token: String,
    /// Absent on a refresh unless the client rotates refresh tokens.
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

/// What `GetUser` says about the signed-in user.
#[derive(Debug)]
pub struct User {
    pub username: String,
    pub attributes: Vec<(String, String)>,
}

/// Which call failed: the same Cognito error means different things in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    SignIn,
    Refresh,
    Revoke,
    GetUser,
}

/// One app client of one pool, reached through the SDK.
pub struct Cognito {
    sdk: Client,
    client_id: String,
    region: String,
}

impl Cognito {
    /// `region` `None` falls back to the AWS configuration; `endpoint` replaces AWS's
    /// (emulators).
    pub async fn connect(
        region: Option<String>,
        endpoint: Option<&str>,
        client_id: &str,
    ) -> Result<Self> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
        if let Some(region) = region {
            loader = loader.region(Region::new(region));
        }
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        // The operations used here are unauthenticated (the SDK sends them unsigned
        // whatever the credentials), so skip the credential chain and its slow probes.
        let config = loader.no_credentials().load().await;
        let region = config.region().map(ToString::to_string).ok_or_else(|| {
            Error::Config(
                "no region: pass --region or --user-pool-id, or set COGNITO_CLIENT_REGION \
                 or AWS_REGION"
                    .into(),
            )
        })?;
        Ok(Self {
            sdk: Client::new(&config),
            client_id: client_id.to_owned(),
            region,
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// `USER_PASSWORD_AUTH`: the password goes to Cognito (over TLS).
    pub async fn sign_in_with_password(&self, username: &str, password: &str) -> Result<Issued> {
        let output = self
            .initiate_auth(
                AuthFlowType::UserPasswordAuth,
                &[("USERNAME", username), ("PASSWORD", password)],
                Call::SignIn,
            )
            .await?;
        issued(output.authentication_result(), output.challenge_name())
    }

    /// `USER_SRP_AUTH`: proves knowledge of the password without sending it.
    pub async fn sign_in_with_srp(
        &self,
        user_pool_id: &str,
        username: &str,
        password: &str,
    ) -> Result<Issued> {
        // Check the pool id before anything goes over the network.
        srp::pool_name(user_pool_id).map_err(|error| Error::Config(error.to_string()))?;
        let ephemeral = srp::Ephemeral::random();
        let start = self
            .initiate_auth(
                AuthFlowType::UserSrpAuth,
                &[("USERNAME", username), ("SRP_A", &ephemeral.public_hex())],
                Call::SignIn,
            )
            .await?;
        if start.challenge_name() != Some(&ChallengeNameType::PasswordVerifier) {
            return issued(start.authentication_result(), start.challenge_name());
        }
        let parameter = |name: &'static str| {
            start
                .challenge_parameters()
                .and_then(|parameters| parameters.get(name))
                .map(String::as_str)
                .ok_or_else(|| {
                    Error::Cognito(format!("the PASSWORD_VERIFIER challenge lacks {name}"))
                })
        };
        let secret_block = parameter("SECRET_BLOCK")?;
        let user_id_for_srp = parameter("USER_ID_FOR_SRP")?;
        let challenge =
            srp::Challenge::parse(parameter("SALT")?, parameter("SRP_B")?, secret_block)
                .map_err(|error| Error::Cognito(error.to_string()))?;
        let claim = srp::password_claim(
            user_pool_id,
            &ephemeral,
            &challenge,
            user_id_for_srp,
            password,
            unix_now(),
        )
        .map_err(|error| Error::Cognito(error.to_string()))?;
        let answer = self
            .sdk
            .respond_to_auth_challenge()
            .client_id(&self.client_id)
            .challenge_name(ChallengeNameType::PasswordVerifier)
            .set_session(start.session().map(str::to_owned))
            .challenge_responses("USERNAME", user_id_for_srp)
            .challenge_responses("PASSWORD_CLAIM_SECRET_BLOCK", secret_block)
            .challenge_responses("PASSWORD_CLAIM_SIGNATURE", claim.signature)
            .challenge_responses("TIMESTAMP", claim.timestamp)
            .send()
            .await
            .map_err(|error| classify(error, Call::SignIn))?;
        issued(answer.authentication_result(), answer.challenge_name())
    }

    /// `REFRESH_TOKEN_AUTH`: new access and id tokens.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Issued> {
        let output = self
            .initiate_auth(
                AuthFlowType::RefreshTokenAuth,
                &[("REFRESH_TOKEN", refresh_token)],
                Call::Refresh,
            )
            .await?;
        issued(output.authentication_result(), output.challenge_name())
    }

    /// `InitiateAuth` for this app client, the first (often only) step of every flow.
    async fn initiate_auth(
        &self,
        flow: AuthFlowType,
        parameters: &[(&str, &str)],
        call: Call,
    ) -> Result<InitiateAuthOutput> {
        let mut request = self
            .sdk
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(flow);
        for (name, value) in parameters {
            request = request.auth_parameters(*name, *value);
        }
        request.send().await.map_err(|error| classify(error, call))
    }

    /// `RevokeToken`: the refresh token, and the tokens it issued, stop working.
    pub async fn revoke(&self, refresh_token: &str) -> Result<()> {
        self.sdk
            .revoke_token()
            .client_id(&self.client_id)
            .token(refresh_token)
            .send()
            .await
            .map_err(|error| classify(error, Call::Revoke))?;
        Ok(())
    }

    /// `GetUser` with an access token.
    pub async fn get_user(&self, access_token: &str) -> Result<User> {
        let output = self
            .sdk
            .get_user()
            .access_token(access_token)
            .send()
            .await
            .map_err(|error| classify(error, Call::GetUser))?;
        Ok(User {
            username: output.username().to_owned(),
            attributes: output
                .user_attributes()
                .iter()
                .map(|a| {
                    (
                        a.name().to_owned(),
                        a.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        })
    }
}

/// Tokens from a response, or why there are none (a challenge this client cannot answer).
fn issued(
    result: Option<&AuthenticationResultType>,
    challenge: Option<&ChallengeNameType>,
) -> Result<Issued> {
    if let Some(challenge) = challenge {
        return Err(Error::AccountAction(format!(
            "Cognito asks for {}",
            challenge.as_str()
        )));
    }
    let result = result.ok_or_else(|| Error::Cognito("the answer holds no tokens".into()))?;
    let token = |value: Option<&str>, name: &str| {
        value
            .map(str::to_owned)
            .ok_or_else(|| Error::Cognito(format!("the answer holds no {name}")))
    };
    Ok(Issued {
        access_token: token(result.access_token(), "access token")?,
        id_token: token(result.id_token(), "id token")?,
        refresh_token: result.refresh_token().map(str::to_owned),
        expires_in: u64::try_from(result.expires_in()).unwrap_or(0),
    })
}

/// Sorts an SDK failure into the error the user sees.
fn classify<E>(error: SdkError<E>, call: Call) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if matches!(
        error,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    ) {
        return Error::Network(causes(&error));
    }
    let code = error.code().unwrap_or_default().to_owned();
    let message = one_line(error.message().unwrap_or(&code));
    sort(&code, message, call).unwrap_or_else(|| {
        // No error code: not Cognito's own answer (a proxy, an emulator gap).
        Error::Cognito(match error.raw_response() {
            Some(response) => format!("unexpected answer (HTTP {})", response.status().as_u16()),
            None => causes(&error),
        })
    })
}

/// The pure part of [`classify`]: `None` for codes without a meaning of their own.
fn sort(code: &str, message: String, call: Call) -> Option<Error> {
    let error = match (code, call) {
        ("NotAuthorizedException", Call::SignIn) => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("disabled") {
                Error::UserDisabled
            } else if lower.contains("attempts exceeded") {
                Error::RateLimited(message)
            } else {
                Error::WrongPassword
            }
        }
        ("UserNotFoundException", Call::SignIn) => Error::UnknownUser,
        ("NotAuthorizedException" | "UserNotFoundException", Call::Refresh) => Error::SessionEnded,
        ("NotAuthorizedException", Call::GetUser) => Error::TokenRefused,
        ("UserNotConfirmedException" | "PasswordResetRequiredException", _) => {
            Error::AccountAction(message)
        }
        (
            "TooManyRequestsException"
            | "LimitExceededException"
            | "TooManyFailedAttemptsException",
            _,
        ) => Error::RateLimited(message),
        ("ResourceNotFoundException", _) => Error::Config(format!(
            "Cognito does not know this app client or pool ({message}): check client-id and \
             user-pool-id"
        )),
        ("", _) => return None,
        (code, _) => Error::Cognito(format!("{code}: {message}")),
    };
    Some(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(code: &str, message: &str, call: Call) -> Option<Error> {
        sort(code, message.to_owned(), call)
    }

    #[test]
    fn sign_in_failures_get_their_own_exit_codes() {
        let code =
            |code, message| sorted(code, message, Call::SignIn).map(|error| error.exit_code());
        let wrong = code("NotAuthorizedException", "Incorrect username or password.");
        assert_eq!(wrong, Some(Error::WrongPassword.exit_code()));
        let disabled = code("NotAuthorizedException", "User is disabled.");
        assert_eq!(disabled, Some(Error::UserDisabled.exit_code()));
        let unknown = code("UserNotFoundException", "User does not exist.");
        assert_eq!(unknown, Some(Error::UnknownUser.exit_code()));
        let limited = code("NotAuthorizedException", "Password attempts exceeded");
        assert_eq!(limited, Some(Error::RateLimited(String::new()).exit_code()));
        let unconfirmed = code("UserNotConfirmedException", "User is not confirmed.");
        assert_eq!(
            unconfirmed,
            Some(Error::AccountAction(String::new()).exit_code())
        );
    }

    #[test]
    fn a_refused_refresh_ends_the_session() {
        assert!(matches!(
            sorted(
                "NotAuthorizedException",
                "Refresh Token has expired",
                Call::Refresh
            ),
            Some(Error::SessionEnded)
        ));
        assert!(matches!(
            sorted(
                "NotAuthorizedException",
                "Access Token has expired",
                Call::GetUser
            ),
            Some(Error::TokenRefused)
        ));
    }

    #[test]
    fn other_codes_keep_their_name_and_message() {
        let error = sorted(
            "InvalidParameterException",
            "USER_SRP_AUTH is not enabled for the client.",
            Call::SignIn,
        )
        .expect("known code");
        assert_eq!(
            error.to_string(),
            "Cognito: InvalidParameterException: USER_SRP_AUTH is not enabled for the client."
        );
        assert!(sorted("", "", Call::Revoke).is_none());
    }

    #[test]
    fn challenges_without_tokens_are_explained() {
        let error = issued(None, Some(&ChallengeNameType::NewPasswordRequired))
            .err()
            .expect("an error");
        assert_eq!(
            error.to_string(),
            "the account needs a step this client does not perform: Cognito asks for \
             NEW_PASSWORD_REQUIRED"
        );
    }
}
