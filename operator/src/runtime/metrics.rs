//! Prometheus metrics of the operator: reconciles, their duration and errors, AWS calls,
//! objects by condition and leadership.
//!
//! Every label is a fixed category (a resource kind, an error category, an AWS operation, a
//! condition), never an object's name, so the number of series stays bounded however many
//! objects exist. The one exception is the leader gauge's `identity`: one per process.

use std::{fmt::Write as _, time::Instant};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::{Metric, Registry},
};

/// Prefix of every metric name, e.g. `cognito_operator_reconciles_total`.
const PREFIX: &str = "cognito_operator";

/// Upper bounds (seconds) of the reconcile duration buckets: most reconciles only read
/// state and finish in milliseconds, one that waits on CloudFormation takes seconds.
const RECONCILE_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: &'static str,
    error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AwsCallLabels {
    service: String,
    operation: String,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: &'static str,
    condition: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaderLabels {
    identity: String,
}

/// How one AWS call attempt ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// A successful response.
    Success,
    /// Any failure other than throttling: a service error, a timeout, no connection.
    Error,
    /// AWS refused the call because of its rate limit.
    Throttled,
}

impl Outcome {
    /// The label value: `success`, `error` or `throttled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Throttled => "throttled",
        }
    }
}

// By hand because the derive would print the variant names capitalised.
impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// Registers `metric` under `name` and returns it: the registry keeps a clone, which shares
/// the series.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

type DurationFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

/// Handles to the operator's metrics; cloning is cheap (the series are shared).
#[derive(Clone, Debug)]
pub struct Metrics {
    reconciles: Family<KindLabels, Counter>,
    reconcile_duration: DurationFamily,
    reconcile_errors: Family<ErrorLabels, Counter>,
    aws_calls: Family<AwsCallLabels, Counter>,
    objects: Family<ObjectLabels, Gauge>,
    leader: Family<LeaderLabels, Gauge>,
}

impl Metrics {
    /// Registers the metrics under the `cognito_operator_` prefix in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let registry = registry.sub_registry_with_prefix(PREFIX);
        Self {
            reconciles: registered(
                registry,
                "reconciles",
                "Reconciles started, by resource kind",
                Family::default(),
            ),
            reconcile_duration: registered(
                registry,
                "reconcile_duration_seconds",
                "Duration of reconciles, by resource kind",
                Family::new_with_constructor(|| Histogram::new(RECONCILE_BUCKETS)),
            ),
            reconcile_errors: registered(
                registry,
                "reconcile_errors",
                "Failed reconciles, by resource kind and error category",
                Family::default(),
            ),
            aws_calls: registered(
                registry,
                "aws_calls",
                "AWS call attempts, by service, operation and outcome",
                Family::default(),
            ),
            objects: registered(
                registry,
                "objects",
                "UserPools and AppUsers by condition type and status (a missing condition \
                 counts as Unknown)",
                Family::default(),
            ),
            leader: registered(
                registry,
                "leader",
                "1 while this process runs the controllers (holds the leader Lease), else 0",
                Family::default(),
            ),
        }
    }

    /// Counts a reconcile of `kind` and times it until the returned timer is dropped.
    pub fn reconcile(&self, kind: &'static str) -> ReconcileTimer {
        let labels = KindLabels { kind };
        self.reconciles.get_or_create(&labels).inc();
        ReconcileTimer {
            histogram: self.reconcile_duration.get_or_create_owned(&labels),
            start: Instant::now(),
        }
    }

    /// Counts a failed reconcile; `error` is the error's stable category label.
    pub fn reconcile_failure(&self, kind: &'static str, error: &'static str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels { kind, error })
            .inc();
    }

    /// Counts one AWS call attempt, e.g. `("CloudFormation", "CreateStack", Outcome::Success)`.
    pub fn aws_call(
        &self,
        service: impl Into<String>,
        operation: impl Into<String>,
        outcome: Outcome,
    ) {
        self.aws_calls
            .get_or_create(&AwsCallLabels {
                service: service.into(),
                operation: operation.into(),
                outcome,
            })
            .inc();
    }
}

impl Metrics {
    /// Adds `delta` to the objects of `kind` whose condition `condition` has `status`
    /// (`True`, `False` or `Unknown`).
    pub fn count_objects(
        &self,
        kind: &'static str,
        condition: &'static str,
        status: &'static str,
        delta: i64,
    ) {
        self.objects
            .get_or_create(&ObjectLabels {
                kind,
                condition,
                status,
            })
            .inc_by(delta);
    }

    /// Says whether the process named `identity` leads, i.e. runs the controllers.
    pub fn set_leader(&self, identity: &str, leading: bool) {
        self.leader
            .get_or_create(&LeaderLabels {
                identity: identity.to_owned(),
            })
            .set(i64::from(leading));
    }
}

/// Observes the duration of one reconcile when dropped, so every return path is timed.
#[must_use = "the reconcile is timed until this is dropped"]
pub struct ReconcileTimer {
    histogram: Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::text::encode;

    use super::*;

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).expect("encoding into a String cannot fail");
        text
    }

    #[test]
    fn reconcile_counts_and_times_by_kind() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);

        drop(metrics.reconcile("UserPool"));
        drop(metrics.reconcile("UserPool"));
        metrics.reconcile_failure("UserPool", "cloudformation");

        let text = render(&registry);
        assert!(
            text.contains(r#"cognito_operator_reconciles_total{kind="UserPool"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"cognito_operator_reconcile_duration_seconds_count{kind="UserPool"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"cognito_operator_reconcile_errors_total{kind="UserPool",error="cloudformation"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn aws_calls_are_labelled_by_service_operation_and_outcome() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);

        metrics.aws_call("CloudFormation", "CreateStack", Outcome::Success);
        metrics.aws_call("CloudFormation", "CreateStack", Outcome::Throttled);
        metrics.aws_call("CloudFormation", "CreateStack", Outcome::Throttled);

        let text = render(&registry);
        assert!(
            text.contains(
                r#"cognito_operator_aws_calls_total{service="CloudFormation",operation="CreateStack",outcome="throttled"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"outcome="success"} 1"#), "{text}");
    }

    #[test]
    fn objects_and_leadership_are_gauges() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);

        metrics.count_objects("UserPool", "Ready", "False", 2);
        metrics.count_objects("UserPool", "Ready", "False", -1);
        metrics.set_leader("operator-0", false);
        metrics.set_leader("operator-0", true);

        let text = render(&registry);
        assert!(
            text.contains(
                r#"cognito_operator_objects{kind="UserPool",condition="Ready",status="False"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"cognito_operator_leader{identity="operator-0"} 1"#),
            "{text}"
        );
    }
}
