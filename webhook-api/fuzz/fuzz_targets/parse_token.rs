//! The token-parsing path on arbitrary input: splitting, base64url, header and claims
//! JSON, the algorithm and `kid` rules, the signature check against a real-sized key,
//! the route's pool binding and the claim checks. None of it may panic.
#![no_main]

use std::{collections::BTreeSet, sync::LazyLock};

use libfuzzer_sys::fuzz_target;
use webhook_api::{
    jwks::{Jwk, SigningKey},
    policy::{RoutePolicy, check_claims},
    pools::TrustedPool,
    token::{TokenUse, parse_token},
};

static KEY: LazyLock<SigningKey> = LazyLock::new(|| {
    let modulus = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    SigningKey::from_jwk(&Jwk {
        kty: "RSA".into(),
        kid: Some("fuzz".into()),
        alg: Some("RS256".into()),
        key_use: Some("sig".into()),
        n: Some(modulus.into()),
        e: Some("AQAB".into()),
    })
    .expect("valid test key")
});

static POOL: LazyLock<TrustedPool> = LazyLock::new(|| TrustedPool {
    issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_fuzz".into(),
    jwks_uri: String::new(),
    client_ids: ["client".to_owned()].into(),
    name: "fuzz".into(),
    configured: true,
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = parse_token(token) else {
        return;
    };
    let _ = KEY.verify(parsed.signed, &parsed.signature);
    for (token_use, pools) in [
        (TokenUse::Access, vec![]),
        (TokenUse::Id, vec!["team/*".into(), "fuzz".into()]),
    ] {
        let mut policy = RoutePolicy::new(token_use);
        policy.pools = pools;
        policy.required_groups = vec!["admins".into()];
        policy.required_scopes = vec!["read".into()];
        let _ = check_claims(
            &parsed.claims,
            Some(&POOL),
            &policy,
            &BTreeSet::new(),
            1_800_000_000,
            30,
        );
    }
});
