//! The embedded admin page: every asset with its type, validators and security headers.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::helpers::spawn_app;

fn assert_security_headers(headers: &HeaderMap, path: &str) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{path}: {csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{path}: {csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY", "{path}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
}

#[actix_web::test]
async fn the_page_is_served_at_the_root_uncached_with_security_headers() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().contains_key("etag"));
    assert_security_headers(res.headers(), "/");
    let html = res.text().await.unwrap();
    // Relative, so the page works under a reverse proxy's sub-path.
    assert!(html.contains("\"assets/app.js\"") && html.contains("\"assets/style.css\""));
    // No inline script or style: the CSP would block it.
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
}

#[actix_web::test]
async fn every_embedded_asset_has_its_type_an_etag_and_revalidating_cache_headers() {
    let app = spawn_app().await;
    let paths: Vec<String> = modelgate::http::admin::asset_paths().collect();
    assert!(paths.len() >= 4, "{paths:?}");
    for path in paths.iter().filter(|p| *p != "index.html") {
        let url = app.url(&format!("/assets/{path}"));
        let res = app.client.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let expected = match path.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            other => panic!("no expected type for .{other}"),
        };
        assert_eq!(res.headers()["content-type"], expected, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        assert_security_headers(res.headers(), path);
        let etag = res.headers()["etag"].clone();
        assert!(!res.bytes().await.unwrap().is_empty(), "{path}");

        let res = app
            .client
            .get(&url)
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 304, "{path}");
        assert_eq!(res.headers()["etag"], etag);
        let res = app.client.head(&url).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }
    for missing in [
        "/assets/",
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/index.html",
    ] {
        let res = app.client.get(app.url(missing)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{missing}");
    }
}

#[test]
fn the_page_offers_exactly_the_formats_and_surfaces_the_server_accepts() {
    let js =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/static/catalog.js")).unwrap();
    let block = js
        .split("/* catalog:start */")
        .nth(1)
        .and_then(|rest| rest.split("/* catalog:end */").next())
        .expect("catalog.js marks its catalog");
    let object = &block[block.find('{').unwrap()..=block.rfind('}').unwrap()];
    let page: Value = serde_json::from_str(object).expect("the catalog block is JSON");
    let server: serde_json::Map<String, Value> = modelgate::domain::catalog::API_FORMATS
        .iter()
        .map(|f| (f.name.to_owned(), Value::from(f.surfaces.to_vec())))
        .collect();
    assert_eq!(page, Value::Object(server));
}
