//! The Cognito user calls of one pool, each waiting first on its quota category's rate
//! limit: the only way the AppUser controller and the census reach Cognito.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::AttributeType,
};
use cognito_crds::user_provisioning::{
    self, CognitoError,
    CognitoErrorKind::{PoolNotFound, UserNotFound},
    NewUser,
};

use super::attributes::ObservedUser;
use crate::runtime::{
    context::RegionalClients,
    rate_limit::{QuotaCategory, RateLimits},
};

/// Items per listed page: Cognito's maximum.
pub const PAGE_SIZE: i32 = 60;

type Result<T> = std::result::Result<T, CognitoError>;

/// The users of one pool.
#[derive(Clone)]
pub struct UserDirectory {
    cognito: Client,
    limits: Arc<RateLimits>,
    pool_id: String,
}

/// Everything a paginated listing returns: `page` makes one call and returns its items and
/// the next token; an absent or empty token ends the listing.
async fn every_page<T, Items, Page>(page: impl Fn(Option<String>) -> Page) -> Result<Items>
where
    Items: Default + Extend<T>,
    Page: Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut items = Items::default();
    let mut next = None;
    loop {
        let (found, token) = page(next).await?;
        items.extend(found);
        next = token.filter(|t| !t.is_empty());
        if next.is_none() {
            return Ok(items);
        }
    }
}

/// A request on this directory's pool. The SDK's request builders share no trait to set
/// the pool id through, so without this each call would repeat it.
macro_rules! in_pool {
    ($directory:expr, $operation:ident) => {
        $directory
            .cognito
            .$operation()
            .user_pool_id(&$directory.pool_id)
    };
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

    /// The pool's tags (`DescribeUserPool`); `None` when the pool does not exist. Not
    /// rate-limited: callers ask once per pool id and remember the answer.
    pub async fn pool_tags(&self) -> Result<Option<HashMap<String, String>>> {
        let request = in_pool!(self, describe_user_pool);
        match self.call("DescribeUserPool", request.send()).await {
            Ok(output) => Ok(Some(
                output
                    .user_pool
                    .and_then(|pool| pool.user_pool_tags)
                    .unwrap_or_default(),
            )),
            Err(e) if matches!(e.kind, PoolNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `AdminGetUser`; `None` when the user does not exist.
    pub async fn get(&self, username: &str) -> Result<Option<ObservedUser>> {
        let request = in_pool!(self, admin_get_user).username(username);
        match self.call("AdminGetUser", request.send()).await {
            Ok(user) => Ok(Some(ObservedUser::from_parts(
                Some(user.username()),
                user.user_attributes(),
                user.user_status().map(|s| s.as_str()),
                user.enabled(),
            ))),
            Err(e) if matches!(e.kind, UserNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `AdminListGroupsForUser`, all pages.
    pub async fn groups_of(&self, username: &str) -> Result<BTreeSet<String>> {
        let listing = in_pool!(self, admin_list_groups_for_user).username(username);
        every_page(|next| {
            let request = listing.clone().limit(PAGE_SIZE).set_next_token(next);
            async move {
                let page = self.call("AdminListGroupsForUser", request.send()).await?;
                let groups = page.groups().iter().filter_map(|g| g.group_name());
                Ok((groups.map(str::to_owned).collect(), page.next_token))
            }
        })
        .await
    }

    /// `ListUsers`, all pages of up to [`PAGE_SIZE`] users with all their attributes, by
    /// `sub`.
    pub async fn users_by_sub(&self) -> Result<HashMap<String, ObservedUser>> {
        every_page(|next| {
            let request = in_pool!(self, list_users).limit(PAGE_SIZE);
            let request = request.set_pagination_token(next).send();
            async move {
                let page = self.call("ListUsers", request).await?;
                let users = page.users().iter().map(ObservedUser::from_user_type);
                let by_sub = users.filter_map(|user| Some((user.sub.clone()?, user)));
                Ok((by_sub.collect(), page.pagination_token))
            }
        })
        .await
    }

    /// `ListUsersInGroup`: the user names (Cognito's, not e-mails) of every member.
    pub async fn members_of(&self, group: &str) -> Result<Vec<String>> {
        every_page(|next| {
            let request = in_pool!(self, list_users_in_group).group_name(group);
            let request = request.limit(PAGE_SIZE).set_next_token(next).send();
            async move {
                let page = self.call("ListUsersInGroup", request).await?;
                let members = page.users.unwrap_or_default().into_iter();
                Ok((
                    members.filter_map(|u| u.username).collect(),
                    page.next_token,
                ))
            }
        })
        .await
    }

    pub async fn update_attributes(
        &self,
        username: &str,
        attributes: Vec<AttributeType>,
    ) -> Result<()> {
        let request = in_pool!(self, admin_update_user_attributes).username(username);
        let request = request.set_user_attributes(Some(attributes)).send();
        self.call("AdminUpdateUserAttributes", request)
            .await
            .map(drop)
    }

    pub async fn delete_attributes(&self, username: &str, names: Vec<String>) -> Result<()> {
        let request = in_pool!(self, admin_delete_user_attributes).username(username);
        let request = request.set_user_attribute_names(Some(names)).send();
        self.call("AdminDeleteUserAttributes", request)
            .await
            .map(drop)
    }

    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        if enabled {
            let request = in_pool!(self, admin_enable_user).username(username);
            self.call("AdminEnableUser", request.send()).await.map(drop)
        } else {
            let request = in_pool!(self, admin_disable_user).username(username);
            self.call("AdminDisableUser", request.send())
                .await
                .map(drop)
        }
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        let request = in_pool!(self, admin_add_user_to_group).group_name(group);
        let request = request.username(username).send();
        self.call("AdminAddUserToGroup", request).await.map(drop)
    }

    pub async fn remove_from_group(&self, username: &str, group: &str) -> Result<()> {
        let request = in_pool!(self, admin_remove_user_from_group).group_name(group);
        let request = request.username(username).send();
        self.call("AdminRemoveUserFromGroup", request)
            .await
            .map(drop)
    }

    /// `AdminDeleteUser`; a user or pool that is already gone counts as deleted.
    pub async fn delete(&self, username: &str) -> Result<()> {
        let request = in_pool!(self, admin_delete_user).username(username);
        match self.call("AdminDeleteUser", request.send()).await {
            Err(e) if !matches!(e.kind, UserNotFound(_) | PoolNotFound(_)) => Err(e),
            _ => Ok(()),
        }
    }
}
