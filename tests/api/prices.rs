//! `/prices`: model prices written while the gateway runs — validated, unique per model in
//! any case, durable — and the events of the next call priced by them, ahead of the config
//! file's `[prices]`, which stand again once the written price is deleted.

use serde_json::{Value, json};

use crate::helpers::data_plane::{call, registered};
use crate::helpers::{
    TestApp, assert_error, assert_violations, spawn_app, spawn_app_in, spawn_app_with,
};
use crate::upstream::Mock;
use crate::usage::{events, openai_body};

const PATH: &str = "/prices";

async fn priced_call(app: &TestApp, mock: &Mock, model: &str) {
    // 1,000,002 prompt tokens (2 cached) and 500,000 out.
    mock.then(openai_body(1_000_002, 500_000));
    let res = call(
        app,
        "/v1/chat/completions",
        json!({"model": model, "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
}

#[actix_web::test]
async fn a_price_is_written_read_changed_and_deleted() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            PATH,
            &json!({"model": "box:M", "input": 0.15, "output": 0.6,
                                 "description": "list price"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    assert_eq!(
        (&created["model"], &created["input"], &created["output"]),
        (&json!("box:M"), &json!(0.15), &json!(0.6))
    );
    assert_eq!(
        (&created["cacheRead"], &created["cacheWrite"]),
        (&json!(0.0), &json!(0.0))
    );
    assert_eq!(created["createdBy"]["id"], "admin");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(location.ends_with(&format!("{PATH}/{id}")));

    let got: Value = app.get(&format!("{PATH}/{id}")).await.json().await.unwrap();
    assert_eq!(got, created);
    let list: Value = app.get(PATH).await.json().await.unwrap();
    assert_eq!(list["prices"][0]["id"], id.as_str());

    let res = app
        .patch_json(
            &format!("{PATH}/{id}"),
            &json!({"input": null, "cacheRead": 0.05}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);
    let changed: Value = res.json().await.unwrap();
    assert_eq!(
        (&changed["input"], &changed["output"], &changed["cacheRead"]),
        (&json!(0.0), &json!(0.6), &json!(0.05))
    );
    assert_eq!(app.delete(&format!("{PATH}/{id}")).await.status(), 204);
    assert_error(app.get(&format!("{PATH}/{id}")).await, 404, "not_found").await;
    app.stop().await;
}

#[actix_web::test]
async fn bad_prices_are_named_and_a_model_has_one_price() {
    let app = spawn_app().await;
    assert_violations(
        app.post_json(
            PATH,
            &json!({"input": -1, "output": 2_000_000, "cacheRead": "1"}),
        )
        .await,
        &["model", "input", "output", "cacheRead"],
    )
    .await;
    assert_error(
        app.post_json(PATH, &json!({"model": "m", "extra": 1}))
            .await,
        400,
        "unknown_field",
    )
    .await;
    assert_eq!(
        app.post_json(PATH, &json!({"model": "Box:m"}))
            .await
            .status(),
        201
    );
    let body = assert_error(
        app.post_json(PATH, &json!({"model": "box:M", "input": 1}))
            .await,
        409,
        "price_taken",
    )
    .await;
    assert!(body["msg"].as_str().unwrap().contains("Box:m"), "{body}");
    let other: Value = app
        .post_json(PATH, &json!({"model": "other"}))
        .await
        .json()
        .await
        .unwrap();
    let path = format!("{PATH}/{}", other["id"].as_str().unwrap());
    assert_error(
        app.patch_json(&path, &json!({"model": "BOX:m"})).await,
        409,
        "price_taken",
    )
    .await;
    assert_violations(
        app.patch_json(&path, &json!({"model": null})).await,
        &["model"],
    )
    .await;
    let list: Value = app.get(PATH).await.json().await.unwrap();
    assert_eq!(
        list["prices"].as_array().unwrap().len(),
        2,
        "nothing half-written"
    );
    app.stop().await;
}

#[actix_web::test]
async fn a_written_price_wins_over_the_file_s_until_deleted() {
    let app = spawn_app_with(|s| {
        s.prices.insert(
            "m".into(),
            modelgate::config::PriceSettings {
                input: 100.0,
                output: 100.0,
                cache_read: 0.0,
                cache_write: 0.0,
            },
        );
    })
    .await;
    let mock = Mock::start().await;
    app.create(&registered(
        "a",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    priced_call(&app, &mock, "a:m").await;
    let created: Value = app
        .post_json(
            PATH,
            &json!({"model": "A:M", "input": 1, "output": 2, "cacheRead": 0.5}),
        )
        .await
        .json()
        .await
        .unwrap();
    priced_call(&app, &mock, "a:m").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("{PATH}/{id}")).await.status(), 204);
    priced_call(&app, &mock, "a:m").await;

    let list = events(&app, "", 3).await;
    // The file's: $100 a million in and out. Written: $1 for a million uncached in, $1 for
    // half a million out, $0.000001 for 2 cached.
    assert_eq!(list[2]["totalCost"], "150.00000", "{}", list[2]);
    assert_eq!(list[1]["totalCost"], "2.00000", "{}", list[1]);
    assert_eq!(list[0]["totalCost"], "150.00000", "{}", list[0]);
    app.stop().await;
}

#[actix_web::test]
async fn prices_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let mock = Mock::start().await;
    app.create(&registered(
        "a",
        &format!("{}/v1", mock.base),
        &["m"],
        json!(null),
    ))
    .await;
    assert_eq!(
        app.post_json(PATH, &json!({"model": "m", "output": 2}))
            .await
            .status(),
        201
    );
    app.stop().await;
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let list: Value = app.get(PATH).await.json().await.unwrap();
    assert_eq!(list["prices"][0]["output"], 2.0);
    priced_call(&app, &mock, "a:m").await;
    let e = &events(&app, "", 1).await[0];
    assert_eq!(e["totalCost"], "1.00000", "{e}");
    app.stop().await;
}
