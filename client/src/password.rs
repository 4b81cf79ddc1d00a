//! Reading a password: from a terminal prompt (not echoed) or the first line of standard
//! input. There is deliberately no way to pass one as an argument, where `ps` and shell
//! history would see it.

use std::io::BufRead;

use crate::{
    cli::PasswordArgs,
    error::{Error, Result},
};

/// Whether a prompted password is asked for twice (new passwords only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Once,
    Twice,
}

pub fn read(args: &PasswordArgs, confirm: Confirm) -> Result<String> {
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|source| Error::Io {
                what: "cannot read the password from standard input".into(),
                source,
            })?;
        without_line_ending(line)
    } else {
        let password = prompt("Password: ")?;
        if confirm == Confirm::Twice && prompt("Repeat the password: ")? != password {
            return Err(Error::Config("the passwords do not match".into()));
        }
        password
    };
    if password.is_empty() {
        return Err(Error::Config("the password is empty".into()));
    }
    Ok(password)
}

fn prompt(text: &str) -> Result<String> {
    rpassword::prompt_password(text).map_err(|error| {
        Error::Config(format!(
            "cannot prompt for the password ({error}): use --password-stdin"
        ))
    })
}

/// The line without its `\n` or `\r\n`; other whitespace belongs to the password.
fn without_line_ending(mut line: String) -> String {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_line_ending_is_removed() {
        assert_eq!(without_line_ending("secret\n".into()), "secret");
        assert_eq!(without_line_ending("secret\r\n".into()), "secret");
        assert_eq!(without_line_ending(" se cret \n".into()), " se cret ");
        assert_eq!(without_line_ending("no-newline".into()), "no-newline");
    }
}
