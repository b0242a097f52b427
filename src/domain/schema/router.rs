//! An access key configuration's `router` as a write sends it (ngrok's `RouterWrite`, with
//! modelgate's strategies and `weight`).

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Array, Object};

use super::{ULID_PATTERN, closed_object, key_value, name, provider_entry_pattern, string};
use crate::domain::rules::{
    MAX_ROUTER_RULES, MAX_ROUTER_STEPS, MAX_STEP_KEYS, MAX_TEXT_CHARS, STEP_KEY_WEIGHT,
};

fn array_of(item: Object, min: usize, max: usize) -> Array {
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(min))
        .max_items(Some(max))
        .build()
}

/// ngrok's `RouterWrite`.
pub fn router() -> Object {
    let key = closed_object()
        .property(
            "id",
            string(26, 26)
                .pattern(Some(ULID_PATTERN))
                .description(Some("An existing provider key of the rule's provider.")),
        )
        .property("name", name())
        .property("value", key_value())
        .property(
            "weight",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(f64::from(STEP_KEY_WEIGHT.min)))
                .maximum(Some(f64::from(STEP_KEY_WEIGHT.max)))
                .description(Some(
                    "modelgate's: the key's share under `weighted` (and only there).",
                )),
        )
        .description(Some(
            "`{id}` of a provider key of the rule's provider, or `{name, value}`: a new \
             provider key of that provider, created with the configuration (the value is \
             write-only).",
        ))
        .build();
    let step = closed_object()
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["user"])),
        )
        .required("type")
        .property("keys", array_of(key, 1, MAX_STEP_KEYS))
        .required("keys")
        .property(
            "keySelectionStrategy",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["ordered", "round-robin", "weighted"]))
                .description(Some(
                    "`ordered` (the default): keys in their order; modelgate's `round-robin` \
                     (the first key moves on each call) and `weighted` (by each key's \
                     `weight`); the others follow as fallbacks.",
                )),
        )
        .build();
    let rule = closed_object()
        .property(
            "provider",
            string(1, MAX_TEXT_CHARS).pattern(Some(provider_entry_pattern())),
        )
        .property(
            "model",
            string(3, MAX_TEXT_CHARS).description(Some(
                "`providerId:modelId`, the model id matched ignoring case; beats a provider \
                 rule for the same provider.",
            )),
        )
        .property("steps", array_of(step, 1, MAX_ROUTER_STEPS))
        .required("steps")
        .build();
    closed_object()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .property(
            "rules",
            ArrayBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
                .items(rule)
                .max_items(Some(MAX_ROUTER_RULES))
                .description(Some("`null`, as leaving it out: no rules.")),
        )
        .description(Some(
            "Which provider keys calls under this configuration use: per provider (at most one \
             rule each) or per model, ordered steps of keys. A provider without a rule uses \
             its own keys. `null` (in a PATCH): no rules.",
        ))
        .build()
}
