//! The periodic drift check of AppUsers: per pool, read every user in `ListUsers` pages
//! (60 per call) and each declared group's members, compare with the specs in the
//! controller's cache, and reconcile only the users that differ, handing each the
//! observation so it need not read the user again.
//!
//! An idle census of a pool of N users without groups costs ceil(N/60) `ListUsers` calls
//! and no write; each declared group adds ceil(members/60) `ListUsersInGroup` calls. Of
//! the pages only the AppUsers' users are kept, so memory follows the AppUsers, not the
//! pool (which may hold many users signed up another way).

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use kube::{
    ResourceExt,
    runtime::reflector::{ObjectRef, Store},
};
use tokio::sync::mpsc;

use cognito_crds::{AppUser, UserPool};

use super::{
    attributes::{self, DesiredUser, ObservedUser},
    context::{Observation, UserContext},
    decide::is_settled,
    directory::UserDirectory,
    pool::{PoolCheck, check_pool},
};
use crate::{
    error::Error,
    reconcile::conditions::{self, READY},
    userpool::placement,
};

/// Runs a census every `interval` until the trigger's receiver is gone.
pub async fn run(
    uctx: Arc<UserContext>,
    users: Store<AppUser>,
    trigger: mpsc::Sender<ObjectRef<AppUser>>,
    interval: Duration,
) {
    loop {
        // The first census waits one interval: at start every AppUser is reconciled anyway.
        tokio::time::sleep(interval).await;
        if trigger.is_closed() {
            return;
        }
        for (pool_key, members) in settled_users_by_pool(&users.state()) {
            let Some(pool) = uctx.pools.get(&pool_key) else {
                continue;
            };
            match census_of_pool(&uctx, &pool, &members).await {
                Ok(drifted) => {
                    if !drifted.is_empty() {
                        tracing::info!(
                            pool = %pool_key.name,
                            namespace = ?pool_key.namespace,
                            users = members.len(),
                            drifted = drifted.len(),
                            "users differ from their spec"
                        );
                    }
                    for (user, observation) in drifted {
                        if let Some(uid) = user.uid() {
                            uctx.report(&uid, observation);
                        }
                        if trigger
                            .send(ObjectRef::from_obj(user.as_ref()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(pool = %pool_key.name, namespace = ?pool_key.namespace, %error, "census failed");
                }
            }
        }
    }
}

/// AppUsers that are in sync as far as the API server knows, by the pool that holds them.
/// Users still being created or failing are left to their own reconciles.
fn settled_users_by_pool(
    users: &[Arc<AppUser>],
) -> HashMap<ObjectRef<UserPool>, Vec<Arc<AppUser>>> {
    let mut by_pool: HashMap<ObjectRef<UserPool>, Vec<Arc<AppUser>>> = HashMap::new();
    for user in users {
        let Some(status) = &user.status else { continue };
        if is_settled(user, status) {
            let key = ObjectRef::new(&user.spec.user_pool_ref.name)
                .within(&user.namespace().unwrap_or_default());
            by_pool.entry(key).or_default().push(user.clone());
        }
    }
    by_pool
}

/// The users of `pool` that differ from their spec, with what Cognito holds for each.
async fn census_of_pool(
    uctx: &UserContext,
    pool: &UserPool,
    users: &[Arc<AppUser>],
) -> Result<Vec<(Arc<AppUser>, Observation)>, Error> {
    let status = pool.status.clone().unwrap_or_default();
    let Some(pool_id) = status.user_pool_id else {
        return Ok(Vec::new());
    };
    if !conditions::is_true(&status.conditions, READY) {
        return Ok(Vec::new());
    }
    let Some(region) =
        placement::region(&pool.spec, pool.status.as_ref(), uctx.ctx.default_region())
    else {
        return Ok(Vec::new());
    };
    // The pool id comes from a tenant-writable status: list only this namespace's pool.
    let namespace = pool.namespace().unwrap_or_default();
    if check_pool(uctx, &region, &pool_id, &namespace).await? != PoolCheck::Owned {
        return Ok(Vec::new());
    }
    let directory = UserDirectory::new(&uctx.ctx.aws_clients(&region), &pool_id);

    // Only the AppUsers' users are kept from the listings: the pool may hold many more.
    let subs: HashSet<&str> = users
        .iter()
        .filter_map(|user| user.status.as_ref()?.sub.as_deref())
        .collect();
    let by_sub = directory.users_with_subs(&subs).await?;
    let usernames: HashSet<&str> = by_sub.values().map(|u| u.username.as_str()).collect();
    let mut groups_of: HashMap<String, BTreeSet<String>> = HashMap::new();
    for group in &pool.spec.groups {
        for member in directory.members_among(&group.name, &usernames).await? {
            groups_of
                .entry(member)
                .or_default()
                .insert(group.name.clone());
        }
    }
    Ok(drifted(users, &pool_id, by_sub, &groups_of))
}

/// Compares each user's spec with its observation (pure).
fn drifted(
    users: &[Arc<AppUser>],
    pool_id: &str,
    mut by_sub: HashMap<String, ObservedUser>,
    groups_of: &HashMap<String, BTreeSet<String>>,
) -> Vec<(Arc<AppUser>, Observation)> {
    let mut drifted = Vec::new();
    for user in users {
        let Some(status) = &user.status else { continue };
        if status.user_pool_id.as_deref() != Some(pool_id) {
            continue;
        }
        let Some(sub) = &status.sub else { continue };
        let Some(mut observed) = by_sub.remove(sub) else {
            drifted.push((user.clone(), Observation::Missing));
            continue;
        };
        observed.groups = Some(
            groups_of
                .get(&observed.username)
                .cloned()
                .unwrap_or_default(),
        );
        let changes = attributes::changes(
            &DesiredUser::of(&user.spec),
            &observed,
            &status.managed_attributes,
        );
        if !changes.is_empty() || !observed.is_confirmed() {
            drifted.push((user.clone(), Observation::Found(observed)));
        }
    }
    drifted
}

#[cfg(test)]
mod tests {
    use cognito_crds::{AppUserSpec, AppUserStatus};

    use super::*;
    use crate::reconcile::conditions::SYNCED;

    fn user(email: &str, sub: &str) -> Arc<AppUser> {
        let spec: AppUserSpec = serde_json::from_value(serde_json::json!({
            "userPoolRef": {"name": "shop"},
            "email": email,
            "passwordSecretRef": {"name": "s"},
        }))
        .unwrap();
        let mut user = AppUser::new(email, spec);
        user.metadata.namespace = Some("ns".into());
        user.metadata.generation = Some(1);
        user.status = Some(AppUserStatus {
            conditions: vec![
                conditions::condition(READY, true, "x", "", Some(1)),
                conditions::condition(SYNCED, true, "x", "", Some(1)),
            ],
            observed_generation: Some(1),
            applied_password_version: Some("1".into()),
            sub: Some(sub.into()),
            user_pool_id: Some("us-east-1_pool".into()),
            ..AppUserStatus::default()
        });
        Arc::new(user)
    }

    fn observed(user: &AppUser, sub: &str) -> ObservedUser {
        let mut attributes = DesiredUser::of(&user.spec).attributes;
        attributes.insert("sub".into(), sub.into());
        ObservedUser {
            username: sub.into(),
            sub: Some(sub.into()),
            status: Some(attributes::CONFIRMED.into()),
            enabled: true,
            attributes,
            groups: None,
        }
    }

    #[test]
    fn only_users_that_differ_are_reported() {
        let (a, b, c) = (
            user("a@example.com", "1"),
            user("b@example.com", "2"),
            user("c@example.com", "3"),
        );
        let mut seen = HashMap::new();
        seen.insert("1".to_owned(), observed(&a, "1"));
        let mut disabled = observed(&b, "2");
        disabled.enabled = false;
        seen.insert("2".to_owned(), disabled);
        // c is missing.
        let result = drifted(
            &[a.clone(), b.clone(), c.clone()],
            "us-east-1_pool",
            seen,
            &HashMap::new(),
        );
        let names: Vec<(String, bool)> = result
            .iter()
            .map(|(u, o)| (u.name_any(), matches!(o, Observation::Missing)))
            .collect();
        assert_eq!(
            names,
            [
                ("b@example.com".to_owned(), false),
                ("c@example.com".to_owned(), true)
            ]
        );
    }

    #[test]
    fn settled_users_are_grouped_by_pool() {
        let a = user("a@example.com", "1");
        let mut pending = user("b@example.com", "2").as_ref().clone();
        pending.metadata.generation = Some(2);
        let grouped = settled_users_by_pool(&[a, Arc::new(pending)]);
        assert_eq!(grouped.len(), 1);
        assert_eq!(grouped.values().next().map(Vec::len), Some(1));
    }
}
