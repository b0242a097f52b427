//! `/access-key-configurations`: reusable scopes for access keys, in ngrok's
//! `AIGatewayAccessKeyConfiguration` shape: its `access`, and its `router` (`routers`). An
//! access key names one by `accessKeyConfigurationId`; a change of its `access` or `router`
//! applies to every such key from the next call on.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use super::routers::RouterView;
use crate::domain::{
    AccessKeyConfiguration, AccessScope, CreateAccessKeyConfiguration, Input,
    UpdateAccessKeyConfiguration,
};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};
use crate::store::StoreError;

const NOUN: &str = "access key configuration";
const PATH: &str = "/access-key-configurations";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PATH)
            .wrap(middleware::from_fn(require_bearer))
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::head().to(list))
                    .route(web::post().to(create))
                    .default_service(method_not_allowed("GET, HEAD, POST")),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(get))
                    .route(web::head().to(get))
                    .route(web::patch().to(update))
                    .route(web::delete().to(delete))
                    .default_service(method_not_allowed("GET, HEAD, PATCH, DELETE")),
            )
            .default_service(web::to(no_route)),
    );
}

#[utoipa::path(
    post, path = "/access-key-configurations", tag = "access-key-configurations",
    operation_id = "createAccessKeyConfiguration",
    summary = "Create an access key configuration",
    description = "A scope for access keys: `access.providers.allow` and `access.models.allow` \
        say what the keys under it may call (left out: no limit on that dimension; `[]`: \
        nothing). An entry naming no known provider is a 400. `router.rules` say which \
        provider keys those calls use, per provider or per model (`providerId:modelId`, which \
        beats a provider rule); a step key is `{id}` of a key of the rule's provider or \
        `{name, value}`, a new provider key created in the same transaction.",
    request_body = CreateAccessKeyConfiguration,
    responses(
        (status = 201, description = "Created; durable before this answer.",
            body = ConfigurationView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new configuration"))),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let input: Input<CreateAccessKeyConfiguration> = read_json(&req, body, Empty::Refuse).await?;
    let configuration = state
        .registry
        .create_configuration(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let view = ConfigurationView::new(&configuration, &state)?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.uri.clone()))
        .insert_header((header::ETAG, configuration.etag()))
        .json(view))
}

#[utoipa::path(
    get, path = "/access-key-configurations", tag = "access-key-configurations",
    operation_id = "listAccessKeyConfigurations",
    summary = "List access key configurations, newest first",
    params(docs::Paging),
    responses(
        (status = 200, description = "One page.", body = ListView),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&req, false)?;
    let page = state
        .registry
        .store()
        .list_configurations(query.before, query.limit)?;
    let last = page.items.last().map(|c| c.id);
    Ok(HttpResponse::Ok().json(ListView {
        ai_gateway_access_key_configurations: page
            .items
            .iter()
            .map(|c| ConfigurationView::new(c, &state))
            .collect::<Result<_, _>>()?,
        uri: state.uri(PATH),
        next_page_uri: query.next_page(&state, PATH, page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/access-key-configurations/{id}", tag = "access-key-configurations",
    operation_id = "getAccessKeyConfiguration",
    summary = "Get an access key configuration",
    params(docs::Id, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The configuration.", body = ConfigurationView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 304, response = docs::NotModified),
        (status = 404, response = docs::NotFound),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let configuration = state
        .registry
        .store()
        .get_configuration(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(
        &req,
        configuration.etag(),
        &ConfigurationView::new(&configuration, &state)?,
    ))
}

#[utoipa::path(
    patch, path = "/access-key-configurations/{id}", tag = "access-key-configurations",
    operation_id = "updateAccessKeyConfiguration",
    summary = "Change an access key configuration",
    description = "Fields left out keep their value; `null` clears one (`access: null`: \
        allow-all; `router: null`: no rules). `access` and `router` are each replaced whole. \
        The keys under the configuration are scoped and routed by the new ones from the next \
        call on.",
    params(docs::Id, docs::IfMatch),
    request_body(content = UpdateAccessKeyConfiguration, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The configuration after the change; durable before this \
            answer.", body = ConfigurationView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    body: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let input: Input<UpdateAccessKeyConfiguration> = read_json(&req, body, Empty::NoChange).await?;
    let configuration = state
        .registry
        .update_configuration(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, configuration.etag()))
        .json(ConfigurationView::new(&configuration, &state)?))
}

#[utoipa::path(
    delete, path = "/access-key-configurations/{id}", tag = "access-key-configurations",
    operation_id = "deleteAccessKeyConfiguration",
    summary = "Delete an access key configuration",
    description = "A configuration that scopes access keys is refused with 409 \
        `configuration_in_use` (`details.accessKeys`: how many), unless `?cascade=true`, which \
        deletes those keys in the same transaction: no key is ever left unscoped.",
    params(docs::Id, docs::IfMatch, docs::CascadeKeys),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, response = docs::NotFound),
        (status = 409, response = docs::Conflict),
        (status = 412, response = docs::PreconditionFailed),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    let cascade = query::cascade(&req)?;
    state
        .registry
        .delete_configuration(id, precondition, cascade)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) fn configuration_path(id: Ulid) -> String {
    format!("{PATH}/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAccessKeyConfigurationList)]
pub(crate) struct ListView<'a> {
    ai_gateway_access_key_configurations: Vec<ConfigurationView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// One dimension of `access` (ngrok's `AccessDimension`).
#[derive(Serialize, ToSchema)]
#[schema(as = AccessDimension)]
pub(crate) struct DimensionView<'a> {
    allow: &'a [String],
}

/// ngrok's `AccessScope`: a dimension is shown when it limits anything.
#[derive(Serialize, ToSchema)]
#[schema(as = AccessScope)]
pub(crate) struct AccessView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    providers: Option<DimensionView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    models: Option<DimensionView<'a>>,
}

impl<'a> AccessView<'a> {
    fn new(access: &'a AccessScope) -> AccessView<'a> {
        let dimension =
            |list: &'a Option<Vec<String>>| list.as_deref().map(|allow| DimensionView { allow });
        AccessView {
            providers: dimension(&access.providers),
            models: dimension(&access.models),
        }
    }
}

/// A configuration as the API shows it (ngrok's `AIGatewayAccessKeyConfiguration`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayAccessKeyConfiguration)]
pub(crate) struct ConfigurationView<'a> {
    id: String,
    uri: String,
    name: &'a str,
    created_at: String,
    updated_at: String,
    created_by: Ref,
    last_updated_by: Ref,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
    /// Left out: allow-all.
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<AccessView<'a>>,
    /// Left out: no rules; every provider's own keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    router: Option<RouterView<'a>>,
}

impl<'a> ConfigurationView<'a> {
    fn new(
        c: &'a AccessKeyConfiguration,
        state: &AppState,
    ) -> Result<ConfigurationView<'a>, StoreError> {
        let router = c
            .router
            .as_ref()
            .map(|r| RouterView::new(r, state.registry.store()))
            .transpose()?;
        Ok(ConfigurationView {
            id: c.id.to_string(),
            uri: state.uri(&configuration_path(c.id)),
            name: &c.name,
            created_at: rfc3339(c.created_at_ms),
            updated_at: rfc3339(c.updated_at_ms),
            created_by: state.credential(&c.created_by),
            last_updated_by: state.credential(&c.last_updated_by),
            description: c.description.as_deref(),
            metadata: c.metadata.as_deref(),
            access: c.access.as_ref().map(AccessView::new),
            router,
        })
    }
}
