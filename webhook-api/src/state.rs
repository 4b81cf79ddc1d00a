//! `AppState`: what handlers share, built once from the configuration, and the
//! background work that keeps it current (JWKS prefetch, pool discovery, rate-limiter
//! cleanup).

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::extract::FromRef;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use crate::{
    config::{Cli, ConfigError, RoutePolicies},
    discovery::{KeySource, PoolDiscovery},
    jwks::JwksCache,
    metrics::Metrics,
    pools::TrustedPools,
    trigger_secret::TriggerSecret,
    verifier::{Verifier, VerifierSettings},
};

/// Server-side sign-up into one pool.
pub struct Signup {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub user_pool_id: String,
    pub limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether new users' e-mail is marked verified.
    pub email_verified: bool,
    /// The app client that proves a retry's password; `None`: unfinished sign-ups are
    /// not finished, and new users are not marked.
    pub client_id: Option<String>,
}

/// Set when shutdown begins: unready for good, and connections are not kept alive.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// What handlers share. One `Arc` around it all: axum clones the state for every request
/// (a clone of each field was 3% of a request's CPU in `webhook-api/bench/run.sh`).
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

pub struct SharedState {
    pub verifier: Arc<Verifier>,
    pub metrics: Arc<Metrics>,
    pub pools: Arc<TrustedPools>,
    pub jwks: Arc<JwksCache>,
    pub policies: Arc<RoutePolicies>,
    pub signup: Option<Arc<Signup>>,
    pub trigger_secret: Option<Arc<TriggerSecret>>,
    /// Namespaces discovery watches (`None`: all); empty when it is off.
    discovery_scopes: Vec<Option<String>>,
    discovered_keys: KeySource,
    /// Discovery watches that have not finished their first list.
    unlisted: Arc<AtomicUsize>,
    /// Set the first time the service is ready; it stays ready from then on.
    ready_once: Arc<AtomicBool>,
    draining: Draining,
    pub bench_unchecked_route: bool,
    pub request_timeout: Duration,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.verifier)
    }
}

impl AppState {
    /// Builds the state; nothing is fetched until [`AppState::spawn_background`].
    pub fn new(cli: &Cli, aws: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let settings = cli.settings()?;
        let metrics = Arc::new(Metrics::default());
        let pools = Arc::new(TrustedPools::from_config(&settings.pools));
        let jwks = Arc::new(JwksCache::new(cli.jwks_cooldown(), Arc::clone(&metrics)));
        let verifier = Arc::new(Verifier::new(
            Arc::clone(&pools),
            Arc::clone(&jwks),
            VerifierSettings {
                token_cache_size: cli.token_cache_size,
                revoked_origin_jtis: settings.revoked_origin_jtis,
                clock_skew_seconds: cli.clock_skew_seconds,
            },
            Arc::clone(&metrics),
        ));
        let signup = match &cli.signup_user_pool_id {
            Some(user_pool_id) => {
                let per_minute = NonZeroU32::new(cli.signup_per_minute).ok_or_else(|| {
                    ConfigError::Invalid("--signup-per-minute must be at least 1".into())
                })?;
                Some(Arc::new(Signup {
                    cognito: aws_sdk_cognitoidentityprovider::Client::new(aws),
                    user_pool_id: user_pool_id.clone(),
                    limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
                    trusted_proxies: cli.trusted_proxies.clone(),
                    email_verified: cli.signup_email_verified,
                    client_id: match cli.signup_client_id.as_deref().map(str::trim) {
                        Some("") => {
                            return Err(ConfigError::Invalid("--signup-client-id is empty".into()));
                        }
                        client_id => client_id.map(str::to_owned),
                    },
                }))
            }
            None => None,
        };
        // A secret mounted from a file often ends in a newline nobody sends.
        let trigger_secret = match cli.trigger_secret.as_deref().map(str::trim) {
            Some("") => {
                return Err(ConfigError::Invalid(
                    "--trigger-secret is empty or only whitespace".into(),
                ));
            }
            secret => secret.map(|secret| Arc::new(TriggerSecret::new(secret))),
        };
        let discovery_scopes = cli.discovery_scopes()?;
        Ok(Self(Arc::new(SharedState {
            verifier,
            metrics,
            pools,
            jwks,
            policies: Arc::new(settings.routes),
            signup,
            trigger_secret,
            unlisted: Arc::new(AtomicUsize::new(discovery_scopes.len())),
            discovery_scopes,
            discovered_keys: cli
                .cognito_emulator_endpoint
                .clone()
                .map_or(KeySource::Issuer, KeySource::Emulator),
            ready_once: Arc::new(AtomicBool::new(false)),
            draining: Draining::default(),
            bench_unchecked_route: cli.insecure_bench_unchecked_route,
            request_timeout: Duration::from_secs(cli.request_timeout_seconds),
        })))
    }

    /// Ready once the pool lists are known, every configured pool's keys are cached (so
    /// the first request never waits for a JWKS fetch) and every discovered pool's keys
    /// have been tried once. Ready for good from then on: a pool discovered later whose
    /// keys cannot be fetched must not take every replica out of service for all the
    /// other pools. Unready again once shutdown has begun.
    pub fn is_ready(&self) -> bool {
        if self.is_draining() {
            return false;
        }
        if self.ready_once.load(Ordering::Acquire) {
            return true;
        }
        let ready = self.unlisted.load(Ordering::Acquire) == 0 && self.jwks.ready();
        if ready {
            self.ready_once.store(true, Ordering::Release);
        }
        ready
    }

    /// Begins shutdown: `/readyz` answers 503 from now on, and every answer closes its
    /// connection, so clients reconnect to a replica that stays.
    pub fn start_draining(&self) {
        self.draining.start();
    }

    pub fn is_draining(&self) -> bool {
        self.draining.get()
    }

    pub fn draining(&self) -> &Draining {
        &self.draining
    }

    /// Starts fetching the keys of every configured pool and the sign-up limiter's
    /// cleanup. Needs a Tokio runtime.
    pub fn spawn_background(&self) {
        self.pools_changed();
        if let Some(signup) = &self.signup {
            let signup = Arc::downgrade(signup);
            tokio::spawn(async move {
                let mut every_minute = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every_minute.tick().await;
                    // Forget addresses that have not signed up lately: bounded memory.
                    let Some(signup) = signup.upgrade() else {
                        return;
                    };
                    signup.limiter.retain_recent();
                    signup.limiter.shrink_to_fit();
                }
            });
        }
    }

    /// Whether an admin turned discovery on (with the namespaces it may look in).
    pub fn discovers_pools(&self) -> bool {
        !self.discovery_scopes.is_empty()
    }

    /// Watches `UserPool` objects in the allowed namespaces and trusts the pools their
    /// status describes.
    pub fn spawn_discovery(&self, client: kube::Client) {
        for namespace in &self.discovery_scopes {
            let discovery = PoolDiscovery {
                pools: Arc::clone(&self.pools),
                jwks: Arc::clone(&self.jwks),
                keys: self.discovered_keys.clone(),
                unlisted: Arc::clone(&self.unlisted),
            };
            tokio::spawn(discovery.watch(client.clone(), namespace.clone()));
        }
    }

    /// Brings the JWKS cache in line with the trusted pools and prefetches new ones.
    pub fn pools_changed(&self) {
        self.jwks.follow(&self.pools);
    }
}
