use serde_json::{Value, json};

use crate::helpers::{assert_error, provider, spawn_app};
use crate::schema::assert_valid;

#[actix_web::test]
async fn creating_a_provider_answers_201_with_location_etag_and_the_whole_resource() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            "/providers",
            &json!({
                "providerId": "internal-vllm",
                "name": "Internal vLLM",
                "baseUrl": "https://vllm.internal:8000/v1",
                "metadata": "{\"team\":\"ml\"}",
                "supportedApiSurfaces": [
                    {"format": "openai", "surface": "chat-completions",
                     "supportedParams": [{"name": "tools"}, {"name": "temperature"}]},
                    {"format": "anthropic"}
                ],
                "models": [{"modelId": "llama-3"}, {"modelId": "qwen2.5:7b"}]
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_valid("AIGatewayProvider", &body);

    let id = body["id"].as_str().unwrap();
    assert!(ulid::Ulid::from_string(id).is_ok());
    assert_eq!(location, format!("/providers/{id}"));
    assert_eq!(body["uri"], location);
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(body["providerId"], "internal-vllm");
    assert_eq!(body["name"], "Internal vLLM");
    assert_eq!(body["baseUrl"], "https://vllm.internal:8000/v1");
    assert_eq!(body["metadata"], "{\"team\":\"ml\"}");
    assert_eq!(body["createdAt"], body["updatedAt"]);
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        body["createdBy"],
        json!({"id": "admin", "uri": "/api-keys/admin"})
    );
    assert_eq!(body["lastUpdatedBy"], body["createdBy"]);
    assert_eq!(
        body["supportedApiSurfaces"],
        json!([
            {"format": "openai", "surface": "chat-completions",
             "supportedParams": [{"name": "tools"}, {"name": "temperature"}]},
            {"format": "anthropic", "supportedParams": []}
        ])
    );
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["modelId"], "llama-3");
    assert_eq!(models[1]["modelId"], "qwen2.5:7b");
    assert_ne!(models[0]["id"], models[1]["id"]);
    assert!(ulid::Ulid::from_string(models[0]["id"].as_str().unwrap()).is_ok());

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, body);
}

#[actix_web::test]
async fn a_minimal_provider_has_empty_arrays_and_no_metadata_key() {
    let app = spawn_app().await;
    let body = app.create(&provider("minimal")).await;
    assert_eq!(body["supportedApiSurfaces"], json!([]));
    assert_eq!(body["models"], json!([]));
    assert!(body.get("metadata").is_none(), "{body}");
}

#[actix_web::test]
async fn explicit_nulls_for_optional_fields_are_the_same_as_leaving_them_out() {
    let app = spawn_app().await;
    let mut p = provider("nulls");
    p["metadata"] = Value::Null;
    p["models"] = Value::Null;
    p["supportedApiSurfaces"] = Value::Null;
    let body = app.create(&p).await;
    assert!(body.get("metadata").is_none());
    assert_eq!(body["models"], json!([]));
}

#[actix_web::test]
async fn a_taken_provider_id_is_a_409_naming_it() {
    let app = spawn_app().await;
    app.create(&provider("dup")).await;
    let body = assert_error(
        app.post_json("/providers", &provider("dup")).await,
        409,
        "provider_id_taken",
    )
    .await;
    assert!(body["msg"].as_str().unwrap().contains("dup"));
    assert!(body["details"]["providerId"].is_string());
}

#[actix_web::test]
async fn twenty_concurrent_creates_of_one_provider_id_give_exactly_one_201() {
    let app = spawn_app().await;
    let body = provider("race");
    let requests = (0..20).map(|_| app.post_json("/providers", &body));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn every_built_in_catalog_id_is_refused_as_reserved() {
    let app = spawn_app().await;
    for id in modelgate::domain::catalog::reserved_provider_ids() {
        let body = assert_error(
            app.post_json("/providers", &provider(id)).await,
            400,
            "provider_id_reserved",
        )
        .await;
        assert!(body["msg"].as_str().unwrap().contains(id), "{body}");
    }
    // Near misses are fine: only the exact catalog ids are reserved.
    app.create(&provider("openai-compatible")).await;
}

#[actix_web::test]
async fn public_url_prefixes_every_uri_and_the_location() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.server.public_url = Some("https://gw.example.com/".into());
    })
    .await;
    let res = app.post_json("/providers", &provider("pub")).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("https://gw.example.com/providers/{id}"));
    assert_eq!(body["uri"], location);
    assert_eq!(
        body["createdBy"]["uri"],
        "https://gw.example.com/api-keys/admin"
    );
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["uri"], "https://gw.example.com/providers");
}
