//! The connection Secret `<name>-cognito`: what an application needs to use the pool
//! (region, pool id and ARN, issuer, JWKS URI, client ids, and the secrets of clients
//! that have one). Client secrets go here and nowhere else.

use std::{collections::BTreeMap, time::Duration};

use cognito_crds::{
    ROTATE_CLIENT_SECRETS_ANNOTATION, UserPool, UserPoolStatus,
    user_provisioning::{CognitoError, CognitoErrorKind},
    userpool::{AppClient, ClientStatus, Domain},
};
use k8s_openapi::{ByteString, api::core::v1::Secret, jiff::Timestamp};
use kube::{
    Api, Resource, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
};

use super::{
    client_secrets::{self, CognitoSecret, Policy, Published, PublishedPair, Step},
    oauth, template,
};
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
    domain: Option<&Domain>,
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
    // An endpoint override (an emulator) serves the keys and discovery itself.
    let well_known = match aws_endpoint {
        Some(endpoint) => format!("{}/{pool_id}/.well-known", endpoint.trim_end_matches('/')),
        None => format!("{issuer}/.well-known"),
    };
    status.jwks_uri = Some(format!("{well_known}/jwks.json"));
    status.open_id_configuration_url = Some(format!("{well_known}/openid-configuration"));
    status.oauth_endpoints = domain.map(|domain| {
        oauth::endpoints(
            domain,
            region,
            aws_endpoint,
            outputs.get(oauth::OUTPUT_CLOUD_FRONT).cloned(),
        )
    });
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

/// Something a client-secret rotation did or could not do, for an Event. Never holds a
/// secret's value; ids only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationNote {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The connection Secret's fate, what rotations did, and when rotations need the
/// operator again.
#[derive(Debug)]
pub struct Outcome {
    pub written: Written,
    pub notes: Vec<RotationNote>,
    pub wake_in: Option<Duration>,
}

/// Writes the connection Secret of `pool` from its `status`, unless a Secret of its name
/// exists that the operator did not create for this pool; takes client-secret rotations
/// one step further on the way ([`client_secrets`]).
pub async fn write(
    ctx: &Context,
    pool: &UserPool,
    status: &UserPoolStatus,
    region: &str,
) -> Result<Outcome> {
    let name = pool.name_any();
    let namespace = pool
        .namespace()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    let secret_name = format!("{name}-cognito");
    let secrets = Api::<Secret>::namespaced(ctx.client.clone(), &namespace);
    let existing = secrets.get_opt(&secret_name).await?;
    if let Some(existing) = &existing
        && !owned::is_controlled_by(&existing.metadata, pool)
    {
        return Ok(Outcome {
            written: Written::NameTaken(secret_name),
            notes: Vec::new(),
            wake_in: None,
        });
    }
    let published_before = existing.and_then(|s| s.data).unwrap_or_default();
    let mut data = BTreeMap::from([("region".to_owned(), region.to_owned())]);
    let endpoints = status.oauth_endpoints.as_ref();
    let fields = [
        ("userPoolId", status.user_pool_id.as_ref()),
        ("userPoolArn", status.user_pool_arn.as_ref()),
        ("issuer", status.issuer.as_ref()),
        ("jwksUri", status.jwks_uri.as_ref()),
        (
            "openIdConfigurationUrl",
            status.open_id_configuration_url.as_ref(),
        ),
        ("oauthBaseUrl", endpoints.map(|e| &e.base_url)),
        ("authorizeUrl", endpoints.map(|e| &e.authorize_url)),
        ("tokenUrl", endpoints.map(|e| &e.token_url)),
        ("userInfoUrl", endpoints.map(|e| &e.user_info_url)),
        ("logoutUrl", endpoints.map(|e| &e.logout_url)),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            data.insert(key.to_owned(), value.clone());
        }
    }
    let now = Timestamp::now();
    let mut notes = Vec::new();
    let annotation = pool.annotations().get(ROTATE_CLIENT_SECRETS_ANNOTATION);
    let requested_before = client_secrets::requested_before(annotation.map(String::as_str), now)
        .unwrap_or_else(|message| {
            notes.push(RotationNote {
                warning: true,
                reason: "RotationRequestRefused",
                message,
            });
            None
        });
    let rotation = Rotation {
        cognito: ctx.aws_clients(region).cognito,
        published_before: &published_before,
        requested_before,
        now: now.as_millisecond(),
    };
    let clients = template::effective_clients(&pool.spec, &name);
    let mut retirements = Vec::new();
    let mut wake_in: Option<i64> = None;
    for (index, client) in status.clients.iter().enumerate() {
        if index == 0 {
            data.insert("clientId".into(), client.client_id.clone());
        }
        data.insert(
            format!("{}.clientId", client.name),
            client.client_id.clone(),
        );
        let with_secret = clients
            .iter()
            .find(|c| c.name == client.name && c.generate_secret);
        if let (Some(spec), Some(pool_id)) = (with_secret, &status.user_pool_id) {
            let settled = rotation.settle(pool_id, &client.client_id, spec).await?;
            data.extend(settled.entries);
            notes.extend(settled.note);
            retirements.extend(settled.delete_after_write);
            wake_in = match (wake_in, settled.wake_in) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
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
    // Only now that no consumer is offered these secrets any more may they go.
    for retirement in retirements {
        rotation.delete(&retirement).await?;
        notes.push(retirement.note);
    }
    Ok(Outcome {
        written: Written::As(secret_name),
        notes,
        wake_in: wake_in.map(|ms| Duration::from_millis(ms.unsigned_abs())),
    })
}

/// A Cognito secret to delete once the connection Secret no longer publishes it.
struct Retirement {
    pool_id: String,
    client_id: String,
    secret_id: String,
    note: RotationNote,
}

/// One client's part of the connection Secret after a rotation step.
struct Settled {
    entries: BTreeMap<String, String>,
    note: Option<RotationNote>,
    delete_after_write: Option<Retirement>,
    wake_in: Option<i64>,
}

/// What the rotation steps of one write share.
struct Rotation<'a> {
    cognito: aws_sdk_cognitoidentityprovider::Client,
    published_before: &'a BTreeMap<String, ByteString>,
    requested_before: Option<i64>,
    now: i64,
}

impl Rotation<'_> {
    /// Reads a client's secrets, decides its next step, and takes the part of it that
    /// comes before the connection Secret is written.
    async fn settle(&self, pool_id: &str, client_id: &str, client: &AppClient) -> Result<Settled> {
        let keys = client_secrets::Keys::of(&client.name);
        let read = |id_key: &str, value_key: &str| {
            let text = |key: &str| {
                let bytes = self.published_before.get(key)?;
                String::from_utf8(bytes.0.clone()).ok()
            };
            Some(Published {
                id: text(id_key)?,
                value: text(value_key)?,
            })
        };
        let published = PublishedPair {
            current: read(&keys.current_id, &keys.current),
            previous: read(&keys.previous_id, &keys.previous),
        };
        let listed = self
            .cognito
            .list_user_pool_client_secrets()
            .user_pool_id(pool_id)
            .client_id(client_id)
            .send()
            .await
            .map_err(|e| CognitoError::from_sdk("ListUserPoolClientSecrets", e))?;
        let in_cognito: Vec<CognitoSecret> = listed
            .client_secrets()
            .iter()
            .filter_map(|s| {
                Some(CognitoSecret {
                    id: s.client_secret_id()?.to_owned(),
                    created: s.client_secret_create_date()?.to_millis().ok()?,
                })
            })
            .collect();
        let policy = Policy::of(client);
        let step = client_secrets::next_step(
            &in_cognito,
            &published,
            &policy,
            self.requested_before,
            self.now,
        );
        let name = &client.name;
        let mut settled = Settled {
            entries: BTreeMap::new(),
            note: None,
            delete_after_write: None,
            // A step that changed something is looked at again at once.
            wake_in: Some(0),
        };
        let mut publish = published;
        match step {
            Step::Keep => {
                settled.wake_in = client_secrets::wake_in(&in_cognito, &publish, &policy, self.now);
            }
            Step::Adopt { id } => {
                let described = self
                    .cognito
                    .describe_user_pool_client()
                    .user_pool_id(pool_id)
                    .client_id(client_id)
                    .send()
                    .await
                    .map_err(|e| CognitoError::from_sdk("DescribeUserPoolClient", e))?;
                publish = PublishedPair {
                    current: described
                        .user_pool_client()
                        .and_then(|c| c.client_secret())
                        .map(|value| Published {
                            id,
                            value: value.to_owned(),
                        }),
                    previous: None,
                };
            }
            Step::Rotate { why } => {
                let added = self
                    .cognito
                    .add_user_pool_client_secret()
                    .user_pool_id(pool_id)
                    .client_id(client_id)
                    .send()
                    .await
                    .map_err(|e| CognitoError::from_sdk("AddUserPoolClientSecret", e))?;
                let descriptor = added.client_secret_descriptor();
                let (Some(id), Some(value)) = (
                    descriptor.and_then(|d| d.client_secret_id()),
                    descriptor.and_then(|d| d.client_secret_value()),
                ) else {
                    // Unpublished, the new secret is deleted by the next step.
                    return Err(CognitoError::new(
                        "AddUserPoolClientSecret",
                        CognitoErrorKind::Other {
                            code: "IncompleteAnswer".into(),
                            message: "no id or value of the new secret".into(),
                        },
                    )
                    .into());
                };
                publish.previous = publish.current.take();
                publish.current = Some(Published {
                    id: id.to_owned(),
                    value: value.to_owned(),
                });
                settled.note = Some(RotationNote {
                    warning: false,
                    reason: "ClientSecretRotated",
                    message: format!(
                        "client {name}: added secret {id} ({why}); it is {}, and the previous secret stays valid as {} for {} minutes",
                        keys.current, keys.previous, policy.grace_period_minutes
                    ),
                });
            }
            Step::Retire { id } => {
                publish.previous = None;
                settled.delete_after_write = Some(Retirement {
                    pool_id: pool_id.to_owned(),
                    client_id: client_id.to_owned(),
                    note: RotationNote {
                        warning: false,
                        reason: "ClientSecretRetired",
                        message: format!(
                            "client {name}: deleted the previous secret {id} after the grace period"
                        ),
                    },
                    secret_id: id,
                });
            }
            Step::DeleteUnpublished { id } => {
                settled.delete_after_write = Some(Retirement {
                    pool_id: pool_id.to_owned(),
                    client_id: client_id.to_owned(),
                    note: RotationNote {
                        warning: false,
                        reason: "ClientSecretCleanedUp",
                        message: format!(
                            "client {name}: deleted secret {id}, which no consumer was given (a rotation was interrupted)"
                        ),
                    },
                    secret_id: id,
                });
            }
            Step::Unattributed => {
                settled.wake_in = None;
                settled.note = Some(RotationNote {
                    warning: true,
                    reason: "ClientSecretsUnattributed",
                    message: format!(
                        "client {name} has two secrets and the connection Secret publishes neither of them, so the operator cannot tell which one consumers use; delete the one not in use with DeleteUserPoolClientSecret"
                    ),
                });
                // Whatever was published stays, untouched.
                for key in [
                    &keys.current,
                    &keys.current_id,
                    &keys.previous,
                    &keys.previous_id,
                ] {
                    if let Some(value) = self
                        .published_before
                        .get(key)
                        .and_then(|v| String::from_utf8(v.0.clone()).ok())
                    {
                        settled.entries.insert(key.clone(), value);
                    }
                }
                return Ok(settled);
            }
        }
        for (published, id_key, value_key) in [
            (publish.current, keys.current_id, keys.current),
            (publish.previous, keys.previous_id, keys.previous),
        ] {
            if let Some(published) = published {
                settled.entries.insert(id_key, published.id);
                settled.entries.insert(value_key, published.value);
            }
        }
        Ok(settled)
    }

    async fn delete(&self, retirement: &Retirement) -> Result<()> {
        self.cognito
            .delete_user_pool_client_secret()
            .user_pool_id(&retirement.pool_id)
            .client_id(&retirement.client_id)
            .client_secret_id(&retirement.secret_id)
            .send()
            .await
            .map_err(|e| CognitoError::from_sdk("DeleteUserPoolClientSecret", e))?;
        Ok(())
    }
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
            None,
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
            None,
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
            None,
            "eu-west-1",
            Some("http://127.0.0.1:5000/"),
        );
        assert_eq!(
            status.jwks_uri.as_deref(),
            Some("http://127.0.0.1:5000/eu-west-1_abc/.well-known/jwks.json")
        );
    }
}
