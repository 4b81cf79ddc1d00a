//! `GET /auth`: forward-auth for ingress-nginx (`auth-url`) and Traefik (ForwardAuth).
//! 200 with the caller in `X-Auth-Request-*` headers, which the ingress copies to the
//! upstream request, or 401/403. The e-mail header is sent only for a verified address.
//! A user is named in `X-Auth-Request-User`; an app client on its own (admitted only
//! when the route's `caller` is `machine` or `any`) in `X-Auth-Request-Client` and never
//! in the user header: a user may be able to pick a name that equals a client id, and an
//! upstream must not mistake one for the other.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::{auth::Claims, token::Caller};

pub const USER_HEADER: HeaderName = HeaderName::from_static("x-auth-request-user");
pub const CLIENT_HEADER: HeaderName = HeaderName::from_static("x-auth-request-client");
pub const EMAIL_HEADER: HeaderName = HeaderName::from_static("x-auth-request-email");
pub const GROUPS_HEADER: HeaderName = HeaderName::from_static("x-auth-request-groups");

pub async fn forward_auth(Claims(claims): Claims) -> (StatusCode, HeaderMap) {
    let (user, client) = match claims.caller() {
        Some(Caller::User(name)) => (Some(name), None),
        Some(Caller::Machine(client)) => (None, Some(client)),
        None => (None, None),
    };
    let mut headers = HeaderMap::new();
    let values = [
        (USER_HEADER, user.map(str::to_owned)),
        (CLIENT_HEADER, client.map(str::to_owned)),
        (EMAIL_HEADER, claims.verified_email().map(str::to_owned)),
        (GROUPS_HEADER, Some(claims.groups.join(","))),
    ];
    for (name, value) in values {
        // A claim that is not a valid header value is left out rather than mangled.
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers)
}
