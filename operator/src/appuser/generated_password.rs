//! Strong passwords for AppUsers with `generatePassword: true`.

/// Symbols Cognito accepts in passwords (a subset that needs no quoting in YAML or shells).
const SYMBOLS: &[u8] = b"!#%*+-=_^";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGITS: &[u8] = b"23456789";

/// Length of a generated password when the pool asks for less.
pub const DEFAULT_LENGTH: usize = 24;

/// A random password of at least `min_length` characters (and at least
/// [`DEFAULT_LENGTH`], at most Cognito's 99) with a lower-case letter, an upper-case
/// letter, a digit and a symbol: it meets any Cognito password policy of that length.
pub fn generate(min_length: usize) -> String {
    let length = min_length.clamp(DEFAULT_LENGTH, 99);
    let classes = [LOWER, UPPER, DIGITS, SYMBOLS];
    let all: Vec<u8> = classes.concat();
    let pick = |set: &[u8]| set[rand::random_range(0..set.len())];
    let mut bytes: Vec<u8> = classes.iter().map(|set| pick(set)).collect();
    bytes.extend((classes.len()..length).map(|_| pick(&all)));
    // Fisher-Yates, so the guaranteed classes are not always in front.
    for i in (1..bytes.len()).rev() {
        bytes.swap(i, rand::random_range(0..=i));
    }
    bytes.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_meet_every_policy_and_differ() {
        for min in [6, 24, 40, 200] {
            let password = generate(min);
            assert_eq!(password.len(), min.clamp(DEFAULT_LENGTH, 99));
            assert!(password.bytes().any(|b| LOWER.contains(&b)));
            assert!(password.bytes().any(|b| UPPER.contains(&b)));
            assert!(password.bytes().any(|b| DIGITS.contains(&b)));
            assert!(password.bytes().any(|b| SYMBOLS.contains(&b)));
        }
        assert_ne!(generate(24), generate(24));
    }
}
