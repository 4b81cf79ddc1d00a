//! The finalizer that guards an object's deletion policy, the same way for both kinds:
//! added before the first AWS write, removed only once cleanup says it is done.

use std::time::Duration;

use json_patch::{
    AddOperation, PatchOperation, ReplaceOperation, TestOperation, jsonptr::PointerBuf,
};
use k8s_openapi::NamespaceResourceScope;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

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
                set_finalizers(object, api, remaining, Action::await_change()).await
            }
            Cleanup::NotYet(action) => Ok(action),
        };
    }
    if !ours {
        let mut finalizers = object.finalizers().to_vec();
        finalizers.push(finalizer.to_owned());
        // The watch brings the object back with the finalizer: reconciling at once would
        // read the cached copy without it.
        return set_finalizers(object, api, finalizers, Action::await_change()).await;
    }
    apply().await
}

/// How soon to look again when the finalizer list changed under a patch: the watch
/// brings the newer object meanwhile.
const RACED_RETRY: Duration = Duration::from_secs(1);

/// Replaces the finalizer list, guarded by the list as it was read (not by
/// resourceVersion: a status or annotation write in between must not fail the patch, a
/// concurrent change of the finalizers must). A lost race is no failure: `raced` is
/// returned to look again soon.
async fn set_finalizers<K>(
    object: &K,
    api: &Api<K>,
    finalizers: Vec<String>,
    done: Action,
) -> Result<Action>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = Patch::Json::<()>(finalizers_patch(object.finalizers(), finalizers));
    match api
        .patch(&object.name_any(), &PatchParams::default(), &patch)
        .await
    {
        Ok(_) => Ok(done),
        Err(kube::Error::Api(status)) if lost_race(&status) => {
            tracing::debug!(message = %status.message, "finalizers changed meanwhile; looking again");
            Ok(Action::requeue(RACED_RETRY))
        }
        Err(error) => Err(error.into()),
    }
}

/// A JSON patch that sets the finalizer list to `wanted` only if it is still `read`.
fn finalizers_patch(read: &[String], wanted: Vec<String>) -> json_patch::Patch {
    let path = PointerBuf::from_tokens(["metadata", "finalizers"]);
    // An empty list is not stored: the field is absent, which the test sees as null.
    let (expected, change) = if read.is_empty() {
        (
            Value::Null,
            PatchOperation::Add(AddOperation {
                path: path.clone(),
                value: wanted.into(),
            }),
        )
    } else {
        (
            read.into(),
            PatchOperation::Replace(ReplaceOperation {
                path: path.clone(),
                value: wanted.into(),
            }),
        )
    };
    json_patch::Patch(vec![
        PatchOperation::Test(TestOperation {
            path,
            value: expected,
        }),
        change,
    ])
}

/// Whether a refused patch lost a race: the test of the list failed (422, the test's
/// message in a cause), or the API server's own retries lost to concurrent writes (409).
fn lost_race(status: &kube::core::Status) -> bool {
    let test_failed = || {
        status.details.as_ref().is_some_and(|details| {
            details
                .causes
                .iter()
                .any(|cause| cause.message.contains("test failed"))
        })
    };
    status.code == 409 || (status.code == 422 && test_failed())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(mut object: Value, read: &[&str], wanted: &[&str]) -> Result<Value, String> {
        let read: Vec<String> = read.iter().map(|f| f.to_string()).collect();
        let wanted = wanted.iter().map(|f| f.to_string()).collect();
        json_patch::patch(&mut object, &finalizers_patch(&read, wanted))
            .map_err(|e| e.to_string())?;
        Ok(object)
    }

    #[test]
    fn adds_to_an_absent_list_only_while_it_is_absent() {
        // The API server's JSON patch (evanphx/json-patch) tests an absent member as
        // null; the json-patch crate would call the path invalid, so this one is
        // compared as text.
        let patch = finalizers_patch(&[], vec!["ours".to_owned()]);
        assert_eq!(
            serde_json::to_value(&patch).expect("JSON"),
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["ours"]},
            ])
        );
    }

    #[test]
    fn adds_to_a_list_that_is_unchanged_and_keeps_the_others() {
        let theirs = json!({"metadata": {"finalizers": ["theirs"], "resourceVersion": "7"}});
        assert_eq!(
            patched(theirs, &["theirs"], &["theirs", "ours"]).expect("applies")["metadata"]["finalizers"],
            json!(["theirs", "ours"])
        );
    }

    #[test]
    fn refuses_when_the_finalizers_changed_since_they_were_read() {
        let added_meanwhile = json!({"metadata": {"finalizers": ["theirs"]}});
        assert!(patched(added_meanwhile.clone(), &[], &["ours"]).is_err());
        assert!(patched(added_meanwhile, &["other"], &["other", "ours"]).is_err());
    }

    #[test]
    fn removes_only_ours() {
        let both = json!({"metadata": {"finalizers": ["theirs", "ours"]}});
        assert_eq!(
            patched(both, &["theirs", "ours"], &["theirs"]).expect("applies")["metadata"]["finalizers"],
            json!(["theirs"])
        );
    }

    #[test]
    fn a_conflict_or_a_failed_test_is_a_lost_race_other_refusals_are_not() {
        // As the API server sends them: a failed test's text is a cause's.
        let status = |code: u16, cause: &str| -> kube::core::Status {
            serde_json::from_value(json!({
                "status": "Failure",
                "code": code,
                "message": "the server rejected our request due to an error in our request",
                "reason": "Invalid",
                "details": {"causes": [{"reason": "UnexpectedServerResponse", "message": cause}]},
            }))
            .expect("a Status")
        };
        assert!(lost_race(&status(409, "")));
        assert!(lost_race(&status(
            422,
            "testing value /metadata/finalizers failed: test failed"
        )));
        assert!(!lost_race(&status(
            422,
            "metadata.finalizers: Invalid value"
        )));
        assert!(!lost_race(&status(403, "forbidden")));
    }
}
