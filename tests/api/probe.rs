//! A provider's probe (`POST /providers/{id}/test`, `POST /provider-keys/{id}/test`,
//! `?validate=true`) against mock providers on loopback; nothing here leaves the machine.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, closed_port, registered};
use crate::helpers::{TestApp, assert_error, spawn_app_with};
use crate::raw::scripted;
use crate::upstream::{Mock, Reply};

/// A short probe time, so the slow provider's test ends soon; nothing asserts on time.
async fn app() -> TestApp {
    spawn_app_with(|s| s.gateway.probe_timeout_ms = 300).await
}

fn models(n: usize) -> Value {
    let data: Vec<Value> = (0..n).map(|i| json!({"id": format!("m{i}")})).collect();
    json!({"object": "list", "data": data})
}

fn ok_json(body: Value) -> Reply {
    Reply::Json {
        status: 200,
        headers: vec![],
        body,
    }
}

async fn openai_at(app: &TestApp, slug: &str, base: &str) -> String {
    let p = app.create(&registered(slug, base, &[], json!([]))).await;
    p["id"].as_str().unwrap().to_owned()
}

/// A probe's answer: 200 in the documented shape, every field present.
async fn test(app: &TestApp, path: &str) -> Value {
    let res = app.req(Method::POST, path).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let body: Value = res.json().await.unwrap();
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["ProviderProbe"];
    crate::json_schema::assert_conforms(&doc, schema, &body, true);
    for field in ["ok", "statusCode", "latencyMs", "modelsFound", "error"] {
        assert!(body.get(field).is_some(), "{field} missing: {body}");
    }
    body
}

async fn test_provider(app: &TestApp, id: &str) -> Value {
    test(app, &format!("/providers/{id}/test")).await
}

#[actix_web::test]
async fn a_healthy_provider_is_probed_with_its_newest_key_and_its_models_counted() {
    let app = app().await;
    let mock = Mock::start().await;
    let id = openai_at(&app, "healthy", &format!("{}/v1", mock.base)).await;
    add_key(&app, "healthy", "sk-older").await;
    let newest = add_key(&app, "healthy", "sk-newest").await;
    mock.then(ok_json(models(3)));
    let found = test_provider(&app, &id).await;
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(found["statusCode"], 200);
    assert_eq!(found["modelsFound"], 3);
    assert!(found["latencyMs"].is_u64());
    assert_eq!(found["error"], Value::Null);
    let seen = mock.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/v1/models")
    );
    assert_eq!(seen.headers["authorization"], "Bearer sk-newest");

    // A probe is no use of the key.
    let key = app
        .get(&format!(
            "/provider-keys/{}",
            newest["id"].as_str().unwrap()
        ))
        .await;
    let key: Value = key.json().await.unwrap();
    assert_eq!(key["lastUsed"], Value::Null, "{key}");
    assert_error(
        app.req(Method::POST, "/providers/01J00000000000000000000000/test")
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}

#[actix_web::test]
async fn lists_of_1000_and_1001_models_are_counted_whole() {
    let app = app().await;
    let mock = Mock::start().await;
    let id = openai_at(&app, "many", &format!("{}/v1", mock.base)).await;
    for n in [1000, 1001] {
        mock.then(ok_json(models(n)));
        let found = test_provider(&app, &id).await;
        assert_eq!(found["modelsFound"], n, "{found}");
    }
}

#[actix_web::test]
async fn anthropics_list_is_read_page_by_page_with_its_headers() {
    let app = app().await;
    let mock = Mock::start().await;
    let body = registered(
        "paged",
        &format!("{}/v1", mock.base),
        &[],
        json!([{"format": "anthropic"}]),
    );
    let id = app.create(&body).await["id"].as_str().unwrap().to_owned();
    add_key(&app, "paged", "sk-ant-key").await;
    let mut first = models(1000);
    first["has_more"] = json!(true);
    first["last_id"] = json!("m999");
    let mut second = models(1);
    second["has_more"] = json!(false);
    second["last_id"] = json!("m1000");
    mock.then(ok_json(first));
    mock.then(ok_json(second));
    let found = test_provider(&app, &id).await;
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(found["modelsFound"], 1001);
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/models");
    assert_eq!(seen[0].query, "limit=1000");
    assert_eq!(seen[1].query, "limit=1000&after_id=m999");
    assert_eq!(seen[0].headers["x-api-key"], "sk-ant-key");
    assert!(seen[0].headers.contains_key("anthropic-version"));
    assert!(!seen[0].headers.contains_key("authorization"));
}

#[actix_web::test]
async fn failures_are_ok_false_answers_never_errors() {
    let app = app().await;
    let mock = Mock::start().await;
    let id = openai_at(&app, "failing", &format!("{}/v1", mock.base)).await;
    add_key(&app, "failing", "sk-key").await;
    for status in [401, 500] {
        mock.then(Reply::Json {
            status,
            headers: vec![],
            body: json!({"error": {"message": format!("upstream says {status}")}}),
        });
        let found = test_provider(&app, &id).await;
        assert_eq!(found["ok"], false, "{found}");
        assert_eq!(found["statusCode"], status);
        assert_eq!(found["modelsFound"], Value::Null);
        assert!(
            found["error"]
                .as_str()
                .unwrap()
                .contains(&format!("upstream says {status}"))
        );
    }

    mock.then(Reply::Hang);
    let found = test_provider(&app, &id).await;
    assert_eq!(found["ok"], false, "{found}");
    assert_eq!(found["statusCode"], Value::Null);
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("did not come within"),
        "{found}"
    );

    let malformed = scripted(vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 6\r\n\r\n{\"data"
            .to_vec(),
    ])
    .await;
    let id = openai_at(&app, "malformed", &format!("{malformed}/v1")).await;
    let found = test_provider(&app, &id).await;
    assert_eq!(
        (found["ok"].clone(), found["statusCode"].clone()),
        (json!(false), json!(200))
    );
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("not a model list"),
        "{found}"
    );

    let base = format!("http://127.0.0.1:{}/v1", closed_port());
    let id = openai_at(&app, "refused", &base).await;
    let found = test_provider(&app, &id).await;
    assert_eq!(found["ok"], false, "{found}");
    assert_eq!(found["statusCode"], Value::Null);
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{found}"
    );
}

#[actix_web::test]
async fn the_key_and_credential_shapes_are_scrubbed_from_an_echoed_error() {
    let app = app().await;
    let mock = Mock::start().await;
    let id = openai_at(&app, "echo", &format!("{}/v1", mock.base)).await;
    // Shaped like no credential: only the key's own scrub can catch it.
    let key = "key.of-mine!";
    let stored = add_key(&app, "echo", key).await;
    let echo = format!(
        "Incorrect API key provided: {key}; also Bearer abc.def and \
         sk-proj-xyz and QWERTYUIOPASDFGHJKLZ123 {}",
        "x ".repeat(400)
    );
    mock.then(Reply::Json {
        status: 401,
        headers: vec![],
        body: json!({"error": {"message": echo}}),
    });
    let found = test_provider(&app, &id).await;
    let error = found["error"].as_str().unwrap();
    assert!(error.contains("Incorrect API key provided"), "{error}");
    for secret in [key, "abc.def", "sk-proj", "QWERTYUIOPASDFGHJKLZ123"] {
        assert!(!error.contains(secret), "{secret} in {error}");
    }
    assert_eq!(error.chars().count(), 512);

    // The key's own test goes with that key, and answers alike.
    mock.then(ok_json(models(1)));
    let path = format!("/provider-keys/{}/test", stored["id"].as_str().unwrap());
    let found = test(&app, &path).await;
    assert_eq!(found["ok"], true, "{found}");
    assert_eq!(
        mock.last().headers["authorization"],
        format!("Bearer {key}")
    );
}

#[actix_web::test]
async fn the_model_lists_path_can_be_overridden() {
    let app = app().await;
    let mock = Mock::start().await;
    let body = json!({
        "providerId": "tags", "name": "tags", "baseUrl": format!("{}/v1?x=1", mock.base),
        "requestPathOverrides": {"models": "/api/tags"}, "keyless": true,
    });
    let id = app.create(&body).await["id"].as_str().unwrap().to_owned();
    mock.then(ok_json(models(2)));
    assert_eq!(test_provider(&app, &id).await["modelsFound"], 2);
    let seen = mock.last();
    assert_eq!(
        (seen.path.as_str(), seen.query.as_str()),
        ("/api/tags", "x=1")
    );
    assert!(!seen.headers.contains_key("authorization"));

    // A key filed for a keyless provider is never sent by its calls, nor by its test.
    let key = add_key(&app, "tags", "sk-unsent").await;
    mock.then(ok_json(models(2)));
    let path = format!("/provider-keys/{}/test", key["id"].as_str().unwrap());
    assert_eq!(test(&app, &path).await["ok"], true);
    assert!(!mock.last().headers.contains_key("authorization"));
}

#[actix_web::test]
async fn validate_refuses_a_provider_whose_probe_fails_and_takes_one_that_passes() {
    let app = app().await;
    let down = format!("http://127.0.0.1:{}/v1", closed_port());
    let res = app
        .post_json(
            "/providers?validate=true",
            &registered("down", &down, &[], json!([])),
        )
        .await;
    let body = assert_error(res, 422, "provider_probe_failed").await;
    assert_eq!(body["details"]["ok"], "false", "{body}");
    assert_eq!(body["details"]["statusCode"], "null");
    assert!(
        body["details"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be reached")
    );
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"], json!([]), "nothing was written");

    // A 401 while the provider has no key yet is no refusal: its key comes next.
    let mock = Mock::start().await;
    let base = format!("{}/v1", mock.base);
    mock.then(Reply::Json {
        status: 401,
        headers: vec![],
        body: json!({"error": "no key"}),
    });
    let res = app
        .post_json(
            "/providers?validate=true",
            &registered("fresh", &base, &[], json!([])),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // With a key, the PATCH's record is probed; a failure changes nothing.
    add_key(&app, "fresh", "sk-fresh").await;
    mock.then(Reply::Json {
        status: 401,
        headers: vec![],
        body: json!({"error": "bad key"}),
    });
    let path = format!("/providers/{id}?validate=true");
    let res = app.patch_json(&path, &json!({"name": "renamed"})).await;
    let body = assert_error(res, 422, "provider_probe_failed").await;
    assert_eq!(body["details"]["statusCode"], "401", "{body}");
    let now: Value = app
        .get(&format!("/providers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["name"], "fresh");

    mock.then(ok_json(models(1)));
    let res = app.patch_json(&path, &json!({"name": "renamed"})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(mock.last().headers["authorization"], "Bearer sk-fresh");
    let res = app
        .patch_json(&format!("/providers/{id}?validate=maybe"), &json!({}))
        .await;
    assert_error(res, 400, "invalid_query").await;

    // A create naming a taken providerId and another base URL: probed with no key (the
    // stored one never goes to the body's URL), then refused as a duplicate.
    let elsewhere = Mock::start().await;
    elsewhere.then(ok_json(models(1)));
    let res = app
        .post_json(
            "/providers?validate=true",
            &registered("fresh", &format!("{}/v1", elsewhere.base), &[], json!([])),
        )
        .await;
    assert_eq!(res.status(), 409);
    let seen = elsewhere.last();
    assert!(
        !seen.headers.contains_key("authorization"),
        "{:?}",
        seen.headers
    );
}

#[actix_web::test]
async fn a_probe_goes_through_the_outbound_guard() {
    let app = spawn_app_with(|s| {
        s.gateway.probe_timeout_ms = 300;
        s.outbound.allow_private_networks = false;
    })
    .await;
    let mock = Mock::start().await;
    let id = openai_at(&app, "guarded", &format!("{}/v1", mock.base)).await;
    let found = test_provider(&app, &id).await;
    assert_eq!(found["ok"], false, "{found}");
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("allow_private_networks"),
        "{found}"
    );
    assert!(mock.seen().is_empty());
}
