//! The schemas of the data plane's part of the document: a call's body as far as modelgate
//! reads it, each format's error shape, and the model lists. Request bodies and errors are
//! open (SDKs keep the fields they do not know, and the body's other fields are the upstream's
//! business); what modelgate writes whole, the lists and attempts, is closed.

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, Ref};

use crate::gateway::MAX_FALLBACK_MODELS;

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn nullable(ty: Type, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([ty, Type::Null]))
        .description(Some(description))
}

fn open(object: ObjectBuilder) -> ObjectBuilder {
    object.additional_properties(Some(AdditionalProperties::FreeForm(true)))
}

fn closed(object: ObjectBuilder) -> ObjectBuilder {
    object.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

pub(super) fn model_call() -> Schema {
    let models = ArrayBuilder::new()
        .items(string("A model to fall back to.").min_length(Some(1)))
        .max_items(Some(MAX_FALLBACK_MODELS))
        .description(Some(
            "Fallback models, tried in order when `model` cannot answer; not sent upstream.",
        ));
    let stream = ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(
            "Passed on as sent. When the upstream streams, its server-sent events are streamed \
             through as they arrive.",
        ));
    open(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some(
            "The call in the route's format. modelgate reads `model` and `models`; every other \
             field goes to the upstream as sent, its bytes unchanged.",
        ))
        .property(
            "model",
            string(
                "`providerId:modelId`, a model name any provider declares, or a model alias \
                 (`/model-aliases`: its target, then its fallbacks, stand in its place); sent \
                 upstream as the provider's model id.",
            )
            .min_length(Some(1)),
        )
        .required("model")
        .property("models", models)
        .property("stream", stream)
        .into()
}

pub(super) fn attempt() -> Schema {
    closed(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some("One attempt of a call that failed."))
        .property(
            "provider",
            nullable(Type::String, "Null for a fallback model nothing serves."),
        )
        .required("provider")
        .property("model", string("The model asked for."))
        .required("model")
        .property(
            "status",
            nullable(Type::Integer, "The upstream's status, when it answered."),
        )
        .required("status")
        .property("error", string("What failed, as an error code."))
        .required("error")
        .into()
}

fn attempts() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(Ref::from_schema_name("Attempt"))
        .description(Some("After failed attempts: each of them."))
}

/// OpenAI's error shape; open, as SDKs keep fields they do not know.
pub(super) fn openai_error() -> Schema {
    let error = open(ObjectBuilder::new().schema_type(Type::Object))
        .property("message", string("What went wrong."))
        .required("message")
        .property(
            "type",
            string("OpenAI's error type, e.g. `invalid_request_error`."),
        )
        .required("type")
        .property("code", nullable(Type::String, "modelgate's error code."))
        .property("param", nullable(Type::String, "The body field at fault."))
        .property("attempts", attempts());
    open(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some("An error in OpenAI's shape."))
        .property("error", error)
        .required("error")
        .into()
}

/// Anthropic's error shape; open likewise.
pub(super) fn anthropic_error() -> Schema {
    let error = open(ObjectBuilder::new().schema_type(Type::Object))
        .property(
            "type",
            string("Anthropic's error type, e.g. `not_found_error`."),
        )
        .required("type")
        .property("message", string("What went wrong."))
        .required("message")
        .property("attempts", attempts());
    open(ObjectBuilder::new().schema_type(Type::Object))
        .description(Some("An error in Anthropic's shape."))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["error"])),
        )
        .required("type")
        .property("error", error)
        .required("error")
        .into()
}

/// One model in OpenAI's shape: an entry of its list, and what `GET /v1/models/{model}` answers.
pub(super) fn openai_model() -> Schema {
    closed(ObjectBuilder::new().schema_type(Type::Object))
        .property("id", string("`providerId:modelId`, or a model alias."))
        .required("id")
        .property(
            "object",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["model"])),
        )
        .required("object")
        .property(
            "created",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some(
                    "When the provider (or the model alias) was registered, in Unix seconds.",
                )),
        )
        .required("created")
        .property(
            "owned_by",
            string("The `providerId`; `modelgate-alias` for a model alias."),
        )
        .required("owned_by")
        .property("modelgate_status", status())
        .required("modelgate_status")
        .into()
}

pub(super) fn openai_models() -> Schema {
    closed(ObjectBuilder::new().schema_type(Type::Object))
        .property(
            "object",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["list"])),
        )
        .required("object")
        .property(
            "data",
            ArrayBuilder::new().items(Ref::from_schema_name("OpenAiModel")),
        )
        .required("data")
        .into()
}

/// One model in Anthropic's shape: an entry of its list, and what `GET /v1/models/{model}`
/// answers.
pub(super) fn anthropic_model() -> Schema {
    closed(ObjectBuilder::new().schema_type(Type::Object))
        .property(
            "type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["model"])),
        )
        .required("type")
        .property("id", string("`providerId:modelId`, or a model alias."))
        .required("id")
        .property("display_name", string("The same as `id`."))
        .required("display_name")
        .property(
            "created_at",
            string("When the provider was registered.")
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .required("created_at")
        .property("modelgate_status", status())
        .required("modelgate_status")
        .into()
}

/// modelgate's own field of a listed model: its provider's status.
fn status() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["online", "degraded", "offline", "unknown"]))
        .description(Some(
            "The status of the model's provider, as `GET /providers/{id}/health` shows it \
             (modelgate's own field); `gateway.hide_offline_models` leaves offline ones out.",
        ))
}

pub(super) fn anthropic_models() -> Schema {
    closed(ObjectBuilder::new().schema_type(Type::Object))
        .property(
            "data",
            ArrayBuilder::new().items(Ref::from_schema_name("AnthropicModel")),
        )
        .required("data")
        .property(
            "has_more",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some(
                    "Whether more models lie beyond this page, in the direction read.",
                )),
        )
        .required("has_more")
        .property(
            "first_id",
            nullable(Type::String, "The page's first model's id."),
        )
        .required("first_id")
        .property(
            "last_id",
            nullable(Type::String, "The page's last model's id."),
        )
        .required("last_id")
        .into()
}
