//! The AppUser controller: keeps one Cognito user per AppUser as declared, with the
//! permanent password taken from a Secret, and the [`census`] that finds drift.
//!
//! Data flows one way: watches (here) -> [`decide`] (pure) -> [`directory`] (Cognito,
//! rate-limited) -> status ([`apply`], [`cleanup`]). The census reads whole pools in
//! `ListUsers` pages and hands what differs to the reconciles through [`context`].

pub mod apply;
pub mod attributes;
pub mod census;
pub mod cleanup;
pub mod context;
pub mod decide;
pub mod directory;
pub mod generated_password;
pub mod password;
pub mod pool;

use std::sync::Arc;

use cognito_crds::{AppUser, UserPool};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Resource, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use self::{apply::Reconciler, context::UserContext};
use crate::{
    error::{Error, Result},
    reconcile::{
        conditions::{self, READY, SYNCED},
        finalizer::reconcile_guarded,
        outcome::retry_with_backoff,
        report::{StatusDraft, warning},
    },
    runtime::context::Context,
};

/// Finalizer that guards the user's deletion policy.
pub const FINALIZER: &str = "cognito.kubeauth.dev/user";

const KIND: &str = "AppUser";
/// `kubectl apply` (client-side) keeps a copy of the whole object here.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what no reconcile reads and what makes up most of an object's size: the field
/// managers and kubectl's copy of the last applied object. At 10,000 AppUsers the cache
/// is most of the operator's memory; on a Secret applied with kubectl, that copy holds
/// the password.
fn drop_bookkeeping<K: Resource>(object: &mut K) {
    object.managed_fields_mut().clear();
    object.annotations_mut().remove(LAST_APPLIED_ANNOTATION);
}

/// Runs the controller (and the census) until shutdown is signalled.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (users, pools, secrets) = match namespace {
        Some(ns) => (
            Api::<AppUser>::namespaced(ctx.client.clone(), ns),
            Api::<UserPool>::namespaced(ctx.client.clone(), ns),
            Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), ns),
        ),
        None => (
            Api::<AppUser>::all(ctx.client.clone()),
            Api::<UserPool>::all(ctx.client.clone()),
            Api::<PartialObjectMeta<Secret>>::all(ctx.client.clone()),
        ),
    };
    let (pool_store, pool_writer) = reflector::store();
    let pool_events = reflector::reflector(pool_writer, watcher(pools, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    // Secrets are watched by metadata only: the operator holds no password in memory
    // between reconciles, and a Secret change just names the users to reconcile.
    let secret_events = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .modify(drop_bookkeeping)
        .touched_objects();

    let (user_store, user_writer) = reflector::store();
    let user_events = watcher(users, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(drop_bookkeeping)
        .reflect(user_writer)
        .touched_objects();
    let controller = Controller::for_stream(user_events, user_store.clone()).with_config(
        controller::Config::default().concurrency(ctx.settings.user_reconcile_concurrency),
    );
    let (census_tx, census_rx) = mpsc::channel::<ObjectRef<AppUser>>(1024);
    let resync_interval = ctx.settings.resync_interval;
    let user_ctx = Arc::new(UserContext::new(ctx, pool_store, user_store.clone()));

    let census = census::run(
        user_ctx.clone(),
        user_store.clone(),
        census_tx,
        resync_interval,
    );
    let controller = controller
        .watches_stream(pool_events, users_of_ready_pool(user_store.clone()))
        .watches_stream(secret_events, users_of_secret(user_store))
        .reconcile_on(ReceiverStream::new(census_rx))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, user_ctx)
        .for_each(|_| futures::future::ready(()));
    // The census runs as long as the controller does.
    tokio::select! {
        () = controller => {}
        () = census => {}
    }
}

/// The users a pool event may unblock: those of the pool, once it is Ready.
fn users_of_ready_pool(store: Store<AppUser>) -> impl Fn(UserPool) -> Vec<ObjectRef<AppUser>> {
    move |pool: UserPool| {
        let ready = pool
            .status
            .as_ref()
            .is_some_and(|s| conditions::is_true(&s.conditions, READY));
        if !ready {
            return Vec::new();
        }
        let (namespace, name) = (pool.namespace(), pool.name_any());
        users_where(&store, |u| {
            u.namespace() == namespace && u.spec.user_pool_ref.name == name
        })
    }
}

/// The users whose password a Secret event may have changed.
fn users_of_secret(
    store: Store<AppUser>,
) -> impl Fn(PartialObjectMeta<Secret>) -> Vec<ObjectRef<AppUser>> {
    move |secret: PartialObjectMeta<Secret>| {
        let (namespace, name) = (secret.namespace(), secret.name_any());
        users_where(&store, |u| {
            u.namespace() == namespace && u.spec.password_secret_ref.name == name
        })
    }
}

fn users_where(store: &Store<AppUser>, keep: impl Fn(&AppUser) -> bool) -> Vec<ObjectRef<AppUser>> {
    store
        .state()
        .iter()
        .filter(|u| keep(u))
        .map(|u| ObjectRef::from_obj(u.as_ref()))
        .collect()
}

async fn reconcile(user: Arc<AppUser>, uctx: Arc<UserContext>) -> Result<Action> {
    reconcile_guarded(
        user.as_ref(),
        &uctx.ctx,
        KIND,
        FINALIZER,
        async |api: Api<AppUser>| {
            let result = Reconciler::new(&user, &uctx, api.clone())?.apply().await;
            if let Err(error) = &result {
                report_error(&user, &uctx, api, error).await;
            }
            result
        },
        async |_| cleanup::cleanup(&user, &uctx).await,
    )
    .await
}

/// Says why a reconcile failed in the Synced condition, with a Warning Event, when that
/// is news: while Cognito throttles or is down, thousands of users fail again and again,
/// and each repeat would cost a status write. Best effort: the API server may be what
/// failed.
async fn report_error(user: &AppUser, uctx: &UserContext, api: Api<AppUser>, error: &Error) {
    let (reason, message) = decide::failure_report(error);
    let mut draft = StatusDraft::new(user, user.status.clone(), api, &uctx.ctx, &uctx.written);
    let before = draft.status.conditions.clone();
    draft.set(SYNCED, false, reason, &message);
    if !conditions::differ(&before, &draft.status.conditions) {
        return;
    }
    if let Err(error) = draft.write().await {
        tracing::warn!(%error, "could not record the reconcile error in status");
    }
    draft.event(warning(reason, "Reconcile"), &message).await;
}

fn error_policy(user: Arc<AppUser>, error: &Error, uctx: Arc<UserContext>) -> Action {
    retry_with_backoff(user.as_ref(), error, &uctx.ctx, KIND)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_watched_secret_keeps_no_copy_of_its_applied_data() {
        let mut secret: PartialObjectMeta<Secret> = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "alice-password",
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": r#"{"stringData":{"password":"Hunter2-hunter2"}}"#,
                    "team": "web",
                },
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
            },
        }))
        .expect("a Secret's metadata");

        drop_bookkeeping(&mut secret);

        assert_eq!(
            secret.annotations(),
            &std::collections::BTreeMap::from([("team".to_owned(), "web".to_owned())])
        );
        assert!(secret.managed_fields().is_empty());
    }
}
