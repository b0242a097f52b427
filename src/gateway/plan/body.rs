//! The request body of a model call: read just enough to route it (`model`, `models`,
//! `stream`), and written back with `model` set to the upstream's id and `models` removed
//! (and, only under `/gateway-config`'s `maxOutputTokens`, its output cap lowered or added).
//! Every other field passes through as the exact bytes the client sent — numbers are never
//! re-formatted, unknown fields never dropped — because only the top level is parsed, into
//! raw slices.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::super::error::{Code, GatewayError};
use crate::domain::gateway_config::{INPUT_FIELDS, OUTPUT_CAP_FIELDS, estimated_tokens};

/// The most fallback models a request may list.
pub const MAX_FALLBACK_MODELS: usize = 16;
/// The longest `model` (and name in `models`), in bytes: the chosen model is answered in the
/// `x-modelgate-model` header and logged, and no model id comes near it.
pub const MAX_MODEL_BYTES: usize = 512;
/// The deepest nesting of arrays and objects a body may have, the top-level object counted
/// (serde_json's own limit for what it parses; the raw values passed through escape it).
pub const MAX_DEPTH: usize = 128;

/// A model call's body, its top-level fields borrowed from the bytes received. Its `models`
/// (ordered fallbacks) is checked and not forwarded.
pub struct CallBody<'a> {
    fields: Vec<(String, &'a RawValue)>,
    pub model: String,
    /// The fallback models, in order, to try when `model` cannot answer.
    pub models: Vec<String>,
    /// Whether the call asks for a stream (`"stream": true`).
    pub stream: bool,
    /// Usage asked of the upstream for the caller, who did not ask (`plan::stream_usage`).
    usage_asked: bool,
    /// The most output tokens the upstream may be asked for, and the field that says so when
    /// the call sends none (`None`: the call's surface has none).
    output_cap: Option<(u32, Option<&'static str>)>,
}

impl<'a> CallBody<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<CallBody<'a>, GatewayError> {
        let fields = Fields::read(bytes).map_err(|e| {
            GatewayError::new(
                Code::InvalidJson,
                format!("the body is not a JSON object: {e}"),
            )
        })?;
        if too_deep(bytes) {
            return Err(GatewayError::new(
                Code::InvalidJson,
                format!("the body nests arrays and objects deeper than {MAX_DEPTH} levels"),
            ));
        }
        let (mut model, mut models, mut stream) = (None, Vec::new(), false);
        for (name, raw) in &fields {
            match name.as_str() {
                "model" if model.is_some() => {
                    return Err(GatewayError::new(
                        Code::InvalidModel,
                        "`model` is given more than once",
                    )
                    .at("model"));
                }
                "model" => {
                    let value: Result<String, _> = serde_json::from_str(raw.get());
                    let fits = |m: &String| !m.is_empty() && m.len() <= MAX_MODEL_BYTES;
                    model = Some(value.ok().filter(fits).ok_or_else(|| {
                        GatewayError::new(
                            Code::InvalidModel,
                            format!(
                                "`model` must be a non-empty string of at most \
                                 {MAX_MODEL_BYTES} bytes: a model id, or providerId:modelId"
                            ),
                        )
                        .at("model")
                    })?);
                }
                "models" => models = fallbacks(raw)?,
                "stream" => stream = raw.get() == "true",
                _ => {}
            }
        }
        let model = model.ok_or_else(|| {
            GatewayError::new(
                Code::MissingModel,
                "`model` is required: a model id, or providerId:modelId",
            )
            .at("model")
        })?;
        Ok(CallBody {
            fields,
            model,
            models,
            stream,
            usage_asked: false,
            output_cap: None,
        })
    }

    /// Refuses a call whose input, estimated from the bytes of the fields that carry it, is
    /// above `most` tokens.
    pub fn check_input_tokens(&self, most: u32) -> Result<(), GatewayError> {
        let estimate = self.input_estimate();
        if estimate <= u64::from(most) {
            return Ok(());
        }
        Err(GatewayError::new(
            Code::InputTokensExceeded,
            format!(
                "the call's input is about {estimate} tokens (the bytes of its messages, \
                 system, input, prompt and tools over 4), above the gateway's maxInputTokens \
                 of {most}"
            ),
        ))
    }

    /// The call's input tokens, estimated from the bytes of the fields that carry it.
    pub fn input_estimate(&self) -> u64 {
        let bytes: usize = self
            .fields
            .iter()
            .filter(|(name, _)| INPUT_FIELDS.contains(&name.as_str()))
            .map(|(_, raw)| raw.get().len())
            .sum();
        estimated_tokens(bytes)
    }

    /// From now on the body sent upstream asks for at most `most` output tokens: a larger
    /// cap sent is lowered, and `field` is added when none is sent.
    pub fn cap_output(&mut self, most: u32, field: Option<&'static str>) {
        self.output_cap = Some((most, field));
    }

    /// Asks an OpenAI-format stream's upstream to report its usage when the caller did not;
    /// answers whether it did (the usage-only chunk is then the gateway's to take out).
    pub fn ask_usage(&mut self) -> bool {
        let sent = self.raw("stream_options");
        self.usage_asked = self.stream && !super::stream_usage::asked(sent);
        self.usage_asked
    }

    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The body for the upstream: `model` replaced by `upstream_model`, `models` left out,
    /// every other field as received.
    pub fn rewritten(&self, upstream_model: &str) -> Vec<u8> {
        let size: usize = self
            .fields
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = Vec::with_capacity(size + upstream_model.len() + 16);
        out.push(b'{');
        let mut first = true;
        let mut capped = false;
        for (name, raw) in &self.fields {
            let value = match (name.as_str(), self.output_cap) {
                ("models", _) => continue,
                ("model", _) => serde_json::to_string(upstream_model).unwrap_or_default(),
                ("stream_options", _) if self.usage_asked => {
                    super::stream_usage::with_usage(Some(raw))
                }
                (field, Some((most, _))) if OUTPUT_CAP_FIELDS.contains(&field) => {
                    capped = true;
                    lowered(raw, most)
                }
                _ => raw.get().to_owned(),
            };
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(serde_json::to_string(name).unwrap_or_default().as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        }
        if self.usage_asked && self.raw("stream_options").is_none() {
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(br#""stream_options":"#);
            out.extend_from_slice(super::stream_usage::with_usage(None).as_bytes());
        }
        if let Some((most, Some(field))) = self.output_cap
            && !capped
        {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(format!("\"{field}\":{most}").as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// An output cap the client sent, at most `most`: a larger number, or `null` (no cap), becomes
/// `most`; anything else goes as sent, for the upstream to refuse.
fn lowered(raw: &RawValue, most: u32) -> String {
    match serde_json::from_str::<Option<f64>>(raw.get()) {
        Ok(Some(n)) if n <= f64::from(most) => raw.get().to_owned(),
        Ok(_) => most.to_string(),
        Err(_) => raw.get().to_owned(),
    }
}

fn fallbacks(raw: &RawValue) -> Result<Vec<String>, GatewayError> {
    let wrong = || {
        GatewayError::new(
            Code::InvalidModels,
            format!(
                "`models` must be an array of at most {MAX_FALLBACK_MODELS} non-empty strings \
                 of at most {MAX_MODEL_BYTES} bytes each (model ids to fall back to, in order)"
            ),
        )
        .at("models")
    };
    let models: Vec<String> = serde_json::from_str(raw.get()).map_err(|_| wrong())?;
    let unfit = |m: &String| m.is_empty() || m.len() > MAX_MODEL_BYTES;
    if models.len() > MAX_FALLBACK_MODELS || models.iter().any(unfit) {
        return Err(wrong());
    }
    Ok(models)
}

/// Whether `json` nests deeper than [`MAX_DEPTH`]. Each level needs an opening bracket, so a
/// body with few of them (every usual call) is cleared by a vectorised count, not a walk.
fn too_deep(json: &[u8]) -> bool {
    memchr::memchr2_iter(b'[', b'{', json).count() > MAX_DEPTH && depth(json) > MAX_DEPTH
}

/// How deeply `json`'s arrays and objects nest, read from its brackets outside strings; run
/// on a body the parser accepted, so its strings are well formed.
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The top-level fields of a JSON object, in order, values as raw slices.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    fn read(bytes: &'a [u8]) -> Result<Vec<(String, &'a RawValue)>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let fields = de.deserialize_map(FieldsVisitor)?;
        de.end()?;
        Ok(fields.0)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value: &'de RawValue = map.next_value()?;
            fields.push((name, value));
        }
        Ok(Fields(fields))
    }
}

impl<'de> de::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields<'de>, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_model_and_models_change_and_everything_else_keeps_its_bytes() {
        let body = br#"{"model":"box:llama3.1:8b","temperature":0.10000000000000000555,"n":12345678901234567890,"messages":[{"role":"user","content":"hi \u00e9"}],"models":["a","b"],"extra":{"x":[1,2]},"stream":true}"#;
        let call = CallBody::parse(body).unwrap();
        assert_eq!(call.model, "box:llama3.1:8b");
        assert_eq!(call.models, ["a", "b"]);
        let out = String::from_utf8(call.rewritten("llama3.1:8b")).unwrap();
        assert_eq!(
            out,
            r#"{"model":"llama3.1:8b","temperature":0.10000000000000000555,"n":12345678901234567890,"messages":[{"role":"user","content":"hi \u00e9"}],"extra":{"x":[1,2]},"stream":true}"#
        );
    }

    #[test]
    fn an_output_cap_lowers_what_is_sent_and_is_added_when_none_is() {
        let body = br#"{"model":"m","max_tokens":5000,"max_completion_tokens":10,"max_output_tokens":null,"x":1}"#;
        let mut call = CallBody::parse(body).unwrap();
        call.cap_output(100, Some("max_tokens"));
        let out = String::from_utf8(call.rewritten("u")).unwrap();
        assert_eq!(
            out,
            r#"{"model":"u","max_tokens":100,"max_completion_tokens":10,"max_output_tokens":100,"x":1}"#
        );
        for (field, want) in [
            (Some("max_tokens"), r#"{"model":"u","n":1,"max_tokens":7}"#),
            (
                Some("max_output_tokens"),
                r#"{"model":"u","n":1,"max_output_tokens":7}"#,
            ),
            (None, r#"{"model":"u","n":1}"#),
        ] {
            let mut call = CallBody::parse(br#"{"model":"m","n":1}"#).unwrap();
            call.cap_output(7, field);
            assert_eq!(String::from_utf8(call.rewritten("u")).unwrap(), want);
        }
        // Without a cap, a cap sent goes as sent.
        let call = CallBody::parse(body).unwrap();
        assert_eq!(
            String::from_utf8(call.rewritten("m")).unwrap(),
            String::from_utf8(body.to_vec()).unwrap()
        );
    }

    #[test]
    fn the_input_estimate_counts_the_input_fields_bytes_only() {
        // `messages` is 12 bytes, `system` 5 (with its quotes), `tools` 2: 19 bytes, 5 tokens.
        let body = br#"{"model":"a-very-long-model-name","messages":[{"a":"bc"}],"system":"abc","tools":[],"temperature":1.25}"#;
        let call = CallBody::parse(body).unwrap();
        assert!(call.check_input_tokens(5).is_ok());
        let err = call.check_input_tokens(4).err().unwrap();
        assert_eq!(err.code.name(), "input_tokens_exceeded");
        assert!(err.message.contains("about 5 tokens"), "{}", err.message);
        let prompt = CallBody::parse(br#"{"model":"m","prompt":"12","input":"3456"}"#).unwrap();
        assert!(prompt.check_input_tokens(3).is_ok());
        assert!(prompt.check_input_tokens(2).is_err());
    }

    #[test]
    fn model_and_models_are_checked() {
        for (body, code) in [
            (&br#"{"messages":[]}"#[..], "missing_model"),
            (br#"{"model":7}"#, "invalid_model"),
            (br#"{"model":""}"#, "invalid_model"),
            (br#"{"model":"a","model":"b"}"#, "invalid_model"),
            (br#"{"model":"a","models":"b"}"#, "invalid_models"),
            (br#"{"model":"a","models":["b",""]}"#, "invalid_models"),
            (br#"[1]"#, "invalid_json"),
            (br#"{"model":"a"} x"#, "invalid_json"),
        ] {
            let err = CallBody::parse(body).err().unwrap();
            assert_eq!(err.code.name(), code, "{}", String::from_utf8_lossy(body));
        }
        let long = "m".repeat(MAX_MODEL_BYTES + 1);
        let err = CallBody::parse(format!(r#"{{"model":"{long}"}}"#).as_bytes()).err();
        let err = err.unwrap();
        assert_eq!(err.code.name(), "invalid_model");
        assert!(err.message.contains("512 bytes"), "{}", err.message);
        let models = format!(r#"{{"model":"a","models":["b","{long}"]}}"#);
        let err = CallBody::parse(models.as_bytes()).err().unwrap();
        assert_eq!(err.code.name(), "invalid_models");
        // 512 bytes, counted as bytes (a two-byte character), pass.
        let most = format!("{}é", "m".repeat(MAX_MODEL_BYTES - 2));
        let fits = format!(r#"{{"model":"{most}","models":["{most}"]}}"#);
        assert_eq!(CallBody::parse(fits.as_bytes()).ok().unwrap().model, most);
        let many = format!(r#"{{"model":"a","models":{:?}}}"#, vec!["m"; 17]);
        assert_eq!(
            CallBody::parse(many.as_bytes()).err().unwrap().code.name(),
            "invalid_models"
        );
    }

    /// `[[[…]]]` nested `levels` deep inside the body's top-level object (which is one level).
    fn nested(levels: usize, open: &str, close: &str) -> String {
        let inner = format!("{}1{}", open.repeat(levels - 1), close.repeat(levels - 1));
        format!(r#"{{"model":"m","messages":{inner}}}"#)
    }

    #[test]
    fn bodies_nested_deeper_than_the_limit_are_refused_and_brackets_in_strings_do_not_count() {
        for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
            let most = nested(MAX_DEPTH, open, close);
            assert!(CallBody::parse(most.as_bytes()).is_ok());
            let deeper = nested(MAX_DEPTH + 1, open, close);
            let err = CallBody::parse(deeper.as_bytes()).err().unwrap();
            assert_eq!(err.code.name(), "invalid_json");
            assert!(
                err.message.contains("deeper than 128 levels"),
                "{}",
                err.message
            );
        }
        let brackets = format!(
            r#"{{"model":"m","text":"{}\"{}","n":[[1]]}}"#,
            "[{".repeat(200),
            "\\\\[".repeat(200)
        );
        assert!(CallBody::parse(brackets.as_bytes()).is_ok());
        assert_eq!(depth(brackets.as_bytes()), 3);
        assert_eq!(depth(br#"{"a":"\\","b":[{}]}"#), 3);
        // The count only clears a body; brackets in strings never make one too deep.
        assert!(!too_deep(brackets.as_bytes()));
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(!too_deep(nested(MAX_DEPTH).as_bytes()));
        assert!(too_deep(nested(MAX_DEPTH + 1).as_bytes()));
    }
}
