//! The AppUser controller: keeps one Cognito user per AppUser as declared, with the
//! permanent password taken from a Secret.
//!
//! Reconcile = find the Ready pool and the password Secret (no AWS call while either is
//! missing) -> observe the user only when something may have changed (a new generation,
//! a failed earlier reconcile, or a drift report from [`crate::user_census`]) -> the
//! writes that close the difference ([`crate::user_attributes`]) -> status. An AppUser
//! that is in sync costs no AWS call at all: drift is found by the census, which reads
//! whole pools in `ListUsers` pages.
//!
//! The password is read from the Secret only to hand it to Cognito; it never reaches a
//! log line, an Event, the status or an error message.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::StreamExt;
use k8s_openapi::{api::core::v1::Secret, apimachinery::pkg::apis::meta::v1::Condition};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    core::PartialObjectMeta,
    runtime::{
        Controller, WatchStreamExt,
        controller::{self, Action},
        events::EventType,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    conditions::{self, READY, SYNCED, reasons},
    context::{Context, backoff},
    crd::{AppUser, AppUserStatus, UserPool, appuser::UserDeletionPolicy},
    error::{Error, Result},
    object_meta::{add_finalizer, publish, remove_finalizer},
    user_attributes::{self, DesiredUser, ObservedUser},
    user_directory::UserDirectory,
    user_provisioning::{self, ProvisionError},
    userpool_controller::FIELD_MANAGER,
};

/// Finalizer that guards the user's deletion policy.
pub const FINALIZER: &str = "cognito.kubeauth.dev/user";

const KIND: &str = "AppUser";
/// How soon a user waiting for its pool looks again (pool events also wake it).
const WAIT_FOR_POOL: Duration = Duration::from_secs(15);
/// `kubectl apply` (client-side) keeps a copy of the whole object here.
const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Failures in a row after which throttling is reported in the Synced condition.
const THROTTLED_REPORT_AFTER: u32 = 5;

/// What the AppUser reconciles share beyond [`Context`].
pub struct UserContext {
    pub ctx: Arc<Context>,
    pub pools: Store<UserPool>,
    /// Every AppUser, to find two that declare the same Cognito user.
    users: Store<AppUser>,
    /// What the census saw of users that differ from their spec, by AppUser uid: lets the
    /// reconcile it triggers skip its own `AdminGetUser`.
    observations: Mutex<HashMap<String, Observation>>,
    /// The status this process last wrote, by AppUser uid. The operator is the only writer
    /// of AppUser status, so this is never older than the watch cache, which can lag one
    /// event behind our own write: reconciling from that stale status would repeat calls
    /// (a second set-password) or skip them (a deletion that no longer knows the pool).
    written: Mutex<HashMap<String, AppUserStatus>>,
}

/// Our last write for `uid` while the cache has not caught up with it, else `cached`
/// (forgetting our copy once the cache holds it).
fn newest_status(
    written: &mut HashMap<String, AppUserStatus>,
    uid: &str,
    cached: AppUserStatus,
) -> AppUserStatus {
    match written.get(uid) {
        Some(ours) if *ours != cached => ours.clone(),
        Some(_) => {
            written.remove(uid);
            cached
        }
        None => cached,
    }
}

/// What is known about a user in Cognito before converging it.
#[derive(Debug, Clone)]
pub enum Observation {
    /// Nothing read: the user is taken to be as last applied.
    Unread,
    Found(ObservedUser),
    Missing,
}

impl UserContext {
    /// Hands the census' observation of `uid` to its next reconcile.
    pub fn report(&self, uid: &str, observation: Observation) {
        self.observations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_owned(), observation);
    }

    fn take_report(&self, uid: &str) -> Option<Observation> {
        self.observations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid)
    }

    /// The newest status of `user`: our own last write, else what the watch cache holds.
    /// Once the cache holds our write, the copy is dropped: it is only needed while the
    /// cache lags, and keeping one per user would double the memory per AppUser.
    fn status_of(&self, user: &AppUser) -> AppUserStatus {
        let cached = user.status.clone().unwrap_or_default();
        match user.uid() {
            Some(uid) => newest_status(
                &mut self.written.lock().unwrap_or_else(|e| e.into_inner()),
                &uid,
                cached,
            ),
            None => cached,
        }
    }

    fn remember_status(&self, uid: &str, status: &AppUserStatus) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_owned(), status.clone());
    }

    fn forget(&self, uid: &str) {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }
}

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
    let user_ctx = Arc::new(UserContext {
        ctx: ctx.clone(),
        pools: pool_store.clone(),
        users: user_store.clone(),
        observations: Mutex::default(),
        written: Mutex::default(),
    });

    let users_of_pool = {
        let store = user_store.clone();
        move |pool: UserPool| {
            // Only a Ready pool can unblock its users.
            let ready = pool
                .status
                .as_ref()
                .is_some_and(|s| conditions::is_true(&s.conditions, READY));
            let (namespace, name) = (pool.namespace(), pool.name_any());
            let refs: Vec<ObjectRef<AppUser>> = if ready {
                store
                    .state()
                    .iter()
                    .filter(|u| u.namespace() == namespace && u.spec.user_pool_ref.name == name)
                    .map(|u| ObjectRef::from_obj(u.as_ref()))
                    .collect()
            } else {
                Vec::new()
            };
            refs
        }
    };
    let users_of_secret = {
        let store = user_store.clone();
        move |secret: PartialObjectMeta<Secret>| {
            let (namespace, name) = (secret.namespace(), secret.name_any());
            store
                .state()
                .iter()
                .filter(|u| u.namespace() == namespace && u.spec.password_secret_ref.name == name)
                .map(|u| ObjectRef::from_obj(u.as_ref()))
                .collect::<Vec<_>>()
        }
    };

    let census = crate::user_census::run(
        user_ctx.clone(),
        user_store,
        census_tx,
        ctx.settings.resync_interval,
    );
    let controller = controller
        .watches_stream(pool_events, users_of_pool)
        .watches_stream(secret_events, users_of_secret)
        .reconcile_on(tokio_stream_from(census_rx))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, user_ctx)
        .for_each(|_| futures::future::ready(()));
    // The census runs as long as the controller does.
    tokio::select! {
        () = controller => {}
        () = census => {}
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn reconcile(user: Arc<AppUser>, uctx: Arc<UserContext>) -> Result<Action> {
    let ctx = &uctx.ctx;
    let _timer = ctx.metrics.reconcile(KIND);
    let namespace = user
        .namespace()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    let api = Api::<AppUser>::namespaced(ctx.client.clone(), &namespace);
    let action = if user.meta().deletion_timestamp.is_some() {
        cleanup(&user, &api, &uctx).await?
    } else if !user.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(user.as_ref(), &api, FINALIZER).await?;
        Action::requeue(Duration::ZERO)
    } else {
        Reconciler::new(&user, &uctx, &namespace)?
            .apply(&api)
            .await?
    };
    ctx.record_success(&user.uid().unwrap_or_default());
    Ok(action)
}

fn error_policy(user: Arc<AppUser>, error: &Error, uctx: Arc<UserContext>) -> Action {
    let ctx = &uctx.ctx;
    ctx.metrics.reconcile_failure(KIND, error.label());
    let failures = ctx.record_failure(&user.uid().unwrap_or_default());
    tracing::warn!(user = %user.name_any(), namespace = ?user.namespace(), %error, failures, "reconcile failed");
    Action::requeue(backoff(failures))
}

/// The password Secret as far as one reconcile needs it.
enum PasswordSource {
    Found { password: String, version: String },
    Missing(String),
}

/// The state of one reconcile of one AppUser.
struct Reconciler<'a> {
    user: &'a AppUser,
    uctx: &'a UserContext,
    ctx: &'a Context,
    name: String,
    namespace: String,
    uid: String,
    username: String,
    desired: DesiredUser,
    status: AppUserStatus,
}

impl<'a> Reconciler<'a> {
    fn new(user: &'a AppUser, uctx: &'a UserContext, namespace: &str) -> Result<Self> {
        Ok(Self {
            user,
            uctx,
            ctx: &uctx.ctx,
            name: user.name_any(),
            namespace: namespace.to_owned(),
            uid: user.uid().ok_or(Error::MissingObjectKey("uid"))?,
            username: user.spec.email.clone(),
            desired: DesiredUser::of(&user.spec),
            status: uctx.status_of(user),
        })
    }

    async fn apply(mut self, api: &Api<AppUser>) -> Result<Action> {
        let original = self.status.clone();

        // 1. Dereference: the pool and the password, without any AWS call.
        let pool = match self.ready_pool().await? {
            Ok(pool) => pool,
            Err(message) => {
                let changed = self.set_waiting(reasons::WAITING_FOR_POOL, &message);
                if changed {
                    self.event(
                        EventType::Normal,
                        "WaitingForUserPool",
                        "Reconcile",
                        &message,
                    )
                    .await;
                }
                self.finish(api, &original).await?;
                return Ok(Action::requeue(WAIT_FOR_POOL));
            }
        };
        if let Some(group) = self
            .desired
            .groups
            .iter()
            .find(|g| !pool.groups.iter().any(|p| p == *g))
        {
            let message = format!(
                "group {group} is not declared by UserPool {}",
                self.user.spec.user_pool_ref.name
            );
            self.refuse(
                api,
                &original,
                reasons::UNKNOWN_GROUP,
                "Reconcile",
                &message,
            )
            .await?;
            return Ok(Action::await_change());
        }
        let claims = self.uctx.users.state();
        if let Some(holder) = earlier_claim(self.user, claims.iter().map(AsRef::as_ref)) {
            let message = format!(
                "AppUser {holder} already declares {} in UserPool {}; two AppUsers cannot share one Cognito user",
                self.user.spec.email, self.user.spec.user_pool_ref.name
            );
            self.refuse(
                api,
                &original,
                reasons::DUPLICATE_EMAIL,
                "Reconcile",
                &message,
            )
            .await?;
            // Nothing wakes this object when the holder goes away: look again.
            return Ok(Action::requeue(WAIT_FOR_POOL));
        }
        let mut source = self.password().await?;
        if let PasswordSource::Missing(_) = &source
            && self.user.spec.generate_password
        {
            source = self.generate_password(&pool).await?;
        }
        let (password, version) = match source {
            PasswordSource::Found { password, version } => (password, version),
            PasswordSource::Missing(message) => {
                self.refuse(
                    api,
                    &original,
                    reasons::SECRET_MISSING,
                    "Reconcile",
                    &message,
                )
                .await?;
                // The Secret watch wakes the user when the Secret appears.
                return Ok(Action::await_change());
            }
        };
        if let Some(problem) = user_provisioning::password_format_problem(&password) {
            let message = format!(
                "Secret {} key {} (version {version}): {problem}, which Cognito refuses",
                self.user.spec.password_secret_ref.name, self.user.spec.password_secret_ref.key
            );
            return self
                .password_rejected(api, &original, &version, message)
                .await;
        }
        let directory = UserDirectory::new(&self.ctx.aws_clients(&pool.region), &pool.pool_id);

        // 2. Observe, or create the user when it does not exist.
        let mut created = false;
        let mut observed = match self.observe(&directory).await? {
            Observation::Unread => None,
            Observation::Found(observed) => Some(observed),
            Observation::Missing => {
                if self.status.sub.is_some()
                    && self.status.user_pool_id.as_deref() == Some(&pool.pool_id)
                {
                    let note = format!(
                        "user {} was deleted outside the operator; creating it again",
                        self.username
                    );
                    self.event(EventType::Warning, "UserRecreated", "Create", &note)
                        .await;
                }
                match directory
                    .create(&self.username, self.desired.attribute_types(), &password)
                    .await
                {
                    Ok(user) => {
                        created = true;
                        self.record_user(&user, &pool.pool_id);
                        self.status.applied_password_version = None;
                        // Record the ids before the next call that can fail.
                        self.write_status(api).await?;
                        Some(user)
                    }
                    Err((_, ProvisionError::UserExists(_))) => {
                        let Some(user) = directory
                            .get(&self.username)
                            .await
                            .map_err(|(op, e)| Error::cognito_user(op, e))?
                        else {
                            return Err(Error::Cognito {
                                operation: "AdminGetUser",
                                message: "the user exists and then did not".into(),
                            });
                        };
                        let note = format!("adopted the existing Cognito user {}", self.username);
                        self.event(EventType::Normal, "Adopted", "Create", &note)
                            .await;
                        self.record_user(&user, &pool.pool_id);
                        self.status.applied_password_version = None;
                        Some(user)
                    }
                    Err((_, ProvisionError::InvalidPassword(message))) => {
                        let message = self.cognito_refused_password(&version, &message);
                        return self
                            .password_rejected(api, &original, &version, message)
                            .await;
                    }
                    Err((_, ProvisionError::InvalidParameter(message))) => {
                        return self.spec_rejected(api, &original, &message).await;
                    }
                    Err((op, e)) => return Err(self.aws_failure(api, op, e).await),
                }
            }
        };

        // 3. The password: whenever the Secret changed, or the user has no permanent one.
        let unconfirmed = observed.as_ref().is_some_and(|o| !o.is_confirmed());
        let new_version = self.status.applied_password_version.as_deref() != Some(&version);
        if (new_version || unconfirmed)
            && self.status.rejected_password_version.as_deref() != Some(&version)
        {
            match directory.set_password(&self.username, &password).await {
                Ok(()) => {
                    let rotated = !created && self.status.applied_password_version.is_some();
                    self.status.applied_password_version = Some(version.clone());
                    self.status.rejected_password_version = None;
                    self.status.user_status = Some(user_attributes::CONFIRMED.into());
                    if let Some(observed) = observed.as_mut() {
                        observed.status = Some(user_attributes::CONFIRMED.into());
                    }
                    if rotated {
                        let note = format!(
                            "applied version {version} of Secret {}",
                            self.user.spec.password_secret_ref.name
                        );
                        self.event(EventType::Normal, "PasswordApplied", "SetPassword", &note)
                            .await;
                    }
                }
                Err((_, ProvisionError::InvalidPassword(message))) => {
                    let message = self.cognito_refused_password(&version, &message);
                    return self
                        .password_rejected(api, &original, &version, message)
                        .await;
                }
                Err((op, e)) => return Err(self.aws_failure(api, op, e).await),
            }
        } else if self.status.rejected_password_version.as_deref() == Some(&version) {
            // Still the refused version: keep saying so, and wait for a new one.
            self.finish(api, &original).await?;
            return Ok(Action::await_change());
        }

        // 4. Attributes, enabled flag and groups.
        if let Some(mut observed) = observed {
            if observed.groups.is_none() {
                observed.groups = Some(if pool.groups.is_empty() {
                    Default::default()
                } else {
                    directory
                        .groups_of(&self.username)
                        .await
                        .map_err(|(op, e)| Error::cognito_user(op, e))?
                });
            }
            let changes =
                user_attributes::changes(&self.desired, &observed, &self.status.managed_attributes);
            if let Err((op, e)) = self.converge(&directory, &changes).await {
                if let ProvisionError::InvalidParameter(message) = e {
                    return self.spec_rejected(api, &original, &message).await;
                }
                return Err(self.aws_failure(api, op, e).await);
            }
            if !changes.is_empty() && !created {
                self.event(EventType::Normal, "Updated", "Update", &changes.summary())
                    .await;
            }
        }
        self.status.enabled = Some(self.desired.enabled);
        self.status.managed_attributes = self.desired.managed_attribute_names();

        // 5. Status.
        let was_ready = conditions::is_true(&self.status.conditions, READY);
        self.set_conditions(vec![
            self.condition(
                READY,
                true,
                reasons::USER_READY,
                "the user can sign in as declared",
            ),
            self.condition(
                SYNCED,
                true,
                reasons::IN_SYNC,
                "the Cognito user matches the spec",
            ),
        ]);
        if created {
            let note = format!(
                "created Cognito user {} with a permanent password",
                self.username
            );
            self.event(EventType::Normal, "Created", "Create", &note)
                .await;
        } else if !was_ready {
            self.event(
                EventType::Normal,
                "Ready",
                "Reconcile",
                "the user can sign in as declared",
            )
            .await;
        }
        self.finish(api, &original).await?;
        Ok(Action::await_change())
    }

    /// The referenced pool, when it is Ready; otherwise why the user waits.
    async fn ready_pool(&self) -> Result<std::result::Result<ReadyPool, String>> {
        let pool_name = &self.user.spec.user_pool_ref.name;
        let key = ObjectRef::<UserPool>::new(pool_name).within(&self.namespace);
        let pool = match self.uctx.pools.get(&key) {
            Some(pool) => Some(pool.as_ref().clone()),
            // The pool watch may not have listed yet (just after start): ask the API.
            None => {
                Api::<UserPool>::namespaced(self.ctx.client.clone(), &self.namespace)
                    .get_opt(pool_name)
                    .await?
            }
        };
        let Some(pool) = pool else {
            return Ok(Err(format!("UserPool {pool_name} does not exist")));
        };
        let status = pool.status.clone().unwrap_or_default();
        let pool_id = match status.user_pool_id {
            Some(id) if conditions::is_true(&status.conditions, READY) => id,
            _ => return Ok(Err(format!("UserPool {pool_name} is not Ready yet"))),
        };
        let region = pool
            .spec
            .region
            .clone()
            .or_else(|| self.ctx.default_region())
            .ok_or(Error::MissingObjectKey(
                "spec.region of the UserPool (and the operator has no AWS region)",
            ))?;
        Ok(Ok(ReadyPool {
            pool_id,
            region,
            groups: pool.spec.groups.iter().map(|g| g.name.clone()).collect(),
            min_password_length: usize::try_from(pool.spec.password_policy.minimum_length)
                .unwrap_or(0),
        }))
    }

    /// Writes a generated password into the Secret: a new Secret owned by this AppUser,
    /// or one more key in an existing Secret (whose ownership is left alone).
    async fn generate_password(&mut self, pool: &ReadyPool) -> Result<PasswordSource> {
        let reference = &self.user.spec.password_secret_ref;
        let password = crate::generated_password::generate(pool.min_password_length);
        let api = Api::<Secret>::namespaced(self.ctx.client.clone(), &self.namespace);
        let data = std::collections::BTreeMap::from([(
            reference.key.clone(),
            k8s_openapi::ByteString(password.clone().into_bytes()),
        )]);
        let secret = match api.get_opt(&reference.name).await? {
            None => {
                let owner = self
                    .user
                    .controller_owner_ref(&())
                    .ok_or(Error::MissingObjectKey("uid"))?;
                let secret = Secret {
                    metadata: kube::api::ObjectMeta {
                        name: Some(reference.name.clone()),
                        owner_references: Some(vec![owner]),
                        ..Default::default()
                    },
                    data: Some(data),
                    ..Secret::default()
                };
                api.create(&kube::api::PostParams::default(), &secret)
                    .await?
            }
            Some(_) => {
                let patch = json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": { "name": reference.name },
                    "data": data,
                });
                api.patch(
                    &reference.name,
                    &PatchParams::apply(FIELD_MANAGER),
                    &Patch::Apply(&patch),
                )
                .await?
            }
        };
        let note = format!(
            "wrote a generated password into key {} of Secret {}",
            reference.key, reference.name
        );
        self.event(
            EventType::Normal,
            "PasswordGenerated",
            "GeneratePassword",
            &note,
        )
        .await;
        Ok(PasswordSource::Found {
            password,
            version: secret.resource_version().unwrap_or_default(),
        })
    }

    /// Reads the password Secret. Only its resourceVersion is ever recorded.
    async fn password(&self) -> Result<PasswordSource> {
        let reference = &self.user.spec.password_secret_ref;
        let secret = Api::<Secret>::namespaced(self.ctx.client.clone(), &self.namespace)
            .get_opt(&reference.name)
            .await?;
        let Some(secret) = secret else {
            return Ok(PasswordSource::Missing(format!(
                "Secret {} does not exist",
                reference.name
            )));
        };
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get(&reference.key))
            .map(|v| v.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(&reference.key))
                    .map(|v| v.clone().into_bytes())
            });
        let password = match value.map(String::from_utf8) {
            Some(Ok(password)) if !password.is_empty() => password,
            Some(Ok(_)) => {
                return Ok(PasswordSource::Missing(format!(
                    "key {} of Secret {} is empty",
                    reference.key, reference.name
                )));
            }
            Some(Err(_)) => {
                return Ok(PasswordSource::Missing(format!(
                    "key {} of Secret {} is not UTF-8 text",
                    reference.key, reference.name
                )));
            }
            None => {
                return Ok(PasswordSource::Missing(format!(
                    "Secret {} has no key {}",
                    reference.name, reference.key
                )));
            }
        };
        Ok(PasswordSource::Found {
            password,
            version: secret.resource_version().unwrap_or_default(),
        })
    }

    /// What is known of the user before converging it, reading Cognito only when needed.
    async fn observe(&self, directory: &UserDirectory) -> Result<Observation> {
        let census = self.uctx.take_report(&self.uid);
        let same_pool = self.status.user_pool_id.as_deref() == Some(directory.pool_id());
        if self.status.sub.is_none() || !same_pool {
            // Never created (or the pool was replaced): create, adopting on a name clash.
            return Ok(Observation::Missing);
        }
        if let Some(observation) = census {
            return Ok(observation);
        }
        if is_settled(&self.status, self.user.metadata.generation) {
            return Ok(Observation::Unread);
        }
        match directory.get(&self.username).await {
            Ok(Some(user)) => Ok(Observation::Found(user)),
            Ok(None) => Ok(Observation::Missing),
            Err((op, e)) => Err(Error::cognito_user(op, e)),
        }
    }

    /// The fewest calls that apply `changes`.
    async fn converge(
        &self,
        directory: &UserDirectory,
        changes: &user_attributes::UserChanges,
    ) -> std::result::Result<(), (&'static str, ProvisionError)> {
        if !changes.update.is_empty() {
            directory
                .update_attributes(
                    &self.username,
                    user_attributes::to_attribute_types(&changes.update),
                )
                .await?;
        }
        if !changes.delete.is_empty() {
            directory
                .delete_attributes(&self.username, changes.delete.clone())
                .await?;
        }
        if let Some(enabled) = changes.enable {
            directory.set_enabled(&self.username, enabled).await?;
        }
        for group in &changes.add_groups {
            directory.add_to_group(&self.username, group).await?;
        }
        for group in &changes.remove_groups {
            directory.remove_from_group(&self.username, group).await?;
        }
        Ok(())
    }

    fn record_user(&mut self, user: &ObservedUser, pool_id: &str) {
        self.status.sub = user.sub.clone();
        self.status.username = Some(user.username.clone());
        self.status.user_status = user.status.clone();
        self.status.enabled = Some(user.enabled);
        self.status.user_pool_id = Some(pool_id.to_owned());
    }

    fn cognito_refused_password(&self, version: &str, cognito_message: &str) -> String {
        format!(
            "Cognito refused the password in Secret {} (version {version}): {cognito_message}",
            self.user.spec.password_secret_ref.name
        )
    }

    /// Reports a password that cannot be set, and waits for the Secret to change.
    async fn password_rejected(
        mut self,
        api: &Api<AppUser>,
        original: &AppUserStatus,
        version: &str,
        message: String,
    ) -> Result<Action> {
        self.status.rejected_password_version = Some(version.to_owned());
        self.refuse(
            api,
            original,
            reasons::INVALID_PASSWORD,
            "SetPassword",
            &message,
        )
        .await?;
        // Retrying cannot help: the Secret watch brings the next version.
        Ok(Action::await_change())
    }

    async fn spec_rejected(
        mut self,
        api: &Api<AppUser>,
        original: &AppUserStatus,
        cognito_message: &str,
    ) -> Result<Action> {
        let message = format!("Cognito refused the spec: {cognito_message}");
        self.refuse(api, original, reasons::INVALID_SPEC, "Reconcile", &message)
            .await?;
        Ok(Action::await_change())
    }

    /// Sets Ready and Synced to False for `reason`, publishes a Warning Event when that
    /// is news, and writes the status if it changed.
    async fn refuse(
        &mut self,
        api: &Api<AppUser>,
        original: &AppUserStatus,
        reason: &str,
        action: &str,
        message: &str,
    ) -> Result<()> {
        if self.set_failed(reason, message) {
            self.event(EventType::Warning, reason, action, message)
                .await;
        }
        self.finish(api, original).await
    }

    /// Turns a failed call into the reconcile's error; persistent throttling is also
    /// reported in Synced (Ready stays as it was: the user still works).
    async fn aws_failure(
        &mut self,
        api: &Api<AppUser>,
        op: &'static str,
        e: ProvisionError,
    ) -> Error {
        let error = Error::cognito_user(op, e);
        // This failure is the next one error_policy counts.
        if matches!(error, Error::Throttled { .. })
            && self.ctx.failures(&self.uid) + 1 >= THROTTLED_REPORT_AFTER
        {
            let message = format!("Cognito keeps throttling {op}; retrying with backoff");
            self.set_conditions(vec![self.condition(
                SYNCED,
                false,
                reasons::THROTTLED,
                &message,
            )]);
            if let Err(e) = self.write_status(api).await {
                tracing::warn!(error = %e, "could not report throttling");
            }
        }
        error
    }

    /// Sets Ready and Synced to False; true when that changes the conditions.
    fn set_failed(&mut self, reason: &str, message: &str) -> bool {
        let before = self.status.conditions.clone();
        self.set_conditions(vec![
            self.condition(READY, false, reason, message),
            self.condition(SYNCED, false, reason, message),
        ]);
        differs(&before, &self.status.conditions)
    }

    fn set_waiting(&mut self, reason: &str, message: &str) -> bool {
        self.set_failed(reason, message)
    }

    fn condition(&self, type_: &str, ok: bool, reason: &str, message: &str) -> Condition {
        conditions::condition(type_, ok, reason, message, self.user.metadata.generation)
    }

    fn set_conditions(&mut self, new: Vec<Condition>) {
        self.status.conditions = conditions::merge(&self.status.conditions, new);
    }

    async fn event(&self, type_: EventType, reason: &str, action: &str, note: &str) {
        publish(self.ctx, self.user, type_, reason, action, note).await;
    }

    /// Writes status when it differs from what the reconcile started with.
    async fn finish(&mut self, api: &Api<AppUser>, original: &AppUserStatus) -> Result<()> {
        self.status.observed_generation = self.user.metadata.generation;
        if self.status == *original {
            return Ok(());
        }
        self.write_status(api).await
    }

    async fn write_status(&mut self, api: &Api<AppUser>) -> Result<()> {
        self.status.observed_generation = self.user.metadata.generation;
        let patch = json!({
            "apiVersion": AppUser::api_version(&()),
            "kind": AppUser::kind(&()),
            "status": self.status,
        });
        api.patch_status(
            &self.name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
        self.uctx.remember_status(&self.uid, &self.status);
        Ok(())
    }
}

/// The name of an older AppUser that declares the same Cognito user as `user` (same
/// namespace, UserPool and email, compared without case as Cognito does by default), if
/// any. The oldest claim wins; ties go to the name that sorts first.
fn earlier_claim<'a>(user: &AppUser, others: impl Iterator<Item = &'a AppUser>) -> Option<String> {
    let rank = |u: &AppUser| (u.creation_timestamp(), u.name_any());
    others
        .filter(|other| {
            other.uid() != user.uid()
                && other.namespace() == user.namespace()
                && other.spec.user_pool_ref.name == user.spec.user_pool_ref.name
                && other.spec.email.eq_ignore_ascii_case(&user.spec.email)
                && rank(other) < rank(user)
        })
        .min_by_key(|other| rank(other))
        .map(ResourceExt::name_any)
}

/// Whether the last reconcile of `generation` converged the user, so that it needs no
/// read before the census reports on it. A user created by a reconcile that failed after
/// the create has no applied password yet, and may still lack its flags and groups.
fn is_settled(status: &AppUserStatus, generation: Option<i64>) -> bool {
    status.observed_generation == generation
        && status.applied_password_version.is_some()
        && conditions::is_true(&status.conditions, READY)
        && conditions::is_true(&status.conditions, SYNCED)
}

/// Whether two condition lists differ in anything but timestamps.
fn differs(a: &[Condition], b: &[Condition]) -> bool {
    let key = |c: &Condition| {
        (
            c.type_.clone(),
            c.status.clone(),
            c.reason.clone(),
            c.message.clone(),
        )
    };
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| key(x) != key(y))
}

/// The parts of a Ready UserPool a user reconcile needs.
struct ReadyPool {
    pool_id: String,
    region: String,
    groups: Vec<String>,
    min_password_length: usize,
}

/// The region of a pool id (`us-east-1_AbC123` -> `us-east-1`).
fn region_of(pool_id: &str) -> Option<&str> {
    pool_id.split_once('_').map(|(region, _)| region)
}

/// Applies the deletion policy; the finalizer goes once the policy is carried out.
async fn cleanup(user: &AppUser, api: &Api<AppUser>, uctx: &UserContext) -> Result<Action> {
    let ctx = &uctx.ctx;
    if !user.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let status = uctx.status_of(user);
    let pool_id = status.user_pool_id.as_deref();
    match (user.spec.deletion_policy, pool_id) {
        (UserDeletionPolicy::Retain, Some(_)) => {
            let note = format!(
                "deletionPolicy Retain: Cognito user {} is kept",
                user.spec.email
            );
            publish(ctx, user, EventType::Normal, "Retained", "Delete", &note).await;
        }
        (UserDeletionPolicy::Delete, Some(pool_id)) => {
            let region = region_of(pool_id)
                .map(str::to_owned)
                .or_else(|| ctx.default_region())
                .ok_or(Error::MissingObjectKey("the region of status.userPoolId"))?;
            let directory = UserDirectory::new(&ctx.aws_clients(&region), pool_id);
            directory
                .delete(&user.spec.email)
                .await
                .map_err(|(op, e)| Error::cognito_user(op, e))?;
            let note = format!("deleted Cognito user {}", user.spec.email);
            publish(ctx, user, EventType::Normal, "Deleted", "Delete", &note).await;
        }
        // Never created: nothing to delete or keep.
        (_, None) => {}
    }
    remove_finalizer(user, api, FINALIZER).await?;
    if let Some(uid) = user.uid() {
        uctx.forget(&uid);
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_written_status_wins_until_the_cache_reads_it_back() {
        let ours = AppUserStatus {
            user_status: Some("CONFIRMED".into()),
            conditions: vec![conditions::condition(READY, true, "R", "m", Some(1))],
            ..AppUserStatus::default()
        };
        let mut written = HashMap::from([("uid".to_owned(), ours.clone())]);

        let stale = AppUserStatus::default();
        assert_eq!(newest_status(&mut written, "uid", stale), ours);
        assert!(written.contains_key("uid"), "kept while the cache lags");

        // What the cache holds after the API server round trip.
        let read_back: AppUserStatus =
            serde_json::from_value(serde_json::to_value(&ours).expect("serialize"))
                .expect("deserialize");
        assert_eq!(
            newest_status(&mut written, "uid", read_back.clone()),
            read_back
        );
        assert!(written.is_empty(), "forgotten once the cache caught up");
    }

    fn claim(name: &str, email: &str, pool: &str, created_at: &str) -> AppUser {
        serde_json::from_value(json!({
            "apiVersion": "cognito.kubeauth.dev/v1alpha1",
            "kind": "AppUser",
            "metadata": {
                "name": name,
                "namespace": "shop",
                "uid": format!("uid-{name}"),
                "creationTimestamp": created_at,
            },
            "spec": {
                "userPoolRef": {"name": pool},
                "email": email,
                "passwordSecretRef": {"name": "s"},
            },
        }))
        .expect("an AppUser")
    }

    #[test]
    fn the_oldest_appuser_holds_an_email() {
        let alice = claim("alice", "alice@example.com", "shop", "2026-01-01T00:00:00Z");
        let alice_again = claim(
            "alice-2",
            "Alice@Example.com",
            "shop",
            "2026-01-02T00:00:00Z",
        );
        let same_second = claim(
            "alice-0",
            "alice@example.com",
            "shop",
            "2026-01-02T00:00:00Z",
        );
        let other_pool = claim(
            "alice-3",
            "alice@example.com",
            "staff",
            "2025-01-01T00:00:00Z",
        );
        let all = [&alice, &alice_again, &same_second, &other_pool];

        assert_eq!(earlier_claim(&alice, all.into_iter()), None);
        assert_eq!(earlier_claim(&other_pool, all.into_iter()), None);
        assert_eq!(
            earlier_claim(&alice_again, all.into_iter()).as_deref(),
            Some("alice")
        );
        assert_eq!(
            earlier_claim(&same_second, all.into_iter()).as_deref(),
            Some("alice")
        );
        // Once the holder is gone, the tie goes to the name that sorts first.
        assert_eq!(
            earlier_claim(&alice_again, [&alice_again, &same_second].into_iter()).as_deref(),
            Some("alice-0")
        );
    }

    #[test]
    fn a_user_created_by_a_failed_reconcile_is_not_settled() {
        let converged = AppUserStatus {
            observed_generation: Some(3),
            applied_password_version: Some("41".into()),
            conditions: vec![
                conditions::condition(READY, true, "Ready", "m", Some(3)),
                conditions::condition(SYNCED, true, "InSync", "m", Some(3)),
            ],
            ..AppUserStatus::default()
        };
        assert!(is_settled(&converged, Some(3)));
        assert!(!is_settled(&converged, Some(4)), "a newer generation");

        // What a create writes before its next call, over an earlier Ready status.
        let recreated = AppUserStatus {
            applied_password_version: None,
            ..converged.clone()
        };
        assert!(!is_settled(&recreated, Some(3)));

        let out_of_sync = AppUserStatus {
            conditions: vec![
                conditions::condition(READY, true, "Ready", "m", Some(3)),
                conditions::condition(SYNCED, false, "Throttled", "m", Some(3)),
            ],
            ..converged
        };
        assert!(!is_settled(&out_of_sync, Some(3)));
    }

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

    #[test]
    fn region_comes_from_the_pool_id() {
        assert_eq!(region_of("eu-west-1_AbC123"), Some("eu-west-1"));
        assert_eq!(region_of("nounderscore"), None);
    }

    #[test]
    fn condition_lists_compare_without_timestamps() {
        let a = vec![conditions::condition(READY, true, "R", "m", Some(1))];
        let mut b = a.clone();
        b[0].last_transition_time = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        );
        assert!(!differs(&a, &b));
        b[0].message = "other".into();
        assert!(differs(&a, &b));
    }
}
