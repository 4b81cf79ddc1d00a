//! Test signing keys and a JWKS endpoint on loopback, for tokens that the emulator
//! cannot make (its key is static): shared by the webhook-api test binaries.

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{Json, Router, extract::State, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use cognito_operator_tests::serve_on_loopback;
use ring::{
    rand::SystemRandom,
    signature::{RSA_PKCS1_SHA256, RsaKeyPair},
};
use serde_json::{Value, json};

/// An RSA key made by `openssl` for this test run.
pub struct TestKey {
    pub kid: String,
    pub pair: RsaKeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let output = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
            ])
            .output()
            .expect("run openssl");
        assert!(output.status.success(), "openssl genpkey failed");
        Self {
            kid: kid.to_owned(),
            pair: RsaKeyPair::from_der(&output.stdout).expect("PKCS#1 RSA key"),
        }
    }

    pub fn jwk(&self) -> Value {
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.pair.public());
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n), "e": URL_SAFE_NO_PAD.encode(public.e),
        })
    }

    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "kid": kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A JWKS endpoint on loopback whose document the test swaps, recording when it is
/// fetched.
#[derive(Clone)]
pub struct JwksStub {
    pub document: Arc<Mutex<Value>>,
    pub fetched_at: Arc<Mutex<Vec<Instant>>>,
}

impl JwksStub {
    pub async fn start(keys: &[&TestKey]) -> (Self, String) {
        let stub = Self {
            document: Arc::new(Mutex::new(Value::Null)),
            fetched_at: Arc::default(),
        };
        stub.serve_keys(keys);
        let router = Router::new()
            .route("/jwks.json", get(Self::jwks))
            .with_state(stub.clone());
        let base = serve_on_loopback(router).await;
        (stub, format!("{base}/jwks.json"))
    }

    async fn jwks(State(stub): State<Self>) -> Json<Value> {
        stub.fetched_at.lock().expect("lock").push(Instant::now());
        Json(stub.document.lock().expect("lock").clone())
    }

    pub fn serve_keys(&self, keys: &[&TestKey]) {
        let keys: Vec<Value> = keys.iter().map(|key| key.jwk()).collect();
        *self.document.lock().expect("lock") = json!({"keys": keys});
    }

    pub fn fetches(&self) -> usize {
        self.fetched_at.lock().expect("lock").len()
    }
}
