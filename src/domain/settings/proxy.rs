//! `proxy`, whole: how it is stored (its password sealed), the JSON that writes send and
//! answers show (the password only as `********`), its rules and its JSON Schema.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use ulid::Ulid;
use utoipa::openapi::schema::Schema;
use validator::{Validate, ValidationError};
use zeroize::Zeroizing;

use super::json_schema;
use crate::domain::Violations;
use crate::domain::catalog::quoted_list;
use crate::domain::fields::check_length;
use crate::domain::rules::{
    self, MAX_BASE_URL_CHARS, MAX_PROXY_PASSWORD_CHARS, MAX_TEXT_CHARS, no_control_pattern,
    proxy_url_pattern,
};
use crate::domain::validation::{at_paths, rule};
use crate::secrets::{CryptoError, Envelope, MasterKey};

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

/// As stored (postcard: the fields' order and types are the record format).
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

    /// The password's data key wrapped by `new` instead of `old`.
    pub(super) fn rewrap_password(
        &mut self,
        old: &MasterKey,
        new: &MasterKey,
        provider: Ulid,
    ) -> Result<bool, CryptoError> {
        let Some(sealed) = &self.password else {
            return Ok(false);
        };
        self.password = Some(sealed.rewrap(old, new, &binding(provider))?);
        Ok(true)
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

impl ProxyInput {
    /// Seals a new password for `provider`, so that nothing in the clear reaches the store.
    pub(super) fn seal(&mut self, master: &MasterKey, provider: Ulid) -> Result<(), CryptoError> {
        if let PasswordInput::Plain(secret) = &self.password {
            let sealed = Envelope::seal(master, &binding(provider), secret.as_bytes())?;
            self.password = PasswordInput::Sealed(sealed);
        }
        Ok(())
    }

    /// The proxy to store in place of `current`'s.
    pub(super) fn stored(&self, current: Option<&Proxy>, v: &mut Violations) -> Proxy {
        Proxy {
            kind: self.kind,
            url: self.url.clone(),
            username: self.username.clone(),
            password: match &self.password {
                PasswordInput::None => None,
                PasswordInput::Sealed(sealed) => Some(sealed.clone()),
                PasswordInput::Keep => {
                    let kept = current.and_then(|p| p.password.clone());
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
        }
    }
}

/// `proxy` as JSON: what a write sends and, built from the stored [`Proxy`], what an answer
/// shows (only what is set).
#[derive(Debug, Default, Deserialize, Serialize, Validate)]
#[validate(schema(function = "proxy_rules", skip_on_field_errors = false))]
pub struct ProxyBody {
    #[serde(rename = "type")]
    #[validate(required(message = "is required"))]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[validate(custom(function = "proxy_username"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Checked in `proxy_rules`: a field rule would copy the value into its error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
}

/// A proxy password as read: it never shows in a `Debug` rendering, and is written out only
/// as [`REDACTED`].
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Secret(pub Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

fn proxy_username(s: &str) -> Result<(), ValidationError> {
    rule("username", no_control(s, MAX_TEXT_CHARS))
}

fn no_control(s: &str, max: usize) -> Result<(), String> {
    check_length(s, 1, max)?;
    match s.chars().any(char::is_control) {
        true => Err("must not contain control characters".into()),
        false => Ok(()),
    }
}

fn proxy_rules(p: &ProxyBody) -> Result<(), ValidationError> {
    let mut found = Vec::new();
    // The message never quotes the value.
    if let Some(Err(why)) = p
        .password
        .as_ref()
        .map(|s| no_control(&s.0, MAX_PROXY_PASSWORD_CHARS))
    {
        found.push(("password".to_owned(), why));
    }
    let Some(kind) = p.kind.as_deref() else {
        return at_paths("proxy", found);
    };
    let Some(kind) = ProxyKind::from_name(kind) else {
        found.push((
            "type".to_owned(),
            format!(
                "must be one of {}",
                quoted_list(ProxyKind::ALL.map(ProxyKind::name))
            ),
        ));
        return at_paths("proxy", found);
    };
    if kind.has_url() {
        match p.url.as_deref() {
            None => found.push((
                "url".to_owned(),
                format!("is required for type `{}`", kind.name()),
            )),
            Some(url) => {
                if let Err(why) = check_proxy_url(kind, url) {
                    found.push(("url".to_owned(), why));
                }
            }
        }
        if p.password.is_some() && p.username.is_none() {
            found.push((
                "username".to_owned(),
                "is required with a password".to_owned(),
            ));
        }
    } else {
        for (field, sent) in [
            ("url", p.url.is_some()),
            ("username", p.username.is_some()),
            ("password", p.password.is_some()),
        ] {
            if sent {
                found.push((
                    field.to_owned(),
                    format!("must not be given for type `{}`", kind.name()),
                ));
            }
        }
    }
    at_paths("proxy", found)
}

fn check_proxy_url(kind: ProxyKind, url: &str) -> Result<(), String> {
    check_length(url, 1, MAX_BASE_URL_CHARS)?;
    let schemes = match kind {
        ProxyKind::Socks5 => ["socks5", "socks5h"],
        _ => ["http", "https"],
    };
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    if !schemes.contains(&scheme) {
        return Err(format!(
            "must use the {} or {} scheme for type `{}`",
            schemes[0],
            schemes[1],
            kind.name()
        ));
    }
    if url.contains('@') {
        return Err("must not contain credentials: give them as username and password".into());
    }
    rules::check_host(url)?;
    static SHAPE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&rules::proxy_url_shape()).expect("the proxy URL pattern compiles")
    });
    if !SHAPE.is_match(url) {
        return Err(
            "must be scheme://host[:port] with a host name, an IPv4 address or a bracketed \
             IPv6 address, and no path, query or fragment"
                .into(),
        );
    }
    Ok(())
}

impl ProxyBody {
    /// Only once the body obeys every rule.
    pub fn into_input(self) -> ProxyInput {
        let kind = self
            .kind
            .as_deref()
            .and_then(ProxyKind::from_name)
            .expect("a checked proxy has a known type");
        ProxyInput {
            kind,
            url: self.url,
            username: self.username,
            password: match self.password {
                None => PasswordInput::None,
                Some(s) if s.0.as_str() == REDACTED => PasswordInput::Keep,
                Some(s) => PasswordInput::Plain(s.0),
            },
        }
    }

    /// What an answer shows of the stored proxy: a password only as [`REDACTED`].
    pub fn answer(p: &Proxy) -> ProxyBody {
        ProxyBody {
            kind: Some(p.kind.name().to_owned()),
            url: p.url.clone(),
            username: p.username.clone(),
            password: p
                .password
                .as_ref()
                .map(|_| Secret(Zeroizing::new(REDACTED.to_owned()))),
        }
    }
}

/// The JSON Schema of [`ProxyBody`]: one alternative per kind.
pub fn schema() -> Schema {
    let text = |max: usize| {
        json!({"type": ["string", "null"], "minLength": 1,
                                  "maxLength": max, "pattern": no_control_pattern()})
    };
    let with_url = |kind: ProxyKind, schemes: &str| {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["type", "url"],
            "properties": {
                "type": {"const": kind.name()},
                "url": {"type": "string", "maxLength": MAX_BASE_URL_CHARS,
                        "pattern": proxy_url_pattern(schemes)},
                "username": text(MAX_TEXT_CHARS),
                // Not `writeOnly`: an answer shows `********` for a stored one, and a schema
                // that forbids answers the field refuses every such answer.
                "password": {"type": ["string", "null"], "minLength": 1,
                             "maxLength": MAX_PROXY_PASSWORD_CHARS,
                             "pattern": no_control_pattern(),
                             "description": format!("Sent: the password, or `{REDACTED}` to \
                                 keep the stored one. Answered: `{REDACTED}` when one is \
                                 stored, never the password.")}
            },
            // A password needs a user name; `null` counts as not sent.
            "if": {"properties": {"password": {"type": "string"}}, "required": ["password"]},
            "then": {"properties": {"username": {"type": "string"}}, "required": ["username"]}
        })
    };
    let without_url = |kind: ProxyKind| {
        json!({
            "type": "object", "additionalProperties": false, "required": ["type"],
            "properties": {"type": {"const": kind.name()}, "url": {"type": "null"},
                           "username": {"type": "null"}, "password": {"type": "null"}}
        })
    };
    json_schema(json!({
        "type": ["object", "null"],
        "oneOf": [
            {"type": "null"},
            with_url(ProxyKind::Http, "https?"),
            with_url(ProxyKind::Socks5, "socks5h?"),
            without_url(ProxyKind::None),
            without_url(ProxyKind::Environment),
        ],
        "description": format!("The proxy calls to this provider go through. `environment` \
            (also what a provider without `proxy` gets) follows HTTPS_PROXY, HTTP_PROXY, \
            ALL_PROXY and NO_PROXY; `none` never uses one. `password` is never shown: it is sealed \
            like a provider key; answers show `{REDACTED}`, and sending `{REDACTED}` back keeps \
            the stored one.")
    }))
}
