//! HTTP to the application's API (webhook-api): `POST /signup` and authenticated GETs.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;

use crate::error::{Error, Result, causes, one_line};

const TIMEOUT: Duration = Duration::from_secs(30);

/// What a GET answered.
pub struct Fetched {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

pub struct Api {
    http: reqwest::Client,
}

#[derive(Serialize)]
struct SignupRequest<'a> {
    email: &'a str,
    password: &'a str,
}

impl Api {
    pub fn new() -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("cognito-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::Network(causes(&error)))?;
        Ok(Self { http })
    }

    /// `POST <api>/signup {email, password}`; the statuses are webhook-api's.
    pub async fn sign_up(&self, api_url: &str, email: &str, password: &str) -> Result<()> {
        let url = join(api_url, "signup");
        let response = self
            .http
            .post(&url)
            .json(&SignupRequest { email, password })
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The body is `{"error", "message"}` in fixed words (or Cognito's password policy).
        let message = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body.get("message")?.as_str().map(one_line));
        Err(match status {
            StatusCode::CONFLICT => Error::AccountExists,
            StatusCode::BAD_REQUEST => {
                Error::Invalid(message.unwrap_or_else(|| "invalid e-mail or password".into()))
            }
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Error::RateLimited(message.unwrap_or_else(|| "try again later".into()))
            }
            _ => Error::HttpStatus(format!("POST {url}: {status}")),
        })
    }

    /// `GET url` with a bearer token.
    pub async fn get(&self, url: &str, token: &str) -> Result<Fetched> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        let body = response.bytes().await.map_err(request_error)?.to_vec();
        Ok(Fetched { status, body })
    }
}

/// `fetch`'s target as a URL: absolute URLs as given, anything else under the API URL.
pub fn target_url(api_url: Option<&str>, target: &str) -> Result<String> {
    if target.starts_with("http://") || target.starts_with("https://") {
        return Ok(target.to_owned());
    }
    let api_url = api_url.ok_or_else(|| {
        Error::Config(format!(
            "{target:?} is not a URL and no API URL is set: pass --api-url, set \
             COGNITO_CLIENT_API_URL, or add api-url to the profile"
        ))
    })?;
    Ok(join(api_url, target))
}

fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

fn request_error(error: reqwest::Error) -> Error {
    if error.is_builder() {
        Error::Config(causes(&error))
    } else {
        Error::Network(causes(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_under_the_api_url_and_urls_stay() {
        let api = Some("http://127.0.0.1:8080/");
        assert_eq!(
            target_url(api, "/api/me").ok().as_deref(),
            Some("http://127.0.0.1:8080/api/me")
        );
        assert_eq!(
            target_url(Some("https://x.example/base"), "api/me")
                .ok()
                .as_deref(),
            Some("https://x.example/base/api/me")
        );
        assert_eq!(
            target_url(None, "https://other.example/a?b=c")
                .ok()
                .as_deref(),
            Some("https://other.example/a?b=c")
        );
        assert!(matches!(target_url(None, "/api/me"), Err(Error::Config(_))));
    }
}
