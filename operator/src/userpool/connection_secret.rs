//! The connection Secret `<name>-cognito`: what an application needs to use the pool
//! (region, pool id and ARN, issuer, JWKS URI, client ids, and the secrets of clients
//! that have one). Client secrets go here and nowhere else.

use std::collections::BTreeMap;

use cognito_crds::{
    UserPool, UserPoolStatus,
    user_provisioning::CognitoError,
    userpool::{AppClient, ClientStatus},
};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api, Resource, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
};

use super::template;
use crate::{
    error::{Error, Result},
    reconcile::{owned, status::FIELD_MANAGER},
    runtime::context::Context,
};

/// Label put on Secrets the operator writes (and watches).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cognito-operator");

/// Copies a stack's outputs into `status`; false when the stack has no pool yet.
pub fn outputs_into_status(
    status: &mut UserPoolStatus,
    outputs: &BTreeMap<String, String>,
    clients: &[AppClient],
    region: &str,
    aws_endpoint: Option<&str>,
) -> bool {
    let Some(pool_id) = outputs.get(template::OUTPUT_POOL_ID).cloned() else {
        return false;
    };
    let issuer = outputs
        .get(template::OUTPUT_PROVIDER_URL)
        .cloned()
        .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}"));
    // An endpoint override (an emulator) serves the keys itself.
    let jwks_uri = match aws_endpoint {
        Some(endpoint) => format!(
            "{}/{pool_id}/.well-known/jwks.json",
            endpoint.trim_end_matches('/')
        ),
        None => format!("{issuer}/.well-known/jwks.json"),
    };
    status.clients = clients
        .iter()
        .filter_map(|c| {
            Some(ClientStatus {
                name: c.name.clone(),
                client_id: outputs.get(&template::client_output_key(&c.name))?.clone(),
            })
        })
        .collect();
    status.user_pool_arn = outputs.get(template::OUTPUT_POOL_ARN).cloned();
    status.user_pool_id = Some(pool_id);
    status.issuer = Some(issuer);
    status.jwks_uri = Some(jwks_uri);
    true
}

/// What became of the connection Secret.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Written under this name.
    As(String),
    /// A Secret of that name exists and is not this pool's: left untouched.
    NameTaken(String),
}

/// Writes the connection Secret of `pool` from its `status`, unless a Secret of its name
/// exists that the operator did not create for this pool.
pub async fn write(
    ctx: &Context,
    pool: &UserPool,
    status: &UserPoolStatus,
    region: &str,
) -> Result<Written> {
    let name = pool.name_any();
    let namespace = pool
        .namespace()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    let secret_name = format!("{name}-cognito");
    let secrets = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    if let Some(existing) = secrets.get_metadata_opt(&secret_name).await?
        && !owned::is_controlled_by(&existing.metadata, pool)
    {
        return Ok(Written::NameTaken(secret_name));
    }
    let mut data = BTreeMap::from([("region".to_owned(), region.to_owned())]);
    let fields = [
        ("userPoolId", &status.user_pool_id),
        ("userPoolArn", &status.user_pool_arn),
        ("issuer", &status.issuer),
        ("jwksUri", &status.jwks_uri),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            data.insert(key.to_owned(), value.clone());
        }
    }
    let cognito = ctx.aws_clients(region).cognito;
    let clients = template::effective_clients(&pool.spec, &name);
    for (index, client) in status.clients.iter().enumerate() {
        if index == 0 {
            data.insert("clientId".into(), client.client_id.clone());
        }
        data.insert(
            format!("{}.clientId", client.name),
            client.client_id.clone(),
        );
        let has_secret = clients
            .iter()
            .any(|c| c.name == client.name && c.generate_secret);
        if has_secret && let Some(pool_id) = &status.user_pool_id {
            let described = cognito
                .describe_user_pool_client()
                .user_pool_id(pool_id)
                .client_id(&client.client_id)
                .send()
                .await
                .map_err(|e| CognitoError::from_sdk("DescribeUserPoolClient", e))?;
            if let Some(secret) = described.user_pool_client().and_then(|c| c.client_secret()) {
                data.insert(format!("{}.clientSecret", client.name), secret.to_owned());
            }
        }
    }
    let owner = pool
        .controller_owner_ref(&())
        .ok_or(Error::MissingObjectKey("uid"))?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(BTreeMap::from([(
                MANAGED_BY.0.to_owned(),
                MANAGED_BY.1.to_owned(),
            )])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    };
    secrets
        .patch(
            &secret_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(Written::As(secret_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_give_ids_issuer_and_keys() {
        let spec: cognito_crds::UserPoolSpec =
            serde_json::from_value(serde_json::json!({})).expect("a spec");
        let clients = template::effective_clients(&spec, "shop");
        let mut status = UserPoolStatus::default();
        assert!(!outputs_into_status(
            &mut status,
            &BTreeMap::new(),
            &clients,
            "eu-west-1",
            None
        ));

        let outputs = BTreeMap::from([
            (
                template::OUTPUT_POOL_ID.to_owned(),
                "eu-west-1_abc".to_owned(),
            ),
            (
                template::client_output_key(&clients[0].name),
                "client-1".to_owned(),
            ),
        ]);
        assert!(outputs_into_status(
            &mut status,
            &outputs,
            &clients,
            "eu-west-1",
            None
        ));
        assert_eq!(
            status.issuer.as_deref(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc")
        );
        assert_eq!(
            status.jwks_uri.as_deref(),
            Some("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json")
        );
        assert_eq!(status.clients[0].client_id, "client-1");

        outputs_into_status(
            &mut status,
            &outputs,
            &clients,
            "eu-west-1",
            Some("http://127.0.0.1:5000/"),
        );
        assert_eq!(
            status.jwks_uri.as_deref(),
            Some("http://127.0.0.1:5000/eu-west-1_abc/.well-known/jwks.json")
        );
    }
}
