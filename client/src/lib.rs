//! cognito-client: sign up, sign in to AWS Cognito and call protected routes, from a
//! terminal or a script.
//!
//! - [`cli`]: the command line; [`commands`]: one module per subcommand;
//! - [`settings`]: flags and environment over the profile file;
//! - [`srp`]: the pure SRP maths of `USER_SRP_AUTH`; [`cognito`]: the AWS SDK calls;
//! - [`token_cache`] and [`session`]: cached tokens, refreshed when they expire;
//! - [`api`]: HTTP to the application's API; [`password`]: prompt or stdin;
//! - [`error`]: one-line messages and exit codes.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod cognito;
pub mod commands;
pub mod error;
pub mod password;
pub mod session;
pub mod settings;
pub mod srp;
pub mod token_cache;

use std::time::{SystemTime, UNIX_EPOCH};

use cli::{Cli, Command};
use error::Result;
use settings::Settings;

/// Runs one command.
pub async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load(&cli.settings)?;
    match &cli.command {
        Command::SignUp(args) => commands::sign_up::run(&settings, args).await,
        Command::SignIn(args) => commands::sign_in::run(&settings, args).await,
        Command::Fetch(args) => commands::fetch::run(&settings, args).await,
        Command::Whoami => commands::whoami::run(&settings).await,
        Command::SignOut => commands::sign_out::run(&settings).await,
    }
}

/// Chooses ring for rustls. Both ring (reqwest) and aws-lc-rs (the AWS SDK) are linked,
/// and rustls refuses to guess; a provider installed earlier is kept.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Seconds since the Unix epoch (0 for a clock set before 1970, which makes every token
/// look fresh rather than failing).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
