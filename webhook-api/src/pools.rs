//! The set of trusted pools: issuers (in both Cognito forms), their JWKS locations,
//! allowed app clients and the name routes accept them by. Filled from the
//! configuration and, when an admin allowed discovery, from `UserPool` objects, both as
//! [`PoolConfig`]; readers take a cheap snapshot.
//!
//! Sources are never merged: an issuer named by the configuration is the configured
//! pool only, and an issuer that two discovered objects name is trusted from neither
//! (a reported conflict), so one tenant cannot add its clients to another's pool.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, RwLock},
};

use serde::Deserialize;

/// One trusted pool, as the configuration or a `UserPool` status names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolConfig {
    /// What route policies call the pool (`routes.*.pools`); the issuer when omitted.
    /// Discovered pools are called `<namespace>/<name>`.
    pub name: Option<String>,
    /// `https://cognito-idp.{region}.amazonaws.com/{poolId}`; the
    /// `https://issuer-cognito-idp...` form of the same pool is trusted as well.
    pub issuer: String,
    /// Where to fetch the keys when not at `{issuer}/.well-known/jwks.json` (emulators).
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

impl PoolSource {
    /// The name route policies use for the pool of this source.
    fn pool_name(&self, config: &PoolConfig) -> String {
        match self {
            Self::Config(_) => config.name.clone().unwrap_or_else(|| config.issuer.clone()),
            Self::UserPool { namespace, name } => format!("{namespace}/{name}"),
        }
    }
}

/// One trusted pool: exactly one source's view of one issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedPool {
    /// The issuer as configured; keys are cached under it.
    pub issuer: String,
    pub jwks_uri: String,
    pub client_ids: BTreeSet<String>,
    /// What route policies call it.
    pub name: String,
    /// Listed by an admin: its keys must be cached before the service is ready. A
    /// discovered pool's broken keys must not keep the gate down for everyone else.
    pub configured: bool,
}

/// Issuer string (every accepted form) -> pool.
pub type PoolIndex = HashMap<String, Arc<TrustedPool>>;

/// Issuer -> the names of the sources that claim it, when more than one discovered
/// object does (or one does and the configuration already names it).
pub type Conflicts = BTreeMap<String, Vec<String>>;

#[derive(Default)]
pub struct TrustedPools {
    sources: RwLock<BTreeMap<PoolSource, PoolConfig>>,
    index: RwLock<Arc<PoolIndex>>,
    conflicts: RwLock<Arc<Conflicts>>,
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
        Arc::clone(&self.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Issuers claimed by more than one source, none of which is trusted from a
    /// discovered object.
    pub fn conflicts(&self) -> Arc<Conflicts> {
        Arc::clone(&self.conflicts.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Distinct pools, one per trusted issuer.
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

    /// Removes every pool discovered in `namespace` (every namespace when `None`) that
    /// is not in `keep` (after a watch restart).
    pub fn retain_discovered(&self, namespace: Option<&str>, keep: &BTreeSet<PoolSource>) {
        let mut sources = self.sources.write().unwrap_or_else(|p| p.into_inner());
        let before = sources.len();
        sources.retain(|source, _| match source {
            PoolSource::Config(_) => true,
            PoolSource::UserPool { namespace: ns, .. } => {
                namespace.is_some_and(|wanted| wanted != ns) || keep.contains(source)
            }
        });
        if sources.len() != before {
            self.rebuild(&sources);
        }
    }

    fn rebuild(&self, sources: &BTreeMap<PoolSource, PoolConfig>) {
        let mut claims: BTreeMap<String, Vec<(&PoolSource, &PoolConfig)>> = BTreeMap::new();
        for (source, config) in sources {
            claims
                .entry(canonical_issuer(&config.issuer))
                .or_default()
                .push((source, config));
        }
        let mut index = PoolIndex::new();
        let mut conflicts = Conflicts::new();
        for (issuer, claimants) in claims {
            // Sources are ordered Config first: the admin's word wins over discovery.
            let trusted = match claimants.as_slice() {
                [only] => Some(*only),
                [(PoolSource::Config(_), _), ..] => claimants.first().copied(),
                _ => None,
            };
            if claimants.len() > 1 {
                let names = claimants.iter().map(|(s, c)| s.pool_name(c)).collect();
                conflicts.insert(issuer.clone(), names);
            }
            let Some((source, config)) = trusted else {
                continue;
            };
            let pool = Arc::new(TrustedPool {
                jwks_uri: config
                    .jwks_uri
                    .clone()
                    .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json")),
                client_ids: config.client_ids.clone(),
                name: source.pool_name(config),
                configured: matches!(source, PoolSource::Config(_)),
                issuer,
            });
            for form in issuer_forms(&pool.issuer) {
                index.insert(form, Arc::clone(&pool));
            }
        }
        let mut current = self.conflicts.write().unwrap_or_else(|p| p.into_inner());
        if **current != conflicts {
            for (issuer, names) in &conflicts {
                tracing::warn!(issuer, sources = ?names, "several sources name one issuer; not trusted from discovery");
            }
            *current = Arc::new(conflicts);
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
    }
}

/// The issuer without a trailing slash, in the classic Cognito form when it is one, so
/// both forms of one pool are one claim.
fn canonical_issuer(issuer: &str) -> String {
    let issuer = issuer.trim_end_matches('/');
    issuer_forms(issuer)
        .into_iter()
        .next()
        .unwrap_or_else(|| issuer.to_owned())
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

    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x";

    fn pool(issuer: &str, clients: &[&str]) -> PoolConfig {
        PoolConfig {
            name: None,
            issuer: issuer.to_owned(),
            jwks_uri: None,
            client_ids: clients.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn discovered(namespace: &str, name: &str) -> PoolSource {
        PoolSource::UserPool {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn both_cognito_issuer_forms_name_one_pool() {
        let trusted = TrustedPools::from_config(&[pool(ISSUER, &["c"])]);
        let index = trusted.snapshot();
        let classic = &index[ISSUER];
        let newer = &index["https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_x"];
        assert!(Arc::ptr_eq(classic, newer));
        assert_eq!(classic.jwks_uri, format!("{ISSUER}/.well-known/jwks.json"));
        assert_eq!(classic.name, ISSUER);
        assert!(classic.configured);
        assert_eq!(index.len(), 2);
        assert_eq!(trusted.pools().len(), 1);
    }

    #[test]
    fn discovered_pools_come_and_go() {
        let trusted = TrustedPools::default();
        let source = discovered("ns", "p");
        assert!(trusted.upsert(source.clone(), pool("http://127.0.0.1/p", &["c"])));
        assert!(!trusted.upsert(source.clone(), pool("http://127.0.0.1/p", &["c"])));
        let pool = Arc::clone(&trusted.snapshot()["http://127.0.0.1/p"]);
        assert_eq!(pool.name, "ns/p");
        assert!(!pool.configured);
        trusted.retain_discovered(Some("other"), &BTreeSet::new());
        assert_eq!(
            trusted.pools().len(),
            1,
            "another namespace's list keeps it"
        );
        trusted.retain_discovered(Some("ns"), &BTreeSet::new());
        assert!(trusted.snapshot().is_empty());
        assert!(!trusted.remove(&source));
    }

    #[test]
    fn an_issuer_claimed_twice_is_a_conflict_not_a_merge() {
        let trusted = TrustedPools::default();
        trusted.upsert(discovered("a", "p"), pool(ISSUER, &["client-a"]));
        let newer_form = ISSUER.replace("cognito-idp.", "issuer-cognito-idp.");
        trusted.upsert(discovered("b", "p"), pool(&newer_form, &["client-b"]));
        assert!(trusted.snapshot().is_empty(), "trusted from neither");
        assert_eq!(trusted.conflicts()[ISSUER], ["a/p", "b/p"]);

        trusted.remove(&discovered("b", "p"));
        assert!(trusted.conflicts().is_empty());
        assert_eq!(trusted.snapshot()[ISSUER].name, "a/p");

        // The configuration wins; the discovered claim is reported, its client unused.
        trusted.upsert(PoolSource::Config(0), pool(ISSUER, &["configured"]));
        let pool = Arc::clone(&trusted.snapshot()[ISSUER]);
        assert!(pool.configured);
        assert_eq!(pool.client_ids, BTreeSet::from(["configured".to_owned()]));
        assert_eq!(trusted.conflicts()[ISSUER].len(), 2);
    }
}
