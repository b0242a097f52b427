//! Settings, merged lowest to highest: built-in defaults < TOML file < environment < CLI flags.
//! Every problem is one line naming the setting, so start-up can refuse it cleanly.

use std::collections::BTreeMap;
use std::fmt;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::{self, Credential};

mod log_settings;
mod usage_settings;

pub use log_settings::{LogFormat, LogSettings};
pub use usage_settings::{PriceSettings, UsageSettings, prices};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "modelgate.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub log: LogSettings,
    pub auth: AuthSettings,
    pub gateway: GatewaySettings,
    pub outbound: OutboundSettings,
    pub usage: UsageSettings,
    pub health: HealthSettings,
    /// What each model's tokens cost, for usage events' `totalCost`.
    pub prices: BTreeMap<String, PriceSettings>,
    /// Per catalog id (`openai`, `anthropic`, …): where its API is, when not its public URL.
    pub catalog: BTreeMap<String, CatalogSettings>,
}

/// The data plane: model calls routed to providers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Largest model-call body, in bytes (images and long contexts need room).
    pub max_body_bytes: usize,
    /// How long one upstream attempt may take to answer, in seconds.
    pub request_timeout_secs: u64,
    /// How long a streamed answer may go without a byte, in seconds.
    pub stream_idle_timeout_secs: u64,
    /// How long one model call may take over all its attempts (failover included), in seconds.
    pub total_timeout_secs: u64,
    /// How long a stream may last after its first content, however steadily it trickles.
    pub max_stream_secs: u64,
    /// The browser origins whose pages may call `/v1` (CORS); none by default. Checked and
    /// normalised at start to the form browsers send (`scheme://host[:port]`).
    pub cors_origins: Vec<String>,
    /// Whether `/v1` takes access keys only: the admin token, `[[auth.tokens]]` and management
    /// API keys are then refused there (401 `access_key_required`), keeping the management API.
    pub require_access_keys: bool,
    /// How long a provider's probe (`POST /providers/{id}/test`, `?validate=true`) may take,
    /// all its pages included, in milliseconds.
    pub probe_timeout_ms: u64,
    /// Whether `GET /v1/models` leaves out the models of providers whose status is `offline`.
    pub hide_offline_models: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout_secs: 300,
            stream_idle_timeout_secs: 60,
            total_timeout_secs: 600,
            max_stream_secs: 3600,
            cors_origins: Vec::new(),
            require_access_keys: false,
            probe_timeout_ms: 10_000,
            hide_offline_models: false,
        }
    }
}

/// Background checks of providers (`GET /providers/{id}/health`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthSettings {
    /// Whether providers are checked in the background (also `MODELGATE_HEALTH_ENABLED`).
    pub enabled: bool,
    /// Seconds between two checks of a provider (jittered by a tenth); a success counts for
    /// two intervals.
    pub interval_secs: u64,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            enabled: true,
            interval_secs: 60,
        }
    }
}

/// Where modelgate's own calls (to providers) may go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// Loopback, private, link-local and shared (CGNAT) addresses: allowed by default, for
    /// homelabs; `false` refuses them unless a provider sets `allowPrivateNetwork`. Cloud
    /// metadata addresses are refused either way.
    pub allow_private_networks: bool,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        OutboundSettings {
            allow_private_networks: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub bind: String,
    /// Prefix of every `uri` the API returns, e.g. `https://gw.example.com`.
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    /// 0: one worker per CPU core.
    pub workers: usize,
    pub keep_alive_secs: u64,
    pub client_request_timeout_ms: u64,
    pub body_timeout_ms: u64,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    pub data_dir: PathBuf,
    pub cache_capacity_mib: u64,
    pub min_free_mib: u64,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    pub tokens: Vec<TokenEntry>,
    /// File holding the base64 master key that seals provider keys.
    pub master_key_file: Option<PathBuf>,
    /// Only from `MODELGATE_ADMIN_TOKEN`: a config file holds no plaintext secret.
    #[serde(skip)]
    pub admin_token: Option<String>,
    /// Only from `MODELGATE_MASTER_KEY` (base64), for the same reason.
    #[serde(skip)]
    pub master_key: Option<String>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("tokens", &self.tokens)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub id: String,
    /// Lowercase hex SHA-256 of the token (`modelgate hash-token`).
    pub sha256: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            max_body_bytes: 1024 * 1024,
            workers: 0,
            keep_alive_secs: 5,
            client_request_timeout_ms: 5000,
            body_timeout_ms: 30_000,
            shutdown_timeout_secs: 30,
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            data_dir: PathBuf::from("./data"),
            cache_capacity_mib: 64,
            min_free_mib: 64,
        }
    }
}

/// What the command line can override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Settings {
    /// Builds the settings from every source. `env` looks up an environment variable; it is a
    /// parameter so tests need not touch the process environment.
    pub fn load(
        overrides: &Overrides,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut settings = match &overrides.config_file {
            Some(path) => Settings::from_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                Settings::from_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => Settings::default(),
        };
        if let Some(v) = env("MODELGATE_BIND") {
            settings.server.bind = v;
        }
        if let Some(v) = env("MODELGATE_DATA_DIR") {
            settings.storage.data_dir = v.into();
        }
        if let Some(v) = env("MODELGATE_PUBLIC_URL") {
            settings.server.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = env("MODELGATE_ADMIN_TOKEN") {
            settings.auth.admin_token = Some(v);
        }
        if let Some(v) = env("MODELGATE_MASTER_KEY") {
            settings.auth.master_key = Some(v);
        }
        if let Some(v) = env("MODELGATE_HEALTH_ENABLED") {
            settings.health.enabled = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ConfigError(format!(
                        "MODELGATE_HEALTH_ENABLED: `{v}` is not true, false, 1 or 0"
                    )));
                }
            };
        }
        settings.log.apply_env(&env)?;
        if let Some(v) = &overrides.bind {
            settings.server.bind.clone_from(v);
        }
        if let Some(v) = &overrides.data_dir {
            settings.storage.data_dir.clone_from(v);
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            // toml's own rendering spans several lines; keep the line number and the key.
            let at = e.span().map_or_else(String::new, |span| {
                let start = span.start.min(text.len());
                let line = text[..start].matches('\n').count() + 1;
                let line_text = text.lines().nth(line - 1).unwrap_or_default();
                match line_text.split_once('=') {
                    Some((key, _)) => format!(" (line {line}, `{}`)", key.trim()),
                    None => format!(" (line {line})"),
                }
            });
            ConfigError(format!(
                "config file {}{at}: {}",
                path.display(),
                e.message().trim().replace('\n', " ")
            ))
        })
    }

    /// Checks what serde's types cannot, and normalises `public_url`.
    pub fn validate(&mut self) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError(m));
        let bind = &self.server.bind;
        if bind
            .to_socket_addrs()
            .map_or(true, |mut a| a.next().is_none())
        {
            return fail(format!(
                "server.bind: `{bind}` is not a host:port address (set by --bind, MODELGATE_BIND or the config file)"
            ));
        }
        if let Some(url) = &self.server.public_url {
            match url::Url::parse(url) {
                Ok(u)
                    if matches!(u.scheme(), "http" | "https")
                        && u.query().is_none()
                        && u.fragment().is_none() => {}
                _ => {
                    return fail(format!(
                        "server.public_url: `{url}` is not an absolute http(s) URL without query or fragment"
                    ));
                }
            }
            self.server.public_url = Some(url.trim_end_matches('/').to_owned());
        }
        if self.server.max_body_bytes < 1024 {
            return fail("server.max_body_bytes must be at least 1024".into());
        }
        if self.server.client_request_timeout_ms == 0 {
            return fail("server.client_request_timeout_ms must be above 0".into());
        }
        if self.server.body_timeout_ms == 0 {
            return fail("server.body_timeout_ms must be above 0".into());
        }
        if self.gateway.max_body_bytes < 1024 {
            return fail("gateway.max_body_bytes must be at least 1024".into());
        }
        if self.health.interval_secs == 0 {
            return fail("health.interval_secs must be at least 1".into());
        }
        if self.gateway.probe_timeout_ms == 0 {
            return fail("gateway.probe_timeout_ms must be above 0".into());
        }
        if self.gateway.request_timeout_secs == 0
            || self.gateway.stream_idle_timeout_secs == 0
            || self.gateway.total_timeout_secs == 0
            || self.gateway.max_stream_secs == 0
        {
            return fail(
                "gateway.request_timeout_secs, gateway.stream_idle_timeout_secs, \
                 gateway.total_timeout_secs and gateway.max_stream_secs must be above 0"
                    .into(),
            );
        }
        for (i, origin) in self.gateway.cors_origins.iter_mut().enumerate() {
            match normalized_origin(origin) {
                Ok(normal) => *origin = normal,
                Err(rule) => return fail(format!("gateway.cors_origins[{i}]: {rule}")),
            }
        }
        for (id, entry) in &self.catalog {
            if crate::domain::catalog::catalog_provider(id).is_none() {
                return fail(format!(
                    "catalog.{id}: not a catalog provider; the catalog has {}",
                    crate::domain::catalog::reserved_provider_ids()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if let Some(url) = &entry.base_url
                && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
            {
                return fail(format!(
                    "catalog.{id}.base_url: `{url}` is not an http(s) URL"
                ));
            }
        }
        self.log.validate()?;
        self.usage.validate()?;
        prices(&self.prices)?;
        if self.storage.cache_capacity_mib == 0 {
            return fail("storage.cache_capacity_mib must be at least 1".into());
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            return fail("storage.data_dir must not be empty".into());
        }
        if let Some(token) = &self.auth.admin_token
            && let Err(rule) = auth::check_token(token)
        {
            return fail(format!("MODELGATE_ADMIN_TOKEN {rule}"));
        }
        if let Some(key) = &self.auth.master_key
            && crate::secrets::MasterKey::from_base64(key).is_err()
        {
            return fail("MODELGATE_MASTER_KEY must be 32 bytes, base64-encoded".into());
        }
        self.token_credentials().map(drop)
    }

    /// The `[[auth.tokens]]` entries as credentials, refusing malformed or clashing ones.
    pub fn token_credentials(&self) -> Result<Vec<Credential>, ConfigError> {
        let mut out: Vec<Credential> = Vec::new();
        for (i, entry) in self.auth.tokens.iter().enumerate() {
            let at = format!("auth.tokens[{i}]");
            if !auth::is_credential_id(&entry.id) {
                return Err(ConfigError(format!(
                    "{at}.id must be 1-64 characters of letters, digits, `.`, `_` and `-`"
                )));
            }
            if entry.id.parse::<ulid::Ulid>().is_ok() {
                // Stored API keys have ULID ids: one of those here would shadow a stored key.
                return Err(ConfigError(format!(
                    "{at}.id `{}` reads as a ULID, which stored API keys' ids are; choose a name",
                    entry.id
                )));
            }
            if entry.id == auth::ADMIN_ID {
                return Err(ConfigError(format!(
                    "{at}.id `admin` is reserved for the admin token"
                )));
            }
            let Some(credential) = Credential::from_hex_digest(&entry.id, &entry.sha256) else {
                return Err(ConfigError(format!(
                    "{at}.sha256 must be 64 hex digits (the output of `modelgate hash-token`)"
                )));
            };
            if out.iter().any(|c| c.id == entry.id) {
                return Err(ConfigError(format!("{at}.id `{}` is used twice", entry.id)));
            }
            if out.iter().any(|c| c.digest() == credential.digest()) {
                return Err(ConfigError(format!(
                    "{at}.sha256 is the same token as another entry"
                )));
            }
            out.push(credential);
        }
        Ok(out)
    }
}

/// An origin as configured, in the form browsers send it, or why it is not one.
fn normalized_origin(raw: &str) -> Result<String, String> {
    let refuse = || {
        Err(format!(
            "`{raw}` is not an origin: scheme://host[:port], http or https, with no path (never `*`)"
        ))
    };
    let Ok(url) = url::Url::parse(raw) else {
        return refuse();
    };
    if !matches!(url.scheme(), "http" | "https")
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.host().is_none()
    {
        return refuse();
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests;
