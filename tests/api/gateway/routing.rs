//! Where a call goes: a qualified model to its provider, rewritten and stripped of the caller's
//! credential; a bare name to the oldest provider declaring it; a management change seen by the
//! next call.

use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, call, openai_error, registered};
use crate::helpers::{ADMIN_TOKEN, spawn_app};
use crate::upstream::Mock;

#[actix_web::test]
async fn a_qualified_model_reaches_its_provider_rewritten_and_without_the_callers_credential() {
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered(
        "ollama-box",
        &format!("{}?tenant=7", mock.base),
        &["llama3.1:8b"],
        json!(null),
    ))
    .await;
    let res = app
        .client
        .post(app.url("/v1/chat/completions?debug=1"))
        .bearer_auth(ADMIN_TOKEN)
        .header("cookie", "session=secret-cookie")
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .json(&json!({"model": "ollama-box:llama3.1:8b", "messages": [{"role": "user", "content": "hi"}],
                      "temperature": 0.30000000000000004, "models": ["other"], "custom": {"kept": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-modelgate-provider"], "ollama-box");
    assert_eq!(res.headers()["x-modelgate-model"], "llama3.1:8b");
    assert_eq!(res.headers()["x-modelgate-request-id"].len(), 26);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["model"], "llama3.1:8b");
    let seen = mock.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert_eq!(
        seen.query, "tenant=7",
        "the base URL's query is kept, the caller's is not"
    );
    assert_eq!(seen.body["model"], "llama3.1:8b");
    assert!(seen.body.get("models").is_none());
    assert_eq!(seen.body["custom"], json!({"kept": true}));
    assert_eq!(seen.body["temperature"], json!(0.30000000000000004));
    for forbidden in ["authorization", "x-api-key", "cookie", "x-secret"] {
        assert!(
            !seen.headers.contains_key(forbidden),
            "{forbidden} reached the upstream: {:?}",
            seen.headers
        );
    }
    assert!(!format!("{:?}", seen.headers).contains(ADMIN_TOKEN));
    assert!(seen.headers["user-agent"].starts_with("modelgate/"));
    mock.stop().await;
}

#[actix_web::test]
async fn a_bare_name_goes_to_the_oldest_provider_that_declares_it() {
    let app = spawn_app().await;
    let (first, second) = (Mock::start().await, Mock::start().await);
    app.create(&registered(
        "first",
        &first.base,
        &["shared-model"],
        json!(null),
    ))
    .await;
    app.create(&registered(
        "second",
        &second.base,
        &["shared-model", "only-second"],
        json!(null),
    ))
    .await;
    assert_eq!(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "shared-model"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(first.seen().len(), 1);
    assert_eq!(
        call(
            &app,
            "/v1/chat/completions",
            json!({"model": "ONLY-SECOND"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        second.last().body["model"],
        "only-second",
        "the declared spelling goes upstream"
    );
    first.stop().await;
    second.stop().await;
}

#[actix_web::test]
async fn a_change_acknowledged_by_the_management_api_is_what_the_next_call_uses() {
    let app = spawn_app().await;
    let (a, b) = (Mock::start().await, Mock::start().await);
    let created = app
        .create(&registered("moving", &a.base, &["m1"], json!(null)))
        .await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "moving:m1"}))
            .await
            .status(),
        200
    );
    let res = app
        .patch_json(
            &path,
            &json!({"baseUrl": b.base, "models": [{"modelId": "m2"}]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "moving:m1"})).await,
        404,
        "model_not_found",
    )
    .await;
    assert_eq!(
        call(&app, "/v1/chat/completions", json!({"model": "m2"}))
            .await
            .status(),
        200
    );
    assert_eq!((a.seen().len(), b.seen().len()), (1, 1));
    let key = add_key(&app, "moving", "sk-added-after-0000").await;
    call(&app, "/v1/chat/completions", json!({"model": "m2"})).await;
    assert_eq!(
        b.last().headers["authorization"],
        "Bearer sk-added-after-0000"
    );
    assert_eq!(
        app.delete(&format!("{path}?cascade=true")).await.status(),
        204
    );
    openai_error(
        call(&app, "/v1/chat/completions", json!({"model": "m2"})).await,
        404,
        "model_not_found",
    )
    .await;
    // The key went with its provider; the key's use was recorded before.
    assert_eq!(
        app.get(&format!("/provider-keys/{}", key["id"].as_str().unwrap()))
            .await
            .status(),
        404
    );
    a.stop().await;
    b.stop().await;
}
