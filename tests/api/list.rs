use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::{assert_error, provider, spawn_app};
use crate::schema::assert_valid;

#[actix_web::test]
async fn an_empty_registry_lists_no_providers_and_no_next_page() {
    let app = spawn_app().await;
    let body: Value = app.get("/providers").await.json().await.unwrap();
    assert_valid("AIGatewayProviderList", &body);
    assert_eq!(body["aiGatewayProviders"], serde_json::json!([]));
    assert_eq!(body["uri"], "/providers");
    assert!(body["nextPageUri"].is_null());
}

#[actix_web::test]
async fn paging_through_250_providers_by_100_sees_each_once_newest_first() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..250 {
        let body = app.create(&provider(&format!("p{i:03}"))).await;
        created.push(body["id"].as_str().unwrap().to_owned());
    }
    created.reverse();

    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut next = Some("/providers?limit=100".to_owned());
    while let Some(uri) = next {
        let body: Value = app.get(&uri).await.json().await.unwrap();
        assert_valid("AIGatewayProviderList", &body);
        let items = body["aiGatewayProviders"].as_array().unwrap();
        pages.push(items.len());
        seen.extend(items.iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        next = body["nextPageUri"].as_str().map(str::to_owned);
        if let Some(n) = &next {
            let last = items.last().unwrap()["id"].as_str().unwrap();
            assert_eq!(*n, format!("/providers?beforeId={last}&limit=100"));
        }
    }
    assert_eq!(pages, [100, 100, 50]);
    assert_eq!(
        seen, created,
        "pages must hold every provider once, newest first"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
}

#[actix_web::test]
async fn the_last_full_page_has_no_next_page() {
    let app = spawn_app().await;
    for i in 0..4 {
        app.create(&provider(&format!("e{i}"))).await;
    }
    let first: Value = app.get("/providers?limit=2").await.json().await.unwrap();
    let next = first["nextPageUri"].as_str().unwrap();
    let second: Value = app.get(next).await.json().await.unwrap();
    assert_eq!(second["aiGatewayProviders"].as_array().unwrap().len(), 2);
    assert!(second["nextPageUri"].is_null(), "{second}");
}

#[actix_web::test]
async fn the_default_page_is_100() {
    let app = spawn_app().await;
    for i in 0..101 {
        app.create(&provider(&format!("d{i}"))).await;
    }
    let body: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(body["aiGatewayProviders"].as_array().unwrap().len(), 100);
    assert!(
        body["nextPageUri"]
            .as_str()
            .unwrap()
            .ends_with("&limit=100")
    );
}

#[actix_web::test]
async fn bad_limit_or_before_id_is_an_invalid_query_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("limit=1&limit=2", "limit"),
        ("beforeId=nope", "beforeId"),
        ("beforeId=", "beforeId"),
    ] {
        let body = assert_error(
            app.get(&format!("/providers?{query}")).await,
            400,
            "invalid_query",
        )
        .await;
        assert!(body["details"][field].is_string(), "{query}: {body}");
    }
}

#[actix_web::test]
async fn before_id_need_not_name_an_existing_provider() {
    let app = spawn_app().await;
    let id = app.create(&provider("only")).await["id"].clone();
    let later = ulid::Ulid::from_parts(u64::MAX >> 16, u128::MAX).to_string();
    let body: Value = app
        .get(&format!("/providers?beforeId={later}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["aiGatewayProviders"][0]["id"], id);
    let body: Value = app
        .get(&format!("/providers?beforeId={}", id.as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["aiGatewayProviders"], serde_json::json!([]));
}
