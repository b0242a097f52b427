//! The provider settings' rules as JSON Schema (see `schema` for why each schema admits exactly
//! what its parser admits). Every field is optional and takes `null` for "unset".
//!
//! Two rules span fields and no JSON Schema keyword can say them: `retryBackoffInitialMs` ≤
//! `retryBackoffMaxMs` and `concurrency` ≤ `bufferSize`; nor can a pattern say that a PEM
//! block holds an X.509 certificate. The descriptions state them, and the fuzzing's hooks
//! (`tests/fuzz/hooks.py`) keep generated bodies within them.

use serde_json::{Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

use super::rules::{
    CONCURRENCY, FORBIDDEN_HEADERS, HEADER_NAME_PATTERN, HEADER_VALUE_PATTERN, MAX_BASE_URL_CHARS,
    MAX_CA_PEM_CHARS, MAX_EXTRA_HEADERS, MAX_HEADER_NAME_CHARS, MAX_HEADER_VALUE_CHARS,
    MAX_PROXY_PASSWORD_CHARS, MAX_RETRIES, MAX_TEXT_CHARS, REQUEST_TIMEOUT_SECS, RETRY_BACKOFF_MS,
    STREAM_IDLE_TIMEOUT_SECS, no_control_pattern, proxy_url_pattern, request_path_pattern,
};
use super::settings::REDACTED;
use super::surface::Surface;

/// A schema written as JSON. utoipa's model has no field for several keywords used here
/// (`propertyNames`, `const`, `if`/`then`, a `oneOf` beside `type`), so everything but the
/// type and description goes through its extensions, which serialize flat beside them.
fn schema(value: Value) -> Schema {
    let Value::Object(mut map) = value else {
        unreachable!("a schema is written as an object")
    };
    let parse = |t: &Value| match t.as_str() {
        Some("object") => Type::Object,
        Some("string") => Type::String,
        Some("integer") => Type::Integer,
        Some("boolean") => Type::Boolean,
        Some("null") => Type::Null,
        other => unreachable!("no settings schema has type {other:?}"),
    };
    let ty = match map.remove("type") {
        Some(Value::Array(types)) => SchemaType::Array(types.iter().map(parse).collect()),
        Some(one) => SchemaType::Type(parse(&one)),
        None => SchemaType::AnyValue,
    };
    let mut b = ObjectBuilder::new().schema_type(ty);
    if let Some(Value::String(d)) = map.remove("description") {
        b = b.description(Some(d));
    }
    Schema::Object(b.extensions(Some(map.into_iter().collect())).build())
}

fn integer((min, max): (u32, u32), description: &str) -> Value {
    json!({"type": ["integer", "null"], "minimum": min, "maximum": max, "description": description})
}

/// A header name that is none of the forbidden ones, in any case.
fn header_name_pattern() -> String {
    let spelled: Vec<String> = FORBIDDEN_HEADERS
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| match c.is_ascii_alphabetic() {
                    true => format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()),
                    false => regex_escape(c),
                })
                .collect()
        })
        .collect();
    format!(
        "^(?!(?:{})$){}",
        spelled.join("|"),
        &HEADER_NAME_PATTERN[1..]
    )
}

fn regex_escape(c: char) -> String {
    match c {
        '-' | '.' => format!("\\{c}"),
        _ => c.to_string(),
    }
}

pub fn network() -> Schema {
    schema(json!({
        "type": ["object", "null"],
        "additionalProperties": false,
        "description": "How modelgate calls this provider. Sent whole: a PATCH replaces the \
            object, `null` clears it. `retryBackoffInitialMs` must not exceed \
            `retryBackoffMaxMs` (defaults 500 and 5000).",
        "properties": {
            "requestTimeoutSeconds": integer(REQUEST_TIMEOUT_SECS,
                "Per attempt, to the answer's head (and a whole unstreamed answer); unset: \
                 the gateway's `gateway.request_timeout_secs`."),
            "streamIdleTimeoutSeconds": integer(STREAM_IDLE_TIMEOUT_SECS,
                "Longest quiet between two chunks of a streamed answer; default 60."),
            "maxRetries": integer((0, MAX_RETRIES),
                "Retries of the same key after a 5xx, 408, connect error or timeout, before \
                 the next candidate; default 0."),
            "retryBackoffInitialMs": integer(RETRY_BACKOFF_MS,
                "First retry's wait (doubling, jittered); default 500."),
            "retryBackoffMaxMs": integer(RETRY_BACKOFF_MS, "Longest wait; default 5000."),
            "extraHeaders": {
                "type": ["object", "null"],
                "maxProperties": MAX_EXTRA_HEADERS,
                "propertyNames": {"maxLength": MAX_HEADER_NAME_CHARS, "pattern": header_name_pattern()},
                "additionalProperties": {
                    "type": "string", "maxLength": MAX_HEADER_VALUE_CHARS,
                    "pattern": HEADER_VALUE_PATTERN
                },
                "description": "Headers sent on every call, names case-insensitive and each \
                    once; never credentials (`authorization`, `x-api-key`), `host`, \
                    `content-length` or hop-by-hop headers."
            },
            "caCertPem": {
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_CA_PEM_CHARS,
                "format": "pem-certificates",
                "description": "PEM bundle of X.509 certificates trusted for this provider, \
                    besides the public roots; only CERTIFICATE blocks."
            },
            "insecureSkipVerify": {
                "type": ["boolean", "null"],
                "description": "Trust any certificate (logged as a warning). For testing only."
            }
        }
    }))
}

pub fn proxy() -> Schema {
    let text = |max: usize| {
        json!({"type": ["string", "null"], "minLength": 1,
                                  "maxLength": max, "pattern": no_control_pattern()})
    };
    let with_url = |kind: &str, schemes: &str| {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["type", "url"],
            "properties": {
                "type": {"const": kind},
                "url": {"type": "string", "maxLength": MAX_BASE_URL_CHARS,
                        "pattern": proxy_url_pattern(schemes)},
                "username": text(MAX_TEXT_CHARS),
                "password": {"type": ["string", "null"], "minLength": 1,
                             "maxLength": MAX_PROXY_PASSWORD_CHARS,
                             "pattern": no_control_pattern(), "writeOnly": true}
            },
            // A password needs a user name; `null` counts as not sent.
            "if": {"properties": {"password": {"type": "string"}}, "required": ["password"]},
            "then": {"properties": {"username": {"type": "string"}}, "required": ["username"]}
        })
    };
    let without_url = |kind: &str| {
        json!({
            "type": "object", "additionalProperties": false, "required": ["type"],
            "properties": {"type": {"const": kind}, "url": {"type": "null"},
                           "username": {"type": "null"}, "password": {"type": "null"}}
        })
    };
    schema(json!({
        "type": ["object", "null"],
        "oneOf": [
            {"type": "null"},
            with_url("http", "https?"),
            with_url("socks5", "socks5h?"),
            without_url("none"),
            without_url("environment"),
        ],
        "description": format!("The proxy calls to this provider go through. `environment` \
            (also what a provider without `proxy` gets) follows HTTPS_PROXY, HTTP_PROXY, \
            ALL_PROXY and NO_PROXY; `none` never uses one. `password` is write-only and sealed \
            like a provider key; answers show `{REDACTED}`, and sending `{REDACTED}` back keeps \
            the stored one.")
    }))
}

pub fn concurrency() -> Schema {
    schema(integer(
        CONCURRENCY,
        "Most calls in flight to this provider at once; more wait in the buffer.",
    ))
}

pub fn buffer_size() -> Schema {
    schema(integer(
        CONCURRENCY,
        "Calls in flight plus waiting; needs `concurrency` and must be at least it (default: \
         equal, so nothing waits). Beyond it a call is refused at once with 429.",
    ))
}

pub fn keyless() -> Schema {
    schema(json!({"type": ["boolean", "null"],
        "description": "Call without credentials even when the provider has keys."}))
}

pub fn allow_private_network() -> Schema {
    schema(json!({"type": ["boolean", "null"],
        "description": "Allow loopback and private addresses for this provider when the \
            gateway refuses them (`outbound.allow_private_networks = false`). Cloud metadata \
            addresses are refused always."}))
}

pub fn request_path_overrides() -> Schema {
    let names: Vec<&str> = Surface::ALL.iter().map(|s| s.name()).collect();
    schema(json!({
        "type": ["object", "null"],
        "propertyNames": {"enum": names},
        "additionalProperties": {"type": "string", "maxLength": MAX_BASE_URL_CHARS,
                                 "pattern": request_path_pattern()},
        "description": "Per surface, the absolute path that replaces the standard one at the \
            base URL's host (`{\"chat-completions\": \"/api/chat\"}`). `null` clears them."
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_settings_schema_serializes_what_it_was_written_as() {
        for (name, s) in [
            ("network", network()),
            ("proxy", proxy()),
            ("overrides", request_path_overrides()),
        ] {
            let back = serde_json::to_value(&s).unwrap();
            let text = back.to_string();
            assert!(
                text.contains("additionalProperties") || text.contains("propertyNames"),
                "{name}: {text}"
            );
        }
        let proxy = serde_json::to_value(proxy()).unwrap();
        assert_eq!(proxy["oneOf"].as_array().unwrap().len(), 5, "{proxy}");
    }

    #[test]
    fn the_header_name_pattern_refuses_forbidden_names_in_any_case() {
        let re = fancy_regex::Regex::new(&header_name_pattern()).unwrap();
        for ok in ["x-trace", "OpenAI-Organization", "hosts", "x-api-keys"] {
            assert!(re.is_match(ok).unwrap(), "{ok}");
        }
        for bad in [
            "Authorization",
            "X-API-KEY",
            "host",
            "Transfer-Encoding",
            "a b",
            "",
        ] {
            assert!(!re.is_match(bad).unwrap(), "{bad}");
        }
    }

    #[test]
    fn the_request_path_pattern_refuses_dot_segments() {
        let re = fancy_regex::Regex::new(&request_path_pattern()).unwrap();
        for ok in ["/api/chat", "/v1/...", "/a%20b", "/", "/a/.b"] {
            assert!(re.is_match(ok).unwrap(), "{ok}");
        }
        for bad in ["api", "/a/../b", "/.", "/a/.", "/a?b", "/a%2", "/a b", ""] {
            assert!(!re.is_match(bad).unwrap(), "{bad}");
        }
    }
}
