//! webhook-api: the seed's API Gateway and Lambdas as one axum service.
//!
//! The token path, lowest first:
//! - [`token`]: a JWT split and decoded, RS256 with a `kid` only;
//! - [`policy`]: what a route requires, and the check of verified claims against it;
//! - [`verifier`]: the whole check, as strict as aws-jwt-verify, with
//!   [`jwks::JwksCache`] for keys and a bounded cache of verified tokens;
//! - [`auth`]: that check as the `Claims` extractor and the `RequireToken` layer.
//!
//! Around it:
//! - [`pools`] and [`discovery`]: which pools are trusted, from [`config`] or from
//!   `UserPool` objects in the cluster;
//! - [`state`]: what handlers share; [`routes`]: `/signup`, `/api/me`, `/api/machine`,
//!   `/auth` (forward-auth), `/triggers` and probes, assembled by [`app`], and `/metrics` on
//!   a listener of its own ([`metrics_app`]);
//! - [`server`]: the accept loop with its header deadline and connection cap.
#![forbid(unsafe_code)]

pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod jwks;
pub mod metrics;
pub mod policy;
pub mod pools;
pub mod routes;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod token;
pub mod trigger_secret;
pub mod verifier;

use std::time::Duration;

use anyhow::Context;
pub use routes::{app, metrics_app};
use server::ServerLimits;
pub use state::AppState;
use tokio::net::TcpListener;

/// Runs the service until SIGTERM or Ctrl-C, then drains: unready while still serving
/// for `--shutdown-drain-seconds`, then the listener closes and requests in flight finish.
pub async fn run(cli: config::Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log_json);
    install_crypto_provider();
    if let Some(url) = cli.check_ready {
        return check_ready(url).await;
    }
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let state = AppState::new(&cli, &aws)?;
    state.spawn_background();
    if state.discovers_pools() {
        let client = kube::Client::try_default()
            .await
            .context("pool discovery needs a Kubernetes client")?;
        state.spawn_discovery(client);
    }
    let api = bind(cli.listen).await?;
    let metrics = bind(cli.metrics_listen).await?;
    let drain = Duration::from_secs(cli.shutdown_drain_seconds);
    let shutdown = drain_after(state.clone(), shutdown_signal(), drain);
    serve(state, server_limits(&cli), api, metrics, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for `signal`, then turns `state` unready and lets it go on serving for `drain`
/// (answers closing their connections) while Kubernetes endpoints and load balancers
/// stop routing here; completes when the listener may close.
pub async fn drain_after(
    state: AppState,
    signal: impl std::future::Future<Output = ()>,
    drain: Duration,
) {
    signal.await;
    state.start_draining();
    tracing::info!(
        drain_seconds = drain.as_secs(),
        "unready; the listener closes after the drain"
    );
    tokio::time::sleep(drain).await;
    tracing::info!("closing the listener; requests in flight finish");
}

/// `--check-ready`: one GET of `url`, an error unless it answers 2xx in time.
async fn check_ready(url: reqwest::Url) -> anyhow::Result<()> {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "GET {url} answered {}",
        response.status()
    );
    println!("GET {url}: {}", response.status());
    Ok(())
}

/// The server limits `cli` sets.
pub fn server_limits(cli: &config::Cli) -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(cli.header_read_timeout_seconds),
        max_connections: cli.max_connections,
    }
}

async fn bind(address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listen on {address}"))?;
    tracing::info!(%address, "listening");
    Ok(listener)
}

/// Serves the API on `api` and `/metrics` on `metrics` until `shutdown` completes; the
/// API's requests in flight finish first.
pub async fn serve(
    state: AppState,
    limits: ServerLimits,
    api: TcpListener,
    metrics: TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let metrics = tokio::spawn(server::serve(
        metrics,
        metrics_app(state.clone()),
        limits,
        std::future::pending(),
    ));
    server::serve(api, app(state), limits, shutdown).await;
    metrics.abort();
}

/// Chooses ring for rustls. Both ring (kube, reqwest) and aws-lc-rs (the AWS SDK) are
/// linked, and rustls refuses to guess; a provider installed earlier is kept.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
