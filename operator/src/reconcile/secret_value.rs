//! Reading one key of a tenant's Secret: an AppUser's password, a pool's trigger sink
//! secret. Only the Secret's `resourceVersion` is ever recorded, as the value's version.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};

use crate::error::Result;

/// One key of a Secret, as far as one reconcile needs it.
pub enum SecretValue {
    Found {
        value: String,
        version: String,
    },
    /// Why there is no usable value.
    Missing(String),
}

/// Reads `key` of the Secret `name` in `namespace`.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<SecretValue> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?;
    let Some(secret) = secret else {
        return Ok(SecretValue::Missing(format!(
            "Secret {name} does not exist"
        )));
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| v.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|v| v.clone().into_bytes())
        });
    let missing = |why: String| Ok(SecretValue::Missing(why));
    match value.map(String::from_utf8) {
        Some(Ok(value)) if !value.is_empty() => Ok(SecretValue::Found {
            value,
            version: secret.resource_version().unwrap_or_default(),
        }),
        Some(Ok(_)) => missing(format!("key {key} of Secret {name} is empty")),
        Some(Err(_)) => missing(format!("key {key} of Secret {name} is not UTF-8 text")),
        None => missing(format!("Secret {name} has no key {key}")),
    }
}
