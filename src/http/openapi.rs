//! The OpenAPI document, built from the handlers' `#[utoipa::path]` annotations and the request
//! and response types themselves, with the data plane's routes (`openapi_dataplane`) merged
//! in, served at `GET /openapi.json`.
//!
//! On the management API HEAD is answered wherever GET is (RFC 9110) and listed as its own
//! operation, and every object is closed; the modifiers that say so run before the data plane
//! is merged, as neither holds there.

use std::sync::LazyLock;

use actix_web::{HttpResponse, http::header, web};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document, RefOr, Required};
use utoipa::{Modify, OpenApi};

use super::dialects::{agentstack, bifrost};
use super::docs::{
    BadRequest, Conflict, DiscoveryConflict, DiscoveryFailed, Forbidden, Internal,
    MethodNotAllowed, NotFound, NotModified, PayloadTooLarge, PreconditionFailed, ProbeFailed,
    RequestTimeout, TooManyModels, Unauthorized, Unavailable, UnsupportedMediaType, UriTooLong,
};
use super::error::ErrorBody;
use super::manage::{
    access_key_configurations, access_keys, api_keys, discovery, gateway_config, health,
    model_aliases, prices, probes, provider_health, provider_keys, providers, usage,
};
use super::openapi_dataplane;
use super::{admin, method_not_allowed, metrics};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "modelgate",
        description = "A self-hosted AI gateway: a registry of LLM providers and their keys, \
            managed through an API that follows ngrok's AI Gateway API, and a data plane under \
            `/v1` (tag `data plane`) that routes OpenAI- and Anthropic-format model calls to \
            those providers with failover. Every management error is \
            `{errorCode, statusCode, msg, details}`; `details` names each offending field or \
            parameter with the rule it broke. Data-plane errors come in the route's format's \
            own shape."
    ),
    paths(
        providers::list,
        providers::create,
        providers::get,
        providers::update,
        providers::delete,
        probes::test_provider,
        discovery::discover_models,
        provider_health::health,
        provider_keys::list,
        provider_keys::create,
        provider_keys::get,
        provider_keys::update,
        provider_keys::delete,
        provider_keys::rotate,
        probes::test_key,
        api_keys::list,
        api_keys::create,
        api_keys::get,
        api_keys::update,
        api_keys::delete,
        access_keys::list,
        access_keys::create,
        access_keys::get,
        access_keys::update,
        access_keys::delete,
        access_keys::rotate,
        access_key_configurations::list,
        access_key_configurations::create,
        access_key_configurations::get,
        access_key_configurations::update,
        access_key_configurations::delete,
        model_aliases::list,
        model_aliases::create,
        model_aliases::get,
        model_aliases::update,
        model_aliases::delete,
        prices::list,
        prices::create,
        prices::get,
        prices::update,
        prices::delete,
        gateway_config::get,
        gateway_config::update,
        health::health,
        usage::list,
        usage::overview,
        openapi_json,
        metrics::scrape,
        admin::index,
        admin::asset,
        bifrost::list,
        bifrost::get,
        bifrost::create,
        bifrost::update,
        bifrost::delete,
        bifrost::keys::list,
        bifrost::keys::get,
        bifrost::keys::create,
        bifrost::keys::update,
        bifrost::keys::delete,
        agentstack::list,
        agentstack::get,
        agentstack::create,
        agentstack::delete,
        agentstack::match_models,
    ),
    components(
        schemas(ErrorBody),
        responses(
            BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
            PayloadTooLarge, RequestTimeout, UnsupportedMediaType, Internal, Unavailable,
            NotModified, MethodNotAllowed, UriTooLong, ProbeFailed, DiscoveryConflict,
            TooManyModels, DiscoveryFailed
        )
    ),
    modifiers(
        &BearerAuth, &ClosedObjects, &OptionalPatchBodies, &ResourceLinks, &EveryRoute,
        &HeadOperations
    ),
    tags(
        (name = "providers", description = "Upstream LLM providers and the models they serve"),
        (name = "provider-keys", description = "Credentials for providers; values are write-only"),
        (name = "api-keys", description = "The credentials that call this server: stored \
            management keys (`mgk_…`, the token shown once, on create) and the bootstrap ones \
            (the admin token, `[[auth.tokens]]`), read-only"),
        (name = "access-keys", description = "Data-plane credentials (`mga_…`, the token shown \
            once, on create): model calls on `/v1` only; every management route refuses them"),
        (name = "access-key-configurations", description = "Scopes for access keys: which \
            providers and models the keys under each may call"),
        (name = "model-aliases", description = "Model names apps send, routed to another \
            model with its fallbacks (modelgate's extension)"),
        (name = "prices", description = "What models' tokens cost, for usage events' cost \
            (modelgate's extension)"),
        (name = "gateway-config", description = "The gateway's own settings: timeouts, token \
            caps"),
        (name = "operations", description = "Health, metrics and this document"),
        (name = "admin", description = "The embedded admin page"),
        (name = "bifrost", description = "Bifrost's provider API (`/api/providers`, and \
            `/api/providers/{provider}/keys` for keys) over the same registry: its bodies, shapes and `{error: {message}}` errors"),
        (name = "agentstack", description = "AgentStack's model providers \
            (`/api/v1/model_providers`) over the same registry: UUID ids, `Authorization: \
            Basic` (a credential's id and token), `{detail}` errors"),
    )
)]
struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Document {
    static DOC: LazyLock<Document> = LazyLock::new(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(openapi_dataplane::document());
        doc
    });
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

/// What every route can answer before it runs: a target over 8 KiB (414), and a method it
/// does not serve (405, with `Allow`).
struct EveryRoute;

impl Modify for EveryRoute {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                for (status, name) in [("405", "MethodNotAllowed"), ("414", "UriTooLong")] {
                    operation.responses.responses.insert(
                        status.to_owned(),
                        RefOr::Ref(utoipa::openapi::Ref::from_response_name(name)),
                    );
                }
            }
        }
    }
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.head.as_mut(),
        item.post.as_mut(),
        item.put.as_mut(),
        item.patch.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// HEAD is served wherever GET is (RFC 9110): the same operation, answered without a body.
struct HeadOperations;

impl Modify for HeadOperations {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            let Some(get) = &item.get else { continue };
            let mut head = get.clone();
            head.operation_id = get.operation_id.as_ref().map(|id| {
                let mut chars = id.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase());
                format!(
                    "head{}{}",
                    first.into_iter().collect::<String>(),
                    chars.as_str()
                )
            });
            head.summary = get.summary.as_ref().map(|s| format!("{s} (headers only)"));
            for response in head.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response.content.clear();
                    response.links.clear();
                }
            }
            item.head = Some(head);
        }
    }
}

/// A PATCH (and an access key's rotation) reads its body with `Empty::NoChange`: no body at
/// all changes nothing.
struct OptionalPatchBodies;

impl Modify for OptionalPatchBodies {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            if let Some(body) = item.patch.as_mut().and_then(|op| op.request_body.as_mut()) {
                body.required = Some(Required::False);
            }
        }
        // A rotation without a body has no grace.
        let rotate = openapi.paths.paths.get_mut("/access-keys/{id}/rotate");
        if let Some(body) = rotate
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
        {
            body.required = Some(Required::False);
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
            &[
                "getProvider",
                "updateProvider",
                "testProvider",
                "deleteProvider",
            ],
        ),
        (
            "/api-keys",
            "/api-keys/{id}",
            &["getApiKey", "updateApiKey", "deleteApiKey"],
        ),
        (
            "/access-keys",
            "/access-keys/{id}",
            &[
                "getAccessKey",
                "updateAccessKey",
                "rotateAccessKey",
                "deleteAccessKey",
            ],
        ),
        (
            "/access-key-configurations",
            "/access-key-configurations/{id}",
            &[
                "getAccessKeyConfiguration",
                "updateAccessKeyConfiguration",
                "deleteAccessKeyConfiguration",
            ],
        ),
        (
            "/provider-keys",
            "/provider-keys/{id}",
            &[
                "getProviderKey",
                "updateProviderKey",
                "rotateProviderKey",
                "testProviderKey",
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
        // A test takes no If-Match.
        if !operation_id.starts_with("get") && !operation_id.starts_with("test") {
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
        let rotated = paths
            .get_mut("/access-keys/{id}/rotate")
            .and_then(|p| p.post.as_mut());
        Self::add(rotated, "200", &["getAccessKey", "deleteAccessKey"]);
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
                        "A token from `[[auth.tokens]]`, the admin token the server writes to \
                         `<data_dir>/admin-token` on first start, or a stored key's `mgk_…` \
                         token (`POST /api-keys`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "AgentStack's routes: a management credential's id as the user \
                         (`admin` for the admin token, an `[[auth.tokens]]` name or a stored \
                         key's id) and its token as the password.",
                    ))
                    .build(),
            ),
        );
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
                .configure(|cfg| super::super::configure(cfg, false))
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

    /// The data plane's `/v1` routes included: each is an operation tagged `data plane`.
    #[actix_web::test]
    async fn every_route_the_app_registers_is_in_the_document_and_no_other() {
        let registered = registered_paths().await;
        for path in ["/v1/chat/completions", "/v1/v1/messages", "/providers/{id}"] {
            assert!(registered.contains(path), "{path}: {registered:?}");
        }
        let documented: BTreeSet<String> = super::document().paths.paths.keys().cloned().collect();
        assert_eq!(registered, documented);
        for (path, item) in &super::document().paths.paths {
            let tags: Vec<&String> = [&item.get, &item.post]
                .into_iter()
                .flatten()
                .flat_map(|op| op.tags.iter().flatten())
                .collect();
            let data_plane = tags.iter().any(|t| *t == super::openapi_dataplane::TAG);
            assert_eq!(data_plane, path.starts_with("/v1"), "{path}: {tags:?}");
        }
    }

    /// utoipa's model cannot read back the JSON Schema keywords it has no field for (the
    /// provider settings' `propertyNames`, `const`, `if`), so the text is read back as JSON;
    /// `tests/fuzz/run` validates the served document with openapi-spec-validator.
    #[test]
    fn the_document_is_openapi_3_1_and_round_trips() {
        let text = serde_json::to_string(&super::document()).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let paths = json["paths"].as_object().unwrap();
        assert_eq!(paths.len(), super::document().paths.paths.len());
        let create = &json["components"]["schemas"]["CreateProvider"]["properties"];
        let headers = &create["network"]["properties"]["extraHeaders"];
        assert!(headers["propertyNames"]["pattern"].is_string(), "{headers}");
    }
}
