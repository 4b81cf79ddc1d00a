//! The command line (clap derive): doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// Sign up, sign in to AWS Cognito and call routes protected by its tokens.
///
/// Settings come from flags, then environment variables, then the profile file.
/// Passwords are read from a prompt or, with --password-stdin, from standard input.
#[derive(Debug, Parser)]
#[command(name = "cognito-client", version)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Which profile to use, and values that override its own.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Profile: a table in the profile file, with its own token cache.
    #[arg(
        long,
        global = true,
        env = "COGNITO_CLIENT_PROFILE",
        default_value = "default"
    )]
    pub profile: String,

    /// Profile file [default: $XDG_CONFIG_HOME/cognito-client/config.toml].
    #[arg(long, global = true, env = "COGNITO_CLIENT_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub values: ProfileValues,
}

/// Where to sign in and what to call; each is optional as a flag or environment
/// variable and may come from the profile's table in the profile file instead, under
/// the flag's name (`user-pool-id = "..."`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProfileValues {
    /// AWS region of the user pool [default: the pool id's prefix, then the AWS
    /// configuration].
    #[arg(long, global = true, env = "COGNITO_CLIENT_REGION")]
    pub region: Option<String>,

    /// User pool id, `<region>_<id>` (needed for SRP sign-in).
    #[arg(long, global = true, env = "COGNITO_CLIENT_USER_POOL_ID")]
    pub user_pool_id: Option<String>,

    /// App client id.
    #[arg(long, global = true, env = "COGNITO_CLIENT_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Base URL of the API (webhook-api): sign-up goes to `<api-url>/signup`, and
    /// `fetch PATH` to `<api-url>/PATH`.
    #[arg(long, global = true, env = "COGNITO_CLIENT_API_URL")]
    pub api_url: Option<String>,

    /// Cognito endpoint, for emulators such as moto [default: AWS's].
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account through the API's `POST /signup`.
    SignUp(SignUpArgs),
    /// Sign in and keep the tokens in the profile's cache.
    SignIn(SignInArgs),
    /// GET a URL, or a path under the API URL, with the cached access token (refreshed
    /// when it expires within 60 s, and once more if the server answers 401).
    Fetch(FetchArgs),
    /// Show the signed-in user (Cognito `GetUser`).
    Whoami,
    /// Revoke the refresh token and delete the cached tokens.
    SignOut,
}

#[derive(Debug, Args)]
pub struct SignUpArgs {
    /// E-mail address, which is also the user name.
    #[arg(long)]
    pub email: String,

    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct SignInArgs {
    /// E-mail address (the user name).
    #[arg(long)]
    pub email: String,

    #[command(flatten)]
    pub password: PasswordArgs,

    /// `srp` proves the password without sending it; `password` sends it to Cognito
    /// (over TLS), for app clients that allow only `USER_PASSWORD_AUTH`.
    #[arg(long, value_enum, default_value_t = AuthFlow::Srp)]
    pub auth_flow: AuthFlow,

    /// Also print the access and id tokens (JSON) on standard output.
    #[arg(long)]
    pub print: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthFlow {
    /// `USER_SRP_AUTH`.
    Srp,
    /// `USER_PASSWORD_AUTH`.
    Password,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of standard input instead of a prompt.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// `http(s)://...` URL, or a path under the API URL.
    pub target: String,

    /// Send this token instead of the cached one (no refresh, no retry).
    #[arg(long, env = "COGNITO_CLIENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Send the cached id token instead of the access token (forward-auth routes).
    #[arg(long, conflicts_with = "token")]
    pub id_token: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_settings_go_after_the_subcommand_too() {
        let cli = Cli::parse_from([
            "cognito-client",
            "sign-in",
            "--email",
            "a@example.com",
            "--client-id",
            "abc",
            "--password-stdin",
        ]);
        assert_eq!(cli.settings.values.client_id.as_deref(), Some("abc"));
        let Command::SignIn(args) = cli.command else {
            panic!("sign-in parsed as {:?}", cli.command);
        };
        assert_eq!(args.auth_flow, AuthFlow::Srp);
        assert!(args.password.password_stdin);
    }

    #[test]
    fn there_is_no_password_argument() {
        let parsed = Cli::try_parse_from([
            "cognito-client",
            "sign-in",
            "--email",
            "a@example.com",
            "--password",
            "secret",
        ]);
        assert!(parsed.is_err());
    }
}
