//! Bifrost's `send_back_raw_request` / `send_back_raw_response`: a provider that sets them has
//! its successful answers that are not streamed carry, under `extra_fields`, the body the
//! gateway sent upstream (`raw_request`) and the upstream's own answer (`raw_response`) — in
//! the provider's format, before any translation, as Bifrost attaches its providers' native
//! bodies. JSON bodies go in as JSON, anything else as a string. Neither holds a credential:
//! keys and credential headers travel in headers, which are never attached, and both bodies
//! pass the attempt's scrub (the response before it gets here, the request here), so a key
//! an upstream echoes is masked as everywhere else.
//!
//! The answer's fields keep their order; `extra_fields` goes last, merged into one the
//! upstream already sent (a Bifrost upstream). An answer that is not a JSON object, or that
//! is larger than [`MOST_BYTES`], goes back as it came.

use std::fmt;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::scrub::{Chunks, Scrub};
use crate::gateway::table::dialect::Dialect;

/// The most of an answer read to attach to it: far above any chat answer.
const MOST_BYTES: usize = 32 << 20;

/// What an attempt's answer carries back, made only for a provider that asks.
pub(in crate::gateway) struct Raw {
    /// The body sent upstream, scrubbed, when `raw_request` is asked for.
    request: Option<Bytes>,
    response: Response,
}

enum Response {
    None,
    /// The answer's own bytes are the upstream's (a call not translated).
    Answer,
    /// A translated answer: the upstream's bytes, before translation.
    Kept(Bytes),
}

impl Raw {
    /// What `dialect` asks to be sent back of an attempt that sent `body`; `None` when
    /// nothing is, which is every provider without Bifrost's flags.
    pub(super) fn wanted(dialect: Option<&Dialect>, body: &[u8], scrub: &Scrub) -> Option<Raw> {
        let dialect = dialect.filter(|d| d.sends_back())?;
        Some(Raw {
            request: dialect
                .raw_request
                .then(|| Bytes::from(scrub.bytes(body.to_vec()))),
            response: match dialect.raw_response {
                true => Response::Answer,
                false => Response::None,
            },
        })
    }

    /// A translated answer's upstream bytes, kept for `raw_response`.
    pub(super) fn keep_upstream(&mut self, upstream: &Bytes) {
        if matches!(self.response, Response::Answer) {
            self.response = Response::Kept(upstream.clone());
        }
    }

    /// The caller's body with `extra_fields` attached, once it has been read whole.
    pub(in crate::gateway) fn attach(self, body: Chunks) -> Chunks {
        let read_whole = async move {
            let mut body = body;
            let mut read = Vec::new();
            let held = |read: Vec<u8>| stream::once(async move { Ok(Bytes::from(read)) });
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        read.extend_from_slice(&chunk);
                        // Too large to hold: what was read goes on as it came, the rest after.
                        if read.len() > MOST_BYTES {
                            return held(read).chain(body).boxed();
                        }
                    }
                    Some(Err(e)) => {
                        return held(read).chain(stream::once(async { Err(e) })).boxed();
                    }
                    None => return held(self.attached(read)).boxed(),
                }
            }
        };
        stream::once(read_whole).flatten().boxed()
    }

    fn attached(self, answer: Vec<u8>) -> Vec<u8> {
        let Ok(Fields(mut fields)) = serde_json::from_slice::<Fields>(&answer) else {
            return answer;
        };
        let response = match &self.response {
            Response::None => None,
            Response::Answer => Some(as_json(&answer)),
            Response::Kept(upstream) => Some(as_json(upstream)),
        };
        let request = self.request.as_deref().map(as_json);
        let mut extra: Vec<(String, Box<RawValue>)> = match fields
            .iter()
            .position(|(name, _)| name == "extra_fields")
            .map(|at| fields.remove(at).1)
        {
            Some(held) => match serde_json::from_str::<Fields>(held.get()) {
                Ok(Fields(held)) => held,
                // Not an object: Bifrost's own takes its place.
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        };
        for (name, value) in [("raw_request", request), ("raw_response", response)] {
            if let Some(value) = value {
                extra.retain(|(n, _)| n != name);
                extra.push((name.to_owned(), value));
            }
        }
        let mut out = Vec::with_capacity(answer.len() * 3 + 64);
        out.push(b'{');
        let extra = object(&extra);
        let all = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.get()))
            .chain([("extra_fields", extra.as_str())]);
        for (i, (name, value)) in all.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(json_string(name).as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'}');
        out
    }
}

/// `bytes` as a JSON value: themselves when they are JSON, else a string of their text.
fn as_json(bytes: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(bytes);
    RawValue::from_string(text.trim().to_owned())
        .or_else(|_| RawValue::from_string(json_string(&text)))
        .unwrap_or_else(|_| RawValue::from_string("null".into()).expect("null is JSON"))
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn object(fields: &[(String, Box<RawValue>)]) -> String {
    let inner: Vec<String> = fields
        .iter()
        .map(|(n, v)| format!("{}:{}", json_string(n), v.get()))
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A JSON object's members in their order, each value as it was written.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut all = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    all.push((name, value));
                }
                Ok(Fields(all))
            }
        }
        d.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn raw(request: Option<&str>, response: bool) -> Raw {
        Raw {
            request: request.map(|r| Bytes::from(r.to_owned())),
            response: match response {
                true => Response::Answer,
                false => Response::None,
            },
        }
    }

    #[test]
    fn extra_fields_go_last_and_the_answer_keeps_its_order() {
        let answer = br#"{"id":"c1","object":"chat.completion","choices":[]}"#.to_vec();
        let out = raw(Some(r#"{"model":"m"}"#), true).attached(answer.clone());
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(r#"{"id":"c1","object":"chat.completion","choices":[]"#));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["extra_fields"]["raw_request"], json!({"model": "m"}));
        let upstream: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(v["extra_fields"]["raw_response"], upstream);
    }

    #[test]
    fn an_upstream_s_own_extra_fields_are_merged_and_odd_bodies_pass() {
        let answer = br#"{"a":1,"extra_fields":{"latency":3,"raw_request":"old"}}"#.to_vec();
        let v: Value =
            serde_json::from_slice(&raw(Some("not json"), false).attached(answer)).expect("JSON");
        assert_eq!(
            v["extra_fields"],
            json!({"latency": 3, "raw_request": "not json"})
        );
        assert_eq!(raw(Some("{}"), true).attached(b"[1]".to_vec()), b"[1]");
        assert_eq!(raw(None, true).attached(b"oops".to_vec()), b"oops");
    }

    #[test]
    fn a_translated_answer_carries_the_upstream_s_bytes() {
        let mut r = raw(None, true);
        r.keep_upstream(&Bytes::from_static(br#"{"native":true}"#));
        let v: Value = serde_json::from_slice(&r.attached(br#"{"caller":1}"#.to_vec())).unwrap();
        assert_eq!(
            v,
            json!({"caller": 1, "extra_fields": {"raw_response": {"native": true}}})
        );
    }
}
