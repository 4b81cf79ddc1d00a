//! One module per subcommand; each takes the resolved settings and its arguments.

pub mod fetch;
pub mod sign_in;
pub mod sign_out;
pub mod sign_up;
pub mod whoami;

use std::io::Write;

use crate::error::{Error, Result};

/// Writes a command's data to stdout; a closed stdout is an error, not a panic.
fn print(data: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(data)
        .and_then(|()| stdout.flush())
        .map_err(|source| Error::Io {
            what: "cannot write to standard output".into(),
            source,
        })
}
