//! webhook-api in the test process, on loopback ports (the API and `/metrics`), built
//! from command-line arguments and served by its own accept loop the way its binary
//! is: what the webhook-api and cognito-client tests talk to.

use clap::Parser;
use reqwest::{StatusCode, header};
use serde_json::Value;
use tokio::net::TcpListener;
use webhook_api::{AppState, config::Cli, server::ServerLimits};

use crate::{EmulatorPool, aws_config, environment, kube_client, wait};

fn cli(args: &[&str]) -> Cli {
    Cli::parse_from(std::iter::once("webhook-api").chain(args.iter().copied()))
}

/// webhook-api's state from `args` (as after `webhook-api`), with the emulator's AWS
/// settings; nothing runs yet.
pub async fn webhook_state(args: &[&str]) -> AppState {
    AppState::new(&cli(args), &aws_config().await).expect("valid configuration")
}

/// The `--pools` value that trusts `pool` and its first client.
pub fn trusting(pool: &EmulatorPool) -> String {
    serde_json::json!([{
        "issuer": pool.issuer(),
        "jwksUri": pool.jwks_uri(),
        "clientIds": [pool.client_id],
    }])
    .to_string()
}

/// A webhook-api configuration file (`--config`) for one test; removed when dropped.
pub struct ConfigFile(std::path::PathBuf);

impl ConfigFile {
    pub fn write(yaml: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.yaml", crate::unique("webhook-api")));
        std::fs::write(&path, yaml).expect("write webhook-api config");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("UTF-8 temp path")
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A webhook-api serving on loopback.
pub struct WebhookApi {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Where `/metrics` is served: `http://127.0.0.1:<another port>`.
    pub metrics_base: String,
    pub http: reqwest::Client,
}

impl WebhookApi {
    /// The arguments that make webhook-api discover the pools of `UserPool` objects in
    /// `namespaces` (comma-separated), with keys from the emulator, as an admin sets up
    /// a test cluster.
    pub fn discovering(namespaces: &str) -> [String; 5] {
        [
            "--discover-user-pools".into(),
            "--discovery-namespaces".into(),
            namespaces.into(),
            "--cognito-emulator-endpoint".into(),
            environment().aws_endpoint.clone(),
        ]
    }

    /// Starts webhook-api with `args`, its background tasks (key fetches and, when
    /// `args` turn it on, pool discovery with the admin client) included.
    pub async fn start(args: &[&str]) -> Self {
        let cli = cli(args);
        let state = AppState::new(&cli, &aws_config().await).expect("valid configuration");
        state.spawn_background();
        if state.discovers_pools() {
            webhook_api::install_crypto_provider();
            state.spawn_discovery(kube_client().await);
        }
        Self::serve_with(state, webhook_api::server_limits(&cli)).await
    }

    /// Serves `state` (whose background tasks the caller starts, or not) with the
    /// default limits.
    pub async fn serve(state: AppState) -> Self {
        Self::serve_with(state, webhook_api::server_limits(&cli(&[]))).await
    }

    async fn serve_with(state: AppState, limits: ServerLimits) -> Self {
        let api = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let metrics = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let base = format!("http://{}", api.local_addr().expect("address"));
        let metrics_base = format!("http://{}", metrics.local_addr().expect("address"));
        tokio::spawn(webhook_api::serve(
            state,
            limits,
            api,
            metrics,
            std::future::pending(),
        ));
        Self {
            base,
            metrics_base,
            http: reqwest::Client::new(),
        }
    }

    /// Waits until `/readyz` answers 200 (the keys of every trusted pool are fetched).
    pub async fn wait_ready(&self) {
        wait::until("webhook-api ready", || async {
            self.get("/readyz", None).await.status() == StatusCode::OK
        })
        .await;
    }

    /// GET `path`, with `token` as the bearer token if given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request webhook-api")
    }

    /// POST `body` as JSON to `path`.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .expect("request webhook-api")
    }

    /// Asserts that `path` answers `token` with a 401, the RFC 6750 challenge and
    /// `description`, and that nothing of the token comes back.
    pub async fn refuses(&self, path: &str, token: Option<&str>, description: &str) {
        let response = self.get(path, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{description}");
        let challenge = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            challenge,
            format!(r#"Bearer error="invalid_token", error_description="{description}""#)
        );
        let body = response.text().await.expect("body");
        let token = token.unwrap_or_default();
        let signature = token.rsplit('.').next().unwrap_or(token);
        assert!(
            signature.len() < 8 || !body.contains(signature),
            "the token was echoed: {body}"
        );
    }

    /// Waits until `/api/me` answers `token` with `wanted`.
    pub async fn wait_for_status(&self, token: &str, wanted: StatusCode, what: &str) {
        wait::until(what, || async {
            self.get("/api/me", Some(token)).await.status() == wanted
        })
        .await;
    }

    /// The Prometheus metrics text, from the metrics listener.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(format!("{}/metrics", self.metrics_base));
        let response = response.send().await.expect("request /metrics");
        response.text().await.expect("metrics text")
    }

    /// Sum of the samples of `metric` whose labels contain `label`.
    pub async fn metric_sum(&self, metric: &str, label: &str) -> f64 {
        let prefix = format!("{metric}{{");
        self.metrics()
            .await
            .lines()
            .filter(|line| line.starts_with(&prefix) && line.contains(label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// How many key fetches failed so far.
    pub async fn failed_key_fetches(&self) -> f64 {
        self.metric_sum("webhook_api_jwks_fetches_total", "error")
            .await
    }

    /// How many requests to `route` ended with `outcome`.
    pub async fn requests(&self, route: &str, outcome: &str) -> u64 {
        let count = self
            .metric_sum(
                "webhook_api_requests_total",
                &format!(r#"route="{route}",outcome="{outcome}""#),
            )
            .await;
        count as u64
    }
}
