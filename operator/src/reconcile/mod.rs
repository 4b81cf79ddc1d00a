//! What both controllers share: conditions, the status draft and its writer, the
//! finalizer, Events, and how a reconcile's failure is handled.

pub mod conditions;
pub mod events;
pub mod finalizer;
pub mod outcome;
pub mod report;
pub mod status;
