//! `GET /api/me`: who the token says the caller is (the seed's AuthenticatedApi).

use axum::{Json, http::HeaderMap};
use serde::Serialize;

use crate::{
    auth::{Claims, bearer_token},
    error::AppError,
    token::{Caller, TokenClaims, TokenUse, parse_token},
};

#[derive(Debug, Serialize)]
pub struct Me {
    sub: String,
    /// Always a user's name on `/api/me`, which admits users only; `null` only on the
    /// unverified benchmark route.
    username: Option<String>,
    /// Only a verified address: `/api/me` answers who the caller is.
    email: Option<String>,
    groups: Vec<String>,
    token_use: TokenUse,
}

impl From<&TokenClaims> for Me {
    fn from(claims: &TokenClaims) -> Self {
        Self {
            sub: claims.sub.clone(),
            username: match claims.caller() {
                Some(Caller::User(name)) => Some(name.to_owned()),
                Some(Caller::Machine(_)) | None => None,
            },
            email: claims.verified_email().map(str::to_owned),
            groups: claims.groups.clone(),
            token_use: claims.token_use,
        }
    }
}

pub async fn me(Claims(claims): Claims) -> Json<Me> {
    Json(Me::from(claims.as_ref()))
}

/// The same answer from claims that are decoded but NOT verified: the benchmark's
/// "check turned off" baseline (mounted only with `--insecure-bench-unchecked-route`).
pub async fn unchecked_me(headers: HeaderMap) -> Result<Json<Me>, AppError> {
    let token = bearer_token(&headers)?;
    Ok(Json(Me::from(&parse_token(token)?.claims)))
}
