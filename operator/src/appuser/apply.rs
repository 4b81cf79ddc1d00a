//! One reconcile of an AppUser that exists:
//!
//! 1. dereference the Ready pool and the password Secret (no AWS call while either is
//!    missing);
//! 2. observe the user only when something may have changed ([`decide::how_to_observe`]),
//!    or create it;
//! 3. set the password when its Secret changed;
//! 4. the writes that close the difference ([`super::attributes`]);
//! 5. status.
//!
//! An AppUser that is in sync costs no AWS call at all: drift is found by the census. The
//! password never reaches a log line, an Event, the status or an error message.

use std::time::Duration;

use cognito_crds::{
    AppUser, AppUserStatus,
    user_provisioning::{CognitoError, CognitoErrorKind, NewUser, password_format_problem},
};
use kube::{Api, ResourceExt, runtime::controller::Action};

use super::{
    attributes::{self, DesiredUser, ObservedUser},
    context::{Observation, UserContext},
    decide::{self, CreateFailure, Observe, PasswordStep},
    directory::UserDirectory,
    password::{self, PasswordSource},
    pool::{ReadyPool, ready_pool},
};
use crate::{
    error::{Error, Result},
    reconcile::{
        conditions::{READY, SYNCED, is_true, reasons},
        outcome::pending_request,
        report::{StatusDraft, normal},
    },
    runtime::context::Context,
};

/// How soon a user waiting for its pool looks again (pool events also wake it).
pub const WAIT_FOR_POOL: Duration = Duration::from_secs(15);

/// How a reconcile ends early: the action to return (the status is written).
type Early = Action;

/// The state of one reconcile of one AppUser.
pub struct Reconciler<'a> {
    user: &'a AppUser,
    uctx: &'a UserContext,
    ctx: &'a Context,
    namespace: String,
    uid: String,
    username: String,
    desired: DesiredUser,
    draft: StatusDraft<'a, AppUser, AppUserStatus>,
    /// The status the reconcile started from: written only if it changes.
    original: AppUserStatus,
}

impl<'a> Reconciler<'a> {
    pub fn new(user: &'a AppUser, uctx: &'a UserContext, api: Api<AppUser>) -> Result<Self> {
        let ctx = uctx.ctx.as_ref();
        let draft = StatusDraft::new(user, user.status.clone(), api, ctx, &uctx.written);
        Ok(Self {
            user,
            uctx,
            ctx,
            namespace: user
                .namespace()
                .ok_or(Error::MissingObjectKey("namespace"))?,
            uid: user.uid().ok_or(Error::MissingObjectKey("uid"))?,
            username: user.spec.email.clone(),
            desired: DesiredUser::of(&user.spec),
            original: draft.status.clone(),
            draft,
        })
    }

    pub async fn apply(mut self) -> Result<Action> {
        let request = pending_request(self.user, &self.draft.status);
        let (pool, password, version) = match self.dereference().await? {
            Ok(found) => found,
            Err(action) => return Ok(action),
        };
        let directory = UserDirectory::new(&self.ctx.aws_clients(&pool.region), &pool.pool_id);
        let (mut observed, created) = match self
            .observe_or_create(&directory, &password, &version)
            .await?
        {
            Ok(found) => found,
            Err(action) => return Ok(action),
        };

        let confirmed = observed.as_ref().is_none_or(ObservedUser::is_confirmed);
        match decide::password_step(&self.draft.status, &version, confirmed) {
            PasswordStep::Set => {
                if let Err(action) = self
                    .set_password(&directory, &password, &version, created, &mut observed)
                    .await?
                {
                    return Ok(action);
                }
            }
            PasswordStep::StillRefused => {
                self.draft.write_if_changed(&self.original).await?;
                return Ok(Action::await_change());
            }
            PasswordStep::Keep => {}
        }

        if let Some(observed) = observed
            && let Err(action) = self.converge(&directory, &pool, observed, created).await?
        {
            return Ok(action);
        }
        self.draft.status.enabled = Some(self.desired.enabled);
        self.draft.status.managed_attributes = self.desired.managed_attribute_names();
        if request.is_some() {
            self.draft.status.last_handled_reconcile_at = request;
        }
        self.report_ready(created).await?;
        Ok(Action::await_change())
    }

    /// The Ready pool (checked to be this namespace's) and the password; or why the user
    /// waits.
    async fn dereference(
        &mut self,
    ) -> Result<std::result::Result<(ReadyPool, String, String), Early>> {
        let pool = match ready_pool(self.uctx, self.user, &self.namespace).await? {
            Ok(pool) => pool,
            Err(message) => {
                if self.draft.fail(reasons::WAITING_FOR_POOL, &message) {
                    self.draft
                        .event(normal("WaitingForUserPool", "Reconcile"), &message)
                        .await;
                }
                self.draft.write_if_changed(&self.original).await?;
                return Ok(Err(Action::requeue(WAIT_FOR_POOL)));
            }
        };
        let pool_name = &self.user.spec.user_pool_ref.name;
        if let Some(group) = self
            .desired
            .groups
            .iter()
            .find(|g| !pool.groups.iter().any(|p| p == *g))
        {
            let message = format!("group {group} is not declared by UserPool {pool_name}");
            self.refuse(reasons::UNKNOWN_GROUP, "Reconcile", &message)
                .await?;
            return Ok(Err(Action::await_change()));
        }
        let claims = self.uctx.users.state();
        if let Some(holder) = decide::earlier_claim(self.user, claims.iter().map(AsRef::as_ref)) {
            let message = format!(
                "AppUser {holder} already declares {} in UserPool {pool_name}; two AppUsers cannot share one Cognito user",
                self.user.spec.email
            );
            self.refuse(reasons::DUPLICATE_EMAIL, "Reconcile", &message)
                .await?;
            // Nothing wakes this object when the holder goes away: look again.
            return Ok(Err(Action::requeue(WAIT_FOR_POOL)));
        }
        let reference = &self.user.spec.password_secret_ref;
        let mut source = password::read(&self.ctx.client, &self.namespace, reference).await?;
        if let PasswordSource::Missing(_) = &source
            && self.user.spec.generate_password
        {
            source = password::generate(
                &self.ctx.client,
                self.user,
                &self.namespace,
                pool.min_password_length,
            )
            .await?;
            if let PasswordSource::Found { .. } = &source {
                let note = format!(
                    "wrote a generated password into key {} of Secret {}",
                    reference.key, reference.name
                );
                self.draft
                    .event(normal("PasswordGenerated", "GeneratePassword"), &note)
                    .await;
            }
        }
        let (password, version) = match source {
            PasswordSource::Found {
                value: password,
                version,
            } => (password, version),
            PasswordSource::Missing(message) => {
                self.refuse(reasons::SECRET_MISSING, "Reconcile", &message)
                    .await?;
                // The Secret watch wakes the user when the Secret appears.
                return Ok(Err(Action::await_change()));
            }
        };
        if let Some(problem) = password_format_problem(&password) {
            let message = format!(
                "Secret {} key {} (version {version}): {problem}, which Cognito refuses",
                reference.name, reference.key
            );
            return self.password_rejected(&version, message).await.map(Err);
        }
        Ok(Ok((pool, password, version)))
    }

    /// What is known of the user before converging it, and whether this reconcile
    /// created it.
    async fn observe_or_create(
        &mut self,
        directory: &UserDirectory,
        password: &str,
        version: &str,
    ) -> Result<std::result::Result<(Option<ObservedUser>, bool), Early>> {
        let census = self.uctx.take_report(&self.uid);
        let observation = match decide::how_to_observe(
            self.user,
            &self.draft.status,
            directory.pool_id(),
            census.is_some(),
        ) {
            Observe::Create => Observation::Missing,
            Observe::CensusReport => census.unwrap_or(Observation::Unread),
            Observe::AsApplied => Observation::Unread,
            Observe::Read => match directory.get(&self.username).await? {
                Some(user) => Observation::Found(user),
                None => Observation::Missing,
            },
        };
        match observation {
            Observation::Unread => Ok(Ok((None, false))),
            Observation::Found(user) => {
                if self.draft.status.sub.is_none() {
                    tracing::info!(pool = %directory.pool_id(), "found the user a reconcile cut short created");
                    self.record_user(&user, directory.pool_id());
                }
                Ok(Ok((Some(user), false)))
            }
            Observation::Missing => self.create(directory, password, version).await,
        }
    }

    /// Creates the user, or adopts the one that holds its name.
    async fn create(
        &mut self,
        directory: &UserDirectory,
        password: &str,
        version: &str,
    ) -> Result<std::result::Result<(Option<ObservedUser>, bool), Early>> {
        let pool_id = directory.pool_id().to_owned();
        if self.draft.status.sub.is_some()
            && self.draft.status.user_pool_id.as_deref() == Some(&pool_id)
        {
            let user = format!("user {}", self.username);
            self.draft.recreating("UserRecreated", &user).await;
        }
        if self.draft.status.user_pool_id.as_deref() != Some(&pool_id) {
            // Recorded before the create: a reconcile cut short after it reads the user
            // instead of creating it again (decide::how_to_observe).
            let status = &mut self.draft.status;
            status.user_pool_id = Some(pool_id.clone());
            status.sub = None;
            status.username = None;
            status.applied_password_version = None;
            self.draft.write().await?;
        }
        tracing::info!(pool = %pool_id, "creating the Cognito user");
        let new_user = NewUser {
            username: &self.username,
            attributes: self.desired.attribute_types(),
            password,
        };
        let error = match directory.create(new_user).await {
            Ok(user) => {
                self.record_user(&user, &pool_id);
                // Record the ids before the next call that can fail.
                self.draft.write().await?;
                return Ok(Ok((Some(user), true)));
            }
            Err(error) => error,
        };
        match decide::create_failure(&error.kind) {
            CreateFailure::Adopt => {
                let Some(user) = directory.get(&self.username).await? else {
                    return Err(CognitoError::new(
                        "AdminGetUser",
                        CognitoErrorKind::UserNotFound(
                            "the user existed a moment ago, and then did not".into(),
                        ),
                    )
                    .into());
                };
                tracing::info!(pool = %pool_id, "adopting the existing Cognito user");
                let note = format!("adopted the existing Cognito user {}", self.username);
                self.draft.event(normal("Adopted", "Create"), &note).await;
                self.record_user(&user, &pool_id);
                Ok(Ok((Some(user), false)))
            }
            CreateFailure::PasswordRefused(message) => {
                let message = self.cognito_refused_password(version, &message);
                self.password_rejected(version, message).await.map(Err)
            }
            CreateFailure::SpecRefused(message) => self.spec_rejected(&message).await.map(Err),
            CreateFailure::Retry => Err(error.into()),
        }
    }

    async fn set_password(
        &mut self,
        directory: &UserDirectory,
        password: &str,
        version: &str,
        created: bool,
        observed: &mut Option<ObservedUser>,
    ) -> Result<std::result::Result<(), Early>> {
        tracing::info!(secret_version = %version, "setting the permanent password");
        match directory.set_password(&self.username, password).await {
            Ok(()) => {
                let rotated = !created && self.draft.status.applied_password_version.is_some();
                let status = &mut self.draft.status;
                status.applied_password_version = Some(version.to_owned());
                status.rejected_password_version = None;
                status.user_status = Some(attributes::CONFIRMED.into());
                if let Some(observed) = observed.as_mut() {
                    observed.status = Some(attributes::CONFIRMED.into());
                }
                // Recorded before the next call that can fail or wait: a reconcile cut
                // short (a crash, a restart) must not set the same password again.
                self.draft.write().await?;
                if rotated {
                    let note = format!(
                        "applied version {version} of Secret {}",
                        self.user.spec.password_secret_ref.name
                    );
                    self.draft
                        .event(normal("PasswordApplied", "SetPassword"), &note)
                        .await;
                }
                Ok(Ok(()))
            }
            Err(error) => match decide::create_failure(&error.kind) {
                CreateFailure::PasswordRefused(message) => {
                    let message = self.cognito_refused_password(version, &message);
                    self.password_rejected(version, message).await.map(Err)
                }
                _ => Err(error.into()),
            },
        }
    }

    /// Attributes, enabled flag and groups: the fewest calls that close the difference.
    async fn converge(
        &mut self,
        directory: &UserDirectory,
        pool: &ReadyPool,
        mut observed: ObservedUser,
        created: bool,
    ) -> Result<std::result::Result<(), Early>> {
        if observed.groups.is_none() {
            observed.groups = Some(if pool.groups.is_empty() {
                Default::default()
            } else {
                directory.groups_of(&self.username).await?
            });
        }
        let changes = attributes::changes(
            &self.desired,
            &observed,
            &self.draft.status.managed_attributes,
        );
        if !changes.is_empty() {
            tracing::info!(changes = %changes.summary(), "updating the Cognito user");
        }
        if let Err(error) = apply_changes(directory, &self.username, &changes).await {
            if let CreateFailure::SpecRefused(message) = decide::create_failure(&error.kind) {
                return self.spec_rejected(&message).await.map(Err);
            }
            return Err(error.into());
        }
        if !changes.is_empty() && !created {
            self.draft
                .event(normal("Updated", "Update"), &changes.summary())
                .await;
        }
        Ok(Ok(()))
    }

    async fn report_ready(&mut self, created: bool) -> Result<()> {
        let was_ready = is_true(&self.draft.status.conditions, READY);
        self.draft.set_conditions(vec![
            self.draft.condition(
                READY,
                true,
                reasons::USER_READY,
                "the user can sign in as declared",
            ),
            self.draft.condition(
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
            self.draft.event(normal("Created", "Create"), &note).await;
        } else if !was_ready {
            self.draft
                .event(
                    normal("Ready", "Reconcile"),
                    "the user can sign in as declared",
                )
                .await;
        }
        self.draft.write_if_changed(&self.original).await
    }

    fn record_user(&mut self, user: &ObservedUser, pool_id: &str) {
        let status = &mut self.draft.status;
        status.sub = user.sub.clone();
        status.username = Some(user.username.clone());
        status.user_status = user.status.clone();
        status.enabled = Some(user.enabled);
        status.user_pool_id = Some(pool_id.to_owned());
        status.applied_password_version = None;
    }

    fn cognito_refused_password(&self, version: &str, cognito_message: &str) -> String {
        format!(
            "Cognito refused the password in Secret {} (version {version}): {cognito_message}",
            self.user.spec.password_secret_ref.name
        )
    }

    async fn refuse(&mut self, reason: &str, action: &str, message: &str) -> Result<()> {
        self.draft
            .refuse(&self.original, reason, action, message)
            .await
    }

    /// Reports a password that cannot be set, and waits for the Secret to change.
    async fn password_rejected(&mut self, version: &str, message: String) -> Result<Early> {
        self.draft.status.rejected_password_version = Some(version.to_owned());
        self.refuse(reasons::INVALID_PASSWORD, "SetPassword", &message)
            .await?;
        // Retrying cannot help: the Secret watch brings the next version.
        Ok(Action::await_change())
    }

    async fn spec_rejected(&mut self, cognito_message: &str) -> Result<Early> {
        let message = format!("Cognito refused the spec: {cognito_message}");
        self.refuse(reasons::INVALID_SPEC, "Reconcile", &message)
            .await?;
        Ok(Action::await_change())
    }
}

/// The calls that apply `changes`, in order.
async fn apply_changes(
    directory: &UserDirectory,
    username: &str,
    changes: &attributes::UserChanges,
) -> std::result::Result<(), CognitoError> {
    if !changes.update.is_empty() {
        directory
            .update_attributes(username, attributes::to_attribute_types(&changes.update))
            .await?;
    }
    if !changes.delete.is_empty() {
        directory
            .delete_attributes(username, changes.delete.clone())
            .await?;
    }
    if let Some(enabled) = changes.enable {
        directory.set_enabled(username, enabled).await?;
    }
    for group in &changes.add_groups {
        directory.add_to_group(username, group).await?;
    }
    for group in &changes.remove_groups {
        directory.remove_from_group(username, group).await?;
    }
    Ok(())
}
