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
    reconcile::{owned, secret_value, status::FIELD_MANAGER},
};

/// The password Secret as far as one reconcile needs it.
pub use crate::reconcile::secret_value::SecretValue as PasswordSource;

/// Reads the password at `reference` in `namespace`.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    reference: &SecretKeyRef,
) -> Result<PasswordSource> {
    secret_value::read(client, namespace, &reference.name, &reference.key).await
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
        value: password,
        version: secret.resource_version().unwrap_or_default(),
    })
}
