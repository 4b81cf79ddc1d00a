//! What both controllers share: conditions, the status draft and its writer, the
//! finalizer, Events, which Secrets are the operator's, and how a reconcile's failure is
//! handled.

pub mod conditions;
pub mod events;
pub mod finalizer;
pub mod outcome;
pub mod owned;
pub mod report;
pub mod secret_value;
pub mod status;
