//! The gateway's own settings (`/gateway-config`, ngrok's `AIGatewayConfig`): one record per
//! gateway, the body that changes it, and its rules. Its timeouts stand between a provider's
//! own and the config file's; its token caps bound every call.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::schema::Schema;

use super::fields::{check_length, sent};
use super::rules::{GATEWAY_TIMEOUT_SECS, GO_DURATION_PATTERN, MAX_METADATA_CHARS, TOKEN_CAP};
use super::settings::json_schema;
use super::{Input, InputError, Violations, duration};

/// The record as stored. A field never written is `None`: a timeout then falls back to the
/// config file's, and a cap or the metadata reads `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// 0 until the first change; each change adds one.
    pub version: u64,
    pub total_timeout: Option<Duration>,
    pub per_request_timeout: Option<Duration>,
    pub max_input_tokens: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub metadata: Option<String>,
}

/// What a timeout never written stands for: the config file's (or the built-in default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileTimeouts {
    pub total: Duration,
    pub per_request: Duration,
}

impl GatewayConfig {
    /// There is one record, so its version alone tells one apart from another.
    pub fn etag(&self) -> String {
        format!("\"gateway-config-{}\"", self.version)
    }

    pub fn total(&self, file: FileTimeouts) -> Duration {
        self.total_timeout.unwrap_or(file.total)
    }

    pub fn per_request(&self, file: FileTimeouts) -> Duration {
        self.per_request_timeout.unwrap_or(file.per_request)
    }
}

/// A duration as Go writes it.
pub fn go_duration(d: Duration) -> String {
    duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The body of `PATCH /gateway-config`: fields left out keep their value, `null` clears a
/// cap or the metadata (a timeout cannot be cleared: it always has one).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayConfigUpdate)]
#[schema(example = json!({"perRequestTimeout": "30s", "totalTimeout": "2m0s",
                          "maxOutputTokens": 4096, "metadata": null}))]
pub struct UpdateGatewayConfig {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = total_timeout_schema)]
    pub total_timeout: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = per_request_timeout_schema)]
    pub per_request_timeout: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent_cap")]
    #[schema(schema_with = max_input_tokens_schema)]
    pub max_input_tokens: Option<Option<u32>>,
    #[serde(default, deserialize_with = "sent_cap")]
    #[schema(schema_with = max_output_tokens_schema)]
    pub max_output_tokens: Option<Option<u32>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = metadata_schema)]
    pub metadata: Option<Option<String>>,
}

/// A token cap as sent, like `fields::sent_whole` but naming the cap's own range: JSON
/// Schema's integers include `2.0`.
fn sent_cap<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<u32>>, D::Error> {
    use serde::de::Error;
    match Option::<f64>::deserialize(deserializer)? {
        None => Ok(Some(None)),
        Some(n)
            if n.fract() == 0.0
                && (f64::from(TOKEN_CAP.min)..=f64::from(TOKEN_CAP.max)).contains(&n) =>
        {
            Ok(Some(Some(n as u32)))
        }
        Some(_) => Err(D::Error::custom(cap_rule())),
    }
}

fn cap_rule() -> String {
    format!(
        "must be a whole number of tokens from {} to {}, or null for no cap",
        TOKEN_CAP.min, TOKEN_CAP.max
    )
}

/// A change that obeys every rule of the body alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayConfigChanges {
    pub total_timeout: Option<Duration>,
    pub per_request_timeout: Option<Duration>,
    pub max_input_tokens: Option<Option<u32>>,
    pub max_output_tokens: Option<Option<u32>>,
    pub metadata: Option<Option<String>>,
}

const TOTAL: &str = "totalTimeout";
const PER_REQUEST: &str = "perRequestTimeout";

impl GatewayConfigChanges {
    /// Every violation of the body at once, with those its reading found.
    pub fn parse(input: impl Into<Input<UpdateGatewayConfig>>) -> Result<Self, InputError> {
        let Input {
            value,
            mut violations,
        } = input.into();
        let v = &mut violations;
        let total = timeout(v, TOTAL, value.total_timeout);
        let per_request = timeout(v, PER_REQUEST, value.per_request_timeout);
        if let (Some(total), Some(per_request)) = (total, per_request)
            && per_request > total
        {
            v.add(PER_REQUEST, order_rule(total));
        }
        for (field, cap) in [
            ("maxInputTokens", value.max_input_tokens),
            ("maxOutputTokens", value.max_output_tokens),
        ] {
            // Read through `sent_cap` it is in range; a value built otherwise is checked too.
            if let Some(Some(n)) = cap
                && !(TOKEN_CAP.min..=TOKEN_CAP.max).contains(&n)
            {
                v.add(field, cap_rule());
            }
        }
        if let Some(Some(text)) = &value.metadata {
            v.check("metadata", check_length(text, 0, MAX_METADATA_CHARS));
            if text.contains('\0') {
                v.add("metadata", "must not contain NUL characters");
            }
        }
        if !violations.is_empty() {
            return Err(InputError::Invalid(violations));
        }
        Ok(GatewayConfigChanges {
            total_timeout: total,
            per_request_timeout: per_request,
            max_input_tokens: value.max_input_tokens,
            max_output_tokens: value.max_output_tokens,
            metadata: value.metadata,
        })
    }

    /// The record after the change, or `None` when it alters nothing (the ETag then stays).
    /// `perRequestTimeout` may not exceed `totalTimeout`, a field not sent counting with its
    /// current value (the config file's when never written).
    pub fn apply(
        &self,
        current: &GatewayConfig,
        file: FileTimeouts,
    ) -> Result<Option<GatewayConfig>, Violations> {
        let mut next = current.clone();
        if let Some(total) = self.total_timeout {
            next.total_timeout = Some(total);
        }
        if let Some(per_request) = self.per_request_timeout {
            next.per_request_timeout = Some(per_request);
        }
        if let Some(cap) = self.max_input_tokens {
            next.max_input_tokens = cap;
        }
        if let Some(cap) = self.max_output_tokens {
            next.max_output_tokens = cap;
        }
        if let Some(metadata) = &self.metadata {
            next.metadata.clone_from(metadata);
        }
        let (total, per_request) = (next.total(file), next.per_request(file));
        if per_request > total
            && (self.total_timeout.is_some() || self.per_request_timeout.is_some())
        {
            let mut v = Violations::default();
            match self.per_request_timeout {
                Some(_) => v.add(PER_REQUEST, order_rule(total)),
                None => v.add(
                    TOTAL,
                    format!(
                        "must be at least perRequestTimeout ({})",
                        go_duration(per_request)
                    ),
                ),
            }
            return Err(v);
        }
        if next == *current {
            return Ok(None);
        }
        next.version += 1;
        Ok(Some(next))
    }
}

fn order_rule(total: Duration) -> String {
    format!("must be at most totalTimeout ({})", go_duration(total))
}

/// A timeout as sent: a Go duration from 1s to 24h.
fn timeout(v: &mut Violations, field: &str, sent: Option<Option<String>>) -> Option<Duration> {
    let text = match sent? {
        Some(text) => text,
        None => {
            v.add(
                field,
                "cannot be cleared: send a Go duration (such as `30s` or `5m0s`)",
            );
            return None;
        }
    };
    let range = || {
        format!(
            "must be between {} and {}",
            go_duration(Duration::from_secs(GATEWAY_TIMEOUT_SECS.min.into())),
            go_duration(Duration::from_secs(GATEWAY_TIMEOUT_SECS.max.into()))
        )
    };
    let nanos = match duration::parse(&text) {
        Ok(nanos) => nanos,
        Err(why) if why.contains("longer than") => {
            v.add(field, range());
            return None;
        }
        Err(why) => {
            v.add(
                field,
                format!("must be a Go duration (such as `30s`, `5m0s` or `1h2m3.5s`): {why}"),
            );
            return None;
        }
    };
    let secs = |s: u32| i64::from(s) * 1_000_000_000;
    if nanos < secs(GATEWAY_TIMEOUT_SECS.min) || nanos > secs(GATEWAY_TIMEOUT_SECS.max) {
        v.add(field, range());
        return None;
    }
    Some(Duration::from_nanos(nanos as u64))
}

/// The estimate of a call's input tokens from the bytes of the fields that carry its input:
/// one token per four bytes, rounded up (no tokenizer: the estimate must cost nothing).
pub fn estimated_tokens(input_bytes: usize) -> u64 {
    (input_bytes as u64).div_ceil(4)
}

/// The body fields whose bytes count as a call's input.
pub const INPUT_FIELDS: [&str; 5] = ["messages", "system", "input", "prompt", "tools"];

/// The fields that cap a call's output, in any of the formats.
pub const OUTPUT_CAP_FIELDS: [&str; 3] =
    ["max_tokens", "max_completion_tokens", "max_output_tokens"];

fn timeout_schema(what: &str) -> Schema {
    json_schema(json!({
        "type": "string",
        "pattern": GO_DURATION_PATTERN,
        "description": format!(
            "{what} (a Go duration string, such as `30s`, `5m0s` or `1h2m3.5s`), from 1s to \
             24h; `perRequestTimeout` may not exceed `totalTimeout`. Answers write it as Go \
             does (`5m0s`). Never written, it is the config file's."
        ),
    }))
}

pub fn total_timeout_schema() -> Schema {
    timeout_schema("Time for a whole call through the gateway, over every attempt")
}

pub fn per_request_timeout_schema() -> Schema {
    timeout_schema("Time for one upstream attempt, unless the provider sets its own")
}

fn cap_schema(what: &str) -> Schema {
    json_schema(json!({
        "type": ["integer", "null"],
        "minimum": TOKEN_CAP.min,
        "maximum": TOKEN_CAP.max,
        "description": format!("{what}; `null` for no cap (until written, there is none)."),
    }))
}

pub fn max_input_tokens_schema() -> Schema {
    cap_schema(
        "Most input tokens a call may send, estimated as the bytes of its `messages`, \
         `system`, `input`, `prompt` and `tools` over 4; above it a call is refused with 413 \
         `input_tokens_exceeded` before any attempt",
    )
}

pub fn max_output_tokens_schema() -> Schema {
    cap_schema(
        "Most output tokens a call may ask for: a larger `max_tokens`, \
         `max_completion_tokens` or `max_output_tokens` is lowered to it, and a call that \
         sends none is given `max_tokens` (`max_output_tokens` on the Responses API)",
    )
}

pub fn metadata_schema() -> Schema {
    json_schema(json!({
        "type": ["string", "null"],
        "maxLength": MAX_METADATA_CHARS,
        "pattern": super::rules::NO_NUL_PATTERN,
        "description": "Free text for the operator (no NUL); `null` clears it.",
    }))
}

#[cfg(test)]
mod tests;
