//! What every reconcile shares: clients, the Event recorder, metrics and settings.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_config::{Region, SdkConfig};
use kube::runtime::events::{Recorder, Reporter};

use crate::runtime::{
    aws_metrics::with_call_metrics,
    metrics::Metrics,
    rate_limit::{CognitoRates, RateLimits},
};

/// The AWS SDK configuration the operator runs with (credentials, region and endpoint
/// from the standard AWS settings), with retries and timeouts chosen deliberately.
pub async fn load_aws_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        // Throttling is expected at scale: the SDK retries it (and transient errors) a few
        // times with jittered exponential backoff, then the controller's own backoff takes
        // over. Client-side rate limits (rate_limit.rs) keep throttling rare to begin with.
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
        // A hung connection must not stall a reconcile (and the rate-limit slot it holds).
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(15))
                .operation_timeout(Duration::from_secs(45))
                .build(),
        )
        .load()
        .await
}

/// Settings that shape reconciles.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often a healthy object is checked against AWS anyway.
    pub resync_interval: Duration,
    /// Client-side request rates per Cognito quota category, per account and region.
    pub cognito_rates: CognitoRates,
    /// AppUser reconciles in flight at once. Bounded because each waits on the rate
    /// limits with its request built: 10,000 at once cost hundreds of MB for no speed.
    pub user_reconcile_concurrency: u16,
    /// Where UserPools may adopt stacks that are not theirs.
    pub adoption: Adoption,
}

/// The namespaces an admin allowed to adopt stacks (`--adopt-namespaces`). A tenant's
/// annotation alone never hands it a stack the operator did not create for that object.
#[derive(Clone, Debug, Default)]
pub struct Adoption {
    namespaces: BTreeSet<String>,
}

impl Adoption {
    pub fn allowed_in(namespaces: impl IntoIterator<Item = String>) -> Self {
        let namespaces = namespaces.into_iter().map(|n| n.trim().to_owned());
        Self {
            namespaces: namespaces.filter(|n| !n.is_empty()).collect(),
        }
    }

    pub fn allows(&self, namespace: &str) -> bool {
        self.namespaces.contains("*") || self.namespaces.contains(namespace)
    }
}

/// The CloudFormation and Cognito clients of one region.
#[derive(Clone)]
pub struct RegionalClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    /// Without SDK retries: see [`crate::runtime::aws_metrics::ServiceClients`].
    pub cognito_users: aws_sdk_cognitoidentityprovider::Client,
    pub lambda: aws_sdk_lambda::Client,
    /// The rate limits every Cognito user call of this region waits on.
    pub limits: Arc<RateLimits>,
}

/// Shared by all reconciles.
pub struct Context {
    pub client: kube::Client,
    pub recorder: Recorder,
    pub metrics: Metrics,
    pub settings: Settings,
    aws: SdkConfig,
    regions: Mutex<HashMap<String, RegionalClients>>,
    failures: Mutex<HashMap<String, u32>>,
    polls: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: kube::Client,
        aws: SdkConfig,
        metrics: Metrics,
        settings: Settings,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: "cognito-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Arc::new(Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            settings,
            aws,
            regions: Mutex::default(),
            failures: Mutex::default(),
            polls: Mutex::default(),
        })
    }

    /// The operator's own region, used when a spec names none.
    pub fn default_region(&self) -> Option<String> {
        self.aws.region().map(|r| r.to_string())
    }

    /// The AWS endpoint override (`AWS_ENDPOINT_URL`), when there is one.
    pub fn aws_endpoint(&self) -> Option<&str> {
        self.aws.endpoint_url()
    }

    /// Clients for `region`, built once per region.
    pub fn aws_clients(&self, region: &str) -> RegionalClients {
        let mut regions = self.regions.lock().unwrap_or_else(|e| e.into_inner());
        regions
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = self
                    .aws
                    .to_builder()
                    .region(Region::new(region.to_owned()))
                    .build();
                let clients = with_call_metrics(&config, &self.metrics);
                RegionalClients {
                    cloudformation: clients.cloudformation,
                    cognito: clients.cognito,
                    cognito_users: clients.cognito_users,
                    lambda: clients.lambda,
                    limits: Arc::new(RateLimits::new(self.settings.cognito_rates)),
                }
            })
            .clone()
    }

    /// Counts a failed reconcile of `key` and returns how many failed in a row.
    pub fn record_failure(&self, key: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// How many reconciles of `key` failed in a row so far.
    pub fn failures(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Forgets earlier failures of `key` after a successful reconcile.
    pub fn record_success(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

impl Context {
    /// Delay before polling a running stack operation of `key` again: 2 s, doubling up
    /// to 30 s, so long operations cost few DescribeStacks calls.
    pub fn next_poll(&self, key: &str) -> Duration {
        let mut polls = self.polls.lock().unwrap_or_else(|e| e.into_inner());
        let count = polls.entry(key.to_owned()).or_default();
        *count = count.saturating_add(1);
        Duration::from_secs(1u64 << (*count).min(5)).min(Duration::from_secs(30))
    }

    /// Forgets the polls of `key` once its stack operation has finished.
    pub fn polls_done(&self, key: &str) {
        self.polls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
