//! The per-profile token file: JSON, mode 0600 in a 0700 directory, replaced atomically
//! so a crash or a concurrent run never leaves half a file (or a readable one) behind.

use std::{
    fs,
    io::{ErrorKind, Write},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Refresh an access token this long before it expires, so it does not expire in flight.
pub const EXPIRY_MARGIN_SECONDS: u64 = 60;

/// What a sign-in leaves behind.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: String,
    /// Unix time (seconds) at which the access token expires.
    pub expires_at: u64,
    /// The app client that issued the tokens: refresh and revoke must name it.
    pub client_id: String,
    /// The region the tokens were issued in.
    pub region: String,
    /// The name the user signed in with.
    pub username: String,
}

// Tokens are credentials: never let `{:?}` print them.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// Whether the access token is still good for at least [`EXPIRY_MARGIN_SECONDS`].
    pub fn is_fresh(&self, now: u64) -> bool {
        self.expires_at > now.saturating_add(EXPIRY_MARGIN_SECONDS)
    }
}

/// One profile's cache file.
#[derive(Debug, Clone)]
pub struct TokenCache {
    path: PathBuf,
}

impl TokenCache {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The cached tokens, `None` when there are none.
    pub fn load(&self) -> Result<Option<Tokens>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(self.io("cannot read", source)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|error| Error::DamagedCache {
                path: self.path.clone(),
                // serde's message names the field and position, never the content.
                reason: error.to_string(),
            })
    }

    /// Replaces the cache with `tokens`.
    pub fn save(&self, tokens: &Tokens) -> Result<()> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| self.io("no directory for", ErrorKind::InvalidInput.into()))?;
        create_private_dir(dir).map_err(|source| Error::Io {
            what: format!("cannot create {}", dir.display()),
            source,
        })?;
        let json = serde_json::to_vec_pretty(tokens)
            .map_err(|error| self.io("cannot encode", std::io::Error::other(error)))?;
        // Write a private temporary file beside the target, then rename over it.
        let temporary = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        // A leftover from a crashed run with the same pid would block `create_new`.
        let _ = fs::remove_file(&temporary);
        let written =
            write_private(&temporary, &json).and_then(|()| fs::rename(&temporary, &self.path));
        if let Err(source) = written {
            let _ = fs::remove_file(&temporary);
            return Err(self.io("cannot write", source));
        }
        Ok(())
    }

    /// Deletes the cache; `false` when there was none.
    pub fn clear(&self) -> Result<bool> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(false),
            Err(source) => Err(self.io("cannot delete", source)),
        }
    }

    fn io(&self, action: &str, source: std::io::Error) -> Error {
        Error::Io {
            what: format!("{action} the token cache {}", self.path.display()),
            source,
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// Creates `path` readable by its owner only from the first byte on (no window in which
/// the umask's mode applies).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(expires_at: u64) -> Tokens {
        Tokens {
            access_token: "access-secret".into(),
            id_token: "id-secret".into(),
            refresh_token: "refresh-secret".into(),
            expires_at,
            client_id: "client".into(),
            region: "us-east-1".into(),
            username: "a@example.com".into(),
        }
    }

    #[test]
    fn tokens_need_a_refresh_within_the_margin() {
        assert!(tokens(1_000).is_fresh(1_000 - EXPIRY_MARGIN_SECONDS - 1));
        assert!(!tokens(1_000).is_fresh(1_000 - EXPIRY_MARGIN_SECONDS));
        assert!(!tokens(1_000).is_fresh(2_000));
        assert!(!tokens(1_000).is_fresh(u64::MAX));
    }

    #[test]
    fn saves_privately_loads_and_clears() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = TokenCache::new(dir.path().join("cognito-client/tokens/default.json"));
        assert_eq!(cache.load().expect("empty cache"), None);
        cache.save(&tokens(1)).expect("save");
        cache.save(&tokens(2)).expect("overwrite");
        assert_eq!(cache.load().expect("load"), Some(tokens(2)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
            assert_eq!(mode(cache.path()), 0o600);
            assert_eq!(mode(cache.path().parent().expect("dir")), 0o700);
        }
        let leftovers = fs::read_dir(cache.path().parent().expect("dir"))
            .expect("list")
            .count();
        assert_eq!(leftovers, 1, "no temporary files left behind");
        assert!(cache.clear().expect("clear"));
        assert!(!cache.clear().expect("clear again"));
        assert_eq!(cache.load().expect("cleared"), None);
    }

    #[test]
    fn a_damaged_cache_is_reported_without_its_content() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = TokenCache::new(dir.path().join("default.json"));
        fs::write(cache.path(), "{\"access_token\": \"leaked-secret\"").expect("write");
        let error = cache.load().unwrap_err();
        assert!(matches!(error, Error::DamagedCache { .. }));
        assert!(!error.to_string().contains("leaked-secret"));
    }

    #[test]
    fn debug_output_hides_the_tokens() {
        let text = format!("{:?}", tokens(1));
        assert!(!text.contains("secret"), "{text}");
    }
}
