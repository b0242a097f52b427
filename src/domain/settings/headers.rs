//! `network.extraHeaders`' values: which header names carry credentials, how their values are
//! stored (sealed like a proxy password, bound to the provider and the header's name), what a
//! write sends (`********` keeps the stored value) and what an answer shows (`********`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use zeroize::Zeroizing;

use super::REDACTED;
use crate::domain::Violations;
use crate::secrets::{CryptoError, Envelope, MasterKey};

/// Names whose value is a credential, whatever service reads it: `authorization`-like ones,
/// `cookie`, and any name that is or ends in a word that means a secret (`api-key`,
/// `x-goog-api-key`, `x-auth-token`, `cf-access-client-secret`, `x_api_key`). Erring towards
/// sealing costs only the value's visibility in answers; erring the other way leaks it.
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "apikey"
    ) {
        return true;
    }
    let last = name.rsplit(['-', '_']).next().unwrap_or_default();
    matches!(
        last,
        "key" | "token" | "secret" | "password" | "apikey" | "passwd"
    )
}

/// A header's value as stored (postcard: the variants' order is the record format).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderValue {
    /// Any value of a name that is not a credential's; a credential's only between the
    /// migration of a store format that kept it so and the sealing at the next start-up.
    Plain(String),
    Sealed(Envelope),
}

impl std::fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A plain value may be a credential still waiting to be sealed.
        f.write_str(match self {
            HeaderValue::Plain(_) => "Plain",
            HeaderValue::Sealed(_) => "Sealed",
        })
    }
}

impl HeaderValue {
    /// The value in the clear, for the call that sends it.
    pub fn open(
        &self,
        master: &MasterKey,
        provider: Ulid,
        name: &str,
    ) -> Result<Zeroizing<String>, CryptoError> {
        match self {
            HeaderValue::Plain(value) => Ok(Zeroizing::new(value.clone())),
            HeaderValue::Sealed(sealed) => {
                let bytes = sealed.open(master, &binding(provider, name))?;
                String::from_utf8(bytes.to_vec())
                    .map(Zeroizing::new)
                    .map_err(|_| CryptoError::Open)
            }
        }
    }

    /// What an answer shows.
    pub fn answer(&self, name: &str) -> String {
        match self {
            HeaderValue::Plain(value) if !is_credential(name) => value.clone(),
            _ => REDACTED.to_owned(),
        }
    }
}

/// A header's value is sealed for its provider's id and its name: it cannot be moved onto
/// another header (one a log or an answer shows), nor another provider's.
fn binding(provider: Ulid, name: &str) -> Vec<u8> {
    let mut b = provider.to_bytes().to_vec();
    b.extend_from_slice(b"/extra-header/");
    b.extend_from_slice(name.as_bytes());
    b
}

/// A header's value as a write sends it.
#[derive(Clone, PartialEq)]
pub enum HeaderInput {
    Plain(String),
    /// A credential's, before it is sealed.
    Secret(Zeroizing<String>),
    /// [`REDACTED`] for a credential: the stored value stays.
    Keep,
    Sealed(Envelope),
}

impl std::fmt::Debug for HeaderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderInput::Plain(value) => write!(f, "Plain({value:?})"),
            HeaderInput::Keep => f.write_str("Keep"),
            HeaderInput::Secret(_) | HeaderInput::Sealed(_) => f.write_str("Secret"),
        }
    }
}

impl HeaderInput {
    /// How a body's value of header `name` is taken.
    pub fn of(name: &str, value: String) -> HeaderInput {
        match (is_credential(name), value == REDACTED) {
            (false, _) => HeaderInput::Plain(value),
            (true, true) => HeaderInput::Keep,
            (true, false) => HeaderInput::Secret(Zeroizing::new(value)),
        }
    }
}

/// Seals every credential in `headers` for `provider`, so that nothing in the clear reaches
/// the store.
pub(super) fn seal(
    headers: &mut BTreeMap<String, HeaderInput>,
    master: &MasterKey,
    provider: Ulid,
) -> Result<(), CryptoError> {
    for (name, value) in headers.iter_mut() {
        if let HeaderInput::Secret(secret) = value {
            let sealed = Envelope::seal(master, &binding(provider, name), secret.as_bytes())?;
            *value = HeaderInput::Sealed(sealed);
        }
    }
    Ok(())
}

/// The headers to store in place of `current`.
pub(super) fn stored(
    headers: &BTreeMap<String, HeaderInput>,
    current: Option<&BTreeMap<String, HeaderValue>>,
    v: &mut Violations,
) -> BTreeMap<String, HeaderValue> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        let value = match value {
            HeaderInput::Plain(plain) => HeaderValue::Plain(plain.clone()),
            HeaderInput::Sealed(sealed) => HeaderValue::Sealed(sealed.clone()),
            HeaderInput::Keep => match current.and_then(|c| c.get(name)) {
                Some(kept) => kept.clone(),
                None => {
                    v.add(
                        format!("network.extraHeaders.{name}"),
                        format!(
                            "`{REDACTED}` keeps the stored value, but this provider stores \
                             none under this name; send the value"
                        ),
                    );
                    continue;
                }
            },
            HeaderInput::Secret(_) => unreachable!("a credential is sealed before it is applied"),
        };
        out.insert(name.clone(), value);
    }
    out
}

/// The headers with every credential still in the clear sealed for `provider`, or `None`
/// when none is.
pub(super) fn sealed_plaintext(
    headers: &BTreeMap<String, HeaderValue>,
    master: &MasterKey,
    provider: Ulid,
) -> Result<Option<BTreeMap<String, HeaderValue>>, CryptoError> {
    let mut next = headers.clone();
    let mut sealed_any = false;
    for (name, value) in next.iter_mut() {
        if let HeaderValue::Plain(plain) = value
            && is_credential(name)
        {
            *value = HeaderValue::Sealed(Envelope::seal(
                master,
                &binding(provider, name),
                plain.as_bytes(),
            )?);
            sealed_any = true;
        }
    }
    Ok(sealed_any.then_some(next))
}

/// The headers with every sealed value's data key wrapped by `new` instead of `old`, or
/// `None` when none is sealed.
pub(super) fn rewrapped(
    headers: &BTreeMap<String, HeaderValue>,
    old: &MasterKey,
    new: &MasterKey,
    provider: Ulid,
) -> Result<Option<BTreeMap<String, HeaderValue>>, CryptoError> {
    let mut next = headers.clone();
    let mut any = false;
    for (name, value) in next.iter_mut() {
        if let HeaderValue::Sealed(sealed) = value {
            *value = HeaderValue::Sealed(sealed.rewrap(old, new, &binding(provider, name))?);
            any = true;
        }
    }
    Ok(any.then_some(next))
}
