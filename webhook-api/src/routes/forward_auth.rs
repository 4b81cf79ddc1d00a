//! `GET /auth`: forward-auth for ingress-nginx (`auth-url`) and Traefik (ForwardAuth).
//! 200 with the user in `X-Auth-Request-*` headers, which the ingress copies to the
//! upstream request, or 401. The e-mail header is sent only for a verified address.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::auth::Claims;

pub const USER_HEADER: HeaderName = HeaderName::from_static("x-auth-request-user");
pub const EMAIL_HEADER: HeaderName = HeaderName::from_static("x-auth-request-email");
pub const GROUPS_HEADER: HeaderName = HeaderName::from_static("x-auth-request-groups");

pub async fn forward_auth(Claims(claims): Claims) -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    let values = [
        (USER_HEADER, Some(claims.user_name().to_owned())),
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
