use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    webhook_api::run(webhook_api::config::Cli::parse()).await
}
