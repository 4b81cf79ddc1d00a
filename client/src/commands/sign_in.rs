//! `sign-in`: SRP (default) or password sign-in; the tokens go to the profile's cache.

use serde_json::json;

use crate::{
    cli::{AuthFlow, SignInArgs},
    cognito::Cognito,
    error::{Error, Result},
    password::{self, Confirm},
    settings::Settings,
    token_cache::{TokenCache, Tokens},
    unix_now,
};

pub async fn run(settings: &Settings, args: &SignInArgs) -> Result<()> {
    let client_id = settings.client_id()?;
    // Settings problems surface before the user types a password.
    let user_pool_id = match args.auth_flow {
        AuthFlow::Srp => Some(settings.user_pool_id()?),
        AuthFlow::Password => None,
    };
    let cognito = Cognito::connect(settings.region(), settings.aws_endpoint(), client_id).await?;
    let password = password::read(&args.password, Confirm::Once)?;
    let issued = match user_pool_id {
        Some(pool) => {
            cognito
                .sign_in_with_srp(pool, &args.email, &password)
                .await?
        }
        None => {
            cognito
                .sign_in_with_password(&args.email, &password)
                .await?
        }
    };
    let refresh_token = issued
        .refresh_token
        .ok_or_else(|| Error::Cognito("the sign-in answer holds no refresh token".into()))?;
    let tokens = Tokens {
        access_token: issued.access_token,
        id_token: issued.id_token,
        refresh_token,
        expires_at: unix_now().saturating_add(issued.expires_in),
        client_id: client_id.to_owned(),
        region: cognito.region().to_owned(),
        username: args.email.clone(),
    };
    let cache = TokenCache::new(settings.token_cache_path());
    cache.save(&tokens)?;
    eprintln!(
        "signed in as {} (profile {}); tokens cached in {}",
        args.email,
        settings.profile,
        cache.path().display()
    );
    if args.print {
        // The refresh token stays in the cache: it is the long-lived credential.
        let printed = json!({
            "access_token": tokens.access_token,
            "id_token": tokens.id_token,
            "token_type": "Bearer",
            "expires_at": tokens.expires_at,
        });
        super::print(format!("{printed}\n").as_bytes())?;
    }
    Ok(())
}
