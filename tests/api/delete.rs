use serde_json::Value;

use crate::helpers::{assert_error, provider, spawn_app};

#[actix_web::test]
async fn delete_answers_204_then_the_provider_is_gone() {
    let app = spawn_app().await;
    let id = app.create(&provider("bye")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/providers/{id}");
    let res = app.delete(&path).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.unwrap().is_empty());
    assert_error(app.get(&path).await, 404, "not_found").await;
    assert_error(app.delete(&path).await, 404, "not_found").await;
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"], serde_json::json!([]));
}

#[actix_web::test]
async fn deleting_frees_the_provider_id_for_a_new_provider() {
    let app = spawn_app().await;
    let old = app.create(&provider("reuse")).await;
    app.delete(&format!("/providers/{}", old["id"].as_str().unwrap()))
        .await;
    let new = app.create(&provider("reuse")).await;
    assert_ne!(new["id"], old["id"]);
}

#[actix_web::test]
async fn deleting_an_unknown_id_is_a_404() {
    let app = spawn_app().await;
    assert_error(
        app.delete("/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV").await,
        404,
        "not_found",
    )
    .await;
    assert_error(app.delete("/providers/garbage").await, 404, "not_found").await;
}
