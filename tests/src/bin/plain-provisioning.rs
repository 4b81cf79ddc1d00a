//! The scale benchmark's baseline (operator/bench/scale.sh): the Cognito calls the AppUser
//! controller makes for a new user (`AdminCreateUser` with the same attributes, then
//! `AdminSetUserPassword Permanent=true`), through the operator's own rate limits and AWS
//! settings, with as many users in flight at once as the controller reconciles (its
//! default APPUSER_CONCURRENCY), but without Kubernetes. The operator's time-to-Ready is reported as a ratio to this.
//!
//! The password comes from the BENCH_PASSWORD environment variable, never an argument.

use std::{sync::Arc, time::Instant};

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider::types::AttributeType;
use clap::Parser;
use cognito_crds::user_provisioning::NewUser;
use cognito_operator::{
    appuser::directory::UserDirectory,
    runtime::{
        context::{RegionalClients, load_aws_config},
        rate_limit::{CognitoRates, RateLimits},
    },
};
use futures::{StreamExt, TryStreamExt};

#[derive(Parser)]
struct Args {
    /// The pool to create the users in.
    #[arg(long)]
    pool_id: String,
    /// How many users to create.
    #[arg(long)]
    count: usize,
    /// User names are `<prefix>-<n>@bench.example`.
    #[arg(long, default_value = "plain")]
    prefix: String,
    /// Users in flight at once: the operator's default APPUSER_CONCURRENCY.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The password every user gets.
    #[arg(long, env = "BENCH_PASSWORD", hide_env_values = true)]
    password: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let aws = load_aws_config().await;
    let clients = RegionalClients {
        cloudformation: aws_sdk_cloudformation::Client::new(&aws),
        cognito: aws_sdk_cognitoidentityprovider::Client::new(&aws),
        cognito_users: aws_sdk_cognitoidentityprovider::Client::new(&aws),
        lambda: aws_sdk_lambda::Client::new(&aws),
        limits: Arc::new(RateLimits::new(CognitoRates::default())),
    };
    let directory = UserDirectory::new(&clients, &args.pool_id);

    let started = Instant::now();
    futures::stream::iter(0..args.count)
        .map(|n| {
            let directory = directory.clone();
            let username = format!("{}-{n}@bench.example", args.prefix);
            let password = args.password.clone();
            async move {
                let attributes = vec![
                    attribute("email", &username)?,
                    attribute("email_verified", "true")?,
                ];
                let user = NewUser {
                    username: &username,
                    attributes,
                    password: &password,
                };
                directory
                    .create(user)
                    .await
                    .map_err(|e| anyhow::anyhow!("{username}: {e}"))?;
                directory
                    .set_password(&username, &password)
                    .await
                    .map_err(|e| anyhow::anyhow!("{username}: {e}"))
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "users": args.count, "seconds": seconds })
    );
    Ok(())
}

fn attribute(name: &str, value: &str) -> anyhow::Result<AttributeType> {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .with_context(|| format!("attribute {name}"))
}
