//! Pool discovery in the namespaces an admin allowed: a `UserPool` whose status reports
//! a valid Cognito issuer and client ids is trusted while it exists, without a restart.
//!
//! A `UserPool`'s status is writable by whoever may patch it in its namespace, so it is
//! untrusted input: the issuer must be the Cognito issuer of `status.userPoolId`, and the
//! JWKS location is derived from it (or, only when an admin named an emulator, from that
//! emulator's endpoint); `status.jwksUri` is never read.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use cognito_crds::UserPool;
use futures::StreamExt;
use kube::{
    Api, ResourceExt,
    runtime::{WatchStreamExt, watcher},
};

use crate::{
    jwks::JwksCache,
    pools::{PoolConfig, PoolSource, TrustedPools},
};

/// Where discovered pools' keys come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeySource {
    /// `{issuer}/.well-known/jwks.json`: real Cognito.
    #[default]
    Issuer,
    /// `{endpoint}/{poolId}/.well-known/jwks.json`: an emulator an admin named.
    Emulator(String),
}

/// What discovery keeps current.
pub struct PoolDiscovery {
    pub pools: Arc<TrustedPools>,
    /// Follows `pools`, so new pools' keys are fetched.
    pub jwks: Arc<JwksCache>,
    pub keys: KeySource,
    /// Watches that have not applied their first list yet.
    pub unlisted: Arc<AtomicUsize>,
}

impl PoolDiscovery {
    /// Watches `namespace` (every namespace when `None`) until the process stops; watch
    /// errors are retried with kube's backoff.
    pub async fn watch(self, client: kube::Client, namespace: Option<String>) {
        let api: Api<UserPool> = match &namespace {
            Some(namespace) => Api::namespaced(client, namespace),
            None => Api::all(client),
        };
        let events = watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(events);
        let mut listed = BTreeSet::new();
        let mut counted = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => listed.clear(),
                Ok(watcher::Event::InitApply(pool)) => {
                    let source = source_of(&pool);
                    if self.apply(source.clone(), &pool) {
                        listed.insert(source);
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    // Pools deleted while the watch was down disappear here.
                    self.pools.retain_discovered(namespace.as_deref(), &listed);
                    self.jwks.follow(&self.pools);
                    if !counted {
                        counted = true;
                        self.unlisted.fetch_sub(1, Ordering::AcqRel);
                    }
                    tracing::info!(namespace, pools = listed.len(), "listed UserPools");
                }
                Ok(watcher::Event::Apply(pool)) => {
                    self.apply(source_of(&pool), &pool);
                    self.jwks.follow(&self.pools);
                }
                Ok(watcher::Event::Delete(pool)) => {
                    if self.pools.remove(&source_of(&pool)) {
                        tracing::info!(
                            namespace = pool.namespace(),
                            name = pool.name_any(),
                            "pool no longer trusted"
                        );
                        self.jwks.follow(&self.pools);
                    }
                }
                Err(error) => tracing::warn!(%error, "UserPool watch failed; retrying"),
            }
        }
    }

    /// Trusts (or stops trusting) one object's pool; returns whether it is trusted now.
    fn apply(&self, source: PoolSource, pool: &UserPool) -> bool {
        let (namespace, name) = (pool.namespace(), pool.name_any());
        match pool_config(pool, &self.keys) {
            Ok(Some(config)) => {
                if self.pools.upsert(source, config) {
                    tracing::info!(namespace, name, "pool trusted");
                }
                true
            }
            Ok(None) => {
                self.pools.remove(&source);
                false
            }
            Err(problem) => {
                if self.pools.remove(&source) {
                    tracing::info!(namespace, name, "pool no longer trusted");
                }
                tracing::warn!(namespace, name, %problem, "UserPool status refused");
                false
            }
        }
    }
}

fn source_of(pool: &UserPool) -> PoolSource {
    PoolSource::UserPool {
        namespace: pool.namespace().unwrap_or_default(),
        name: pool.name_any(),
    }
}

/// Why a `UserPool` status does not describe a pool that can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusProblem {
    #[error("status.userPoolId is not a Cognito pool id (<region>_<id>)")]
    PoolId,
    #[error("status.issuer is not the Cognito issuer of status.userPoolId")]
    Issuer,
}

/// The pool a `UserPool` status describes: `None` until it has an issuer and clients.
pub fn pool_config(pool: &UserPool, keys: &KeySource) -> Result<Option<PoolConfig>, StatusProblem> {
    let Some(status) = pool.status.as_ref() else {
        return Ok(None);
    };
    let Some(issuer) = status.issuer.as_deref().filter(|i| !i.is_empty()) else {
        return Ok(None);
    };
    let client_ids: BTreeSet<String> = status
        .clients
        .iter()
        .map(|client| client.client_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    if client_ids.is_empty() {
        return Ok(None);
    }
    let pool_id = status.user_pool_id.as_deref().unwrap_or_default();
    let region = pool_region(pool_id).ok_or(StatusProblem::PoolId)?;
    if issuer != format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}") {
        return Err(StatusProblem::Issuer);
    }
    let jwks_uri = match keys {
        KeySource::Issuer => None,
        KeySource::Emulator(endpoint) => Some(format!(
            "{}/{pool_id}/.well-known/jwks.json",
            endpoint.trim_end_matches('/')
        )),
    };
    Ok(Some(PoolConfig {
        name: None,
        issuer: issuer.to_owned(),
        jwks_uri,
        client_ids,
    }))
}

/// The region of a Cognito pool id `<region>_<id>` (`eu-west-1_AbCdEf123`), if it is
/// one: the region is lower-case letters, digits and dashes, the id letters and digits.
fn pool_region(pool_id: &str) -> Option<&str> {
    let (region, id) = pool_id.split_once('_')?;
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
    (region_ok && id_ok).then_some(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL_ID: &str = "us-east-1_Abc123";
    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123";

    fn with_status(pool_id: &str, issuer: &str, jwks_uri: &str) -> UserPool {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "UserPool",
            "metadata": {"name": "p", "namespace": "team"},
            "spec": {},
            "status": {
                "userPoolId": pool_id,
                "issuer": issuer,
                "jwksUri": jwks_uri,
                "clients": [{"name": "app", "clientId": "client-a"}],
            },
        }))
        .expect("a UserPool")
    }

    #[test]
    fn keys_come_from_the_issuer_never_from_status() {
        let pool = with_status(POOL_ID, ISSUER, "https://attacker.example/jwks.json");
        let config = pool_config(&pool, &KeySource::Issuer)
            .expect("valid")
            .expect("complete");
        assert_eq!(config.issuer, ISSUER);
        assert_eq!(config.jwks_uri, None, "derived from the issuer");
        let emulated = pool_config(&pool, &KeySource::Emulator("http://127.0.0.1:5055/".into()))
            .expect("valid")
            .expect("complete");
        assert_eq!(
            emulated.jwks_uri.as_deref(),
            Some("http://127.0.0.1:5055/us-east-1_Abc123/.well-known/jwks.json")
        );
    }

    #[test]
    fn issuer_must_be_the_cognito_issuer_of_the_pool_id() {
        for (pool_id, issuer, problem) in [
            (
                POOL_ID,
                "http://127.0.0.1:9/us-east-1_Abc123",
                StatusProblem::Issuer,
            ),
            (
                POOL_ID,
                "https://cognito-idp.eu-west-1.amazonaws.com/us-east-1_Abc123",
                StatusProblem::Issuer,
            ),
            (
                POOL_ID,
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other",
                StatusProblem::Issuer,
            ),
            (
                POOL_ID,
                "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc123",
                StatusProblem::Issuer,
            ),
            ("us-east-1_x/../y", ISSUER, StatusProblem::PoolId),
            ("Abc123", ISSUER, StatusProblem::PoolId),
            ("", ISSUER, StatusProblem::PoolId),
        ] {
            let pool = with_status(pool_id, issuer, "");
            assert_eq!(
                pool_config(&pool, &KeySource::Issuer),
                Err(problem),
                "{pool_id} {issuer}"
            );
        }
    }

    #[test]
    fn an_incomplete_status_is_not_trusted_yet() {
        let mut pool = with_status(POOL_ID, "", "");
        assert_eq!(pool_config(&pool, &KeySource::Issuer), Ok(None));
        pool.status = None;
        assert_eq!(pool_config(&pool, &KeySource::Issuer), Ok(None));
    }
}
