//! Model discovery (`POST /providers/{id}/discover-models`) against mock providers on
//! loopback: the diff, applying it (with and without `If-Match`, a subset, `confirm`), the
//! 1,000-model limit, a failed probe; and catalog providers' discovered models, reached by
//! bare name, listed, and kept across a restart. Nothing here leaves the machine.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, closed_port, registered};
use crate::helpers::{TestApp, assert_error, assert_violations, spawn_app_with};
use crate::upstream::{Mock, Reply};

async fn app() -> TestApp {
    spawn_app_with(|s| s.gateway.probe_timeout_ms = 2000).await
}

fn listing(ids: &[&str]) -> Reply {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "object": "model"}))
        .collect();
    Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"object": "list", "data": data}),
    }
}

fn numbered(n: usize) -> Reply {
    let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    listing(&ids.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A provider at `mock` declaring `models`, with a key: its id and ETag.
async fn at(app: &TestApp, mock: &Mock, slug: &str, models: &[&str]) -> (String, String) {
    let base = format!("{}/v1", mock.base);
    let res = app
        .post_json("/providers", &registered(slug, &base, models, json!([])))
        .await;
    assert_eq!(res.status(), 201);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    add_key(app, slug, "sk-discovery-key").await;
    (body["id"].as_str().unwrap().to_owned(), etag)
}

async fn discover(app: &TestApp, id: &str, query: &str, if_match: Option<&str>) -> Response {
    let mut req = app.req(
        Method::POST,
        &format!("/providers/{id}/discover-models{query}"),
    );
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    req.send().await.unwrap()
}

/// A 200 in the documented shape: the answer and its ETag.
async fn found(app: &TestApp, res: Response) -> (Value, String) {
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["ModelDiscovery"];
    crate::json_schema::assert_conforms(&doc, schema, &body, true);
    (body, etag.expect("an ETag"))
}

async fn declared(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let p: Value = app
        .get(&format!("/providers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    p["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["modelId"].as_str().unwrap().to_owned(),
                m["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn names(models: &[(String, String)]) -> Vec<&str> {
    models.iter().map(|(m, _)| m.as_str()).collect()
}

#[actix_web::test]
async fn discovery_answers_the_diff_and_applying_adds_the_new_models_keeping_ids() {
    let app = app().await;
    let mock = Mock::start().await;
    let (id, etag) = at(&app, &mock, "disc", &["a", "gone"]).await;
    let before = declared(&app, &id).await;

    mock.then(listing(&["a", "b", "bad id", "c", "b"]));
    let (diff, tag) = found(&app, discover(&app, &id, "", None).await).await;
    assert_eq!(
        diff,
        json!({"added": ["b", "c"], "missing": ["gone"], "unchanged": ["a"]})
    );
    assert_eq!(tag, etag, "a dry run changes nothing");
    assert_eq!(declared(&app, &id).await, before);
    let seen = mock.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(seen.headers["authorization"], "Bearer sk-discovery-key");

    // Applied with the current ETag: one write, existing ids kept, missing ones still there.
    mock.then(listing(&["a", "b", "c"]));
    let (diff, applied) = found(&app, discover(&app, &id, "?apply=true", Some(&etag)).await).await;
    assert_eq!(diff["added"], json!(["b", "c"]));
    assert_ne!(applied, etag);
    let after = declared(&app, &id).await;
    assert_eq!(names(&after), ["a", "gone", "b", "c"]);
    assert_eq!(after[..2], before[..]);
    let got = app.get(&format!("/providers/{id}")).await;
    assert_eq!(got.headers()["etag"].to_str().unwrap(), applied);

    // A stale If-Match is refused before anything is read or written.
    let asked = mock.seen().len();
    assert_error(
        discover(&app, &id, "?apply=true", Some(&etag)).await,
        412,
        "precondition_failed",
    )
    .await;
    assert_eq!(mock.seen().len(), asked);
    assert_eq!(declared(&app, &id).await, after);

    // Without If-Match it applies to whatever is current.
    mock.then(listing(&["d", "a"]));
    let (diff, _) = found(&app, discover(&app, &id, "?apply=true", None).await).await;
    assert_eq!(
        diff,
        json!({"added": ["d"], "missing": ["gone", "b", "c"], "unchanged": ["a"]})
    );
    assert_eq!(
        names(&declared(&app, &id).await),
        ["a", "gone", "b", "c", "d"]
    );

    // The new model is routed at once.
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"ok": true}),
    });
    let res = crate::helpers::data_plane::call(
        &app,
        "/v1/chat/completions",
        crate::helpers::data_plane::chat("d"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.last().body["model"], "d");
}

#[actix_web::test]
async fn a_subset_body_applies_only_its_models_and_bad_bodies_are_refused_whole() {
    let app = app().await;
    let mock = Mock::start().await;
    let (id, _) = at(&app, &mock, "subset", &["w"]).await;
    mock.then(listing(&["w", "x", "y", "z"]));
    let res = app
        .req(
            Method::POST,
            &format!("/providers/{id}/discover-models?apply=true"),
        )
        .json(&json!({"modelIds": ["y"]}))
        .send()
        .await
        .unwrap();
    let (diff, _) = found(&app, res).await;
    assert_eq!(
        diff,
        json!({"added": ["y"], "missing": [], "unchanged": ["w"]})
    );
    assert_eq!(names(&declared(&app, &id).await), ["w", "y"]);

    mock.then(listing(&["w", "x", "y", "z"]));
    let res = app
        .req(
            Method::POST,
            &format!("/providers/{id}/discover-models?apply=true"),
        )
        .json(&json!({"modelIds": ["q", "w", "x", "x"]}))
        .send()
        .await
        .unwrap();
    let details = assert_violations(res, &["modelIds[0]", "modelIds[1]", "modelIds[3]"]).await;
    assert!(
        details["modelIds[0]"].as_str().unwrap().contains("added"),
        "{details}"
    );
    assert_eq!(names(&declared(&app, &id).await), ["w", "y"]);

    for (query, body, code) in [
        ("?apply=true", json!({"models": ["x"]}), "unknown_field"),
        ("", json!({"modelIds": ["x"]}), "validation_failed"),
        ("?apply=yes", json!({}), "invalid_query"),
        ("?dry=true", json!({}), "invalid_query"),
    ] {
        let res = app
            .req(
                Method::POST,
                &format!("/providers/{id}/discover-models{query}"),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, 400, code).await;
    }
    assert_error(
        discover(&app, "01J00000000000000000000000", "", None).await,
        404,
        "not_found",
    )
    .await;
    assert_error(discover(&app, "nonesuch", "", None).await, 404, "not_found").await;
}

#[actix_web::test]
async fn a_provider_that_takes_any_model_declares_only_with_confirm() {
    let app = app().await;
    let mock = Mock::start().await;
    let (id, _) = at(&app, &mock, "any", &[]).await;
    mock.then(listing(&["p", "q"]));
    let refused = assert_error(
        discover(&app, &id, "?apply=true", None).await,
        409,
        "confirm_required",
    )
    .await;
    assert!(refused["details"]["confirm"].is_string(), "{refused}");
    assert!(declared(&app, &id).await.is_empty());

    // A dry run needs no confirmation.
    mock.then(listing(&["p", "q"]));
    let (diff, _) = found(&app, discover(&app, &id, "", None).await).await;
    assert_eq!(diff["added"], json!(["p", "q"]));

    mock.then(listing(&["p", "q"]));
    let (diff, _) = found(
        &app,
        discover(&app, &id, "?apply=true&confirm=true", None).await,
    )
    .await;
    assert_eq!(diff["added"], json!(["p", "q"]));
    assert_eq!(names(&declared(&app, &id).await), ["p", "q"]);
}

#[actix_web::test]
async fn a_list_of_1000_models_is_declared_and_one_past_the_limit_refused() {
    let app = app().await;
    let mock = Mock::start().await;
    let (id, _) = at(&app, &mock, "thousand", &[]).await;
    mock.then(numbered(1000));
    let (diff, _) = found(
        &app,
        discover(&app, &id, "?apply=true&confirm=true", None).await,
    )
    .await;
    assert_eq!(diff["added"].as_array().unwrap().len(), 1000);
    assert_eq!(declared(&app, &id).await.len(), 1000);

    let (id, etag) = at(&app, &mock, "thousand-and-one", &[]).await;
    mock.then(numbered(1001));
    let refused = assert_error(
        discover(&app, &id, "?apply=true&confirm=true", None).await,
        422,
        "too_many_models",
    )
    .await;
    assert!(
        refused["details"]["models"]
            .as_str()
            .unwrap()
            .contains("1001"),
        "{refused}"
    );
    assert!(declared(&app, &id).await.is_empty());
    let got = app.get(&format!("/providers/{id}")).await;
    assert_eq!(got.headers()["etag"].to_str().unwrap(), etag);

    // A subset within the limit goes.
    mock.then(numbered(1001));
    let res = app
        .req(
            Method::POST,
            &format!("/providers/{id}/discover-models?apply=true&confirm=true"),
        )
        .json(&json!({"modelIds": ["m1000"]}))
        .send()
        .await
        .unwrap();
    let (diff, _) = found(&app, res).await;
    assert_eq!(diff["added"], json!(["m1000"]));
}

#[actix_web::test]
async fn a_failed_probe_is_a_clear_502_with_what_it_found_never_a_500() {
    let app = app().await;
    let mock = Mock::start().await;
    let (id, etag) = at(&app, &mock, "broken", &["a"]).await;
    mock.then(Reply::Json {
        status: 500,
        headers: vec![],
        body: json!({"error": {"message": "upstream is down"}}),
    });
    let failed = assert_error(
        discover(&app, &id, "?apply=true", None).await,
        502,
        "discovery_failed",
    )
    .await;
    let details = &failed["details"];
    assert_eq!(details["ok"], "false", "{failed}");
    assert_eq!(details["statusCode"], "500");
    assert_eq!(details["modelsFound"], "null");
    assert!(
        details["error"]
            .as_str()
            .unwrap()
            .contains("upstream is down"),
        "{failed}"
    );
    assert!(
        failed["msg"].as_str().unwrap().contains("upstream is down"),
        "{failed}"
    );
    let got = app.get(&format!("/providers/{id}")).await;
    assert_eq!(got.headers()["etag"].to_str().unwrap(), etag);

    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"models": []}),
    });
    assert_error(discover(&app, &id, "", None).await, 502, "discovery_failed").await;

    let base = format!("http://127.0.0.1:{}/v1", closed_port());
    let p = app
        .create(&registered("unreachable", &base, &[], json!([])))
        .await;
    let failed = assert_error(
        discover(&app, p["id"].as_str().unwrap(), "", None).await,
        502,
        "discovery_failed",
    )
    .await;
    assert_eq!(failed["details"]["statusCode"], "null", "{failed}");
}
