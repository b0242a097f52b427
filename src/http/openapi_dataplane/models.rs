//! `GET /v1/models` and `GET /v1/models/{model}`: OpenAI's shapes, or Anthropic's when the
//! request carries `anthropic-version`; their refusals likewise.

use utoipa::openapi::path::{Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required};

use super::responses::{UNAUTHENTICATED, error_schema, refusal, request_id_header};
use super::{TAG, header_parameter, secured};
use crate::domain::surface::Format;

pub(super) fn list() -> Operation {
    let mut operation = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("listModels"))
        .summary(Some(
            "List the providerId:modelId a call of this format may name",
        ))
        .description(Some(
            "The model aliases (`/model-aliases`) whose target a call of this format reaches, \
             oldest first, then the declared models of each registered provider that serves a \
             route of the request's format, providers oldest first; for an access key under a \
             configuration, only those its `access` allows. The list and errors are OpenAI's shape, \
             or Anthropic's when the request carries `anthropic-version`, so both SDKs' \
             `models.list()` read it. Anthropic's list pages: `limit` models from the start, \
             after `after_id` or just before `before_id`. OpenAI's shape cannot say that more \
             follow, so its list is whole; bad parameters are refused in both.",
        ))
        .parameter(anthropic_version());
    for (name, schema, what) in [
        (
            "limit",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(1000))
                .default(Some(20.into())),
            "How many models a page of Anthropic's list holds.",
        ),
        (
            "after_id",
            ObjectBuilder::new().schema_type(Type::String),
            "The page after this listed id (the previous page's `last_id`).",
        ),
        (
            "before_id",
            ObjectBuilder::new().schema_type(Type::String),
            "The page just before this listed id; not with `after_id`.",
        ),
    ] {
        operation = operation.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(schema.build()))
                .description(Some(what))
                .build(),
        );
    }
    let list = Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name("OpenAiModelList"))
            .item(Ref::from_schema_name("AnthropicModelList"))
            .build(),
    );
    finish(
        operation,
        "The models.",
        list,
        &[(
            "400",
            "`invalid_query`: `limit` not from 1 to 1000, an `after_id` or `before_id` that is \
             no listed id, both of them, or one given twice; `invalid_header`: `Authorization` \
             and `x-api-key` carry different tokens.",
        )],
    )
}

pub(super) fn retrieve() -> Operation {
    let operation = OperationBuilder::new()
        .tag(TAG)
        .operation_id(Some("retrieveModel"))
        .summary(Some("One model a call of this format may name"))
        .description(Some(
            "The model as `GET /v1/models` lists it, found as a call finds `model`: \
             a model alias, `providerId:modelId` or a bare model id, exactly or else ignoring \
             case. The rest \
             of the path is the id, `/` included (sent as is or as `%2F`). OpenAI's shape, or \
             Anthropic's when the request carries `anthropic-version`.",
        ))
        .parameter(
            ParameterBuilder::new()
                .name("model")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).build()))
                .description(Some(
                    "A model alias, `providerId:modelId`, or a bare model id.",
                ))
                .build(),
        )
        .parameter(anthropic_version());
    let model = Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name("OpenAiModel"))
            .item(Ref::from_schema_name("AnthropicModel"))
            .build(),
    );
    finish(
        operation,
        "The model.",
        model,
        &[
            (
                "400",
                "`invalid_header`: `Authorization` and `x-api-key` carry different tokens.",
            ),
            (
                "404",
                "`model_not_found`: no model by that id among those the format's list holds.",
            ),
        ],
    )
}

fn anthropic_version() -> utoipa::openapi::path::Parameter {
    header_parameter(
        "anthropic-version",
        ObjectBuilder::new().schema_type(Type::String),
        "Present: Anthropic's shapes, answers and errors.",
    )
}

/// The 200 answer, the route's own refusal and those every model route shares, in either
/// format's shape.
fn finish(
    operation: OperationBuilder,
    what: &str,
    answer: Schema,
    own: &[(&str, &str)],
) -> Operation {
    let either_error = || -> RefOr<Schema> {
        let any = AnyOfBuilder::new()
            .item(error_schema(Format::OpenAi))
            .item(error_schema(Format::Anthropic))
            .build();
        RefOr::T(Schema::AnyOf(any))
    };
    let operation = operation.response(
        "200",
        ResponseBuilder::new()
            .description(what)
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(answer)).build(),
            )
            .header(super::REQUEST_ID, request_id_header())
            .build(),
    );
    let shared = [
        ("401", UNAUTHENTICATED),
        ("405", "`method_not_allowed`: this route takes GET only."),
        ("500", "`internal`."),
    ];
    let operation =
        own.iter()
            .copied()
            .chain(shared)
            .fold(operation, |op, (status, description)| {
                op.response(status, refusal(status, description, &either_error()))
            });
    secured(operation)
        .response("414", Ref::from_response_name("UriTooLong"))
        .build()
}
