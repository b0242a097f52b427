//! The schemas of model prices (`/prices`).

use utoipa::openapi::Object;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use super::string;
use crate::domain::price::MAX_RATE_USD;
use crate::domain::rules::{MAX_TEXT_CHARS, model_id_pattern};

pub fn price_model() -> Object {
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(model_id_pattern()))
        .description(Some(
            "What the price is for: `providerId:modelId`, or a bare model id for that model at \
             any provider (a qualified price wins). Matched ignoring case, and unique so.",
        ))
        .build()
}

pub fn rate() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Number, Type::Null]))
        .minimum(Some(0.0))
        .maximum(Some(MAX_RATE_USD))
        .description(Some(
            "USD per million tokens of this kind; left out or `null`, 0.",
        ))
        .build()
}
