//! `/gateway-config`: the gateway's own settings, in ngrok's `AIGatewayConfig` shape. One
//! resource, always there: GET and HEAD read it, PATCH changes it (omit keeps, `null` clears a
//! cap or the metadata, `If-Match` as for providers).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Input;
use crate::domain::gateway_config::{
    FileTimeouts, GatewayConfig, UpdateGatewayConfig, go_duration,
};
use crate::http::auth::require_bearer;
use crate::http::body::{Empty, read_json};
use crate::http::conditional::{if_match, tagged};
use crate::http::error::ApiError;
use crate::http::query;
use crate::http::{AppState, docs, method_not_allowed, write_failed};

const NOUN: &str = "gateway configuration";
const PATH: &str = "/gateway-config";
/// A self-hosted gateway is one account.
const ACCOUNT_ID: &str = "default";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .wrap(middleware::from_fn(require_bearer))
            .route(web::get().to(get))
            .route(web::head().to(get))
            .route(web::patch().to(update))
            .default_service(method_not_allowed("GET, HEAD, PATCH")),
    );
}

#[utoipa::path(
    get, path = "/gateway-config", tag = "gateway-config", operation_id = "getGatewayConfig",
    summary = "Get the gateway's own settings",
    description = "A timeout never written is the config file's (`[gateway]`); a cap never \
        written, or cleared, is `null`.",
    params(docs::IfNoneMatch),
    responses(
        (status = 200, description = "The settings.", body = ConfigView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 304, response = docs::NotModified),
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let config = state.registry.store().gateway_config()?;
    Ok(tagged(
        &req,
        config.etag(),
        &ConfigView::new(&config, &state),
    ))
}

#[utoipa::path(
    patch, path = "/gateway-config", tag = "gateway-config",
    operation_id = "updateGatewayConfig",
    summary = "Change some of the gateway's own settings",
    description = "Fields left out keep their value; `null` clears a token cap or the \
        metadata. Applied from the next model call on; a provider's own timeouts still beat \
        these. An empty body changes nothing.",
    params(docs::IfMatch),
    request_body(content = UpdateGatewayConfig, content_type = "application/json",
        description = "Optional: no body changes nothing."),
    responses(
        (status = 200, description = "The settings after the change; durable before this \
            answer.", body = ConfigView,
            headers(("ETag" = String, description = "Entity tag of this version"))),
        (status = 412, response = docs::PreconditionFailed),
        docs::BodyErrors,
        docs::AuthErrors,
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::none(&req)?;
    let precondition = if_match(req.headers())?;
    let input: Input<UpdateGatewayConfig> = read_json(&req, body, Empty::NoChange).await?;
    let config = state
        .registry
        .update_gateway_config(input, precondition, file_timeouts(&state))
        .await
        .map_err(|e| write_failed(&req, NOUN, e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, config.etag()))
        .json(ConfigView::new(&config, &state)))
}

fn file_timeouts(state: &AppState) -> FileTimeouts {
    let t = state.gateway.file_timeouts();
    FileTimeouts {
        total: t.total,
        per_request: t.attempt,
    }
}

/// ngrok's `AIGatewayConfig`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AIGatewayConfig)]
pub(crate) struct ConfigView<'a> {
    /// Always `default`: a self-hosted gateway is one account.
    account_id: &'static str,
    uri: String,
    #[schema(schema_with = crate::domain::gateway_config::total_timeout_schema)]
    total_timeout: String,
    #[schema(schema_with = crate::domain::gateway_config::per_request_timeout_schema)]
    per_request_timeout: String,
    #[schema(schema_with = crate::domain::gateway_config::max_input_tokens_schema)]
    max_input_tokens: Option<u32>,
    #[schema(schema_with = crate::domain::gateway_config::max_output_tokens_schema)]
    max_output_tokens: Option<u32>,
    #[schema(schema_with = crate::domain::gateway_config::metadata_schema)]
    metadata: Option<&'a str>,
}

impl<'a> ConfigView<'a> {
    fn new(c: &'a GatewayConfig, state: &AppState) -> ConfigView<'a> {
        let file = file_timeouts(state);
        ConfigView {
            account_id: ACCOUNT_ID,
            uri: state.uri(PATH),
            total_timeout: go_duration(c.total(file)),
            per_request_timeout: go_duration(c.per_request(file)),
            max_input_tokens: c.max_input_tokens,
            max_output_tokens: c.max_output_tokens,
            metadata: c.metadata.as_deref(),
        }
    }
}
