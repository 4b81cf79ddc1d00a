//! Cognito pools, clients and sign-ins in the emulator, for tests that need real tokens.

use aws_sdk_cognitoidentityprovider::{
    Client,
    types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType, UsernameAttributeType},
};

use crate::{aws_config, environment, environment::REGION};

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
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
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
        cognito_operator::user_provisioning::create_user(
            &self.cognito,
            &self.pool_id,
            email,
            vec![email_attribute],
            password,
        )
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

    /// `USER_PASSWORD_AUTH` sign-in through `client_id`.
    pub async fn sign_in_with(&self, client_id: &str, username: &str, password: &str) -> SignedIn {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
            .expect("InitiateAuth");
        let result = auth
            .authentication_result()
            .expect("tokens, not a challenge");
        SignedIn {
            access_token: result.access_token().expect("access token").to_owned(),
            id_token: result.id_token().expect("id token").to_owned(),
        }
    }

    /// `USER_PASSWORD_AUTH` sign-in through the pool's first client.
    pub async fn sign_in(&self, username: &str, password: &str) -> SignedIn {
        self.sign_in_with(&self.client_id, username, password).await
    }
}
