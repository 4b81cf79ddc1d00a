//! `whoami`: asks Cognito (`GetUser`) who the cached access token belongs to.

use crate::{
    error::{Error, Result},
    session::Session,
    settings::Settings,
};

pub async fn run(settings: &Settings) -> Result<()> {
    let mut session = Session::load(settings)?;
    let access_token = session.fresh_tokens().await?.access_token.clone();
    let user = match session.cognito().await?.get_user(&access_token).await {
        Err(Error::TokenRefused) => {
            let access_token = session.refresh().await?.access_token.clone();
            session.cognito().await?.get_user(&access_token).await?
        }
        other => other?,
    };
    let mut text = format!("username: {}\n", user.username);
    for (name, value) in &user.attributes {
        text.push_str(&format!("{name}: {value}\n"));
    }
    super::print(text.as_bytes())
}
