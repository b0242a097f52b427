//! The command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "modelgate",
    version,
    about = "A self-hosted AI gateway in one binary"
)]
pub struct Cli {
    /// TOML config file (default: ./modelgate.toml when present)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, host:port (overrides MODELGATE_BIND and the file)
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Directory for the store and the admin token (overrides MODELGATE_DATA_DIR and the file;
    /// default ./data, relative to the working directory: under a service manager give an
    /// absolute path such as /var/lib/modelgate)
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a token on stdin and print its SHA-256, for an `[[auth.tokens]]` entry
    HashToken,
    /// Re-wrap every provider key under a new master key (run with the server stopped)
    RotateMasterKey,
}

impl Cli {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            bind: self.bind.clone(),
            data_dir: self.data_dir.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn help_says_the_default_data_dir_is_relative_and_how_to_set_an_absolute_one() {
        let help = Cli::command().render_help().to_string();
        assert!(
            help.contains("default ./data, relative to the working directory")
                && help.contains("absolute path such as /var/lib/modelgate")
                && help.contains("MODELGATE_DATA_DIR"),
            "{help}"
        );
    }
}
