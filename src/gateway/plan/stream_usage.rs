//! An OpenAI-format stream asked to report its usage (`stream_options.include_usage`) when
//! its caller did not ask, so that its tokens are counted; the chunk that then carries only
//! the usage is taken out again before the caller sees it (`meter::strip`).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Whether the `stream_options` a caller sent (if any) already asks for usage.
pub fn asked(stream_options: Option<&RawValue>) -> bool {
    stream_options
        .and_then(|raw| serde_json::from_str::<Map<String, Value>>(raw.get()).ok())
        .is_some_and(|o| o.get("include_usage") == Some(&Value::Bool(true)))
}

/// `stream_options` as sent upstream: the caller's (an object; anything else is left for the
/// upstream to refuse) with `include_usage: true`.
pub fn with_usage(stream_options: Option<&RawValue>) -> String {
    let Some(raw) = stream_options else {
        return r#"{"include_usage":true}"#.to_owned();
    };
    match serde_json::from_str::<Map<String, Value>>(raw.get()) {
        Ok(mut options) => {
            options.insert("include_usage".into(), Value::Bool(true));
            Value::Object(options).to_string()
        }
        Err(_) => raw.get().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn the_callers_options_are_kept_with_usage_asked() {
        assert_eq!(with_usage(None), r#"{"include_usage":true}"#);
        let sent = raw(r#"{"include_obfuscation":false,"include_usage":false}"#);
        assert!(!asked(Some(&sent)));
        let v: Value = serde_json::from_str(&with_usage(Some(&sent))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"include_obfuscation": false, "include_usage": true})
        );
        assert!(asked(Some(&raw(r#"{"include_usage":true}"#))));
        // Not an object: the upstream refuses it as it would have.
        assert_eq!(with_usage(Some(&raw("7"))), "7");
    }
}
