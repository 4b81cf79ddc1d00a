//! Cognito's SRP-6a (`USER_SRP_AUTH`), pure: the client's ephemeral key A, the shared
//! key derived from the server's challenge, and the `PASSWORD_VERIFIER` answer. The
//! password stays on this machine; only A and a signature derived from it are sent.
//!
//! This follows amazon-cognito-identity-js's `AuthenticationHelper` and `CognitoUser`
//! exactly (the only specification Cognito has); `tests/srp_reference.rs` runs that
//! library on the same inputs and compares every intermediate value.

use std::sync::LazyLock;

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig, general_purpose::STANDARD},
};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use num_bigint::BigUint;
use sha2::{Digest, Sha256};

/// The 3072-bit prime N of RFC 5054 (appendix A), in hex; the generator is 2.
pub const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879",
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B",
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836",
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804",
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6",
    "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64",
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226",
    "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// Length of the random secret a (the reference uses 128 bytes).
pub const SECRET_BYTES: usize = 128;

static N: LazyLock<BigUint> = LazyLock::new(|| {
    BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("the RFC 5054 prime is valid hex")
});
static G: LazyLock<BigUint> = LazyLock::new(|| BigUint::from(2u8));
/// k = H(N | g), the SRP-6a multiplier.
static K: LazyLock<BigUint> = LazyLock::new(|| hash_to_int(&[&padded(&N), &padded(&G)]));

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SrpError {
    #[error("the user pool id {0:?} is not of the form <region>_<id>")]
    PoolId(String),
    #[error("Cognito's challenge has a malformed {0}")]
    Malformed(&'static str),
    #[error("Cognito's challenge is unsafe: {0} is zero modulo N")]
    Unsafe(&'static str),
}

/// The client's ephemeral key pair: the secret a and the public A = g^a mod N.
pub struct Ephemeral {
    secret: BigUint,
    public: BigUint,
}

// a is the secret behind the whole exchange: keep it out of `{:?}`.
impl std::fmt::Debug for Ephemeral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ephemeral")
            .field("public", &self.public_hex())
            .finish_non_exhaustive()
    }
}

impl Ephemeral {
    /// A fresh key pair from the thread's CSPRNG.
    pub fn random() -> Self {
        loop {
            let mut secret = [0u8; SECRET_BYTES];
            rand::fill(&mut secret);
            // A = 0 mod N only for a = 0 mod (N-1): astronomically unlikely, but the
            // protocol forbids it, so draw again rather than send it.
            if let Some(ephemeral) = Self::from_secret(&secret) {
                return ephemeral;
            }
        }
    }

    /// The key pair for a given secret (big-endian); `None` when A would be zero.
    /// Deterministic, for known-answer tests against the reference implementation.
    pub fn from_secret(secret: &[u8]) -> Option<Self> {
        let secret = BigUint::from_bytes_be(secret);
        let public = G.modpow(&secret, &N);
        (public != BigUint::ZERO).then_some(Self { secret, public })
    }

    /// A as Cognito's `SRP_A` parameter: lower-case hex without leading zeros.
    pub fn public_hex(&self) -> String {
        self.public.to_str_radix(16)
    }

    /// u = H(A | B), the scrambling parameter.
    pub fn scrambler(&self, server_public: &BigUint) -> BigUint {
        hash_to_int(&[&padded(&self.public), &padded(server_public)])
    }

    /// The 16-byte key both sides derive: HKDF-SHA256 over the shared secret
    /// S = (B - k g^x)^(a + u x) mod N, salted with u, info "Caldera Derived Key".
    pub fn authentication_key(
        &self,
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        challenge: &Challenge,
    ) -> Result<[u8; 16], SrpError> {
        let server_public = &challenge.server_public;
        if (server_public % &*N) == BigUint::ZERO {
            return Err(SrpError::Unsafe("SRP_B"));
        }
        let u = self.scrambler(server_public);
        if u == BigUint::ZERO {
            return Err(SrpError::Unsafe("u"));
        }
        let identity = Sha256::digest(format!("{pool_name}{user_id_for_srp}:{password}"));
        let x = hash_to_int(&[&padded(&challenge.salt), &identity]);
        // B - k g^x can be negative; the reference's modPow reduces it into [0, N) first.
        let k_g_x = (&*K * G.modpow(&x, &N)) % &*N;
        let base = (server_public % &*N + &*N - k_g_x) % &*N;
        let shared = base.modpow(&(&self.secret + &u * &x), &N);

        let mut key = [0u8; 16];
        Hkdf::<Sha256>::new(Some(&padded(&u)), &padded(&shared))
            .expand(b"Caldera Derived Key", &mut key)
            .expect("16 bytes is far below HKDF-SHA256's output limit");
        Ok(key)
    }
}

/// The parts of Cognito's `PASSWORD_VERIFIER` challenge the maths needs.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub salt: BigUint,
    pub server_public: BigUint,
    pub secret_block: Vec<u8>,
}

impl Challenge {
    /// Parses `SALT` and `SRP_B` (hex) and `SECRET_BLOCK` (base64).
    pub fn parse(salt: &str, srp_b: &str, secret_block: &str) -> Result<Self, SrpError> {
        Ok(Self {
            salt: parse_hex(salt).ok_or(SrpError::Malformed("SALT"))?,
            server_public: parse_hex(srp_b).ok_or(SrpError::Malformed("SRP_B"))?,
            secret_block: decode_secret_block(secret_block)
                .ok_or(SrpError::Malformed("SECRET_BLOCK"))?,
        })
    }
}

/// The `PASSWORD_VERIFIER` answer, apart from the echoed secret block and user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordClaim {
    /// `PASSWORD_CLAIM_SIGNATURE`.
    pub signature: String,
    /// `TIMESTAMP`, the signed time.
    pub timestamp: String,
}

/// Answers a `PASSWORD_VERIFIER` challenge for `user_id_for_srp` (the challenge's
/// `USER_ID_FOR_SRP`) at `unix_seconds`.
pub fn password_claim(
    user_pool_id: &str,
    ephemeral: &Ephemeral,
    challenge: &Challenge,
    user_id_for_srp: &str,
    password: &str,
    unix_seconds: u64,
) -> Result<PasswordClaim, SrpError> {
    let pool_name = pool_name(user_pool_id)?;
    let key = ephemeral.authentication_key(pool_name, user_id_for_srp, password, challenge)?;
    let timestamp = timestamp(unix_seconds);
    Ok(PasswordClaim {
        signature: claim_signature(
            &key,
            pool_name,
            user_id_for_srp,
            &challenge.secret_block,
            &timestamp,
        ),
        timestamp,
    })
}

/// The pool id without its region prefix: `us-east-1_AbC` -> `AbC`.
pub fn pool_name(user_pool_id: &str) -> Result<&str, SrpError> {
    match user_pool_id.split_once('_') {
        Some((region, name)) if !region.is_empty() && !name.is_empty() => Ok(name),
        _ => Err(SrpError::PoolId(user_pool_id.to_owned())),
    }
}

/// base64(HMAC-SHA256(key, pool name | user id | secret block | timestamp)).
pub fn claim_signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(pool_name.as_bytes());
    mac.update(user_id_for_srp.as_bytes());
    mac.update(secret_block);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Cognito's `TIMESTAMP` format, Java's "EEE MMM d HH:mm:ss 'UTC' yyyy" in English and
/// UTC: `Tue Nov 14 22:13:20 UTC 2023` (the day is not zero-padded).
pub fn timestamp(unix_seconds: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds / 86_400;
    let second_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{} {} {day} {:02}:{:02}:{:02} UTC {year}",
        // 1970-01-01 was a Thursday.
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    )
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01, by Howard Hinnant's
/// `civil_from_days` (proleptic Gregorian calendar).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// The reference's `padHex`: big-endian bytes without leading zeros, plus a zero byte
/// when the top bit is set (Java's signed `BigInteger.toByteArray`, which Cognito uses).
fn padded(value: &BigUint) -> Vec<u8> {
    let bytes = value.to_bytes_be();
    if bytes[0] & 0x80 != 0 {
        [&[0u8][..], &bytes].concat()
    } else {
        bytes
    }
}

fn hash_to_int(parts: &[&[u8]]) -> BigUint {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    BigUint::from_bytes_be(&hasher.finalize())
}

fn parse_hex(text: &str) -> Option<BigUint> {
    if text.is_empty() {
        return None;
    }
    BigUint::parse_bytes(text.as_bytes(), 16)
}

/// Cognito sends standard base64. The reference decodes with Node's `Buffer`, which also
/// takes the URL-safe alphabet, missing padding and stray trailing bits, and emulators
/// rely on that (moto sends a UUID): accept the same, to sign the bytes the reference would.
fn decode_secret_block(text: &str) -> Option<Vec<u8>> {
    let lenient = GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true);
    [alphabet::STANDARD, alphabet::URL_SAFE]
        .iter()
        .find_map(|alphabet| GeneralPurpose::new(alphabet, lenient).decode(text).ok())
        .filter(|block| !block.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_use_cognitos_format() {
        assert_eq!(timestamp(0), "Thu Jan 1 00:00:00 UTC 1970");
        assert_eq!(timestamp(1_700_000_000), "Tue Nov 14 22:13:20 UTC 2023");
        // Leap day, single-digit day, end of a day.
        assert_eq!(timestamp(1_709_251_199), "Thu Feb 29 23:59:59 UTC 2024");
        assert_eq!(timestamp(951_782_400), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(timestamp(4_102_444_800), "Fri Jan 1 00:00:00 UTC 2100");
    }

    #[test]
    fn padding_adds_a_zero_byte_only_for_a_set_top_bit() {
        assert_eq!(padded(&BigUint::from(0x7fu8)), vec![0x7f]);
        assert_eq!(padded(&BigUint::from(0x80u8)), vec![0x00, 0x80]);
        assert_eq!(padded(&BigUint::from(0x0100u16)), vec![0x01, 0x00]);
        assert_eq!(padded(&BigUint::ZERO), vec![0x00]);
    }

    #[test]
    fn multiplier_matches_the_reference() {
        // k for the 3072-bit group, as amazon-cognito-identity-js computes it.
        assert_eq!(
            K.to_str_radix(16),
            "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6"
        );
    }

    #[test]
    fn pool_names_drop_the_region() {
        assert_eq!(pool_name("us-east-1_AbC123"), Ok("AbC123"));
        assert!(pool_name("us-east-1").is_err());
        assert!(pool_name("_AbC").is_err());
        assert!(pool_name("us-east-1_").is_err());
    }

    #[test]
    fn challenges_are_validated() {
        assert!(Challenge::parse("abc", "def", "c2VjcmV0").is_ok());
        assert_eq!(
            Challenge::parse("xyz", "def", "c2VjcmV0").unwrap_err(),
            SrpError::Malformed("SALT")
        );
        assert_eq!(
            Challenge::parse("abc", "", "c2VjcmV0").unwrap_err(),
            SrpError::Malformed("SRP_B")
        );
        assert_eq!(
            Challenge::parse("abc", "def", "!!").unwrap_err(),
            SrpError::Malformed("SECRET_BLOCK")
        );
        // moto's secret block is a UUID: URL-safe characters, as Node's Buffer reads them.
        let uuid = Challenge::parse("abc", "def", "0f8fad5b-d9cb-469f-a165-70867728950e")
            .expect("URL-safe alphabet");
        assert_eq!(uuid.secret_block.len(), 27);
    }

    #[test]
    fn a_zero_server_key_is_refused() {
        let ephemeral = Ephemeral::from_secret(&[7]).expect("nonzero A");
        let challenge = Challenge {
            salt: BigUint::from(1u8),
            server_public: N.clone(),
            secret_block: vec![1],
        };
        assert_eq!(
            ephemeral.authentication_key("pool", "user", "pw", &challenge),
            Err(SrpError::Unsafe("SRP_B"))
        );
    }

    #[test]
    fn both_sides_derive_the_same_key() {
        // Play the server with a verifier v = g^x, B = k v + g^b, S = (A v^u)^b, and
        // check that the client's key matches: the algebra, independent of the reference.
        let (pool, user, password) = ("AbC", "user-id", "Correct-Horse-9");
        let salt = BigUint::from(0x1234_5678_9abc_u64);
        let identity = Sha256::digest(format!("{pool}{user}:{password}"));
        let x = hash_to_int(&[&padded(&salt), &identity]);
        let verifier = G.modpow(&x, &N);
        let b = BigUint::from_bytes_be(&[0x5a; 64]);
        let server_public = (&*K * &verifier + G.modpow(&b, &N)) % &*N;
        let client = Ephemeral::from_secret(&[0xa5; SECRET_BYTES]).expect("nonzero A");
        let u = client.scrambler(&server_public);
        let server_shared = (&client.public * verifier.modpow(&u, &N)).modpow(&b, &N);
        let mut server_key = [0u8; 16];
        Hkdf::<Sha256>::new(Some(&padded(&u)), &padded(&server_shared))
            .expand(b"Caldera Derived Key", &mut server_key)
            .expect("16 bytes");
        let challenge = Challenge {
            salt,
            server_public,
            secret_block: vec![1, 2, 3],
        };
        assert_eq!(
            client.authentication_key(pool, user, password, &challenge),
            Ok(server_key)
        );
        assert_ne!(
            client.authentication_key(pool, user, "wrong", &challenge),
            Ok(server_key)
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let ephemeral = Ephemeral::from_secret(&[0x42; 4]).expect("nonzero A");
        let text = format!("{ephemeral:?}");
        assert!(!text.contains("secret"), "{text}");
    }
}
