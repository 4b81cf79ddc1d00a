//! The set of trusted pools: issuers (in both Cognito forms), their JWKS locations and
//! allowed app clients. Filled from the configuration and, when discovery is on, from
//! `UserPool` objects, both as [`PoolConfig`]; readers take a cheap snapshot.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, RwLock},
};

use serde::Deserialize;

/// One trusted pool, as the configuration or a `UserPool` status names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolConfig {
    /// `https://cognito-idp.{region}.amazonaws.com/{poolId}`; the
    /// `https://issuer-cognito-idp...` form of the same pool is trusted as well.
    pub issuer: String,
    /// Where to fetch the keys when not at `{issuer}/.well-known/jwks.json` (emulators).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// App clients whose tokens are accepted (`client_id` of access tokens, `aud` of id
    /// tokens).
    pub client_ids: BTreeSet<String>,
}

/// Where a trusted pool came from, so a discovered pool can be removed again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PoolSource {
    Config(usize),
    UserPool { namespace: String, name: String },
}

/// One trusted pool after merging every source that names the same issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPool {
    /// The issuer as configured; keys are cached under it.
    pub issuer: String,
    pub jwks_uri: String,
    pub client_ids: BTreeSet<String>,
}

/// Issuer string (every accepted form) -> pool.
pub type PoolIndex = HashMap<String, Arc<TrustedPool>>;

#[derive(Default)]
pub struct TrustedPools {
    sources: RwLock<BTreeMap<PoolSource, PoolConfig>>,
    index: RwLock<Arc<PoolIndex>>,
}

impl TrustedPools {
    pub fn from_config(pools: &[PoolConfig]) -> Self {
        let trusted = Self::default();
        for (position, pool) in pools.iter().enumerate() {
            trusted.upsert(PoolSource::Config(position), pool.clone());
        }
        trusted
    }

    /// The current issuer index.
    pub fn snapshot(&self) -> Arc<PoolIndex> {
        Arc::clone(
            &self
                .index
                .read()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    /// Distinct pools, one per configured issuer.
    pub fn pools(&self) -> Vec<Arc<TrustedPool>> {
        let mut by_issuer: BTreeMap<String, Arc<TrustedPool>> = BTreeMap::new();
        for pool in self.snapshot().values() {
            by_issuer.insert(pool.issuer.clone(), Arc::clone(pool));
        }
        by_issuer.into_values().collect()
    }

    /// Adds or replaces the pool named by `source`; returns whether anything changed.
    pub fn upsert(&self, source: PoolSource, pool: PoolConfig) -> bool {
        let mut sources = self.sources.write().unwrap_or_else(|p| p.into_inner());
        if sources.get(&source) == Some(&pool) {
            return false;
        }
        sources.insert(source, pool);
        self.rebuild(&sources);
        true
    }

    /// Removes the pool named by `source`; returns whether it was there.
    pub fn remove(&self, source: &PoolSource) -> bool {
        let mut sources = self.sources.write().unwrap_or_else(|p| p.into_inner());
        let removed = sources.remove(source).is_some();
        if removed {
            self.rebuild(&sources);
        }
        removed
    }

    /// Removes every discovered pool not in `keep` (after a watch restart).
    pub fn retain_discovered(&self, keep: &BTreeSet<PoolSource>) {
        let mut sources = self.sources.write().unwrap_or_else(|p| p.into_inner());
        let before = sources.len();
        sources
            .retain(|source, _| matches!(source, PoolSource::Config(_)) || keep.contains(source));
        if sources.len() != before {
            self.rebuild(&sources);
        }
    }

    fn rebuild(&self, sources: &BTreeMap<PoolSource, PoolConfig>) {
        let mut merged: BTreeMap<String, TrustedPool> = BTreeMap::new();
        for config in sources.values() {
            let issuer = config.issuer.trim_end_matches('/').to_owned();
            let entry = merged.entry(issuer.clone()).or_insert_with(|| TrustedPool {
                jwks_uri: config
                    .jwks_uri
                    .clone()
                    .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                issuer: issuer.clone(),
                client_ids: BTreeSet::new(),
            });
            entry.client_ids.extend(config.client_ids.iter().cloned());
        }
        let mut index = PoolIndex::new();
        for pool in merged.into_values() {
            let pool = Arc::new(pool);
            for form in issuer_forms(&pool.issuer) {
                index.insert(form, Arc::clone(&pool));
            }
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
    }
}

/// Every issuer string that names the same Cognito pool: Cognito signs with
/// `https://cognito-idp.{region}.amazonaws.com/{pool}`, and newer pools may use
/// `https://issuer-cognito-idp.{region}.amazonaws.com/{pool}`. Other issuers match
/// exactly.
pub fn issuer_forms(issuer: &str) -> Vec<String> {
    const CLASSIC: &str = "https://cognito-idp.";
    const NEWER: &str = "https://issuer-cognito-idp.";
    if let Some(rest) = issuer.strip_prefix(CLASSIC) {
        vec![issuer.to_owned(), format!("{NEWER}{rest}")]
    } else if let Some(rest) = issuer.strip_prefix(NEWER) {
        vec![format!("{CLASSIC}{rest}"), issuer.to_owned()]
    } else {
        vec![issuer.to_owned()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(issuer: &str, clients: &[&str]) -> PoolConfig {
        PoolConfig {
            issuer: issuer.to_owned(),
            jwks_uri: None,
            client_ids: clients.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn both_cognito_issuer_forms_name_one_pool() {
        let trusted = TrustedPools::from_config(&[pool(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
            &["c"],
        )]);
        let index = trusted.snapshot();
        let classic = &index["https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x"];
        let newer = &index["https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_x"];
        assert!(Arc::ptr_eq(classic, newer));
        assert_eq!(
            classic.jwks_uri,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x/.well-known/jwks.json"
        );
        assert_eq!(index.len(), 2);
        assert_eq!(trusted.pools().len(), 1);
    }

    #[test]
    fn discovered_pools_come_and_go() {
        let trusted = TrustedPools::default();
        let source = PoolSource::UserPool {
            namespace: "ns".into(),
            name: "p".into(),
        };
        assert!(trusted.upsert(source.clone(), pool("http://127.0.0.1/p", &["c"])));
        assert!(!trusted.upsert(source.clone(), pool("http://127.0.0.1/p", &["c"])));
        assert!(trusted.snapshot().contains_key("http://127.0.0.1/p"));
        trusted.retain_discovered(&BTreeSet::new());
        assert!(trusted.snapshot().is_empty());
        assert!(!trusted.remove(&source));
    }
}
