//! RS256 checks for RSA-2048 keys with exponent 65537 (Cognito's keys), computed with
//! AVX-512 IFMA (52-bit multiply-accumulate) where the CPU has it.
//!
//! Written by hand because no crate does this: aws-lc, OpenSSL and ring use IFMA only
//! for private-key operations, and run the public one (s^65537 mod n) on 64-bit scalar
//! Montgomery code, which takes twice as long here (`benches/verify.rs`). A public-key
//! check handles public data only, so nothing here needs to run in constant time.
//!
//! Numbers are 40 limbs of 52 bits, least significant first (2,080 bits, room for
//! 2n); products are Montgomery products with R = 2^2080 (almost Montgomery
//! multiplication: results stay below 2n, reduced once at the end).
#![cfg(target_arch = "x86_64")]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use std::arch::x86_64::{
    __m512i, _mm_extract_epi64, _mm512_alignr_epi64, _mm512_castsi512_si128, _mm512_loadu_si512,
    _mm512_madd52hi_epu64, _mm512_madd52lo_epu64, _mm512_set1_epi64, _mm512_setzero_si512,
    _mm512_storeu_si512,
};

use aws_lc_rs::digest;

/// Bytes of a 2048-bit modulus and of a signature under it.
pub const MODULUS_BYTES: usize = 256;
const LIMBS: usize = 40;
const LIMB_BITS: usize = 52;
const MASK: u64 = (1 << LIMB_BITS) - 1;
/// Eight limbs per 512-bit register.
const REGISTERS: usize = LIMBS / 8;
/// The only public exponent this path takes (AQAB); others go to aws-lc.
const EXPONENT: [u8; 3] = [1, 0, 1];
/// DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

type Limbs = [u64; LIMBS];

/// An RSA-2048 public key with e = 65537, with its Montgomery constants.
#[derive(Debug)]
pub struct PublicKey {
    modulus: Limbs,
    modulus_bytes: [u8; MODULUS_BYTES],
    /// -n^-1 mod 2^52.
    k0: u64,
    /// R^2 mod n: multiplying by it brings a number into Montgomery form.
    r_squared: Limbs,
}

impl PublicKey {
    /// The key, if it is one this path takes (2048-bit modulus, e = 65537) and the CPU
    /// has AVX-512 IFMA; `None` leaves the check to aws-lc.
    pub fn new(modulus: &[u8], exponent: &[u8]) -> Option<Self> {
        if !cpu_has_ifma() {
            return None;
        }
        Self::for_ifma(modulus, exponent)
    }

    fn for_ifma(modulus: &[u8], exponent: &[u8]) -> Option<Self> {
        let modulus = strip_leading_zeros(modulus);
        if strip_leading_zeros(exponent) != EXPONENT
            || modulus.len() != MODULUS_BYTES
            || modulus[0] & 0x80 == 0
            || modulus[MODULUS_BYTES - 1] & 1 == 0
        {
            return None;
        }
        let modulus_bytes: [u8; MODULUS_BYTES] = modulus.try_into().ok()?;
        let words = words_of(&modulus_bytes);
        Some(Self {
            modulus: limbs_of_words(&words),
            modulus_bytes,
            k0: negated_inverse(words[0]),
            r_squared: limbs_of_words(&r_squared_words(&words)),
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017, 8.2.2): `signature` is exactly 256
    /// bytes, below n, and its 65537th power mod n is the encoding of `signed`'s digest.
    pub fn verify(&self, signed: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; MODULUS_BYTES]>::try_from(signature) else {
            return false;
        };
        if signature >= &self.modulus_bytes {
            return false;
        }
        let message = limbs_of_words(&words_of(signature));
        // SAFETY: a `PublicKey` is only built by `new`, after checking that the CPU has
        // the features `power_65537` is compiled for (tests build it with
        // `for_ifma` only on such CPUs).
        let power = unsafe { power_65537(&message, self) };
        power == limbs_of_words(&words_of(&encoded_digest(signed)))
    }
}

/// The 256-byte EMSA-PKCS1-v1_5 encoding of SHA-256(`signed`):
/// 00 01 FF..FF 00 DigestInfo digest.
fn encoded_digest(signed: &[u8]) -> [u8; MODULUS_BYTES] {
    let digest = digest::digest(&digest::SHA256, signed);
    let mut encoded = [0xff; MODULUS_BYTES];
    encoded[0] = 0;
    encoded[1] = 1;
    let info_at = MODULUS_BYTES - SHA256_DIGEST_INFO.len() - digest.as_ref().len();
    encoded[info_at - 1] = 0;
    encoded[info_at..info_at + SHA256_DIGEST_INFO.len()].copy_from_slice(&SHA256_DIGEST_INFO);
    encoded[info_at + SHA256_DIGEST_INFO.len()..].copy_from_slice(digest.as_ref());
    encoded
}

/// Whether this CPU runs the code here (`power_65537` is compiled for these features).
fn cpu_has_ifma() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512ifma")
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A big-endian 256-byte number as 64-bit words, least significant first.
fn words_of(bytes: &[u8; MODULUS_BYTES]) -> [u64; 32] {
    let mut words = [0u64; 32];
    for (word, chunk) in words.iter_mut().zip(bytes.rchunks_exact(8)) {
        *word = u64::from_be_bytes(chunk.try_into().unwrap_or_default());
    }
    words
}

/// 64-bit words (least significant first) as 52-bit limbs.
fn limbs_of_words(words: &[u64; 32]) -> Limbs {
    let word = |i: usize| words.get(i).copied().unwrap_or(0);
    std::array::from_fn(|limb| {
        let bit = limb * LIMB_BITS;
        let (index, offset) = (bit / 64, bit % 64);
        let low = word(index) >> offset;
        let high = if offset > 64 - LIMB_BITS {
            word(index + 1) << (64 - offset)
        } else {
            0
        };
        (low | high) & MASK
    })
}

/// -n0^-1 mod 2^52 (n0 odd), by Newton's iteration: each step doubles the correct bits.
fn negated_inverse(n0: u64) -> u64 {
    let mut inverse: u64 = 1;
    for _ in 0..6 {
        inverse = inverse.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inverse)));
    }
    inverse.wrapping_neg() & MASK
}

/// 2^(2 * 2080) mod n, by doubling 1 and reducing, once per key.
fn r_squared_words(modulus: &[u64; 32]) -> [u64; 32] {
    let mut value = [0u64; 32];
    value[0] = 1;
    for _ in 0..2 * LIMBS * LIMB_BITS {
        let overflow = value[31] >> 63;
        for i in (1..32).rev() {
            value[i] = (value[i] << 1) | (value[i - 1] >> 63);
        }
        value[0] <<= 1;
        // value < n before doubling, so 2 * value - n < n: one subtraction reduces it.
        if overflow == 1 || !less_than(&value, modulus) {
            let mut borrow = false;
            for (v, n) in value.iter_mut().zip(modulus) {
                let (difference, b1) = v.overflowing_sub(*n);
                let (difference, b2) = difference.overflowing_sub(u64::from(borrow));
                *v = difference;
                borrow = b1 || b2;
            }
        }
    }
    value
}

/// a < b for numbers of equal length, least significant word or limb first.
fn less_than(a: &[u64], b: &[u64]) -> bool {
    a.iter().rev().cmp(b.iter().rev()) == std::cmp::Ordering::Less
}

/// s^65537 mod n, fully reduced: s into Montgomery form, 16 squarings, one product,
/// and back out.
#[target_feature(enable = "avx512f,avx512ifma")]
fn power_65537(s: &Limbs, key: &PublicKey) -> Limbs {
    let s_montgomery = montgomery_product(s, &key.r_squared, key);
    let mut power = s_montgomery;
    for _ in 0..16 {
        power = montgomery_product(&power, &power, key);
    }
    power = montgomery_product(&power, &s_montgomery, key);
    let mut one = [0u64; LIMBS];
    one[0] = 1;
    let mut power = montgomery_product(&power, &one, key);
    // Out of Montgomery form the product is at most n; n itself stands for 0.
    if !less_than(&power, &key.modulus) {
        let mut borrow = 0u64;
        for (p, n) in power.iter_mut().zip(&key.modulus) {
            let difference = p.wrapping_sub(*n).wrapping_sub(borrow);
            *p = difference & MASK;
            borrow = difference >> 63;
        }
    }
    power
}

/// a * b / R mod n, below 2n for a and b below 2n (word-serial almost Montgomery
/// multiplication, eight limbs per register). Limbs of the accumulator grow past 52 bits
/// between rows (at most 160 * 2^52 < 2^64) and are carried once at the end; only the
/// lowest limb's carry moves each row, as the row shifts it out.
///
/// The lowest limb, which each row's y depends on, is kept on scalar registers (from
/// the second limb, read a row ahead), so the next y does not wait for the vector unit.
/// High halves belong one limb up: a's are added before the row's shift against a
/// copy of a one limb up (a sixth register holds its top limb), n's after it in place.
#[target_feature(enable = "avx512f,avx512ifma")]
fn montgomery_product(a: &Limbs, b: &Limbs, key: &PublicKey) -> Limbs {
    let mut a_up = [0u64; LIMBS + 8];
    a_up[1..=LIMBS].copy_from_slice(a);
    let load = |limbs: &[u64], r: usize| {
        // SAFETY: `r` < limbs.len() / 8, so the load reads 8 limbs within the slice.
        unsafe { _mm512_loadu_si512(limbs[8 * r..8 * r + 8].as_ptr().cast()) }
    };
    let a_rows: [__m512i; REGISTERS] = std::array::from_fn(|r| load(a, r));
    let a_up_rows: [__m512i; REGISTERS + 1] = std::array::from_fn(|r| load(&a_up, r));
    let n_rows: [__m512i; REGISTERS] = std::array::from_fn(|r| load(&key.modulus, r));
    let zero = _mm512_setzero_si512();
    let mut acc = [zero; REGISTERS];
    let a0 = u128::from(a[0]);
    let (n0, n1) = (u128::from(key.modulus[0]), u128::from(key.modulus[1]));
    let mut lowest = 0u64;
    for &b_i in b {
        let b_all = _mm512_set1_epi64(b_i as i64);
        for r in 0..REGISTERS {
            acc[r] = _mm512_madd52lo_epu64(acc[r], a_rows[r], b_all);
            acc[r] = _mm512_madd52hi_epu64(acc[r], a_up_rows[r], b_all);
        }
        let top = _mm512_madd52hi_epu64(zero, a_up_rows[REGISTERS], b_all);
        // The second limb with a1 * b_i's low half and a0 * b_i's high half: the next
        // row's lowest, but for n's part.
        let second = _mm_extract_epi64::<1>(_mm512_castsi512_si128(acc[0])) as u64;
        let low0 = lowest + ((a0 * u128::from(b_i)) as u64 & MASK);
        let y = low0.wrapping_mul(key.k0) & MASK;
        let (ny0, ny1) = (n0 * u128::from(y), n1 * u128::from(y));
        // low0 + low half of n0 * y is a multiple of 2^52.
        let carry = (low0 + (ny0 as u64 & MASK)) >> LIMB_BITS;
        lowest = second + (ny1 as u64 & MASK) + carry + (ny0 >> LIMB_BITS) as u64;
        let y_all = _mm512_set1_epi64(y as i64);
        for r in 0..REGISTERS {
            acc[r] = _mm512_madd52lo_epu64(acc[r], n_rows[r], y_all);
        }
        // Shift one limb down (the lowest goes: `lowest` has the next one).
        for r in 0..REGISTERS - 1 {
            acc[r] = _mm512_alignr_epi64(acc[r + 1], acc[r], 1);
        }
        acc[REGISTERS - 1] = _mm512_alignr_epi64(top, acc[REGISTERS - 1], 1);
        for r in 0..REGISTERS {
            acc[r] = _mm512_madd52hi_epu64(acc[r], n_rows[r], y_all);
        }
    }
    let mut product = [0u64; LIMBS];
    for (r, row) in acc.iter().enumerate() {
        // SAFETY: each store writes 8 of the 40 limbs, within the array.
        unsafe { _mm512_storeu_si512(product[8 * r..8 * r + 8].as_mut_ptr().cast(), *row) };
    }
    // The vector's lowest limb lacks the carries, which only `lowest` has.
    product[0] = lowest;
    let mut carry = 0u64;
    for limb in &mut product {
        let sum = *limb + carry;
        *limb = sum & MASK;
        carry = sum >> LIMB_BITS;
    }
    product
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::{encoding::AsDer, rsa::KeySize};
    use num_bigint::BigUint;
    use ring::{rand::SystemRandom, signature::RsaKeyPair};

    use super::*;

    /// A fresh RSA-2048 key pair and its key for this path, on CPUs that run it.
    fn ifma_key() -> Option<(RsaKeyPair, Vec<u8>, PublicKey)> {
        if !cpu_has_ifma() {
            eprintln!("no AVX-512 IFMA on this CPU: the path is never taken here");
            return None;
        }
        let pair = generate(KeySize::Rsa2048);
        let (n, e) = components(&pair);
        let key = PublicKey::new(&n, &e).expect("key");
        Some((pair, n, key))
    }

    /// A fresh key pair (aws-lc generates it, ring signs: ring cannot generate RSA
    /// keys, aws-lc-rs without its ring-io feature does not hand out n and e).
    fn generate(size: KeySize) -> RsaKeyPair {
        let generated = aws_lc_rs::rsa::KeyPair::generate(size).expect("generate");
        RsaKeyPair::from_pkcs8(generated.as_der().expect("PKCS#8").as_ref()).expect("ring")
    }

    fn components(pair: &RsaKeyPair) -> (Vec<u8>, Vec<u8>) {
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        (public.n, public.e)
    }

    fn sign(pair: &RsaKeyPair, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            message,
            &mut signature,
        )
        .expect("sign");
        signature
    }

    fn number(limbs: &Limbs) -> BigUint {
        limbs
            .iter()
            .rev()
            .fold(BigUint::default(), |sum, limb| (sum << LIMB_BITS) + limb)
    }

    #[test]
    fn takes_only_2048_bit_keys_with_exponent_65537() {
        let pair = generate(KeySize::Rsa2048);
        let (n, e) = components(&pair);
        assert!(PublicKey::for_ifma(&n, &e).is_some());
        let mut padded = vec![0];
        padded.extend_from_slice(&n);
        assert!(PublicKey::for_ifma(&padded, &e).is_some(), "leading zero");
        assert!(PublicKey::for_ifma(&n, &[3]).is_none(), "e = 3");
        assert!(PublicKey::for_ifma(&n[1..], &e).is_none(), "2040 bits");
        let bigger = generate(KeySize::Rsa3072);
        assert!(PublicKey::for_ifma(&components(&bigger).0, &e).is_none());
        let mut even = n.clone();
        even[MODULUS_BYTES - 1] &= 0xfe;
        assert!(PublicKey::for_ifma(&even, &e).is_none(), "even modulus");
    }

    #[test]
    fn constants_are_those_of_the_modulus() {
        let pair = generate(KeySize::Rsa2048);
        let (n, e) = components(&pair);
        let key = PublicKey::for_ifma(&n, &e).expect("key");
        let modulus = BigUint::from_bytes_be(&n);
        assert_eq!(number(&key.modulus), modulus);
        let r = BigUint::from(1u8) << (LIMBS * LIMB_BITS);
        assert_eq!(number(&key.r_squared), (&r * &r) % &modulus);
        assert_eq!(
            key.modulus[0].wrapping_mul(key.k0) & MASK,
            MASK,
            "n0 * k0 = -1 mod 2^52"
        );
    }

    #[test]
    fn powers_match_a_reference_big_number_library() {
        let Some((_, n, key)) = ifma_key() else {
            return;
        };
        let modulus = BigUint::from_bytes_be(&n);
        let exponent = BigUint::from(65537u32);
        let mut bytes = [0u8; MODULUS_BYTES];
        // Random bases, and the edges: 0, 1, n - 1, and bases with all limbs full.
        let mut bases: Vec<BigUint> = (0..500)
            .map(|_| {
                aws_lc_rs::rand::fill(&mut bytes).expect("random");
                BigUint::from_bytes_be(&bytes) % &modulus
            })
            .collect();
        bases.extend([
            BigUint::default(),
            BigUint::from(1u8),
            &modulus - 1u8,
            &modulus - 2u8,
            (BigUint::from(1u8) << 2040) - 1u8,
        ]);
        for base in bases {
            let limbs = limbs_of_words(&std::array::from_fn(|i| {
                base.to_u64_digits().get(i).copied().unwrap_or(0)
            }));
            // SAFETY: the CPU has the features (checked above).
            let power = unsafe { power_65537(&limbs, &key) };
            assert_eq!(
                number(&power),
                base.modpow(&exponent, &modulus),
                "base {base}"
            );
        }
    }

    #[test]
    fn verifies_what_aws_lc_signs_and_nothing_else() {
        let Some((pair, n, key)) = ifma_key() else {
            return;
        };
        for message in [&b""[..], b"header.payload", &[7u8; 1500]] {
            let signature = sign(&pair, message);
            assert!(key.verify(message, &signature));
            let mut other = message.to_vec();
            other.push(b'.');
            assert!(!key.verify(&other, &signature), "another message");
            for byte in [0, 1, 128, MODULUS_BYTES - 1] {
                let mut flipped = signature.clone();
                flipped[byte] ^= 0x01;
                assert!(!key.verify(message, &flipped), "bit flipped in byte {byte}");
            }
            assert!(!key.verify(message, &signature[1..]), "short signature");
            let mut long = vec![0];
            long.extend_from_slice(&signature);
            assert!(!key.verify(message, &long), "signature with a leading zero");
            // s + n has the same power mod n, but is not below n.
            let lifted =
                (BigUint::from_bytes_be(&signature) + BigUint::from_bytes_be(&n)).to_bytes_be();
            assert!(!key.verify(message, &lifted));
        }
        let other = generate(KeySize::Rsa2048);
        assert!(!key.verify(b"header.payload", &sign(&other, b"header.payload")));
        assert!(!key.verify(b"header.payload", &[0; MODULUS_BYTES]));
        assert!(!key.verify(b"header.payload", &[]));
    }
}
