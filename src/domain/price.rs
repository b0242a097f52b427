//! Model prices (`/prices`, modelgate's extension): what a model's tokens cost, in USD per
//! million tokens of each kind, by `providerId:modelId` or bare model id, as `[prices]` in
//! the config file has them. A price written here wins over the file's for the same name;
//! names match ignoring case, as calls match model ids, and are unique so.

use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::fields::{self, cleared, sent};
use super::provider_fields::check_model_id;
use super::usage::Price;
use super::validation::{at_paths, rule};
use super::{Input, Violations, next_id, schema, version_tag};

/// The most a rate may be, in USD per million tokens.
pub const MAX_RATE_USD: f64 = 1_000_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub id: Ulid,
    /// `providerId:modelId` or a bare model id.
    pub model: String,
    pub rates: Rates,
    pub description: Option<String>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub created_by: String,
    pub last_updated_by: String,
    pub version: u64,
}

/// USD per million tokens of each kind; `input` is the uncached part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

impl ModelPrice {
    pub fn etag(&self) -> String {
        version_tag(self.id, self.version)
    }

    /// The rates as exact nano-dollar amounts (checked when written, so always there).
    pub fn price(&self) -> Price {
        let r = self.rates;
        Price::from_usd(r.input, r.output, r.cache_read, r.cache_write).unwrap_or_default()
    }
}

/// The body of `POST /prices`: a kind left out costs nothing.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"model": "openai:gpt-4o-mini", "input": 0.15, "output": 0.6,
    "cacheRead": 0.075}))]
pub struct CreatePrice {
    #[schema(required = true, schema_with = schema::price_model)]
    #[validate(required(message = "is required"), custom(function = "model_string"))]
    pub model: Option<String>,
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub input: Option<f64>,
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub output: Option<f64>,
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub cache_read: Option<f64>,
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub cache_write: Option<f64>,
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<String>,
}

/// The body of `PATCH /prices/{id}`: omitted keeps; `null` sets a rate to 0 and clears
/// `description`; `model` cannot be cleared.
#[derive(Default, Deserialize, ToSchema, Validate)]
#[serde(rename_all = "camelCase")]
#[validate(schema(function = "update_rules", skip_on_field_errors = false))]
pub struct UpdatePrice {
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::price_model)]
    #[validate(custom(function = "model_string"))]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub input: Option<Option<f64>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub output: Option<Option<f64>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub cache_read: Option<Option<f64>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::rate)]
    #[validate(custom(function = "rate"))]
    pub cache_write: Option<Option<f64>>,
    #[serde(default, deserialize_with = "sent")]
    #[schema(schema_with = schema::description)]
    #[validate(custom(function = "fields::description"))]
    pub description: Option<Option<String>>,
}

fn model_string(s: &str) -> Result<(), ValidationError> {
    rule("model", check_model_id(s))
}

fn rate(usd: f64) -> Result<(), ValidationError> {
    let fits = usd.is_finite() && (0.0..=MAX_RATE_USD).contains(&usd);
    rule(
        "rate",
        fits.then_some(()).ok_or_else(|| {
            "must be a number of USD per million tokens from 0 to 1000000".to_owned()
        }),
    )
}

fn update_rules(input: &UpdatePrice) -> Result<(), ValidationError> {
    at_paths(
        "patch",
        cleared(&[("model", matches!(input.model, Some(None)))]),
    )
}

impl CreatePrice {
    /// Parses a body with the violations its reading found.
    pub fn parse(
        input: impl Into<Input<CreatePrice>>,
        now_ms: u64,
        by: &str,
    ) -> Result<ModelPrice, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        Ok(ModelPrice {
            id: next_id(),
            model: input.model.unwrap_or_default(),
            rates: Rates {
                input: input.input.unwrap_or(0.0),
                output: input.output.unwrap_or(0.0),
                cache_read: input.cache_read.unwrap_or(0.0),
                cache_write: input.cache_write.unwrap_or(0.0),
            },
            description: input.description,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
            created_by: by.to_owned(),
            last_updated_by: by.to_owned(),
            version: 1,
        })
    }
}

/// A parsed PATCH: each field `None` when left out.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PriceChanges {
    pub model: Option<String>,
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub description: Option<Option<String>>,
}

impl PriceChanges {
    pub fn parse(input: impl Into<Input<UpdatePrice>>) -> Result<PriceChanges, Violations> {
        let (input, v) = input.into().checked();
        if !v.is_empty() {
            return Err(v);
        }
        let zero = |r: Option<Option<f64>>| r.map(|r| r.unwrap_or(0.0));
        Ok(PriceChanges {
            model: input.model.flatten(),
            input: zero(input.input),
            output: zero(input.output),
            cache_read: zero(input.cache_read),
            cache_write: zero(input.cache_write),
            description: input.description,
        })
    }

    /// The record after the change, or `None` when it changes nothing.
    pub fn apply(&self, current: &ModelPrice, now_ms: u64, by: &str) -> Option<ModelPrice> {
        let mut next = current.clone();
        if let Some(model) = &self.model {
            next.model.clone_from(model);
        }
        for (rate, change) in [
            (&mut next.rates.input, self.input),
            (&mut next.rates.output, self.output),
            (&mut next.rates.cache_read, self.cache_read),
            (&mut next.rates.cache_write, self.cache_write),
        ] {
            if let Some(value) = change {
                *rate = value;
            }
        }
        if let Some(description) = &self.description {
            next.description.clone_from(description);
        }
        (next != *current).then(|| {
            next.updated_at_ms = now_ms.max(current.updated_at_ms);
            next.last_updated_by = by.to_owned();
            next.version = current.version + 1;
            next
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(body: serde_json::Value) -> Result<ModelPrice, Violations> {
        let input: CreatePrice = serde_json::from_value(body).unwrap();
        CreatePrice::parse(input, 5, "admin")
    }

    #[test]
    fn a_kind_left_out_costs_nothing_and_rates_are_checked() {
        let p = created(serde_json::json!({"model": "box:m", "input": 0.5})).unwrap();
        assert_eq!(
            p.rates,
            Rates {
                input: 0.5,
                ..Rates::default()
            }
        );
        assert_eq!(p.price().input, 500_000_000);
        let bad = created(serde_json::json!({"model": "", "output": -1.0, "cacheRead": 2e6}))
            .unwrap_err();
        let text = format!("{bad:?}");
        for field in ["model", "output", "cacheRead"] {
            assert!(text.contains(field), "{field} in {text}");
        }
    }

    #[test]
    fn a_patch_keeps_what_it_leaves_out_and_null_is_zero() {
        let p = created(serde_json::json!({"model": "m", "input": 1.0, "output": 2.0})).unwrap();
        let change: UpdatePrice =
            serde_json::from_value(serde_json::json!({"input": null})).unwrap();
        let next = PriceChanges::parse(change)
            .unwrap()
            .apply(&p, 9, "k")
            .unwrap();
        assert_eq!((next.rates.input, next.rates.output), (0.0, 2.0));
        assert_eq!((next.version, next.last_updated_by.as_str()), (2, "k"));
        let same: UpdatePrice = serde_json::from_value(serde_json::json!({"output": 2.0})).unwrap();
        assert!(
            PriceChanges::parse(same)
                .unwrap()
                .apply(&p, 9, "k")
                .is_none()
        );
    }
}
