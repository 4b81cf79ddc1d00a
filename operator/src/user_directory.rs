//! The Cognito user calls of one pool, each waiting first on its quota category's rate
//! limit: the only way the AppUser controller and the drift check reach Cognito.

use std::{collections::BTreeSet, sync::Arc};

use aws_sdk_cognitoidentityprovider::{Client, types::AttributeType};

use crate::{
    context::RegionalClients,
    rate_limit::{QuotaCategory, RateLimits},
    user_attributes::ObservedUser,
    user_provisioning::{self, ProvisionError},
};

/// Users per `ListUsers`/`ListUsersInGroup` page: Cognito's maximum.
pub const PAGE_SIZE: i32 = 60;

type Result<T> = std::result::Result<T, (&'static str, ProvisionError)>;

/// The users of one pool.
#[derive(Clone)]
pub struct UserDirectory {
    cognito: Client,
    limits: Arc<RateLimits>,
    pool_id: String,
}

/// One page of `ListUsers`.
pub struct UserPage {
    pub users: Vec<ObservedUser>,
    pub next: Option<String>,
}

impl UserDirectory {
    pub fn new(clients: &RegionalClients, pool_id: &str) -> Self {
        Self {
            cognito: clients.cognito.clone(),
            limits: clients.limits.clone(),
            pool_id: pool_id.to_owned(),
        }
    }

    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// `AdminCreateUser` (suppressed, `password` as the temporary password).
    pub async fn create(
        &self,
        username: &str,
        attributes: Vec<AttributeType>,
        password: &str,
    ) -> Result<ObservedUser> {
        const OP: &str = "AdminCreateUser";
        self.limits.acquire(QuotaCategory::UserCreation).await;
        let user = user_provisioning::create_suppressed(
            &self.cognito,
            &self.pool_id,
            username,
            attributes,
            password,
        )
        .await
        .map_err(|e| (OP, e))?;
        let mut observed = ObservedUser::from_user_type(&user);
        // A new user belongs to no group.
        observed.groups = Some(BTreeSet::new());
        Ok(observed)
    }

    /// `AdminSetUserPassword Permanent=true`.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        const OP: &str = "AdminSetUserPassword";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        user_provisioning::set_permanent_password(&self.cognito, &self.pool_id, username, password)
            .await
            .map_err(|e| (OP, e))
    }

    /// `AdminGetUser`; `None` when the user does not exist.
    pub async fn get(&self, username: &str) -> Result<Option<ObservedUser>> {
        const OP: &str = "AdminGetUser";
        self.limits.acquire(QuotaCategory::UserRead).await;
        let result = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| ProvisionError::from_sdk(OP, username, e));
        match result {
            Ok(user) => Ok(Some(ObservedUser::from_parts(
                Some(user.username()),
                user.user_attributes(),
                user.user_status().map(|s| s.as_str()),
                user.enabled(),
            ))),
            Err(ProvisionError::UserNotFound(_)) => Ok(None),
            Err(e) => Err((OP, e)),
        }
    }

    /// `AdminListGroupsForUser`, all pages.
    pub async fn groups_of(&self, username: &str) -> Result<BTreeSet<String>> {
        const OP: &str = "AdminListGroupsForUser";
        let mut groups = BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            self.limits.acquire(QuotaCategory::UserRead).await;
            let page = self
                .cognito
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .limit(PAGE_SIZE)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))?;
            groups.extend(
                page.groups()
                    .iter()
                    .filter_map(|g| g.group_name().map(str::to_owned)),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(groups),
            }
        }
    }

    pub async fn update_attributes(
        &self,
        username: &str,
        attributes: Vec<AttributeType>,
    ) -> Result<()> {
        const OP: &str = "AdminUpdateUserAttributes";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        self.cognito
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attributes(Some(attributes))
            .send()
            .await
            .map(drop)
            .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
    }

    pub async fn delete_attributes(&self, username: &str, names: Vec<String>) -> Result<()> {
        const OP: &str = "AdminDeleteUserAttributes";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        self.cognito
            .admin_delete_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attribute_names(Some(names))
            .send()
            .await
            .map(drop)
            .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
    }

    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        if enabled {
            const OP: &str = "AdminEnableUser";
            self.cognito
                .admin_enable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map(drop)
                .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
        } else {
            const OP: &str = "AdminDisableUser";
            self.cognito
                .admin_disable_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .send()
                .await
                .map(drop)
                .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
        }
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        const OP: &str = "AdminAddUserToGroup";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        self.cognito
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map(drop)
            .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
    }

    pub async fn remove_from_group(&self, username: &str, group: &str) -> Result<()> {
        const OP: &str = "AdminRemoveUserFromGroup";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        self.cognito
            .admin_remove_user_from_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send()
            .await
            .map(drop)
            .map_err(|e| (OP, ProvisionError::from_sdk(OP, username, e)))
    }

    /// `AdminDeleteUser`; a user or pool that is already gone counts as deleted.
    pub async fn delete(&self, username: &str) -> Result<()> {
        const OP: &str = "AdminDeleteUser";
        self.limits.acquire(QuotaCategory::UserUpdate).await;
        let result = self
            .cognito
            .admin_delete_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| ProvisionError::from_sdk(OP, username, e));
        match result {
            Ok(_) | Err(ProvisionError::UserNotFound(_) | ProvisionError::PoolNotFound(_)) => {
                Ok(())
            }
            Err(e) => Err((OP, e)),
        }
    }

    /// One `ListUsers` page of up to [`PAGE_SIZE`] users with all their attributes.
    pub async fn list_page(&self, token: Option<String>) -> Result<UserPage> {
        const OP: &str = "ListUsers";
        self.limits.acquire(QuotaCategory::UserList).await;
        let page = self
            .cognito
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(PAGE_SIZE)
            .set_pagination_token(token)
            .send()
            .await
            .map_err(|e| (OP, ProvisionError::from_sdk(OP, "", e)))?;
        Ok(UserPage {
            users: page
                .users()
                .iter()
                .map(ObservedUser::from_user_type)
                .collect(),
            next: page
                .pagination_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        })
    }

    /// The user names (Cognito's, not e-mails) of every member of `group`.
    pub async fn members_of(&self, group: &str) -> Result<BTreeSet<String>> {
        const OP: &str = "ListUsersInGroup";
        let mut members = BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            self.limits.acquire(QuotaCategory::UserList).await;
            let page = self
                .cognito
                .list_users_in_group()
                .user_pool_id(&self.pool_id)
                .group_name(group)
                .limit(PAGE_SIZE)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| (OP, ProvisionError::from_sdk(OP, "", e)))?;
            members.extend(
                page.users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_owned)),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => return Ok(members),
            }
        }
    }
}
