//! Events about the objects the operator reconciles.

use kube::{
    Resource,
    runtime::events::{Event, EventType},
};

use crate::runtime::context::Context;

/// Publishes an Event about `object`.
pub async fn publish<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    object: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note.to_owned()),
        action: action.to_owned(),
        secondary: None,
    };
    // An Event is a courtesy: failing to publish one must not fail the reconcile.
    if let Err(error) = ctx.recorder.publish(&event, &object.object_ref(&())).await {
        tracing::warn!(%error, "could not publish Event");
    }
}
