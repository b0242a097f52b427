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
        details["modelIds[0]"].as_str().unwrap().contains("`q`"),
        "{details}"
    );
    assert!(
        details["modelIds[1]"].as_str().unwrap().contains("added"),
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

/// An app whose catalog `openai` is `mock`, in `dir` (so it can restart on it).
async fn catalog_app(dir: &std::path::Path, mock: &Mock) -> TestApp {
    let base = format!("{}/v1", mock.base);
    crate::helpers::spawn_app_in(dir, |s| {
        s.gateway.probe_timeout_ms = 2000;
        s.catalog.insert(
            "openai".into(),
            modelgate::config::CatalogSettings {
                base_url: Some(base),
            },
        );
    })
    .await
}

fn answered() -> Reply {
    Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": []}),
    }
}

async fn chat_for(app: &TestApp, model: &str) -> Response {
    crate::helpers::data_plane::call(
        app,
        "/v1/chat/completions",
        crate::helpers::data_plane::chat(model),
    )
    .await
}

async fn listed_ids(app: &TestApp, token: &str) -> Vec<String> {
    let res = app
        .client
        .get(app.url("/v1/models"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_catalog_providers_discovered_models_are_called_by_bare_name_after_custom_ones() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Mock::start().await;
    let app = catalog_app(dir.path(), &catalog).await;

    // Before discovery a bare name reaches nothing, and discovery needs a key.
    crate::helpers::data_plane::openai_error(
        chat_for(&app, "gpt-4o-mini").await,
        404,
        "model_not_found",
    )
    .await;
    let refused = assert_error(
        discover(&app, "openai", "?apply=true", None).await,
        409,
        "provider_key_required",
    )
    .await;
    assert!(
        refused["msg"].as_str().unwrap().contains("`openai`"),
        "{refused}"
    );
    assert!(catalog.seen().is_empty());
    add_key(&app, "openai", "sk-catalog-key-0000").await;

    catalog.then(listing(&["gpt-4o-mini", "gpt-4o"]));
    let (diff, tag) = found(&app, discover(&app, "openai", "", None).await).await;
    assert_eq!(
        diff,
        json!({"added": ["gpt-4o-mini", "gpt-4o"], "missing": [], "unchanged": []})
    );
    assert_eq!(catalog.last().path, "/v1/models");
    assert_eq!(
        catalog.last().headers["authorization"],
        "Bearer sk-catalog-key-0000"
    );
    crate::helpers::data_plane::openai_error(
        chat_for(&app, "gpt-4o-mini").await,
        404,
        "model_not_found",
    )
    .await;

    // Applied (no confirm: a catalog provider still takes any qualified name).
    catalog.then(listing(&["gpt-4o-mini", "gpt-4o"]));
    let (diff, applied) = found(
        &app,
        discover(&app, "openai", "?apply=true", Some(&tag)).await,
    )
    .await;
    assert_eq!(diff["added"], json!(["gpt-4o-mini", "gpt-4o"]));
    assert_ne!(applied, tag);
    assert_error(
        discover(&app, "openai", "?apply=true", Some(&tag)).await,
        412,
        "precondition_failed",
    )
    .await;

    catalog.then(answered());
    assert_eq!(chat_for(&app, "gpt-4o-mini").await.status(), 200);
    let seen = catalog.last();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(seen.body["model"], "gpt-4o-mini");
    assert_eq!(seen.headers["authorization"], "Bearer sk-catalog-key-0000");
    catalog.then(answered());
    assert_eq!(chat_for(&app, "openai:not-listed").await.status(), 200);
    assert_eq!(catalog.last().body["model"], "not-listed");

    // A registered provider declaring the same name comes first.
    let mine = Mock::start().await;
    app.create(&registered(
        "mine",
        &format!("{}/v1", mine.base),
        &["gpt-4o"],
        json!([]),
    ))
    .await;
    mine.then(answered());
    assert_eq!(chat_for(&app, "gpt-4o").await.status(), 200);
    assert_eq!(mine.last().body["model"], "gpt-4o");
    let calls = catalog.seen().len();
    // ... and fails over to the catalog provider.
    mine.then(crate::helpers::data_plane::failing(500, vec![]));
    catalog.then(answered());
    assert_eq!(chat_for(&app, "gpt-4o").await.status(), 200);
    assert_eq!(catalog.seen().len(), calls + 1);
    assert_eq!(catalog.last().body["model"], "gpt-4o");

    // Listed after the registered providers' models.
    let ids = listed_ids(&app, crate::helpers::ADMIN_TOKEN).await;
    assert_eq!(ids, ["mine:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4o"]);

    let one: Value = app
        .get("/v1/models/gpt-4o-mini")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "openai:gpt-4o-mini", "{one}");

    // An access key's scope still applies to catalog candidates.
    let made = app
        .post_json(
            "/access-key-configurations",
            &json!({"name": "only-mine", "access": {"providers": {"allow": ["mine"]}}}),
        )
        .await;
    assert_eq!(made.status(), 201);
    let made: Value = made.json().await.unwrap();
    let key = app
        .post_json(
            "/access-keys",
            &json!({"accessKeyConfigurationId": made["id"]}),
        )
        .await;
    assert_eq!(key.status(), 201);
    let key: Value = key.json().await.unwrap();
    let token = key["token"].as_str().unwrap();
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&crate::helpers::data_plane::chat("gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    crate::helpers::data_plane::openai_error(res, 403, "model_not_allowed").await;
    assert_eq!(listed_ids(&app, token).await, ["mine:gpt-4o"]);

    // Kept across a restart.
    app.stop().await;
    let app = catalog_app(dir.path(), &catalog).await;
    catalog.then(answered());
    assert_eq!(chat_for(&app, "gpt-4o-mini").await.status(), 200);
    assert_eq!(catalog.last().body["model"], "gpt-4o-mini");
    let ids = listed_ids(&app, crate::helpers::ADMIN_TOKEN).await;
    assert_eq!(ids, ["mine:gpt-4o", "openai:gpt-4o-mini", "openai:gpt-4o"]);

    // Applying again replaces the list: a model no longer listed goes.
    catalog.then(listing(&["gpt-4o", "o3"]));
    let (diff, _) = found(&app, discover(&app, "openai", "?apply=true", None).await).await;
    assert_eq!(
        diff,
        json!({"added": ["o3"], "missing": ["gpt-4o-mini"], "unchanged": ["gpt-4o"]})
    );
    crate::helpers::data_plane::openai_error(
        chat_for(&app, "gpt-4o-mini").await,
        404,
        "model_not_found",
    )
    .await;
    let ids = listed_ids(&app, crate::helpers::ADMIN_TOKEN).await;
    assert_eq!(ids, ["mine:gpt-4o", "openai:gpt-4o", "openai:o3"]);
}

#[actix_web::test]
async fn a_catalog_providers_list_past_the_limit_or_failing_is_refused_and_what_was_kept_stays() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Mock::start().await;
    let app = catalog_app(dir.path(), &catalog).await;
    add_key(&app, "openai", "sk-catalog-key-0000").await;
    catalog.then(numbered(1000));
    let (diff, _) = found(&app, discover(&app, "openai", "?apply=true", None).await).await;
    assert_eq!(diff["added"].as_array().unwrap().len(), 1000);
    catalog.then(numbered(1001));
    assert_error(
        discover(&app, "openai", "?apply=true", None).await,
        422,
        "too_many_models",
    )
    .await;
    catalog.then(Reply::Json {
        status: 401,
        headers: vec![],
        body: json!({"error": "no"}),
    });
    let failed = assert_error(
        discover(&app, "openai", "", None).await,
        502,
        "discovery_failed",
    )
    .await;
    assert_eq!(failed["details"]["statusCode"], "401", "{failed}");
    catalog.then(answered());
    assert_eq!(chat_for(&app, "m999").await.status(), 200);
    assert_eq!(catalog.last().body["model"], "m999");
    crate::helpers::data_plane::openai_error(chat_for(&app, "m1000").await, 404, "model_not_found")
        .await;
}
