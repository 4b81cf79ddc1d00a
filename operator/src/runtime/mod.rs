//! The process around the controllers: AWS clients and rate limits, metrics (objects by
//! condition among them), logs, the health server and leader election.

pub mod aws_metrics;
pub mod context;
pub mod http;
pub mod leadership;
pub mod metrics;
pub mod object_conditions;
pub mod rate_limit;
pub mod telemetry;
