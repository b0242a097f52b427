//! Reading request bodies with the errors this API promises: 415 for a body that is not JSON
//! (or is encoded other than with gzip), 413 past the limit, 408 for a body that trickles, and
//! then `http::json` for what is inside.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, mime, web};
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use super::error::ApiError;
pub use super::json::parse;
use crate::domain::Input;

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

/// Reads the body as `T`: 413 past the limit (counted after decoding a gzip body), 408 when
/// it trickles in too slowly, 415 for a body that is not declared JSON or is encoded other than
/// with gzip, and everything wrong inside the JSON as [`Input::violations`].
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    empty: Empty,
) -> Result<Input<T>, ApiError> {
    let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
    let coding = content_coding(req)?;
    let bytes = read_bytes(req, payload, limit).await?;
    if bytes.is_empty() && empty == Empty::NoChange {
        return parse(b"{}");
    }
    if !is_json(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let parsed = match coding {
        Coding::Identity => parse(&bytes),
        Coding::Gzip => gunzip(&bytes, limit).and_then(|mut plain| {
            let parsed = parse(&plain);
            plain.zeroize();
            parsed
        }),
    };
    // Bodies can carry provider-key values: wipe the buffer when no one else holds it.
    if let Ok(mut buffer) = bytes.try_into_mut() {
        buffer.as_mut().zeroize();
    }
    parsed
}

/// The whole body, up to `limit` bytes and within the body timeout: 413 past the limit (by
/// `Content-Length` at once), 408 when it trickles in too slowly.
pub async fn read_bytes(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
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
    match read {
        Err(_) => Err(ApiError::PayloadTooLarge { limit }),
        Ok(Err(e)) => Err(ApiError::InvalidJson {
            reason: format!("the body could not be read ({e})"),
            line: None,
            column: None,
        }),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

enum Coding {
    Identity,
    Gzip,
}

/// `Content-Encoding` of the body: none (or `identity`), or `gzip`; anything else is a 415.
fn content_coding(req: &HttpRequest) -> Result<Coding, ApiError> {
    let mut codings = req
        .headers()
        .get_all(header::CONTENT_ENCODING)
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity");
    match (codings.next().as_deref(), codings.next()) {
        (None, _) => Ok(Coding::Identity),
        (Some("gzip" | "x-gzip"), None) => Ok(Coding::Gzip),
        _ => Err(ApiError::UnsupportedEncoding),
    }
}

/// Decodes a gzip body, stopping one byte past `limit` so that a small body that inflates
/// without end (a zip bomb) costs no more memory than a plain one.
fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| ApiError::InvalidJson {
            reason: format!("the gzip body could not be decoded ({e})"),
            line: None,
            column: None,
        })?;
    if plain.len() > limit {
        plain.zeroize();
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(plain)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreateProvider, UpdateProvider};

    fn details<T: DeserializeOwned>(body: &[u8]) -> Vec<(String, String)> {
        match parse::<T>(body) {
            Ok(parsed) => parsed.violations.to_map().into_iter().collect(),
            Err(ApiError::Validation(v)) => v.to_map().into_iter().collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_unknown_field_is_named_with_its_path() {
        let d = details::<CreateProvider>(
            br#"{"providerId":"a","extra":1,"models":[{"modelId":"m"},{"modelId":"n","x":2}]}"#,
        );
        let names: Vec<_> = d.into_iter().map(|(p, _)| p).collect();
        assert_eq!(names, ["extra", "models[1].x"]);
    }

    #[test]
    fn wrong_types_unknown_and_repeated_fields_are_reported_together_without_values() {
        let d = details::<CreateProvider>(
            br#"{"name": 2, "name": 3, "models":[{"modelId":"ok"},{"modelId":"sekrit-42" , "a":1}, {"modelId": 12345}, ["m"]], "extra": true}"#,
        );
        let paths: Vec<_> = d.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "extra",
                "models[1].a",
                "models[2].modelId",
                "models[3]",
                "name"
            ]
        );
        assert!(
            d.iter()
                .all(|(_, m)| !m.contains("12345") && !m.contains("sekrit"))
        );
        let name = &d.iter().find(|(p, _)| p == "name").unwrap().1;
        assert!(name.contains("more than once"), "{name}");
        let d = details::<UpdateProvider>(br#"{"name": 98765}"#);
        assert_eq!(d[0].0, "name");
        assert!(!d[0].1.contains("98765"), "{}", d[0].1);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        match parse::<CreateProvider>(b"{\n  \"name\": ,\n}") {
            Err(ApiError::InvalidJson { line, column, .. }) => {
                assert_eq!((line, column), (Some(2), Some(11)));
            }
            other => panic!("unexpected {:?}", other.err()),
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
            let d = details::<CreateProvider>(body);
            assert_eq!(d[0].0, "body");
        }
        let nested = br#"{"providerId":"a","name":"n","baseUrl":"http://x","models":[["m"]]}"#;
        assert_eq!(details::<CreateProvider>(nested)[0].0, "models[0]");
    }

    #[test]
    fn a_gzip_body_is_decoded_within_the_limit_and_a_bomb_is_refused() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(gunzip(&gz(b"{\"a\":1}"), 100).unwrap(), b"{\"a\":1}");
        let bomb = gz(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(ApiError::PayloadTooLarge { .. })
        ));
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(ApiError::InvalidJson { .. })
        ));
    }
}
