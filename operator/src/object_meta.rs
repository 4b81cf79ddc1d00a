//! What both controllers do to the objects they own: the finalizer that guards the
//! deletion policy, and Events.

use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::events::{Event, EventType},
};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::{context::Context, error::Result};

/// Adds `finalizer` to `object`.
pub async fn add_finalizer<K>(object: &K, api: &Api<K>, finalizer: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut finalizers = object.finalizers().to_vec();
    finalizers.push(finalizer.to_owned());
    set_finalizers(object, api, finalizers).await
}

/// Removes `finalizer` from `object`.
pub async fn remove_finalizer<K>(object: &K, api: &Api<K>, finalizer: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let finalizers = object
        .finalizers()
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    set_finalizers(object, api, finalizers).await
}

/// Replaces the finalizer list, guarded by resourceVersion so a concurrent change wins.
async fn set_finalizers<K>(object: &K, api: &Api<K>, finalizers: Vec<String>) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": object.resource_version() }
    });
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

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
