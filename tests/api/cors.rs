//! CORS on the data plane: the configured origins' preflights are answered on `/v1` only, by
//! name (never `*`), with `Vary: Origin`; other origins and the management API get none.

use reqwest::Method;
use serde_json::json;

use crate::helpers::data_plane::{chat, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};
use crate::upstream::Mock;

const ORIGIN: &str = "https://chat.example";

async fn with_origins() -> TestApp {
    spawn_app_with(|s| {
        s.gateway.cors_origins = vec![
            "https://Chat.Example/".into(),
            "http://localhost:5173".into(),
        ]
    })
    .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-stainless-lang, x-unknown",
        )
        .send()
        .await
        .unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[actix_web::test]
async fn an_allowed_origins_preflight_is_answered_by_name_on_every_v1_route() {
    let app = with_origins().await;
    for path in [
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/responses",
        "/v1/models",
    ] {
        let res = preflight(&app, path, ORIGIN).await;
        assert_eq!(res.status(), 204, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin").as_deref(),
            Some(ORIGIN)
        );
        assert_eq!(header(&res, "vary").as_deref(), Some("Origin"));
        let allowed = header(&res, "access-control-allow-headers").unwrap();
        for name in [
            "authorization",
            "x-api-key",
            "content-type",
            "anthropic-version",
            "x-stainless-lang",
        ] {
            assert!(
                allowed.split(", ").any(|h| h == name),
                "{name} in {allowed}"
            );
        }
        assert!(!allowed.contains("x-unknown"), "{allowed}");
        assert!(
            header(&res, "access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
    }
}

#[actix_web::test]
async fn an_allowed_origins_call_is_marked_for_it_and_others_are_not() {
    let app = with_origins().await;
    let mock = Mock::start().await;
    app.create(&registered("local", &mock.base, &["m"], json!(null)))
        .await;
    let call = |origin: &'static str| {
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .header("origin", origin)
            .json(&chat("local:m"))
            .send()
    };
    let res = call(ORIGIN).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some(ORIGIN)
    );
    assert!(header(&res, "vary").unwrap().contains("Origin"));
    let exposed = header(&res, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("x-modelgate-request-id"), "{exposed}");

    let res = call("https://evil.example").await.unwrap();
    assert_eq!(
        res.status(),
        200,
        "the origin is not a credential: the call itself is served"
    );
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert!(header(&res, "vary").unwrap().contains("Origin"));

    // A preflight from an origin not listed gets no CORS answer, so the browser refuses.
    let res = preflight(&app, "/v1/chat/completions", "https://evil.example").await;
    assert_ne!(res.status(), 204);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

#[actix_web::test]
async fn the_management_api_never_answers_a_preflight() {
    let app = with_origins().await;
    for path in ["/providers", "/provider-keys", "/api-keys"] {
        let res = preflight(&app, path, ORIGIN).await;
        assert_ne!(res.status(), 204, "{path}");
        assert_eq!(header(&res, "access-control-allow-origin"), None, "{path}");
    }
}

#[actix_web::test]
async fn without_origins_configured_nothing_is_answered_for_cors() {
    let app = spawn_app().await;
    let res = preflight(&app, "/v1/chat/completions", ORIGIN).await;
    assert_eq!(res.status(), 405);
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_eq!(header(&res, "vary"), None);
}
