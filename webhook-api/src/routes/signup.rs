//! `POST /signup {email, password}`: creates a confirmed user with a permanent password
//! through the operator's shared provisioning path, rate-limited per client address.
//! The e-mail is not marked verified unless an admin said so. A retry finishes a user an
//! earlier sign-up left half made ([`super::unfinished_signup`]).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use aws_sdk_cognitoidentityprovider::types::AttributeType;
use axum::{
    Json,
    extract::{ConnectInfo, State, rejection::JsonRejection},
    http::{HeaderMap, HeaderName, StatusCode, request::Parts},
};
use cognito_crds::user_provisioning::{
    CognitoErrorKind, MAX_PASSWORD_CHARS, NewUser, create_user, password_format_problem,
};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::unfinished_signup::{self, MARK_ATTRIBUTE, MARK_VALUE, Retry};
use crate::{
    error::AppError,
    state::{AppState, Signup},
};

const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    email: String,
    password: String,
}

// The password must never reach a log line through `{:?}`.
impl std::fmt::Debug for SignupRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupRequest")
            .field("email", &self.email)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

#[derive(Debug, Serialize)]
pub struct SignupResponse {
    username: String,
}

const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Client address for the rate limit: the peer of the TCP connection, or, when the peer
/// is a proxy an admin trusts, the address `X-Forwarded-For` names.
pub struct ClientAddress(IpAddr);

impl axum::extract::FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let proxies = state
            .signup
            .as_ref()
            .map_or(&[][..], |signup| &signup.trusted_proxies[..]);
        Ok(Self(client_address(peer, &parts.headers, proxies)))
    }
}

/// Each proxy appends the address it received the request from, so the list is read
/// from the right: past trusted proxies, the first other address is the client. An
/// entry that is not an address stops the walk at the last trusted proxy, whose budget
/// all such requests then share (the safe direction).
fn client_address(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let trusted = |address: &IpAddr| proxies.iter().any(|net| net.contains(address));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            break;
        };
        client = address;
        if !trusted(&address) {
            break;
        }
    }
    client
}

pub async fn signup(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    body: Result<Json<SignupRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<SignupResponse>), AppError> {
    let signup = state
        .signup
        .as_ref()
        .ok_or_else(|| AppError::Internal("sign-up route without a pool".into()))?;
    if signup.limiter.check_key(&client).is_err() {
        return Err(AppError::RateLimited);
    }
    // serde's message can quote the input (a password): answer with fixed words.
    let Json(request) =
        body.map_err(|_| AppError::BadRequest("expected JSON {email, password}"))?;
    validate(&request)?;
    let marked = signup.client_id.is_some();
    let attributes = new_user_attributes(&request.email, signup.email_verified, marked)
        .into_iter()
        .map(|(name, value)| attribute(name, value))
        .collect::<Result<_, _>>()?;
    let new_user = NewUser {
        username: &request.email,
        attributes,
        password: &request.password,
    };
    match create_user(&signup.cognito, &signup.user_pool_id, new_user).await {
        Ok(user) => tracing::info!(username = user.username(), "signed up"),
        Err(error) => match signup.client_id.as_deref() {
            Some(client_id) if error.kind == CognitoErrorKind::UserExists => {
                finish_earlier_signup(signup, client_id, &request).await?;
            }
            _ => return Err(error.into()),
        },
    }
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            username: request.email,
        }),
    ))
}

/// The name is taken: succeeds only if an earlier sign-up of this caller left the user
/// unfinished; any other taken name answers as taken.
async fn finish_earlier_signup(
    signup: &Signup,
    client_id: &str,
    request: &SignupRequest,
) -> Result<(), AppError> {
    let retry = unfinished_signup::finish(signup, client_id, &request.email, &request.password)
        .await
        .map_err(|error| match error.kind {
            // Anything else is the pool's or the client's setup, not the caller's
            // input: a 500 that an admin sees in the log.
            CognitoErrorKind::Throttled(_) => AppError::Throttled,
            _ => AppError::Internal(error.to_string()),
        })?;
    match retry {
        Retry::Finished => {
            tracing::info!(username = %request.email, "signed up: finished an earlier sign-up");
            Ok(())
        }
        Retry::Refused(reason) => {
            tracing::debug!(username = %request.email, reason, "taken name left as it is");
            Err(AppError::AccountExists)
        }
    }
}

/// The attributes of a new user: the e-mail, `email_verified` when an admin said so,
/// and sign-up's mark when retries can finish users (only then, so that a pool without
/// the custom attribute keeps working while finishing is off).
fn new_user_attributes(
    email: &str,
    email_verified: bool,
    marked: bool,
) -> Vec<(&'static str, &str)> {
    let mut attributes = vec![("email", email)];
    if email_verified {
        attributes.push(("email_verified", "true"));
    }
    if marked {
        attributes.push((MARK_ATTRIBUTE, MARK_VALUE));
    }
    attributes
}

fn attribute(name: &str, value: &str) -> Result<AttributeType, AppError> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .map_err(|error| AppError::Internal(error.to_string()))
}

fn validate(request: &SignupRequest) -> Result<(), AppError> {
    if !is_plausible_email(&request.email) {
        return Err(AppError::BadRequest("invalid e-mail address"));
    }
    let length = request.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        return Err(AppError::BadRequest("password must be 8 to 256 characters"));
    }
    match password_format_problem(&request.password) {
        Some(problem) => Err(AppError::BadRequest(problem)),
        None => Ok(()),
    }
}

/// A syntax check only (Cognito and the mail system do the rest): one `@`, a local part
/// of at most 64 bytes, a dotted domain, no spaces or control characters, 254 bytes max.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with(['.', '-'])
        && !domain.ends_with(['.', '-'])
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str, password: &str) -> SignupRequest {
        SignupRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        }
    }

    #[test]
    fn accepts_ordinary_addresses_and_passwords() {
        assert!(validate(&request("alice@example.com", "Correct-Horse-9")).is_ok());
        assert!(validate(&request("a.b+tag@sub.example.org", "12345678")).is_ok());
    }

    #[test]
    fn refuses_implausible_input() {
        for email in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "alice@@example.com",
            "al ice@example.com",
            "alice@.example.com",
            "alice@example.com.",
            "alice\n@example.com",
        ] {
            assert!(
                validate(&request(email, "Correct-Horse-9")).is_err(),
                "{email:?}"
            );
        }
        assert!(validate(&request("a@example.com", "short")).is_err());
        assert!(validate(&request("a@example.com", &"x".repeat(257))).is_err());
        assert!(validate(&request("a@example.com", " padded-password")).is_err());
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("CIDR")];
        let ip = |text: &str| text.parse::<IpAddr>().expect("address");
        let forwarded = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(FORWARDED_FOR, value.parse().expect("header value"));
            }
            headers
        };
        let spoofed = forwarded(&["198.51.100.7"]);
        assert_eq!(
            client_address(ip("203.0.113.9"), &spoofed, &proxies),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &spoofed, &[]),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &spoofed, &proxies),
            ip("198.51.100.7")
        );
        // A client's own made-up entries sit left of what the proxies appended.
        let chain = forwarded(&["1.1.1.1, 198.51.100.7", "10.0.0.5"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &chain, &proxies),
            ip("198.51.100.7")
        );
        let garbage = forwarded(&["not-an-address"]);
        assert_eq!(
            client_address(ip("10.1.2.3"), &garbage, &proxies),
            ip("10.1.2.3")
        );
        assert_eq!(
            client_address(ip("10.1.2.3"), &HeaderMap::new(), &proxies),
            ip("10.1.2.3")
        );
    }

    #[test]
    fn new_users_carry_the_mark_only_when_retries_can_finish_them() {
        let email = "a@example.com";
        assert_eq!(new_user_attributes(email, false, false), [("email", email)]);
        assert_eq!(
            new_user_attributes(email, true, false),
            [("email", email), ("email_verified", "true")]
        );
        assert_eq!(
            new_user_attributes(email, false, true),
            [("email", email), (MARK_ATTRIBUTE, MARK_VALUE)]
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let text = format!("{:?}", request("a@example.com", "hunter2-secret"));
        assert!(!text.contains("hunter2"));
    }
}
