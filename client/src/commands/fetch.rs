//! `fetch`: GET with the cached access token, refreshed when about to expire and once
//! more when the server answers 401; the body goes to standard output.

use reqwest::StatusCode;

use crate::{
    api::{self, Api, Fetched},
    cli::FetchArgs,
    error::{Error, Result},
    session::Session,
    settings::Settings,
    token_cache::Tokens,
};

pub async fn run(settings: &Settings, args: &FetchArgs) -> Result<()> {
    let url = api::target_url(settings.api_url().ok(), &args.target)?;
    let api = Api::new()?;
    let fetched = match &args.token {
        Some(token) => api.get(&url, token).await?,
        None => {
            let mut session = Session::load(settings)?;
            let pick = |tokens: &Tokens| {
                if args.id_token {
                    tokens.id_token.clone()
                } else {
                    tokens.access_token.clone()
                }
            };
            let token = pick(session.fresh_tokens().await?);
            let first = api.get(&url, &token).await?;
            if first.status == StatusCode::UNAUTHORIZED {
                // The token may have been revoked or the clocks disagree: one fresh try.
                let token = pick(session.refresh().await?);
                api.get(&url, &token).await?
            } else {
                first
            }
        }
    };
    let Fetched { status, body } = fetched;
    super::print(&body)?;
    if status.is_success() {
        Ok(())
    } else {
        Err(Error::HttpStatus(format!("GET {url}: {status}")))
    }
}
