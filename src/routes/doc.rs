//! The OpenAPI document, built from the handlers' `#[utoipa::path]` annotations and the request
//! and response types themselves, served at `GET /openapi.json`.
//!
//! HEAD is answered wherever GET is (RFC 9110) and is not listed per route.

use std::sync::LazyLock;

use actix_web::{HttpResponse, http::header, web};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, OpenApi as Document, Ref, RefOr, Required, Response,
};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse};

use super::{MAX_PAGE, method_not_allowed, provider_keys, providers};
use crate::domain::schema::ULID_PATTERN;
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "modelgate",
        description = "A self-hosted AI gateway's registry of LLM providers and their keys. \
            The management API follows ngrok's AI Gateway API. Every error is \
            `{errorCode, statusCode, msg, details}`; `details` names each offending field or \
            parameter with the rule it broke."
    ),
    paths(
        providers::list,
        providers::create,
        providers::get,
        providers::update,
        providers::delete,
        provider_keys::list,
        provider_keys::create,
        provider_keys::get,
        provider_keys::update,
        provider_keys::delete,
        provider_keys::rotate,
        super::health::health,
        openapi_json,
        crate::admin::index,
        crate::admin::asset,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest, BadQuery, Unauthorized, NotFound, Conflict, PreconditionFailed,
            PayloadTooLarge, RequestTimeout, UnsupportedMediaType, Internal, Unavailable,
            NotModified
        )
    ),
    modifiers(&BearerAuth, &ClosedObjects, &OptionalPatchBodies, &ResourceLinks),
    tags(
        (name = "providers", description = "Upstream LLM providers and the models they serve"),
        (name = "provider-keys", description = "Credentials for providers; values are write-only"),
        (name = "operations", description = "Health and this document"),
        (name = "admin", description = "The embedded admin page"),
    )
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);
    &DOC
}

static JSON: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(document()).expect("the OpenAPI document serializes")
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/openapi.json")
            .route(web::get().to(openapi_json))
            .route(web::head().to(openapi_json))
            .default_service(method_not_allowed("GET, HEAD")),
    );
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "operations", operation_id = "getOpenApi",
    summary = "This OpenAPI document",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json",
        body = Object)),
    security(())
)]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(JSON.as_str())
}

/// A PATCH reads its body with `Empty::NoChange`: no body at all changes nothing.
struct OptionalPatchBodies;

impl Modify for OptionalPatchBodies {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            if let Some(body) = item.patch.as_mut().and_then(|op| op.request_body.as_mut()) {
                body.required = Some(Required::False);
            }
        }
    }
}

/// OpenAPI links from each created or changed resource to what can be done with it next,
/// with its id and current `ETag`: clients (and schemathesis's stateful phase) follow them
/// create → get → patch → rotate → delete.
struct ResourceLinks;

impl ResourceLinks {
    /// `(collection, item path, operation ids reachable from one item)`.
    const RESOURCES: &'static [(&'static str, &'static str, &'static [&'static str])] = &[
        (
            "/providers",
            "/providers/{id}",
            &["getProvider", "updateProvider", "deleteProvider"],
        ),
        (
            "/provider-keys",
            "/provider-keys/{id}",
            &[
                "getProviderKey",
                "updateProviderKey",
                "rotateProviderKey",
                "deleteProviderKey",
            ],
        ),
    ];

    fn link(operation_id: &str) -> utoipa::openapi::link::Link {
        // utoipa 5 writes the `operation_id` field as `operation_id`, which OpenAPI does not
        // know (the validator in tests/fuzz/run caught it); the key goes in spelled right.
        let spelled_right = [("operationId", serde_json::Value::from(operation_id))];
        let mut link = utoipa::openapi::link::LinkBuilder::new()
            .parameter("id", "$response.body#/id")
            .description(format!("`{operation_id}` on this resource"))
            .extensions(Some(spelled_right.into_iter().collect()));
        if !operation_id.starts_with("get") {
            link = link.parameter("header.If-Match", "$response.header.ETag");
        }
        link.build()
    }
}

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut Document) {
        let paths = &mut openapi.paths.paths;
        for (collection, item, targets) in Self::RESOURCES {
            let created = paths.get_mut(*collection).and_then(|p| p.post.as_mut());
            Self::add(created, "201", targets);
            if let Some(item) = paths.get_mut(*item) {
                Self::add(item.get.as_mut(), "200", targets);
                Self::add(item.patch.as_mut(), "200", targets);
            }
        }
        let rotated = paths
            .get_mut("/provider-keys/{id}/rotate")
            .and_then(|p| p.post.as_mut());
        Self::add(rotated, "200", &["getProviderKey", "deleteProviderKey"]);
    }
}

impl ResourceLinks {
    fn add(
        operation: Option<&mut utoipa::openapi::path::Operation>,
        status: &str,
        targets: &[&str],
    ) {
        let Some(operation) = operation else { return };
        if let Some(RefOr::T(response)) = operation.responses.responses.get_mut(status) {
            for target in targets {
                response
                    .links
                    .insert((*target).to_owned(), RefOr::T(Self::link(target)));
            }
        }
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `[[auth.tokens]]` or the admin token the server writes to \
                         `<data_dir>/admin-token` on first start.",
                    ))
                    .build(),
            ),
        );
    }
}

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
    BadRequest => "The body or query breaks a rule: `invalid_json` (with line and column), \
        `unknown_field`, `validation_failed`, `invalid_query`, `provider_id_reserved` or \
        `provider_id_immutable`. `details` maps each field path to its rule.",
    BadQuery => "`invalid_query`: `details` maps each bad parameter to its rule.",
    Unauthorized => "`unauthorized`: no bearer token, or not a valid one.",
    NotFound => "`not_found`: no such id.",
    Conflict => "`provider_id_taken`, `provider_has_keys` (with the count) or \
        `unknown_provider` (a key for a provider that is not registered).",
    PreconditionFailed => "`precondition_failed`: `If-Match` names another version.",
    PayloadTooLarge => "`payload_too_large`: the body is over `server.max_body_bytes`.",
    RequestTimeout => "`request_timeout`: the body did not arrive within \
        `server.body_timeout_ms`.",
    UnsupportedMediaType => "`unsupported_media_type`: the body is not sent as \
        `application/json`.",
    Internal => "`internal`: the server log has the cause; nothing was changed.",
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
    /// What any route behind the bearer token can answer.
    AuthErrors => ["401" => Unauthorized, "500" => Internal, "503" => Unavailable],
    /// What any route that reads a JSON body can answer.
    BodyErrors => [
        "400" => BadRequest, "408" => RequestTimeout, "413" => PayloadTooLarge,
        "415" => UnsupportedMediaType
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

/// `limit` and `beforeId`, as `ListQuery` reads them.
pub struct Paging;

impl IntoParams for Paging {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let limit = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_PAGE as u32))
            .default(Some(MAX_PAGE.into()))
            .build();
        vec![
            parameter(
                "limit",
                ParameterIn::Query,
                Schema::Object(limit),
                "Items per page.",
            ),
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
            string_schema(None),
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

impl IntoParams for Cascade {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![parameter(
            "cascade",
            ParameterIn::Query,
            Schema::Object(ObjectBuilder::new().schema_type(Type::Boolean).build()),
            "`true` deletes the provider's keys with it; otherwise a provider with keys is \
             refused with 409.",
        )]
    }
}

/// Every object in the document is closed: the API refuses unknown request fields and never
/// adds response fields that are not documented. Maps that carry their own value schema
/// (`details`) keep it.
struct ClosedObjects;

impl Modify for ClosedObjects {
    fn modify(&self, doc: &mut Document) {
        fn close(schema: &mut Schema) {
            match schema {
                Schema::Object(o) => {
                    if o.schema_type == SchemaType::Type(Type::Object)
                        && o.additional_properties.is_none()
                    {
                        o.additional_properties =
                            Some(Box::new(AdditionalProperties::FreeForm(false)));
                    }
                    o.properties.values_mut().for_each(close_ref);
                }
                Schema::Array(a) => {
                    if let utoipa::openapi::schema::ArrayItems::RefOrSchema(item) = &mut a.items {
                        close_ref(item);
                    }
                }
                Schema::AllOf(all) => all.items.iter_mut().for_each(close_ref),
                _ => {}
            }
        }
        fn close_ref(schema: &mut RefOr<Schema>) {
            if let RefOr::T(s) = schema {
                close(s);
            }
        }
        if let Some(components) = doc.components.as_mut() {
            components.schemas.values_mut().for_each(close_ref);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::{App, HttpRequest, test as http, web};
    use regex::Regex;

    /// Every route pattern the app registers, read from actix's resource map. actix has no API
    /// to list routes; its `Debug` output of the map is the one complete account, so it is read
    /// here, in a test, and nowhere else.
    async fn registered_paths() -> BTreeSet<String> {
        let app = http::init_service(
            App::new()
                .configure(super::super::configure)
                .default_service(web::to(|req: HttpRequest| async move {
                    format!("{:?}", req.resource_map())
                })),
        )
        .await;
        let request = http::TestRequest::get().uri("/no/such/route").to_request();
        let dump =
            String::from_utf8(http::call_and_read_body(&app, request).await.to_vec()).unwrap();
        let token =
            Regex::new(r#"patterns: Single\("([^"]*)"\)|nodes: Some\(\[|nodes: None|\}\]\)"#)
                .unwrap();
        // `{path:.*}` in a route is `{path}` in the document.
        let typed_segment = Regex::new(r"\{(\w+):[^}]*\}").unwrap();
        let (mut stack, mut current, mut paths) =
            (Vec::<String>::new(), String::new(), BTreeSet::new());
        for m in token.captures_iter(&dump) {
            match (m.get(1), &m[0]) {
                (Some(pattern), _) => current = pattern.as_str().to_owned(),
                (None, "nodes: None") => {
                    let full = format!("{}{current}", stack.concat());
                    paths.insert(typed_segment.replace_all(&full, "{$1}").into_owned());
                }
                (None, "}])") => {
                    stack.pop();
                }
                (None, _) => stack.push(std::mem::take(&mut current)),
            }
        }
        assert!(stack.is_empty(), "unbalanced resource map dump: {dump}");
        paths
    }

    #[actix_web::test]
    async fn every_route_the_app_registers_is_in_the_document_and_no_other() {
        let registered = registered_paths().await;
        assert!(registered.contains("/providers/{id}"), "{registered:?}");
        let documented: BTreeSet<String> = super::document().paths.paths.keys().cloned().collect();
        assert_eq!(registered, documented);
    }

    #[test]
    fn the_document_is_openapi_3_1_and_round_trips() {
        let json = serde_json::to_value(super::document()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let again: utoipa::openapi::OpenApi = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(again.paths.paths.len(), super::document().paths.paths.len());
    }
}
