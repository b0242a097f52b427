use serde_json::{Value, json};

use crate::helpers::{provider, spawn_app_in};

#[actix_web::test]
async fn providers_survive_a_restart_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mut created = Vec::new();
    for i in 0..10 {
        let mut p = provider(&format!("keep{i}"));
        p["models"] = json!([{"modelId": format!("m{i}")}]);
        created.push(app.create(&p).await);
    }
    let deleted = created.remove(0);
    app.delete(&format!("/providers/{}", deleted["id"].as_str().unwrap()))
        .await;
    app.stop().await;

    let app = spawn_app_in(dir.path(), |_| {}).await;
    for p in &created {
        let got: Value = app
            .get(&format!("/providers/{}", p["id"].as_str().unwrap()))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(&got, p);
    }
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"].as_array().unwrap().len(), 9);
    // The deleted provider's id is free; the kept ones are still taken.
    app.create(&provider("keep0")).await;
    assert_eq!(
        app.post_json("/providers", &provider("keep1"))
            .await
            .status(),
        409
    );
}
