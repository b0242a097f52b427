//! A provider's own settings beyond ngrok's fields — how it is called (`network`, `proxy`),
//! how many calls it takes at once (`concurrency`, `bufferSize`), whether it gets credentials
//! (`keyless`), where its surfaces live (`requestPathOverrides`) and whether it may be on a
//! private network (`allowPrivateNetwork`) — as stored, and how a write changes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use zeroize::Zeroizing;

use super::Violations;
use crate::secrets::{CryptoError, Envelope, MasterKey};

/// Every field is optional, and unset ones are left out of answers, so a provider that uses
/// none answers in ngrok's closed shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub network: Option<Network>,
    pub proxy: Option<Proxy>,
    pub concurrency: Option<u32>,
    pub buffer_size: Option<u32>,
    pub keyless: Option<bool>,
    /// By surface name (`chat-completions`): the absolute path that replaces the surface's.
    pub path_overrides: BTreeMap<String, String>,
    pub allow_private_network: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Network {
    pub request_timeout_secs: Option<u32>,
    pub stream_idle_timeout_secs: Option<u32>,
    pub max_retries: Option<u32>,
    pub retry_backoff_initial_ms: Option<u32>,
    pub retry_backoff_max_ms: Option<u32>,
    /// Names lower-cased, as HTTP/2 sends them.
    pub extra_headers: BTreeMap<String, String>,
    pub ca_cert_pem: Option<String>,
    pub insecure_skip_verify: Option<bool>,
}

impl Network {
    pub const DEFAULT_STREAM_IDLE_SECS: u32 = 60;
    pub const DEFAULT_BACKOFF_INITIAL_MS: u32 = 500;
    pub const DEFAULT_BACKOFF_MAX_MS: u32 = 5000;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProxyKind {
    /// Never a proxy, whatever the environment says.
    None,
    Http,
    Socks5,
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` of modelgate's environment —
    /// what a provider without `proxy` gets too.
    Environment,
}

impl ProxyKind {
    pub const ALL: [ProxyKind; 4] = [
        ProxyKind::None,
        ProxyKind::Http,
        ProxyKind::Socks5,
        ProxyKind::Environment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ProxyKind::None => "none",
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
            ProxyKind::Environment => "environment",
        }
    }

    pub fn from_name(name: &str) -> Option<ProxyKind> {
        ProxyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this kind names a proxy of its own (a URL, perhaps credentials).
    pub fn has_url(self) -> bool {
        matches!(self, ProxyKind::Http | ProxyKind::Socks5)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proxy {
    pub kind: ProxyKind,
    pub url: Option<String>,
    pub username: Option<String>,
    /// Sealed like a provider key, bound to the provider's id.
    pub password: Option<Envelope>,
}

/// What answers show instead of a proxy password, and what a write may send back to keep it.
pub const REDACTED: &str = "********";

impl Proxy {
    /// The password in the clear, for the one client that sends it.
    pub fn password(
        &self,
        master: &MasterKey,
        provider: Ulid,
    ) -> Result<Option<Zeroizing<String>>, CryptoError> {
        let Some(sealed) = &self.password else {
            return Ok(None);
        };
        let bytes = sealed.open(master, &binding(provider))?;
        String::from_utf8(bytes.to_vec())
            .map(|s| Some(Zeroizing::new(s)))
            .map_err(|_| CryptoError::Open)
    }
}

/// A proxy password is sealed for its provider's id, and for being a proxy password: it
/// cannot be moved into a provider key's place, nor another provider's.
fn binding(provider: Ulid) -> Vec<u8> {
    let mut b = provider.to_bytes().to_vec();
    b.extend_from_slice(b"/proxy-password");
    b
}

/// A proxy password as a write sends it.
#[derive(Clone, PartialEq)]
pub enum PasswordInput {
    None,
    /// [`REDACTED`]: the stored one stays.
    Keep,
    Plain(Zeroizing<String>),
    Sealed(Envelope),
}

impl std::fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasswordInput::None => "None",
            PasswordInput::Keep => "Keep",
            PasswordInput::Plain(_) | PasswordInput::Sealed(_) => "Secret",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProxyInput {
    pub kind: ProxyKind,
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: PasswordInput,
}

/// The settings a create or PATCH sends: `None` keeps a field, `Some(None)` clears it, and
/// `Some(Some(v))` replaces it (an object whole: `network` and `proxy` are not merged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SettingsChanges {
    pub network: Option<Option<Network>>,
    pub proxy: Option<Option<ProxyInput>>,
    pub concurrency: Option<Option<u32>>,
    pub buffer_size: Option<Option<u32>>,
    pub keyless: Option<Option<bool>>,
    pub path_overrides: Option<Option<BTreeMap<String, String>>>,
    pub allow_private_network: Option<Option<bool>>,
}

impl SettingsChanges {
    /// Seals a new proxy password for `provider`, so that nothing in the clear reaches the store.
    pub fn seal(&mut self, master: &MasterKey, provider: Ulid) -> Result<(), CryptoError> {
        if let Some(Some(proxy)) = &mut self.proxy
            && let PasswordInput::Plain(secret) = &proxy.password
        {
            let sealed = Envelope::seal(master, &binding(provider), secret.as_bytes())?;
            proxy.password = PasswordInput::Sealed(sealed);
        }
        Ok(())
    }

    /// The settings after the change; the rules that span fields are checked on the result,
    /// since a PATCH may send one side of them.
    pub fn apply(&self, current: &Settings) -> Result<Settings, Violations> {
        let mut next = current.clone();
        let mut v = Violations::default();
        if let Some(network) = &self.network {
            next.network.clone_from(network);
        }
        if let Some(proxy) = &self.proxy {
            next.proxy = proxy.as_ref().map(|input| Proxy {
                    kind: input.kind,
                    url: input.url.clone(),
                    username: input.username.clone(),
                    password: match &input.password {
                        PasswordInput::None => None,
                        PasswordInput::Sealed(sealed) => Some(sealed.clone()),
                        PasswordInput::Keep => {
                            let kept = current.proxy.as_ref().and_then(|p| p.password.clone());
                            if kept.is_none() {
                                v.add(
                                    "proxy.password",
                                    format!(
                                        "`{REDACTED}` keeps the stored password, but none is stored; send the password"
                                    ),
                                );
                            }
                            kept
                        }
                        PasswordInput::Plain(_) => {
                            unreachable!("a password is sealed before it is applied")
                        }
                    },
            });
        }
        if let Some(concurrency) = self.concurrency {
            next.concurrency = concurrency;
        }
        if let Some(buffer_size) = self.buffer_size {
            next.buffer_size = buffer_size;
        }
        if let Some(keyless) = self.keyless {
            next.keyless = keyless;
        }
        if let Some(overrides) = &self.path_overrides {
            next.path_overrides = overrides.clone().unwrap_or_default();
        }
        if let Some(allow) = self.allow_private_network {
            next.allow_private_network = allow;
        }
        if let Some(why) = buffer_rule(next.concurrency, next.buffer_size, true) {
            v.add("bufferSize", why);
        }
        match v.is_empty() {
            true => Ok(next),
            false => Err(v),
        }
    }
}

/// What is wrong with `bufferSize` beside `concurrency`, the one rule a body and the record
/// it makes are both checked by. A buffer without a cap is wrong in a record (`whole`), not in
/// a PATCH that leaves the stored cap alone.
pub fn buffer_rule(
    concurrency: Option<u32>,
    buffer_size: Option<u32>,
    whole: bool,
) -> Option<String> {
    match (concurrency, buffer_size) {
        (Some(c), Some(b)) if b < c => {
            Some(format!("must be at least `concurrency` ({c}) (got {b})"))
        }
        (None, Some(_)) if whole => {
            Some("needs `concurrency`: the buffer holds the calls beyond it".to_owned())
        }
        _ => None,
    }
}

impl Settings {
    /// The settings with the proxy password's data key wrapped by `new` instead of `old`, or
    /// `None` when they hold no sealed secret.
    pub fn rewrapped(
        &self,
        old: &MasterKey,
        new: &MasterKey,
        provider: Ulid,
    ) -> Result<Option<Settings>, CryptoError> {
        let Some(sealed) = self.proxy.as_ref().and_then(|p| p.password.as_ref()) else {
            return Ok(None);
        };
        let rewrapped = sealed.rewrap(old, new, &binding(provider))?;
        let mut next = self.clone();
        if let Some(proxy) = &mut next.proxy {
            proxy.password = Some(rewrapped);
        }
        Ok(Some(next))
    }

    /// How many calls may wait beyond those in flight.
    pub fn queue(&self) -> Option<(u32, u32)> {
        self.concurrency
            .map(|c| (c, self.buffer_size.unwrap_or(c).saturating_sub(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(password: PasswordInput) -> SettingsChanges {
        SettingsChanges {
            proxy: Some(Some(ProxyInput {
                kind: ProxyKind::Http,
                url: Some("http://127.0.0.1:3128".into()),
                username: Some("u".into()),
                password,
            })),
            ..SettingsChanges::default()
        }
    }

    #[test]
    fn a_proxy_password_is_sealed_for_its_provider_and_kept_by_the_redaction() {
        let master = MasterKey::generate().unwrap();
        let id = Ulid::new();
        let mut changes = proxy(PasswordInput::Plain(Zeroizing::new("hunter2".into())));
        changes.seal(&master, id).unwrap();
        assert!(!format!("{changes:?}").contains("hunter2"));
        let stored = changes.apply(&Settings::default()).unwrap();
        let p = stored.proxy.as_ref().unwrap();
        assert_eq!(
            p.password(&master, id).unwrap().unwrap().as_str(),
            "hunter2"
        );
        assert!(
            p.password(&master, Ulid::new()).is_err(),
            "bound to its provider"
        );

        let kept = proxy(PasswordInput::Keep).apply(&stored).unwrap();
        assert_eq!(kept.proxy, stored.proxy);
        let none_stored = proxy(PasswordInput::Keep).apply(&Settings::default());
        assert!(
            none_stored
                .unwrap_err()
                .to_map()
                .contains_key("proxy.password")
        );
    }

    #[test]
    fn the_buffer_is_checked_against_concurrency_after_the_change() {
        let current = Settings {
            concurrency: Some(8),
            buffer_size: Some(16),
            ..Settings::default()
        };
        let smaller = SettingsChanges {
            buffer_size: Some(Some(4)),
            ..SettingsChanges::default()
        };
        let map = smaller.apply(&current).unwrap_err().to_map();
        assert_eq!(
            map["bufferSize"],
            "must be at least `concurrency` (8) (got 4)"
        );
        let no_cap = SettingsChanges {
            concurrency: Some(None),
            ..SettingsChanges::default()
        };
        assert!(no_cap.apply(&current).is_err());
        let both = SettingsChanges {
            concurrency: Some(None),
            buffer_size: Some(None),
            ..SettingsChanges::default()
        };
        assert_eq!(both.apply(&current).unwrap(), Settings::default());
        assert_eq!(current.queue(), Some((8, 8)));
    }
}
