//! `/access-key-configurations`: scopes in ngrok's shape, made, read, paged, changed (omitted
//! keeps, `null` clears, `If-Match`) and deleted; entries naming no known provider refused; an
//! access key naming one by `accessKeyConfigurationId` shows `{id, uri, name}`; deleting one in
//! use is 409 with the count unless `?cascade=true`, which deletes its keys with it.

use reqwest::Method;
use serde_json::{Value, json};

use super::{create as create_key, json as answer, model_call, with_upstream};
use crate::helpers::{TestApp, assert_error, assert_violations, spawn_app};
use crate::schema::assert_valid;

pub(crate) const PATH: &str = "/access-key-configurations";

pub(crate) async fn configure(app: &TestApp, body: Value) -> Value {
    let res = app.post_json(PATH, &body).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let made = answer(res, 201).await;
    assert_valid("AIGatewayAccessKeyConfiguration", &made);
    assert_eq!(location, made["uri"]);
    assert!(etag.contains(made["id"].as_str().unwrap()), "{etag}");
    made
}

#[actix_web::test]
async fn a_configuration_is_made_read_paged_changed_and_deleted_in_ngroks_shape() {
    let app = spawn_app().await;
    let _mock = with_upstream(&app).await;
    let made = configure(
        &app,
        json!({"name": "chat", "description": "d", "access": {
            "providers": {"allow": ["up", "openai"]},
            "models": {"allow": ["up:m", "gpt-4o", "openai:*"]}}}),
    )
    .await;
    assert_eq!(
        made["access"]["providers"]["allow"],
        json!(["up", "openai"])
    );
    assert_eq!(made["createdBy"]["id"], "admin");
    let uri = made["uri"].as_str().unwrap().to_owned();
    let got = answer(app.get(&uri).await, 200).await;
    assert_eq!(got, made);
    let head = app.req(Method::HEAD, &uri).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        app.req(Method::HEAD, PATH).send().await.unwrap().status(),
        200
    );

    // Allow-all: no `access` at all; `{}` and an empty list are kept as written.
    let open = configure(&app, json!({"name": "open"})).await;
    assert!(open.get("access").is_none(), "{open}");
    let none = configure(
        &app,
        json!({"name": "none", "access": {"models": {"allow": []}}}),
    )
    .await;
    assert_eq!(none["access"], json!({"models": {"allow": []}}));

    let page = answer(app.get(&format!("{PATH}?limit=2")).await, 200).await;
    assert_valid("AIGatewayAccessKeyConfigurationList", &page);
    let items = page["aiGatewayAccessKeyConfigurations"].as_array().unwrap();
    assert_eq!(
        (items[0]["name"].clone(), items[1]["name"].clone()),
        (json!("none"), json!("open"))
    );
    let next = page["nextPageUri"].as_str().unwrap();
    let rest = answer(app.get(next).await, 200).await;
    assert_eq!(
        rest["aiGatewayAccessKeyConfigurations"][0]["id"],
        made["id"]
    );
    assert_eq!(rest["nextPageUri"], Value::Null);

    // Omitted keeps, null clears, access is replaced whole.
    let changed = answer(
        app.patch_json(
            &uri,
            &json!({"description": null, "access": {"models": {"allow": ["m"]}}}),
        )
        .await,
        200,
    )
    .await;
    assert_valid("AIGatewayAccessKeyConfiguration", &changed);
    assert!(changed.get("description").is_none(), "{changed}");
    assert_eq!(changed["name"], "chat");
    assert_eq!(changed["access"], json!({"models": {"allow": ["m"]}}));
    let cleared = answer(app.patch_json(&uri, &json!({"access": null})).await, 200).await;
    assert!(cleared.get("access").is_none(), "{cleared}");

    // If-Match: a stale tag is refused, the current one passes.
    let stale = app
        .req(Method::PATCH, &uri)
        .header("if-match", "\"nope\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(stale, 412, "precondition_failed").await;
    let current = app.get(&uri).await.headers()["etag"].clone();
    let fresh = app
        .req(Method::PATCH, &uri)
        .header("if-match", current)
        .json(&json!({"name": "renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer(fresh, 200).await["name"], "renamed");

    assert_eq!(app.delete(&uri).await.status(), 204);
    assert_error(app.get(&uri).await, 404, "not_found").await;
    assert_error(app.delete(&uri).await, 404, "not_found").await;
}

#[actix_web::test]
async fn every_bad_field_is_named_and_unknown_providers_are_refused() {
    let app = spawn_app().await;
    let _mock = with_upstream(&app).await;
    let res = app
        .post_json(
            PATH,
            &json!({"description": "a\nb", "access": {
                "providers": {"allow": ["Not A Slug"]},
                "models": {"allow": ["has space", ""]}, "router": 1}}),
        )
        .await;
    let details = assert_error(res, 400, "validation_failed").await["details"].clone();
    for path in [
        "name",
        "description",
        "access.providers.allow[0]",
        "access.models.allow[0]",
        "access.models.allow[1]",
        "access.router",
    ] {
        assert!(details.get(path).is_some(), "{path}: {details}");
    }
    let res = app
        .post_json(
            PATH,
            &json!({"name": "n", "access": {
                "providers": {"allow": ["up", "ghost"]},
                "models": {"allow": ["ghost:*", "ghost:m", "llama3.1:8b"]}}}),
        )
        .await;
    let details = assert_violations(
        res,
        &["access.providers.allow[1]", "access.models.allow[0]"],
    )
    .await;
    assert!(
        details["access.providers.allow[1]"]
            .as_str()
            .unwrap()
            .contains("no known provider")
    );
    // A provider's id is a known provider too.
    let providers = answer(app.get("/providers").await, 200).await;
    let id = providers["aiGatewayProviders"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    configure(
        &app,
        json!({"name": "by id", "access": {"providers": {"allow": [id]}}}),
    )
    .await;

    let made = configure(&app, json!({"name": "n"})).await;
    let uri = made["uri"].as_str().unwrap();
    let res = app
        .patch_json(
            uri,
            &json!({"name": null, "access": {"providers": {"allow": ["ghost"]}}}),
        )
        .await;
    assert_violations(res, &["name", "access.providers.allow[0]"]).await;

    // serde would fill a struct from an array by position: `access` and its dimensions are
    // objects or nothing.
    for (access, path) in [
        (json!([null, null]), "access"),
        (json!({"providers": [["up"]]}), "access.providers"),
        (json!({"models": [null]}), "access.models"),
    ] {
        let res = app
            .post_json(PATH, &json!({"name": "n", "access": access}))
            .await;
        assert_violations(res, &[path]).await;
        let res = app.patch_json(uri, &json!({"access": access})).await;
        assert_violations(res, &[path]).await;
    }
}

#[actix_web::test]
async fn an_access_key_names_its_configuration_and_an_unknown_one_is_refused() {
    let app = spawn_app().await;
    let made = configure(&app, json!({"name": "scoped"})).await;
    let id = made["id"].as_str().unwrap();
    let (key, _) = create_key(&app, json!({"accessKeyConfigurationId": id})).await;
    assert_eq!(
        key["accessKeyConfiguration"],
        json!({"id": id, "uri": made["uri"], "name": "scoped"})
    );
    let path = key["uri"].as_str().unwrap().to_owned();
    let list = answer(app.get("/access-keys").await, 200).await;
    assert_eq!(
        list["aiGatewayAccessKeys"][0]["accessKeyConfiguration"]["name"],
        "scoped"
    );

    for ghost in ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"] {
        let res = app
            .post_json("/access-keys", &json!({"accessKeyConfigurationId": ghost}))
            .await;
        let details = assert_violations(res, &["accessKeyConfigurationId"]).await;
        assert!(
            details["accessKeyConfigurationId"]
                .as_str()
                .unwrap()
                .contains(ghost)
        );
        let res = app
            .patch_json(&path, &json!({"accessKeyConfigurationId": ghost}))
            .await;
        assert_violations(res, &["accessKeyConfigurationId"]).await;
    }
    let open = answer(
        app.patch_json(&path, &json!({"accessKeyConfigurationId": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(open["accessKeyConfiguration"], Value::Null);
    // Unscoped now, the configuration is free to go.
    assert_eq!(
        app.delete(made["uri"].as_str().unwrap()).await.status(),
        204
    );
}

#[actix_web::test]
async fn deleting_a_configuration_in_use_is_409_unless_cascade_deletes_its_keys() {
    let app = spawn_app().await;
    let _mock = with_upstream(&app).await;
    let made = configure(&app, json!({"name": "c"})).await;
    let id = made["id"].as_str().unwrap();
    let uri = made["uri"].as_str().unwrap().to_owned();
    let (a, token_a) = create_key(&app, json!({"accessKeyConfigurationId": id})).await;
    let (b, _) = create_key(&app, json!({})).await;
    // Moved onto it by a PATCH: counted too.
    answer(
        app.patch_json(
            b["uri"].as_str().unwrap(),
            &json!({"accessKeyConfigurationId": id}),
        )
        .await,
        200,
    )
    .await;
    let (other, token_other) = create_key(&app, json!({})).await;
    assert_eq!(model_call(&app, &token_a).await.status(), 200);

    let body = assert_error(app.delete(&uri).await, 409, "configuration_in_use").await;
    assert_eq!(body["details"]["accessKeys"], "2", "{body}");
    assert!(
        body["msg"].as_str().unwrap().contains("2 access key"),
        "{body}"
    );
    assert_error(
        app.delete(&format!("{uri}?cascade=maybe")).await,
        400,
        "invalid_query",
    )
    .await;
    // A key deleted on its own leaves the count.
    assert_eq!(app.delete(b["uri"].as_str().unwrap()).await.status(), 204);
    let body = assert_error(app.delete(&uri).await, 409, "configuration_in_use").await;
    assert_eq!(body["details"]["accessKeys"], "1");

    assert_eq!(
        app.delete(&format!("{uri}?cascade=true")).await.status(),
        204
    );
    assert_error(app.get(a["uri"].as_str().unwrap()).await, 404, "not_found").await;
    assert_eq!(model_call(&app, &token_a).await.status(), 401);
    // Keys it did not scope stay.
    assert_eq!(
        answer(app.get(other["uri"].as_str().unwrap()).await, 200).await["id"],
        other["id"]
    );
    assert_eq!(model_call(&app, &token_other).await.status(), 200);
}
