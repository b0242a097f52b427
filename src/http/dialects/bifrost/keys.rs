//! Bifrost's key routes, `/api/providers/{provider}/keys[/{key_id}]`, over modelgate's provider
//! keys: list (`{keys, total}`), get, create (POST), replace (PUT, as Bifrost's handler merges
//! it: the value sent back in its redacted form keeps the stored one) and delete (answering
//! the key as it was). A key is Bifrost's `{id, name, value, models, weight}`; `value` is only
//! ever its redacted form, never the secret.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use zeroize::Zeroizing;

use super::{Failure, answer, not_allowed};
use crate::domain::{
    CreateProviderKey, ENV_PREFIX, Input, ProviderKey, RotateProviderKey, StoredValue,
    UpdateProviderKey,
};
use crate::http::auth::Caller;
use crate::http::body::{Empty, read_json};
use crate::http::dialects::Problem;
use crate::http::error::ApiError;
use crate::http::{AppState, MAX_PAGE, truncated, write_failed};

/// The body of a key's POST or PUT, as Bifrost's `schemas.Key` reads it. Fields of Bifrost's
/// that modelgate cannot honour (`enabled`, a cloud's key config, …) are refused by name
/// rather than dropped.
#[derive(Default, Deserialize)]
pub struct KeyBody {
    /// Sent back by a client that echoes an answer: the path names the key, and a created
    /// key's id is modelgate's own, so it is read and not used.
    #[serde(rename = "id")]
    _id: Option<String>,
    name: Option<String>,
    value: Option<KeyValue>,
    models: Option<Vec<String>>,
    weight: Option<f64>,
}

/// Bifrost's `EnvVar`: a plain string, or `{value, env_var, from_env}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum KeyValue {
    Plain(Zeroizing<String>),
    Object {
        value: Option<Zeroizing<String>>,
        env_var: Option<String>,
        #[serde(default)]
        from_env: bool,
    },
}

impl KeyValue {
    /// The value in the ngrok API's terms: the secret, or `env.NAME`.
    fn into_ngrok(self) -> Option<Zeroizing<String>> {
        match self {
            KeyValue::Plain(v) => Some(v),
            KeyValue::Object {
                env_var: Some(var),
                from_env: true,
                ..
            } => Some(Zeroizing::new(match var.starts_with(ENV_PREFIX) {
                true => var,
                false => format!("{ENV_PREFIX}{var}"),
            })),
            KeyValue::Object { value, .. } => value,
        }
        .filter(|v| !v.is_empty())
    }
}

/// A key as Bifrost answers it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BifrostKey)]
pub(crate) struct KeyView<'a> {
    id: String,
    name: &'a str,
    value: ValueView<'a>,
    /// The only models the key serves; empty: every model.
    models: &'a [String],
    /// Its share of its provider's calls (1 when none was set).
    weight: f64,
}

/// Bifrost's `EnvVar`, redacted: `value` is the redacted form (`env.NAME` as written).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BifrostKeyValue)]
struct ValueView<'a> {
    value: &'a str,
    env_var: String,
    from_env: bool,
}

impl<'a> KeyView<'a> {
    fn of(key: &'a ProviderKey) -> KeyView<'a> {
        let env = match &key.value {
            StoredValue::Env(var) => Some(var),
            StoredValue::Sealed(_) => None,
        };
        KeyView {
            id: key.id.to_string(),
            name: &key.name,
            value: ValueView {
                value: &key.key_redacted,
                env_var: env.map(|v| format!("{ENV_PREFIX}{v}")).unwrap_or_default(),
                from_env: env.is_some(),
            },
            models: &key.routing.models,
            weight: key.routing.weight.unwrap_or(1.0),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BifrostKeyList)]
pub(crate) struct ListView<'a> {
    keys: Vec<KeyView<'a>>,
    total: usize,
}

/// The key resources, inside the `/api/providers` scope (its auth, its 404).
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{provider}/keys")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(|| async { not_allowed("GET, HEAD, POST") })),
    )
    .service(
        web::resource("/{provider}/keys/{key_id}")
            .route(web::get().to(get))
            .route(web::head().to(get))
            .route(web::put().to(update))
            .route(web::delete().to(delete))
            .default_service(web::to(|| async { not_allowed("GET, HEAD, PUT, DELETE") })),
    );
}

fn problem(status: StatusCode, message: String) -> Failure {
    Failure(Problem { status, message })
}

/// The provider the path names (registered, or a catalog id), refused as Bifrost refuses:
/// 404 when there is none, 400 for a keyless one.
fn provider(req: &HttpRequest, state: &AppState, keyless: &str) -> Result<String, Failure> {
    let name = req.match_info().get("provider").unwrap_or_default();
    let snapshot = state.gateway.snapshot();
    let Some(route) = snapshot.route(name) else {
        return Err(problem(
            StatusCode::NOT_FOUND,
            format!("Provider not found: {}", truncated(name, 64)),
        ));
    };
    if route.calling.keyless {
        return Err(problem(StatusCode::BAD_REQUEST, keyless.to_owned()));
    }
    Ok(route.slug.clone())
}

/// The key the path names, if it is one of `slug`'s.
fn key(req: &HttpRequest, state: &AppState, slug: &str) -> Result<ProviderKey, Failure> {
    let raw = req.match_info().get("key_id").unwrap_or_default();
    let missing = || {
        problem(
            StatusCode::NOT_FOUND,
            format!("Provider key not found: {}", truncated(raw, 64)),
        )
    };
    let id = Ulid::from_string(raw).map_err(|_| missing())?;
    let found = state.registry.store().get_key(id).map_err(ApiError::from)?;
    found
        .filter(|k| k.provider_id.as_str() == slug)
        .ok_or_else(missing)
}

fn written(req: &HttpRequest, e: crate::registry::WriteError) -> Failure {
    Failure::from(write_failed(req, "provider key", e))
}

#[utoipa::path(
    get, path = "/api/providers/{provider}/keys", tag = "bifrost", operation_id = "bifrostListKeys",
    summary = "List a provider's keys (Bifrost's shape), newest first, values redacted",
    params(("provider" = String, Path, description = "The provider's `providerId` or catalog id")),
    responses(
        (status = 200, description = "Every key of the provider.", body = ListView),
        (status = 404, description = "No such provider.", body = super::ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer((|| {
        let slug = provider(&req, &state, "Cannot list keys of a keyless provider")?;
        let store = state.registry.store();
        let mut keys = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .list_keys(Some(&slug), before, MAX_PAGE)
                .map_err(ApiError::from)?;
            before = page.items.last().map(|k| k.id);
            keys.extend(page.items);
            if !page.has_more {
                break;
            }
        }
        Ok(HttpResponse::Ok().json(ListView {
            total: keys.len(),
            keys: keys.iter().map(KeyView::of).collect(),
        }))
    })())
}

#[utoipa::path(
    get, path = "/api/providers/{provider}/keys/{key_id}", tag = "bifrost",
    operation_id = "bifrostGetKey", summary = "One key of a provider, its value redacted",
    params(("provider" = String, Path, description = "The provider's `providerId` or catalog id"),
           ("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "The key.", body = KeyView),
        (status = 404, description = "No such provider, or no such key of it.", body = super::ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer((|| {
        let slug = provider(&req, &state, "Cannot get keys of a keyless provider")?;
        let key = key(&req, &state, &slug)?;
        Ok(HttpResponse::Ok().json(KeyView::of(&key)))
    })())
}

#[utoipa::path(
    post, path = "/api/providers/{provider}/keys", tag = "bifrost", operation_id = "bifrostCreateKey",
    summary = "Add a key to a provider (Bifrost's key body)",
    description = "`value` is the secret or `env.NAME` (or Bifrost's `{value, env_var, from_env}`); \
        `models` limits the key to those model ids (none: every model); `weight` (above 0, at \
        most 1000; default 1) is its share of the provider's calls among the keys that may serve \
        a model, by smooth weighted round robin. The answer shows the value redacted.",
    params(("provider" = String, Path, description = "The provider's `providerId` or catalog id")),
    request_body(content = Object, description = "Bifrost's key: `{name, value, models, weight}`."),
    responses(
        (status = 200, description = "Added; durable before this answer.", body = KeyView),
        (status = 400, description = "Bad input, naming each field.", body = super::ErrorBody),
        (status = 404, description = "No such provider.", body = super::ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let slug = provider(&req, &state, "Cannot add keys to a keyless provider")?;
            let input: Input<KeyBody> = read_json(&req, payload, Empty::Refuse).await?;
            let body = input.value;
            let value = body.value.and_then(KeyValue::into_ngrok);
            // Bifrost's own words for a key without a value; with other faults the ngrok
            // rules report it beside them.
            if value.is_none() && input.violations.is_empty() {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    "Key value must not be empty".into(),
                ));
            }
            let ngrok = Input {
                value: CreateProviderKey {
                    provider_id: Some(slug),
                    name: body.name,
                    value,
                    weight: body.weight,
                    models: body.models,
                    ..Default::default()
                },
                violations: input.violations,
            };
            let key = state
                .registry
                .create_key(ngrok, &caller.id)
                .await
                .map_err(|e| written(&req, e))?;
            Ok(HttpResponse::Ok().json(KeyView::of(&key)))
        }
        .await,
    )
}

#[utoipa::path(
    put, path = "/api/providers/{provider}/keys/{key_id}", tag = "bifrost",
    operation_id = "bifrostUpdateKey", summary = "Replace a key's name, value, models and weight",
    description = "As Bifrost merges it: `models` and `weight` are replaced (left out: every \
        model, weight 1); `name` left out is kept; `value` sent back as the redacted form this \
        API answered (or left out) keeps the stored secret, any other value replaces it.",
    params(("provider" = String, Path, description = "The provider's `providerId` or catalog id"),
           ("key_id" = String, Path, description = "The key's id")),
    request_body(content = Object, description = "Bifrost's key: `{name, value, models, weight}`."),
    responses(
        (status = 200, description = "The key after the change; durable before this answer.", body = KeyView),
        (status = 400, description = "Bad input, naming each field.", body = super::ErrorBody),
        (status = 404, description = "No such provider, or no such key of it.", body = super::ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn update(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(
        async {
            let slug = provider(&req, &state, "Cannot update keys on a keyless provider")?;
            let current = key(&req, &state, &slug)?;
            let input: Input<KeyBody> = read_json(&req, payload, Empty::Refuse).await?;
            let body = input.value;
            let name = body.name.unwrap_or_else(|| current.name.clone());
            let rotation = body
                .value
                .and_then(KeyValue::into_ngrok)
                .filter(|v| v.as_str() != current.key_redacted)
                .map(|value| {
                    Input::from(RotateProviderKey {
                        value: Some(value),
                        name: Some(name.clone()),
                    })
                });
            let changes = Input {
                value: UpdateProviderKey {
                    name: Some(Some(name)),
                    weight: Some(body.weight),
                    models: Some(body.models),
                    ..Default::default()
                },
                violations: input.violations,
            };
            let key = state
                .registry
                .put_key(current.id, changes, rotation, &caller.id)
                .await
                .map_err(|e| written(&req, e))?;
            Ok(HttpResponse::Ok().json(KeyView::of(&key)))
        }
        .await,
    )
}

#[utoipa::path(
    delete, path = "/api/providers/{provider}/keys/{key_id}", tag = "bifrost",
    operation_id = "bifrostDeleteKey", summary = "Delete a key, answering it as it was",
    params(("provider" = String, Path, description = "The provider's `providerId` or catalog id"),
           ("key_id" = String, Path, description = "The key's id")),
    responses(
        (status = 200, description = "Deleted; durable before this answer.", body = KeyView),
        (status = 404, description = "No such provider, or no such key of it.", body = super::ErrorBody),
        (status = 409, description = "A router names the key.", body = super::ErrorBody),
        (status = 401, description = "No management credential as Bearer.", body = super::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn delete(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    answer(
        async {
            let slug = provider(&req, &state, "Cannot delete keys on a keyless provider")?;
            let current = key(&req, &state, &slug)?;
            state
                .registry
                .delete_key(current.id, None, None)
                .await
                .map_err(|e| written(&req, e))?;
            Ok(HttpResponse::Ok().json(KeyView::of(&current)))
        }
        .await,
    )
}
