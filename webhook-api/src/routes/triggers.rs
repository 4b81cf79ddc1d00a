//! `POST /triggers`: the Cognito trigger sink. Checks a shared secret before the body
//! is read, logs the event's known-safe fields only, counts it by `triggerSource`, and
//! returns the event unmodified, which is what Cognito expects of a trigger that
//! changes nothing.

use std::collections::BTreeSet;

use axum::{
    body::Bytes,
    extract::{FromRequestParts, State},
    http::{HeaderName, header, request::Parts},
    response::IntoResponse,
};
use serde_json::{Value, json};

use crate::{error::AppError, metrics::TriggerSource, state::AppState};

pub const SECRET_HEADER: HeaderName = HeaderName::from_static("x-trigger-secret");

/// A caller that sent the shared secret. As an extractor from the request's head it
/// runs before the body is read: without the secret nobody makes the service wait for
/// or buffer a body.
pub struct TriggerCaller;

impl FromRequestParts<AppState> for TriggerCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let secret = state
            .trigger_secret
            .as_ref()
            .ok_or_else(|| AppError::Internal("trigger route without a secret".into()))?;
        let offered = parts.headers.get(SECRET_HEADER).map(|v| v.as_bytes());
        if offered.is_some_and(|offered| secret.matches(offered)) {
            Ok(Self)
        } else {
            Err(AppError::BadTriggerSecret)
        }
    }
}

pub async fn triggers(
    _: TriggerCaller,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let event: Value =
        serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("malformed JSON"))?;
    tracing::info!(event = %safe_fields(&event), "cognito trigger");
    let source = event.get("triggerSource").and_then(Value::as_str);
    state
        .metrics
        .record_trigger_event(TriggerSource::of(source));
    // The bytes as received: unmodified is the trigger contract.
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

/// What is logged of an event: fields known to hold no secret, and the names (not the
/// values) of the user's attributes. Anything else (passwords, codes, SAML responses,
/// client metadata, challenge parameters, fields a future trigger adds) is left out.
pub fn safe_fields(event: &Value) -> Value {
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    // Sorted: the JSON map's order depends on serde_json's features in the build.
    let attribute_names: Option<BTreeSet<&String>> = event
        .pointer("/request/userAttributes")
        .and_then(Value::as_object)
        .map(|attributes| attributes.keys().collect());
    json!({
        "version": text("/version"),
        "triggerSource": text("/triggerSource"),
        "region": text("/region"),
        "userPoolId": text("/userPoolId"),
        "userName": text("/userName"),
        "clientId": text("/callerContext/clientId"),
        "awsSdkVersion": text("/callerContext/awsSdkVersion"),
        "userAttributeNames": attribute_names,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn logs_only_known_safe_fields() {
        let event = json!({
            "version": "1",
            "triggerSource": "UserMigration_Authentication",
            "region": "us-east-1",
            "userPoolId": "us-east-1_x",
            "userName": "alice",
            "callerContext": {"awsSdkVersion": "aws-sdk-js-3", "clientId": "client-a"},
            "request": {
                "userAttributes": {"email": "alice@example.com", "custom:ssn": "078-05-1120"},
                "password": "hunter2",
                "samlResponse": "PHNhbWw+",
                "userInfo": {"id": "secret-id"},
                "clientMetadata": {"otp": "314159"},
                "validationData": {"pin": "2718"},
                "challengeParameters": {"answerHint": "blue"},
                "privateChallengeParameters": {"expected": "42"}
            },
            "response": {"smsMessage": null}
        });
        let logged = safe_fields(&event);
        let text = logged.to_string();
        for secret in [
            "hunter2",
            "PHNhbWw+",
            "secret-id",
            "314159",
            "2718",
            "blue",
            "42",
            "alice@example.com",
            "078-05-1120",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(logged["triggerSource"], "UserMigration_Authentication");
        assert_eq!(logged["clientId"], "client-a");
        assert_eq!(logged["userAttributeNames"], json!(["custom:ssn", "email"]));
    }
}
