//! The finalizer that guards an object's deletion policy, the same way for both kinds:
//! added before the first AWS write, removed only once cleanup says it is done.

use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::{
    error::{Error, Result},
    runtime::context::Context,
};

/// Where a cleanup stands.
pub enum Cleanup {
    /// The deletion policy is carried out: the finalizer may go.
    Done,
    /// Still under way (a stack deleting): look again after this action.
    NotYet(Action),
}

/// One reconcile of a namespaced `object` as both controllers run it: timed, with
/// `finalizer` guarding its deletion policy, and its failures in a row forgotten once it
/// succeeds. `apply` and `cleanup` get the object's namespaced API. Its span carries the
/// object's kind, namespace and name to every log line of the reconcile.
#[tracing::instrument(
    name = "reconcile",
    skip_all,
    fields(kind, namespace = object.namespace().unwrap_or_default(), name = object.name_any())
)]
pub async fn reconcile_guarded<K>(
    object: &K,
    ctx: &Context,
    kind: &'static str,
    finalizer: &str,
    apply: impl AsyncFnOnce(Api<K>) -> Result<Action>,
    cleanup: impl AsyncFnOnce(Api<K>) -> Result<Cleanup>,
) -> Result<Action>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let _timer = ctx.metrics.reconcile(kind);
    let namespace = object
        .namespace()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    let api = Api::<K>::namespaced(ctx.client.clone(), &namespace);
    let action = guarded(
        object,
        &api,
        finalizer,
        async || apply(api.clone()).await,
        async || cleanup(api.clone()).await,
    )
    .await?;
    ctx.record_success(&object.uid().unwrap_or_default());
    Ok(action)
}

/// Runs `cleanup` for an object being deleted, else makes sure `finalizer` is present
/// before `apply` runs.
async fn guarded<K>(
    object: &K,
    api: &Api<K>,
    finalizer: &str,
    apply: impl AsyncFnOnce() -> Result<Action>,
    cleanup: impl AsyncFnOnce() -> Result<Cleanup>,
) -> Result<Action>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let ours = object.finalizers().iter().any(|f| f == finalizer);
    if object.meta().deletion_timestamp.is_some() {
        if !ours {
            return Ok(Action::await_change());
        }
        return match cleanup().await? {
            Cleanup::Done => {
                let remaining = object
                    .finalizers()
                    .iter()
                    .filter(|f| *f != finalizer)
                    .cloned()
                    .collect();
                set_finalizers(object, api, remaining).await?;
                Ok(Action::await_change())
            }
            Cleanup::NotYet(action) => Ok(action),
        };
    }
    if !ours {
        let mut finalizers = object.finalizers().to_vec();
        finalizers.push(finalizer.to_owned());
        set_finalizers(object, api, finalizers).await?;
        return Ok(Action::requeue(Duration::ZERO));
    }
    apply().await
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
