//! The admin page: files under `static/`, embedded in the binary (also in debug builds, so
//! tests exercise exactly what ships), served at `/` and `/assets/…`. The page is a plain
//! client of the `/providers` API: it has no routes of its own.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::routes::no_route;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// Only our own origin, no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/", web::head().to(index))
        .route("/assets/{path:.*}", web::get().to(asset))
        .route("/assets/{path:.*}", web::head().to(asset));
}

/// Every embedded file's path (for tests and diagnostics).
pub fn asset_paths() -> impl Iterator<Item = String> {
    Assets::iter().map(|p| p.into_owned())
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html", "no-store").await
}

async fn asset(req: HttpRequest) -> HttpResponse {
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
    let not_modified = fresh(req, &etag);
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

fn fresh(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
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
