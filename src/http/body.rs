//! Reading JSON request bodies with the errors this API promises: 415 for a body that is not
//! JSON, 413 past the limit, `invalid_json` with line and column, `unknown_field` naming every
//! unknown field, and type errors keyed by the field's path.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, mime, web};
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use super::error::ApiError;
use crate::domain::wire::MapOnly;

/// The largest request body accepted, in bytes (`server.max_body_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(1024 * 1024)
    }
}

/// How long a client may take to send its whole body (`server.body_timeout_ms`): a body that
/// trickles in a byte at a time would otherwise hold its connection and handler forever.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub std::time::Duration);

impl Default for BodyTimeout {
    fn default() -> Self {
        BodyTimeout(std::time::Duration::from_secs(30))
    }
}

/// What a request without a body means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    Refuse,
    /// PATCH: no body changes nothing, like `{}`.
    NoChange,
}

pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    empty: Empty,
) -> Result<T, ApiError> {
    let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let timeout = req.app_data::<BodyTimeout>().copied().unwrap_or_default().0;
    let Ok(read) = tokio::time::timeout(timeout, payload.to_bytes_limited(limit)).await else {
        return Err(ApiError::RequestTimeout {
            ms: timeout.as_millis() as u64,
        });
    };
    let bytes = match read {
        Err(_) => return Err(ApiError::PayloadTooLarge { limit }),
        Ok(Err(e)) => {
            return Err(ApiError::InvalidJson {
                reason: format!("the body could not be read ({e})"),
                line: None,
                column: None,
            });
        }
        Ok(Ok(bytes)) => bytes,
    };
    if bytes.is_empty() && empty == Empty::NoChange {
        return parse(b"{}");
    }
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let parsed = parse(&bytes);
    // Bodies can carry provider-key values: wipe the buffer when no one else holds it.
    if let Ok(mut buffer) = bytes.try_into_mut() {
        buffer.as_mut().zeroize();
    }
    parsed
}

fn is_json(req: &HttpRequest) -> bool {
    match req.mime_type() {
        Ok(Some(mime)) => {
            mime.type_() == mime::APPLICATION
                && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        }
        _ => false,
    }
}

/// Parses `bytes` as `T`, collecting every field `T` does not know instead of silently dropping
/// them (the API's schemas say `additionalProperties: false`).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = {
        let mut note = |path: serde_ignored::Path<'_>| unknown.push(render_ignored(&path));
        let tracked = serde_ignored::Deserializer::new(&mut de, &mut note);
        serde_path_to_error::deserialize(MapOnly(tracked))
    };
    let value = match result {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            return Err(match inner.classify() {
                serde_json::error::Category::Data if !unknown.is_empty() => {
                    ApiError::UnknownField(unknown)
                }
                serde_json::error::Category::Data => type_error(&path, &inner),
                _ => invalid_json(&inner),
            });
        }
    };
    de.end().map_err(|e| invalid_json(&e))?;
    if !unknown.is_empty() {
        return Err(ApiError::UnknownField(unknown));
    }
    Ok(value)
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::InvalidJson {
        reason: e.to_string(),
        line: Some(e.line()),
        column: Some(e.column()),
    }
}

/// serde's messages quote the offending value (``invalid type: string "abc", expected …``);
/// only the expectation is kept, so no submitted value, secret or not, is echoed back.
fn type_error(path: &str, e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    let expectation = text.split_once(", expected ").map_or_else(
        || text.to_owned(),
        // serde names the Rust type it wanted (`struct UpdateProvider`); the client knows it
        // as an object.
        |(_, expected)| match expected.starts_with("struct ") {
            true => "must be a JSON object".to_owned(),
            false => format!("must be {expected}"),
        },
    );
    if path == "." {
        ApiError::validation("body", format!("request body {expectation}"))
    } else {
        ApiError::validation(path, expectation)
    }
}

fn render_ignored(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_ignored(parent)),
        Path::Map { parent, key } => match render_ignored(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_ignored(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreateProvider, UpdateProvider};

    fn details(e: ApiError) -> Vec<(String, String)> {
        match e {
            ApiError::Validation(d) => d.into_iter().collect(),
            ApiError::UnknownField(p) => p.into_iter().map(|p| (p, String::new())).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_unknown_field_is_named_with_its_path() {
        let err = parse::<CreateProvider>(
            br#"{"providerId":"a","extra":1,"models":[{"modelId":"m"},{"modelId":"n","x":2}]}"#,
        )
        .unwrap_err();
        let names: Vec<_> = details(err).into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["extra", "models[1].x"]);
    }

    #[test]
    fn a_wrong_type_is_reported_at_its_path_without_echoing_the_value() {
        let err = parse::<CreateProvider>(
            br#"{"models":[{"modelId":"ok"},{"modelId":"sekrit-42" , "a":1}, {"modelId": 12345}]}"#,
        );
        // The unknown field wins over the later type error: both are the client's to fix,
        // and unknown fields are listed all at once.
        assert!(matches!(err, Err(ApiError::UnknownField(_))));
        let err = parse::<UpdateProvider>(br#"{"name": 98765}"#).unwrap_err();
        let d = details(err);
        assert_eq!(d[0].0, "name");
        assert!(!d[0].1.contains("98765"), "{}", d[0].1);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        match parse::<CreateProvider>(b"{\n  \"name\": ,\n}") {
            Err(ApiError::InvalidJson { line, column, .. }) => {
                assert_eq!((line, column), (Some(2), Some(11)));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse::<CreateProvider>(b"{} trailing"),
            Err(ApiError::InvalidJson { .. })
        ));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_validation_error_on_the_body() {
        for body in [
            &b"[\"my-id\",\"name\",\"http://x\"]"[..],
            b"\"x\"",
            b"null",
            b"1",
        ] {
            let d = details(parse::<CreateProvider>(body).unwrap_err());
            assert_eq!(d[0].0, "body");
        }
        let nested = br#"{"providerId":"a","name":"n","baseUrl":"http://x","models":[["m"]]}"#;
        assert_eq!(
            details(parse::<CreateProvider>(nested).unwrap_err())[0].0,
            "models[0]"
        );
    }
}
