//! Logging setup: one `tracing` subscriber for the whole process.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Filter used when `RUST_LOG` is unset: the operator at info, the chatty client
/// libraries only when something goes wrong.
const DEFAULT_FILTER: &str = "info,kube=warn,aws=warn";

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors in the cluster.
    #[default]
    Json,
    /// Human-readable lines, for running on a workstation.
    Text,
}

/// Installs the global subscriber; the filter comes from `RUST_LOG`.
///
/// Call once at startup. A second call (as in tests that share a process) keeps the first
/// subscriber instead of panicking.
pub fn init(format: LogFormat) {
    let (filter, invalid_rust_log) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        // A typo in RUST_LOG must not silence the operator: fall back, then say so.
        Err(error) if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() => {
            (EnvFilter::new(DEFAULT_FILTER), Some(error))
        }
        Err(_) => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    // Colour codes only for a terminal: a log file stays plain text.
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if let Err(error) = result {
        tracing::debug!(%error, "a tracing subscriber was already installed");
    }
    if let Some(error) = invalid_rust_log {
        tracing::warn!(%error, default = DEFAULT_FILTER, "RUST_LOG is invalid, using the default filter");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filter_parses() {
        assert!(EnvFilter::try_new(DEFAULT_FILTER).is_ok());
    }

    #[test]
    fn init_twice_does_not_panic() {
        init(LogFormat::Text);
        init(LogFormat::Json);
    }
}
