use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Kubernetes operator for AWS Cognito user pools and users.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the CustomResourceDefinitions as YAML files.
    Crdgen {
        /// Folder that receives userpools.yaml and appusers.yaml.
        #[arg(long, default_value = "crds")]
        out_dir: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crdgen { out_dir } => cognito_operator::crdgen::write(&out_dir),
    }
}
