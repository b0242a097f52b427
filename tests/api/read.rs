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
async fn ids_are_accepted_in_lower_case_too() {
    let app = spawn_app().await;
    let created = app.create(&provider("lower")).await;
    let id = created["id"].as_str().unwrap().to_lowercase();
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
