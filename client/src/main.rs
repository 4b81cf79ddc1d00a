use std::process::ExitCode;

use clap::Parser;
use cognito_client::cli::Cli;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    cognito_client::install_crypto_provider();
    match cognito_client::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cognito-client: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
