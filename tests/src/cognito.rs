//! Cognito pools, clients and sign-ins in the emulator, for tests that need real tokens.

use aws_sdk_cognitoidentityprovider::{
    Client,
    operation::admin_get_user::AdminGetUserOutput,
    types::{
        AttributeType, AuthFlowType, AuthenticationResultType, ExplicitAuthFlowsType,
        UserPoolClientType, UserPoolType, UserType, UsernameAttributeType,
    },
};

use crate::{aws_config, environment, environment::REGION};

/// `pool.cognito.<operation>()` for `username` in `pool`, with more builder calls, sent:
/// the user-level Admin* calls all take the same two parameters.
macro_rules! user_request {
    ($pool:expr, $operation:ident, $username:expr $(, $method:ident($arg:expr))*) => {
        $pool
            .cognito
            .$operation()
            .user_pool_id(&$pool.pool_id)
            .username($username)
            $(.$method($arg))*
            .send()
            .await
    };
}

/// A user pool with one app client, created in the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorPool {
    pub cognito: Client,
    pub pool_id: String,
    pub client_id: String,
}

/// The tokens of one sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub access_token: String,
    pub id_token: String,
}

impl EmulatorPool {
    /// A pool whose user names are e-mail addresses, with a client allowing
    /// `USER_PASSWORD_AUTH`.
    /// A pool the operator made: `pool_id` with its app client `client_id`.
    pub async fn of(pool_id: &str, client_id: &str) -> Self {
        Self {
            cognito: Client::new(&aws_config().await),
            pool_id: pool_id.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    pub async fn create(name: &str) -> Self {
        let cognito = Client::new(&aws_config().await);
        let pool = cognito
            .create_user_pool()
            .pool_name(name)
            .username_attributes(UsernameAttributeType::Email)
            .send()
            .await
            .expect("CreateUserPool");
        let pool_id = pool
            .user_pool()
            .and_then(|p| p.id())
            .expect("pool id")
            .to_owned();
        let mut pool = Self {
            cognito,
            pool_id,
            client_id: String::new(),
        };
        pool.client_id = pool.add_client(&format!("{name}-client")).await;
        pool
    }

    /// Adds another app client; returns its id.
    pub async fn add_client(&self, name: &str) -> String {
        let client = self
            .cognito
            .create_user_pool_client()
            .user_pool_id(&self.pool_id)
            .client_name(name)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserSrpAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            // Cognito's default (every attribute readable); the emulator puts only the
            // readable ones in id tokens.
            .read_attributes("email")
            .read_attributes("email_verified")
            .send()
            .await
            .expect("CreateUserPoolClient");
        client
            .user_pool_client()
            .and_then(|c| c.client_id())
            .expect("client id")
            .to_owned()
    }

    /// A confirmed user with `email` as user name and a permanent `password`, created the
    /// way the operator creates one.
    pub async fn add_confirmed_user(&self, email: &str, password: &str) {
        let email_attribute = AttributeType::builder()
            .name("email")
            .value(email)
            .build()
            .expect("email attribute");
        let user = cognito_crds::user_provisioning::NewUser {
            username: email,
            attributes: vec![email_attribute],
            password,
        };
        cognito_crds::user_provisioning::create_user(&self.cognito, &self.pool_id, user)
            .await
            .expect("create a confirmed user");
    }

    /// The issuer the emulator writes into tokens (the real Cognito form).
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{REGION}.amazonaws.com/{}",
            self.pool_id
        )
    }

    /// Where the emulator serves the pool's keys.
    pub fn jwks_uri(&self) -> String {
        format!(
            "{}/{}/.well-known/jwks.json",
            environment().aws_endpoint,
            self.pool_id
        )
    }

    /// `USER_PASSWORD_AUTH` through `client_id`: the tokens, or why there are none.
    pub async fn password_auth(
        &self,
        client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<AuthenticationResultType, String> {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .map_err(|e| format!("InitiateAuth: {e:?}"))?;
        auth.authentication_result
            .ok_or_else(|| "a challenge, not tokens".to_owned())
    }

    /// Whether `USER_PASSWORD_AUTH` with these credentials returns tokens.
    pub async fn signs_in(&self, username: &str, password: &str) -> bool {
        self.password_auth(&self.client_id, username, password)
            .await
            .is_ok_and(|tokens| tokens.access_token.is_some() && tokens.id_token.is_some())
    }

    /// `USER_PASSWORD_AUTH` sign-in through `client_id`.
    pub async fn sign_in_with(&self, client_id: &str, username: &str, password: &str) -> SignedIn {
        let result = self
            .password_auth(client_id, username, password)
            .await
            .unwrap_or_else(|e| panic!("sign-in of {username}: {e}"));
        SignedIn {
            access_token: result.access_token().expect("access token").to_owned(),
            id_token: result.id_token().expect("id token").to_owned(),
        }
    }

    /// `USER_PASSWORD_AUTH` sign-in through the pool's first client.
    pub async fn sign_in(&self, username: &str, password: &str) -> SignedIn {
        self.sign_in_with(&self.client_id, username, password).await
    }

    /// `DescribeUserPool` of this pool, or `None` when it does not exist (any more).
    pub async fn describe(&self) -> Option<UserPoolType> {
        self.cognito
            .describe_user_pool()
            .user_pool_id(&self.pool_id)
            .send()
            .await
            .ok()?
            .user_pool
    }

    /// `DescribeUserPoolClient` of the app client `client_id`, if it exists.
    pub async fn client(&self, client_id: &str) -> Option<UserPoolClientType> {
        let request = self.cognito.describe_user_pool_client();
        let request = request.user_pool_id(&self.pool_id).client_id(client_id);
        request.send().await.ok()?.user_pool_client
    }

    /// `AdminGetUser` of `username`, or `None` when the pool has no such user.
    pub async fn user(&self, username: &str) -> Option<AdminGetUserOutput> {
        user_request!(self, admin_get_user, username).ok()
    }

    /// The value of `username`'s attribute `name`.
    pub async fn attribute(&self, username: &str, name: &str) -> Option<String> {
        self.user(username)
            .await?
            .user_attributes()
            .iter()
            .find(|a| a.name() == name)
            .and_then(|a| a.value())
            .map(str::to_owned)
    }

    /// Whether `username` exists and is enabled.
    pub async fn is_enabled(&self, username: &str) -> Option<bool> {
        Some(self.user(username).await?.enabled())
    }

    /// The groups `username` belongs to.
    pub async fn groups_of(&self, username: &str) -> Vec<String> {
        let groups = user_request!(self, admin_list_groups_for_user, username)
            .expect("AdminListGroupsForUser");
        groups
            .groups()
            .iter()
            .filter_map(|g| g.group_name().map(str::to_owned))
            .collect()
    }

    /// How many users the pool holds (every page of `ListUsers`).
    pub async fn user_count(&self) -> usize {
        self.all_users().await.len()
    }

    /// Every user of the pool, through all pages of `ListUsers` (60 a page).
    pub async fn all_users(&self) -> Vec<UserType> {
        let mut users = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cognito
                .list_users()
                .user_pool_id(&self.pool_id)
                .limit(60)
                .set_pagination_token(token.take())
                .send()
                .await
                .expect("ListUsers");
            users.extend(page.users().iter().cloned());
            match page.pagination_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return users,
            }
        }
    }

    /// The user names in `group`, through all pages of `ListUsersInGroup`.
    pub async fn group_members(&self, group: &str) -> Vec<String> {
        let mut members = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .cognito
                .list_users_in_group()
                .user_pool_id(&self.pool_id)
                .group_name(group)
                .limit(60)
                .set_next_token(token.take())
                .send()
                .await
                .expect("ListUsersInGroup");
            members.extend(
                page.users()
                    .iter()
                    .filter_map(|u| u.username().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return members,
            }
        }
    }

    /// The names of the pool's groups.
    pub async fn groups(&self) -> Vec<String> {
        let listed = self
            .cognito
            .list_groups()
            .user_pool_id(&self.pool_id)
            .send();
        let listed = listed.await.expect("ListGroups");
        listed
            .groups()
            .iter()
            .filter_map(|g| g.group_name().map(str::to_owned))
            .collect()
    }

    /// Creates the group `group`.
    pub async fn create_group(&self, group: &str) {
        let created = self.cognito.create_group().user_pool_id(&self.pool_id);
        created.group_name(group).send().await.expect("CreateGroup");
    }

    /// Adds `username` to `group` (behind the operator's back, in its tests).
    pub async fn add_to_group(&self, username: &str, group: &str) {
        user_request!(self, admin_add_user_to_group, username, group_name(group))
            .expect("AdminAddUserToGroup");
    }

    /// Sets `username`'s attribute `name` to `value` behind the operator's back.
    pub async fn set_attribute(&self, username: &str, name: &str, value: &str) {
        let attribute = AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("attribute");
        user_request!(
            self,
            admin_update_user_attributes,
            username,
            user_attributes(attribute)
        )
        .expect("AdminUpdateUserAttributes");
    }

    /// The signed-in user changes their own attribute `name` (`UpdateUserAttributes`
    /// with their access token); Cognito's error code when refused.
    pub async fn update_own_attribute(
        &self,
        access_token: &str,
        name: &str,
        value: &str,
    ) -> Result<(), String> {
        let attribute = AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .expect("attribute");
        self.cognito
            .update_user_attributes()
            .access_token(access_token)
            .user_attributes(attribute)
            .send()
            .await
            .map(drop)
            .map_err(|e| {
                e.into_service_error()
                    .meta()
                    .code()
                    .unwrap_or("?")
                    .to_owned()
            })
    }

    /// Deletes `username` behind the operator's back.
    pub async fn delete_user(&self, username: &str) {
        user_request!(self, admin_delete_user, username).expect("AdminDeleteUser");
    }

    /// Disables `username` behind the operator's back.
    pub async fn disable(&self, username: &str) {
        user_request!(self, admin_disable_user, username).expect("AdminDisableUser");
    }
}
