//! The data plane's part of the OpenAPI document: the `/v1` routes, built from the domain's
//! surfaces (one operation per surface and path, as `http/proxy` routes them), with the fields
//! of a call's body that modelgate reads, the headers it adds, and its error answers in each
//! format's own shape. Built with utoipa's builders rather than handler annotations: the
//! routes are closures over a `Surface`, and the document follows the same list.
//!
//! Request bodies are open objects: everything but `model` and `models` goes to the upstream
//! as sent, so the upstream's own API reference describes the rest.

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, OpenApi as Document, OpenApiBuilder, PathItem, Ref, Required,
};

mod models;
mod responses;
mod schemas;

use responses::{REFUSALS, answer, any_content, error_schema, refusal, refusal_name};

use super::proxy::{FALLBACK, REQUEST_ID};
use crate::domain::surface::{Format, Surface};

/// The tag of every data-plane operation.
pub const TAG: &str = "data plane";

/// Where an Anthropic SDK given a base URL ending in `/v1` sends its calls: `/v1` twice.
const NESTED: &str = "/v1/v1";

/// The data plane's paths, schemas, responses and security scheme, to merge into the document.
pub fn document() -> Document {
    let mut paths = PathsBuilder::new();
    for surface in Surface::ALL {
        let (id, summary) = naming(surface);
        paths = paths.path(
            format!("/v1{}", surface.path()),
            PathItem::new(HttpMethod::Post, call(surface, id, summary)),
        );
        if surface.format() == Format::Anthropic {
            paths = paths.path(
                format!("{NESTED}{}", surface.path()),
                PathItem::new(
                    HttpMethod::Post,
                    call(
                        surface,
                        &format!("{id}Nested"),
                        &format!("{summary}, under {NESTED}"),
                    ),
                ),
            );
        }
    }
    paths = paths
        .path("/v1/models", PathItem::new(HttpMethod::Get, models::list()))
        .path(
            "/v1/models/{model}",
            PathItem::new(HttpMethod::Get, models::retrieve()),
        );
    let mut components = ComponentsBuilder::new()
        .schema("ModelCall", schemas::model_call())
        .schema("Attempt", schemas::attempt())
        .schema("OpenAiError", schemas::openai_error())
        .schema("AnthropicError", schemas::anthropic_error())
        .schema("OpenAiModel", schemas::openai_model())
        .schema("AnthropicModel", schemas::anthropic_model())
        .schema("OpenAiModelList", schemas::openai_models())
        .schema("AnthropicModelList", schemas::anthropic_models())
        .security_scheme(
            "apiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "The same tokens as `bearer`, in the header Anthropic's SDKs send.",
            ))),
        );
    for format in [Format::OpenAi, Format::Anthropic] {
        for (status, description) in REFUSALS {
            components = components.response(
                refusal_name(format, status),
                refusal(status, description, &error_schema(format)),
            );
        }
    }
    OpenApiBuilder::new()
        .paths(paths.build())
        .components(Some(components.build()))
        .tags(Some([TagBuilder::new()
            .name(TAG)
            .description(Some(
                "Model calls in OpenAI's and Anthropic's wire formats, routed to the \
                 registered providers with failover; their own API references describe the \
                 bodies beyond the fields listed here",
            ))
            .build()]))
        .build()
}

/// The operation id and summary of a surface's route.
fn naming(surface: Surface) -> (&'static str, &'static str) {
    match surface {
        Surface::ChatCompletions => ("createChatCompletion", "Create a chat completion (OpenAI)"),
        Surface::Completions => ("createCompletion", "Create a text completion (OpenAI)"),
        Surface::Responses => (
            "createResponse",
            "Create a response (OpenAI's Responses API)",
        ),
        Surface::Embeddings => ("createEmbedding", "Create embeddings (OpenAI)"),
        Surface::Messages => ("createMessage", "Create a message (Anthropic)"),
        Surface::CountTokens => ("countMessageTokens", "Count a message's tokens (Anthropic)"),
    }
}

/// One model call: the body modelgate routes by, the upstream's answer passed on, the
/// refusals in the surface's format.
fn call(surface: Surface, id: &str, summary: &str) -> Operation {
    let format = surface.format();
    let mut operation = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some(id))
        .summary(Some(summary))
        .description(Some(format!(
            "Routed to a provider that serves the `{}` surface of the {} format; errors come in \
             that format's shape. With one candidate (or `{FALLBACK}: off`), an upstream's own \
             error answer is passed on as it came, status and body.",
            surface.name(),
            format.name(),
        )))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ModelCall")))
                        .build(),
                )
                .build(),
        ))
        .parameter(header_parameter(
            FALLBACK,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^([Oo][Nn]|[Oo][Ff][Ff])$")),
            "`off` keeps the call to its first candidate: no other key, provider or model.",
        ))
        .response("200", answer())
        .response(
            "default",
            ResponseBuilder::new()
                .description(
                    "Any other status the upstream answered, passed on with its body and \
                     rate-limit headers.",
                )
                .content("application/json", any_content())
                .build(),
        );
    if matches!(surface, Surface::ChatCompletions | Surface::Messages) {
        operation = operation.parameter(header_parameter(
            crate::gateway::translate::MODE_HEADER,
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(
                "^([Ss][Tt][Rr][Ii][Cc][Tt]|[Ll][Ee][Nn][Ii][Ee][Nn][Tt])$",
            )),
            "For a call translated to a provider of the other format: `lenient` drops the \
             fields that format cannot express (named in `x-modelgate-translation-dropped`) \
             instead of refusing the call (`strict`, the default).",
        ));
    }
    if format == Format::Anthropic {
        for (name, what) in [
            ("anthropic-version", "Passed on; `2023-06-01` when absent."),
            ("anthropic-beta", "Passed on as sent."),
        ] {
            operation = operation.parameter(header_parameter(
                name,
                ObjectBuilder::new().schema_type(Type::String),
                what,
            ));
        }
    }
    for (status, _) in REFUSALS {
        operation = operation.response(
            *status,
            Ref::from_response_name(refusal_name(format, status)),
        );
    }
    secured(operation)
        .response("414", Ref::from_response_name("UriTooLong"))
        .build()
}

/// A data-plane route takes a modelgate token either way an SDK sends one.
fn secured(operation: OperationBuilder) -> OperationBuilder {
    operation
        .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
        .security(SecurityRequirement::new("apiKey", Vec::<String>::new()))
}

fn header_parameter(
    name: &str,
    schema: ObjectBuilder,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(schema.build()))
        .description(Some(description))
        .build()
}
