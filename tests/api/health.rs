use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn health_answers_200_with_a_status_when_the_store_answers() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let res = app
        .client
        .request(Method::HEAD, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
