//! Prometheus metrics: requests by route and outcome, their latency by route,
//! verification latency, JWKS fetches, verified-token cache hits and trigger events by
//! source. Labels are fixed categories only.

use std::{fmt::Write, time::Duration};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Unauthorized,
    Forbidden,
    RateLimited,
    ClientError,
    ServerError,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Ok => "ok",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
        })
    }
}

impl Outcome {
    pub fn from_status(status: axum::http::StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            429 => Self::RateLimited,
            400..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            _ => Self::Ok,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

type DurationFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// 1 ms .. ~16 s: a cached token answers in well under a millisecond, a sign-up waits on
/// Cognito, and the request timeout ends the rest.
fn request_buckets() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
enum FetchResult {
    Ok,
    Error,
}

impl EncodeLabelValue for FetchResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(match self {
            Self::Ok => "ok",
            Self::Error => "error",
        })
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    result: FetchResult,
}

/// The `triggerSource` values Cognito documents for the triggers it invokes
/// synchronously (the ones a forwarder sends to the sink). V3 pre token generation adds
/// `TokenGeneration_ClientCredentials` for machine-to-machine tokens.
const TRIGGER_SOURCES: [&str; 25] = [
    "PreSignUp_SignUp",
    "PreSignUp_AdminCreateUser",
    "PreSignUp_ExternalProvider",
    "PostConfirmation_ConfirmSignUp",
    "PostConfirmation_ConfirmForgotPassword",
    "PreAuthentication_Authentication",
    "PostAuthentication_Authentication",
    "TokenGeneration_HostedAuth",
    "TokenGeneration_Authentication",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
    "TokenGeneration_ClientCredentials",
    "CustomMessage_SignUp",
    "CustomMessage_AdminCreateUser",
    "CustomMessage_ResendCode",
    "CustomMessage_ForgotPassword",
    "CustomMessage_UpdateUserAttribute",
    "CustomMessage_VerifyUserAttribute",
    "CustomMessage_Authentication",
    "UserMigration_Authentication",
    "UserMigration_ForgotPassword",
    "DefineAuthChallenge_Authentication",
    "CreateAuthChallenge_Authentication",
    "VerifyAuthChallengeResponse_Authentication",
];

/// The `trigger` label of an event: its `triggerSource` when Cognito documents that
/// value, `other` for anything else. Whoever holds the secret chooses the event, so the
/// label is picked from a fixed list, never copied from the request.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub struct TriggerSource(&'static str);

impl TriggerSource {
    pub fn of(trigger_source: Option<&str>) -> Self {
        Self(
            trigger_source
                .and_then(|source| TRIGGER_SOURCES.into_iter().find(|known| *known == source))
                .unwrap_or("other"),
        )
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl EncodeLabelValue for TriggerSource {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.0)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TriggerLabels {
    trigger: TriggerSource,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: DurationFamily,
    verify_duration: Histogram,
    jwks_fetches: Family<FetchLabels, Counter>,
    token_cache_hits: Counter,
    token_cache_misses: Counter,
    pools_without_keys: Gauge,
    pool_conflicts: Gauge,
    trigger_events: Family<TriggerLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("webhook_api");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "HTTP requests by route and outcome",
            requests.clone(),
        );
        let request_duration = DurationFamily::new_with_constructor(request_buckets);
        registry.register(
            "request_duration_seconds",
            "Time to answer an HTTP request, by route",
            request_duration.clone(),
        );
        // 10 µs .. ~160 ms: cache hits sit at the bottom, RSA checks near 100 µs.
        let verify_duration = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(0.000_01, 2.0, 15),
        );
        registry.register(
            "verify_duration_seconds",
            "Time to verify a bearer token",
            verify_duration.clone(),
        );
        let jwks_fetches = Family::<FetchLabels, Counter>::default();
        registry.register(
            "jwks_fetches",
            "JWKS documents fetched",
            jwks_fetches.clone(),
        );
        let token_cache_hits = Counter::default();
        registry.register(
            "token_cache_hits",
            "Tokens found in the verified-token cache",
            token_cache_hits.clone(),
        );
        let token_cache_misses = Counter::default();
        registry.register(
            "token_cache_misses",
            "Tokens not in the verified-token cache",
            token_cache_misses.clone(),
        );
        let trigger_events = Family::<TriggerLabels, Counter>::default();
        registry.register(
            "trigger_events",
            "Cognito trigger events accepted by the sink, by triggerSource",
            trigger_events.clone(),
        );
        let mut gauge = |name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let pools_without_keys = gauge(
            "pools_without_keys",
            "Trusted pools whose signing keys could never be fetched",
        );
        let pool_conflicts = gauge(
            "pool_conflicts",
            "Issuers named by more than one source, not trusted from discovery",
        );
        Self {
            registry,
            pools_without_keys,
            pool_conflicts,
            requests,
            request_duration,
            verify_duration,
            jwks_fetches,
            token_cache_hits,
            token_cache_misses,
            trigger_events,
        }
    }
}

impl Metrics {
    pub fn record_request(&self, route: &str, outcome: Outcome, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                outcome,
            })
            .inc();
        self.request_duration
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_verify(&self, elapsed: Duration) {
        self.verify_duration.observe(elapsed.as_secs_f64());
    }

    pub fn record_jwks_fetch(&self, ok: bool) {
        let result = if ok {
            FetchResult::Ok
        } else {
            FetchResult::Error
        };
        self.jwks_fetches
            .get_or_create(&FetchLabels { result })
            .inc();
    }

    pub fn record_token_cache(&self, hit: bool) {
        if hit {
            self.token_cache_hits.inc();
        } else {
            self.token_cache_misses.inc();
        }
    }

    pub fn record_trigger_event(&self, trigger: TriggerSource) {
        self.trigger_events
            .get_or_create(&TriggerLabels { trigger })
            .inc();
    }

    pub fn set_pools_without_keys(&self, count: usize) {
        self.pools_without_keys.set(gauge_value(count));
    }

    pub fn set_pool_conflicts(&self, count: usize) {
        self.pool_conflicts.set(gauge_value(count));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn gauge_value(count: usize) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_trigger_sources_are_their_own_label() {
        for source in TRIGGER_SOURCES {
            assert_eq!(TriggerSource::of(Some(source)).as_str(), source);
        }
        assert_eq!(
            TriggerSource::of(Some("TokenGeneration_RefreshTokens")),
            TriggerSource("TokenGeneration_RefreshTokens")
        );
    }

    #[test]
    fn anything_else_is_other() {
        for source in [
            None,
            Some(""),
            Some("presignup_signup"),
            Some("PreSignUp_SignUp "),
            Some("PreSignUp"),
            Some("CustomEmailSender_SignUp"),
            Some("PreSignUp_SignUp\"} 1\nfake_metric{x=\"y"),
        ] {
            assert_eq!(TriggerSource::of(source).as_str(), "other", "{source:?}");
        }
    }

    #[test]
    fn requests_are_counted_and_timed_by_route() {
        let metrics = Metrics::default();
        metrics.record_request("/auth", Outcome::Ok, Duration::from_millis(3));
        metrics.record_request("/auth", Outcome::ServerError, Duration::from_millis(3));
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains(
                "webhook_api_requests_total{route=\"/auth\",outcome=\"server_error\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("webhook_api_request_duration_seconds_count{route=\"/auth\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "webhook_api_request_duration_seconds_bucket{le=\"0.004\",route=\"/auth\"} 2\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn trigger_events_are_counted_by_label() {
        let metrics = Metrics::default();
        metrics.record_trigger_event(TriggerSource::of(Some("PreSignUp_SignUp")));
        metrics.record_trigger_event(TriggerSource::of(Some("PreSignUp_SignUp")));
        metrics.record_trigger_event(TriggerSource::of(Some("made-up")));
        let text = metrics.encode().expect("encode");
        assert!(
            text.contains("webhook_api_trigger_events_total{trigger=\"PreSignUp_SignUp\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("webhook_api_trigger_events_total{trigger=\"other\"} 1\n"),
            "{text}"
        );
        assert!(!text.contains("made-up"), "{text}");
    }
}
