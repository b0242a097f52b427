//! Field rules shared by every resource.

use serde::{Deserialize, Deserializer};

use super::Violations;
use super::rules::{MAX_METADATA_CHARS, MAX_TEXT_CHARS};

/// For PATCH bodies: the outer `Option` says whether the field was sent, the inner one whether
/// it was `null`. Use with `#[serde(default, deserialize_with = "sent")]`.
pub fn sent<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub fn required<T>(v: &mut Violations, path: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        v.add(path, "is required");
    }
    value
}

/// Lengths count Unicode scalar values, as JSON Schema's `maxLength` does.
pub fn check_length(s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min || n > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters long (got {n})")
        } else {
            format!("must be between {min} and {max} characters long (got {n})")
        });
    }
    Ok(())
}

/// A display name: 1-255 characters, not only whitespace.
pub fn parse_name(s: String) -> Result<String, String> {
    check_length(&s, 1, MAX_TEXT_CHARS)?;
    if s.trim().is_empty() {
        return Err("must not be blank".into());
    }
    Ok(s)
}

pub fn parse_metadata(s: String) -> Result<String, String> {
    check_length(&s, 0, MAX_METADATA_CHARS)?;
    Ok(s)
}

/// A PATCH of a required text field: it may change, never be cleared.
pub fn patch_required(
    v: &mut Violations,
    path: &str,
    sent: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<String, String>,
) -> Option<String> {
    match sent? {
        None => {
            v.add(path, "cannot be cleared");
            None
        }
        Some(s) => v.check(path, parse(s)),
    }
}

/// A PATCH of an optional text field: `Some(None)` clears it.
pub fn patch_optional(
    v: &mut Violations,
    path: &str,
    sent: Option<Option<String>>,
    parse: impl FnOnce(String) -> Result<String, String>,
) -> Option<Option<String>> {
    sent.map(|value| value.and_then(|s| v.check(path, parse(s))))
}
