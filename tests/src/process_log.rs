//! The log file of a process a test started: read by the test, and shown (its tail) when
//! the test fails, so a failure report carries what the process was doing.

use std::path::{Path, PathBuf};

/// How many of a log's last lines a failed test shows.
const TAIL_LINES: usize = 200;

/// A log file that a process started for one test writes. When dropped while the test
/// is panicking, prints its last [`TAIL_LINES`] lines to stderr (libtest shows them with
/// the failure).
#[derive(Debug)]
pub struct ProcessLog {
    label: String,
    path: PathBuf,
}

impl ProcessLog {
    /// The log of the process `label` (e.g. "cognito-operator") at `path`.
    pub fn new(label: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            label: label.into(),
            path: path.into(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole log so far (empty when there is none yet).
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.path).unwrap_or_default()
    }

    /// The last `lines` lines, behind a header that names the process and the file.
    pub fn tail(&self, lines: usize) -> String {
        let text = self.text();
        let all: Vec<&str> = text.lines().collect();
        let shown = &all[all.len().saturating_sub(lines)..];
        format!(
            "----- {} log, last {} of {} lines ({}) -----\n{}\n----- end of {} log -----",
            self.label,
            shown.len(),
            all.len(),
            self.path.display(),
            shown.join("\n"),
            self.label
        )
    }
}

impl Drop for ProcessLog {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.tail(TAIL_LINES));
        }
    }
}
