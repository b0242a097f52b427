//! Every validation rule of a create body, at its boundaries. PATCH shares the same parsers
//! (see update.rs for its own rules).

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_violations, provider, spawn_app};

fn with(field: &str, value: Value) -> Value {
    let mut p = provider("valid-id");
    p[field] = value;
    p
}

async fn accepted(app: &TestApp, mut body: Value, slug: &str) {
    body["providerId"] = json!(slug);
    app.create(&body).await;
}

async fn refused(app: &TestApp, body: &Value, paths: &[&str]) -> Value {
    assert_violations(app.post_json("/providers", body).await, paths).await
}

#[actix_web::test]
async fn every_missing_required_field_is_reported_in_one_answer() {
    let app = spawn_app().await;
    let details = refused(&app, &json!({}), &["providerId", "name", "baseUrl"]).await;
    assert_eq!(details["name"], "is required");
}

#[actix_web::test]
async fn provider_id_is_1_to_255_characters_of_the_slug_alphabet() {
    let app = spawn_app().await;
    accepted(&app, provider("x"), &"a".repeat(255)).await;
    refused(
        &app,
        &with("providerId", json!("a".repeat(256))),
        &["providerId"],
    )
    .await;
    refused(&app, &with("providerId", json!("")), &["providerId"]).await;
    for ok in ["0", "my.vllm_2-b", "9lives"] {
        accepted(&app, provider("x"), ok).await;
    }
    for bad in [
        "My-Provider",
        "-lead",
        ".lead",
        "_lead",
        "a:b",
        "a/b",
        "a b",
        "ü",
        "a\u{0}",
    ] {
        let details = refused(&app, &with("providerId", json!(bad)), &["providerId"]).await;
        assert!(
            details["providerId"]
                .as_str()
                .unwrap()
                .contains("^[a-z0-9]")
        );
    }
}

#[actix_web::test]
async fn name_is_1_to_255_characters_and_not_blank() {
    let app = spawn_app().await;
    accepted(&app, with("name", json!("n".repeat(255))), "n255").await;
    accepted(&app, with("name", json!("é".repeat(255))), "n255-multibyte").await;
    refused(&app, &with("name", json!("n".repeat(256))), &["name"]).await;
    let details = refused(&app, &with("name", json!("")), &["name"]).await;
    assert_eq!(
        details["name"], "is required",
        "an empty value is a missing one"
    );
    for blank in ["   ", "\u{200B}", "\u{FEFF} \u{2060}", "\u{00A0}\u{3000}"] {
        let details = refused(&app, &with("name", json!(blank)), &["name"]).await;
        assert_eq!(details["name"], "must not be blank", "{blank:?}");
    }
    for control in [" \t ", "a\u{1B}[31mred", "line\nbreak", "c1\u{85}"] {
        let details = refused(&app, &with("name", json!(control)), &["name"]).await;
        assert!(
            details["name"].as_str().unwrap().contains("control"),
            "{control:?}"
        );
    }
}

#[actix_web::test]
async fn metadata_is_at_most_4096_characters() {
    let app = spawn_app().await;
    accepted(&app, with("metadata", json!("m".repeat(4096))), "m4096").await;
    accepted(&app, with("metadata", json!("")), "m0").await;
    let details = refused(
        &app,
        &with("metadata", json!("m".repeat(4097))),
        &["metadata"],
    )
    .await;
    assert!(details["metadata"].as_str().unwrap().contains("4096"));
}

#[actix_web::test]
async fn base_url_is_an_absolute_http_url_of_at_most_2048_characters() {
    let app = spawn_app().await;
    let prefix = "http://h.example/";
    let at_limit = format!("{prefix}{}", "p".repeat(2048 - prefix.len()));
    accepted(&app, with("baseUrl", json!(at_limit)), "u2048").await;
    accepted(&app, with("baseUrl", json!("https://[::1]:8443")), "u-ipv6").await;
    let over = format!("{prefix}{}", "p".repeat(2049 - prefix.len()));
    refused(&app, &with("baseUrl", json!(over)), &["baseUrl"]).await;
    for bad in [
        "",
        "localhost:11434",
        "/v1",
        "ftp://files.example",
        "file:///etc/passwd",
        "http://",
        " http://h.example",
        "http://h.example/#frag",
        "http://h.example/#",
    ] {
        refused(&app, &with("baseUrl", json!(bad)), &["baseUrl"]).await;
    }
}

#[actix_web::test]
async fn a_docker_service_name_with_underscores_is_a_host() {
    let app = spawn_app().await;
    for (url, slug) in [
        ("http://my_ollama:11434", "compose"),
        ("http://stack_my_vllm_1.internal_net/v1", "labels"),
    ] {
        let created = app
            .create(&json!({"providerId": slug, "name": "n", "baseUrl": url}))
            .await;
        assert_eq!(created["baseUrl"], url, "stored as sent");
    }
    // Still a host name: a hyphen at a label's end, or a label too long, is not.
    for bad in [
        "http://my_ollama-:11434",
        &format!("http://{}/", "_".repeat(64)),
    ] {
        refused(&app, &with("baseUrl", json!(bad)), &["baseUrl"]).await;
    }
}

#[actix_web::test]
async fn base_url_credentials_are_refused_without_being_repeated() {
    let app = spawn_app().await;
    let details = refused(
        &app,
        &with(
            "baseUrl",
            json!("https://alice:hunter2-secret@api.example/v1"),
        ),
        &["baseUrl"],
    )
    .await;
    let text = details.to_string();
    assert!(text.contains("credentials"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("alice"),
        "{text}"
    );
}

#[actix_web::test]
async fn surfaces_name_known_formats_and_surfaces_and_the_error_lists_the_allowed_ones() {
    let app = spawn_app().await;
    let details = refused(
        &app,
        &with(
            "supportedApiSurfaces",
            json!([
                {"format": "gemini"},
                {"format": "openai", "surface": "messages"},
                {"surface": "chat-completions"},
                {"format": "anthropic", "surface": "count-tokens"}
            ]),
        ),
        &[
            "supportedApiSurfaces[0].format",
            "supportedApiSurfaces[1].surface",
            "supportedApiSurfaces[2].format",
        ],
    )
    .await;
    assert!(
        details["supportedApiSurfaces[0].format"]
            .as_str()
            .unwrap()
            .contains("`openai`, `anthropic`")
    );
    let surfaces = details["supportedApiSurfaces[1].surface"].as_str().unwrap();
    assert!(surfaces.contains("`chat-completions`") && surfaces.contains("`embeddings`"));
    assert_eq!(details["supportedApiSurfaces[2].format"], "is required");
}

#[actix_web::test]
async fn a_format_and_surface_pair_may_appear_only_once() {
    let app = spawn_app().await;
    refused(
        &app,
        &with(
            "supportedApiSurfaces",
            json!([
                {"format": "openai", "surface": "responses"},
                {"format": "openai"},
                {"format": "openai", "surface": "responses"},
                {"format": "openai"}
            ]),
        ),
        &["supportedApiSurfaces[2]", "supportedApiSurfaces[3]"],
    )
    .await;
}

#[actix_web::test]
async fn at_most_32_surfaces_and_256_unique_non_empty_params_each() {
    let app = spawn_app().await;
    let all: Vec<Value> = [
        ("openai", "chat-completions"),
        ("openai", "completions"),
        ("openai", "responses"),
        ("openai", "embeddings"),
        ("anthropic", "messages"),
        ("anthropic", "count-tokens"),
    ]
    .iter()
    .map(|(f, s)| json!({"format": f, "surface": s}))
    .collect();
    // Only 8 distinct pairs exist, so 33 entries trip both the count and the duplicate rule;
    // the count must be among the reasons.
    let many: Vec<Value> = all.iter().cycle().take(33).cloned().collect();
    let body = crate::helpers::assert_error(
        app.post_json("/providers", &with("supportedApiSurfaces", json!(many)))
            .await,
        400,
        "validation_failed",
    )
    .await;
    assert!(
        body["details"]["supportedApiSurfaces"]
            .as_str()
            .unwrap()
            .contains("at most 32")
    );

    let params = |n: usize| -> Value {
        json!([{"format": "openai", "supportedParams":
            (0..n).map(|i| json!({"name": format!("p{i}")})).collect::<Vec<_>>()}])
    };
    accepted(&app, with("supportedApiSurfaces", params(256)), "p256").await;
    refused(
        &app,
        &with("supportedApiSurfaces", params(257)),
        &["supportedApiSurfaces[0].supportedParams"],
    )
    .await;
    refused(
        &app,
        &with(
            "supportedApiSurfaces",
            json!([{"format": "openai", "supportedParams":
                [{"name": "a"}, {"name": ""}, {"name": "a"}, {}]}]),
        ),
        &[
            "supportedApiSurfaces[0].supportedParams[1].name",
            "supportedApiSurfaces[0].supportedParams[2].name",
            "supportedApiSurfaces[0].supportedParams[3].name",
        ],
    )
    .await;
}

#[actix_web::test]
async fn at_most_1000_models_with_unique_ids_free_of_whitespace() {
    let app = spawn_app().await;
    let models = |n: usize| -> Value {
        json!(
            (0..n)
                .map(|i| json!({"modelId": format!("m{i}")}))
                .collect::<Vec<_>>()
        )
    };
    let body = app.create(&with("models", models(1000))).await;
    assert_eq!(body["models"].as_array().unwrap().len(), 1000);
    refused(&app, &with("models", models(1001)), &["models"]).await;

    accepted(
        &app,
        with("models", json!([{"modelId": "m".repeat(255)}])),
        "m255",
    )
    .await;
    let details = refused(
        &app,
        &with(
            "models",
            json!([
                {"modelId": "ok"},
                {"modelId": "m".repeat(256)},
                {"modelId": "has space"},
                {"modelId": "tab\there"},
                {"modelId": "nul\u{0}"},
                {"modelId": ""},
                {"modelId": "ok"},
                {}
            ]),
        ),
        &[
            "models[1].modelId",
            "models[2].modelId",
            "models[3].modelId",
            "models[4].modelId",
            "models[5].modelId",
            "models[6].modelId",
            "models[7].modelId",
        ],
    )
    .await;
    assert!(
        details["models[6].modelId"]
            .as_str()
            .unwrap()
            .contains("models[0]")
    );
}

#[actix_web::test]
async fn violations_in_different_fields_are_all_reported_together() {
    let app = spawn_app().await;
    refused(
        &app,
        &json!({
            "providerId": "Bad",
            "name": "",
            "baseUrl": "nope",
            "metadata": "m".repeat(5000),
            "supportedApiSurfaces": [{"format": "x"}],
            "models": [{"modelId": "a b"}]
        }),
        &[
            "providerId",
            "name",
            "baseUrl",
            "metadata",
            "supportedApiSurfaces[0].format",
            "models[0].modelId",
        ],
    )
    .await;
}
