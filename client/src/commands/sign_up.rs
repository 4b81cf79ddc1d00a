//! `sign-up`: the API creates the account (confirmed, permanent password).

use crate::{
    api::Api,
    cli::SignUpArgs,
    error::Result,
    password::{self, Confirm},
    settings::Settings,
};

pub async fn run(settings: &Settings, args: &SignUpArgs) -> Result<()> {
    let api_url = settings.api_url()?;
    let password = password::read(&args.password, Confirm::Twice)?;
    Api::new()?.sign_up(api_url, &args.email, &password).await?;
    eprintln!(
        "signed up {}; sign in with `cognito-client sign-in --email {}`",
        args.email, args.email
    );
    Ok(())
}
