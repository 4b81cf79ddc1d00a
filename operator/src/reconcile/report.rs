//! One reconcile's draft of an object's status, and the ways both controllers report on
//! it: conditions, Events, "refused" (Ready and Synced False with a Warning Event), and
//! the write that remembers what it wrote (see [`super::status`]).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{Api, Resource, ResourceExt, runtime::events::EventType};
use serde::de::DeserializeOwned;

use super::{
    conditions::{self, READY, SYNCED},
    events::publish,
    status::{ObjectStatus, StatusMemory, apply_status},
};
use crate::{error::Result, runtime::context::Context};

/// What an Event says besides its note: its type, reason and action.
pub struct Notice<'s> {
    type_: EventType,
    reason: &'s str,
    action: &'s str,
}

/// A Normal Event's `reason` for `action`.
pub fn normal<'s>(reason: &'s str, action: &'s str) -> Notice<'s> {
    Notice {
        type_: EventType::Normal,
        reason,
        action,
    }
}

/// A Warning Event's `reason` for `action`.
pub fn warning<'s>(reason: &'s str, action: &'s str) -> Notice<'s> {
    Notice {
        type_: EventType::Warning,
        reason,
        action,
    }
}

/// The status a reconcile builds, starting from the newest one known.
pub struct StatusDraft<'a, K, S> {
    pub object: &'a K,
    pub ctx: &'a Context,
    pub status: S,
    memory: &'a StatusMemory<S>,
    api: Api<K>,
}

impl<'a, K, S> StatusDraft<'a, K, S>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: ObjectStatus,
{
    /// Starts from our own last write when the watch cache has not caught up with it.
    pub fn new(
        object: &'a K,
        cached: Option<S>,
        api: Api<K>,
        ctx: &'a Context,
        memory: &'a StatusMemory<S>,
    ) -> Self {
        let cached = cached.unwrap_or_default();
        let status = match object.uid() {
            Some(uid) => memory.newest(&uid, cached),
            None => cached,
        };
        Self {
            object,
            ctx,
            status,
            memory,
            api,
        }
    }

    pub fn condition(&self, type_: &str, ok: bool, reason: &str, message: &str) -> Condition {
        conditions::condition(type_, ok, reason, message, self.object.meta().generation)
    }

    pub fn set_conditions(&mut self, new: Vec<Condition>) {
        let merged = conditions::merge(self.status.conditions(), new);
        *self.status.conditions_mut() = merged;
    }

    /// Sets one condition.
    pub fn set(&mut self, type_: &str, ok: bool, reason: &str, message: &str) {
        let condition = self.condition(type_, ok, reason, message);
        self.set_conditions(vec![condition]);
    }

    /// Sets Ready and Synced to False for `reason`; true when that changes the conditions
    /// (anything but their timestamps).
    pub fn fail(&mut self, reason: &str, message: &str) -> bool {
        let before = self.status.conditions().to_vec();
        self.set_conditions(vec![
            self.condition(READY, false, reason, message),
            self.condition(SYNCED, false, reason, message),
        ]);
        conditions::differ(&before, self.status.conditions())
    }

    pub async fn event(&self, notice: Notice<'_>, note: &str) {
        publish(
            self.ctx,
            self.object,
            notice.type_,
            notice.reason,
            notice.action,
            note,
        )
        .await;
    }

    /// Says that `what` was deleted outside the operator and is being created again.
    pub async fn recreating(&self, reason: &str, what: &str) {
        let note = format!("{what} was deleted outside the operator; creating it again");
        self.event(warning(reason, "Create"), &note).await;
    }

    /// Sets condition `type_` and publishes `notice` with the same message.
    pub async fn set_and_publish(
        &mut self,
        (type_, ok, reason): (&str, bool, &str),
        notice: Notice<'_>,
        message: &str,
    ) {
        self.set(type_, ok, reason, message);
        self.event(notice, message).await;
    }

    /// Fails Ready and Synced for `reason`, publishes a Warning Event when that is news,
    /// and writes the status if it changed since `original`.
    pub async fn refuse(
        &mut self,
        original: &S,
        reason: &str,
        action: &str,
        message: &str,
    ) -> Result<()> {
        if self.fail(reason, message) {
            self.event(warning(reason, action), message).await;
        }
        self.write_if_changed(original).await
    }

    /// Writes the status when it differs from `original`.
    pub async fn write_if_changed(&mut self, original: &S) -> Result<()> {
        self.status
            .set_observed_generation(self.object.meta().generation);
        if self.status == *original {
            return Ok(());
        }
        self.write().await
    }

    /// Writes the status and remembers it until the watch cache holds it.
    pub async fn write(&mut self) -> Result<()> {
        self.status
            .set_observed_generation(self.object.meta().generation);
        apply_status(&self.api, &self.object.name_any(), &self.status).await?;
        if let Some(uid) = self.object.uid() {
            self.memory.remember(&uid, &self.status);
        }
        Ok(())
    }
}
