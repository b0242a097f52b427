//! The schemas of access keys and their configurations' `access`.

use utoipa::openapi::Object;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};

use super::{closed_object, nullable, string};
use crate::domain::rules::{
    MAX_SCOPE_ENTRIES, MAX_TEXT_CHARS, PROVIDER_SLUG_PATTERN, ULID_PATTERN, model_id_pattern,
};

/// An access key's configuration: an id, or `null` for allow-all.
pub fn access_key_configuration_id() -> Object {
    nullable(string(26, 26))
        .pattern(Some(ULID_PATTERN))
        .description(Some(
            "ID of an access key configuration (`/access-key-configurations`) whose `access` \
             scopes the key; `null`, as omitting it, is allow-all. An id no configuration has \
             is a 400.",
        ))
        .build()
}

/// One `allow` list of `access`: `null` or left out imposes no limit.
fn allow_list(entry: Object, description: &str) -> Object {
    let list = ArrayBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
        .items(entry)
        .max_items(Some(MAX_SCOPE_ENTRIES))
        .description(Some(description));
    closed_object()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .property("allow", list)
        .build()
}

/// A `providers.allow` entry: a `providerId` or a provider's `id`.
pub fn provider_entry_pattern() -> String {
    format!(
        "^(?:{}|{})$",
        PROVIDER_SLUG_PATTERN
            .trim_start_matches('^')
            .trim_end_matches('$'),
        ULID_PATTERN.trim_start_matches('^').trim_end_matches('$')
    )
}

/// ngrok's `AccessScope`, as a write sends it; `null` anywhere is the same as leaving it out
/// (a PATCH's `access: null` clears the scope: allow-all).
pub fn access() -> Object {
    let provider = string(1, MAX_TEXT_CHARS)
        .pattern(Some(provider_entry_pattern()))
        .build();
    let model = string(1, MAX_TEXT_CHARS)
        .pattern(Some(model_id_pattern()))
        .build();
    closed_object()
        .schema_type(SchemaType::Array(vec![Type::Object, Type::Null]))
        .property(
            "providers",
            allow_list(
                provider,
                "Providers the key may call: a registered `providerId`, a provider's `id`, \
                 or a catalog id (an entry naming no known provider is a 400). Left out: any \
                 provider; `[]`: none.",
            ),
        )
        .property(
            "models",
            allow_list(
                model,
                "Models the key may call: `providerId:modelId` (the model id matched ignoring \
                 case; a prefix that is no registered providerId makes the whole entry a bare \
                 model id), a bare model id (at any provider), or `providerId:*` (every model \
                 of that provider; modelgate's). Left out: any model; `[]`: none.",
            ),
        )
        .description(Some(
            "Which providers and models the access keys under this configuration may call: a \
             call's candidate must pass both dimensions. Left out or `null`: allow-all.",
        ))
        .build()
}

/// An RFC 3339 time, in the future when written; `null` clears it.
pub fn expires_at() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .pattern(Some(
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$",
        ))
        .description(Some(
            "modelgate's: when the key stops working, RFC 3339 (any offset; answers show it in \
             UTC, `…Z`), in the future when written (else 400); after it the key is refused \
             with 401.",
        ))
        .build()
}
