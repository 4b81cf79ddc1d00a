//! `cognito-client` end to end: the real binary against the moto emulator and an
//! in-process webhook-api, each test with its own pool and its own `$XDG_CONFIG_HOME`.
//! Passwords always go in on standard input.
//!
//! The emulator checks SRP's password claim and implements `RevokeToken` (plugins in
//! tests/moto; `client/tests/srp_reference.rs` checks the client's maths against
//! amazon-cognito-identity-js); its tokens always last an hour (tests move the cached
//! expiry).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use aws_sdk_cognitoidentityprovider::types::ExplicitAuthFlowsType;
use axum::{Router, http::HeaderMap, routing::post};
use cognito_operator_tests::{
    EmulatorPool, REGION, WebhookApi, environment, serve_on_loopback, trusting, unique, unix_now,
};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const PASSWORD: &str = "Correct-Horse-Battery-9";

/// The client binary, built on first use.
fn binary() -> PathBuf {
    environment().workspace_binary("cognito-client")
}

async fn pool_with_user(name: &str) -> (EmulatorPool, String) {
    let pool = EmulatorPool::create(&unique(&format!("cli-{name}"))).await;
    let email = format!("{}@example.com", unique(name));
    pool.add_confirmed_user(&email, PASSWORD).await;
    (pool, email)
}

/// webhook-api on a loopback port, trusting `pool` and signing up into it, ready.
async fn api_for(pool: &EmulatorPool, extra_args: &[&str]) -> WebhookApi {
    let pools = trusting(pool);
    let mut args = vec!["--pools", &pools, "--signup-user-pool-id", &pool.pool_id];
    args.extend(extra_args);
    let api = WebhookApi::start(&args).await;
    api.wait_ready().await;
    api
}

/// A pool with a user, webhook-api for it, and a machine set up for both.
async fn user_with_api(name: &str) -> (EmulatorPool, String, WebhookApi, Machine) {
    let (pool, email) = pool_with_user(name).await;
    let api = api_for(&pool, &[]).await;
    let machine = Machine::new(&pool, Some(&api.base));
    (pool, email, api, machine)
}

/// One user's machine: a private `$HOME` and `$XDG_CONFIG_HOME`, and the settings the
/// client gets from its environment.
struct Machine {
    home: PathBuf,
    env: Vec<(String, String)>,
}

/// What one run of the client did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }

    /// Exit code `code` and exactly one line on stderr, containing `words`.
    #[track_caller]
    fn assert_fails(&self, code: i32, words: &str) {
        assert_eq!(self.code, code, "exit code: {self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        assert!(
            self.stderr.starts_with("cognito-client: ") && self.stderr.contains(words),
            "expected {words:?}: {self:?}"
        );
    }

    #[track_caller]
    fn assert_no_secret(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "a secret was printed: {self:?}"
        );
    }
}

impl Machine {
    /// Settings for `pool` (and the API at `api_url`) in the environment.
    fn new(pool: &EmulatorPool, api_url: Option<&str>) -> Self {
        let mut machine = Self::bare();
        machine.set("COGNITO_CLIENT_USER_POOL_ID", &pool.pool_id);
        machine.set("COGNITO_CLIENT_CLIENT_ID", &pool.client_id);
        machine.set("AWS_ENDPOINT_URL", &environment().aws_endpoint);
        if let Some(api_url) = api_url {
            machine.set("COGNITO_CLIENT_API_URL", api_url);
        }
        machine
    }

    /// No settings at all: a fresh home.
    fn bare() -> Self {
        let home = std::env::temp_dir().join(unique("cognito-client-home"));
        std::fs::create_dir_all(&home).expect("create home");
        Self {
            env: vec![
                ("HOME".into(), home.display().to_string()),
                (
                    "XDG_CONFIG_HOME".into(),
                    home.join("config").display().to_string(),
                ),
                ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ],
            home,
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.env.push((name.to_owned(), value.to_owned()));
    }

    fn config_dir(&self) -> PathBuf {
        self.home.join("config/cognito-client")
    }

    fn cache_path(&self, profile: &str) -> PathBuf {
        self.config_dir().join(format!("tokens/{profile}.json"))
    }

    fn cache(&self) -> Value {
        let text = std::fs::read_to_string(self.cache_path("default")).expect("cache file");
        serde_json::from_str(&text).expect("cache JSON")
    }

    /// Rewrites the cache as a test needs it (an expiry, a revoked token).
    fn edit_cache(&self, edit: impl FnOnce(&mut Value)) {
        let mut cache = self.cache();
        edit(&mut cache);
        std::fs::write(self.cache_path("default"), cache.to_string()).expect("write cache");
    }

    /// Runs the client with `args`, feeding `stdin` (a password) if given.
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = tokio::process::Command::new(binary())
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start cognito-client");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            // A client that fails before reading (a missing setting) closes the pipe.
            match input.write_all(text.as_bytes()).await {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                written => written.expect("write stdin"),
            }
        }
        drop(input);
        let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("cognito-client finished within 60 s")
            .expect("cognito-client output");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    async fn sign_in(&self, email: &str, flow: &str) -> Run {
        let password = format!("{PASSWORD}\n");
        let run = self
            .run(
                &[
                    "sign-in",
                    "--email",
                    email,
                    "--auth-flow",
                    flow,
                    "--password-stdin",
                ],
                Some(&password),
            )
            .await;
        run.assert_no_secret(PASSWORD);
        run
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn password_sign_in_caches_tokens_privately_and_fetch_sends_them() {
    let (pool, email, api, machine) = user_with_api("password").await;

    let signed_in = machine.sign_in(&email, "password").await;
    signed_in.assert_ok();
    assert!(
        signed_in.stdout.is_empty(),
        "tokens printed without --print"
    );
    assert!(signed_in.stderr.contains(&email));
    let cache = machine.cache();
    assert_eq!(cache["client_id"], pool.client_id.as_str());
    assert_eq!(cache["username"], email.as_str());
    #[cfg(unix)]
    {
        assert_eq!(mode(&machine.cache_path("default")), 0o600);
        assert_eq!(mode(&machine.config_dir().join("tokens")), 0o700);
    }

    let me = machine.run(&["fetch", "/api/me"], None).await;
    me.assert_ok();
    let me: Value = serde_json::from_str(&me.stdout).expect("JSON from /api/me");
    assert_eq!(me["token_use"], "access");

    let whoami = machine.run(&["whoami"], None).await;
    whoami.assert_ok();
    assert!(
        whoami.stdout.contains(&format!("email: {email}")),
        "{whoami:?}"
    );
    let sub = me["sub"].as_str().expect("sub");
    assert!(whoami.stdout.contains(&format!("sub: {sub}")), "{whoami:?}");

    // Forward-auth wants id tokens; a full URL works as well as a path.
    let forward_auth = format!("{}/auth", api.base);
    machine
        .run(&["fetch", &forward_auth, "--id-token"], None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn srp_sign_in_prints_tokens_only_when_asked() {
    let (_pool, email, _api, machine) = user_with_api("srp").await;

    // SRP is the default flow.
    let password = format!("{PASSWORD}\n");
    let run = machine
        .run(
            &["sign-in", "--email", &email, "--password-stdin", "--print"],
            Some(&password),
        )
        .await;
    run.assert_ok().assert_no_secret(PASSWORD);
    let printed: Value = serde_json::from_str(&run.stdout).expect("--print writes JSON");
    let cache = machine.cache();
    assert_eq!(printed["access_token"], cache["access_token"]);
    assert_eq!(printed["id_token"], cache["id_token"]);
    assert!(
        printed.get("refresh_token").is_none(),
        "refresh token printed"
    );
    assert!(
        !run.stdout
            .contains(cache["refresh_token"].as_str().expect("refresh"))
    );

    // The printed token works on its own (`--token`), and so does the cached one.
    let token = printed["access_token"].as_str().expect("access token");
    machine
        .run(&["fetch", "/api/me", "--token", token], None)
        .await
        .assert_ok();
    machine.run(&["whoami"], None).await.assert_ok();
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let (_pool, email, api, machine) = user_with_api("refresh").await;
    machine.sign_in(&email, "password").await.assert_ok();
    let before = machine.cache();

    // 30 s left is inside the 60 s margin: fetch refreshes first.
    let almost_expired = unix_now() + 30;
    machine.edit_cache(|cache| cache["expires_at"] = almost_expired.into());
    machine.run(&["fetch", "/api/me"], None).await.assert_ok();
    let after = machine.cache();
    assert_ne!(after["access_token"], before["access_token"]);
    assert_ne!(after["id_token"], before["id_token"]);
    assert_eq!(after["refresh_token"], before["refresh_token"]);
    let expires_at = after["expires_at"].as_u64().expect("expiry");
    assert!(expires_at > unix_now() + 3000, "new expiry {expires_at}");
    assert_eq!(
        api.requests("/api/me", "unauthorized").await,
        0,
        "the expiring token was never sent"
    );

    // An already expired token is refreshed the same way, for whoami too.
    let refreshed = after["access_token"].clone();
    machine.edit_cache(|cache| cache["expires_at"] = 1.into());
    machine.run(&["whoami"], None).await.assert_ok();
    assert_ne!(machine.cache()["access_token"], refreshed);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_and_retried_once() {
    let (_pool, email, api, machine) = user_with_api("retry").await;
    machine.sign_in(&email, "password").await.assert_ok();

    // A token the API refuses, though the cache thinks it is good for an hour.
    machine.edit_cache(|cache| cache["access_token"] = "not-a-token".into());
    machine.run(&["fetch", "/api/me"], None).await.assert_ok();
    assert_eq!(api.requests("/api/me", "unauthorized").await, 1);
    assert_eq!(api.requests("/api/me", "ok").await, 1);
    assert_ne!(machine.cache()["access_token"], "not-a-token");

    // A route that refuses every token of this kind: one retry, then the status.
    let run = machine.run(&["fetch", "/auth"], None).await;
    run.assert_fails(12, "401 Unauthorized");
    assert_eq!(api.requests("/auth", "unauthorized").await, 2);

    // With --token there is nothing to refresh: no retry.
    let run = machine
        .run(&["fetch", "/api/me", "--token", "not-a-token"], None)
        .await;
    run.assert_fails(12, "401 Unauthorized");
    assert_eq!(api.requests("/api/me", "unauthorized").await, 2);

    // A refresh token Cognito no longer accepts ends the session.
    machine.edit_cache(|cache| {
        cache["refresh_token"] = "revoked".into();
        cache["expires_at"] = 1.into();
    });
    let run = machine.run(&["fetch", "/api/me"], None).await;
    run.assert_fails(3, "the session has ended");
}

#[tokio::test]
async fn sign_out_revokes_then_clears_the_cache() {
    let (pool, email) = pool_with_user("signout").await;
    let machine = Machine::new(&pool, None);
    machine.sign_in(&email, "password").await.assert_ok();
    let refresh_token = machine.cache()["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();

    // moto has no RevokeToken: a stub Cognito endpoint records the call instead.
    let calls: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let recorded = Arc::clone(&calls);
    let stub = Router::new().route(
        "/",
        post(move |headers: HeaderMap, body: String| async move {
            let target = headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            recorded.lock().expect("lock").push((target, body));
            ([("content-type", "application/x-amz-json-1.1")], "{}")
        }),
    );
    let stub_url = serve_on_loopback(stub).await;

    let run = machine
        .run(&["sign-out", "--aws-endpoint", &stub_url], None)
        .await;
    run.assert_ok();
    assert!(!machine.cache_path("default").exists(), "cache left behind");
    let calls = calls.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "AWSCognitoIdentityProviderService.RevokeToken");
    assert_eq!(calls[0].1["Token"], refresh_token.as_str());
    assert_eq!(calls[0].1["ClientId"], pool.client_id.as_str());

    // Signed out: nothing cached, and signing out again is not an error.
    machine
        .run(&["whoami"], None)
        .await
        .assert_fails(3, "not signed in");
    let again = machine.run(&["sign-out"], None).await;
    again.assert_ok();
    assert!(again.stderr.contains("nothing to do"));

    // Against the emulator the revocation is real: the revoked tokens, put back in the
    // cache, no longer work, whether the access token or the refresh token is tried.
    machine.sign_in(&email, "password").await.assert_ok();
    let revoked = std::fs::read_to_string(machine.cache_path("default")).expect("cache file");
    machine.run(&["sign-out"], None).await.assert_ok();
    let restore = || {
        std::fs::write(machine.cache_path("default"), &revoked).expect("restore the cache");
        std::fs::set_permissions(
            machine.cache_path("default"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("cache mode");
    };
    restore();
    machine
        .run(&["whoami"], None)
        .await
        .assert_fails(3, "the session has ended");
    restore();
    machine.edit_cache(|cache| cache["expires_at"] = 1.into());
    machine
        .run(&["whoami"], None)
        .await
        .assert_fails(3, "the session has ended");

    // When Cognito cannot revoke (a client without token revocation), the tokens are
    // still deleted, and the exit code says the revocation failed.
    let no_revocation = pool
        .cognito
        .create_user_pool_client()
        .user_pool_id(&pool.pool_id)
        .client_name("no-revocation")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .enable_token_revocation(false)
        .send()
        .await
        .expect("CreateUserPoolClient");
    let client_id = no_revocation
        .user_pool_client()
        .and_then(|c| c.client_id())
        .expect("client id");
    let mut machine = Machine::new(&pool, None);
    machine.set("COGNITO_CLIENT_CLIENT_ID", client_id);
    machine.sign_in(&email, "password").await.assert_ok();
    let run = machine.run(&["sign-out"], None).await;
    run.assert_fails(13, "the refresh token was not revoked");
    assert!(!machine.cache_path("default").exists(), "cache left behind");
}

#[tokio::test]
async fn sign_in_failures_have_exit_codes_and_one_line_messages() {
    let (pool, email) = pool_with_user("failures").await;
    let machine = Machine::new(&pool, None);

    let wrong = machine
        .run(
            &[
                "sign-in",
                "--email",
                &email,
                "--auth-flow",
                "password",
                "--password-stdin",
            ],
            Some("Wrong-Password-1\n"),
        )
        .await;
    wrong.assert_fails(4, "wrong e-mail or password");
    wrong.assert_no_secret("Wrong-Password-1");
    // SRP proves the password without sending it; a wrong one fails all the same.
    let wrong_srp = machine
        .run(
            &[
                "sign-in",
                "--email",
                &email,
                "--auth-flow",
                "srp",
                "--password-stdin",
            ],
            Some("Wrong-Password-1\n"),
        )
        .await;
    wrong_srp.assert_fails(4, "wrong e-mail or password");
    wrong_srp.assert_no_secret("Wrong-Password-1");

    let nobody = format!("{}@example.com", unique("nobody"));
    for flow in ["password", "srp"] {
        machine
            .sign_in(&nobody, flow)
            .await
            .assert_fails(5, "unknown user");
    }

    pool.cognito
        .admin_disable_user()
        .user_pool_id(&pool.pool_id)
        .username(&email)
        .send()
        .await
        .expect("AdminDisableUser");
    for flow in ["password", "srp"] {
        machine
            .sign_in(&email, flow)
            .await
            .assert_fails(6, "the user is disabled");
    }
    assert!(!machine.cache_path("default").exists(), "no tokens cached");

    // Nothing listens on port 1.
    let mut offline = Machine::new(&pool, None);
    offline.set("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
    offline
        .sign_in(&email, "password")
        .await
        .assert_fails(11, "network error");

    // A missing setting is named with the ways to give it, before any password prompt.
    let mut unset = Machine::bare();
    unset.set("AWS_ENDPOINT_URL", &environment().aws_endpoint);
    unset
        .sign_in(&email, "password")
        .await
        .assert_fails(2, "--client-id");
    unset
        .run(&["fetch", "/api/me"], None)
        .await
        .assert_fails(2, "--api-url");
    unset
        .run(&["whoami"], None)
        .await
        .assert_fails(3, "not signed in (profile default)");
}

#[tokio::test]
async fn sign_up_goes_through_the_api() {
    let pool = EmulatorPool::create(&unique("cli-signup")).await;
    // Four sign-ups a minute: the fifth attempt is refused.
    let api = api_for(&pool, &["--signup-per-minute", "4"]).await;
    let machine = Machine::new(&pool, Some(&api.base));
    let email = format!("{}@example.com", unique("new"));
    let password = format!("{PASSWORD}\n");
    let sign_up = |email: String, password: String| {
        let machine = &machine;
        async move {
            let run = machine
                .run(
                    &["sign-up", "--email", &email, "--password-stdin"],
                    Some(&password),
                )
                .await;
            run.assert_no_secret(password.trim_end());
            run
        }
    };

    sign_up(email.clone(), password.clone()).await.assert_ok();
    // The new account signs in with that password (moto checks it in this flow).
    machine.sign_in(&email, "password").await.assert_ok();

    sign_up(email.clone(), password.clone())
        .await
        .assert_fails(8, "cannot be created");
    sign_up("not-an-address".into(), password.clone())
        .await
        .assert_fails(9, "invalid e-mail address");
    sign_up(format!("{}@example.com", unique("short")), "short\n".into())
        .await
        .assert_fails(9, "password must be 8 to 256 characters");
    sign_up(format!("{}@example.com", unique("late")), password)
        .await
        .assert_fails(10, "rate limited");
}

#[tokio::test]
async fn settings_come_from_a_profile_file() {
    let (pool, email) = pool_with_user("profile").await;
    let api = api_for(&pool, &[]).await;
    // No settings in the environment: everything comes from the [work] table.
    let machine = Machine::bare();
    std::fs::create_dir_all(machine.config_dir()).expect("config dir");
    let profile_file = format!(
        "[work]\nuser-pool-id = \"{}\"\nclient-id = \"{}\"\napi-url = \"{}\"\n\
         aws-endpoint = \"{}\"\n",
        pool.pool_id,
        pool.client_id,
        api.base,
        environment().aws_endpoint
    );
    std::fs::write(machine.config_dir().join("config.toml"), profile_file).expect("write");

    let password = format!("{PASSWORD}\n");
    machine
        .run(
            &[
                "--profile",
                "work",
                "sign-in",
                "--email",
                &email,
                "--password-stdin",
            ],
            Some(&password),
        )
        .await
        .assert_ok();
    assert!(machine.cache_path("work").exists());
    assert!(!machine.cache_path("default").exists());
    let cached: Value =
        serde_json::from_str(&std::fs::read_to_string(machine.cache_path("work")).expect("cache"))
            .expect("JSON");
    assert_eq!(cached["region"], REGION);
    machine
        .run(&["fetch", "/api/me", "--profile", "work"], None)
        .await
        .assert_ok();
    // Another profile has its own (empty) cache.
    machine
        .run(&["whoami"], None)
        .await
        .assert_fails(3, "not signed in (profile default)");

    // A flag wins over the file: a client id Cognito does not know.
    let run = machine
        .run(
            &[
                "sign-in",
                "--profile",
                "work",
                "--client-id",
                "no-such-client",
                "--email",
                &email,
                "--password-stdin",
                "--auth-flow",
                "password",
            ],
            Some(&password),
        )
        .await;
    run.assert_fails(2, "does not know this app client");

    std::fs::write(machine.config_dir().join("config.toml"), "[work\n").expect("write");
    machine
        .run(&["--profile", "work", "whoami"], None)
        .await
        .assert_fails(2, "cannot parse the profile file");
}
