//! The defects an adversarial pass found, one class per test: each would fail if its rule
//! went missing.

use std::io::Write;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, assert_error, assert_violations, provider, spawn_app};

fn raw_post(app: &crate::helpers::TestApp, path: &str, body: &str) -> reqwest::RequestBuilder {
    app.req(Method::POST, path)
        .header("content-type", "application/json")
        .body(body.to_owned())
}

#[actix_web::test]
async fn wrong_types_unknown_and_repeated_fields_and_broken_rules_come_in_one_answer() {
    let app = spawn_app().await;
    let body = r#"{"providerId": "all-at-once", "name": 2, "baseUrl": "ftp://x",
        "baseUrl": "http://x", "metadata": "m\u0000", "extra": 1,
        "models": [{"modelId": "a"}, {"modelId": "a"}, {"modelId": 7}, "m", {"modelId": "b c"}],
        "supportedApiSurfaces": [{"format": "openai", "surface": "messages"}]}"#;
    let res = raw_post(&app, "/providers", body).send().await.unwrap();
    let details = assert_violations(
        res,
        &[
            "name",
            "baseUrl",
            "metadata",
            "extra",
            "models[1].modelId",
            "models[2].modelId",
            "models[3]",
            "models[4].modelId",
            "supportedApiSurfaces[0].surface",
        ],
    )
    .await;
    assert!(
        details["baseUrl"]
            .as_str()
            .unwrap()
            .contains("more than once")
    );
    assert!(
        details["models[1].modelId"]
            .as_str()
            .unwrap()
            .contains("repeats models[0]")
    );
    assert_eq!(details["extra"], "unknown field");
    assert!(!details.to_string().contains("__all__"));
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(
        list["aiGatewayProviders"],
        json!([]),
        "nothing half-created"
    );
}

#[actix_web::test]
async fn the_count_in_the_message_is_the_count_of_the_entries() {
    let app = spawn_app().await;
    let mut p = provider("counted");
    p["models"] = json!(
        (0..300)
            .map(|i| json!({"modelId": format!("m {i}")}))
            .collect::<Vec<_>>()
    );
    let body = assert_error(
        app.post_json("/providers", &p).await,
        400,
        "validation_failed",
    )
    .await;
    let details = body["details"].as_object().unwrap();
    assert_eq!(details.len(), 101, "100 listed and the `…` count");
    assert_eq!(details["…"], "200 more violations not listed");
    let msg = body["msg"].as_str().unwrap();
    assert!(
        msg.contains("300 field(s)") && msg.contains("first 100"),
        "{msg}"
    );
    let mut p = provider("counted-few");
    p["name"] = json!("");
    p["baseUrl"] = json!("nope");
    let body = assert_error(
        app.post_json("/providers", &p).await,
        400,
        "validation_failed",
    )
    .await;
    assert!(
        body["msg"].as_str().unwrap().contains("at 2 field(s)"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_repeated_key_is_reported_at_its_field_in_nested_objects_too() {
    let app = spawn_app().await;
    let body = r#"{"providerId": "dup", "name": "n", "baseUrl": "http://x",
                   "models": [{"modelId": "a", "modelId": "b"}]}"#;
    let res = raw_post(&app, "/providers", body).send().await.unwrap();
    assert_violations(res, &["models[0].modelId"]).await;
}

#[actix_web::test]
async fn an_if_match_that_is_not_an_entity_tag_list_is_a_400_naming_the_header() {
    let app = spawn_app().await;
    let created = app.create(&provider("etags")).await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    for bad in ["not-quoted", "\"a\", *", "\"unterminated", ""] {
        let res = app
            .req(Method::PATCH, &path)
            .header("if-match", bad)
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 400, "invalid_header").await;
        assert!(body["details"]["If-Match"].is_string(), "{bad:?}: {body}");
    }
    // A well-formed tag of another version is still the 412 it always was.
    let res = app
        .req(Method::PATCH, &path)
        .header("if-match", "\"01ARZ3NDEKTSV4RRFFQ69G5FAV-9\"")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(res, 412, "precondition_failed").await;
}

#[actix_web::test]
async fn two_authorization_headers_are_refused_whichever_comes_first() {
    let app = spawn_app().await;
    for (first, second) in [
        (
            format!("Bearer {ADMIN_TOKEN}"),
            "Bearer wrong-token-0123456789".to_owned(),
        ),
        (
            "Bearer wrong-token-0123456789".to_owned(),
            format!("Bearer {ADMIN_TOKEN}"),
        ),
    ] {
        let res = app
            .client
            .get(app.url("/providers"))
            .header("authorization", first)
            .header("authorization", second)
            .send()
            .await
            .unwrap();
        let body = assert_error(res, 400, "invalid_header").await;
        assert!(body["details"]["Authorization"].is_string(), "{body}");
    }
}

#[actix_web::test]
async fn unknown_and_repeated_query_parameters_are_refused_on_every_management_route() {
    let app = spawn_app().await;
    let created = app.create(&provider("queried")).await;
    let item = format!("/providers/{}", created["id"].as_str().unwrap());
    let cases = [
        (
            Method::GET,
            "/providers?limit=1&limit=2".to_owned(),
            "limit",
        ),
        (Method::GET, "/providers?provider=x".to_owned(), "provider"),
        (Method::GET, format!("{item}?fields=all"), "fields"),
        (
            Method::DELETE,
            format!("{item}?cascade=true&cascade=false"),
            "cascade",
        ),
        (Method::DELETE, format!("{item}?force=1"), "force"),
        (
            Method::GET,
            "/provider-keys?provider=a&provider=b".to_owned(),
            "provider",
        ),
        (Method::POST, "/providers?dryRun=1".to_owned(), "dryRun"),
    ];
    for (method, path, param) in cases {
        let mut req = app.req(method.clone(), &path);
        if method == Method::POST {
            req = req.json(&provider("never-made"));
        }
        let body = assert_error(req.send().await.unwrap(), 400, "invalid_query").await;
        assert!(body["details"][param].is_string(), "{path}: {body}");
    }
    assert_eq!(
        app.get(&item).await.status(),
        200,
        "the provider is still there"
    );
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn a_cursor_in_another_spelling_is_an_invalid_query() {
    let app = spawn_app().await;
    let id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    assert_eq!(
        app.get(&format!("/providers?beforeId={id}")).await.status(),
        200
    );
    for other in [id.to_lowercase(), format!("8{}", &id[1..])] {
        let res = app.get(&format!("/providers?beforeId={other}")).await;
        assert_error(res, 400, "invalid_query").await;
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[actix_web::test]
async fn a_gzip_body_is_read_a_bomb_is_a_413_and_other_codings_a_415() {
    let app = spawn_app().await;
    let send = |body: Vec<u8>, coding: &str| {
        app.req(Method::POST, "/providers")
            .header("content-type", "application/json")
            .header("content-encoding", coding)
            .body(body)
            .send()
    };
    // 64 MiB of spaces inflate from a few dozen KiB; the decoder stops past the 1 MiB limit.
    // Made first: compressing it takes seconds in a debug build, and a pooled connection left
    // idle that long meets the server's keep-alive timeout as the next request goes out.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    let plain = serde_json::to_vec(&provider("zipped")).unwrap();
    let res = send(gzip(&plain), "gzip").await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(bomb.len() < 1 << 20);
    assert_error(send(bomb, "gzip").await.unwrap(), 413, "payload_too_large").await;
    for coding in ["br", "deflate", "gzip, gzip"] {
        let res = send(plain.clone(), coding).await.unwrap();
        let body = assert_error(res, 415, "unsupported_media_type").await;
        assert!(body["msg"].as_str().unwrap().contains("gzip"), "{body}");
    }
}

#[actix_web::test]
async fn answers_are_never_cached_or_sniffed() {
    let app = spawn_app().await;
    let created = app.create(&provider("headers")).await;
    let item = format!("/providers/{}", created["id"].as_str().unwrap());
    let responses = [
        app.get("/providers").await,
        app.get(&item).await,
        app.get("/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV").await,
        app.post_json("/providers", &json!({})).await,
        app.client.get(app.url("/providers")).send().await.unwrap(),
        app.get("/healthz").await,
    ];
    for res in responses {
        let h = res.headers();
        assert_eq!(h["cache-control"], "no-store", "{}", res.url());
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", res.url());
    }
}

#[actix_web::test]
async fn a_request_target_over_8_kib_is_a_414_in_the_error_shape() {
    let app = spawn_app().await;
    let long = format!("/providers?limit=1&x={}", "a".repeat(9000));
    let refused = app.get(&long).await;
    // Refused in the same layer that gives every request its id, after the id is given.
    let id = refused.headers().get("x-modelgate-request-id").cloned();
    assert_eq!(id.map(|v| v.len()), Some(26), "a 414 carries a request id");
    assert_error(refused, 414, "uri_too_long").await;
}

#[actix_web::test]
async fn host_names_follow_the_dns_rules_and_international_ones_their_ascii_form() {
    let app = spawn_app().await;
    let label63 = "a".repeat(63);
    let long_name = format!("{0}.{0}.{0}.{1}", "a".repeat(63), "b".repeat(63));
    assert_eq!(long_name.len(), 255);
    for (i, ok) in [
        format!("http://{label63}.example/v1"),
        "http://xn--bcher-kva.example/v1".to_owned(),
        "http://my--box.lan:8000".to_owned(),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = provider(&format!("host-ok-{i}"));
        p["baseUrl"] = json!(ok);
        app.create(&p).await;
    }
    let cases = [
        (format!("http://{label63}a.example/v1"), "63"),
        (format!("http://{long_name}/v1"), "253"),
        ("http://bücher.example/v1".to_owned(), "xn--"),
        ("http://xn--a.example/v1".to_owned(), "punycode"),
        ("http://-lead.example/v1".to_owned(), "host"),
        ("http://trail-.example/v1".to_owned(), "host"),
    ];
    for (url, word) in cases {
        let mut p = provider("host-bad");
        p["baseUrl"] = json!(url);
        let details = assert_violations(app.post_json("/providers", &p).await, &["baseUrl"]).await;
        assert!(
            details["baseUrl"].as_str().unwrap().contains(word),
            "{url}: {details}"
        );
    }
}

#[actix_web::test]
async fn text_fields_refuse_control_characters_and_metadata_refuses_nul() {
    let app = spawn_app().await;
    let mut p = provider("texts");
    p["metadata"] = json!("line one\nline two\tand a tab");
    app.create(&p).await;
    let mut p = provider("texts-nul");
    p["metadata"] = json!("a\u{0}b");
    assert_violations(app.post_json("/providers", &p).await, &["metadata"]).await;
    let key = |name: &str, description: &str| {
        json!({"providerId": "openai", "name": name, "value": "sk-0123456789abcdef",
               "description": description})
    };
    let res = app.post_json("/provider-keys", &key("ok", "fine")).await;
    assert_eq!(res.status(), 201);
    let res = app
        .post_json("/provider-keys", &key("esc\u{1b}[2J", "x\u{9b}y"))
        .await;
    assert_violations(res, &["name", "description"]).await;
    let res = app
        .post_json("/provider-keys", &key("\u{200B}\u{FEFF}", ""))
        .await;
    let details = assert_violations(res, &["name"]).await;
    assert_eq!(details["name"], "must not be blank");
}

#[actix_web::test]
async fn a_mis_cased_env_reference_is_refused_and_an_unset_one_is_kept_with_a_warning() {
    let app = spawn_app().await;
    for value in ["ENV.OPENAI_API_KEY", "Env.OPENAI_API_KEY"] {
        let res = app
            .post_json(
                "/provider-keys",
                &json!({"providerId": "openai", "name": "k", "value": value}),
            )
            .await;
        let details = assert_violations(res, &["value"]).await;
        assert!(
            details["value"].as_str().unwrap().contains("env.NAME"),
            "{details}"
        );
        assert!(
            !details.to_string().contains("OPENAI_API_KEY"),
            "the value is not echoed"
        );
    }
    let unset = "MODELGATE_TEST_SURELY_UNSET_VARIABLE";
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "openai", "name": "later", "value": format!("env.{unset}")}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let warning = res.headers()["x-modelgate-warning"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(warning.contains(unset), "{warning}");
    // PATH is set in every test environment: no warning then.
    let res = app
        .post_json(
            "/provider-keys",
            &json!({"providerId": "openai", "name": "set", "value": "env.PATH"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("x-modelgate-warning").is_none());
}
