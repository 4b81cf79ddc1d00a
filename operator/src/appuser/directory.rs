//! The Cognito user calls of one pool, each waiting first on its quota category's rate
//! limit: the only way the AppUser controller and the census reach Cognito.

use std::{collections::BTreeSet, sync::Arc};

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::AttributeType,
};
use cognito_crds::user_provisioning::{self, CognitoError, CognitoErrorKind, NewUser};

use super::attributes::ObservedUser;
use crate::runtime::{
    context::RegionalClients,
    rate_limit::{QuotaCategory, RateLimits},
};

/// Users per `ListUsers`/`ListUsersInGroup` page: Cognito's maximum.
pub const PAGE_SIZE: i32 = 60;

type Result<T> = std::result::Result<T, CognitoError>;

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

/// A pagination token that ends the listing when absent or empty.
fn next_token(token: Option<&str>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(str::to_owned)
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

    /// Waits until `operation` fits in its quota category's rate.
    async fn wait_for_quota(&self, operation: &str) {
        if let Some(category) = QuotaCategory::of(operation) {
            self.limits.acquire(category).await;
        }
    }

    /// The one way a call is made: the rate-limit wait, the request (built, not yet
    /// sent), and the classification of a failure.
    async fn call<T, E>(
        &self,
        operation: &'static str,
        request: impl Future<Output = std::result::Result<T, SdkError<E>>>,
    ) -> Result<T>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.wait_for_quota(operation).await;
        request
            .await
            .map_err(|e| CognitoError::from_sdk(operation, e))
    }

    /// `AdminCreateUser` (suppressed, the password as the temporary password).
    pub async fn create(&self, user: NewUser<'_>) -> Result<ObservedUser> {
        self.wait_for_quota("AdminCreateUser").await;
        let user = user_provisioning::create_suppressed(&self.cognito, &self.pool_id, user).await?;
        let mut observed = ObservedUser::from_user_type(&user);
        // A new user belongs to no group.
        observed.groups = Some(BTreeSet::new());
        Ok(observed)
    }

    /// `AdminSetUserPassword Permanent=true`.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        self.wait_for_quota("AdminSetUserPassword").await;
        user_provisioning::set_permanent_password(&self.cognito, &self.pool_id, username, password)
            .await
    }

    /// `AdminGetUser`; `None` when the user does not exist.
    pub async fn get(&self, username: &str) -> Result<Option<ObservedUser>> {
        let request = self
            .cognito
            .admin_get_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send();
        match self.call("AdminGetUser", request).await {
            Ok(user) => Ok(Some(ObservedUser::from_parts(
                Some(user.username()),
                user.user_attributes(),
                user.user_status().map(|s| s.as_str()),
                user.enabled(),
            ))),
            Err(CognitoError {
                kind: CognitoErrorKind::UserNotFound(_),
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `AdminListGroupsForUser`, all pages.
    pub async fn groups_of(&self, username: &str) -> Result<BTreeSet<String>> {
        let mut groups = BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            let request = self
                .cognito
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool_id)
                .username(username)
                .limit(PAGE_SIZE)
                .set_next_token(next.take())
                .send();
            let page = self.call("AdminListGroupsForUser", request).await?;
            groups.extend(
                page.groups()
                    .iter()
                    .filter_map(|g| g.group_name())
                    .map(str::to_owned),
            );
            next = next_token(page.next_token());
            if next.is_none() {
                return Ok(groups);
            }
        }
    }

    pub async fn update_attributes(
        &self,
        username: &str,
        attributes: Vec<AttributeType>,
    ) -> Result<()> {
        let request = self
            .cognito
            .admin_update_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attributes(Some(attributes))
            .send();
        self.call("AdminUpdateUserAttributes", request)
            .await
            .map(drop)
    }

    pub async fn delete_attributes(&self, username: &str, names: Vec<String>) -> Result<()> {
        let request = self
            .cognito
            .admin_delete_user_attributes()
            .user_pool_id(&self.pool_id)
            .username(username)
            .set_user_attribute_names(Some(names))
            .send();
        self.call("AdminDeleteUserAttributes", request)
            .await
            .map(drop)
    }

    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        let (pool, cognito) = (&self.pool_id, &self.cognito);
        if enabled {
            let request = cognito
                .admin_enable_user()
                .user_pool_id(pool)
                .username(username);
            self.call("AdminEnableUser", request.send()).await.map(drop)
        } else {
            let request = cognito
                .admin_disable_user()
                .user_pool_id(pool)
                .username(username);
            self.call("AdminDisableUser", request.send())
                .await
                .map(drop)
        }
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        let request = self
            .cognito
            .admin_add_user_to_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send();
        self.call("AdminAddUserToGroup", request).await.map(drop)
    }

    pub async fn remove_from_group(&self, username: &str, group: &str) -> Result<()> {
        let request = self
            .cognito
            .admin_remove_user_from_group()
            .user_pool_id(&self.pool_id)
            .username(username)
            .group_name(group)
            .send();
        self.call("AdminRemoveUserFromGroup", request)
            .await
            .map(drop)
    }

    /// `AdminDeleteUser`; a user or pool that is already gone counts as deleted.
    pub async fn delete(&self, username: &str) -> Result<()> {
        let request = self
            .cognito
            .admin_delete_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .send();
        match self.call("AdminDeleteUser", request).await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind,
                    CognitoErrorKind::UserNotFound(_) | CognitoErrorKind::PoolNotFound(_)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// One `ListUsers` page of up to [`PAGE_SIZE`] users with all their attributes.
    pub async fn list_page(&self, token: Option<String>) -> Result<UserPage> {
        let request = self
            .cognito
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(PAGE_SIZE)
            .set_pagination_token(token)
            .send();
        let page = self.call("ListUsers", request).await?;
        Ok(UserPage {
            users: page
                .users()
                .iter()
                .map(ObservedUser::from_user_type)
                .collect(),
            next: next_token(page.pagination_token()),
        })
    }

    /// The user names (Cognito's, not e-mails) of every member of `group`.
    pub async fn members_of(&self, group: &str) -> Result<BTreeSet<String>> {
        let mut members = BTreeSet::new();
        let mut next: Option<String> = None;
        loop {
            let request = self
                .cognito
                .list_users_in_group()
                .user_pool_id(&self.pool_id)
                .group_name(group)
                .limit(PAGE_SIZE)
                .set_next_token(next.take())
                .send();
            let page = self.call("ListUsersInGroup", request).await?;
            members.extend(
                page.users()
                    .iter()
                    .filter_map(|u| u.username())
                    .map(str::to_owned),
            );
            next = next_token(page.next_token());
            if next.is_none() {
                return Ok(members);
            }
        }
    }
}
