//! cognito-operator: runs AWS Cognito user pools and their users as Kubernetes objects.
#![forbid(unsafe_code)]

pub mod crd;
pub mod crdgen;
pub mod user_provisioning;
