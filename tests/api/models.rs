//! `GET /v1/models` and `GET /v1/models/{model}`: each format lists (and finds) the models its
//! own routes accept, in its own shape; Anthropic's list pages as Anthropic's does.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::data_plane::{anthropic_error, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, TestApp, spawn_app};

const NOWHERE: &str = "http://127.0.0.1:9/v1";

/// A GET as an Anthropic SDK sends it: `x-api-key` and `anthropic-version`.
async fn anthropic(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("x-api-key", ADMIN_TOKEN)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
}

async fn openai(app: &TestApp, path: &str) -> reqwest::Response {
    app.req(Method::GET, path).send().await.unwrap()
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect()
}

/// An OpenAI-only provider, an Anthropic-only one and one that serves both.
async fn three_providers(app: &TestApp) {
    app.create(&registered("alpha", NOWHERE, &["a1", "a2"], json!(null)))
        .await;
    app.create(&registered(
        "claude",
        NOWHERE,
        &["c1"],
        json!([{"format": "anthropic"}]),
    ))
    .await;
    app.create(&registered(
        "both",
        NOWHERE,
        &["org/Model-7B"],
        json!([{"format": "openai", "surface": "chat-completions"}, {"format": "anthropic"}]),
    ))
    .await;
}

#[actix_web::test]
async fn each_format_lists_in_its_shape_the_models_its_routes_accept() {
    let app = spawn_app().await;
    three_providers(&app).await;
    let res = openai(&app, "/v1/models").await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(ids(&list), ["alpha:a1", "alpha:a2", "both:org/Model-7B"]);
    assert_eq!(list["data"][2]["owned_by"], "both");
    assert_eq!(list["data"][0]["object"], "model");

    // `/v1/messages` refuses alpha's models: Anthropic's list leaves them out.
    let list: Value = anthropic(&app, "/v1/models").await.json().await.unwrap();
    assert_eq!(ids(&list), ["claude:c1", "both:org/Model-7B"]);
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "claude:c1");
    assert_eq!(list["last_id"], "both:org/Model-7B");
    assert_eq!(list["data"][0]["type"], "model");
    assert!(humantime::parse_rfc3339(list["data"][0]["created_at"].as_str().unwrap()).is_ok());

    let res = app.client.get(app.url("/v1/models")).send().await.unwrap();
    openai_error(res, 401, "missing_credential").await;
}

#[actix_web::test]
async fn anthropics_list_pages_by_limit_after_id_and_before_id() {
    let app = spawn_app().await;
    let models: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    let names: Vec<&str> = models.iter().map(String::as_str).collect();
    app.create(&registered(
        "box",
        NOWHERE,
        &names,
        json!([{"format": "anthropic"}, {"format": "openai"}]),
    ))
    .await;
    let id = |i: usize| format!("box:m{i:02}");
    let want = |range: std::ops::Range<usize>| range.map(id).collect::<Vec<_>>();

    // Twenty by default; the SDK's beta client adds `beta=true`, which changes nothing.
    let first: Value = anthropic(&app, "/v1/models?beta=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&first), want(0..20));
    assert_eq!(first["has_more"], true);
    assert_eq!(first["last_id"], id(19));
    let rest: Value = anthropic(&app, &format!("/v1/models?after_id={}", id(19)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&rest), want(20..25));
    assert_eq!(rest["has_more"], false);
    let before: Value = anthropic(&app, &format!("/v1/models?limit=5&before_id={}", id(20)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&before), want(15..20));
    assert_eq!(
        (&before["has_more"], &before["first_id"]),
        (&json!(true), &json!(id(15)))
    );
    let start: Value = anthropic(&app, &format!("/v1/models?before_id={}", id(3)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&start), want(0..3));
    assert_eq!(start["has_more"], false);
    let all: Value = anthropic(&app, "/v1/models?limit=1000")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((ids(&all).len(), &all["has_more"]), (25, &json!(false)));
    let empty: Value = anthropic(&app, &format!("/v1/models?after_id={}", id(24)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&empty), Vec::<&str>::new());
    assert_eq!(
        (&empty["first_id"], &empty["has_more"]),
        (&Value::Null, &json!(false))
    );

    for (query, names) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=5&limit=6", "limit"),
        ("after_id=box:nope", "after_id"),
        ("before_id=", "before_id"),
        ("after_id=box:m01&before_id=box:m05", "before_id"),
    ] {
        let res = anthropic(&app, &format!("/v1/models?{query}")).await;
        let error = anthropic_error(res, 400, "invalid_request_error").await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(names), "{query}: {message}");
    }
    // OpenAI's shape cannot say that more follow: its list is whole, but a bad parameter is
    // refused there too, in its shape, naming the parameter.
    let list: Value = openai(&app, "/v1/models?limit=5")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&list).len(), 25);
    let error = openai_error(
        openai(&app, "/v1/models?limit=0").await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(error["param"], "limit");
}

#[actix_web::test]
async fn one_model_is_retrieved_in_the_callers_format_or_is_not_found_in_it() {
    let app = spawn_app().await;
    three_providers(&app).await;
    // An id with `/` comes encoded (the SDKs encode it so) or as it is.
    for path in [
        "/v1/models/both:org%2FModel-7B",
        "/v1/models/both:org/Model-7B",
    ] {
        let res = openai(&app, path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers().contains_key("x-modelgate-request-id"));
        let model: Value = res.json().await.unwrap();
        assert_eq!(
            model,
            json!({"id": "both:org/Model-7B", "object": "model",
                   "created": model["created"], "owned_by": "both",
                   "modelgate_status": "unknown"})
        );
        assert!(model["created"].as_u64().unwrap() > 1_600_000_000);
        let model: Value = anthropic(&app, path).await.json().await.unwrap();
        assert_eq!(model["type"], "model", "{model}");
        assert_eq!(model["id"], "both:org/Model-7B");
        assert_eq!(model["display_name"], "both:org/Model-7B");
        assert!(humantime::parse_rfc3339(model["created_at"].as_str().unwrap()).is_ok());
    }
    // Found as a call would find it: ignoring case, or by its bare name.
    for path in ["/v1/models/alpha:A1", "/v1/models/a1"] {
        let model: Value = openai(&app, path).await.json().await.unwrap();
        assert_eq!(model["id"], "alpha:a1", "{path}");
    }

    // alpha serves OpenAI's routes only: Anthropic's retrieve does not find it, and says why.
    let error = anthropic_error(
        anthropic(&app, "/v1/models/alpha:a1").await,
        404,
        "not_found_error",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("openai format only"),
        "{error}"
    );
    let error = openai_error(
        openai(&app, "/v1/models/claude:c1").await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(error["param"], "model");
    openai_error(
        openai(&app, "/v1/models/alpha:zzz").await,
        404,
        "model_not_found",
    )
    .await;
    anthropic_error(
        anthropic(&app, "/v1/models/nobody").await,
        404,
        "not_found_error",
    )
    .await;

    let res = app
        .client
        .get(app.url("/v1/models/alpha:a1"))
        .send()
        .await
        .unwrap();
    openai_error(res, 401, "missing_credential").await;
    let res = app
        .req(Method::DELETE, "/v1/models/alpha:a1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET");
    openai_error(res, 405, "method_not_allowed").await;
}
