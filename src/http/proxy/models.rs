//! `GET /v1/models`: every `providerId:modelId` the caller may use, in OpenAI's list shape, or
//! in Anthropic's when the request carries `anthropic-version` (so both SDKs' `models.list()`
//! work against the same URL).

use std::time::{Duration, UNIX_EPOCH};

use crate::http::request_id::RequestId;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::{authenticate, format_of, not_allowed, refusal};
use crate::domain::surface::Format;
use crate::gateway::Chosen;
use crate::http::AppState;

pub(super) fn resource() -> actix_web::Resource {
    web::resource("/models")
        .route(web::get().to(list))
        .default_service(web::to(|req: HttpRequest| async move {
            not_allowed(format_of(&req), "GET", &req)
        }))
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = format_of(&req);
    let id = RequestId::of(&req);
    if let Err(error) = authenticate(&req) {
        return refusal(format, &error, &id, &Chosen::default());
    }
    let snapshot = state.gateway.snapshot();
    // (id, providerId, created): a provider's models in declared order, providers by age.
    let models: Vec<(String, String, u64)> = snapshot
        .providers()
        .flat_map(|route| {
            route.models.iter().map(move |m| {
                (
                    format!("{}:{m}", route.slug),
                    route.slug.clone(),
                    route.created_ms,
                )
            })
        })
        .collect();
    let body = match format {
        Format::OpenAi => json!({
            "object": "list",
            "data": models.iter().map(|(id, owner, created)| json!({
                "id": id, "object": "model", "created": created / 1000, "owned_by": owner,
            })).collect::<Vec<Value>>(),
        }),
        Format::Anthropic => json!({
            "data": models.iter().map(|(id, _, created)| json!({
                "type": "model", "id": id, "display_name": id,
                "created_at": humantime::format_rfc3339_seconds(
                    UNIX_EPOCH + Duration::from_millis(*created)).to_string(),
            })).collect::<Vec<Value>>(),
            "has_more": false,
            "first_id": models.first().map(|m| &m.0),
            "last_id": models.last().map(|m| &m.0),
        }),
    };
    HttpResponse::Ok()
        .insert_header((super::REQUEST_ID, id))
        .json(body)
}
