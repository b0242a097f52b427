//! The bridge between the `validator` crate, which checks the request types' declarative
//! rules (`#[derive(Validate)]`), and the API's path-keyed violations.
//!
//! validator keys errors by Rust field name and puts struct-level (cross-field) errors under
//! `__all__`; the API keys them by JSON path (`models[3].modelId`). A cross-field rule therefore
//! says which path the caller must change in its error's `paths` parameter, which [`collect`]
//! honours. Messages come from the rule functions themselves (the same words as before
//! validator), or are rendered from validator's code and parameters.

use std::borrow::Cow;

use serde_json::Value;
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

use super::Violations;

/// A rule function's verdict as a validator error with the rule's own message.
pub fn rule(code: &'static str, verdict: Result<(), String>) -> Result<(), ValidationError> {
    verdict.map_err(|message| ValidationError::new(code).with_message(Cow::Owned(message)))
}

/// A cross-field violation keyed by the paths the caller must change (relative to the struct
/// that raised it), each with its message.
pub fn at_paths(code: &'static str, paths: Vec<(String, String)>) -> Result<(), ValidationError> {
    if paths.is_empty() {
        return Ok(());
    }
    let mut error = ValidationError::new(code);
    let map: serde_json::Map<String, Value> = paths
        .into_iter()
        .map(|(path, message)| (path, Value::String(message)))
        .collect();
    error.add_param(Cow::Borrowed("paths"), &map);
    Err(error)
}

/// Adds every error of `errors` to `v`, keyed by JSON path below `prefix`.
pub fn collect(errors: &ValidationErrors, prefix: &str, v: &mut Violations) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if field == "__all__" {
            prefix.to_owned()
        } else {
            join(prefix, &camel_case(field))
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for error in list {
                    report(error, prefix, &path, v);
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &path, v),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, &format!("{path}[{i}]"), v);
                }
            }
        }
    }
}

fn report(error: &ValidationError, prefix: &str, path: &str, v: &mut Violations) {
    if let Some(Value::Object(paths)) = error.params.get("paths") {
        for (relative, message) in paths {
            v.add(join(prefix, relative), message.as_str().unwrap_or_default());
        }
        return;
    }
    v.add(path, message(error));
}

fn message(error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let param = |name: &str| error.params.get(name).and_then(Value::as_u64);
    // A `range` rule's code is `range`, or the unit of its bounds: `code = "seconds"`.
    let unit = match error.code.as_ref() {
        "range" => Some(""),
        "seconds" => Some(" seconds"),
        "ms" => Some(" ms"),
        _ => None,
    };
    if let (Some(unit), Some(min), Some(max)) = (unit, param("min"), param("max")) {
        return format!("must be between {min} and {max}{unit}");
    }
    match (error.code.as_ref(), error.params.get("value")) {
        ("required", _) => "is required".to_owned(),
        ("length", Some(Value::Array(items))) => match param("max") {
            Some(max) => format!("must have at most {max} entries (got {})", items.len()),
            None => format!("has a wrong number of entries ({})", items.len()),
        },
        (code, _) => format!("breaks the `{code}` rule"),
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

/// `supported_api_surfaces` → `supportedApiSurfaces`, as the request types' serde names are.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use validator::Validate;

    #[derive(Validate)]
    #[validate(schema(function = "no_twins", skip_on_field_errors = false))]
    struct Outer {
        #[validate(required, custom(function = "short"))]
        model_id: Option<String>,
        #[validate(nested)]
        items: Vec<Inner>,
    }

    #[derive(Validate)]
    struct Inner {
        #[validate(custom(function = "short"))]
        param_name: String,
    }

    fn short(s: &str) -> Result<(), ValidationError> {
        rule(
            "short",
            (s.len() < 3).then_some(()).ok_or("is too long".to_owned()),
        )
    }

    /// A list rule the way the request types write theirs: at the struct, keyed by path.
    fn no_twins(o: &Outer) -> Result<(), ValidationError> {
        let mut found = vec![(
            "items".to_owned(),
            format!("must have at most 1 entries (got {})", o.items.len()),
        )];
        if o.items[0].param_name == o.items[1].param_name {
            found.push((
                "items[1].paramName".to_owned(),
                "repeats items[0]".to_owned(),
            ));
        }
        at_paths("twins", found)
    }

    #[test]
    fn errors_are_keyed_by_json_paths_with_the_rules_words() {
        let outer = Outer {
            model_id: None,
            items: vec![
                Inner {
                    param_name: "long".into(),
                },
                Inner {
                    param_name: "long".into(),
                },
            ],
        };
        let mut v = Violations::default();
        collect(&outer.validate().unwrap_err(), "", &mut v);
        let map = v.to_map();
        assert_eq!(map["modelId"], "is required");
        assert_eq!(map["items"], "must have at most 1 entries (got 2)");
        assert_eq!(map["items[0].paramName"], "is too long");
        assert_eq!(map["items[1].paramName"], "repeats items[0]; is too long");
        assert!(!map.contains_key("__all__") && map.len() == 4, "{map:?}");
        assert_eq!(v.count(), 4);
    }
}
