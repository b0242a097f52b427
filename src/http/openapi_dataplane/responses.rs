//! The answers of the data plane's routes: the upstream's, passed on, and modelgate's own
//! refusals in each format's shape, with the headers every answer carries.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Content, ContentBuilder, Ref, RefOr, Response};

use crate::domain::surface::Format;
use crate::http::proxy::{ATTEMPTS, FALLBACKS, MODEL, PROVIDER, REQUEST_ID};

pub(super) const UNAUTHENTICATED: &str = "`missing_credential` or `invalid_credential`: no \
    modelgate token, or not a valid one; `access_key_required`: a management credential where \
    `gateway.require_access_keys` takes access keys only.";

/// Each error status of a model call, what it means, and the codes that come with it.
pub(super) const REFUSALS: &[(&str, &str)] = &[
    (
        "400",
        "`missing_model`, `invalid_model` (not a non-empty string, or given twice), \
         `invalid_models` (not up to 16 non-empty strings), `invalid_json` (not a JSON object), \
         `invalid_body`, `invalid_header` (two `Authorization` headers, `Authorization` and \
         `x-api-key` carrying different tokens, an `x-modelgate-fallback` other than one `on` \
         or `off`, an `x-modelgate-translation` other than one `strict` or `lenient`), \
         `surface_not_supported` (the provider does not serve this route's surface, nor — for \
         chat completions and messages — the other format's counterpart), \
         `stream_not_allowed` (every provider that would serve the model refuses streamed \
         calls of this surface: Bifrost's `allowed_requests` with a `*_stream` flag off), and \
         for a call translated between the formats: `translation_unsupported_field` (a field the \
         provider's format cannot express, named; `x-modelgate-translation: lenient` drops \
         such fields and names them in `x-modelgate-translation-dropped`) \
         or `untranslatable_request` (a field of a shape that cannot be translated).",
    ),
    ("401", UNAUTHENTICATED),
    (
        "402",
        "`insufficient_quota` (OpenAI's `insufficient_quota` type, Anthropic's \
         `billing_error`): the access key's `budget` is spent for this UTC day or month; calls \
         pass again when the next period starts.",
    ),
    (
        "403",
        "`outbound_refused`: the provider's address is one the outbound guard refuses; \
         `model_not_allowed` (`permission_error`, `param: model`): the access key's \
         configuration allows no candidate for `model` (a fallback it allows nothing of is \
         listed in `attempts` as `not_allowed`).",
    ),
    (
        "404",
        "`model_not_found`: no provider serves `model` (and none of `models` is tried).",
    ),
    ("405", "`method_not_allowed`: this route takes POST only."),
    (
        "408",
        "`request_timeout`: the body did not arrive within `server.body_timeout_ms`.",
    ),
    (
        "413",
        "`request_too_large`: the body is over `gateway.max_body_bytes`; \
         `input_tokens_exceeded`: its input (the bytes of `messages`, `system`, `input`, \
         `prompt` and `tools` over 4) is above `/gateway-config`'s `maxInputTokens`.",
    ),
    (
        "429",
        "`upstream_rate_limited` (every attempt was; `retry-after` is the shortest wait asked \
         for), `provider_busy` (its `concurrency` and `bufferSize` are taken) or \
         `requests_per_minute_exceeded` (the access key's `requestsPerMinute` is used up; \
         `retry-after` says when the next minute starts) or `tokens_per_minute_exceeded` (its \
         `tokensPerMinute` is: its calls of this minute used that many tokens; `retry-after` \
         says when the next minute starts).",
    ),
    (
        "500",
        "`provider_misconfigured` (no HTTP client can be built for its network settings) or \
         `internal`.",
    ),
    (
        "502",
        "`upstream_unreachable`, `stream_broken`, `stream_ended`, `stream_idle_timeout` (the \
         upstream could not be reached, or its stream failed before its first content), \
         `upstream_invalid` (it answered a status that is no final HTTP answer: 101, or outside \
         200-599), `upstream_credentials_exhausted` (it refused every key tried) or \
         `untranslatable_response` (a translated call's upstream answered with a body that is \
         not its format's answer).",
    ),
    (
        "503",
        "`no_usable_key`, or `all_attempts_failed` with `error.attempts` listing each attempt.",
    ),
    (
        "504",
        "`upstream_timeout`: no answer within the attempt's or the call's time.",
    ),
];

pub(super) fn refusal_name(format: Format, status: &str) -> String {
    match format {
        Format::OpenAi => format!("OpenAi{status}"),
        Format::Anthropic => format!("Anthropic{status}"),
    }
}

pub(super) fn error_schema(format: Format) -> RefOr<Schema> {
    match format {
        Format::OpenAi => Ref::from_schema_name("OpenAiError").into(),
        Format::Anthropic => Ref::from_schema_name("AnthropicError").into(),
    }
}

pub(super) fn any_content() -> Content {
    ContentBuilder::new()
        .schema(Some(Schema::Object(
            ObjectBuilder::new()
                .schema_type(SchemaType::AnyValue)
                .build(),
        )))
        .build()
}

pub(super) fn answer() -> RefOr<Response> {
    tagged(
        ResponseBuilder::new()
            .description(
                "The upstream's answer, passed on as it arrives: its JSON, or its server-sent \
                 events when the call streams (never buffered). A call served by a provider of \
                 the other format (chat completions ↔ messages) is answered in \
                 the route's format, its upstream's errors too, with their status; its stream is \
                 translated event by event. A count of tokens for a provider with no such \
                 route is the gateway's estimate, marked `x-modelgate-estimate: true`.",
            )
            .content("application/json", any_content())
            .header(
                crate::gateway::translate::DROPPED_HEADER,
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some(
                        "A lenient translated call: the caller's fields dropped, comma-separated.",
                    ))
                    .build(),
            )
            .content(
                "text/event-stream",
                ContentBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
                    .build(),
            ),
    )
    .build()
    .into()
}

/// The headers every model call's answer carries.
fn tagged(response: ResponseBuilder) -> ResponseBuilder {
    let integer = |description: &str| {
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some(description))
            .build()
    };
    let string = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(description))
            .build()
    };
    response
        .header(REQUEST_ID, request_id_header())
        .header(
            ATTEMPTS,
            integer("How many attempts the call made, a provider's retries included."),
        )
        .header(
            FALLBACKS,
            integer("How many candidates the call tried after the first."),
        )
        .header(
            PROVIDER,
            string("The `providerId` that answered, or that a refusal came from, once chosen."),
        )
        .header(
            MODEL,
            string("The model id the provider was asked for, a fallback's when one answered."),
        )
}

pub(super) fn request_id_header() -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some("This call's id, also on its log line."))
        .build()
}

pub(super) fn refusal(status: &str, description: &str, schema: &RefOr<Schema>) -> Response {
    let mut response = tagged(ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new().schema(Some(schema.clone())).build(),
    ));
    let header = |ty: Type, description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(ty))
            .description(Some(description))
            .build()
    };
    response = match status {
        "401" => response.header(
            "WWW-Authenticate",
            header(Type::String, "`Bearer realm=\"modelgate\"`."),
        ),
        "429" => response
            .header(
                "retry-after",
                header(Type::Integer, "Seconds to wait, rounded up."),
            )
            .header(
                "retry-after-ms",
                header(Type::Integer, "Milliseconds to wait."),
            ),
        _ => response,
    };
    response.build()
}
