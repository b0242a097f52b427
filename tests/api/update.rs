//! The PATCH rules table: omit keeps, null clears, arrays replace whole, and only a real change
//! moves `updatedAt`, `lastUpdatedBy` and the ETag.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{CI_ID, CI_TOKEN, TestApp, assert_error, assert_violations, spawn_app};
use crate::schema::assert_valid;

async fn full_provider(app: &TestApp) -> (String, Value) {
    let body = app
        .create(&json!({
            "providerId": "patched",
            "name": "Before",
            "baseUrl": "http://before.example/v1",
            "metadata": "meta",
            "supportedApiSurfaces": [{"format": "openai", "surface": "responses"}],
            "models": [{"modelId": "keep-me"}, {"modelId": "drop-me"}]
        }))
        .await;
    (format!("/providers/{}", body["id"].as_str().unwrap()), body)
}

async fn ok(res: Response) -> (String, Value) {
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_valid("AIGatewayProvider", &body);
    (etag, body)
}

fn without_change_stamps(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("updatedAt");
    o.remove("lastUpdatedBy");
    v
}

#[actix_web::test]
async fn omitted_fields_are_kept() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    let (_, after) = ok(app.patch_json(&path, &json!({"name": "After"})).await).await;
    assert_eq!(after["name"], "After");
    let mut expected = before.clone();
    expected["name"] = json!("After");
    assert_eq!(
        without_change_stamps(after),
        without_change_stamps(expected)
    );
}

#[actix_web::test]
async fn null_clears_metadata_surfaces_and_models() {
    let app = spawn_app().await;
    let (path, _) = full_provider(&app).await;
    let (_, after) = ok(app
        .patch_json(
            &path,
            &json!({"metadata": null, "supportedApiSurfaces": null, "models": null}),
        )
        .await)
    .await;
    assert!(after.get("metadata").is_none(), "{after}");
    assert_eq!(after["supportedApiSurfaces"], json!([]));
    assert_eq!(after["models"], json!([]));
    assert_eq!(after["name"], "Before");
}

#[actix_web::test]
async fn an_empty_array_clears_models_too() {
    let app = spawn_app().await;
    let (path, _) = full_provider(&app).await;
    let (_, after) = ok(app.patch_json(&path, &json!({"models": []})).await).await;
    assert_eq!(after["models"], json!([]));
}

#[actix_web::test]
async fn name_and_base_url_cannot_be_cleared_or_emptied() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    for body in [
        json!({"name": null}),
        json!({"name": ""}),
        json!({"name": "   "}),
    ] {
        assert_violations(app.patch_json(&path, &body).await, &["name"]).await;
    }
    for body in [json!({"baseUrl": null}), json!({"baseUrl": ""})] {
        assert_violations(app.patch_json(&path, &body).await, &["baseUrl"]).await;
    }
    assert_violations(
        app.patch_json(
            &path,
            &json!({"name": null, "baseUrl": "ftp://x", "models": [{"modelId": ""}]}),
        )
        .await,
        &["name", "baseUrl", "models[0].modelId"],
    )
    .await;
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, before, "a refused PATCH must change nothing");
}

#[actix_web::test]
async fn models_are_replaced_whole_and_a_kept_model_id_keeps_its_id() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    let kept_id = before["models"][0]["id"].clone();
    let (_, after) = ok(app
        .patch_json(
            &path,
            &json!({"models": [{"modelId": "new-one"}, {"modelId": "keep-me"}]}),
        )
        .await)
    .await;
    let models = after["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["modelId"], "new-one");
    assert_eq!(models[1], json!({"id": kept_id, "modelId": "keep-me"}));
    assert_ne!(models[0]["id"], before["models"][1]["id"]);
}

#[actix_web::test]
async fn surfaces_are_replaced_whole() {
    let app = spawn_app().await;
    let (path, _) = full_provider(&app).await;
    let (_, after) = ok(app
        .patch_json(
            &path,
            &json!({"supportedApiSurfaces": [{"format": "anthropic", "surface": "messages"}]}),
        )
        .await)
    .await;
    assert_eq!(
        after["supportedApiSurfaces"],
        json!([{"format": "anthropic", "surface": "messages", "supportedParams": []}])
    );
}

#[actix_web::test]
async fn sending_provider_id_is_refused_as_immutable() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    for value in [json!("other"), json!("patched"), json!(null)] {
        assert_error(
            app.patch_json(&path, &json!({"providerId": value, "name": "x"}))
                .await,
            400,
            "provider_id_immutable",
        )
        .await;
    }
    assert_eq!(app.get(&path).await.json::<Value>().await.unwrap(), before);
}

#[actix_web::test]
async fn an_empty_body_or_an_empty_object_changes_nothing() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    let etag = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let (etag2, after) = ok(app.patch_json(&path, &json!({})).await).await;
    assert_eq!(after, before);
    assert_eq!(etag2, etag);
    let res = app.req(Method::PATCH, &path).send().await.unwrap();
    let (etag3, after) = ok(res).await;
    assert_eq!(after, before);
    assert_eq!(etag3, etag);
}

#[actix_web::test]
async fn updated_at_and_last_updated_by_move_only_on_a_real_change() {
    let app = spawn_app().await;
    let (path, before) = full_provider(&app).await;
    // Timestamps have one-second resolution: wait for the next second so a change shows.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let same = json!({"name": "Before", "metadata": "meta", "models": [{"modelId": "keep-me"}, {"modelId": "drop-me"}]});
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(CI_TOKEN)
        .json(&same)
        .send()
        .await
        .unwrap();
    let (_, unchanged) = ok(res).await;
    assert_eq!(
        unchanged, before,
        "rewriting the same values is not a change"
    );

    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(CI_TOKEN)
        .json(&json!({"name": "Changed"}))
        .send()
        .await
        .unwrap();
    let (_, changed) = ok(res).await;
    assert_ne!(changed["updatedAt"], before["updatedAt"]);
    assert_eq!(changed["createdAt"], before["createdAt"]);
    assert_eq!(changed["createdBy"]["id"], "admin");
    assert_eq!(
        changed["lastUpdatedBy"],
        json!({"id": CI_ID, "uri": format!("/api-keys/{CI_ID}")})
    );
}

#[actix_web::test]
async fn if_match_guards_patch_and_delete_against_concurrent_changes() {
    let app = spawn_app().await;
    let (path, _) = full_provider(&app).await;
    let stale = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let (fresh, _) = ok(app
        .req(Method::PATCH, &path)
        .header("if-match", &stale)
        .json(&json!({"name": "First"}))
        .send()
        .await
        .unwrap())
    .await;
    assert_ne!(fresh, stale);

    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", &stale)
        .json(&json!({"name": "Lost update"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    let res = app
        .req(Method::DELETE, &path)
        .header("if-match", &stale)
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    // A weak form of the current tag does not satisfy If-Match (strong comparison).
    let res = app
        .req(Method::DELETE, &path)
        .header("if-match", format!("W/{fresh}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["name"], "First");

    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", format!("\"nope\", {fresh}"))
        .json(&json!({"name": "Second"}))
        .send()
        .await
        .unwrap();
    ok(res).await;
    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", "*")
        .json(&json!({"name": "Third"}))
        .send()
        .await
        .unwrap();
    ok(res).await;
    let current = app.get(&path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = app
        .req(Method::DELETE, &path)
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[actix_web::test]
async fn concurrent_patches_of_different_fields_both_survive() {
    let app = spawn_app().await;
    let (path, _) = full_provider(&app).await;
    for round in 0..20 {
        let name = format!("name-{round}");
        let meta = format!("meta-{round}");
        let models = json!([{"modelId": format!("model-{round}")}]);
        let (by_name, by_meta, by_models) = (
            json!({"name": name}),
            json!({"metadata": meta}),
            json!({"models": models}),
        );
        let (a, b, c) = futures_util::join!(
            app.patch_json(&path, &by_name),
            app.patch_json(&path, &by_meta),
            app.patch_json(&path, &by_models),
        );
        assert_eq!([a.status(), b.status(), c.status()], [200, 200, 200]);
        let now: Value = app.get(&path).await.json().await.unwrap();
        assert_eq!(now["name"], name);
        assert_eq!(now["metadata"], meta);
        assert_eq!(now["models"][0]["modelId"], format!("model-{round}"));
    }
}

#[actix_web::test]
async fn patching_a_missing_provider_is_a_404() {
    let app = spawn_app().await;
    let path = format!("/providers/{}", ulid::Ulid::new());
    assert_error(
        app.patch_json(&path, &json!({"name": "x"})).await,
        404,
        "not_found",
    )
    .await;
}
