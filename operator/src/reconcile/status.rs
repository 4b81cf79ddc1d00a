//! Writing an object's status, and reading it back newer than the watch cache.
//!
//! The watch cache can lag one event behind the operator's own status write. A reconcile
//! that starts in that window (a requeue, an owned object's event) would decide from the
//! older status and repeat an AWS write it has just made: a second `UpdateStack` of a
//! template that already failed, a second `AdminSetUserPassword`. So each controller
//! remembers the status it last wrote per object until the cache reads it back.

use std::{collections::HashMap, sync::Mutex};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use crate::error::Result;

/// Field manager for everything the operator applies.
pub const FIELD_MANAGER: &str = "cognito-operator";

/// The status types of both kinds, as the shared reconcile plumbing needs them.
pub trait ObjectStatus: Clone + Default + PartialEq + Serialize {
    fn conditions(&self) -> &[Condition];
    fn conditions_mut(&mut self) -> &mut Vec<Condition>;
    fn set_observed_generation(&mut self, generation: Option<i64>);
    /// The reconcile request (annotation value) last handled.
    fn last_handled_request(&self) -> Option<&str>;
}

macro_rules! object_status {
    ($status:ty) => {
        impl ObjectStatus for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
            fn conditions_mut(&mut self) -> &mut Vec<Condition> {
                &mut self.conditions
            }
            fn set_observed_generation(&mut self, generation: Option<i64>) {
                self.observed_generation = generation;
            }
            fn last_handled_request(&self) -> Option<&str> {
                self.last_handled_reconcile_at.as_deref()
            }
        }
    };
}
object_status!(cognito_crds::UserPoolStatus);
object_status!(cognito_crds::AppUserStatus);

/// The status this process last wrote, by object uid, kept until the watch cache holds it.
/// Only the operator writes these statuses, so our copy is never older than the cache.
pub struct StatusMemory<S> {
    written: Mutex<HashMap<String, S>>,
}

impl<S> Default for StatusMemory<S> {
    fn default() -> Self {
        Self {
            written: Mutex::default(),
        }
    }
}

impl<S: ObjectStatus> StatusMemory<S> {
    /// Our last write for `uid` while the cache has not caught up with it, else `cached`
    /// (forgetting our copy once the cache holds it: one copy per object would double
    /// the memory of a large cache).
    pub fn newest(&self, uid: &str, cached: S) -> S {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        match written.get(uid) {
            Some(ours) if *ours != cached => ours.clone(),
            Some(_) => {
                written.remove(uid);
                cached
            }
            None => cached,
        }
    }

    pub fn remember(&self, uid: &str, status: &S) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_owned(), status.clone());
    }

    /// Drops the copy of a deleted object.
    pub fn forget(&self, uid: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

/// Writes `status` by server-side apply with the operator's field manager.
pub async fn apply_status<K>(api: &Api<K>, name: &str, status: &impl Serialize) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use cognito_crds::AppUserStatus;

    use super::*;
    use crate::reconcile::conditions::{self, READY};

    #[test]
    fn our_written_status_wins_until_the_cache_reads_it_back() {
        let ours = AppUserStatus {
            user_status: Some("CONFIRMED".into()),
            conditions: vec![conditions::condition(READY, true, "R", "m", Some(1))],
            ..AppUserStatus::default()
        };
        let memory = StatusMemory::default();
        memory.remember("uid", &ours);

        let stale = AppUserStatus::default();
        assert_eq!(memory.newest("uid", stale.clone()), ours);
        assert_eq!(
            memory.newest("uid", stale),
            ours,
            "kept while the cache lags"
        );

        // What the cache holds after the API server round trip.
        let read_back: AppUserStatus =
            serde_json::from_value(serde_json::to_value(&ours).expect("serialize"))
                .expect("deserialize");
        assert_eq!(memory.newest("uid", read_back.clone()), read_back);
        let newer = AppUserStatus {
            enabled: Some(false),
            ..read_back
        };
        assert_eq!(
            memory.newest("uid", newer.clone()),
            newer,
            "forgotten once the cache caught up"
        );
    }
}
