//! Client-side rate limits per Cognito quota category, shared by every reconcile that talks
//! to one account and region, so the operator stays under AWS's request-rate quotas
//! instead of discovering them through `TooManyRequestsException`.

use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The Cognito quota categories the operator's calls fall into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaCategory {
    /// `AdminCreateUser`.
    UserCreation,
    /// Password, attribute, enable/disable, group and delete calls on one user.
    UserUpdate,
    /// `AdminGetUser`, `AdminListGroupsForUser`.
    UserRead,
    /// `ListUsers`, `ListUsersInGroup`.
    UserList,
}

impl QuotaCategory {
    /// The category of a Cognito operation, if the operator limits it.
    pub fn of(operation: &str) -> Option<Self> {
        Some(match operation {
            "AdminCreateUser" => Self::UserCreation,
            "AdminSetUserPassword"
            | "AdminUpdateUserAttributes"
            | "AdminDeleteUserAttributes"
            | "AdminEnableUser"
            | "AdminDisableUser"
            | "AdminAddUserToGroup"
            | "AdminRemoveUserFromGroup"
            | "AdminDeleteUser" => Self::UserUpdate,
            "AdminGetUser" | "AdminListGroupsForUser" => Self::UserRead,
            "ListUsers" | "ListUsersInGroup" => Self::UserList,
            _ => return None,
        })
    }
}

/// Requests per second allowed in each category. Defaults are AWS's default quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CognitoRates {
    pub user_creation: u32,
    pub user_update: u32,
    pub user_read: u32,
    pub user_list: u32,
}

impl Default for CognitoRates {
    fn default() -> Self {
        Self {
            user_creation: 50,
            user_update: 25,
            user_read: 120,
            user_list: 30,
        }
    }
}

/// One token bucket per category; the burst equals one second's worth of requests.
pub struct RateLimits {
    user_creation: DefaultDirectRateLimiter,
    user_update: DefaultDirectRateLimiter,
    user_read: DefaultDirectRateLimiter,
    user_list: DefaultDirectRateLimiter,
}

impl RateLimits {
    pub fn new(rates: CognitoRates) -> Self {
        let limiter = |per_second: u32| {
            RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
            ))
        };
        Self {
            user_creation: limiter(rates.user_creation),
            user_update: limiter(rates.user_update),
            user_read: limiter(rates.user_read),
            user_list: limiter(rates.user_list),
        }
    }

    /// Waits until one more request of `category` fits in its rate.
    pub async fn acquire(&self, category: QuotaCategory) {
        self.limiter(category).until_ready().await;
    }

    fn limiter(&self, category: QuotaCategory) -> &DefaultDirectRateLimiter {
        match category {
            QuotaCategory::UserCreation => &self.user_creation,
            QuotaCategory::UserUpdate => &self.user_update,
            QuotaCategory::UserRead => &self.user_read,
            QuotaCategory::UserList => &self.user_list,
        }
    }
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_fall_into_their_quota_category() {
        assert_eq!(
            QuotaCategory::of("AdminCreateUser"),
            Some(QuotaCategory::UserCreation)
        );
        assert_eq!(
            QuotaCategory::of("AdminSetUserPassword"),
            Some(QuotaCategory::UserUpdate)
        );
        assert_eq!(
            QuotaCategory::of("ListUsers"),
            Some(QuotaCategory::UserList)
        );
        assert_eq!(QuotaCategory::of("DescribeStacks"), None);
    }

    #[test]
    fn a_category_is_held_to_its_rate_and_alone() {
        let limits = RateLimits::new(CognitoRates {
            user_list: 10,
            ..CognitoRates::default()
        });
        // The burst is one second's worth: 10 pass, the 11th must wait.
        for _ in 0..10 {
            assert!(limits.limiter(QuotaCategory::UserList).check().is_ok());
        }
        assert!(limits.limiter(QuotaCategory::UserList).check().is_err());
        // Another category is not held back by the first.
        assert!(limits.limiter(QuotaCategory::UserRead).check().is_ok());
    }
}
