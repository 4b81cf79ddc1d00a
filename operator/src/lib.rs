//! cognito-operator: runs AWS Cognito user pools and their users as Kubernetes objects.
//!
//! - [`userpool`]: the UserPool controller (one CloudFormation stack per object);
//! - [`appuser`]: the AppUser controller (one Cognito user per object) and its census;
//! - [`reconcile`]: what both controllers share (conditions, status, finalizers, Events,
//!   error reporting);
//! - [`runtime`]: the process around them (AWS clients, rate limits, metrics, logs,
//!   health server, leader election);
//! - [`cli`]: the command line (`run`, `crdgen`).
#![forbid(unsafe_code)]

pub mod appuser;
pub mod canonical_json;
pub mod cli;
pub mod crd_reference;
pub mod crdgen;
pub mod error;
pub mod reconcile;
pub mod runtime;
pub mod userpool;
