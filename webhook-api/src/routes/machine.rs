//! `GET /api/machine`: which app client calls and with which scopes, for access tokens a
//! client got on its own (OAuth `client_credentials`, machine to machine).

use axum::Json;
use serde::Serialize;

use crate::{auth::Claims, token::TokenClaims};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    client_id: String,
    scopes: Vec<String>,
}

impl From<&TokenClaims> for Machine {
    fn from(claims: &TokenClaims) -> Self {
        Self {
            // Never empty here: the verifier admits no token without an allowed client.
            client_id: claims.client().unwrap_or_default().to_owned(),
            scopes: claims.scopes().map(str::to_owned).collect(),
        }
    }
}

pub async fn machine(Claims(claims): Claims) -> Json<Machine> {
    Json(Machine::from(claims.as_ref()))
}
