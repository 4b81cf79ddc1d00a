//! Pool discovery: every `UserPool` whose status reports an issuer and client ids is
//! trusted while it exists, without a restart.

use std::{
    collections::BTreeSet,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
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

/// What discovery keeps current.
pub struct PoolDiscovery {
    pub pools: Arc<TrustedPools>,
    /// Follows `pools`, so new pools' keys are fetched.
    pub jwks: Arc<JwksCache>,
    /// Set once the first list of `UserPool` objects is applied.
    pub listed: Arc<AtomicBool>,
}

impl PoolDiscovery {
    /// Runs until the process stops; watch errors are retried with kube's backoff.
    pub async fn watch(self, client: kube::Client, namespace: Option<String>) {
        let api: Api<UserPool> = match &namespace {
            Some(namespace) => Api::namespaced(client, namespace),
            None => Api::all(client),
        };
        let events = watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(events);
        let mut listed = BTreeSet::new();
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
                    self.pools.retain_discovered(&listed);
                    self.jwks.follow(&self.pools);
                    self.listed.store(true, Ordering::Release);
                    tracing::info!(pools = listed.len(), "listed UserPools");
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
        match pool_config(pool) {
            Some(config) => {
                if self.pools.upsert(source, config) {
                    tracing::info!(
                        namespace = pool.namespace(),
                        name = pool.name_any(),
                        "pool trusted"
                    );
                }
                true
            }
            None => {
                self.pools.remove(&source);
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

/// The pool a `UserPool` status describes, once it has an issuer and clients.
pub fn pool_config(pool: &UserPool) -> Option<PoolConfig> {
    let status = pool.status.as_ref()?;
    let issuer = status.issuer.clone().filter(|issuer| !issuer.is_empty())?;
    let client_ids: BTreeSet<String> = status
        .clients
        .iter()
        .map(|client| client.client_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    if client_ids.is_empty() {
        return None;
    }
    Some(PoolConfig {
        issuer,
        jwks_uri: status.jwks_uri.clone().filter(|uri| !uri.is_empty()),
        client_ids,
    })
}
