//! The Cognito JWT check: parsing, signature, issuer, token use, client, times,
//! revocation, and per-route groups and scopes, plus a bounded cache of tokens whose
//! signature has been verified.
//!
//! Strictness follows awslabs' aws-jwt-verify: RS256 only, `kid` required, the key must
//! come from the trusted issuer's JWKS, `exp` required. `exp` and `nbf` allow
//! [`Verifier`]'s clock skew (30 seconds by default) for clocks that disagree slightly.

use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::{
    jwks::{JwksCache, KeyLookupError},
    metrics::Metrics,
    pools::{TrustedPool, TrustedPools},
};

/// Longer bearer values are refused before any decoding; Cognito tokens are 1-4 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Id,
}

/// What a route requires of a token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutePolicy {
    pub token_use: TokenUse,
    /// Every one of these must be in `cognito:groups`.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Every one of these must be in `scope` (access tokens).
    #[serde(default)]
    pub required_scopes: Vec<String>,
}

impl RoutePolicy {
    pub fn new(token_use: TokenUse) -> Self {
        Self {
            token_use,
            required_groups: Vec::new(),
            required_scopes: Vec::new(),
        }
    }
}

/// The claims of a Cognito access or id token that the service uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub sub: String,
    pub token_use: TokenUse,
    pub exp: u64,
    #[serde(default)]
    pub nbf: Option<u64>,
    /// App client of an access token.
    #[serde(default)]
    pub client_id: Option<String>,
    /// App client of an id token.
    #[serde(default)]
    pub aud: Option<Audience>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default, rename = "cognito:username")]
    pub cognito_username: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    pub groups: Vec<String>,
    /// Space-separated OAuth scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// Identifies the sign-in session: revoking it revokes every token issued from it.
    #[serde(default)]
    pub origin_jti: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl TokenClaims {
    /// `username` of access tokens, `cognito:username` of id tokens.
    pub fn user_name(&self) -> &str {
        self.username
            .as_deref()
            .or(self.cognito_username.as_deref())
            .unwrap_or(&self.sub)
    }

    fn client(&self) -> Option<&str> {
        match self.token_use {
            TokenUse::Access => self.client_id.as_deref(),
            TokenUse::Id => match &self.aud {
                Some(Audience::One(aud)) => Some(aud),
                // Cognito never issues several audiences; refuse what it would not sign.
                Some(Audience::Many(_)) | None => None,
            },
        }
    }

    fn has_scope(&self, wanted: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|scopes| scopes.split(' ').any(|scope| scope == wanted))
    }
}

/// Why a token is not accepted at all (401). The text is the `error_description`: fixed
/// words, never anything taken from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidToken {
    #[error("missing bearer token")]
    Missing,
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    #[error("missing kid")]
    MissingKid,
    #[error("untrusted issuer")]
    UntrustedIssuer,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature")]
    BadSignature,
    #[error("wrong token_use for this route")]
    WrongTokenUse,
    #[error("client not allowed")]
    ClientNotAllowed,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token revoked")]
    Revoked,
}

/// Why a valid token is not enough for the route (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Insufficient {
    #[error("a required group is missing")]
    MissingGroup,
    #[error("a required scope is missing")]
    MissingScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Invalid(#[from] InvalidToken),
    #[error(transparent)]
    Forbidden(#[from] Insufficient),
    /// The issuer's JWKS could not be fetched: not the client's fault.
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    /// Critical extensions must be understood; this verifier understands none.
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    pub kid: String,
    pub claims: TokenClaims,
    /// `header.payload`, the bytes the signature covers.
    pub signed: &'a [u8],
    pub signature: Vec<u8>,
}

/// Splits and decodes a compact JWS, refusing anything but an RS256 token with a `kid`.
pub fn parse_token(token: &str) -> Result<UnverifiedToken<'_>, InvalidToken> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(InvalidToken::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(InvalidToken::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| InvalidToken::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| InvalidToken::Malformed)?;
    // Before anything else: "none", HS256 (key confusion) and every other algorithm.
    if header.alg != "RS256" || header.crit.is_some() {
        return Err(InvalidToken::UnsupportedAlgorithm);
    }
    let kid = header.kid.ok_or(InvalidToken::MissingKid)?;
    let claims: TokenClaims =
        serde_json::from_slice(&decode(payload)?).map_err(|_| InvalidToken::Malformed)?;
    let signature = decode(signature)?;
    if signature.is_empty() {
        return Err(InvalidToken::BadSignature);
    }
    Ok(UnverifiedToken {
        kid,
        claims,
        signed: &token.as_bytes()[..header_and_payload_len(token)],
        signature,
    })
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

/// Everything about a signature-verified token that does not involve keys: issuer,
/// token use, client, times, revocation, then the route's groups and scopes.
pub fn check_claims(
    claims: &TokenClaims,
    pool: Option<&TrustedPool>,
    policy: &RoutePolicy,
    revoked_origin_jtis: &BTreeSet<String>,
    now: u64,
    clock_skew: u64,
) -> Result<(), VerifyError> {
    let pool = pool.ok_or(InvalidToken::UntrustedIssuer)?;
    if claims.token_use != policy.token_use {
        return Err(InvalidToken::WrongTokenUse.into());
    }
    if !claims
        .client()
        .is_some_and(|client| pool.client_ids.contains(client))
    {
        return Err(InvalidToken::ClientNotAllowed.into());
    }
    if now >= claims.exp.saturating_add(clock_skew) {
        return Err(InvalidToken::Expired.into());
    }
    if claims
        .nbf
        .is_some_and(|nbf| now.saturating_add(clock_skew) < nbf)
    {
        return Err(InvalidToken::NotYetValid.into());
    }
    if claims
        .origin_jti
        .as_ref()
        .is_some_and(|jti| revoked_origin_jtis.contains(jti))
    {
        return Err(InvalidToken::Revoked.into());
    }
    if !policy
        .required_groups
        .iter()
        .all(|group| claims.groups.contains(group))
    {
        return Err(Insufficient::MissingGroup.into());
    }
    if !policy
        .required_scopes
        .iter()
        .all(|scope| claims.has_scope(scope))
    {
        return Err(Insufficient::MissingScope.into());
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const SKEW: u64 = 30;

    fn pool() -> TrustedPool {
        TrustedPool {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x".into(),
            jwks_uri: String::new(),
            client_ids: ["client-a".to_owned()].into(),
        }
    }

    fn access_claims() -> TokenClaims {
        TokenClaims {
            iss: pool().issuer,
            sub: "sub-1".into(),
            token_use: TokenUse::Access,
            exp: NOW + 60,
            nbf: None,
            client_id: Some("client-a".into()),
            aud: None,
            username: Some("alice".into()),
            cognito_username: None,
            email: None,
            groups: vec!["admins".into()],
            scope: Some("aws.cognito.signin.user.admin orders/read".into()),
            origin_jti: Some("session-1".into()),
        }
    }

    fn check(claims: &TokenClaims, policy: &RoutePolicy) -> Result<(), VerifyError> {
        check_claims(
            claims,
            Some(&pool()),
            policy,
            &["revoked-session".to_owned()].into(),
            NOW,
            SKEW,
        )
    }

    fn access() -> RoutePolicy {
        RoutePolicy::new(TokenUse::Access)
    }

    #[test]
    fn accepts_a_valid_access_token() {
        assert_eq!(check(&access_claims(), &access()), Ok(()));
    }

    #[test]
    fn token_use_must_match_the_route() {
        let policy = RoutePolicy::new(TokenUse::Id);
        assert_eq!(
            check(&access_claims(), &policy),
            Err(InvalidToken::WrongTokenUse.into())
        );
    }

    #[test]
    fn id_tokens_are_matched_on_aud_and_access_tokens_on_client_id() {
        let mut id = access_claims();
        id.token_use = TokenUse::Id;
        id.client_id = None;
        id.aud = Some(Audience::One("client-a".into()));
        assert_eq!(check(&id, &RoutePolicy::new(TokenUse::Id)), Ok(()));

        // An access token's aud does not stand in for client_id.
        let mut access_with_aud = access_claims();
        access_with_aud.client_id = None;
        access_with_aud.aud = Some(Audience::One("client-a".into()));
        assert_eq!(
            check(&access_with_aud, &access()),
            Err(InvalidToken::ClientNotAllowed.into())
        );

        id.aud = Some(Audience::Many(vec!["client-a".into()]));
        assert_eq!(
            check(&id, &RoutePolicy::new(TokenUse::Id)),
            Err(InvalidToken::ClientNotAllowed.into())
        );
    }

    #[test]
    fn unknown_issuer_and_client_are_refused() {
        assert_eq!(
            check_claims(
                &access_claims(),
                None,
                &access(),
                &BTreeSet::new(),
                NOW,
                SKEW
            ),
            Err(InvalidToken::UntrustedIssuer.into())
        );
        let mut other_client = access_claims();
        other_client.client_id = Some("client-b".into());
        assert_eq!(
            check(&other_client, &access()),
            Err(InvalidToken::ClientNotAllowed.into())
        );
    }

    #[test]
    fn expiry_and_not_before_allow_the_clock_skew_and_no_more() {
        let mut claims = access_claims();
        claims.exp = NOW - SKEW + 1;
        assert_eq!(check(&claims, &access()), Ok(()));
        claims.exp = NOW - SKEW;
        assert_eq!(check(&claims, &access()), Err(InvalidToken::Expired.into()));

        let mut claims = access_claims();
        claims.nbf = Some(NOW + SKEW);
        assert_eq!(check(&claims, &access()), Ok(()));
        claims.nbf = Some(NOW + SKEW + 1);
        assert_eq!(
            check(&claims, &access()),
            Err(InvalidToken::NotYetValid.into())
        );
    }

    #[test]
    fn revoked_sessions_are_refused() {
        let mut claims = access_claims();
        claims.origin_jti = Some("revoked-session".into());
        assert_eq!(check(&claims, &access()), Err(InvalidToken::Revoked.into()));
    }

    #[test]
    fn missing_group_or_scope_is_forbidden_not_unauthorized() {
        let mut policy = access();
        policy.required_groups = vec!["admins".into()];
        policy.required_scopes = vec!["orders/read".into()];
        assert_eq!(check(&access_claims(), &policy), Ok(()));

        policy.required_groups = vec!["auditors".into()];
        assert_eq!(
            check(&access_claims(), &policy),
            Err(Insufficient::MissingGroup.into())
        );
        policy.required_groups.clear();
        // A scope must match a whole entry, not a prefix.
        policy.required_scopes = vec!["orders".into()];
        assert_eq!(
            check(&access_claims(), &policy),
            Err(Insufficient::MissingScope.into())
        );
    }

    fn encode(json: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn token(header: serde_json::Value, claims: serde_json::Value, signature: &str) -> String {
        format!("{}.{}.{signature}", encode(header), encode(claims))
    }

    fn valid_claims_json() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
            "sub": "s", "token_use": "access", "exp": NOW, "client_id": "client-a"
        })
    }

    #[test]
    fn parsing_refuses_other_algorithms_missing_kid_and_bad_encoding() {
        let claims = valid_claims_json();
        let parse = |t: &str| parse_token(t).map(|_| ());
        assert_eq!(
            parse(&token(
                serde_json::json!({"alg": "RS256", "kid": "k"}),
                claims.clone(),
                "c2ln"
            )),
            Ok(())
        );
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            assert_eq!(
                parse(&token(
                    serde_json::json!({"alg": alg, "kid": "k"}),
                    claims.clone(),
                    "c2ln"
                )),
                Err(InvalidToken::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        assert_eq!(
            parse(&token(
                serde_json::json!({"alg": "RS256"}),
                claims.clone(),
                "c2ln"
            )),
            Err(InvalidToken::MissingKid)
        );
        assert_eq!(
            parse(&token(
                serde_json::json!({"alg": "RS256", "kid": "k", "crit": ["b64"]}),
                claims.clone(),
                "c2ln"
            )),
            Err(InvalidToken::UnsupportedAlgorithm)
        );
        let good = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            claims.clone(),
            "c2ln",
        );
        for malformed in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{good}="),
            &format!("{good}.x"),
            &good.replacen('.', ".!", 1),
        ] {
            assert!(parse(malformed).is_err(), "{malformed}");
        }
        assert_eq!(
            parse(&token(
                serde_json::json!({"alg": "RS256", "kid": "k"}),
                claims,
                ""
            )),
            Err(InvalidToken::BadSignature)
        );
        let mut without_exp = valid_claims_json();
        without_exp.as_object_mut().map(|o| o.remove("exp"));
        assert_eq!(
            parse(&token(
                serde_json::json!({"alg": "RS256", "kid": "k"}),
                without_exp,
                "c2ln"
            )),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(
            parse(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(InvalidToken::Malformed)
        );
    }

    #[test]
    fn the_signed_part_is_header_and_payload() {
        let text = token(
            serde_json::json!({"alg": "RS256", "kid": "k"}),
            valid_claims_json(),
            "c2ln",
        );
        let parsed = parse_token(&text).expect("parses");
        assert_eq!(
            parsed.signed,
            text.rsplit_once('.').expect("dots").0.as_bytes()
        );
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(parsed.kid, "k");
    }
}
