use reqwest::Method;
use serde_json::Value;

use crate::helpers::{assert_error, provider, spawn_app};

#[actix_web::test]
async fn get_answers_the_provider_with_its_etag() {
    let app = spawn_app().await;
    let created = app.create(&provider("read-me")).await;
    let res = app
        .get(&format!("/providers/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("etag"));
    assert_eq!(res.json::<Value>().await.unwrap(), created);
}

#[actix_web::test]
async fn an_unknown_or_malformed_id_is_a_json_404() {
    let app = spawn_app().await;
    let absent = ulid::Ulid::new().to_string();
    let body = assert_error(
        app.get(&format!("/providers/{absent}")).await,
        404,
        "not_found",
    )
    .await;
    assert!(body["msg"].as_str().unwrap().contains(&absent));
    assert_error(app.get("/providers/not-a-ulid").await, 404, "not_found").await;
    assert_error(app.get("/providers/a/b").await, 404, "not_found").await;
}

#[actix_web::test]
async fn an_id_has_one_spelling_and_no_other_reaches_the_record() {
    let app = spawn_app().await;
    let created = app.create(&provider("one-spelling")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/providers/{id}")).await.status(), 200);
    // Lower case, and a first character past `7` (which the ulid crate would silently fold
    // onto the same 128 bits), name nothing: GET, PATCH and DELETE all answer 404.
    let overflow = format!(
        "{}{}",
        (b'0' + (id.as_bytes()[0] - b'0') + 8) as char,
        &id[1..]
    );
    for alias in [id.to_lowercase(), overflow] {
        let path = format!("/providers/{alias}");
        assert_eq!(app.get(&path).await.status(), 404, "{alias}");
        assert_eq!(
            app.patch_json(&path, &serde_json::json!({"name": "x"}))
                .await
                .status(),
            404
        );
        assert_eq!(
            app.req(Method::DELETE, &path)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    assert_eq!(app.get(&format!("/providers/{id}")).await.status(), 200);
}

#[actix_web::test]
async fn head_answers_200_or_404_without_a_body() {
    let app = spawn_app().await;
    let created = app.create(&provider("head")).await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());

    let res = app.req(Method::HEAD, &path).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("etag"));
    assert!(res.bytes().await.unwrap().is_empty());

    let res = app.req(Method::HEAD, "/providers").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().is_empty());

    let missing = format!("/providers/{}", ulid::Ulid::new());
    let res = app.req(Method::HEAD, &missing).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.bytes().await.unwrap().is_empty());
}

#[actix_web::test]
async fn a_matching_if_none_match_answers_304() {
    let app = spawn_app().await;
    let created = app.create(&provider("cached")).await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    let etag = app.get(&path).await.headers()["etag"].clone();
    let res = app
        .req(Method::GET, &path)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], etag);
    let res = app
        .req(Method::GET, &path)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
