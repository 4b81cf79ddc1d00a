//! Per-call cost of the token check without HTTP, on one thread, over 1,000 distinct
//! RS256 access tokens: the RSA-2048 signature check with the key parsed on every call
//! (ring, and aws-lc-rs), parsed once (aws-lc-rs), and as [`SigningKey`] does it (the
//! AVX-512 IFMA code of `rsa-ifma` where the CPU has it, else aws-lc-rs with the key
//! parsed once), token parsing alone, and the whole [`Verifier::verify`] with and
//! without the verified-token cache. Compare with `node webhook-api/bench/node/verify.js`.
//!   taskset -c 0 cargo bench -p webhook-api --bench verify

use std::{
    collections::BTreeSet,
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::encoding::AsDer;
use axum::{Json, Router, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use webhook_api::{
    jwks::{Jwk, JwksCache, SigningKey},
    metrics::Metrics,
    policy::RoutePolicy,
    pools::{PoolConfig, TrustedPools},
    token::{TokenUse, parse_token},
    verifier::{Verifier, VerifierSettings},
};

const ROUNDS: usize = 5;
const CALLS: usize = 20_000;
const TOKENS: usize = 1_000;
const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench";
const CLIENT: &str = "bench-client";

/// Runs `call` `CALLS` times per round; prints the median time per call.
fn measure(name: &str, mut call: impl FnMut(usize)) {
    let mut per_call: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for n in 0..CALLS {
                call(n % TOKENS);
            }
            started.elapsed() / CALLS as u32
        })
        .collect();
    per_call.sort_unstable();
    println!(
        "{name}: {:.1} µs per call (median of {ROUNDS} rounds)",
        per_call[ROUNDS / 2].as_secs_f64() * 1e6
    );
}

struct Fixture {
    tokens: Vec<String>,
    jwk: Value,
    n: Vec<u8>,
    e: Vec<u8>,
}

/// A fresh RSA-2048 key and `TOKENS` distinct access tokens it signed.
fn fixture() -> Fixture {
    let generated = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("generate an RSA key");
    let pkcs8 = generated.as_der().expect("PKCS#8");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_ref()).expect("ring reads it");
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = URL_SAFE_NO_PAD.encode(json!({"kid": "bench", "alg": "RS256"}).to_string());
    let tokens = (0..TOKENS)
        .map(|n| {
            let claims = json!({
                "sub": format!("user-{n}"), "iss": ISSUER, "client_id": CLIENT,
                "token_use": "access", "scope": "aws.cognito.signin.user.admin",
                "auth_time": now, "exp": now + 3600, "iat": now, "jti": format!("jti-{n}"),
                "username": format!("user-{n}"),
            });
            let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("sign");
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
        })
        .collect();
    Fixture {
        tokens,
        jwk: json!({
            "kty": "RSA", "kid": "bench", "alg": "RS256", "use": "sig",
            "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
        }),
        n: public.n,
        e: public.e,
    }
}

/// A verifier that trusts the fixture's pool, its keys fetched from a loopback JWKS.
fn verifier(runtime: &tokio::runtime::Runtime, jwk: &Value, cache_size: usize) -> Verifier {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let document = json!({ "keys": [jwk] });
        let router = Router::new().route("/jwks.json", get(move || async move { Json(document) }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let pools = Arc::new(TrustedPools::from_config(&[PoolConfig {
            name: None,
            issuer: ISSUER.into(),
            jwks_uri: Some(format!("http://{address}/jwks.json")),
            client_ids: [CLIENT.to_owned()].into(),
        }]));
        let metrics = Arc::new(Metrics::default());
        let jwks = Arc::new(JwksCache::new(
            Duration::from_secs(60),
            Arc::clone(&metrics),
        ));
        jwks.follow(&pools);
        while !jwks.ready() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let settings = VerifierSettings {
            token_cache_size: cache_size,
            revoked_origin_jtis: BTreeSet::new(),
            clock_skew_seconds: 30,
        };
        Verifier::new(pools, jwks, settings, metrics)
    })
}

fn main() {
    let fixture = fixture();
    let tokens = &fixture.tokens;
    let parsed: Vec<_> = tokens
        .iter()
        .map(|token| parse_token(token).expect("parses"))
        .collect();
    let jwk: Jwk = serde_json::from_value(fixture.jwk.clone()).expect("JWK");
    let key = SigningKey::from_jwk(&jwk).expect("RS256 key");

    measure("parse_token (split, base64url, JSON)", |n| {
        black_box(parse_token(black_box(&tokens[n])).is_ok());
    });
    let ring_key = ring::signature::RsaPublicKeyComponents {
        n: &fixture.n,
        e: &fixture.e,
    };
    measure("RSA check, ring, key parsed on every call", |n| {
        let token = &parsed[n];
        let verified = ring_key.verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            token.signed,
            &token.signature,
        );
        assert!(verified.is_ok());
    });
    let aws_lc_key = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: &fixture.n,
        e: &fixture.e,
    };
    measure("RSA check, aws-lc-rs, key parsed on every call", |n| {
        let token = &parsed[n];
        let verified = aws_lc_key.verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            token.signed,
            &token.signature,
        );
        assert!(verified.is_ok());
    });
    let aws_lc_parsed = aws_lc_key
        .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("parsed key");
    measure("RSA check, aws-lc-rs, key parsed once", |n| {
        let token = &parsed[n];
        assert!(
            aws_lc_parsed
                .verify_sig(token.signed, &token.signature)
                .is_ok()
        );
    });
    measure(
        "RSA check, SigningKey (AVX-512 IFMA where the CPU has it)",
        |n| assert!(key.verify(parsed[n].signed, &parsed[n].signature)),
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let policy = RoutePolicy::new(TokenUse::Access);
    for (name, cache_size) in [
        ("Verifier::verify, no token cache", 0),
        ("Verifier::verify, token cache (hits)", 10_000),
    ] {
        let verifier = verifier(&runtime, &fixture.jwk, cache_size);
        // With its keys cached, a check never waits: no runtime needed around it.
        measure(name, |n| {
            let verified = futures::executor::block_on(verifier.verify(&tokens[n], &policy));
            assert!(verified.is_ok());
        });
    }
}
