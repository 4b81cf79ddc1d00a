//! The UserPool controller: keeps one CloudFormation stack per UserPool in line with its
//! spec, reports ids and conditions in status, and writes the connection Secret.
//!
//! Reconcile = read the stack -> render the desired template (pure) -> the fewest
//! CloudFormation calls -> status. Stack operations are asynchronous: a reconcile starts
//! one and requeues to poll it.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use futures::StreamExt;
use k8s_openapi::{
    ByteString,
    api::core::v1::Secret,
    apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
    runtime::{Controller, controller::Action, events::EventType, watcher},
};
use serde_json::json;

use crate::{
    conditions::{self, READY, SYNCED, reasons},
    context::{Context, backoff},
    crd::userpool::{PoolDeletionPolicy, UserPool, UserPoolStatus},
    error::{Error, Result},
    object_meta::{add_finalizer, publish, remove_finalizer},
    stack::{OWNER_NAME_TAG, OWNER_NAMESPACE_TAG, OWNER_UID_TAG, ObservedStack, Phase, Stacks},
    template::{self, CreateOnlySettings, StackTemplate, TemplateInputs},
};

/// Finalizer that guards the stack's deletion policy.
pub const FINALIZER: &str = "cognito.kubeauth.dev/stack";
/// Annotation that allows adopting an existing stack without our tags.
pub const ADOPT_ANNOTATION: &str = "cognito.kubeauth.dev/adopt";
/// Field manager for everything the operator applies.
pub const FIELD_MANAGER: &str = "cognito-operator";
/// Label put on Secrets the operator writes (and watches).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "cognito-operator");

const KIND: &str = "UserPool";
/// How soon the operator looks again right after starting a stack operation.
const POLL: Duration = Duration::from_secs(2);

/// Runs the controller until shutdown is signalled, over one namespace or all of them.
pub async fn run(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (pools, secrets) = match namespace {
        Some(ns) => (
            Api::<UserPool>::namespaced(ctx.client.clone(), ns),
            Api::<Secret>::namespaced(ctx.client.clone(), ns),
        ),
        None => (
            Api::<UserPool>::all(ctx.client.clone()),
            Api::<Secret>::all(ctx.client.clone()),
        ),
    };
    let label = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    Controller::new(pools, watcher::Config::default().any_semantic())
        .owns(secrets, watcher::Config::default().labels(&label))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

async fn reconcile(pool: Arc<UserPool>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile(KIND);
    let namespace = pool
        .namespace()
        .ok_or(Error::MissingObjectKey("namespace"))?;
    let api = Api::<UserPool>::namespaced(ctx.client.clone(), &namespace);
    let action = if pool.meta().deletion_timestamp.is_some() {
        cleanup(&pool, &api, &ctx).await?
    } else if !pool.finalizers().iter().any(|f| f == FINALIZER) {
        add_finalizer(pool.as_ref(), &api, FINALIZER).await?;
        Action::requeue(Duration::ZERO)
    } else {
        let result = Reconciler::new(&pool, &ctx)?.apply(&api).await;
        if let Err(error) = &result {
            report_error(&pool, &api, &ctx, error).await;
        }
        result?
    };
    ctx.record_success(&pool.uid().unwrap_or_default());
    Ok(action)
}

/// Says why a reconcile failed in the Synced condition and an Event; the error policy
/// retries with backoff. Best effort: the API server may be what failed.
async fn report_error(pool: &UserPool, api: &Api<UserPool>, ctx: &Context, error: &Error) {
    let message = format!("{error}; retrying with backoff");
    let mut status = pool.status.clone().unwrap_or_default();
    status.conditions = conditions::merge(
        &status.conditions,
        vec![conditions::condition(
            SYNCED,
            false,
            reasons::RECONCILE_ERROR,
            &message,
            pool.metadata.generation,
        )],
    );
    if let Err(error) = write_status(api, &pool.name_any(), &status).await {
        tracing::warn!(%error, "could not record the reconcile error in status");
    }
    publish(
        ctx,
        pool,
        EventType::Warning,
        reasons::RECONCILE_ERROR,
        "Reconcile",
        &message,
    )
    .await;
}

fn error_policy(pool: Arc<UserPool>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failure(KIND, error.label());
    let failures = ctx.record_failure(&pool.uid().unwrap_or_default());
    tracing::warn!(pool = %pool.name_any(), namespace = ?pool.namespace(), %error, failures, "reconcile failed");
    Action::requeue(backoff(failures))
}

/// The state of one reconcile of one UserPool.
struct Reconciler<'a> {
    pool: &'a UserPool,
    ctx: &'a Context,
    name: String,
    namespace: String,
    uid: String,
    region: String,
    stack_name: String,
    stacks: Stacks,
    status: UserPoolStatus,
}

impl<'a> Reconciler<'a> {
    fn new(pool: &'a UserPool, ctx: &'a Context) -> Result<Self> {
        let name = pool.name_any();
        let namespace = pool
            .namespace()
            .ok_or(Error::MissingObjectKey("namespace"))?;
        let uid = pool.uid().ok_or(Error::MissingObjectKey("uid"))?;
        // The region the stack was created in wins over a changed operator default.
        let region = pool
            .spec
            .region
            .clone()
            .or_else(|| pool.status.as_ref().and_then(|s| s.region.clone()))
            .or_else(|| ctx.default_region())
            .ok_or(Error::MissingObjectKey(
                "spec.region (and the operator has no AWS region)",
            ))?;
        let stack_name = pool
            .spec
            .stack_name
            .clone()
            .unwrap_or_else(|| format!("{namespace}-{name}-cognito"));
        let stacks = Stacks::new(ctx.aws_clients(&region).cloudformation);
        Ok(Self {
            status: pool.status.clone().unwrap_or_default(),
            pool,
            ctx,
            name,
            namespace,
            uid,
            region,
            stack_name,
            stacks,
        })
    }

    async fn apply(mut self, api: &Api<UserPool>) -> Result<Action> {
        let spec = &self.pool.spec;
        let desired_create_only = CreateOnlySettings::of(spec, &self.name);
        let mut revision = self.status.pool_revision.unwrap_or(0);
        let mut replacing = false;

        let applied_create_only = self
            .status
            .applied_create_only
            .as_deref()
            .and_then(|json| serde_json::from_str::<CreateOnlySettings>(json).ok());
        if let Some(applied) = applied_create_only {
            let changes = applied.changes_to(&desired_create_only);
            if !changes.is_empty() {
                if !spec.allow_replacement {
                    let message = format!(
                        "refused: {} cannot change on an existing pool; set allowReplacement: true to replace the pool (its users are lost)",
                        changes.join(", ")
                    );
                    self.set_conditions(vec![self.condition(
                        SYNCED,
                        false,
                        reasons::CREATE_ONLY_CHANGE,
                        &message,
                    )]);
                    self.event(EventType::Warning, "Refused", "Refuse", &message)
                        .await;
                    self.write_status(api).await?;
                    return Ok(Action::await_change());
                }
                // Bump the revision once per replacement: a new pool logical id.
                if self.render(revision).hash.as_str()
                    != self
                        .status
                        .applied_template_hash
                        .as_deref()
                        .unwrap_or_default()
                {
                    revision += 1;
                    replacing = true;
                }
            }
        }
        let template = self.render(revision);

        let Some(stack) = self.stacks.describe(&self.stack_name).await? else {
            return self.create(api, &template, revision).await;
        };
        if let Some(refusal) = self.ownership_problem(&stack) {
            let (reason, message) = refusal;
            self.status.stack_status = Some(stack.status.clone());
            self.set_conditions(vec![
                self.condition(READY, false, reason, &message),
                self.condition(SYNCED, false, reason, &message),
            ]);
            self.event(EventType::Warning, reason, "Refuse", &message)
                .await;
            self.write_status(api).await?;
            return Ok(Action::await_change());
        }

        let previous_status = self.status.stack_status.replace(stack.status.clone());
        self.status.stack_id = Some(stack.id.clone());
        self.status.stack_name = Some(self.stack_name.clone());
        self.status.region = Some(self.region.clone());
        let submitted =
            self.status.applied_template_hash.as_deref() == Some(template.hash.as_str());
        let phase = Phase::of(&stack.status);
        if phase != Phase::InProgress {
            self.ctx.polls_done(&self.uid);
        }
        match phase {
            Phase::InProgress => {
                self.write_status(api).await?;
                Ok(Action::requeue(self.ctx.next_poll(&self.uid)))
            }
            Phase::Failed => {
                let message = self.failure_message(&stack).await?;
                self.set_conditions(vec![
                    self.condition(READY, false, reasons::STACK_BROKEN, &message),
                    self.condition(SYNCED, false, reasons::STACK_BROKEN, &message),
                ]);
                if previous_status.as_deref() != Some(stack.status.as_str()) {
                    self.event(EventType::Warning, "Failed", "Reconcile", &message)
                        .await;
                }
                self.write_status(api).await?;
                Ok(Action::requeue(self.ctx.settings.resync_interval))
            }
            Phase::CreateRolledBack if submitted => {
                // No pool exists, so no create-only setting binds the next spec.
                self.status.applied_create_only = None;
                let message = self.failure_message(&stack).await?;
                self.set_conditions(vec![
                    self.condition(READY, false, reasons::CREATE_FAILED, &message),
                    self.condition(SYNCED, false, reasons::CREATE_FAILED, &message),
                ]);
                if previous_status.as_deref() != Some(stack.status.as_str()) {
                    self.event(EventType::Warning, "Failed", "Create", &message)
                        .await;
                }
                self.write_status(api).await?;
                Ok(Action::await_change())
            }
            Phase::CreateRolledBack => {
                self.stacks.delete(&stack.id).await?;
                let message = "deleting the stack left by a failed create, to create it again";
                self.set_conditions(vec![self.condition(
                    SYNCED,
                    false,
                    reasons::RECREATING,
                    message,
                )]);
                self.event(EventType::Normal, "Recreating", "Delete", message)
                    .await;
                self.write_status(api).await?;
                Ok(Action::requeue(POLL))
            }
            Phase::Complete | Phase::UpdateRolledBack if !submitted => {
                self.update(api, &stack, &template, revision, replacing)
                    .await
            }
            Phase::UpdateRolledBack => {
                // A spec put back as it was before the failed update is the template the
                // stack runs again: CloudFormation had nothing to update, and it is in sync.
                let running = self.stacks.running_template_hash(&stack.id).await?;
                if running.as_deref() == Some(template.hash.as_str()) {
                    return self.in_sync(api, &stack).await;
                }
                let message = self.failure_message(&stack).await?;
                self.record_outputs(&stack).await?;
                self.set_conditions(vec![
                    self.condition(
                        READY,
                        true,
                        reasons::AVAILABLE,
                        "the pool works with its previous settings",
                    ),
                    self.condition(SYNCED, false, reasons::UPDATE_FAILED, &message),
                ]);
                if previous_status.as_deref() != Some(stack.status.as_str()) {
                    self.event(EventType::Warning, "Failed", "Update", &message)
                        .await;
                }
                self.write_status(api).await?;
                Ok(Action::await_change())
            }
            Phase::Complete => self.in_sync(api, &stack).await,
            Phase::Deleted => Ok(Action::requeue(POLL)),
        }
    }

    fn render(&self, revision: u32) -> StackTemplate {
        template::render(
            &self.pool.spec,
            &TemplateInputs {
                pool_name: &format!("{}-{}", self.namespace, self.name),
                default_client_name: &self.name,
                pool_revision: revision,
            },
        )
    }

    fn stack_tags(&self) -> BTreeMap<String, String> {
        let mut tags = self.pool.spec.tags.clone();
        tags.insert(OWNER_UID_TAG.into(), self.uid.clone());
        tags.insert(OWNER_NAMESPACE_TAG.into(), self.namespace.clone());
        tags.insert(OWNER_NAME_TAG.into(), self.name.clone());
        tags
    }

    /// Why this object may not manage `stack`, if it may not.
    fn ownership_problem(&self, stack: &ObservedStack) -> Option<(&'static str, String)> {
        match stack.tags.get(OWNER_UID_TAG) {
            Some(owner) if *owner == self.uid => None,
            Some(owner) => Some((
                reasons::STACK_OWNED_ELSEWHERE,
                format!(
                    "stack {} belongs to another UserPool (uid {owner}); choose another spec.stackName",
                    self.stack_name
                ),
            )),
            None if self
                .pool
                .annotations()
                .get(ADOPT_ANNOTATION)
                .map(String::as_str)
                == Some("true") =>
            {
                None
            }
            None => Some((
                reasons::STACK_NOT_ADOPTED,
                format!(
                    "stack {} exists and was not created by cognito-operator; annotate the UserPool {ADOPT_ANNOTATION}=\"true\" to adopt it",
                    self.stack_name
                ),
            )),
        }
    }

    async fn create(
        mut self,
        api: &Api<UserPool>,
        template: &StackTemplate,
        revision: u32,
    ) -> Result<Action> {
        let recreating = self.status.stack_id.is_some();
        let id = self
            .stacks
            .create(&self.stack_name, &template.to_json(), &self.stack_tags())
            .await?;
        // Record the id at once: the next reconcile must find this stack, not make another.
        self.status.stack_id = Some(id);
        self.status.stack_name = Some(self.stack_name.clone());
        self.status.region = Some(self.region.clone());
        self.status.stack_status = Some("CREATE_IN_PROGRESS".into());
        self.record_submission(template, revision);
        let message = format!("creating stack {}", self.stack_name);
        self.set_conditions(vec![
            self.condition(READY, false, reasons::CREATING, &message),
            self.condition(SYNCED, false, reasons::CREATING, &message),
        ]);
        if recreating {
            let note = format!(
                "stack {} was deleted outside the operator; creating it again",
                self.stack_name
            );
            self.event(EventType::Warning, "StackRecreated", "Create", &note)
                .await;
        } else {
            self.event(EventType::Normal, "Creating", "Create", &message)
                .await;
        }
        self.write_status(api).await?;
        Ok(Action::requeue(POLL))
    }

    async fn update(
        mut self,
        api: &Api<UserPool>,
        stack: &ObservedStack,
        template: &StackTemplate,
        revision: u32,
        replacing: bool,
    ) -> Result<Action> {
        let changed = self
            .stacks
            .update(&stack.id, &template.to_json(), &self.stack_tags())
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
            self.status.stack_status = Some("UPDATE_IN_PROGRESS".into());
            self.set_conditions(vec![self.condition(
                SYNCED,
                false,
                reasons::UPDATING,
                &message,
            )]);
            let reason = if replacing { "Replacing" } else { "Updating" };
            self.event(EventType::Normal, reason, "Update", &message)
                .await;
        }
        self.write_status(api).await?;
        Ok(Action::requeue(if changed { POLL } else { Duration::ZERO }))
    }

    /// The stack runs the spec's template: record its outputs and report Ready.
    async fn in_sync(mut self, api: &Api<UserPool>, stack: &ObservedStack) -> Result<Action> {
        self.record_outputs(stack).await?;
        let was_ready = conditions::is_true(&self.status.conditions, READY)
            && conditions::is_true(&self.status.conditions, SYNCED);
        self.set_conditions(vec![
            self.condition(READY, true, reasons::AVAILABLE, "the user pool is ready"),
            self.condition(SYNCED, true, reasons::IN_SYNC, "the stack matches the spec"),
        ]);
        if !was_ready {
            let note = format!("stack {} is {}", self.stack_name, stack.status);
            self.event(EventType::Normal, "Ready", "Reconcile", &note)
                .await;
        }
        self.write_status(api).await?;
        Ok(Action::requeue(self.ctx.settings.resync_interval))
    }

    /// Records what the stack was just given. The create-only settings are recorded now,
    /// not when the operation completes: an edit made while a replacement runs must be
    /// compared with the pool being created, or it would replace the pool a second time.
    fn record_submission(&mut self, template: &StackTemplate, revision: u32) {
        self.status.applied_template_hash = Some(template.hash.clone());
        self.status.pool_revision = Some(revision);
        self.status.applied_create_only =
            serde_json::to_string(&CreateOnlySettings::of(&self.pool.spec, &self.name)).ok();
    }

    async fn failure_message(&self, stack: &ObservedStack) -> Result<String> {
        let cause = self.stacks.first_failure(&stack.id).await?;
        Ok(match cause {
            Some(cause) => format!("stack {} is {}: {cause}", self.stack_name, stack.status),
            None => format!("stack {} is {}", self.stack_name, stack.status),
        })
    }

    /// Copies the stack outputs into status and the connection Secret.
    async fn record_outputs(&mut self, stack: &ObservedStack) -> Result<()> {
        let Some(pool_id) = stack.outputs.get(template::OUTPUT_POOL_ID).cloned() else {
            return Ok(());
        };
        let issuer = stack
            .outputs
            .get(template::OUTPUT_PROVIDER_URL)
            .cloned()
            .unwrap_or_else(|| {
                format!(
                    "https://cognito-idp.{}.amazonaws.com/{pool_id}",
                    self.region
                )
            });
        let jwks_uri = match self.ctx.aws_endpoint() {
            Some(endpoint) => format!(
                "{}/{pool_id}/.well-known/jwks.json",
                endpoint.trim_end_matches('/')
            ),
            None => format!("{issuer}/.well-known/jwks.json"),
        };
        let clients = template::effective_clients(&self.pool.spec, &self.name);
        self.status.clients = clients
            .iter()
            .filter_map(|c| {
                Some(crate::crd::userpool::ClientStatus {
                    name: c.name.clone(),
                    client_id: stack
                        .outputs
                        .get(&template::client_output_key(&c.name))?
                        .clone(),
                })
            })
            .collect();
        self.status.user_pool_arn = stack.outputs.get(template::OUTPUT_POOL_ARN).cloned();
        self.status.user_pool_id = Some(pool_id);
        self.status.issuer = Some(issuer);
        self.status.jwks_uri = Some(jwks_uri);
        self.write_connection_secret().await
    }

    async fn write_connection_secret(&mut self) -> Result<()> {
        let secret_name = format!("{}-cognito", self.name);
        let mut data = BTreeMap::from([("region".to_owned(), self.region.clone())]);
        let fields = [
            ("userPoolId", &self.status.user_pool_id),
            ("userPoolArn", &self.status.user_pool_arn),
            ("issuer", &self.status.issuer),
            ("jwksUri", &self.status.jwks_uri),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                data.insert(key.to_owned(), value.clone());
            }
        }
        let cognito = self.ctx.aws_clients(&self.region).cognito;
        let clients = template::effective_clients(&self.pool.spec, &self.name);
        for (index, client) in self.status.clients.iter().enumerate() {
            if index == 0 {
                data.insert("clientId".into(), client.client_id.clone());
            }
            data.insert(
                format!("{}.clientId", client.name),
                client.client_id.clone(),
            );
            let has_secret = clients
                .iter()
                .any(|c| c.name == client.name && c.generate_secret);
            if has_secret && let Some(pool_id) = &self.status.user_pool_id {
                let described = cognito
                    .describe_user_pool_client()
                    .user_pool_id(pool_id)
                    .client_id(&client.client_id)
                    .send()
                    .await
                    .map_err(|e| Error::Cognito {
                        operation: "DescribeUserPoolClient",
                        message: crate::error::aws_message(&e),
                    })?;
                if let Some(secret) = described.user_pool_client().and_then(|c| c.client_secret()) {
                    data.insert(format!("{}.clientSecret", client.name), secret.to_owned());
                }
            }
        }
        let owner = self.owner_reference()?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(secret_name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    MANAGED_BY.0.to_owned(),
                    MANAGED_BY.1.to_owned(),
                )])),
                owner_references: Some(vec![owner]),
                ..ObjectMeta::default()
            },
            data: Some(
                data.into_iter()
                    .map(|(k, v)| (k, ByteString(v.into_bytes())))
                    .collect(),
            ),
            ..Secret::default()
        };
        Api::<Secret>::namespaced(self.ctx.client.clone(), &self.namespace)
            .patch(
                &secret_name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&secret),
            )
            .await?;
        self.status.connection_secret_name = Some(secret_name);
        Ok(())
    }

    fn owner_reference(&self) -> Result<OwnerReference> {
        self.pool
            .controller_owner_ref(&())
            .ok_or(Error::MissingObjectKey("uid"))
    }

    fn condition(&self, type_: &str, ok: bool, reason: &str, message: &str) -> Condition {
        conditions::condition(type_, ok, reason, message, self.pool.metadata.generation)
    }

    fn set_conditions(&mut self, new: Vec<Condition>) {
        self.status.conditions = conditions::merge(&self.status.conditions, new);
    }

    async fn event(&self, type_: EventType, reason: &str, action: &str, note: &str) {
        publish(self.ctx, self.pool, type_, reason, action, note).await;
    }

    async fn write_status(&mut self, api: &Api<UserPool>) -> Result<()> {
        self.status.observed_generation = self.pool.metadata.generation;
        write_status(api, &self.name, &self.status).await
    }
}

async fn write_status(api: &Api<UserPool>, name: &str, status: &UserPoolStatus) -> Result<()> {
    let patch = json!({
        "apiVersion": UserPool::api_version(&()),
        "kind": UserPool::kind(&()),
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

/// Applies the deletion policy; the finalizer goes once the policy is carried out.
async fn cleanup(pool: &UserPool, api: &Api<UserPool>, ctx: &Context) -> Result<Action> {
    if !pool.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut reconciler = Reconciler::new(pool, ctx)?;
    if pool.spec.deletion_policy == PoolDeletionPolicy::Retain {
        let note = format!(
            "deletionPolicy Retain: stack {} and its user pool are kept",
            reconciler.stack_name
        );
        publish(ctx, pool, EventType::Normal, "Retained", "Delete", &note).await;
        remove_finalizer(pool, api, FINALIZER).await?;
        return Ok(Action::await_change());
    }
    let stack = reconciler.stacks.describe(&reconciler.stack_name).await?;
    let stack = match stack {
        // Never delete a stack this object does not own.
        Some(stack) if reconciler.ownership_problem(&stack).is_none() => stack,
        _ => {
            let note = format!("stack {} deleted", reconciler.stack_name);
            publish(ctx, pool, EventType::Normal, "Deleted", "Delete", &note).await;
            remove_finalizer(pool, api, FINALIZER).await?;
            return Ok(Action::await_change());
        }
    };
    reconciler.status.stack_status = Some(stack.status.clone());
    match Phase::of(&stack.status) {
        Phase::InProgress => {}
        Phase::Failed if stack.status == "DELETE_FAILED" => {
            let message = reconciler.failure_message(&stack).await?;
            reconciler.set_conditions(vec![reconciler.condition(
                READY,
                false,
                reasons::STACK_BROKEN,
                &message,
            )]);
            reconciler
                .event(EventType::Warning, "DeleteFailed", "Delete", &message)
                .await;
            reconciler.write_status(api).await?;
            return Ok(Action::requeue(ctx.settings.resync_interval));
        }
        _ => {
            reconciler.stacks.delete(&stack.id).await?;
            let message = format!("deleting stack {} and its user pool", reconciler.stack_name);
            reconciler.set_conditions(vec![reconciler.condition(
                READY,
                false,
                reasons::DELETING,
                &message,
            )]);
            reconciler
                .event(EventType::Normal, "Deleting", "Delete", &message)
                .await;
        }
    }
    reconciler.write_status(api).await?;
    Ok(Action::requeue(POLL))
}
