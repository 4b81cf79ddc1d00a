//! The `cognito-operator` command line: `run` (the controllers) and `crdgen`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use crate::{
    appuser,
    runtime::{
        context::{self, Adoption, Context, Settings},
        http::{self, Readiness},
        leadership::LeaderElector,
        metrics::Metrics,
        object_conditions,
        rate_limit::CognitoRates,
        telemetry::{self, LogFormat},
    },
    userpool,
};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use cognito_crds::UserPool;
use kube::{Api, api::ListParams};
use tokio_util::sync::CancellationToken;

/// Kubernetes operator for AWS Cognito user pools and users.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controllers.
    Run(RunArgs),
    /// Write the CustomResourceDefinitions as YAML files, and their Markdown reference.
    Crdgen {
        /// Folder that receives userpools.yaml and appusers.yaml.
        #[arg(long, default_value = "crds")]
        out_dir: PathBuf,
        /// Markdown reference of the same CRDs.
        #[arg(long, default_value = "docs/crd-reference.md")]
        reference: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Address of the /healthz, /readyz and /metrics server.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Seconds between checks of a healthy object against AWS (at least 1: with 0 the
    /// census and healthy pools would loop without pause).
    #[arg(
        long,
        env = "RESYNC_INTERVAL_SECONDS",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    resync_interval_seconds: u64,
    /// Log format: json (for clusters) or text.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Run only while holding a Lease, so several replicas can run safely.
    #[arg(long, env = "LEADER_ELECTION")]
    leader_election: bool,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Watch only these namespaces (comma-separated) instead of the whole cluster, so
    /// that the operator needs rights (Secrets included) in these namespaces only.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Name of the leader-election Lease.
    #[arg(long, env = "LEASE_NAME", default_value = "cognito-operator-leader")]
    lease_name: String,
    /// Cognito UserCreation calls per second (AdminCreateUser), per region.
    #[arg(long, env = "COGNITO_USER_CREATION_RPS", default_value_t = CognitoRates::default().user_creation)]
    user_creation_rps: u32,
    /// Cognito UserUpdate calls per second (passwords, attributes, groups, deletes).
    #[arg(long, env = "COGNITO_USER_UPDATE_RPS", default_value_t = CognitoRates::default().user_update)]
    user_update_rps: u32,
    /// Cognito UserRead calls per second (AdminGetUser, AdminListGroupsForUser).
    #[arg(long, env = "COGNITO_USER_READ_RPS", default_value_t = CognitoRates::default().user_read)]
    user_read_rps: u32,
    /// Cognito UserList calls per second (ListUsers, ListUsersInGroup).
    #[arg(long, env = "COGNITO_USER_LIST_RPS", default_value_t = CognitoRates::default().user_list)]
    user_list_rps: u32,
    /// AppUser reconciles in flight at once (enough to keep the rate limits busy).
    #[arg(long, env = "APPUSER_CONCURRENCY", default_value_t = 32)]
    appuser_concurrency: u16,
    /// Namespaces whose UserPools may adopt a stack the operator did not create for
    /// them (comma-separated; `*` for all). An admin's decision: empty by default.
    #[arg(long, env = "ADOPT_NAMESPACES", value_delimiter = ',')]
    adopt_namespaces: Vec<String>,
}

/// Runs both controllers for the whole cluster, or for each of `namespaces`, until they
/// end (at shutdown). One controller pair per namespace: a watch spans one namespace or
/// all of them, and the rights granted per namespace allow only the former.
async fn run_controllers(ctx: Arc<Context>, namespaces: &[String], shutdown: &CancellationToken) {
    if namespaces.is_empty() {
        run_controllers_in(ctx, None, shutdown).await;
    } else {
        let each = namespaces
            .iter()
            .map(|namespace| run_controllers_in(ctx.clone(), Some(namespace), shutdown));
        futures::future::join_all(each).await;
    }
}

async fn run_controllers_in(
    ctx: Arc<Context>,
    namespace: Option<&str>,
    shutdown: &CancellationToken,
) {
    let (client, metrics) = (ctx.client.clone(), ctx.metrics.clone());
    tokio::join!(
        userpool::run(ctx.clone(), namespace, shutdown.clone().cancelled_owned()),
        appuser::run(ctx, namespace, shutdown.clone().cancelled_owned()),
        object_conditions::run(client, metrics, namespace, shutdown.clone()),
    );
}

/// Parses the command line and runs the command.
pub async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crdgen { out_dir, reference } => {
            crate::crdgen::write(&out_dir)?;
            let markdown = crate::crd_reference::render()?;
            std::fs::write(&reference, markdown)
                .with_context(|| format!("writing {}", reference.display()))
        }
        Command::Run(args) => run(args).await,
    }
}

/// The namespaces to watch, each once (empty: all). An empty entry (from an empty
/// `WATCH_NAMESPACES`) names none.
fn watched_namespaces(listed: &[String]) -> Vec<String> {
    let unique: std::collections::BTreeSet<&String> =
        listed.iter().filter(|ns| !ns.is_empty()).collect();
    unique.into_iter().cloned().collect()
}

async fn run(mut args: RunArgs) -> anyhow::Result<()> {
    args.watch_namespaces = watched_namespaces(&args.watch_namespaces);
    telemetry::init(args.log_format);
    // kube and the AWS SDK pull in different rustls backends: pick one for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube::Client::try_default()
        .await
        .context("connecting to Kubernetes (in-cluster config or KUBECONFIG)")?;
    let pools: Api<UserPool> = match args.watch_namespaces.first() {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    if !args.watch_namespaces.is_empty() {
        tracing::warn!(
            namespaces = %args.watch_namespaces.join(","),
            "watching these namespaces only: UserPools and AppUsers in other namespaces are ignored"
        );
    }
    pools.list(&ListParams::default().limit(1)).await.context(
        "listing UserPools failed; are the CRDs installed (kubectl apply --server-side -f crds/) and may the operator list them in the watched namespaces?",
    )?;

    let aws = context::load_aws_config().await;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = Metrics::new(&mut registry);
    // Unique per replica (the pod name is), so the leader gauge tells replicas apart.
    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("cognito-operator-{}", std::process::id()));
    metrics.set_leader(&identity, false);
    let readiness = Readiness::new();
    let shutdown = CancellationToken::new();

    let server = tokio::spawn(http::serve(
        args.metrics_addr,
        http::router(Arc::new(registry), readiness.clone()),
        shutdown.clone().cancelled_owned(),
    ));
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    let ctx = Context::new(
        client.clone(),
        aws,
        metrics.clone(),
        Settings {
            resync_interval: Duration::from_secs(args.resync_interval_seconds),
            cognito_rates: CognitoRates {
                user_creation: args.user_creation_rps,
                user_update: args.user_update_rps,
                user_read: args.user_read_rps,
                user_list: args.user_list_rps,
            },
            user_reconcile_concurrency: args.appuser_concurrency,
            adoption: Adoption::allowed_in(args.adopt_namespaces),
        },
    );
    // Before the election on purpose: see `Readiness`.
    readiness.set_ready(true);

    if args.leader_election {
        let elector = LeaderElector::new(
            client,
            &args.lease_namespace,
            &args.lease_name,
            identity.clone(),
            Duration::from_secs(15),
        );
        let leadership = tokio::select! {
            leadership = elector.acquire() => leadership.context("acquiring the leader Lease")?,
            () = shutdown.cancelled() => return Ok(()),
        };
        tracing::info!("leading: starting controllers");
        metrics.set_leader(&identity, true);
        tokio::select! {
            () = run_controllers(ctx, &args.watch_namespaces, &shutdown) => {}
            () = leadership.lost() => {
                // Another replica may already be reconciling: stop at once.
                anyhow::bail!("lost the leader Lease");
            }
        }
        metrics.set_leader(&identity, false);
        leadership.release().await;
    } else {
        metrics.set_leader(&identity, true);
        run_controllers(ctx, &args.watch_namespaces, &shutdown).await;
        metrics.set_leader(&identity, false);
    }
    shutdown.cancel();
    server.await.context("metrics server task")??;
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what Kubernetes sends on pod deletion).
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the operator");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_watched_namespace_is_watched_once() {
        let listed = ["b", "a", "", "b"].map(String::from);
        assert_eq!(watched_namespaces(&listed), ["a", "b"]);
        assert!(watched_namespaces(&[String::new()]).is_empty());
    }

    #[test]
    fn a_zero_resync_interval_is_refused() {
        let parsed =
            Cli::try_parse_from(["cognito-operator", "run", "--resync-interval-seconds", "0"]);
        let Err(error) = parsed else {
            panic!("a resync interval of 0 was accepted");
        };
        assert!(
            error.to_string().contains("resync-interval-seconds"),
            "{error}"
        );
    }
}
