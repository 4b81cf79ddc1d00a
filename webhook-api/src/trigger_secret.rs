//! `TriggerSecret`: the shared secret Cognito's trigger Lambdas send to `POST /triggers`,
//! compared in constant time.

use subtle::ConstantTimeEq;

/// The expected secret, kept as a digest so the comparison takes the same time
/// whatever the length or content of what a caller sends.
pub struct TriggerSecret(ring::digest::Digest);

impl TriggerSecret {
    pub fn new(secret: &str) -> Self {
        Self(digest(secret.as_bytes()))
    }

    pub fn matches(&self, offered: &[u8]) -> bool {
        self.0.as_ref().ct_eq(digest(offered).as_ref()).into()
    }
}

fn digest(bytes: &[u8]) -> ring::digest::Digest {
    ring::digest::digest(&ring::digest::SHA256, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comparison_is_exact() {
        let secret = TriggerSecret::new("s3cret");
        assert!(secret.matches(b"s3cret"));
        assert!(!secret.matches(b"s3cre"));
        assert!(!secret.matches(b"s3cret "));
        assert!(!secret.matches(b""));
    }
}
