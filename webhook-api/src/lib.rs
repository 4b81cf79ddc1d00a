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
//! - [`state`]: what handlers share; [`routes`]: `/signup`, `/api/me`, `/auth`
//!   (forward-auth), `/triggers`, probes and metrics, assembled by [`app`].
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
pub mod state;
pub mod telemetry;
pub mod token;
pub mod trigger_secret;
pub mod verifier;

use std::net::SocketAddr;

use anyhow::Context;
pub use routes::app;
pub use state::AppState;

/// Runs the service until SIGTERM or Ctrl-C, then drains open requests.
pub async fn run(cli: config::Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log_json);
    install_crypto_provider();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let state = AppState::new(&cli, &aws)?;
    state.spawn_background();
    if cli.discover_user_pools {
        let client = kube::Client::try_default()
            .await
            .context("pool discovery needs a Kubernetes client")?;
        state.spawn_discovery(client, cli.discovery_namespace.clone());
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("listen on {}", cli.listen))?;
    tracing::info!(address = %cli.listen, "listening");
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serve")
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
