//! `/model-aliases` (modelgate's extension): model names apps send that calls route to another
//! model string, then to the alias's fallbacks. The same conventions as the other resources:
//! ULID ids, `beforeId`/`limit` paging, ETags and `If-Match`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use crate::domain::{CreateModelAlias, Input, ModelAlias, UpdateModelAlias};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};

const NOUN: &str = "model alias";
const PATH: &str = "/model-aliases";

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
    post, path = "/model-aliases", tag = "model-aliases", operation_id = "createModelAlias",
    summary = "Create a model alias",
    description = "Calls whose `model` (or an entry of `models`) is `alias`, in any case, go \
        to `target`, then to each of `fallbacks`, then to the call's own `models`. An access \
        key's scope is checked against where the call goes (the target and fallbacks), never \
        against the alias. An alias cannot start with a registered providerId or catalog id \
        and `:`, nor point at another alias, nor be what another alias points at: 400 naming \
        the field. A name another alias has, in any case, is 409 `alias_taken`.",
    request_body = CreateModelAlias,
    responses(
        (status = 201, description = "Created; durable before this answer, and routed from \
            the next call.", body = ModelAliasView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new alias"))),
        (status = 409, response = docs::Conflict),
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
    let input: Input<CreateModelAlias> = read_json(&req, body, Empty::Refuse).await?;
    let alias = state
        .registry
        .create_model_alias(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let view = ModelAliasView::new(&alias, &state);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.uri.clone()))
        .insert_header((header::ETAG, alias.etag()))
        .json(view))
}

#[utoipa::path(
    get, path = "/model-aliases", tag = "model-aliases", operation_id = "listModelAliases",
    summary = "List model aliases, newest first",
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
        .list_model_aliases(query.before, query.limit)?;
    let last = page.items.last().map(|a| a.id);
    Ok(HttpResponse::Ok().json(ListView {
        model_aliases: page
            .items
            .iter()
            .map(|a| ModelAliasView::new(a, &state))
            .collect(),
        uri: state.uri(PATH),
        next_page_uri: query.next_page(&state, PATH, page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/model-aliases/{id}", tag = "model-aliases", operation_id = "getModelAlias",
    summary = "Get a model alias",
    params(docs::Id, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The alias.", body = ModelAliasView,
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
    let alias = state
        .registry
        .store()
        .get_model_alias(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(
        &req,
        alias.etag(),
        &ModelAliasView::new(&alias, &state),
    ))
}

#[utoipa::path(
    patch, path = "/model-aliases/{id}", tag = "model-aliases", operation_id = "updateModelAlias",
    summary = "Change a model alias",
    description = "Fields left out keep their value; `null` clears `description`, `metadata` \
        or `fallbacks` (`alias` and `target` cannot be cleared). `fallbacks` is replaced \
        whole. The alias as changed obeys the create's rules; calls route by it from the next \
        one on.",
    params(docs::Id, docs::IfMatch),
    request_body(content = UpdateModelAlias, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The alias after the change; durable before this \
            answer.", body = ModelAliasView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 404, response = docs::NotFound),
        (status = 409, response = docs::Conflict),
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
    let input: Input<UpdateModelAlias> = read_json(&req, body, Empty::NoChange).await?;
    let alias = state
        .registry
        .update_model_alias(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, alias.etag()))
        .json(ModelAliasView::new(&alias, &state)))
}

#[utoipa::path(
    delete, path = "/model-aliases/{id}", tag = "model-aliases", operation_id = "deleteModelAlias",
    summary = "Delete a model alias",
    description = "From the next call on, the name is routed as any model name.",
    params(docs::Id, docs::IfMatch),
    responses(
        (status = 204, description = "Deleted; durable before this answer."),
        (status = 404, response = docs::NotFound),
        (status = 412, response = docs::PreconditionFailed),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let id = path_id(&req, NOUN)?;
    let precondition = if_match(req.headers())?;
    state
        .registry
        .delete_model_alias(id, precondition)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

fn alias_path(id: Ulid) -> String {
    format!("{PATH}/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ModelAliasList)]
pub(crate) struct ListView<'a> {
    model_aliases: Vec<ModelAliasView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A model alias as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ModelAlias)]
pub(crate) struct ModelAliasView<'a> {
    id: String,
    uri: String,
    alias: &'a str,
    target: &'a str,
    fallbacks: &'a [String],
    created_at: String,
    updated_at: String,
    created_by: Ref,
    last_updated_by: Ref,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a str>,
}

impl<'a> ModelAliasView<'a> {
    fn new(a: &'a ModelAlias, state: &AppState) -> ModelAliasView<'a> {
        ModelAliasView {
            id: a.id.to_string(),
            uri: state.uri(&alias_path(a.id)),
            alias: &a.alias,
            target: &a.target,
            fallbacks: &a.fallbacks,
            created_at: rfc3339(a.created_at_ms),
            updated_at: rfc3339(a.updated_at_ms),
            created_by: state.credential(&a.created_by),
            last_updated_by: state.credential(&a.last_updated_by),
            description: a.description.as_deref(),
            metadata: a.metadata.as_deref(),
        }
    }
}
