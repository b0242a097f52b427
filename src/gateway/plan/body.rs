//! The request body of a model call: read just enough to route it (`model`, `models`,
//! `stream`), and written back with `model` set to the upstream's id and `models` removed.
//! Every other field passes through as the exact bytes the client sent — numbers are never
//! re-formatted, unknown fields never dropped — because only the top level is parsed, into
//! raw slices.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::super::error::{Code, GatewayError};

/// The most fallback models a request may list.
pub const MAX_FALLBACK_MODELS: usize = 16;

/// A model call's body, its top-level fields borrowed from the bytes received. Its `models`
/// (ordered fallbacks) is checked and not forwarded.
pub struct CallBody<'a> {
    fields: Vec<(String, &'a RawValue)>,
    pub model: String,
    /// The fallback models, in order, to try when `model` cannot answer.
    pub models: Vec<String>,
}

impl<'a> CallBody<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<CallBody<'a>, GatewayError> {
        let fields = Fields::read(bytes).map_err(|e| {
            GatewayError::new(
                Code::InvalidJson,
                format!("the body is not a JSON object: {e}"),
            )
        })?;
        let (mut model, mut models) = (None, Vec::new());
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
                    model = Some(value.ok().filter(|m| !m.is_empty()).ok_or_else(|| {
                        GatewayError::new(
                            Code::InvalidModel,
                            "`model` must be a non-empty string: a model id, or providerId:modelId",
                        )
                        .at("model")
                    })?);
                }
                "models" => models = fallbacks(raw)?,
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
        })
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
        for (name, raw) in &self.fields {
            let value = match name.as_str() {
                "models" => continue,
                "model" => serde_json::to_string(upstream_model).unwrap_or_default(),
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
        out.push(b'}');
        out
    }
}

fn fallbacks(raw: &RawValue) -> Result<Vec<String>, GatewayError> {
    let wrong = || {
        GatewayError::new(
            Code::InvalidModels,
            format!(
                "`models` must be an array of at most {MAX_FALLBACK_MODELS} non-empty strings \
                 (model ids to fall back to, in order)"
            ),
        )
        .at("models")
    };
    let models: Vec<String> = serde_json::from_str(raw.get()).map_err(|_| wrong())?;
    if models.len() > MAX_FALLBACK_MODELS || models.iter().any(String::is_empty) {
        return Err(wrong());
    }
    Ok(models)
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
        let many = format!(r#"{{"model":"a","models":{:?}}}"#, vec!["m"; 17]);
        assert_eq!(
            CallBody::parse(many.as_bytes()).err().unwrap().code.name(),
            "invalid_models"
        );
    }
}
