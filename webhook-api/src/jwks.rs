//! `JwksCache`: each trusted issuer's signing keys, fetched before the service reports
//! ready and kept without a TTL. An unknown `kid` triggers a refetch; concurrent
//! refetches for one issuer are merged into one, and a per-issuer cool-down bounds how
//! often the JWKS endpoint is asked, whatever tokens arrive.
//!
//! A fetch follows redirects only within the JWKS URL's own origin (scheme, host,
//! port) and stops reading at [`MAX_JWKS_BYTES`].

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;

use crate::{
    metrics::Metrics,
    pools::{TrustedPool, TrustedPools},
};

/// Largest JWKS document accepted; Cognito's is about 1 KiB.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const PREFETCH_RETRY_MAX: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 3;

/// An RS256 public key from a JWKS, parsed once when the JWKS is fetched (aws-lc-rs),
/// so a check only runs the RSA operation. ring's `RsaPublicKeyComponents` parses the
/// key, Montgomery constants included, on every check: `benches/verify.rs` measures a
/// check here 10-30% cheaper. Keys for any other algorithm are never stored, so a
/// token's `alg` (always RS256 after parsing) matches every stored key.
#[derive(Debug)]
pub struct SigningKey {
    key: ParsedPublicKey,
    /// The same key for the AVX-512 IFMA check (about twice as fast), when the CPU has
    /// it and the key is RSA-2048 with e = 65537, as Cognito's keys are.
    #[cfg(target_arch = "x86_64")]
    ifma: Option<rsa_ifma::PublicKey>,
}

/// One entry of a JWKS document, as far as RS256 needs it.
#[derive(Debug, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub key_use: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    #[error("key type {0:?} is not RSA")]
    NotRsa(String),
    #[error("algorithm {0:?} is not RS256")]
    WrongAlgorithm(String),
    #[error("key use {0:?} is not sig")]
    NotForSignatures(String),
    #[error("missing or malformed {0}")]
    Malformed(&'static str),
    #[error("not a usable RSA public key")]
    Rejected,
}

impl SigningKey {
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, JwkError> {
        if jwk.kty != "RSA" {
            return Err(JwkError::NotRsa(jwk.kty.clone()));
        }
        if let Some(alg) = jwk.alg.as_deref().filter(|alg| *alg != "RS256") {
            return Err(JwkError::WrongAlgorithm(alg.to_owned()));
        }
        if let Some(key_use) = jwk.key_use.as_deref().filter(|u| *u != "sig") {
            return Err(JwkError::NotForSignatures(key_use.to_owned()));
        }
        let decode = |field: &Option<String>, name| {
            field
                .as_deref()
                .and_then(|value| URL_SAFE_NO_PAD.decode(value).ok())
                .filter(|bytes| !bytes.is_empty())
                .ok_or(JwkError::Malformed(name))
        };
        let components = RsaPublicKeyComponents {
            n: decode(&jwk.n, "n")?,
            e: decode(&jwk.e, "e")?,
        };
        let key = components
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| JwkError::Rejected)?;
        Ok(Self {
            key,
            #[cfg(target_arch = "x86_64")]
            ifma: rsa_ifma::PublicKey::new(&components.n, &components.e),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256; moduli outside 2048..=8192 bits never verify.
    pub fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        #[cfg(target_arch = "x86_64")]
        if let Some(key) = &self.ifma {
            return key.verify(signed, signature);
        }
        self.key.verify_sig(signed, signature).is_ok()
    }
}

/// Why no key could be found for a token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyLookupError {
    #[error("no key with this kid")]
    UnknownKid,
    #[error("the issuer's keys are not available")]
    Unavailable,
}

type KeySet = HashMap<String, Arc<SigningKey>>;

struct IssuerKeys {
    jwks_uri: String,
    /// Listed by an admin: readiness waits for these keys.
    configured: bool,
    keys: RwLock<Arc<KeySet>>,
    fetched_once: AtomicBool,
    attempted_once: AtomicBool,
    /// Held while fetching, so concurrent refetches wait for one fetch instead of
    /// starting their own; holds the time of the last fetch attempt for the cool-down.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

pub struct JwksCache {
    http: reqwest::Client,
    cooldown: Duration,
    issuers: RwLock<HashMap<String, Arc<IssuerKeys>>>,
    metrics: Arc<Metrics>,
}

impl JwksCache {
    pub fn new(cooldown: Duration, metrics: Arc<Metrics>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .redirect(reqwest::redirect::Policy::custom(same_origin_redirects))
                .build()
                .unwrap_or_default(),
            cooldown,
            issuers: RwLock::default(),
            metrics,
        }
    }

    /// Makes the cached issuers match `pools`, and returns the issuers that are new (or
    /// whose JWKS location changed) and so need a first fetch.
    pub fn sync_pools(&self, pools: &[Arc<TrustedPool>]) -> Vec<String> {
        let mut issuers = self.issuers.write().unwrap_or_else(|p| p.into_inner());
        let wanted: HashSet<&str> = pools.iter().map(|p| p.issuer.as_str()).collect();
        issuers.retain(|issuer, _| wanted.contains(issuer.as_str()));
        let mut added = Vec::new();
        for pool in pools {
            let current = issuers.get(&pool.issuer);
            if current.is_some_and(|keys| {
                keys.jwks_uri == pool.jwks_uri && keys.configured == pool.configured
            }) {
                continue;
            }
            issuers.insert(
                pool.issuer.clone(),
                Arc::new(IssuerKeys {
                    jwks_uri: pool.jwks_uri.clone(),
                    configured: pool.configured,
                    keys: RwLock::default(),
                    fetched_once: AtomicBool::new(false),
                    attempted_once: AtomicBool::new(false),
                    last_fetch: tokio::sync::Mutex::new(None),
                }),
            );
            added.push(pool.issuer.clone());
        }
        drop(issuers);
        self.report_missing_keys();
        added
    }

    /// Follows `pools`: forgets the issuers no longer trusted and prefetches, in the
    /// background, the keys of new ones. Needs a Tokio runtime.
    pub fn follow(self: &Arc<Self>, pools: &TrustedPools) {
        self.metrics.set_pool_conflicts(pools.conflicts().len());
        for issuer in self.sync_pools(&pools.pools()) {
            let jwks = Arc::clone(self);
            tokio::spawn(async move { jwks.prefetch(&issuer).await });
        }
    }

    /// True once every configured issuer's keys have been fetched, and every discovered
    /// one's have been tried once: a tenant's broken pool must not keep the shared gate
    /// unready, and it is reported (log, `webhook_api_pools_without_keys`) instead.
    pub fn ready(&self) -> bool {
        let issuers = self.issuers.read().unwrap_or_else(|p| p.into_inner());
        issuers.values().all(|keys| {
            keys.fetched_once.load(Ordering::Acquire)
                || (!keys.configured && keys.attempted_once.load(Ordering::Acquire))
        })
    }

    /// Issuers whose keys have never been fetched.
    pub fn without_keys(&self) -> Vec<String> {
        let issuers = self.issuers.read().unwrap_or_else(|p| p.into_inner());
        issuers
            .iter()
            .filter(|(_, keys)| !keys.fetched_once.load(Ordering::Acquire))
            .map(|(issuer, _)| issuer.clone())
            .collect()
    }

    fn report_missing_keys(&self) {
        self.metrics
            .set_pools_without_keys(self.without_keys().len());
    }

    /// Fetches `issuer`'s keys until it works (or the issuer is no longer trusted),
    /// backing off between attempts.
    pub async fn prefetch(&self, issuer: &str) {
        let mut delay = Duration::from_millis(500);
        loop {
            let Some(entry) = self.entry(issuer) else {
                return;
            };
            let mut last_fetch = entry.last_fetch.lock().await;
            if self.fetch_into(issuer, &entry, &mut last_fetch).await {
                return;
            }
            drop(last_fetch);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(PREFETCH_RETRY_MAX);
        }
    }

    /// The key `kid` of `issuer`, refetching the JWKS once if the key is unknown and the
    /// issuer's cool-down has passed.
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Arc<SigningKey>, KeyLookupError> {
        let entry = self.entry(issuer).ok_or(KeyLookupError::Unavailable)?;
        if let Some(key) = entry.lookup(kid) {
            return Ok(key);
        }
        let mut last_fetch = entry.last_fetch.lock().await;
        // Whoever held the lock before may have fetched the key we need.
        if let Some(key) = entry.lookup(kid) {
            return Ok(key);
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.cooldown) {
            return Err(KeyLookupError::UnknownKid);
        }
        if !self.fetch_into(issuer, &entry, &mut last_fetch).await {
            return Err(KeyLookupError::Unavailable);
        }
        entry.lookup(kid).ok_or(KeyLookupError::UnknownKid)
    }

    fn entry(&self, issuer: &str) -> Option<Arc<IssuerKeys>> {
        let issuers = self.issuers.read().unwrap_or_else(|p| p.into_inner());
        issuers.get(issuer).cloned()
    }

    /// One fetch; replaces the key set on success (keys dropped from the JWKS stop being
    /// trusted). Returns whether it worked.
    async fn fetch_into(
        &self,
        issuer: &str,
        entry: &IssuerKeys,
        last_fetch: &mut Option<Instant>,
    ) -> bool {
        *last_fetch = Some(Instant::now());
        let result = self.fetch(&entry.jwks_uri).await;
        self.metrics.record_jwks_fetch(result.is_ok());
        let fetched = match result {
            Ok(keys) => {
                tracing::info!(issuer, keys = keys.len(), "fetched JWKS");
                *entry.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                entry.fetched_once.store(true, Ordering::Release);
                true
            }
            Err(error) => {
                tracing::warn!(issuer, jwks_uri = %entry.jwks_uri, %error, "JWKS fetch failed");
                false
            }
        };
        entry.attempted_once.store(true, Ordering::Release);
        self.report_missing_keys();
        fetched
    }

    async fn fetch(&self, jwks_uri: &str) -> Result<KeySet, FetchError> {
        let mut response = self.http.get(jwks_uri).send().await?.error_for_status()?;
        if response
            .content_length()
            .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
        {
            return Err(FetchError::TooLarge);
        }
        // Chunk by chunk, so a body without (or lying about) its length is cut at the cap.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(parse_jwks(&body)?)
    }
}

/// Follows a redirect only to the same scheme, host and port as the first request, so
/// a JWKS URL cannot hand the fetch over to a host nobody trusted.
fn same_origin_redirects(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let origin = |url: &reqwest::Url| {
        (
            url.scheme().to_owned(),
            url.host_str().map(str::to_owned),
            url.port_or_known_default(),
        )
    };
    let same_origin = attempt
        .previous()
        .first()
        .is_some_and(|first| origin(first) == origin(attempt.url()));
    if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
        attempt.follow()
    } else {
        attempt.stop()
    }
}

impl IssuerKeys {
    fn lookup(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.get(kid).cloned()
    }
}

/// The usable keys of a JWKS document: RS256 signing keys with a `kid`. Others are
/// skipped (and logged) rather than failing the whole set.
pub fn parse_jwks(body: &[u8]) -> Result<KeySet, serde_json::Error> {
    let document: JwksDocument = serde_json::from_slice(body)?;
    let mut keys = KeySet::new();
    for value in document.keys {
        let parsed = serde_json::from_value::<Jwk>(value)
            .map_err(|_| JwkError::Malformed("JWK"))
            .and_then(|jwk| {
                let kid = jwk.kid.clone().ok_or(JwkError::Malformed("kid"))?;
                Ok((kid, SigningKey::from_jwk(&jwk)?))
            });
        match parsed {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(error) => tracing::warn!(%error, "skipping JWK"),
        }
    }
    Ok(keys)
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("JWKS document larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("malformed JWKS document: {0}")]
    Parse(#[from] serde_json::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_rs256_signing_keys_with_a_kid() {
        let modulus = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let document = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "good", "alg": "RS256", "use": "sig", "n": modulus, "e": "AQAB"},
            {"kty": "RSA", "kid": "no-alg", "n": modulus, "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": modulus, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": modulus, "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256"},
            {"kty": "RSA", "n": modulus, "e": "AQAB"},
            {"kty": "RSA", "kid": "empty", "n": "", "e": "AQAB"},
            "not an object"
        ]});
        let keys = parse_jwks(document.to_string().as_bytes()).expect("valid document");
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["good", "no-alg"]);
    }

    /// A JWK of a fresh key of `size`, and a signer with that key.
    fn key_pair(size: aws_lc_rs::rsa::KeySize) -> (Jwk, aws_lc_rs::rsa::KeyPair) {
        use aws_lc_rs::encoding::AsDer;
        let pair = aws_lc_rs::rsa::KeyPair::generate(size).expect("generate");
        let pkcs8 = pair.as_der().expect("PKCS#8");
        let public =
            ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_ref()).expect("ring reads it");
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(public.public());
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some("k".into()),
            alg: Some("RS256".into()),
            key_use: Some("sig".into()),
            n: Some(URL_SAFE_NO_PAD.encode(public.n)),
            e: Some(URL_SAFE_NO_PAD.encode(public.e)),
        };
        (jwk, pair)
    }

    fn sign(pair: &aws_lc_rs::rsa::KeyPair, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut signature,
        )
        .expect("sign");
        signature
    }

    #[test]
    fn a_parsed_key_verifies_its_signatures_and_nothing_else() {
        let (jwk, pair) = key_pair(aws_lc_rs::rsa::KeySize::Rsa2048);
        let key = SigningKey::from_jwk(&jwk).expect("RS256 key");
        let signature = sign(&pair, b"header.payload");
        assert!(key.verify(b"header.payload", &signature));
        assert!(!key.verify(b"header.payloae", &signature));
        let mut flipped = signature.clone();
        flipped[10] ^= 1;
        assert!(!key.verify(b"header.payload", &flipped));
        assert!(!key.verify(b"header.payload", &signature[1..]));
        assert!(!key.verify(b"header.payload", &[]));

        let (other, _) = key_pair(aws_lc_rs::rsa::KeySize::Rsa2048);
        let other = SigningKey::from_jwk(&other).expect("RS256 key");
        assert!(!other.verify(b"header.payload", &signature));
    }

    #[test]
    fn a_key_the_rsa_code_refuses_is_refused_when_the_jwks_is_read() {
        let (mut jwk, _) = key_pair(aws_lc_rs::rsa::KeySize::Rsa2048);
        // JWA wants the shortest encoding; a leading zero octet is not one.
        let n = URL_SAFE_NO_PAD
            .decode(jwk.n.as_deref().expect("n"))
            .expect("base64url");
        jwk.n = Some(URL_SAFE_NO_PAD.encode([&[0u8][..], &n].concat()));
        assert_eq!(SigningKey::from_jwk(&jwk).err(), Some(JwkError::Rejected));
    }
}
