//! `Verifier`: the whole check of a bearer token for a route, from text to claims
//! (parse, trusted issuer, key, signature, claims), plus a bounded cache of tokens whose
//! signature has been verified, so a repeated token skips the RSA check.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use crate::{
    jwks::{JwksCache, KeyLookupError},
    metrics::Metrics,
    policy::{RoutePolicy, VerifyError, check_claims},
    pools::TrustedPools,
    token::{InvalidToken, MAX_TOKEN_BYTES, TokenClaims, parse_token},
};

/// SHA-256 of a token: the verified-token cache never holds tokens themselves, and a
/// forged token cannot collide with a cached one.
type TokenDigest = [u8; 32];

pub struct Verifier {
    pools: Arc<TrustedPools>,
    jwks: Arc<JwksCache>,
    /// Tokens whose signature and issuer have been verified; claims are re-checked on
    /// every use, and an entry found expired is dropped.
    verified: Option<quick_cache::sync::Cache<TokenDigest, Arc<TokenClaims>>>,
    revoked_origin_jtis: BTreeSet<String>,
    clock_skew: u64,
    metrics: Arc<Metrics>,
}

pub struct VerifierSettings {
    pub token_cache_size: usize,
    pub revoked_origin_jtis: BTreeSet<String>,
    pub clock_skew_seconds: u64,
}

impl Verifier {
    pub fn new(
        pools: Arc<TrustedPools>,
        jwks: Arc<JwksCache>,
        settings: VerifierSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            pools,
            jwks,
            verified: (settings.token_cache_size > 0)
                .then(|| quick_cache::sync::Cache::new(settings.token_cache_size)),
            revoked_origin_jtis: settings.revoked_origin_jtis,
            clock_skew: settings.clock_skew_seconds,
            metrics,
        }
    }

    pub async fn verify(
        &self,
        token: &str,
        policy: &RoutePolicy,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        let started = Instant::now();
        let result = self.verify_untimed(token, policy).await;
        self.metrics.observe_verify(started.elapsed());
        result
    }

    async fn verify_untimed(
        &self,
        token: &str,
        policy: &RoutePolicy,
    ) -> Result<Arc<TokenClaims>, VerifyError> {
        if token.is_empty() {
            return Err(InvalidToken::Missing.into());
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(InvalidToken::Malformed.into());
        }
        let pools = self.pools.snapshot();
        let now = unix_now();
        let digest = self.verified.as_ref().map(|_| digest(token));
        if let (Some(cache), Some(digest)) = (&self.verified, &digest) {
            if let Some(claims) = cache.get(digest) {
                self.metrics.record_token_cache(true);
                let checked = check_claims(
                    &claims,
                    pools.get(&claims.iss).map(Arc::as_ref),
                    policy,
                    &self.revoked_origin_jtis,
                    now,
                    self.clock_skew,
                );
                if checked == Err(InvalidToken::Expired.into()) {
                    cache.remove(digest);
                }
                return checked.map(|()| claims);
            }
            self.metrics.record_token_cache(false);
        }

        let parsed = parse_token(token)?;
        let pool = pools
            .get(&parsed.claims.iss)
            .ok_or(InvalidToken::UntrustedIssuer)?;
        let key = self
            .jwks
            .key(&pool.issuer, &parsed.kid)
            .await
            .map_err(|error| match error {
                KeyLookupError::UnknownKid => VerifyError::Invalid(InvalidToken::UnknownKey),
                KeyLookupError::Unavailable => VerifyError::KeysUnavailable,
            })?;
        if !key.verify(parsed.signed, &parsed.signature) {
            return Err(InvalidToken::BadSignature.into());
        }
        let claims = Arc::new(parsed.claims);
        check_claims(
            &claims,
            Some(pool),
            policy,
            &self.revoked_origin_jtis,
            now,
            self.clock_skew,
        )?;
        if let (Some(cache), Some(digest)) = (&self.verified, digest) {
            cache.insert(digest, Arc::clone(&claims));
        }
        Ok(claims)
    }
}

fn digest(token: &str) -> TokenDigest {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(digest.as_ref());
    bytes
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
