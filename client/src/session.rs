//! A signed-in session: the cached tokens of a profile, refreshed with the refresh token
//! when the access token is about to expire (or is refused), and written back.

use crate::{
    cognito::{Cognito, Issued},
    error::{Error, Result},
    settings::Settings,
    token_cache::{TokenCache, Tokens},
    unix_now,
};

pub struct Session {
    cache: TokenCache,
    tokens: Tokens,
    aws_endpoint: Option<String>,
    /// Connected on first need: a fresh token needs no Cognito call at all.
    cognito: Option<Cognito>,
}

impl Session {
    /// The profile's session; [`Error::NotSignedIn`] without cached tokens.
    pub fn load(settings: &Settings) -> Result<Self> {
        let cache = TokenCache::new(settings.token_cache_path());
        let tokens = cache
            .load()?
            .ok_or_else(|| Error::NotSignedIn(settings.profile.clone()))?;
        Ok(Self {
            cache,
            tokens,
            aws_endpoint: settings.aws_endpoint().map(str::to_owned),
            cognito: None,
        })
    }

    /// The tokens, refreshed first when the access token expires within the margin.
    pub async fn fresh_tokens(&mut self) -> Result<&Tokens> {
        if !self.tokens.is_fresh(unix_now()) {
            self.refresh().await?;
        }
        Ok(&self.tokens)
    }

    /// Trades the refresh token for new tokens and caches them.
    pub async fn refresh(&mut self) -> Result<&Tokens> {
        let refresh_token = self.tokens.refresh_token.clone();
        let issued = self.cognito().await?.refresh(&refresh_token).await?;
        self.tokens = renewed(&self.tokens, issued, unix_now());
        self.cache.save(&self.tokens)?;
        Ok(&self.tokens)
    }

    /// Revokes the refresh token (and with it the tokens it issued).
    pub async fn revoke(&mut self) -> Result<()> {
        let refresh_token = self.tokens.refresh_token.clone();
        self.cognito().await?.revoke(&refresh_token).await
    }

    /// Cognito, for the app client and region that issued the tokens (refresh tokens are
    /// bound to their client).
    pub async fn cognito(&mut self) -> Result<&Cognito> {
        let cognito = match self.cognito.take() {
            Some(cognito) => cognito,
            None => {
                Cognito::connect(
                    Some(self.tokens.region.clone()),
                    self.aws_endpoint.as_deref(),
                    &self.tokens.client_id,
                )
                .await?
            }
        };
        Ok(self.cognito.insert(cognito))
    }
}

/// The cached tokens after a refresh: new access and id tokens, and a new refresh token
/// only when Cognito rotated it.
fn renewed(previous: &Tokens, issued: Issued, now: u64) -> Tokens {
    Tokens {
        access_token: issued.access_token,
        id_token: issued.id_token,
        refresh_token: issued
            .refresh_token
            .unwrap_or_else(|| previous.refresh_token.clone()),
        expires_at: now.saturating_add(issued.expires_in),
        ..previous.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn previous() -> Tokens {
        Tokens {
            access_token: "old-access".into(),
            id_token: "old-id".into(),
            refresh_token: "refresh".into(),
            expires_at: 100,
            client_id: "client".into(),
            region: "us-east-1".into(),
            username: "a@example.com".into(),
        }
    }

    fn issued(refresh_token: Option<&str>) -> Issued {
        Issued {
            access_token: "new-access".into(),
            id_token: "new-id".into(),
            refresh_token: refresh_token.map(str::to_owned),
            expires_in: 3600,
        }
    }

    #[test]
    fn a_refresh_keeps_the_refresh_token_unless_rotated() {
        let kept = renewed(&previous(), issued(None), 1_000);
        assert_eq!(kept.access_token, "new-access");
        assert_eq!(kept.id_token, "new-id");
        assert_eq!(kept.refresh_token, "refresh");
        assert_eq!(kept.expires_at, 4_600);
        assert_eq!(kept.client_id, "client");
        let rotated = renewed(&previous(), issued(Some("rotated")), 1_000);
        assert_eq!(rotated.refresh_token, "rotated");
    }
}
