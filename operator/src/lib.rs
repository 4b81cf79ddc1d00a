//! cognito-operator: runs AWS Cognito user pools and their users as Kubernetes objects.
#![forbid(unsafe_code)]

pub mod aws_metrics;
pub mod canonical_json;
pub mod conditions;
pub mod context;
pub mod crd;
pub mod crdgen;
pub mod error;
pub mod http;
pub mod leadership;
pub mod metrics;
pub mod stack;
pub mod telemetry;
pub mod template;
pub mod user_provisioning;
pub mod userpool_controller;
