//! The Cognito user calls of one pool, each waiting first on its quota category's rate
//! limit: the only way the AppUser controller and the census reach Cognito.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use aws_sdk_cognitoidentityprovider::{
    Client,
    error::{ProvideErrorMetadata, SdkError},
    types::AttributeType,
};
use cognito_crds::user_provisioning::{
    self, CognitoError,
    CognitoErrorKind::{self, PoolNotFound, ServerError, Throttled, UserNotFound},
    NewUser,
};

use super::attributes::ObservedUser;
use crate::runtime::{
    context::RegionalClients,
    rate_limit::{QuotaCategory, RateLimits},
};

/// Items per listed page: Cognito's maximum.
pub const PAGE_SIZE: i32 = 60;
/// Attempts per call, the first included, when Cognito throttles or fails on its side.
pub const ATTEMPTS: u32 = 4;

/// Whether a failed attempt is worth another one right away.
fn is_retried(kind: &CognitoErrorKind) -> bool {
    matches!(kind, Throttled(_) | ServerError(_))
}

/// The pause after failed attempt `made`: 200 ms doubling up to 5 s, each drawn between
/// half and all of its step so that callers throttled together do not retry together.
fn retry_delay(made: u32) -> Duration {
    let step = Duration::from_millis(200 << made.clamp(1, 5).saturating_sub(1));
    step.min(Duration::from_secs(5))
        .mul_f64(rand::random_range(0.5..=1.0))
}

type Result<T> = std::result::Result<T, CognitoError>;

/// The users of one pool.
#[derive(Clone)]
pub struct UserDirectory {
    cognito: Client,
    limits: Arc<RateLimits>,
    pool_id: String,
}

/// Visits a paginated listing page by page: `page` makes one call and returns its items
/// and the next token; an absent or empty token ends the listing. Only one page is held at
/// a time.
async fn each_page<T, Page>(
    page: impl Fn(Option<String>) -> Page,
    mut visit: impl FnMut(Vec<T>),
) -> Result<()>
where
    Page: Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut next = None;
    loop {
        let (found, token) = page(next).await?;
        visit(found);
        next = token.filter(|t| !t.is_empty());
        if next.is_none() {
            return Ok(());
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
            cognito: clients.cognito_users.clone(),
            limits: clients.limits.clone(),
            pool_id: pool_id.to_owned(),
        }
    }

    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// Runs `attempt` until it succeeds, fails for good, or [`ATTEMPTS`] attempts were
    /// made. Each attempt first waits on its quota category's rate limit, so retries count
    /// against the same rate as first tries: throttling never makes the operator call
    /// faster than its configured rates. Throttling and server errors are retried after a
    /// jittered, growing delay; a call that got no answer is not (it already waited out
    /// its timeout; the reconcile's backoff takes over).
    async fn attempts<T, A>(&self, operation: &'static str, attempt: impl Fn() -> A) -> Result<T>
    where
        A: Future<Output = Result<T>>,
    {
        let category = QuotaCategory::of(operation);
        let mut made = 0;
        loop {
            if let Some(category) = category {
                self.limits.acquire(category).await;
            }
            made += 1;
            match attempt().await {
                Err(error) if made < ATTEMPTS && is_retried(&error.kind) => {
                    tracing::debug!(operation, attempt = made, %error, "retrying");
                    tokio::time::sleep(retry_delay(made)).await;
                }
                outcome => return outcome,
            }
        }
    }

    /// One SDK request (built, not yet sent) made through [`Self::attempts`].
    async fn call<T, E, R>(&self, operation: &'static str, request: impl Fn() -> R) -> Result<T>
    where
        R: Future<Output = std::result::Result<T, SdkError<E>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        self.attempts(operation, || async {
            request()
                .await
                .map_err(|e| CognitoError::from_sdk(operation, e))
        })
        .await
    }

    /// `AdminCreateUser` (suppressed, the password as the temporary password).
    pub async fn create(&self, user: NewUser<'_>) -> Result<ObservedUser> {
        let user = self
            .attempts("AdminCreateUser", || {
                user_provisioning::create_suppressed(&self.cognito, &self.pool_id, user.clone())
            })
            .await?;
        let mut observed = ObservedUser::from_user_type(&user);
        // A new user belongs to no group.
        observed.groups = Some(BTreeSet::new());
        Ok(observed)
    }

    /// `AdminSetUserPassword Permanent=true`.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<()> {
        self.attempts("AdminSetUserPassword", || {
            user_provisioning::set_permanent_password(
                &self.cognito,
                &self.pool_id,
                username,
                password,
            )
        })
        .await
    }

    /// The pool's tags (`DescribeUserPool`); `None` when the pool does not exist. Not
    /// rate-limited: callers ask once per pool id and remember the answer.
    pub async fn pool_tags(&self) -> Result<Option<HashMap<String, String>>> {
        let request = in_pool!(self, describe_user_pool);
        match self
            .call("DescribeUserPool", || request.clone().send())
            .await
        {
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
        match self.call("AdminGetUser", || request.clone().send()).await {
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
        let mut groups = BTreeSet::new();
        each_page(
            |next| {
                let request = listing.clone().limit(PAGE_SIZE).set_next_token(next);
                async move {
                    let page = self
                        .call("AdminListGroupsForUser", || request.clone().send())
                        .await?;
                    let names = page.groups().iter().filter_map(|g| g.group_name());
                    Ok((names.map(str::to_owned).collect(), page.next_token))
                }
            },
            |page| groups.extend(page),
        )
        .await?;
        Ok(groups)
    }

    /// `ListUsers`, all pages of up to [`PAGE_SIZE`] users with all their attributes,
    /// keeping only the users whose `sub` is in `subs`, by `sub`: a pool may hold far more
    /// users than the operator manages, and only one page of them is in memory at a time.
    pub async fn users_with_subs(
        &self,
        subs: &HashSet<&str>,
    ) -> Result<HashMap<String, ObservedUser>> {
        let listing = in_pool!(self, list_users).limit(PAGE_SIZE);
        let mut found = HashMap::new();
        each_page(
            |next| {
                let request = listing.clone().set_pagination_token(next);
                async move {
                    let page = self.call("ListUsers", || request.clone().send()).await?;
                    Ok((page.users.unwrap_or_default(), page.pagination_token))
                }
            },
            |page| {
                for user in &page {
                    let observed = ObservedUser::from_user_type(user);
                    if let Some(sub) = observed.sub.clone()
                        && subs.contains(sub.as_str())
                    {
                        found.insert(sub, observed);
                    }
                }
            },
        )
        .await?;
        Ok(found)
    }

    /// `ListUsersInGroup`: the user names (Cognito's, not e-mails) of the members of
    /// `group` that are in `usernames`, one page in memory at a time.
    pub async fn members_among(
        &self,
        group: &str,
        usernames: &HashSet<&str>,
    ) -> Result<Vec<String>> {
        let listing = in_pool!(self, list_users_in_group).group_name(group);
        let mut members = Vec::new();
        each_page(
            |next| {
                let request = listing.clone().limit(PAGE_SIZE).set_next_token(next);
                async move {
                    let page = self
                        .call("ListUsersInGroup", || request.clone().send())
                        .await?;
                    Ok((page.users.unwrap_or_default(), page.next_token))
                }
            },
            |page| {
                let names = page.into_iter().filter_map(|user| user.username);
                members.extend(names.filter(|name| usernames.contains(name.as_str())));
            },
        )
        .await?;
        Ok(members)
    }

    pub async fn update_attributes(
        &self,
        username: &str,
        attributes: Vec<AttributeType>,
    ) -> Result<()> {
        let request = in_pool!(self, admin_update_user_attributes).username(username);
        let request = request.set_user_attributes(Some(attributes));
        self.call("AdminUpdateUserAttributes", || request.clone().send())
            .await
            .map(drop)
    }

    pub async fn delete_attributes(&self, username: &str, names: Vec<String>) -> Result<()> {
        let request = in_pool!(self, admin_delete_user_attributes).username(username);
        let request = request.set_user_attribute_names(Some(names));
        self.call("AdminDeleteUserAttributes", || request.clone().send())
            .await
            .map(drop)
    }

    pub async fn set_enabled(&self, username: &str, enabled: bool) -> Result<()> {
        if enabled {
            let request = in_pool!(self, admin_enable_user).username(username);
            self.call("AdminEnableUser", || request.clone().send())
                .await
                .map(drop)
        } else {
            let request = in_pool!(self, admin_disable_user).username(username);
            self.call("AdminDisableUser", || request.clone().send())
                .await
                .map(drop)
        }
    }

    pub async fn add_to_group(&self, username: &str, group: &str) -> Result<()> {
        let request = in_pool!(self, admin_add_user_to_group).group_name(group);
        let request = request.username(username);
        self.call("AdminAddUserToGroup", || request.clone().send())
            .await
            .map(drop)
    }

    pub async fn remove_from_group(&self, username: &str, group: &str) -> Result<()> {
        let request = in_pool!(self, admin_remove_user_from_group).group_name(group);
        let request = request.username(username);
        self.call("AdminRemoveUserFromGroup", || request.clone().send())
            .await
            .map(drop)
    }

    /// `AdminDeleteUser`; a user or pool that is already gone counts as deleted.
    pub async fn delete(&self, username: &str) -> Result<()> {
        let request = in_pool!(self, admin_delete_user).username(username);
        match self
            .call("AdminDeleteUser", || request.clone().send())
            .await
        {
            Err(e) if !matches!(e.kind, UserNotFound(_) | PoolNotFound(_)) => Err(e),
            _ => Ok(()),
        }
    }
}
