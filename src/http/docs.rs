//! The OpenAPI pieces that handlers name in their `#[utoipa::path]` annotations: shared error
//! responses (one per status, and groups of them) and parameters. A leaf: it names no handler,
//! so handlers and the document that lists them both import it without a circle.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, Response};
use utoipa::{IntoParams, ToResponse};

use super::conditional::IF_MATCH_PATTERN;
use super::paging::MAX_PAGE;
use crate::domain::schema::ULID_PATTERN;

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Error")))
                .build(),
        )
        .build()
        .into()
}

/// One reusable error response per status, named in `components.responses`.
macro_rules! error_responses {
    ($($name:ident => $description:literal,)*) => {$(
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                (stringify!($name), error_response($description))
            }
        }
    )*};
}

error_responses! {
    BadRequest => "The request breaks a rule: `invalid_json` (with line and column), \
        `unknown_field`, `validation_failed`, `provider_id_reserved` or `provider_id_immutable` \
        for a body (every problem of one body in one answer); `invalid_query` for a query \
        parameter the route does not take, one given twice, or a bad value; `invalid_header` \
        for an `If-Match` that is not a list of entity tags, or more than one \
        `Authorization`. `details` maps each field path, parameter or header to its rule.",
    Unauthorized => "`unauthorized`: no bearer token, or not a valid one.",
    Forbidden => "`access_key_not_allowed`: the token is an access key, which makes model \
        calls on `/v1` only.",
    NotFound => "`not_found`: no such id.",
    Conflict => "`provider_id_taken`, `provider_has_keys` (with the count), \
        `unknown_provider` (a key for a provider that is not registered) or \
        `configuration_in_use` (an access key configuration that scopes access keys; \
        `details.accessKeys` is how many) or `provider_key_in_use` (a key access key \
        configurations' routers name; `details.accessKeyConfigurations` lists their ids) or \
        `alias_taken` (another model alias has that name, in any case) or `price_taken` \
        (another price is for that model, in any case).",
    PreconditionFailed => "`precondition_failed`: `If-Match` names another version.",
    PayloadTooLarge => "`payload_too_large`: the body is over `server.max_body_bytes`.",
    RequestTimeout => "`request_timeout`: the body did not arrive within \
        `server.body_timeout_ms`.",
    UnsupportedMediaType => "`unsupported_media_type`: the body is not sent as \
        `application/json`, or is encoded other than with gzip.",
    MethodNotAllowed => "`method_not_allowed`: the route does not serve this method; `Allow` \
        lists those it does. On `/api-keys/{id}` of a bootstrap credential the message says \
        why: it is set in the config file or the environment.",
    UriTooLong => "`uri_too_long`: the path and query are longer than 8 KiB.",
    Internal => "`internal`: the server log has the cause; nothing was changed.",
    ProbeFailed => "`provider_probe_failed` (`?validate=true`): the provider's probe failed, \
        so nothing was written. `details` holds what it found, each as a string (`null` \
        where unknown): `ok`, `statusCode`, `latencyMs`, `modelsFound`, `error`.",
    DiscoveryConflict => "`confirm_required`: applying would make a provider that declares no \
        models (and so takes any) declare some; send `?confirm=true` to mean it. \
        `provider_key_required`: a catalog provider's list needs a provider key, and none is \
        filed.",
    TooManyModels => "`too_many_models`: the provider would declare more than 1000 models; \
        nothing was written. Choose fewer with a `modelIds` body.",
    DiscoveryFailed => "`discovery_failed`: the provider's model list could not be read (its \
        probe failed), so nothing was discovered or written. `details` holds what the probe \
        found, each as a string (`null` where unknown): `ok`, `statusCode`, `latencyMs`, \
        `modelsFound`, `error`.",
    Unavailable => "The store cannot take writes now; reads go on. `storage_full` (free space \
        below `storage.min_free_mib`) and `storage_read_only`: nothing was written, retry once \
        the fault is gone. `storage_failed`: an I/O error reached the storage engine; writes \
        are refused until the fault is gone and the store has reopened itself (a read meets \
        it only while the reopen runs).",
}

/// A group of error responses shared by many routes, each a reference to its component.
macro_rules! response_groups {
    ($($(#[$doc:meta])* $group:ident => [$($status:literal => $name:ident),*],)*) => {$(
        $(#[$doc])*
        pub struct $group;

        impl utoipa::IntoResponses for $group {
            fn responses() -> std::collections::BTreeMap<String, RefOr<Response>> {
                [$(($status.to_owned(), RefOr::Ref(Ref::from_response_name(stringify!($name))))),*]
                    .into_iter()
                    .collect()
            }
        }
    )*};
}

response_groups! {
    /// What any route behind the bearer token can answer (a 400 for a bad query parameter or
    /// header, whatever else the route does).
    AuthErrors => [
        "400" => BadRequest, "401" => Unauthorized, "403" => Forbidden, "500" => Internal,
        "503" => Unavailable
    ],
    /// What any route that reads a JSON body can answer.
    BodyErrors => [
        "408" => RequestTimeout, "413" => PayloadTooLarge, "415" => UnsupportedMediaType
    ],
}

pub struct NotModified;

impl<'s> ToResponse<'s> for NotModified {
    fn response() -> (&'s str, RefOr<Response>) {
        (
            "NotModified",
            ResponseBuilder::new()
                .description("The `If-None-Match` tag is current.")
                .build()
                .into(),
        )
    }
}

fn string_schema(pattern: Option<&str>) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(pattern)
            .build(),
    )
}

fn parameter(name: &str, at: ParameterIn, schema: Schema, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(at.clone())
        .required(if at == ParameterIn::Path {
            Required::True
        } else {
            Required::False
        })
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

fn limit() -> Parameter {
    let limit = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(MAX_PAGE as u32))
        .default(Some(MAX_PAGE.into()))
        .build();
    parameter(
        "limit",
        ParameterIn::Query,
        Schema::Object(limit),
        "Items per page.",
    )
}

/// `limit` and `beforeId`, as `ListQuery` reads them.
pub struct Paging;

impl IntoParams for Paging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            limit(),
            parameter(
                "beforeId",
                ParameterIn::Query,
                string_schema(Some(ULID_PATTERN)),
                "Start after this id (older items follow); take it from the last item of a \
                 page, or follow `nextPageUri`.",
            ),
        ]
    }
}

/// What a credential's id is: `admin`, or an `[[auth.tokens]]` id, which start-up holds to
/// the same rule.
pub use crate::auth::CREDENTIAL_ID_PATTERN;

/// `limit` and `beforeId` of the API key list, whose ids are credential ids.
pub struct CredentialPaging;

impl IntoParams for CredentialPaging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            limit(),
            parameter(
                "beforeId",
                ParameterIn::Query,
                string_schema(Some(CREDENTIAL_ID_PATTERN)),
                "Start after this id (the list runs by id, descending, as every list's cursor \
                 does); take it from the last item of a page, or follow `nextPageUri`.",
            ),
        ]
    }
}

/// The `{id}` of an API key: a credential id.
pub struct CredentialId;

impl IntoParams for CredentialId {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "id",
            ParameterIn::Path,
            string_schema(Some(CREDENTIAL_ID_PATTERN)),
            "The credential's id: `admin`, an `[[auth.tokens]]` id, or a stored key's ULID.",
        )]
    }
}

/// `?provider=` of the key list.
pub struct ProviderFilter;

impl IntoParams for ProviderFilter {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "provider",
            ParameterIn::Query,
            string_schema(None),
            "Only keys of this `providerId`.",
        )]
    }
}

pub struct Id;

impl IntoParams for Id {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "id",
            ParameterIn::Path,
            string_schema(Some(ULID_PATTERN)),
            "The resource's id (a ULID).",
        )]
    }
}

pub struct IfMatch;

impl IntoParams for IfMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "If-Match",
            ParameterIn::Header,
            string_schema(Some(IF_MATCH_PATTERN)),
            "Apply only if the resource's current `ETag` is one of these (strong comparison), \
             or `*` for any existing version; otherwise 412.",
        )]
    }
}

pub struct IfNoneMatch;

impl IntoParams for IfNoneMatch {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "If-None-Match",
            ParameterIn::Header,
            string_schema(None),
            "304 without a body when the current `ETag` is one of these (weak comparison).",
        )]
    }
}

pub struct Cascade;

/// `?validate=` of a provider's create and PATCH.
pub struct Validate;

impl IntoParams for Validate {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "validate",
            ParameterIn::Query,
            Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
            "`true` probes the provider as it would be written (its model list, as `POST \
             /providers/{id}/test` does) and writes nothing if the probe fails (422 \
             `provider_probe_failed`); a 401 or 403 while the provider has no key yet passes.",
        )]
    }
}

/// `?apply=` and `?confirm=` of a provider's model discovery.
pub struct Discover;

impl IntoParams for Discover {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let flag = || Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build());
        vec![
            parameter(
                "id",
                ParameterIn::Path,
                string_schema(None),
                "A registered provider's id (a ULID), or a catalog provider's id (`openai`).",
            ),
            parameter(
                "apply",
                ParameterIn::Query,
                flag(),
                "`true` writes what was discovered (default `false`: only answers the diff).",
            ),
            parameter(
                "confirm",
                ParameterIn::Query,
                flag(),
                "`true` lets `apply` declare models on a provider that declares none, which \
                 narrows it from any model to those.",
            ),
        ]
    }
}

/// `?cascade=` of an access key configuration's delete.
pub struct CascadeKeys;

/// `?cascade=` of a provider key's delete.
pub struct CascadeRules;

impl IntoParams for CascadeRules {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "cascade",
            ParameterIn::Query,
            Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
            "`true` also takes the key out of every access key configuration's router steps, \
             in the same transaction (a step left without keys goes, and a rule left without \
             steps); otherwise a key a router names is refused with 409.",
        )]
    }
}

impl IntoParams for CascadeKeys {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "cascade",
            ParameterIn::Query,
            Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
            "`true` deletes the access keys the configuration scopes with it, in the same \
             transaction; otherwise a configuration that scopes keys is refused with 409.",
        )]
    }
}

impl IntoParams for Cascade {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "cascade",
            ParameterIn::Query,
            Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
            "`true` deletes the provider's keys with it, and takes them out of every access \
             key configuration's router steps in the same transaction; otherwise a provider \
             with keys is refused with 409.",
        )]
    }
}

fn time_parameter(name: &str, required: bool, description: &str) -> Parameter {
    let mut p = parameter(
        name,
        ParameterIn::Query,
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
                .build(),
        ),
        description,
    );
    if required {
        p.required = Required::True;
    }
    p
}

fn enum_parameter(name: &str, values: &[&str], description: &str) -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .build();
    parameter(
        name,
        ParameterIn::Query,
        Schema::Object(schema),
        description,
    )
}

/// The parameters of `GET /usage`.
pub struct UsageQuery;

impl IntoParams for UsageQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let boolean = Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build());
        vec![
            time_parameter(
                "startTime",
                true,
                "Only events with `eventTime` at or after this.",
            ),
            time_parameter(
                "endTime",
                false,
                "Only events at or before this; now by default.",
            ),
            parameter(
                "accessKeyId",
                ParameterIn::Query,
                string_schema(None),
                "Only the events of this access key (or management credential, such as `admin`).",
            ),
            parameter(
                "includeRetries",
                ParameterIn::Query,
                boolean,
                "`true` lists every attempt; by default only each request's final one.",
            ),
            parameter(
                "cursor",
                ParameterIn::Query,
                string_schema(Some(ULID_PATTERN)),
                "Where the previous page ended: take it from its `nextPageUri`.",
            ),
            limit(),
            enum_parameter(
                "include",
                &["timing", "raw", "timing,raw"],
                "modelgate's extensions, comma-separated: `timing` adds `latencyMs`, `ttfbMs`, \
                 `cacheWriteTokens` and `tokensKnown` to each event; `raw` adds `rawRequest` and \
                 `rawResponse` to the events that kept them (a provider with Bifrost's \
                 `store_raw_request_response`: each at most 64 KiB, cut with a marker, never a \
                 credential).",
            ),
        ]
    }
}

/// The parameters of `GET /usage/overview`.
pub struct UsageOverviewQuery;

impl IntoParams for UsageOverviewQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            time_parameter(
                "startTime",
                true,
                "Start of the window; the buckets are the whole UTC days it overlaps.",
            ),
            time_parameter("endTime", false, "End of the window; now by default."),
            enum_parameter(
                "groupBy",
                &["provider", "accessKey"],
                "What each day's series is broken down by; `provider` by default.",
            ),
            enum_parameter(
                "include",
                &["tokens"],
                "`tokens` adds each bucket's and the totals' token sums (modelgate's extension).",
            ),
        ]
    }
}

/// `?include=` of a provider's get and list.
pub struct Include;

impl IntoParams for Include {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "include",
            ParameterIn::Query,
            string_schema(Some("^(status|capabilities)(,(status|capabilities))*$")),
            "Adds modelgate's own fields to each provider, which ngrok's shape has not: \
             `status` (as `GET /providers/{id}/health` works it out) and `capabilities` \
             (`llm`, `embedding`); comma-separated.",
        )]
    }
}
