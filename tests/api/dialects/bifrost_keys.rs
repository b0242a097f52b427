//! Bifrost's key routes, `/api/providers/{provider}/keys[/{key_id}]`: create, list, get, PUT as
//! Bifrost merges it (the redacted value sent back keeps the secret), delete, the value never
//! in clear, bad input and unknown names in Bifrost's error shape, and the same keys seen by
//! the ngrok API and the data plane.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_shape, shapes};
use crate::helpers::data_plane::{call, chat, registered};
use crate::helpers::{TestApp, spawn_app};
use crate::upstream::Mock;

const SECRET: &str = "sk-bifrost-secret-0123456789";
const NEW_SECRET: &str = "sk-bifrost-rotated-9876543210";

async fn send(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut req = app.req(method, path);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(SECRET) && !text.contains(NEW_SECRET),
        "{text}"
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_bifrost_error(doc: &Value, (status, body): &(u16, Value), want: u16, needle: &str) {
    assert_eq!(*status, want, "{body}");
    assert_shape(doc, "BifrostError", body);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(needle), "`{needle}` not in: {message}");
}

/// The Authorization header of the upstream's last call.
fn last_auth(mock: &Mock) -> String {
    mock.last().headers["authorization"].clone()
}

#[actix_web::test]
async fn keys_are_created_listed_read_replaced_and_deleted_in_bifrost_s_shape() {
    let doc = shapes("bifrost-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m", "n"], json!(null)))
        .await;

    let body = json!({"name": "primary", "value": SECRET, "models": ["m"], "weight": 2.5});
    let (status, key) = send(&app, Method::POST, "/api/providers/box/keys", Some(&body)).await;
    assert_eq!(status, 200, "{key}");
    assert_shape(&doc, "Key", &key);
    assert_eq!(key["name"], "primary");
    assert_eq!(key["models"], json!(["m"]));
    assert_eq!(key["weight"], 2.5);
    assert_eq!(key["value"]["value"], "sk-b…6789");
    assert_eq!(key["value"]["from_env"], false);
    let id = key["id"].as_str().unwrap().to_owned();
    let path = format!("/api/providers/box/keys/{id}");

    let (status, listed) = send(&app, Method::GET, "/api/providers/box/keys", None).await;
    assert_eq!(status, 200);
    assert_shape(&doc, "ListProviderKeysResponse", &listed);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["keys"][0], key);
    assert_eq!(
        send(&app, Method::GET, &path, None).await,
        (200, key.clone())
    );

    // The ngrok API and the data plane see the same key.
    let ngrok: Value = app
        .get(&format!("/provider-keys/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (&ngrok["weight"], &ngrok["models"]),
        (&json!(2.5), &json!(["m"]))
    );
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:m"))
            .await
            .status(),
        200
    );
    assert_eq!(last_auth(&mock), format!("Bearer {SECRET}"));

    // PUT with the value as answered keeps the secret; models and weight are replaced.
    let mut put = key.clone();
    put["models"] = json!([]);
    put.as_object_mut().unwrap().remove("weight");
    put["name"] = json!("renamed");
    let (status, replaced) = send(&app, Method::PUT, &path, Some(&put)).await;
    assert_eq!(status, 200, "{replaced}");
    assert_shape(&doc, "Key", &replaced);
    assert_eq!(replaced["name"], "renamed");
    assert_eq!(
        (&replaced["models"], &replaced["weight"]),
        (&json!([]), &json!(1.0))
    );
    assert_eq!(replaced["value"], key["value"]);
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:n"))
            .await
            .status(),
        200
    );
    assert_eq!(last_auth(&mock), format!("Bearer {SECRET}"));

    // Any other value replaces it, under the same id.
    let put = json!({"name": "renamed", "value": NEW_SECRET});
    let (status, rotated) = send(&app, Method::PUT, &path, Some(&put)).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["id"], id.as_str());
    assert_eq!(rotated["value"]["value"], "sk-b…3210");
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:m"))
            .await
            .status(),
        200
    );
    assert_eq!(last_auth(&mock), format!("Bearer {NEW_SECRET}"));

    // An env reference, in Bifrost's EnvVar form, shows as written.
    let env =
        json!({"name": "env", "value": {"value": "", "env_var": "env.BOX_KEY", "from_env": true}});
    let (status, from_env) = send(&app, Method::POST, "/api/providers/box/keys", Some(&env)).await;
    assert_eq!(status, 200, "{from_env}");
    assert_eq!(
        from_env["value"],
        json!({"value": "env.BOX_KEY", "env_var": "env.BOX_KEY", "from_env": true})
    );

    let (status, deleted) = send(&app, Method::DELETE, &path, None).await;
    assert_eq!((status, &deleted["id"]), (200, &json!(id)));
    assert_shape(&doc, "Key", &deleted);
    let r = send(&app, Method::GET, &path, None).await;
    assert_bifrost_error(&doc, &r, 404, "Provider key not found");
    assert_eq!(app.get(&format!("/provider-keys/{id}")).await.status(), 404);
    let (_, listed) = send(&app, Method::GET, "/api/providers/box/keys", None).await;
    assert_eq!(listed["total"], 1);
}

#[actix_web::test]
async fn bad_input_and_unknown_names_come_in_bifrost_s_shape() {
    let doc = shapes("bifrost-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    app.create(&registered("other", &mock.base, &["m"], json!(null)))
        .await;
    let keys = "/api/providers/box/keys";

    let r = send(&app, Method::POST, keys, Some(&json!({"name": "k"}))).await;
    assert_bifrost_error(&doc, &r, 400, "Key value must not be empty");
    let bad = json!({"name": "k", "value": SECRET, "weight": 0, "models": ["a", "a"]});
    let r = send(&app, Method::POST, keys, Some(&bad)).await;
    assert_bifrost_error(&doc, &r, 400, "weight");
    assert_bifrost_error(&doc, &r, 400, "models");
    let r = send(
        &app,
        Method::POST,
        keys,
        Some(&json!({"value": SECRET, "models": "m"})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "models");
    let (_, listed) = send(&app, Method::GET, keys, None).await;
    assert_eq!(listed["total"], 0);

    let r = send(&app, Method::GET, "/api/providers/nowhere/keys", None).await;
    assert_bifrost_error(&doc, &r, 404, "Provider not found");
    let r = send(
        &app,
        Method::POST,
        "/api/providers/nowhere/keys",
        Some(&json!({"name": "k", "value": SECRET})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 404, "Provider not found");
    let r = send(&app, Method::GET, "/api/providers/box/keys/not-an-id", None).await;
    assert_bifrost_error(&doc, &r, 404, "Provider key not found");

    // A key of another provider is not found under this one.
    let (_, theirs) = send(
        &app,
        Method::POST,
        "/api/providers/other/keys",
        Some(&json!({"name": "k", "value": SECRET})),
    )
    .await;
    let under_box = format!("/api/providers/box/keys/{}", theirs["id"].as_str().unwrap());
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = json!({"name": "k"});
        let r = send(&app, method, &under_box, Some(&body)).await;
        assert_bifrost_error(&doc, &r, 404, "Provider key not found");
    }
    let theirs_path = format!(
        "/api/providers/other/keys/{}",
        theirs["id"].as_str().unwrap()
    );
    let r = send(
        &app,
        Method::PUT,
        &theirs_path,
        Some(&json!({"weight": -2})),
    )
    .await;
    assert_bifrost_error(&doc, &r, 400, "weight");

    let res = app.client.get(app.url(keys)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_shape(&doc, "BifrostError", &body);
    let r = send(&app, Method::PATCH, keys, None).await;
    assert_bifrost_error(&doc, &r, 405, "allowed");
}
