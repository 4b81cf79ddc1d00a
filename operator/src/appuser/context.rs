//! What AppUser reconciles and the census share beyond the operator's [`Context`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use cognito_crds::{AppUser, AppUserStatus, UserPool};
use kube::runtime::reflector::Store;

use super::attributes::ObservedUser;
use crate::{reconcile::status::StatusMemory, runtime::context::Context};

/// What is known about a user in Cognito before converging it.
#[derive(Debug, Clone)]
pub enum Observation {
    /// Nothing read: the user is taken to be as last applied.
    Unread,
    Found(ObservedUser),
    Missing,
}

pub struct UserContext {
    pub ctx: Arc<Context>,
    pub pools: Store<UserPool>,
    /// Every AppUser, to find two that declare the same Cognito user.
    pub users: Store<AppUser>,
    /// What the census saw of users that differ from their spec, by AppUser uid: lets the
    /// reconcile it triggers skip its own `AdminGetUser`.
    observations: Mutex<HashMap<String, Observation>>,
    /// Pool ids whose owner tag was read, with the namespace it names: a pool's owner
    /// never moves to another namespace, so one `DescribeUserPool` per pool id is enough.
    pool_owners: Mutex<HashMap<String, String>>,
    /// Held while a pool's owner tag is read, so that the reconciles that start together
    /// after a restart wait for the first read instead of each making its own.
    pub pool_check: tokio::sync::Mutex<()>,
    pub written: StatusMemory<AppUserStatus>,
}

impl UserContext {
    pub fn new(ctx: Arc<Context>, pools: Store<UserPool>, users: Store<AppUser>) -> Self {
        Self {
            ctx,
            pools,
            users,
            observations: Mutex::default(),
            pool_owners: Mutex::default(),
            pool_check: tokio::sync::Mutex::default(),
            written: StatusMemory::default(),
        }
    }

    /// Hands the census' observation of `uid` to its next reconcile.
    pub fn report(&self, uid: &str, observation: Observation) {
        self.observations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(uid.to_owned(), observation);
    }

    /// The namespace a pool id was found to belong to, if it was read before.
    pub fn known_pool_owner(&self, pool_id: &str) -> Option<String> {
        self.pool_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pool_id)
            .cloned()
    }

    pub fn remember_pool_owner(&self, pool_id: &str, namespace: &str) {
        self.pool_owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pool_id.to_owned(), namespace.to_owned());
    }

    pub fn take_report(&self, uid: &str) -> Option<Observation> {
        self.observations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid)
    }
}
