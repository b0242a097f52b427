//! `/prices` (modelgate's extension): what a model's tokens cost, for usage events'
//! `totalCost` and the overview's cost, written while the gateway runs (the config file's
//! `[prices]` stand where none is written). The same conventions as the other resources: ULID
//! ids, `beforeId`/`limit` paging, ETags and `If-Match`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;

use crate::domain::{CreatePrice, Input, ModelPrice, UpdatePrice};
use crate::http::auth::{Caller, require_bearer};
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::paging::ListQuery;
use crate::http::query;
use crate::http::{
    AppState, Ref, docs, method_not_allowed, no_route, not_found, path_id, rfc3339, write_failed,
};

const NOUN: &str = "price";
const PATH: &str = "/prices";

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
    post, path = "/prices", tag = "prices", operation_id = "createPrice",
    summary = "Create a model price",
    description = "Sets what `model`'s tokens cost, in USD per million tokens of each kind \
        (`input` is the uncached part); a kind left out costs nothing. `model` is \
        `providerId:modelId`, or a bare model id for that model at any provider (a qualified \
        price wins); a price written here wins over the config file's `[prices]` for the same \
        name. Another price for the same model, in any case, is 409 `price_taken`. Events \
        are priced when their attempt starts, from the next call on.",
    request_body = CreatePrice,
    responses(
        (status = 201, description = "Created; durable before this answer, and priced from \
            the next call.", body = PriceView,
            headers(("ETag" = String, description = "Entity tag of this version"),
                    ("Location" = String, description = "URI of the new price"))),
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
    let input: Input<CreatePrice> = read_json(&req, body, Empty::Refuse).await?;
    let price = state
        .registry
        .create_price(input, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    let view = PriceView::new(&price, &state);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, view.uri.clone()))
        .insert_header((header::ETAG, price.etag()))
        .json(view))
}

#[utoipa::path(
    get, path = "/prices", tag = "prices", operation_id = "listPrices",
    summary = "List model prices, newest first",
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
        .list_prices(query.before, query.limit)?;
    let last = page.items.last().map(|a| a.id);
    Ok(HttpResponse::Ok().json(ListView {
        prices: page
            .items
            .iter()
            .map(|p| PriceView::new(p, &state))
            .collect(),
        uri: state.uri(PATH),
        next_page_uri: query.next_page(&state, PATH, page.has_more, last),
    }))
}

#[utoipa::path(
    get, path = "/prices/{id}", tag = "prices", operation_id = "getPrice",
    summary = "Get a model price",
    params(docs::Id, docs::IfNoneMatch),
    responses(
        (status = 200, description = "The price.", body = PriceView,
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
    let price = state
        .registry
        .store()
        .get_price(id)?
        .ok_or_else(|| not_found(&req, NOUN))?;
    Ok(tagged(&req, price.etag(), &PriceView::new(&price, &state)))
}

#[utoipa::path(
    patch, path = "/prices/{id}", tag = "prices", operation_id = "updatePrice",
    summary = "Change a model price",
    description = "Fields left out keep their value; `null` sets a rate to 0 and clears \
        `description` (`model` cannot be cleared). Attempts that start after the answer are \
        priced so.",
    params(docs::Id, docs::IfMatch),
    request_body(content = UpdatePrice, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The price after the change; durable before this \
            answer.", body = PriceView,
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
    let input: Input<UpdatePrice> = read_json(&req, body, Empty::NoChange).await?;
    let price = state
        .registry
        .update_price(id, input, precondition, &caller.id)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, price.etag()))
        .json(PriceView::new(&price, &state)))
}

#[utoipa::path(
    delete, path = "/prices/{id}", tag = "prices", operation_id = "deletePrice",
    summary = "Delete a model price",
    description = "From the next call on, the model costs what the config file's `[prices]` \
        say, or nothing.",
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
        .delete_price(id, precondition)
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::NoContent().finish())
}

fn price_path(id: Ulid) -> String {
    format!("{PATH}/{id}")
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = PriceList)]
pub(crate) struct ListView<'a> {
    prices: Vec<PriceView<'a>>,
    uri: String,
    next_page_uri: Option<String>,
}

/// A model price as the API shows it: USD per million tokens of each kind.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Price)]
pub(crate) struct PriceView<'a> {
    id: String,
    uri: String,
    model: &'a str,
    input: f64,
    output: f64,
    cache_read: f64,
    cache_write: f64,
    created_at: String,
    updated_at: String,
    created_by: Ref,
    last_updated_by: Ref,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

impl<'a> PriceView<'a> {
    fn new(p: &'a ModelPrice, state: &AppState) -> PriceView<'a> {
        PriceView {
            id: p.id.to_string(),
            uri: state.uri(&price_path(p.id)),
            model: &p.model,
            input: p.rates.input,
            output: p.rates.output,
            cache_read: p.rates.cache_read,
            cache_write: p.rates.cache_write,
            created_at: rfc3339(p.created_at_ms),
            updated_at: rfc3339(p.updated_at_ms),
            created_by: state.credential(&p.created_by),
            last_updated_by: state.credential(&p.last_updated_by),
            description: p.description.as_deref(),
        }
    }
}
