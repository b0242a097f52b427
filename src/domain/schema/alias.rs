//! The schemas of model aliases (`/model-aliases`).

use utoipa::openapi::schema::{ArrayBuilder, SchemaType, Type};
use utoipa::openapi::{Array, Object};

use super::string;
use crate::domain::catalog::reserved_provider_ids;
use crate::domain::rules::{MAX_ALIAS_FALLBACKS, MAX_TEXT_CHARS, model_id_pattern};

/// A model string as calls send one: a model id, or `providerId:modelId`.
fn model_string(description: &str) -> Object {
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(model_id_pattern()))
        .description(Some(description))
        .build()
}

/// An alias's name: a model string that does not start with a catalog id and `:` (nor, which
/// no schema can know, with a registered `providerId` and `:`).
pub fn model_alias() -> Object {
    let reserved = reserved_provider_ids()
        .collect::<Vec<_>>()
        .join("|")
        .replace('.', "\\.");
    string(1, MAX_TEXT_CHARS)
        .pattern(Some(format!(
            "^(?!(?:{reserved}):){}",
            &model_id_pattern()[1..]
        )))
        .description(Some(
            "The model name apps send, matched ignoring case and unique so. It cannot start \
             with a catalog id or a registered providerId and `:` (that names the provider's \
             model), nor be another alias's target or fallback.",
        ))
        .build()
}

pub fn alias_target() -> Object {
    model_string(
        "Where calls for the alias go: a model string as calls accept (a bare model id, or \
         `providerId:modelId`), not another alias. A bare name need not be declared yet.",
    )
}

pub fn alias_fallbacks() -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(model_string(
            "A model string to fall back to, not an alias.",
        ))
        .max_items(Some(MAX_ALIAS_FALLBACKS))
        .description(Some(
            "Model strings tried in order after the target, before a call's own `models`; \
             `null` or `[]` means none.",
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::catalog::catalog_provider;

    fn pattern_of(schema: Object) -> fancy_regex::Regex {
        fancy_regex::Regex::new(schema.pattern.as_deref().unwrap()).unwrap()
    }

    proptest! {
        /// What the parser admits, less what names a catalog provider's model (which the
        /// registry refuses, as every catalog id is routed).
        #[test]
        fn the_alias_pattern_admits_a_model_string_that_names_no_catalog_model(
            s in prop_oneof![
                "[a-zA-Z0-9:._ -]{1,20}",
                "(openai|anthropic|OpenAI|open-ai|gemini)(:|-)?[a-z0-9: ]{0,6}",
            ]
        ) {
            let by_schema = pattern_of(model_alias()).is_match(&s).unwrap();
            let shaped = !s.chars().any(|c| c.is_whitespace() || c.is_control());
            let catalog = s.split_once(':').is_some_and(|(p, _)| catalog_provider(p).is_some());
            prop_assert_eq!(by_schema, shaped && !catalog, "{:?}", s);
            prop_assert_eq!(pattern_of(alias_target()).is_match(&s).unwrap(), shaped, "{:?}", s);
        }
    }
}
