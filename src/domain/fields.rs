//! Field rules shared by every resource, as validator custom rules with the API's own words.

use serde::{Deserialize, Deserializer};
use validator::ValidationError;

use super::rules::{MAX_METADATA_CHARS, MAX_TEXT_CHARS, is_invisible};
use super::validation::rule;

/// For PATCH bodies: the outer `Option` says whether the field was sent, the inner one whether
/// it was `null`. Use with `#[serde(default, deserialize_with = "sent")]`.
pub fn sent<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A whole number as JSON Schema's `integer` admits it: `10` or `10.0`, not `10.5`. A value
/// outside `u32` is refused here; the field's range rule says the rest.
pub fn whole<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
            Ok(Some(n as u32))
        }
        Some(_) => Err(D::Error::custom(
            "must be a whole number from 0 to 4294967295",
        )),
    }
}

/// [`whole`] for PATCH bodies, like [`sent`].
pub fn sent_whole<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<u32>>, D::Error> {
    whole(deserializer).map(Some)
}

/// Lengths count Unicode scalar values, as JSON Schema's `maxLength` does. An empty value
/// where one is needed is simply missing: "is required".
pub fn check_length(s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n == 0 && min > 0 {
        return Err("is required".into());
    }
    if n < min || n > max {
        return Err(if min == 0 {
            format!("must be at most {max} characters long (got {n})")
        } else {
            format!("must be between {min} and {max} characters long (got {n})")
        });
    }
    Ok(())
}

fn check_no_control(s: &str) -> Result<(), String> {
    match s.chars().any(char::is_control) {
        true => Err("must not contain control characters (such as ESC or a line break)".into()),
        false => Ok(()),
    }
}

/// A display name: 1-255 characters, no control character, and not blank: at least one
/// character that shows (white space and invisible characters such as U+200B do not).
pub fn check_name(s: &str) -> Result<(), String> {
    check_length(s, 1, MAX_TEXT_CHARS)?;
    check_no_control(s)?;
    if s.chars().all(is_invisible) {
        return Err("must not be blank".into());
    }
    Ok(())
}

pub fn name(s: &str) -> Result<(), ValidationError> {
    rule("name", check_name(s))
}

/// One line of free text: at most 255 characters, no control character.
pub fn description(s: &str) -> Result<(), ValidationError> {
    rule(
        "description",
        check_length(s, 0, MAX_TEXT_CHARS).and_then(|()| check_no_control(s)),
    )
}

/// Free-form text for the operator: anything up to 4096 characters but NUL.
pub fn metadata(s: &str) -> Result<(), ValidationError> {
    rule(
        "metadata",
        check_length(s, 0, MAX_METADATA_CHARS).and_then(|()| match s.contains('\0') {
            true => Err("must not contain NUL characters".into()),
            false => Ok(()),
        }),
    )
}

/// PATCH fields a resource cannot do without: those of `fields` sent as `null`, as violations.
pub fn cleared(fields: &[(&str, bool)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|(_, cleared)| *cleared)
        .map(|(field, _)| ((*field).to_owned(), "cannot be cleared".to_owned()))
        .collect()
}
