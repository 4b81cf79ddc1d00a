//! The SRP maths against the reference: amazon-cognito-identity-js (pinned by
//! `client/srp-reference/package-lock.json`, installed by
//! `tests/env/install-srp-reference.sh`) runs its own `USER_SRP_AUTH` flow on the same
//! secret a, salt, B, secret block, credentials and clock, and every intermediate value
//! must match. moto does not check the password claim, so this is what proves it right.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use cognito_client::srp::{self, Challenge, Ephemeral, N_HEX, SECRET_BYTES};
use num_bigint::BigUint;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the client crate lives inside the repository")
        .to_path_buf()
}

/// Installs (or reuses) the reference's packages; returns their node_modules folder.
fn reference_modules() -> String {
    let output = Command::new("bash")
        .arg(repo_root().join("tests/env/install-srp-reference.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/env/install-srp-reference.sh");
    assert!(
        output.status.success(),
        "installing the SRP reference failed"
    );
    String::from_utf8(output.stdout)
        .expect("a UTF-8 path")
        .lines()
        .last()
        .expect("the install script prints the node_modules path")
        .to_owned()
}

/// Runs the reference on `vectors`; one result object per vector.
fn reference(vectors: &Value) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(repo_root().join("client/srp-reference/reference.js"))
        .env("NODE_PATH", reference_modules())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(vectors.to_string().as_bytes())
        .expect("write the vectors");
    let output = child.wait_with_output().expect("wait for node");
    assert!(output.status.success(), "the reference failed");
    serde_json::from_slice(&output.stdout).expect("the reference prints a JSON array")
}

/// Deterministic bytes, so failures reproduce: SHA-256 in counter mode over a label.
fn bytes(label: &str, len: usize) -> Vec<u8> {
    (0u32..)
        .flat_map(|counter| Sha256::digest(format!("{label}/{counter}")))
        .take(len)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Vector {
    pool_id: &'static str,
    username: &'static str,
    user_id_for_srp: String,
    password: &'static str,
    secret: Vec<u8>,
    salt: String,
    srp_b: String,
    secret_block: String,
    unix_seconds: u64,
}

fn vectors() -> Vec<Vector> {
    // A B above N, which must be reduced like the reference does.
    let n_plus_five =
        (BigUint::parse_bytes(N_HEX.as_bytes(), 16).expect("hex") + 5u8).to_str_radix(16);
    (0..6)
        .map(|i| {
            let label = format!("vector-{i}");
            Vector {
                pool_id: ["us-east-1_AbCdEfGhI", "eu-west-1_x1Y2z3"][i % 2],
                username: "alice@example.com",
                user_id_for_srp: format!("{}-{i}", "3c8d8f1e-5b7a-4a4e-9a55-2d5c7b1f0e9a"),
                password: ["Correct-Horse-Battery-9", "pässwörd ✓ with spaces "][i % 2],
                secret: bytes(&format!("{label}/a"), SECRET_BYTES),
                // Cognito's salts are 128-bit hex; include a leading zero digit and a set top bit.
                salt: match i {
                    0 => "0a3f".to_owned() + &hex(&bytes(&format!("{label}/salt"), 14)),
                    1 => "f".to_owned() + &hex(&bytes(&format!("{label}/salt"), 15))[1..],
                    _ => hex(&bytes(&format!("{label}/salt"), 16)),
                },
                srp_b: match i {
                    // moto's B: a UUID's 32 hex digits.
                    2 => "5f0c0e2f8d2b4b1a9f6f7c3e8a1d2b4c".to_owned(),
                    3 => n_plus_five.clone(),
                    _ => hex(&bytes(&format!("{label}/B"), 384)),
                },
                secret_block: match i {
                    // moto's secret block: a UUID, which only Node's lenient base64 reads.
                    2 => "0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
                    _ => STANDARD.encode(bytes(&format!("{label}/block"), 1024 + i)),
                },
                // Single-digit days and hours, a leap day, a year boundary.
                unix_seconds: [
                    1_700_000_000,
                    1_704_067_199,
                    1_709_164_805,
                    1_725_580_800,
                    946_684_800,
                    1_767_225_599,
                ][i],
            }
        })
        .collect()
}

#[test]
fn srp_matches_amazon_cognito_identity_js() {
    let vectors = vectors();
    let input: Vec<Value> = vectors
        .iter()
        .map(|v| {
            json!({
                "poolId": v.pool_id,
                "clientId": "client",
                "username": v.username,
                "userIdForSrp": v.user_id_for_srp,
                "password": v.password,
                "smallA": hex(&v.secret),
                "salt": v.salt,
                "srpB": v.srp_b,
                "secretBlock": v.secret_block,
                "unixMillis": v.unix_seconds * 1000,
            })
        })
        .collect();
    let expected = reference(&Value::from(input));
    assert_eq!(expected.len(), vectors.len());

    for (i, (v, expected)) in vectors.iter().zip(&expected).enumerate() {
        let ephemeral = Ephemeral::from_secret(&v.secret).expect("nonzero A");
        let challenge = Challenge::parse(&v.salt, &v.srp_b, &v.secret_block).expect("parses");
        let pool_name = srp::pool_name(v.pool_id).expect("pool id");
        let key = ephemeral
            .authentication_key(pool_name, &v.user_id_for_srp, v.password, &challenge)
            .expect("key");
        let claim = srp::password_claim(
            v.pool_id,
            &ephemeral,
            &challenge,
            &v.user_id_for_srp,
            v.password,
            v.unix_seconds,
        )
        .expect("claim");
        let field = |name: &str| expected[name].as_str().unwrap_or_default().to_owned();
        assert_eq!(ephemeral.public_hex(), field("srpA"), "A, vector {i}");
        assert_eq!(
            ephemeral
                .scrambler(&challenge.server_public)
                .to_str_radix(16),
            field("u"),
            "u, vector {i}"
        );
        assert_eq!(hex(&key), field("hkdf"), "HKDF key, vector {i}");
        assert_eq!(claim.timestamp, field("timestamp"), "timestamp, vector {i}");
        assert_eq!(claim.signature, field("signature"), "signature, vector {i}");
        // The reference answers as USER_ID_FOR_SRP, not as the name typed in.
        assert_eq!(field("username"), v.user_id_for_srp, "USERNAME, vector {i}");
    }
}
