//! The password Secret of an AppUser: read only to hand the password to Cognito, or
//! written once with a generated password. Only the Secret's `resourceVersion` is ever
//! recorded, as the password's version.

use cognito_crds::{AppUser, appuser::SecretKeyRef};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Resource, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::generated_password;
use crate::{
    error::{Error, Result},
    reconcile::{owned, status::FIELD_MANAGER},
};

/// The password Secret as far as one reconcile needs it.
pub enum PasswordSource {
    Found {
        password: String,
        version: String,
    },
    /// Why there is no usable password.
    Missing(String),
}

/// Reads the password at `reference` in `namespace`.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    reference: &SecretKeyRef,
) -> Result<PasswordSource> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&reference.name)
        .await?;
    let Some(secret) = secret else {
        return Ok(PasswordSource::Missing(format!(
            "Secret {} does not exist",
            reference.name
        )));
    };
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .map(|v| v.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(&reference.key))
                .map(|v| v.clone().into_bytes())
        });
    let missing = |why: String| Ok(PasswordSource::Missing(why));
    match value.map(String::from_utf8) {
        Some(Ok(password)) if !password.is_empty() => Ok(PasswordSource::Found {
            password,
            version: secret.resource_version().unwrap_or_default(),
        }),
        Some(Ok(_)) => missing(format!(
            "key {} of Secret {} is empty",
            reference.key, reference.name
        )),
        Some(Err(_)) => missing(format!(
            "key {} of Secret {} is not UTF-8 text",
            reference.key, reference.name
        )),
        None => missing(format!(
            "Secret {} has no key {}",
            reference.name, reference.key
        )),
    }
}

/// Writes a generated password of at least `min_length` characters into `user`'s
/// Secret: a new Secret owned by the AppUser, or one more key in a Secret the operator
/// created for this AppUser earlier. Any other existing Secret is left alone (the
/// operator would otherwise write into whatever Secret a tenant names).
pub async fn generate(
    client: &kube::Client,
    user: &AppUser,
    namespace: &str,
    min_length: usize,
) -> Result<PasswordSource> {
    let reference = &user.spec.password_secret_ref;
    let password = generated_password::generate(min_length);
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    let data = std::collections::BTreeMap::from([(
        reference.key.clone(),
        ByteString(password.clone().into_bytes()),
    )]);
    let secret = match api.get_opt(&reference.name).await? {
        None => {
            let owner = user
                .controller_owner_ref(&())
                .ok_or(Error::MissingObjectKey("uid"))?;
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(reference.name.clone()),
                    owner_references: Some(vec![owner]),
                    ..Default::default()
                },
                data: Some(data),
                ..Secret::default()
            };
            api.create(&PostParams::default(), &secret).await?
        }
        Some(existing) if owned::is_controlled_by(&existing.metadata, user) => {
            let patch = json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": { "name": reference.name },
                "data": data,
            });
            api.patch(
                &reference.name,
                &PatchParams::apply(FIELD_MANAGER),
                &Patch::Apply(&patch),
            )
            .await?
        }
        Some(_) => {
            return Ok(PasswordSource::Missing(format!(
                "Secret {} has no key {} and was not created by the operator for this AppUser: generatePassword writes only into a Secret it creates; name a Secret that does not exist, or put the password in key {}",
                reference.name, reference.key, reference.key
            )));
        }
    };
    Ok(PasswordSource::Found {
        password,
        version: secret.resource_version().unwrap_or_default(),
    })
}
