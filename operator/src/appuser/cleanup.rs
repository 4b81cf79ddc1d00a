//! Deleting an AppUser object: carry out its deletion policy, then let the finalizer go.

use cognito_crds::{AppUser, UserPool, appuser::UserDeletionPolicy};
use kube::{ResourceExt, runtime::events::EventType, runtime::reflector::ObjectRef};

use super::{
    context::UserContext,
    directory::UserDirectory,
    pool::{PoolCheck, check_pool},
};
use crate::{
    error::{Error, Result},
    reconcile::{events::publish, finalizer::Cleanup},
    userpool::placement,
};

/// Applies the deletion policy to the Cognito user recorded in status.
pub async fn cleanup(user: &AppUser, uctx: &UserContext) -> Result<Cleanup> {
    let ctx = uctx.ctx.as_ref();
    let uid = user.uid().unwrap_or_default();
    let status = uctx
        .written
        .newest(&uid, user.status.clone().unwrap_or_default());
    match (user.spec.deletion_policy, status.user_pool_id.as_deref()) {
        (UserDeletionPolicy::Retain, Some(_)) => {
            let note = format!(
                "deletionPolicy Retain: Cognito user {} is kept",
                user.spec.email
            );
            publish(ctx, user, EventType::Normal, "Retained", "Delete", &note).await;
        }
        (UserDeletionPolicy::Delete, Some(pool_id)) => {
            let region = user_region(user, uctx, pool_id)
                .ok_or(Error::MissingObjectKey("the region of status.userPoolId"))?;
            let namespace = user.namespace().unwrap_or_default();
            // status.userPoolId is tenant-writable: delete only in this namespace's pool.
            match check_pool(uctx, &region, pool_id, &namespace).await? {
                PoolCheck::Owned => {
                    tracing::info!(pool = %pool_id, %region, "deleting the Cognito user (deletionPolicy Delete)");
                    UserDirectory::new(&ctx.aws_clients(&region), pool_id)
                        .delete(&user.spec.email)
                        .await?;
                    let note = format!("deleted Cognito user {}", user.spec.email);
                    publish(ctx, user, EventType::Normal, "Deleted", "Delete", &note).await;
                }
                PoolCheck::Foreign => {
                    let note = format!(
                        "Cognito user {} not deleted: status.userPoolId {pool_id} names a pool that is not tagged {}={namespace}",
                        user.spec.email,
                        placement::OWNER_NAMESPACE_TAG
                    );
                    tracing::warn!(pool = %pool_id, "refused to delete a user in a pool of another namespace");
                    publish(ctx, user, EventType::Warning, "NotDeleted", "Delete", &note).await;
                }
                PoolCheck::Missing => {
                    let note = format!(
                        "Cognito pool {pool_id} no longer exists: user {} is gone with it",
                        user.spec.email
                    );
                    publish(ctx, user, EventType::Normal, "Deleted", "Delete", &note).await;
                }
            }
        }
        // Never created: nothing to delete or keep.
        (_, None) => {}
    }
    uctx.written.forget(&uid);
    Ok(Cleanup::Done)
}

/// The region of the pool `pool_id` that holds the user: the UserPool's region while the
/// object that created the pool still exists, else the region the pool id starts with
/// (Cognito pool ids are `<region>_<id>`). Never the operator's default: it may have
/// changed since the pool was made.
fn user_region(user: &AppUser, uctx: &UserContext, pool_id: &str) -> Option<String> {
    let key = ObjectRef::<UserPool>::new(&user.spec.user_pool_ref.name)
        .within(&user.namespace().unwrap_or_default());
    uctx.pools
        .get(&key)
        .filter(|pool| {
            pool.status
                .as_ref()
                .is_some_and(|s| s.user_pool_id.as_deref() == Some(pool_id))
        })
        .and_then(|pool| placement::region(&pool.spec, pool.status.as_ref(), None))
        .or_else(|| region_of_pool_id(pool_id).map(str::to_owned))
}

/// The region of a pool id (`us-east-1_AbC123` -> `us-east-1`).
fn region_of_pool_id(pool_id: &str) -> Option<&str> {
    pool_id.split_once('_').map(|(region, _)| region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_pool_id() {
        assert_eq!(region_of_pool_id("eu-west-1_AbC123"), Some("eu-west-1"));
        assert_eq!(region_of_pool_id("nounderscore"), None);
    }
}
