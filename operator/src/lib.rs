//! cognito-operator: runs AWS Cognito user pools and their users as Kubernetes objects.
#![forbid(unsafe_code)]

pub mod appuser_controller;
pub mod aws_metrics;
pub mod canonical_json;
pub mod conditions;
pub mod context;
pub mod crd;
pub mod crd_reference;
pub mod crdgen;
pub mod error;
pub mod generated_password;
pub mod http;
pub mod leadership;
pub mod metrics;
pub mod object_meta;
pub mod rate_limit;
pub mod stack;
pub mod telemetry;
pub mod template;
pub mod user_attributes;
pub mod user_census;
pub mod user_directory;
pub mod user_provisioning;
pub mod userpool_controller;
