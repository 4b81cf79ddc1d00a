//! A Cognito JWT as text: splitting, base64url and JSON decoding of a compact JWS, and
//! the claims the service reads. Nothing here checks a signature or a claim's value.
//!
//! Strictness follows awslabs' aws-jwt-verify: RS256 only, `kid` required, no critical
//! header extensions, `exp` required.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// Longer bearer values are refused before any decoding; Cognito tokens are 1-4 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Id,
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
    /// Cognito writes a JSON boolean; some emulators write the attribute's string.
    #[serde(default, deserialize_with = "flag")]
    pub email_verified: Option<bool>,
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

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A signed-in user, by user name.
    User(&'a str),
    /// An app client on its own (OAuth `client_credentials`), by client id.
    Machine(&'a str),
}

impl TokenClaims {
    /// The one rule for who a token speaks for. Cognito names the user in every token a
    /// user signs in for (`username` in access tokens, `cognito:username` in id tokens);
    /// a `client_credentials` access token names no user and has the client id as
    /// `sub`. A token that fits neither is `None`: nothing Cognito issues, so it must not
    /// pass as either (the `sub` is no user name).
    pub fn caller(&self) -> Option<Caller<'_>> {
        let user_name = match self.token_use {
            TokenUse::Access => self.username.as_deref(),
            TokenUse::Id => self.cognito_username.as_deref(),
        };
        if let Some(name) = user_name.filter(|name| !name.is_empty()) {
            return Some(Caller::User(name));
        }
        match (self.token_use, self.client_id.as_deref()) {
            (TokenUse::Access, Some(client)) if client == self.sub => Some(Caller::Machine(client)),
            _ => None,
        }
    }

    /// The app client the token was issued to: `client_id` of access tokens, the single
    /// `aud` of id tokens.
    pub(crate) fn client(&self) -> Option<&str> {
        match self.token_use {
            TokenUse::Access => self.client_id.as_deref(),
            TokenUse::Id => match &self.aud {
                Some(Audience::One(aud)) => Some(aud),
                // Cognito never issues several audiences; refuse what it would not sign.
                Some(Audience::Many(_)) | None => None,
            },
        }
    }

    /// `email`, only when the token says it is verified: an address a user typed in
    /// (and could change) must not pass as an identity.
    pub fn verified_email(&self) -> Option<&str> {
        self.email
            .as_deref()
            .filter(|_| self.email_verified == Some(true))
    }

    /// The entries of the space-separated `scope`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|scope| !scope.is_empty())
    }

    pub(crate) fn has_scope(&self, wanted: &str) -> bool {
        self.scopes().any(|scope| scope == wanted)
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
    #[error("issuer not accepted on this route")]
    PoolNotAccepted,
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
    #[error("token names neither a user nor a client")]
    NoCaller,
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

/// `true`/`false` or `"true"`/`"false"`; anything else is not a verification.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(value) => Some(value),
        Flag::Text(text) => text.parse().ok(),
        Flag::Other(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The base64url of `sig`.
    const SIGNATURE: &str = "c2ln";

    fn encode(json: Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn token(header: Value, claims: Value, signature: &str) -> String {
        format!("{}.{}.{signature}", encode(header), encode(claims))
    }

    /// The header of a token Cognito would sign.
    fn rs256() -> Value {
        json!({"alg": "RS256", "kid": "k"})
    }

    fn valid_claims_json() -> Value {
        json!({
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
            "sub": "s", "token_use": "access", "exp": 1_800_000_000, "client_id": "client-a"
        })
    }

    /// Parses a token made of these parts; only the verdict matters.
    fn parse(header: Value, claims: Value, signature: &str) -> Result<(), InvalidToken> {
        parse_token(&token(header, claims, signature)).map(|_| ())
    }

    #[test]
    fn parsing_refuses_other_algorithms_missing_kid_and_bad_encoding() {
        assert_eq!(parse(rs256(), valid_claims_json(), SIGNATURE), Ok(()));
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256"] {
            let header = json!({"alg": alg, "kid": "k"});
            assert_eq!(
                parse(header, valid_claims_json(), SIGNATURE),
                Err(InvalidToken::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let without_kid = json!({"alg": "RS256"});
        assert_eq!(
            parse(without_kid, valid_claims_json(), SIGNATURE),
            Err(InvalidToken::MissingKid)
        );
        let critical = json!({"alg": "RS256", "kid": "k", "crit": ["b64"]});
        assert_eq!(
            parse(critical, valid_claims_json(), SIGNATURE),
            Err(InvalidToken::UnsupportedAlgorithm)
        );
        let good = token(rs256(), valid_claims_json(), SIGNATURE);
        for malformed in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{good}="),
            &format!("{good}.x"),
            &good.replacen('.', ".!", 1),
        ] {
            assert!(parse_token(malformed).is_err(), "{malformed}");
        }
        assert_eq!(
            parse(rs256(), valid_claims_json(), ""),
            Err(InvalidToken::BadSignature)
        );
        let mut without_exp = valid_claims_json();
        without_exp.as_object_mut().map(|o| o.remove("exp"));
        assert_eq!(
            parse(rs256(), without_exp, SIGNATURE),
            Err(InvalidToken::Malformed)
        );
        assert_eq!(
            parse_token(&"a".repeat(MAX_TOKEN_BYTES + 1)).map(|_| ()),
            Err(InvalidToken::Malformed)
        );
    }

    #[test]
    fn the_signed_part_is_header_and_payload() {
        let text = token(rs256(), valid_claims_json(), SIGNATURE);
        let parsed = parse_token(&text).expect("parses");
        assert_eq!(
            parsed.signed,
            text.rsplit_once('.').expect("dots").0.as_bytes()
        );
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(parsed.kid, "k");
    }

    fn claims_of(json: Value) -> TokenClaims {
        serde_json::from_value(json).expect("claims")
    }

    #[test]
    fn a_user_is_named_by_its_token_and_a_machine_by_its_client() {
        let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x";
        // What Cognito's client_credentials grant signs: no user, sub = client_id.
        let machine = json!({
            "iss": issuer, "sub": "client-a", "client_id": "client-a", "token_use": "access",
            "scope": "orders/read orders/write", "version": 2, "exp": 1_800_000_000
        });
        assert_eq!(
            claims_of(machine.clone()).caller(),
            Some(Caller::Machine("client-a"))
        );
        let mut user = machine.clone();
        user["sub"] = json!("9f1c-user");
        user["username"] = json!("alice");
        assert_eq!(
            claims_of(user.clone()).caller(),
            Some(Caller::User("alice"))
        );
        let id = json!({
            "iss": issuer, "sub": "9f1c-user", "aud": "client-a", "token_use": "id",
            "cognito:username": "alice", "exp": 1_800_000_000
        });
        assert_eq!(claims_of(id.clone()).caller(), Some(Caller::User("alice")));

        // Neither: no user name and a sub that is not the client, a user name in the
        // other token kind's claim, an empty name, an id token without a user.
        let mut stray_sub = machine.clone();
        stray_sub["sub"] = json!("9f1c-user");
        let mut id_name_in_access = stray_sub.clone();
        id_name_in_access["cognito:username"] = json!("alice");
        let mut empty_name = stray_sub.clone();
        empty_name["username"] = json!("");
        let mut id_without_user = id;
        id_without_user
            .as_object_mut()
            .map(|o| o.remove("cognito:username"));
        id_without_user["sub"] = json!("client-a");
        for neither in [stray_sub, id_name_in_access, empty_name, id_without_user] {
            assert_eq!(claims_of(neither.clone()).caller(), None, "{neither}");
        }
    }

    #[test]
    fn scopes_are_whole_space_separated_entries() {
        let mut claims = valid_claims_json();
        claims["scope"] = json!("orders/read  orders/write");
        let claims = claims_of(claims);
        assert_eq!(
            claims.scopes().collect::<Vec<_>>(),
            ["orders/read", "orders/write"]
        );
        assert!(claims.has_scope("orders/write"));
        assert!(!claims.has_scope("orders"));
        assert!(!claims.has_scope(""));
        assert_eq!(claims_of(valid_claims_json()).scopes().count(), 0);
    }

    #[test]
    fn email_is_an_identity_only_when_verified() {
        let with = |verified: Value| {
            let mut claims = valid_claims_json();
            claims["email"] = json!("ceo@corp.example");
            claims["email_verified"] = verified;
            serde_json::from_value::<TokenClaims>(claims).expect("claims")
        };
        assert_eq!(with(json!(true)).verified_email(), Some("ceo@corp.example"));
        assert_eq!(
            with(json!("true")).verified_email(),
            Some("ceo@corp.example")
        );
        for unverified in [
            json!(false),
            json!("false"),
            json!("yes"),
            json!(1),
            Value::Null,
        ] {
            assert_eq!(
                with(unverified.clone()).verified_email(),
                None,
                "{unverified}"
            );
        }
    }
}
