//! Command line, environment and config-file settings: which pools to trust, what each
//! route requires, and the service's limits.

use std::{collections::BTreeSet, net::SocketAddr, path::PathBuf, time::Duration};

use ipnet::IpNet;
use serde::Deserialize;

use crate::{
    policy::{Callers, RoutePolicy},
    pools::PoolConfig,
    token::TokenUse,
};

/// Cognito JWT gate, server-side sign-up, forward-auth and trigger sink.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "webhook-api", version)]
pub struct Cli {
    /// Instead of serving: GET this URL and exit 0 if it answers 2xx, 1 otherwise. The
    /// image has no shell or curl, so the chart's `helm test` checks a running
    /// webhook-api's /readyz with this.
    #[arg(long, value_name = "URL", exclusive = true)]
    pub check_ready: Option<reqwest::Url>,

    /// Address to listen on.
    #[arg(long, env = "WEBHOOK_API_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Address of the `/metrics` listener, apart from the public port.
    #[arg(
        long,
        env = "WEBHOOK_API_METRICS_LISTEN",
        default_value = "0.0.0.0:9090"
    )]
    pub metrics_listen: SocketAddr,

    /// A connection whose request headers are not complete within this time is closed.
    #[arg(
        long,
        env = "WEBHOOK_API_HEADER_READ_TIMEOUT_SECONDS",
        default_value_t = 5
    )]
    pub header_read_timeout_seconds: u64,

    /// Connections served at once; further ones wait in the listen backlog.
    #[arg(long, env = "WEBHOOK_API_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// YAML (or JSON) file with `pools`, `routes` and `revokedOriginJtis`.
    #[arg(long, env = "WEBHOOK_API_CONFIG")]
    pub config: Option<PathBuf>,

    /// Pools to trust as inline YAML/JSON (same shape as the file's `pools` list); added
    /// to the file's pools.
    #[arg(long, env = "WEBHOOK_API_POOLS")]
    pub pools: Option<String>,

    /// Also trust the pools of `UserPool` objects in `--discovery-namespaces` whose
    /// status reports a valid Cognito issuer; pools come and go without a restart.
    #[arg(long, env = "WEBHOOK_API_DISCOVER_USER_POOLS")]
    pub discover_user_pools: bool,

    /// Namespaces (comma-separated) whose `UserPool` objects are trusted; `*` for every
    /// namespace. Required with `--discover-user-pools`: whoever can write a UserPool's
    /// status in an allowed namespace can name the pool whose tokens pass.
    #[arg(long, env = "WEBHOOK_API_DISCOVERY_NAMESPACES", value_delimiter = ',')]
    pub discovery_namespaces: Vec<String>,

    /// Emulators only: fetch a discovered pool's keys from
    /// `<endpoint>/<poolId>/.well-known/jwks.json` instead of from its issuer.
    #[arg(long, env = "WEBHOOK_API_COGNITO_EMULATOR_ENDPOINT")]
    pub cognito_emulator_endpoint: Option<String>,

    /// Pool in which `POST /signup` creates users; sign-up is off without it.
    #[arg(long, env = "WEBHOOK_API_SIGNUP_USER_POOL_ID")]
    pub signup_user_pool_id: Option<String>,

    /// Sign-up requests allowed per client address and minute.
    #[arg(long, env = "WEBHOOK_API_SIGNUP_PER_MINUTE", default_value_t = 10)]
    pub signup_per_minute: u32,

    /// Mark the e-mail of users created by `POST /signup` as verified
    /// (`email_verified`), so `/auth` passes it on. Only when something else verifies
    /// the address (for example a pre-sign-up check of the domain).
    #[arg(long, env = "WEBHOOK_API_SIGNUP_EMAIL_VERIFIED")]
    pub signup_email_verified: bool,

    /// App client of the sign-up pool (`ALLOW_ADMIN_USER_PASSWORD_AUTH`, no secret)
    /// through which a retried `POST /signup` finishes a user an earlier one left
    /// `FORCE_CHANGE_PASSWORD`, once the retry's password proves to be that user's. With
    /// it, sign-up marks the users it creates (`custom:created_by`, which the pool's
    /// schema must declare); without it, such a user keeps answering 409.
    #[arg(long, env = "WEBHOOK_API_SIGNUP_CLIENT_ID")]
    pub signup_client_id: Option<String>,

    /// Proxies (CIDRs, comma-separated) whose `X-Forwarded-For` names the client for
    /// the sign-up rate limit; from any other peer the header is ignored.
    #[arg(long, env = "WEBHOOK_API_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,

    /// Shared secret expected in the `X-Trigger-Secret` header of `POST /triggers`;
    /// the trigger sink is off without it.
    #[arg(long, env = "WEBHOOK_API_TRIGGER_SECRET", hide_env_values = true)]
    pub trigger_secret: Option<String>,

    /// Tolerance for clock differences when checking `exp` and `nbf`.
    #[arg(long, env = "WEBHOOK_API_CLOCK_SKEW_SECONDS", default_value_t = 30)]
    pub clock_skew_seconds: u64,

    /// Minimum time between two JWKS fetches for one issuer, so tokens with made-up key
    /// ids cannot flood the JWKS endpoint.
    #[arg(long, env = "WEBHOOK_API_JWKS_COOLDOWN_SECONDS", default_value_t = 60)]
    pub jwks_cooldown_seconds: u64,

    /// Verified tokens kept so a repeated token skips the RSA check (0 turns it off).
    #[arg(long, env = "WEBHOOK_API_TOKEN_CACHE_SIZE", default_value_t = 10_000)]
    pub token_cache_size: usize,

    /// Per-request time limit.
    #[arg(
        long,
        env = "WEBHOOK_API_REQUEST_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub request_timeout_seconds: u64,

    /// After SIGTERM, how long to keep serving while `/readyz` answers 503 and every
    /// answer asks its client to reconnect, before the listener closes: time for
    /// Kubernetes endpoints and load balancers to stop routing here. Requests in flight
    /// then finish; the pod's grace period must cover this plus the request time limit.
    #[arg(long, env = "WEBHOOK_API_SHUTDOWN_DRAIN_SECONDS", default_value_t = 5)]
    pub shutdown_drain_seconds: u64,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "WEBHOOK_API_LOG_JSON")]
    pub log_json: bool,

    /// Benchmarks only: mount `GET /bench/unchecked/me`, which answers like `/api/me`
    /// from the token's claims WITHOUT verifying it. Never enable in production.
    #[arg(long, hide = true)]
    pub insecure_bench_unchecked_route: bool,
}

impl Cli {
    /// Reads the config file (if any) and merges the inline pools into it.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut settings = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Settings::parse(&text)?
            }
            None => Settings::default(),
        };
        if let Some(inline) = &self.pools {
            let pools: Vec<PoolConfig> = serde_yaml_ng::from_str(inline)?;
            settings.pools.extend(pools);
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn clock_skew(&self) -> Duration {
        Duration::from_secs(self.clock_skew_seconds)
    }

    pub fn jwks_cooldown(&self) -> Duration {
        Duration::from_secs(self.jwks_cooldown_seconds)
    }

    /// The namespaces to watch for `UserPool` objects (`None`: all), empty when
    /// discovery is off.
    pub fn discovery_scopes(&self) -> Result<Vec<Option<String>>, ConfigError> {
        if !self.discover_user_pools {
            return Ok(Vec::new());
        }
        let namespaces: Vec<&str> = self
            .discovery_namespaces
            .iter()
            .map(|namespace| namespace.trim())
            .filter(|namespace| !namespace.is_empty())
            .collect();
        if namespaces.is_empty() {
            return Err(ConfigError::Invalid(
                "--discover-user-pools needs --discovery-namespaces (`*` for all)".into(),
            ));
        }
        if namespaces.contains(&"*") {
            return Ok(vec![None]);
        }
        Ok(namespaces.into_iter().map(|n| Some(n.to_owned())).collect())
    }
}

/// What the config file holds.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub pools: Vec<PoolConfig>,
    #[serde(default)]
    pub routes: RoutePolicies,
    /// `origin_jti` values of revoked sessions: their tokens are refused.
    #[serde(default)]
    pub revoked_origin_jtis: BTreeSet<String>,
}

/// What each protected route requires.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutePolicies {
    /// `GET /api/me`: access tokens by default, like the seed's authenticated API.
    #[serde(default = "RoutePolicies::default_api")]
    pub api: RoutePolicy,
    /// `GET /auth`: id tokens by default, so the e-mail header can be filled.
    #[serde(default = "RoutePolicies::default_forward_auth")]
    pub forward_auth: RoutePolicy,
    /// `GET /api/machine`: access tokens of app clients on their own.
    #[serde(
        default = "RoutePolicies::default_machine",
        deserialize_with = "machine_policy"
    )]
    pub machine: RoutePolicy,
}

/// The machine route's policy as written, with `caller: machine` unless it says
/// otherwise: the default of the other routes (`user`) would lock out the very callers
/// this route is for.
fn machine_policy<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<RoutePolicy, D::Error> {
    let mut written = serde_yaml_ng::Mapping::deserialize(deserializer)?;
    written
        .entry("caller".into())
        .or_insert_with(|| "machine".into());
    RoutePolicy::deserialize(serde_yaml_ng::Value::Mapping(written))
        .map_err(serde::de::Error::custom)
}

impl RoutePolicies {
    fn default_api() -> RoutePolicy {
        RoutePolicy::new(TokenUse::Access)
    }

    fn default_forward_auth() -> RoutePolicy {
        RoutePolicy::new(TokenUse::Id)
    }

    fn default_machine() -> RoutePolicy {
        RoutePolicy {
            caller: Callers::Machine,
            ..RoutePolicy::new(TokenUse::Access)
        }
    }

    /// Refuses routes no token could pass, and an `/api/me` for machines.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.api.caller != Callers::User {
            return Err(ConfigError::Invalid(
                "routes.api.caller must be user: /api/me answers who the signed-in user is \
                 (app clients have /api/machine)"
                    .into(),
            ));
        }
        for (name, policy) in [
            ("forwardAuth", &self.forward_auth),
            ("machine", &self.machine),
        ] {
            if policy.caller == Callers::Machine && policy.token_use == TokenUse::Id {
                return Err(ConfigError::Invalid(format!(
                    "routes.{name}: caller machine needs tokenUse access (an app client on \
                     its own gets no id token)"
                )));
            }
        }
        Ok(())
    }
}

impl Default for RoutePolicies {
    fn default() -> Self {
        Self {
            api: Self::default_api(),
            forward_auth: Self::default_forward_auth(),
            machine: Self::default_machine(),
        }
    }
}

impl Settings {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Ok(serde_yaml_ng::from_str(text)?)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut names = BTreeSet::new();
        for pool in &self.pools {
            let name = pool.name.as_deref().unwrap_or(&pool.issuer);
            if pool.name.as_deref().is_some_and(|name| name.contains('/')) {
                return Err(ConfigError::Invalid(format!(
                    "pool name {name:?} contains '/': those name discovered pools"
                )));
            }
            if !names.insert(name) {
                return Err(ConfigError::Invalid(format!(
                    "two pools are named (or have the issuer) {name:?}"
                )));
            }
            if !pool.issuer.starts_with("https://") && !pool.issuer.starts_with("http://") {
                return Err(ConfigError::Invalid(format!(
                    "issuer {:?} is not an http(s) URL",
                    pool.issuer
                )));
            }
            if pool.client_ids.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "pool {} lists no clientIds: no token could ever be accepted",
                    pool.issuer
                )));
            }
        }
        self.routes.validate()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse the configuration: {0}")]
    Parse(#[from] serde_yaml_ng::Error),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn parses_a_full_config_file() {
        let settings = Settings::parse(
            r#"
pools:
  - issuer: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc
    jwksUri: http://127.0.0.1:5055/eu-west-1_abc/.well-known/jwks.json
    clientIds: [client-a, client-b]
routes:
  api:
    tokenUse: id
    requiredGroups: [admins]
  forwardAuth:
    tokenUse: access
    requiredScopes: [orders/read]
revokedOriginJtis: [jti-1]
"#,
        )
        .expect("parses");
        assert_eq!(settings.pools.len(), 1);
        let pool = &settings.pools[0];
        assert_eq!(
            pool.jwks_uri.as_deref(),
            Some("http://127.0.0.1:5055/eu-west-1_abc/.well-known/jwks.json")
        );
        assert!(pool.client_ids.contains("client-b"));
        assert_eq!(settings.routes.api.token_use, TokenUse::Id);
        assert_eq!(
            settings.routes.api.required_groups,
            vec!["admins".to_owned()]
        );
        assert_eq!(settings.routes.forward_auth.token_use, TokenUse::Access);
        assert!(settings.revoked_origin_jtis.contains("jti-1"));
    }

    #[test]
    fn defaults_are_access_for_the_api_and_id_for_forward_auth() {
        let settings = Settings::parse("pools: []").expect("parses");
        assert_eq!(settings.routes.api.token_use, TokenUse::Access);
        assert_eq!(settings.routes.forward_auth.token_use, TokenUse::Id);
        assert!(settings.routes.api.required_groups.is_empty());
    }

    #[test]
    fn the_machine_route_admits_app_clients_by_default() {
        let defaults = Settings::parse("pools: []").expect("parses").routes;
        assert_eq!(defaults.machine.caller, Callers::Machine);
        assert_eq!(defaults.machine.token_use, TokenUse::Access);
        assert!(defaults.machine.required_scopes.is_empty());
        assert_eq!(defaults.api.caller, Callers::User);
        assert_eq!(defaults.forward_auth.caller, Callers::User);

        // A machine route written without `caller` still admits app clients.
        let configured = Settings::parse(
            "routes:\n  machine: {tokenUse: access, requiredScopes: [orders/read]}\n  forwardAuth: {tokenUse: access, caller: any}\n",
        )
        .expect("parses");
        assert!(configured.validate().is_ok());
        assert_eq!(configured.routes.machine.caller, Callers::Machine);
        assert_eq!(configured.routes.machine.required_scopes, ["orders/read"]);
        assert_eq!(configured.routes.forward_auth.caller, Callers::Any);
        let both =
            Settings::parse("routes: {machine: {tokenUse: access, caller: any}}").expect("parses");
        assert_eq!(both.routes.machine.caller, Callers::Any);
    }

    #[test]
    fn refuses_routes_no_token_could_pass_and_a_machine_me() {
        for refused in [
            "routes: {api: {tokenUse: access, caller: machine}}",
            "routes: {api: {tokenUse: access, caller: any}}",
            // forwardAuth defaults to id tokens, which no app client gets on its own.
            "routes: {forwardAuth: {tokenUse: id, caller: machine}}",
            "routes: {machine: {tokenUse: id}}",
        ] {
            let settings = Settings::parse(refused).expect("parses");
            assert!(
                matches!(settings.validate(), Err(ConfigError::Invalid(_))),
                "{refused}"
            );
        }
        for malformed in [
            "routes: {machine: {tokenUse: access, caller: robot}}",
            "routes: {machine: {tokenUse: access, scopes: [orders/read]}}",
            "routes: {machine: [tokenUse]}",
        ] {
            assert!(Settings::parse(malformed).is_err(), "{malformed}");
        }
    }

    #[test]
    fn rejects_unknown_fields_and_pools_without_clients() {
        assert!(Settings::parse("pool: []").is_err());
        let cli = Cli::parse_from([
            "webhook-api",
            "--pools",
            r#"[{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/p", "clientIds": []}]"#,
        ]);
        assert!(matches!(cli.settings(), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn discovery_needs_namespaces_an_admin_named() {
        let scopes = |args: &[&str]| {
            Cli::parse_from(std::iter::once("webhook-api").chain(args.iter().copied()))
                .discovery_scopes()
        };
        assert!(scopes(&[]).expect("off").is_empty());
        assert!(matches!(
            scopes(&["--discover-user-pools"]),
            Err(ConfigError::Invalid(_))
        ));
        assert_eq!(
            scopes(&["--discover-user-pools", "--discovery-namespaces", "a,b"]).expect("valid"),
            [Some("a".to_owned()), Some("b".to_owned())]
        );
        assert_eq!(
            scopes(&["--discover-user-pools", "--discovery-namespaces", "*"]).expect("valid"),
            [None]
        );
    }

    #[test]
    fn configured_pool_names_are_unique_and_never_look_discovered() {
        let pools = |names: &[&str]| {
            let pools: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    format!("  - {{name: {name:?}, issuer: https://cognito-idp.us-east-1.amazonaws.com/us-east-1_{i}, clientIds: [c]}}")
                })
                .collect();
            Settings::parse(&format!("pools:\n{}", pools.join("\n")))
                .expect("parses")
                .validate()
        };
        assert!(pools(&["shop", "admin"]).is_ok());
        assert!(pools(&["shop", "shop"]).is_err());
        assert!(pools(&["team-a/shop"]).is_err());
    }

    #[test]
    fn inline_pools_come_from_the_command_line_or_environment() {
        let cli = Cli::parse_from([
            "webhook-api",
            "--pools",
            r#"[{"issuer": "https://cognito-idp.us-east-1.amazonaws.com/p", "clientIds": ["c"]}]"#,
        ]);
        let settings = cli.settings().expect("valid");
        assert_eq!(settings.pools[0].client_ids.len(), 1);
        assert_eq!(cli.clock_skew(), Duration::from_secs(30));
    }

    #[test]
    fn check_ready_takes_a_url_and_nothing_else() {
        let cli = Cli::parse_from(["webhook-api", "--check-ready", "http://10.0.0.7:80/readyz"]);
        assert_eq!(
            cli.check_ready.map(String::from).as_deref(),
            Some("http://10.0.0.7/readyz")
        );
        for refused in [
            vec!["webhook-api", "--check-ready", "not a url"],
            vec![
                "webhook-api",
                "--check-ready",
                "http://h/readyz",
                "--listen",
                "0.0.0.0:1",
            ],
        ] {
            assert!(Cli::try_parse_from(&refused).is_err(), "{refused:?}");
        }
    }
}
