//! Checks response bodies against the schemas of ngrok's published AI Gateway OpenAPI document,
//! which modelgate's responses must satisfy. Implements the subset of OpenAPI 3.0 schema those
//! schemas use: `$ref`, `type`, `required`, `properties`, `additionalProperties`, `items`,
//! `nullable` and `format: date-time`.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

fn spec_path() -> PathBuf {
    std::env::var_os("MODELGATE_NGROK_SPEC").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/reference/ngrok-ai-gateway.openapi.yaml")
        },
        PathBuf::from,
    )
}

fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = spec_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "ngrok's OpenAPI document is needed at {} (or MODELGATE_NGROK_SPEC): {e}",
                path.display()
            )
        });
        serde_yaml::from_str(&text).expect("the OpenAPI document parses")
    })
}

/// Panics with every mismatch when `value` does not satisfy `components.schemas.<name>`.
pub fn assert_valid(name: &str, value: &Value) {
    let mut problems = Vec::new();
    check(&schema_ref(name), value, "$", &mut problems);
    assert!(problems.is_empty(), "{name} schema: {problems:#?}\n{value}");
}

fn schema_ref(name: &str) -> Value {
    spec()["components"]["schemas"][name].clone()
}

fn check(schema: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap();
        return check(&schema_ref(name), value, at, problems);
    }
    if value.is_null() {
        if schema.get("nullable") != Some(&Value::Bool(true)) {
            problems.push(format!("{at}: null where the schema is not nullable"));
        }
        return;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(map) = value.as_object() else {
                return problems.push(format!("{at}: not an object"));
            };
            let props = schema.get("properties").and_then(Value::as_object);
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = req.as_str().unwrap();
                if !map.contains_key(key) {
                    problems.push(format!("{at}: required `{key}` missing"));
                }
            }
            for (key, v) in map {
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => check(sub, v, &format!("{at}.{key}"), problems),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            problems.push(format!("{at}: `{key}` is not allowed"))
                        }
                        Some(extra @ Value::Object(_)) => {
                            check(extra, v, &format!("{at}.{key}"), problems)
                        }
                        _ => {}
                    },
                }
            }
        }
        Some("array") => {
            let Some(items) = value.as_array() else {
                return problems.push(format!("{at}: not an array"));
            };
            for (i, v) in items.iter().enumerate() {
                check(&schema["items"], v, &format!("{at}[{i}]"), problems);
            }
        }
        Some("string") => match value.as_str() {
            None => problems.push(format!("{at}: not a string")),
            Some(s) if schema.get("format").and_then(Value::as_str) == Some("date-time") => {
                if humantime::parse_rfc3339(s).is_err() {
                    problems.push(format!("{at}: `{s}` is not an RFC 3339 UTC date-time"));
                }
            }
            Some(_) => {}
        },
        Some("integer") if !value.is_i64() && !value.is_u64() => {
            problems.push(format!("{at}: not an integer"));
        }
        Some("boolean") if !value.is_boolean() => {
            problems.push(format!("{at}: not a boolean"));
        }
        _ => {}
    }
}
