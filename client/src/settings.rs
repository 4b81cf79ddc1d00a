//! Resolved settings: flags and environment (already merged by clap) over the profile
//! file, plus where the profile's files live.
//!
//! The profile file is TOML with one table per profile:
//!
//! ```toml
//! [default]
//! user-pool-id = "eu-west-1_AbCdEf"
//! client-id = "1example23456789"
//! api-url = "https://api.example.com"
//! # region = "eu-west-1"            (default: the pool id's prefix)
//! # aws-endpoint = "http://127.0.0.1:5055"
//! ```

use std::{collections::BTreeMap, path::PathBuf};

use etcetera::BaseStrategy;

use crate::{
    cli::{ProfileValues, SettingsArgs},
    error::{Error, Result},
};

const APP_DIR: &str = "cognito-client";

/// Everything a command may need, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: String,
    /// The profile file that was (or would have been) read, named in error messages.
    config_file: PathBuf,
    /// `$XDG_CONFIG_HOME/cognito-client`.
    app_dir: PathBuf,
    values: ProfileValues,
}

impl Settings {
    /// Reads the profile file (a missing default file is an empty one) and fills in what
    /// flags and environment left unset.
    pub fn load(args: &SettingsArgs) -> Result<Self> {
        let app_dir = etcetera::choose_base_strategy()
            .map_err(|error| {
                Error::Config(format!("cannot find the configuration directory: {error}"))
            })?
            .config_dir()
            .join(APP_DIR);
        let (config_file, required) = match &args.config {
            Some(path) => (path.clone(), true),
            None => (app_dir.join("config.toml"), false),
        };
        let text = match std::fs::read_to_string(&config_file) {
            Ok(text) => Some(text),
            Err(error) if !required && error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(Error::Config(format!(
                    "cannot read the profile file {}: {error}",
                    config_file.display()
                )));
            }
        };
        Self::resolve(args, text.as_deref(), config_file, app_dir)
    }

    /// The pure part of [`Settings::load`].
    fn resolve(
        args: &SettingsArgs,
        file_text: Option<&str>,
        config_file: PathBuf,
        app_dir: PathBuf,
    ) -> Result<Self> {
        validate_profile_name(&args.profile)?;
        let mut profiles: BTreeMap<String, ProfileValues> = match file_text {
            Some(text) => toml::from_str(text).map_err(|error| {
                // toml's own Display quotes the file over several lines: keep one.
                let line = error
                    .span()
                    .and_then(|span| text.get(..span.start))
                    .map_or(1, |before| before.matches('\n').count() + 1);
                Error::Config(format!(
                    "cannot parse the profile file {} (line {line}): {}",
                    config_file.display(),
                    crate::error::one_line(error.message())
                ))
            })?,
            None => BTreeMap::new(),
        };
        let file = profiles.remove(&args.profile).unwrap_or_default();
        Ok(Self {
            values: flags_over_file(&args.values, file),
            profile: args.profile.clone(),
            config_file,
            app_dir,
        })
    }

    /// The region to call Cognito in: explicit, else the pool id's prefix; `None` leaves
    /// it to the AWS configuration (`AWS_REGION`, `~/.aws/config`).
    pub fn region(&self) -> Option<String> {
        self.values.region.clone().or_else(|| {
            let pool_id = self.values.user_pool_id.as_deref()?;
            let (region, _) = pool_id.split_once('_')?;
            (!region.is_empty()).then(|| region.to_owned())
        })
    }

    /// The Cognito endpoint, when not AWS's (emulators).
    pub fn aws_endpoint(&self) -> Option<&str> {
        self.values.aws_endpoint.as_deref()
    }

    pub fn user_pool_id(&self) -> Result<&str> {
        self.required(
            self.values.user_pool_id.as_deref(),
            "user pool id (needed for SRP; or use --auth-flow password)",
            "--user-pool-id",
            "COGNITO_CLIENT_USER_POOL_ID",
            "user-pool-id",
        )
    }

    pub fn client_id(&self) -> Result<&str> {
        self.required(
            self.values.client_id.as_deref(),
            "app client id",
            "--client-id",
            "COGNITO_CLIENT_CLIENT_ID",
            "client-id",
        )
    }

    pub fn api_url(&self) -> Result<&str> {
        self.required(
            self.values.api_url.as_deref(),
            "API URL",
            "--api-url",
            "COGNITO_CLIENT_API_URL",
            "api-url",
        )
    }

    /// Where this profile's tokens are cached.
    pub fn token_cache_path(&self) -> PathBuf {
        self.app_dir
            .join("tokens")
            .join(format!("{}.json", self.profile))
    }

    fn required<'a>(
        &self,
        value: Option<&'a str>,
        what: &str,
        flag: &str,
        env: &str,
        key: &str,
    ) -> Result<&'a str> {
        value.ok_or_else(|| {
            Error::Config(format!(
                "no {what}: pass {flag}, set {env}, or add {key} to [{}] in {}",
                self.profile,
                self.config_file.display()
            ))
        })
    }
}

/// Each value the flags or environment set, else the file's; a blank value is unset.
fn flags_over_file(flags: &ProfileValues, file: ProfileValues) -> ProfileValues {
    let pick = |flag: &Option<String>, file: Option<String>| {
        flag.clone()
            .or(file)
            .filter(|value| !value.trim().is_empty())
    };
    ProfileValues {
        region: pick(&flags.region, file.region),
        user_pool_id: pick(&flags.user_pool_id, file.user_pool_id),
        client_id: pick(&flags.client_id, file.client_id),
        api_url: pick(&flags.api_url, file.api_url),
        aws_endpoint: pick(&flags.aws_endpoint, file.aws_endpoint),
    }
}

/// Profile names become file names: letters, digits, `-`, `_` and `.` only, not
/// starting with a dot.
fn validate_profile_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "invalid profile name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(profile: &str) -> SettingsArgs {
        SettingsArgs {
            profile: profile.to_owned(),
            ..SettingsArgs::default()
        }
    }

    fn resolve(args: &SettingsArgs, text: Option<&str>) -> Result<Settings> {
        Settings::resolve(
            args,
            text,
            PathBuf::from("/home/u/.config/cognito-client/config.toml"),
            PathBuf::from("/home/u/.config/cognito-client"),
        )
    }

    const FILE: &str = r#"
[default]
user-pool-id = "eu-west-1_AbC"
client-id = "from-file"
api-url = "https://api.example.com"

[staging]
region = "us-west-2"
client-id = "staging-client"
aws-endpoint = "http://127.0.0.1:5055"
"#;

    #[test]
    fn flags_and_environment_win_over_the_file() {
        let mut args = args("default");
        args.values.client_id = Some("from-flag".into());
        let settings = resolve(&args, Some(FILE)).expect("valid");
        assert_eq!(settings.client_id().ok(), Some("from-flag"));
        assert_eq!(settings.user_pool_id().ok(), Some("eu-west-1_AbC"));
        assert_eq!(settings.api_url().ok(), Some("https://api.example.com"));
        assert_eq!(settings.aws_endpoint(), None);
    }

    #[test]
    fn region_comes_from_the_pool_id_unless_set() {
        let settings = resolve(&args("default"), Some(FILE)).expect("valid");
        assert_eq!(settings.region().as_deref(), Some("eu-west-1"));
        let staging = resolve(&args("staging"), Some(FILE)).expect("valid");
        assert_eq!(staging.region().as_deref(), Some("us-west-2"));
        assert_eq!(staging.client_id().ok(), Some("staging-client"));
        assert_eq!(staging.aws_endpoint(), Some("http://127.0.0.1:5055"));
        assert_eq!(
            resolve(&args("other"), Some(FILE)).expect("valid").region(),
            None
        );
    }

    #[test]
    fn a_missing_setting_says_where_to_put_it() {
        let settings = resolve(&args("staging"), Some(FILE)).expect("valid");
        let message = settings.user_pool_id().unwrap_err().to_string();
        assert!(message.contains("--user-pool-id"), "{message}");
        assert!(message.contains("COGNITO_CLIENT_USER_POOL_ID"), "{message}");
        assert!(message.contains("[staging]"), "{message}");
    }

    #[test]
    fn unknown_keys_and_bad_profile_names_are_refused() {
        let error = resolve(&args("default"), Some("[default]\nclientid = \"x\"\n")).unwrap_err();
        assert!(matches!(error, Error::Config(_)));
        assert_eq!(error.to_string().lines().count(), 1);
        for name in ["", "../x", ".hidden", "a/b", "a b"] {
            assert!(resolve(&args(name), None).is_err(), "{name:?}");
        }
    }

    #[test]
    fn each_profile_has_its_own_cache_file() {
        let settings = resolve(&args("staging"), None).expect("valid");
        assert_eq!(
            settings.token_cache_path(),
            PathBuf::from("/home/u/.config/cognito-client/tokens/staging.json")
        );
    }
}
