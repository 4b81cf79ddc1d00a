//! The usual start of an operator test: a fresh namespace with its own operator, the
//! clients for its objects, and a UserPool applied and waited for.

use cognito_crds::{AppUser, UserPool};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use crate::{
    EmulatorPool, OperatorProcess, TestNamespace, kube_client,
    objects::{has_reason, is_ready, password_secret_manifest, user_pool_manifest},
    wait::wait_for,
};

/// A test namespace watched by an operator of its own. The operator is stopped before
/// the namespace is deleted (and shows its log if the test failed).
pub struct OperatorNamespace {
    pub operator: OperatorProcess,
    pub ns: TestNamespace,
    pub pools: Api<UserPool>,
    pub users: Api<AppUser>,
    pub secrets: Api<Secret>,
}

impl OperatorNamespace {
    /// A namespace `e2e-<prefix>-…` and an operator for it, with extra environment.
    pub async fn start(prefix: &str, operator_env: &[(&str, &str)]) -> Self {
        let ns = TestNamespace::create(prefix);
        let operator = OperatorProcess::start(ns.name(), operator_env);
        let client = kube_client().await;
        Self {
            operator,
            pools: Api::namespaced(client.clone(), ns.name()),
            users: Api::namespaced(client.clone(), ns.name()),
            secrets: Api::namespaced(client, ns.name()),
            ns,
        }
    }

    /// [`Self::start`], then [`Self::apply_ready_pool`] of the UserPool `pool` with `spec`.
    pub async fn start_with_pool(
        prefix: &str,
        operator_env: &[(&str, &str)],
        pool: &str,
        spec: &str,
    ) -> (Self, EmulatorPool) {
        let started = Self::start(prefix, operator_env).await;
        let pool = started.apply_ready_pool(pool, spec).await;
        (started, pool)
    }

    pub fn name(&self) -> &str {
        self.ns.name()
    }

    /// Replaces the operator with a new one started with `operator_env` (the old one is
    /// killed first, as a crash or a rolling update would leave it).
    pub fn restart_operator(&mut self, operator_env: &[(&str, &str)]) {
        self.operator.kill();
        self.operator = OperatorProcess::start(self.ns.name(), operator_env);
    }

    /// Waits until the UserPool `name` is Ready and Synced for its current generation.
    pub async fn ready_pool(&self, name: &str) -> UserPool {
        wait_for(&self.pools, name, "UserPool Ready", is_ready).await
    }

    /// Applies the UserPool `name` (test region, more `spec` lines), waits until it is
    /// Ready, and returns it as a pool in the emulator (with its first app client).
    pub async fn apply_ready_pool(&self, name: &str, spec: &str) -> EmulatorPool {
        self.ns.apply(&user_pool_manifest(name, spec));
        emulator_pool(&self.ready_pool(name).await).await
    }

    /// Waits until the AppUser `name` is Ready and Synced for its current generation.
    pub async fn ready_user(&self, name: &str) -> AppUser {
        wait_for(&self.users, name, "AppUser Ready", is_ready).await
    }

    /// Waits until the UserPool `name` reports `reason` in its condition `type_`.
    pub async fn pool_reason(
        &self,
        name: &str,
        type_: &'static str,
        reason: &'static str,
    ) -> UserPool {
        wait_for(&self.pools, name, reason, has_reason(type_, reason)).await
    }

    /// Waits until the AppUser `name` reports `reason` in its condition `type_`.
    pub async fn user_reason(
        &self,
        name: &str,
        type_: &'static str,
        reason: &'static str,
    ) -> AppUser {
        wait_for(&self.users, name, reason, has_reason(type_, reason)).await
    }

    /// Applies the password Secret `name`.
    pub fn apply_password(&self, name: &str, password: &str) {
        self.ns.apply(&password_secret_manifest(name, password));
    }

    /// The `resourceVersion` of the Secret `name`: the password version the operator
    /// reports once it applied that Secret's password.
    pub async fn secret_version(&self, name: &str) -> String {
        self.secrets
            .get(name)
            .await
            .expect("get Secret")
            .metadata
            .resource_version
            .expect("resourceVersion")
    }
}

/// The pool a Ready UserPool reports, with its first app client.
pub async fn emulator_pool(pool: &UserPool) -> EmulatorPool {
    let status = pool.status.as_ref().expect("status");
    EmulatorPool::of(
        status.user_pool_id.as_deref().expect("pool id"),
        &status.clients.first().expect("an app client").client_id,
    )
    .await
}
