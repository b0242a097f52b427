//! The field rules of this module's parsers, written as JSON Schema for the OpenAPI document.
//!
//! Each schema here admits exactly what its parser admits: schemathesis sends data drawn from
//! these schemas and requires the schema-valid to be accepted and the rest refused, and the
//! tests at the bottom compare each pattern with its parser on generated strings. The numbers
//! come from the same constants the parsers use.
//!
//! Patterns spell out character classes instead of `\s`, because `\s` means different things
//! to Rust, Python and ECMAScript, and the three all read this document.

use serde_json::{Value, json};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Array, Object, RefOr};

use super::catalog::{API_FORMATS, reserved_provider_ids};
use super::rules::{
    MAX_BASE_URL_CHARS, MAX_KEY_VALUE_CHARS, MAX_METADATA_CHARS, MAX_MODELS,
    MAX_PARAMS_PER_SURFACE, MAX_SURFACES, MAX_TEXT_CHARS,
};
pub use super::rules::{
    NO_NUL_PATTERN, PROVIDER_SLUG_PATTERN, ULID_PATTERN, base_url_pattern, key_value_pattern,
    model_id_pattern, name_pattern, no_control_pattern, trimmed_text_pattern,
};
pub use super::settings::network::schema as network;
pub use super::settings::proxy::schema as proxy;
pub use super::settings::{
    allow_private_network, buffer_size, concurrency, keyless, request_path_overrides,
};
pub use access::{access, access_key_configuration_id, expires_at, provider_entry_pattern};
pub use alias::{alias_fallbacks, alias_target, model_alias};
pub use price::{price_model, rate};
pub use router::router;

mod access;
mod alias;
mod price;
mod router;

fn string(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
}

fn nullable(builder: ObjectBuilder) -> ObjectBuilder {
    builder.schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
}

/// Keywords of JSON Schema 2020-12 that utoipa's model has no field for. They serialize flat
/// beside the others, which is where JSON Schema reads them.
fn keywords(pairs: Value) -> Option<Extensions> {
    let Value::Object(map) = pairs else {
        unreachable!("keywords are given as a JSON object")
    };
    Some(map.into_iter().collect())
}

fn closed_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
}

pub fn provider_id() -> Object {
    let reserved = reserved_provider_ids()
        .collect::<Vec<_>>()
        .join("|")
        .replace('.', "\\.");
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(format!("^(?!(?:{reserved})$)[a-z0-9][a-z0-9._-]*$")))
        .description(Some(format!(
            "Address segment of model strings (`providerId:modelId`). Lowercase letters, digits, \
             `.`, `_`, `-`, starting with a letter or digit; not a built-in catalog id ({}).",
            reserved_provider_ids().collect::<Vec<_>>().join(", ")
        )))
        .build()
}

/// A provider key names its provider: a custom one or a catalog id.
pub fn key_provider_id() -> Object {
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(PROVIDER_SLUG_PATTERN))
        .description(Some(
            "A registered provider's `providerId`, or a built-in catalog id.",
        ))
        .build()
}

pub fn name() -> Object {
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(name_pattern()))
        .description(Some(
            "Display name: no control characters, and not blank (at least one character that \
             is neither white space nor invisible, such as U+200B).",
        ))
        .build()
}

/// [`name`] where it may be cleared with `null`.
pub fn optional_name() -> Object {
    nullable(string(1, MAX_TEXT_CHARS))
        .pattern(Some(name_pattern()))
        .description(Some(
            "Display name: no control characters, and not blank; `null` clears it.",
        ))
        .build()
}

/// A provider key's `models` (Bifrost's): model ids it may serve, none twice in any case;
/// `null` is the same as leaving it out (every model), on a create as on a PATCH.
pub fn key_models() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(
            string(1, MAX_TEXT_CHARS)
                .pattern(Some(trimmed_text_pattern()))
                .build(),
        )
        .max_items(Some(MAX_MODELS))
        .unique_items(true)
        .description(Some(
            "Bifrost's: the model ids the key may serve (matched ignoring case; each at most \
             once in any case, no control characters, no white space at either end). Left out, \
             `null` or `[]`: every model.",
        ))
        .build()
}

pub fn base_url() -> Object {
    string(1, MAX_BASE_URL_CHARS)
        .pattern(Some(base_url_pattern()))
        .description(Some(
            "Absolute http(s) URL without credentials or fragment: a DNS host name (labels \
             of letters, digits, `-` and `_`, as Docker service names have; an international \
             one in its ASCII `xn--` form, whose labels must also be valid punycode, which \
             this pattern cannot check), an IPv4 or bracketed IPv6 address, optional port, \
             path and query.",
        ))
        .build()
}

pub fn metadata() -> Object {
    nullable(string(0, MAX_METADATA_CHARS))
        .pattern(Some(NO_NUL_PATTERN))
        .description(Some(
            "Free text for the operator (no NUL); `null` clears it.",
        ))
        .build()
}

pub fn description() -> Object {
    nullable(string(0, MAX_TEXT_CHARS))
        .pattern(Some(no_control_pattern()))
        .description(Some("One line of text, without control characters."))
        .build()
}

pub fn key_value() -> Object {
    string(1, MAX_KEY_VALUE_CHARS)
        .pattern(Some(key_value_pattern()))
        .write_only(Some(true))
        .description(Some(
            "The secret, stored encrypted and never returned; or `env.NAME` to read it from the \
             environment variable NAME when used.",
        ))
        .build()
}

fn const_of(value: Option<&str>) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .enum_values(Some([value.map_or(Value::Null, Value::from)]))
        .build()
}

/// One `{format, surface}` pair as `contains` matches it: a missing surface counts as `null`.
fn pair(format: &str, surface: Option<&str>) -> Value {
    let mut required = vec!["format"];
    if surface.is_some() {
        required.push("surface");
    }
    json!({
        "properties": {"format": {"const": format}, "surface": {"const": surface}},
        "required": required,
    })
}

pub fn surfaces() -> Array {
    let formats = API_FORMATS.iter().map(|f| f.name);
    let all_surfaces: Vec<Value> = std::iter::once(Value::Null)
        .chain(
            API_FORMATS
                .iter()
                .flat_map(|f| f.surfaces.iter().map(|s| json!(s))),
        )
        .collect();
    let param = closed_object()
        .property("name", string(1, MAX_TEXT_CHARS))
        .required("name")
        .build();
    let params = ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(param)
        .max_items(Some(MAX_PARAMS_PER_SURFACE))
        .unique_items(true)
        .description(Some(
            "Request parameters the surface accepts; names are unique.",
        ));
    // Which surfaces a format has: one alternative per format.
    let per_format = API_FORMATS.iter().fold(AnyOfBuilder::new(), |any, f| {
        let surfaces = std::iter::once(None).chain(f.surfaces.iter().map(|s| Some(*s)));
        any.item(
            ObjectBuilder::new()
                .property("format", const_of(Some(f.name)))
                .property(
                    "surface",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::AnyValue)
                        .enum_values(Some(surfaces.map(|s| s.map_or(Value::Null, Value::from)))),
                ),
        )
    });
    let item = closed_object()
        .property(
            "format",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(formats)),
        )
        .property(
            "surface",
            ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                .enum_values(Some(all_surfaces)),
        )
        .property("supportedParams", params)
        .required("format")
        .build();
    // Each (format, surface) pair at most once: JSON Schema's `uniqueItems` compares whole
    // items, so it is said with `contains` per pair.
    let once: Vec<Value> = API_FORMATS
        .iter()
        .flat_map(|f| {
            std::iter::once(None)
                .chain(f.surfaces.iter().map(|s| Some(*s)))
                .map(|s| json!({"contains": pair(f.name, s), "minContains": 0, "maxContains": 1}))
        })
        .collect();
    let item = Schema::AllOf(
        utoipa::openapi::schema::AllOfBuilder::new()
            .item(item)
            .item(per_format)
            .build(),
    );
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(RefOr::T(item))
        .max_items(Some(MAX_SURFACES))
        .description(Some(
            "API formats and surfaces the provider speaks; each format and surface pair once. \
             `null` or `[]` means none.",
        ))
        .extensions(keywords(json!({ "allOf": once })))
        .build()
}

pub fn models() -> Array {
    let model = closed_object()
        .property(
            "modelId",
            string(1, MAX_TEXT_CHARS).pattern(Some(model_id_pattern())),
        )
        .required("modelId")
        .build();
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(model)
        .max_items(Some(MAX_MODELS))
        .unique_items(true)
        .description(Some(
            "Models served, by id without white space; ids are unique within a provider. \
             `null` or `[]` means none.",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::super::fields::{check_name, description, metadata};
    use super::super::parse_id;
    use super::*;

    /// Strings with the characters the rules treat specially, mixed with anything.
    fn tricky() -> impl Strategy<Value = String> {
        let special = prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\u{0B}', '\u{0C}', '\u{85}', '\u{A0}', '\u{1680}', '\u{2000}',
            '\u{200A}', '\u{200B}', '\u{2028}', '\u{202F}', '\u{3000}', '\u{0}', '\u{1F}',
            '\u{7F}', '\u{9F}', '\u{1C}', '\u{1B}', '\u{FEFF}', '\u{200D}', '\u{2060}', '\u{AD}',
            'a', 'Z', '0', '.', '_', '-', 'é', '😀',
        ]);
        let any = any::<char>();
        prop::collection::vec(prop_oneof![special, any], 0..12)
            .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn the_name_pattern_admits_what_the_name_rule_admits(s in tricky()) {
            let re = Regex::new(&name_pattern()).unwrap();
            let by_schema = (1..=MAX_TEXT_CHARS).contains(&s.chars().count()) && re.is_match(&s);
            prop_assert_eq!(by_schema, check_name(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_description_and_metadata_patterns_admit_what_their_rules_admit(s in tricky()) {
            let line = Regex::new(&no_control_pattern()).unwrap();
            prop_assert_eq!(line.is_match(&s), description(&s).is_ok(), "{:?}", s);
            let free = Regex::new(NO_NUL_PATTERN).unwrap();
            prop_assert_eq!(free.is_match(&s), metadata(&s).is_ok(), "{:?}", s);
        }

        #[test]
        fn the_key_models_pattern_admits_what_the_models_rule_admits(s in tricky()) {
            let re = Regex::new(&trimmed_text_pattern()).unwrap();
            let by_schema = (1..=MAX_TEXT_CHARS).contains(&s.chars().count()) && re.is_match(&s);
            let by_rule = crate::domain::key_routing::check_models(vec![s.clone()]).is_ok();
            prop_assert_eq!(by_schema, by_rule, "{:?}", s);
        }

        #[test]
        fn the_id_pattern_admits_exactly_the_one_spelling_of_each_id(
            s in "[0-9A-Za-z]{25,27}", id in any::<u128>()
        ) {
            let re = Regex::new(ULID_PATTERN).unwrap();
            prop_assert_eq!(re.is_match(&s), parse_id(&s).is_some(), "{:?}", s);
            let spelled = ulid::Ulid(id).to_string();
            prop_assert_eq!(parse_id(&spelled), Some(ulid::Ulid(id)));
            prop_assert!(parse_id(&spelled.to_lowercase()).is_none() || spelled.bytes().all(|b| b.is_ascii_digit()));
        }

        #[test]
        fn the_scope_entry_patterns_admit_what_the_scope_rules_admit(
            s in prop_oneof![tricky(), "[0-9A-Za-z._-]{1,27}"]
        ) {
            use super::super::access_key_configuration::{model_entry_shape, provider_entry_shape};
            let re = Regex::new(&provider_entry_pattern()).unwrap();
            prop_assert_eq!(re.is_match(&s), provider_entry_shape(&s), "{:?}", s);
            let re = Regex::new(&model_id_pattern()).unwrap();
            prop_assert_eq!(re.is_match(&s), model_entry_shape(&s), "{:?}", s);
        }

        #[test]
        fn the_model_id_pattern_admits_what_the_parser_admits(s in tricky()) {
            let re = Regex::new(&model_id_pattern()).unwrap();
            let by_parser = !s.is_empty() && s.chars().all(|c| !c.is_whitespace() && !c.is_control());
            prop_assert_eq!(re.is_match(&s), by_parser, "{:?}", s);
        }
    }
}
