//! The `cognito-operator` binary; everything lives in the library.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cognito_operator::cli::main().await
}
