//! The UserPool controller: keeps one CloudFormation stack per UserPool in line with its
//! spec, reports ids and conditions in status, and writes the connection Secret.
//!
//! Data flows one way: watch (here) -> [`decide`] (pure) -> [`stack`] (CloudFormation)
//! -> status ([`apply`], [`cleanup`]) and [`connection_secret`].

pub mod apply;
pub mod cleanup;
pub mod client_secrets;
pub mod connection_secret;
pub mod decide;
pub mod functions;
pub mod identity_providers;
pub mod oauth;
pub mod placement;
pub mod stack;
pub mod template;
pub mod triggers;

use std::sync::Arc;

use cognito_crds::UserPool;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, ResourceExt,
    core::PartialObjectMeta,
    runtime::{
        Controller, WatchStreamExt, controller::Action, reflector::ObjectRef, reflector::Store,
        watcher,
    },
};

use self::{
    apply::{PoolContext, Reconciler},
    connection_secret::MANAGED_BY,
};
use crate::{
    error::{Error, Result},
    reconcile::{
        conditions::SYNCED,
        finalizer::reconcile_guarded,
        outcome::{failure_report, retry_with_backoff},
        report::{StatusDraft, warning},
        status::StatusMemory,
    },
    runtime::context::Context,
};

/// Finalizer that guards the stack's deletion policy.
pub const FINALIZER: &str = "cognito.kubeauth.dev/stack";

const KIND: &str = "UserPool";

/// Runs the controller until shutdown is signalled, over one namespace or all of them.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (pools, secrets, tenant_secrets) = match namespace {
        Some(ns) => (
            Api::<UserPool>::namespaced(ctx.client.clone(), ns),
            Api::<Secret>::namespaced(ctx.client.clone(), ns),
            Api::<PartialObjectMeta<Secret>>::namespaced(ctx.client.clone(), ns),
        ),
        None => (
            Api::<UserPool>::all(ctx.client.clone()),
            Api::<Secret>::all(ctx.client.clone()),
            Api::<PartialObjectMeta<Secret>>::all(ctx.client.clone()),
        ),
    };
    let label = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    let pctx = Arc::new(PoolContext {
        ctx,
        written: StatusMemory::default(),
    });
    let controller = Controller::new(pools, watcher::Config::default().any_semantic());
    // Metadata only: a change to a trigger sink's or identity provider's Secret just
    // names the pools to update.
    let sink_secret_events = watcher(tenant_secrets, watcher::Config::default())
        .default_backoff()
        .touched_objects();
    let sink_users = pools_of_sink_secret(controller.store());
    controller
        .owns(secrets, watcher::Config::default().labels(&label))
        .watches_stream(sink_secret_events, sink_users)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, pctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// The pools whose trigger sink or identity provider secret a Secret event may have
/// changed.
fn pools_of_sink_secret(
    store: Store<UserPool>,
) -> impl Fn(PartialObjectMeta<Secret>) -> Vec<ObjectRef<UserPool>> {
    move |secret: PartialObjectMeta<Secret>| {
        let (namespace, name) = (secret.namespace(), secret.name_any());
        store
            .state()
            .iter()
            .filter(|pool| {
                pool.namespace() == namespace
                    && (pool
                        .spec
                        .triggers
                        .used_sink()
                        .is_some_and(|sink| sink.secret_ref.name == name)
                        || identity_providers::secrets(&pool.spec)
                            .iter()
                            .any(|secret| secret.source.name == name))
            })
            .map(|pool| ObjectRef::from_obj(pool.as_ref()))
            .collect()
    }
}

async fn reconcile(pool: Arc<UserPool>, pctx: Arc<PoolContext>) -> Result<Action> {
    reconcile_guarded(
        pool.as_ref(),
        &pctx.ctx,
        KIND,
        FINALIZER,
        async |api: Api<UserPool>| {
            let result = Reconciler::new(&pool, &pctx, api.clone())?.apply().await;
            if let Err(error) = &result {
                report_error(&pool, &pctx, &api, error).await;
            }
            result
        },
        async |api| cleanup::cleanup(&pool, &pctx, api).await,
    )
    .await
}

/// Says why a reconcile failed in the Synced condition and an Event (the cause and what
/// to do; the error policy logs the whole error at debug level) and retries with
/// backoff. Best effort: the API server may be what failed.
async fn report_error(pool: &UserPool, pctx: &PoolContext, api: &Api<UserPool>, error: &Error) {
    let (reason, message) = failure_report(error);
    let mut draft = StatusDraft::new(
        pool,
        pool.status.clone(),
        api.clone(),
        &pctx.ctx,
        &pctx.written,
    );
    draft.set(SYNCED, false, reason, &message);
    if let Err(error) = draft.write().await {
        tracing::warn!(%error, "could not record the reconcile error in status");
    }
    draft.event(warning(reason, "Reconcile"), &message).await;
}

fn error_policy(pool: Arc<UserPool>, error: &Error, pctx: Arc<PoolContext>) -> Action {
    retry_with_backoff(pool.as_ref(), error, &pctx.ctx, KIND)
}
