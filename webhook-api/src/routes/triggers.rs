//! `POST /triggers`: the Cognito trigger sink. Checks a shared secret, logs the event
//! with secrets redacted, and returns the event unmodified, which is what Cognito
//! expects of a trigger that changes nothing.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderName, header},
    response::IntoResponse,
};
use serde_json::Value;

use crate::{error::AppError, state::AppState};

pub const SECRET_HEADER: HeaderName = HeaderName::from_static("x-trigger-secret");
const REDACTED: &str = "[REDACTED]";

/// Keys (compared lower-case, as substrings) whose values are never logged: passwords,
/// verification and MFA codes, tokens, challenge answers.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "code",
    "token",
    "secret",
    "answer",
    "privatechallengeparameters",
];

pub async fn triggers(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, AppError> {
    let secret = state
        .trigger_secret
        .as_ref()
        .ok_or_else(|| AppError::Internal("trigger route without a secret".into()))?;
    let offered = headers.get(SECRET_HEADER).map(|v| v.as_bytes());
    if !offered.is_some_and(|offered| secret.matches(offered)) {
        return Err(AppError::BadTriggerSecret);
    }
    let mut event: Value =
        serde_json::from_slice(&body).map_err(|_| AppError::BadRequest("malformed JSON"))?;
    let trigger_source = event
        .get("triggerSource")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    redact(&mut event);
    tracing::info!(trigger_source, event = %event, "cognito trigger");
    // The bytes as received: unmodified is the trigger contract.
    Ok(([(header::CONTENT_TYPE, "application/json")], body))
}

/// Replaces, at any depth, the value of every key that names a secret.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                let key = key.to_ascii_lowercase();
                if SECRET_KEY_PARTS.iter().any(|part| key.contains(part)) {
                    *field = Value::String(REDACTED.to_owned());
                } else {
                    redact(field);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redacts_passwords_codes_and_tokens_at_any_depth() {
        let mut event = json!({
            "triggerSource": "CustomMessage_SignUp",
            "userName": "alice",
            "request": {
                "userAttributes": {"email": "alice@example.com"},
                "codeParameter": "{####}",
                "password": "hunter2",
                "clientMetadata": {"refreshToken": "r", "note": "kept"},
                "challengeAnswer": "42",
                "privateChallengeParameters": {"expected": "42"},
                "session": [{"challengeResult": true, "ClientSecret": "s"}]
            },
            "response": {"smsMessage": null}
        });
        redact(&mut event);
        let text = event.to_string();
        for secret in ["hunter2", "{####}", "\"r\"", "42", "\"s\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(event["request"]["clientMetadata"]["note"], "kept");
        assert_eq!(
            event["request"]["userAttributes"]["email"],
            "alice@example.com"
        );
        assert_eq!(event["request"]["session"][0]["challengeResult"], true);
        assert_eq!(event["triggerSource"], "CustomMessage_SignUp");
    }
}
