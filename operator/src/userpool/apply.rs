//! One reconcile of a UserPool that exists: read the stack -> decide ([`super::decide`])
//! -> at most one CloudFormation write -> status and connection Secret.
//!
//! Stack operations are asynchronous: a reconcile starts one and requeues to poll it.

use std::{collections::BTreeMap, time::Duration};

use cognito_crds::{UserPool, UserPoolStatus};
use kube::{Api, ResourceExt, runtime::controller::Action};

use super::{
    connection_secret::{self, Written},
    decide::{self, AfterCheck, CreateOnly, Phase, Step},
    functions, identity_providers, oauth,
    placement::{self, Ownership},
    stack::{ObservedStack, StackBody, Stacks},
    template::{self, CreateOnlySettings, StackTemplate, TemplateInputs},
    triggers,
};
use crate::{
    error::{Error, Result},
    reconcile::{
        conditions::{READY, SYNCED, reasons},
        outcome::pending_request,
        report::{StatusDraft, normal, warning},
        secret_value::{self, SecretValue},
        status::StatusMemory,
    },
    runtime::context::Context,
};

/// How soon the operator looks again right after starting a stack operation.
pub const POLL: Duration = Duration::from_secs(2);

/// What UserPool reconciles share beyond [`Context`].
pub struct PoolContext {
    pub ctx: std::sync::Arc<Context>,
    pub written: StatusMemory<UserPoolStatus>,
}

/// The state of one reconcile of one UserPool.
pub struct Reconciler<'a> {
    pub pool: &'a UserPool,
    pub ctx: &'a Context,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub region: String,
    pub stack_name: String,
    pub stacks: Stacks,
    pub draft: StatusDraft<'a, UserPool, UserPoolStatus>,
    /// The trigger sink's shared secret, read at the start of [`Self::apply`].
    sink_secret: Option<SinkSecret>,
    /// The identity providers' secrets by stack parameter, read at the start of
    /// [`Self::apply`].
    provider_secrets: BTreeMap<String, SinkSecret>,
}

/// A secret from a tenant's Secret (the trigger sink's, an identity provider's) and the
/// version of the Secret it came from.
struct SinkSecret {
    value: String,
    version: String,
}

impl<'a> Reconciler<'a> {
    pub fn new(pool: &'a UserPool, pctx: &'a PoolContext, api: Api<UserPool>) -> Result<Self> {
        let ctx = pctx.ctx.as_ref();
        let namespace = pool
            .namespace()
            .ok_or(Error::MissingObjectKey("namespace"))?;
        let draft = StatusDraft::new(pool, pool.status.clone(), api, ctx, &pctx.written);
        // Decided from the newest status, which records the region the stack was made in.
        let region = placement::region(&pool.spec, Some(&draft.status), ctx.default_region())
            .ok_or(Error::MissingObjectKey(
                "spec.region (and the operator has no AWS region)",
            ))?;
        Ok(Self {
            name: pool.name_any(),
            uid: pool.uid().ok_or(Error::MissingObjectKey("uid"))?,
            stack_name: placement::stack_name(pool, Some(&draft.status), &namespace),
            stacks: Stacks::new(ctx.aws_clients(&region).cloudformation),
            namespace,
            region,
            pool,
            ctx,
            draft,
            sink_secret: None,
            provider_secrets: BTreeMap::new(),
        })
    }

    pub async fn apply(mut self) -> Result<Action> {
        match self.read_sink_secret().await? {
            Ok(secret) => self.sink_secret = secret,
            Err(message) => {
                let retry = Action::requeue(self.ctx.settings.resync_interval);
                return self
                    .refuse(reasons::SINK_SECRET_INVALID, &message, retry)
                    .await;
            }
        }
        match self.read_provider_secrets().await? {
            Ok(secrets) => self.provider_secrets = secrets,
            Err(message) => {
                let retry = Action::requeue(self.ctx.settings.resync_interval);
                return self
                    .refuse(reasons::PROVIDER_SECRET_INVALID, &message, retry)
                    .await;
            }
        }
        let spec = &self.pool.spec;
        let dangling =
            oauth::dangling_references(spec, &template::effective_clients(spec, &self.name));
        if !dangling.is_empty() {
            let message = format!("refused: {}", dangling.join("; "));
            return self
                .refuse(reasons::INVALID_SPEC, &message, Action::await_change())
                .await;
        }
        let desired_create_only = CreateOnlySettings::of(spec, &self.name);
        let mut revision = self.draft.status.pool_revision.unwrap_or(0);
        let applied_create_only = self
            .draft
            .status
            .applied_create_only
            .as_deref()
            .and_then(|json| serde_json::from_str::<CreateOnlySettings>(json).ok());
        let mut template = self.render(revision);
        let already_submitted =
            self.draft.status.applied_template_hash.as_deref() == Some(template.hash.as_str());
        let replacing = match decide::create_only(
            applied_create_only.as_ref(),
            &desired_create_only,
            spec.allow_replacement,
            already_submitted,
        ) {
            CreateOnly::Keep => false,
            CreateOnly::Replace => {
                // A new revision is a new pool logical id.
                revision += 1;
                template = self.render(revision);
                true
            }
            CreateOnly::Refuse(changes) => {
                let message = format!(
                    "refused: {} cannot change on an existing pool; set allowReplacement: true to replace the pool (its users are lost)",
                    changes.join(", ")
                );
                self.draft
                    .set(SYNCED, false, reasons::CREATE_ONLY_CHANGE, &message);
                self.draft
                    .event(warning("Refused", "Refuse"), &message)
                    .await;
                self.draft.write().await?;
                return Ok(Action::await_change());
            }
        };
        let request = pending_request(self.pool, &self.draft.status);

        let Some(stack) = self.stacks.describe(&self.stack_name).await? else {
            return self.create(&template, revision, request).await;
        };
        let adoption_allowed = self.ctx.settings.adoption.allows(&self.namespace);
        let owner = placement::ownership(
            self.pool,
            &self.uid,
            &self.stack_name,
            &stack.tags,
            adoption_allowed,
        );
        match owner {
            Ownership::Ours => {}
            Ownership::Adopt => {
                tracing::info!(stack = %self.stack_name, "adopting a stack (adopt annotation, adoption allowed in this namespace)");
            }
            Ownership::Refused(reason, message) => {
                self.draft.status.stack_status = Some(stack.status.clone());
                self.draft.fail(reason, &message);
                self.draft.event(warning(reason, "Refuse"), &message).await;
                self.draft.write().await?;
                return Ok(Action::await_change());
            }
        }

        let status = &mut self.draft.status;
        let previous_status = status.stack_status.replace(stack.status.clone());
        status.stack_id = Some(stack.id.clone());
        status.stack_name = Some(self.stack_name.clone());
        status.region = Some(self.region.clone());
        let submitted = status.applied_template_hash.as_deref() == Some(template.hash.as_str());
        // Whatever the step, the stack was read from AWS: the request is handled.
        if request.is_some() {
            status.last_handled_reconcile_at = request.clone();
        }
        let news = previous_status.as_deref() != Some(stack.status.as_str());
        let phase = Phase::of(&stack.status);
        if phase != Phase::InProgress {
            self.ctx.polls_done(&self.uid);
        }
        let mut step = decide::next_step(phase, submitted, request.is_some());
        if step == Step::CheckRunningTemplate {
            let running = self.stacks.running_template_hash(&stack.id).await?;
            step = match decide::after_template_check(
                phase,
                running.as_deref() == Some(template.hash.as_str()),
            ) {
                AfterCheck::InSync => Step::InSync,
                AfterCheck::Update => Step::Update,
                AfterCheck::ReportUpdateFailed => {
                    return self.report_update_failed(&stack, news).await;
                }
            };
        }
        match step {
            Step::Poll => {
                self.draft.write().await?;
                Ok(Action::requeue(self.ctx.next_poll(&self.uid)))
            }
            Step::ReportBroken => {
                let retry = Action::requeue(self.ctx.settings.resync_interval);
                let failure = (reasons::STACK_BROKEN, "Reconcile", news);
                self.report_failure(&stack, failure, retry).await
            }
            Step::ReportCreateFailed => {
                // No pool exists, so no create-only setting binds the next spec.
                self.draft.status.applied_create_only = None;
                let failure = (reasons::CREATE_FAILED, "Create", news);
                self.report_failure(&stack, failure, Action::await_change())
                    .await
            }
            Step::DeleteFailedCreate => {
                tracing::info!(stack = %self.stack_name, "deleting the stack of a failed create, to create it again");
                self.stacks.delete(&stack.id).await?;
                let message = "deleting the stack left by a failed create, to create it again";
                self.draft.set(SYNCED, false, reasons::RECREATING, message);
                self.draft
                    .event(normal("Recreating", "Delete"), message)
                    .await;
                self.draft.write().await?;
                Ok(Action::requeue(POLL))
            }
            Step::Update | Step::CheckRunningTemplate => {
                self.update(&stack, &template, revision, replacing).await
            }
            Step::InSync => self.in_sync(&stack).await,
            Step::AwaitDeletion => Ok(Action::requeue(POLL)),
        }
    }

    fn render(&self, revision: u32) -> StackTemplate {
        template::render(
            &self.pool.spec,
            &TemplateInputs {
                pool_name: &format!("{}-{}", self.namespace, self.name),
                default_client_name: &self.name,
                pool_revision: revision,
                pool_tags: &placement::stack_tags(self.pool, &self.namespace, &self.uid),
                stack_name: &self.stack_name,
                sink_secret_revision: self.sink_secret.as_ref().map(|s| s.version.as_str()),
                provider_secret_versions: &self
                    .provider_secrets
                    .iter()
                    .map(|(parameter, secret)| (parameter.clone(), secret.version.clone()))
                    .collect(),
            },
        )
    }

    fn stack_body(&self, template: &StackTemplate) -> StackBody {
        StackBody {
            template: template.to_json(),
            tags: placement::stack_tags(self.pool, &self.namespace, &self.uid),
            parameters: self
                .sink_secret
                .iter()
                .map(|s| (triggers::SINK_SECRET_PARAMETER.to_owned(), s.value.clone()))
                .chain(
                    self.provider_secrets
                        .iter()
                        .map(|(parameter, s)| (parameter.clone(), s.value.clone())),
                )
                .collect(),
        }
    }

    /// The trigger sink's secret when a trigger uses the sink; `Err` says why the
    /// tenant's Secret cannot serve.
    async fn read_sink_secret(&self) -> Result<std::result::Result<Option<SinkSecret>, String>> {
        let Some(sink) = self.pool.spec.triggers.used_sink() else {
            return Ok(Ok(None));
        };
        let reference = &sink.secret_ref;
        let found = secret_value::read(
            &self.ctx.client,
            &self.namespace,
            &reference.name,
            &reference.key,
        )
        .await?;
        Ok(match found {
            SecretValue::Found { value, .. }
                if value.chars().count() < triggers::SINK_SECRET_MIN_LENGTH =>
            {
                Err(format!(
                    "trigger sink: key {} of Secret {} holds fewer than {} characters",
                    reference.key,
                    reference.name,
                    triggers::SINK_SECRET_MIN_LENGTH
                ))
            }
            SecretValue::Found { value, version } => Ok(Some(SinkSecret { value, version })),
            SecretValue::Missing(why) => Err(format!("trigger sink: {why}")),
        })
    }

    /// The identity providers' secrets by stack parameter; `Err` says which Secret
    /// cannot serve and why.
    async fn read_provider_secrets(
        &self,
    ) -> Result<std::result::Result<BTreeMap<String, SinkSecret>, String>> {
        let mut secrets = BTreeMap::new();
        for wanted in identity_providers::secrets(&self.pool.spec) {
            let found = secret_value::read(
                &self.ctx.client,
                &self.namespace,
                &wanted.source.name,
                &wanted.source.key,
            )
            .await?;
            match found {
                SecretValue::Found { value, version } => {
                    secrets.insert(wanted.parameter, SinkSecret { value, version });
                }
                SecretValue::Missing(why) => {
                    return Ok(Err(format!(
                        "identity provider {} ({}): {why}",
                        wanted.provider, wanted.detail
                    )));
                }
            }
        }
        Ok(Ok(secrets))
    }

    /// The first trigger function this namespace may not use, with the reason.
    async fn refused_function(&self) -> Result<Option<String>> {
        let functions = self.pool.spec.triggers.functions();
        if functions.is_empty() {
            return Ok(None);
        }
        let lambda = self.ctx.aws_clients(&self.region).lambda;
        functions::first_refused(&lambda, &self.namespace, &functions).await
    }

    /// Reports a spec the operator will not apply: Synced false (and Ready false while
    /// there is no pool), a Warning Event, then `then`.
    async fn refuse(mut self, reason: &str, message: &str, then: Action) -> Result<Action> {
        if self.draft.status.user_pool_id.is_some() {
            self.draft.set(SYNCED, false, reason, message);
        } else {
            self.draft.fail(reason, message);
        }
        self.draft.event(warning(reason, "Refuse"), message).await;
        self.draft.write().await?;
        Ok(then)
    }

    async fn create(
        mut self,
        template: &StackTemplate,
        revision: u32,
        request: Option<String>,
    ) -> Result<Action> {
        if let Some(message) = self.refused_function().await? {
            let retry = Action::requeue(self.ctx.settings.resync_interval);
            return self
                .refuse(reasons::TRIGGER_FUNCTION_REFUSED, &message, retry)
                .await;
        }
        let recreating = self.draft.status.stack_id.is_some();
        tracing::info!(stack = %self.stack_name, region = %self.region, recreating, "creating stack");
        let id = self
            .stacks
            .create(&self.stack_name, &self.stack_body(template))
            .await?;
        // Record the id at once: the next reconcile must find this stack, not make another.
        let status = &mut self.draft.status;
        status.stack_id = Some(id);
        status.stack_name = Some(self.stack_name.clone());
        status.region = Some(self.region.clone());
        status.stack_status = Some("CREATE_IN_PROGRESS".into());
        if request.is_some() {
            status.last_handled_reconcile_at = request;
        }
        self.record_submission(template, revision);
        let message = format!("creating stack {}", self.stack_name);
        self.draft.fail(reasons::CREATING, &message);
        if recreating {
            let stack = format!("stack {}", self.stack_name);
            self.draft.recreating("StackRecreated", &stack).await;
        } else {
            self.draft
                .event(normal("Creating", "Create"), &message)
                .await;
        }
        self.draft.write().await?;
        Ok(Action::requeue(POLL))
    }

    async fn update(
        mut self,
        stack: &ObservedStack,
        template: &StackTemplate,
        revision: u32,
        replacing: bool,
    ) -> Result<Action> {
        if let Some(message) = self.refused_function().await? {
            let retry = Action::requeue(self.ctx.settings.resync_interval);
            return self
                .refuse(reasons::TRIGGER_FUNCTION_REFUSED, &message, retry)
                .await;
        }
        tracing::info!(stack = %self.stack_name, replacing, template = %template.hash, "updating stack");
        let changed = self
            .stacks
            .update(&stack.id, &self.stack_body(template))
            .await?;
        self.record_submission(template, revision);
        if changed {
            let message = if replacing {
                format!(
                    "replacing the user pool (allowReplacement) through stack {}",
                    self.stack_name
                )
            } else {
                format!("updating stack {}", self.stack_name)
            };
            self.draft.status.stack_status = Some("UPDATE_IN_PROGRESS".into());
            self.draft.set(SYNCED, false, reasons::UPDATING, &message);
            let reason = if replacing { "Replacing" } else { "Updating" };
            self.draft.event(normal(reason, "Update"), &message).await;
        } else {
            tracing::info!(stack = %self.stack_name, "CloudFormation had nothing to update");
        }
        self.draft.write().await?;
        Ok(Action::requeue(if changed { POLL } else { Duration::ZERO }))
    }

    /// Fails Ready and Synced for `reason` with CloudFormation's cause, and publishes it
    /// as a Warning Event for `action` when the stack state is `news`.
    async fn report_failure(
        mut self,
        stack: &ObservedStack,
        (reason, action, news): (&str, &str, bool),
        then: Action,
    ) -> Result<Action> {
        let message = self.failure_message(stack).await?;
        self.draft.fail(reason, &message);
        if news {
            self.draft.event(warning("Failed", action), &message).await;
        }
        self.draft.write().await?;
        Ok(then)
    }

    /// An update failed and was rolled back: the pool works with its previous settings.
    async fn report_update_failed(mut self, stack: &ObservedStack, news: bool) -> Result<Action> {
        let message = self.failure_message(stack).await?;
        self.record_outputs(stack).await?;
        self.draft.set_conditions(vec![
            self.draft.condition(
                READY,
                true,
                reasons::AVAILABLE,
                "the pool works with its previous settings",
            ),
            self.draft
                .condition(SYNCED, false, reasons::UPDATE_FAILED, &message),
        ]);
        if news {
            self.draft
                .event(warning("Failed", "Update"), &message)
                .await;
        }
        self.draft.write().await?;
        Ok(Action::await_change())
    }

    /// The stack runs the spec's template: record its outputs and report Ready.
    async fn in_sync(mut self, stack: &ObservedStack) -> Result<Action> {
        let rotation_wake = self.record_outputs(stack).await?;
        let conditions = &self.draft.status.conditions;
        let was_ready = crate::reconcile::conditions::is_true(conditions, READY)
            && crate::reconcile::conditions::is_true(conditions, SYNCED);
        self.draft.set_conditions(vec![
            self.draft
                .condition(READY, true, reasons::AVAILABLE, "the user pool is ready"),
            self.draft
                .condition(SYNCED, true, reasons::IN_SYNC, "the stack matches the spec"),
        ]);
        if !was_ready {
            let note = format!("stack {} is {}", self.stack_name, stack.status);
            self.draft.event(normal("Ready", "Reconcile"), &note).await;
        }
        self.draft.write().await?;
        let resync = self.ctx.settings.resync_interval;
        Ok(Action::requeue(
            rotation_wake.map_or(resync, |wake| wake.min(resync)),
        ))
    }

    /// Records what the stack was just given. The create-only settings are recorded now,
    /// not when the operation completes: an edit made while a replacement runs must be
    /// compared with the pool being created, or it would replace the pool a second time.
    fn record_submission(&mut self, template: &StackTemplate, revision: u32) {
        let status = &mut self.draft.status;
        status.applied_template_hash = Some(template.hash.clone());
        status.pool_revision = Some(revision);
        status.applied_create_only =
            serde_json::to_string(&CreateOnlySettings::of(&self.pool.spec, &self.name)).ok();
    }

    pub async fn failure_message(&self, stack: &ObservedStack) -> Result<String> {
        let cause = self.stacks.first_failure(&stack.id).await?;
        Ok(match cause {
            Some(cause) => format!("stack {} is {}: {cause}", self.stack_name, stack.status),
            None => format!("stack {} is {}", self.stack_name, stack.status),
        })
    }

    /// Copies the stack outputs into status and the connection Secret; returns when a
    /// client-secret rotation needs the operator again.
    async fn record_outputs(&mut self, stack: &ObservedStack) -> Result<Option<Duration>> {
        if !connection_secret::outputs_into_status(
            &mut self.draft.status,
            &stack.outputs,
            &template::effective_clients(&self.pool.spec, &self.name),
            self.pool.spec.domain.as_ref(),
            &self.region,
            self.ctx.aws_endpoint(),
        ) {
            return Ok(None);
        }
        let outcome =
            connection_secret::write(self.ctx, self.pool, &self.draft.status, &self.region).await?;
        for note in &outcome.notes {
            let notice = if note.warning {
                warning(note.reason, "RotateClientSecret")
            } else {
                normal(note.reason, "RotateClientSecret")
            };
            self.draft.event(notice, &note.message).await;
        }
        match outcome.written {
            Written::As(name) => self.draft.status.connection_secret_name = Some(name),
            Written::NameTaken(name) => {
                let note = format!(
                    "Secret {name} exists and was not created by the operator for this UserPool: the connection Secret is not written (delete or rename that Secret)"
                );
                self.draft
                    .event(warning("ConnectionSecretNameTaken", "Reconcile"), &note)
                    .await;
                self.draft.status.connection_secret_name = None;
            }
        }
        Ok(outcome.wake_in)
    }
}
