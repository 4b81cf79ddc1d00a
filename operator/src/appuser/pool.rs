//! The UserPool an AppUser names, as far as a user reconcile needs it: only a Ready pool
//! whose Cognito pool carries this namespace's owner tag lets a user reach Cognito.

use cognito_crds::{AppUser, UserPool};
use kube::{Api, runtime::reflector::ObjectRef};

use super::{context::UserContext, directory::UserDirectory};
use crate::{
    error::{Error, Result},
    reconcile::conditions::{READY, is_true},
    userpool::placement,
};

/// The parts of a Ready UserPool a user reconcile needs.
pub struct ReadyPool {
    pub pool_id: String,
    pub region: String,
    pub groups: Vec<String>,
    pub min_password_length: usize,
}

/// The pool `user` names, when it is Ready; otherwise why the user waits.
pub async fn ready_pool(
    uctx: &UserContext,
    user: &AppUser,
    namespace: &str,
) -> Result<std::result::Result<ReadyPool, String>> {
    let pool_name = &user.spec.user_pool_ref.name;
    let key = ObjectRef::<UserPool>::new(pool_name).within(namespace);
    let pool = match uctx.pools.get(&key) {
        Some(pool) => Some(pool.as_ref().clone()),
        // The pool watch may not have listed yet (just after start): ask the API.
        None => {
            Api::<UserPool>::namespaced(uctx.ctx.client.clone(), namespace)
                .get_opt(pool_name)
                .await?
        }
    };
    let Some(pool) = pool else {
        return Ok(Err(format!("UserPool {pool_name} does not exist")));
    };
    let status = pool.status.clone().unwrap_or_default();
    let pool_id = match status.user_pool_id.clone() {
        Some(id) if is_true(&status.conditions, READY) => id,
        _ => return Ok(Err(format!("UserPool {pool_name} is not Ready yet"))),
    };
    let region = placement::region(&pool.spec, Some(&status), uctx.ctx.default_region()).ok_or(
        Error::MissingObjectKey("spec.region of the UserPool (and the operator has no AWS region)"),
    )?;
    match check_pool(uctx, &region, &pool_id, namespace).await? {
        PoolCheck::Owned => {}
        PoolCheck::Foreign => {
            return Ok(Err(format!(
                "UserPool {pool_name} names Cognito pool {pool_id}, which is not tagged {}={namespace}; waiting for the UserPool's stack to tag it",
                placement::OWNER_NAMESPACE_TAG
            )));
        }
        PoolCheck::Missing => {
            return Ok(Err(format!(
                "UserPool {pool_name} names Cognito pool {pool_id}, which does not exist"
            )));
        }
    }
    Ok(Ok(ReadyPool {
        pool_id,
        region,
        groups: pool.spec.groups.iter().map(|g| g.name.clone()).collect(),
        min_password_length: usize::try_from(pool.spec.password_policy.minimum_length).unwrap_or(0),
    }))
}

/// Whether a pool id read from a status (tenant-writable) is this namespace's to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolCheck {
    Owned,
    /// The pool exists without this namespace's owner tag.
    Foreign,
    Missing,
}

/// Reads the owner tag of `pool_id` in `region`; a pool found to be `namespace`'s is
/// remembered, so each pool costs one `DescribeUserPool` per operator run.
pub async fn check_pool(
    uctx: &UserContext,
    region: &str,
    pool_id: &str,
    namespace: &str,
) -> Result<PoolCheck> {
    if uctx.known_pool_owner(pool_id).as_deref() == Some(namespace) {
        return Ok(PoolCheck::Owned);
    }
    let _one_read_at_a_time = uctx.pool_check.lock().await;
    if uctx.known_pool_owner(pool_id).as_deref() == Some(namespace) {
        return Ok(PoolCheck::Owned);
    }
    let directory = UserDirectory::new(&uctx.ctx.aws_clients(region), pool_id);
    let Some(tags) = directory.pool_tags().await? else {
        return Ok(PoolCheck::Missing);
    };
    if !placement::pool_belongs_to(&tags, namespace) {
        return Ok(PoolCheck::Foreign);
    }
    uctx.remember_pool_owner(pool_id, namespace);
    Ok(PoolCheck::Owned)
}
