//! The `[log]` settings: which records pass (an env_logger filter), how each line is written,
//! and where lines go.

use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// An env_logger filter; `RUST_LOG` replaces it.
    pub level: String,
    pub format: LogFormat,
    /// Lines are appended here instead of going to stderr; the file is reopened on SIGHUP, so
    /// logrotate can move it away.
    pub file: Option<PathBuf>,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            format: LogFormat::Text,
            file: None,
        }
    }
}

/// How one record becomes one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum LogFormat {
    /// env_logger's own line, key-values after the message as ` key=value`.
    #[default]
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "log.format must be `text` or `json`, not `{other}`"
            )),
        }
    }
}

impl TryFrom<String> for LogFormat {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl LogFormat {
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl LogSettings {
    /// `RUST_LOG`, `MODELGATE_LOG_FORMAT` and `MODELGATE_LOG_FILE` (empty: stderr) over the file.
    pub(super) fn apply_env(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = env("RUST_LOG") {
            self.level = v;
        }
        if let Some(v) = env("MODELGATE_LOG_FORMAT") {
            self.format = v
                .parse()
                .map_err(|e| ConfigError(format!("{e} (set by MODELGATE_LOG_FORMAT)")))?;
        }
        if let Some(v) = env("MODELGATE_LOG_FILE") {
            self.file = Some(PathBuf::from(v)).filter(|p| !p.as_os_str().is_empty());
        }
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.file.as_ref().is_some_and(|f| f.as_os_str().is_empty()) {
            return Err(ConfigError(
                "log.file must not be empty (leave it out to log to stderr)".into(),
            ));
        }
        Ok(())
    }
}
