//! The admin page: files under `static/`, embedded in the binary (also in debug builds, so
//! tests exercise exactly what ships), served at `/` and `/assets/…`. The page is a plain
//! client of the `/providers` API: it has no routes of its own.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::conditional::none_match_hits;
use super::docs::{IfNoneMatch, NotFound, NotModified};
use super::{method_not_allowed, no_route};

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Only our own origin, no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/")
            .route(web::get().to(index))
            .route(web::head().to(index))
            .default_service(method_not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/assets/{path:.*}")
            .route(web::get().to(asset))
            .route(web::head().to(asset))
            .default_service(method_not_allowed("GET, HEAD")),
    );
}

/// The `{path}` of `/assets/…`: one of the embedded files.
pub struct AssetPath;

impl utoipa::IntoParams for AssetPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let names: Vec<String> = asset_paths().filter(|p| p != "index.html").collect();
        vec![
            ParameterBuilder::new()
                .name("path")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("An embedded file of the admin page."))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(names)),
                ))
                .build(),
        ]
    }
}

/// Every embedded file's path (for tests and diagnostics).
pub fn asset_paths() -> impl Iterator<Item = String> {
    Assets::iter().map(|p| p.into_owned())
}

#[utoipa::path(
    get, path = "/", tag = "admin", operation_id = "adminPage",
    summary = "The admin page",
    params(IfNoneMatch),
    responses(
        (status = 200, description = "The page; it signs in with a bearer token itself.",
            content_type = "text/html", body = String),
        (status = 304, response = NotModified),
    ),
    security(())
)]
pub(crate) async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html", "no-store").await
}

#[utoipa::path(
    get, path = "/assets/{path}", tag = "admin", operation_id = "adminAsset",
    summary = "A file of the admin page",
    params(AssetPath, IfNoneMatch),
    responses(
        (status = 200, description = "The file.", content(
            (String = "text/css"), (String = "text/javascript"),
            (String = "application/javascript"), (String = "image/svg+xml"))),
        (status = 304, response = NotModified),
        (status = 404, response = NotFound),
    ),
    security(())
)]
pub(crate) async fn asset(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().get("path").unwrap_or_default().to_owned();
    if path == "index.html" {
        return no_route(req).await;
    }
    // Asset names carry no version, so browsers revalidate each time (a cheap 304 by ETag)
    // rather than keep a stale script after an upgrade.
    serve(&req, &path, "no-cache").await
}

async fn serve(req: &HttpRequest, path: &str, cache_control: &'static str) -> HttpResponse {
    let Some(file) = Assets::get(path) else {
        return no_route(req.clone()).await;
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let not_modified = none_match_hits(req.headers(), &etag);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, content_type(file.metadata.mimetype())))
        .insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if not_modified {
        return response.finish();
    }
    response.body(file.data.into_owned())
}

/// Text types get an explicit charset so the browser never has to guess.
fn content_type(mime: &str) -> HeaderValue {
    let value = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("application/octet-stream"))
}
