//! `sign-out`: revokes the refresh token at Cognito, then deletes the cached tokens,
//! even when the revocation fails (the machine should not keep them either way).

use crate::{
    error::{Error, Result},
    session::Session,
    settings::Settings,
    token_cache::TokenCache,
};

pub async fn run(settings: &Settings) -> Result<()> {
    let cache = TokenCache::new(settings.token_cache_path());
    let mut session = match Session::load(settings) {
        Ok(session) => session,
        Err(Error::NotSignedIn(profile)) => {
            eprintln!("not signed in (profile {profile}): nothing to do");
            return Ok(());
        }
        // Nothing to revoke can be read from it, but it should not stay behind.
        Err(Error::DamagedCache { .. }) => {
            cache.clear()?;
            eprintln!(
                "deleted a damaged token cache (profile {})",
                settings.profile
            );
            return Ok(());
        }
        Err(other) => return Err(other),
    };
    let revoked = session.revoke().await;
    cache.clear()?;
    revoked.map_err(|error| Error::NotRevoked(Box::new(error)))?;
    eprintln!("signed out (profile {})", settings.profile);
    Ok(())
}
