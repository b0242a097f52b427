//! A provider key's `state`, modelgate's extension to its answers: shown only while the data
//! plane rests the key (refused with 401/402/403, or rate-limited with 429), with the cause and
//! when the rest ends, read from the gateway's memory. Both clocks are the test's, so `until`
//! is exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::helpers::data_plane::{add_key, call, chat, failing, registered};
use crate::helpers::{TestApp, spawn_app_clocks};
use crate::schema::assert_valid;
use crate::upstream::Mock;

/// A whole second, as answers show times to the second.
const WALL: u64 = 1_800_000_000_000;

fn clock(start: u64) -> (Arc<dyn Fn() -> u64 + Send + Sync>, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(start));
    let read = Arc::clone(&now);
    (Arc::new(move || read.load(Ordering::SeqCst)), now)
}

fn at(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
        .to_string()
}

/// The key at `uri`, checked against the OpenAPI document's schema and, its extension set
/// aside, against ngrok's shape.
async fn key(app: &TestApp, doc: &Value, uri: &str) -> Value {
    let res = app.get(uri).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let schema = json!({"$ref": "#/components/schemas/AIGatewayProviderAPIKeyDetail"});
    crate::json_schema::assert_conforms(doc, &schema, &body, true);
    let mut plain = body.clone();
    plain.as_object_mut().unwrap().remove("state");
    assert_valid("AIGatewayProviderAPIKeyDetail", &plain);
    body
}

#[actix_web::test]
async fn a_refused_or_rate_limited_key_shows_its_state_until_its_rest_ends() {
    let (wall, wall_now) = clock(WALL);
    let (policy, policy_now) = clock(0);
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_clocks(dir.path(), |_| {}, wall, policy).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let detail = &doc["components"]["schemas"]["AIGatewayProviderAPIKeyDetail"];
    assert_eq!(
        detail["properties"]["state"]["$ref"],
        "#/components/schemas/ProviderKeyState"
    );
    assert!(
        !detail["required"]
            .as_array()
            .unwrap()
            .contains(&json!("state"))
    );
    let state = &doc["components"]["schemas"]["ProviderKeyState"];
    assert_eq!(state["required"], json!(["status", "until", "reason"]));
    assert_eq!(
        doc["components"]["schemas"]["ProviderKeyStatus"]["enum"],
        json!(["refused", "resting"])
    );
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m"], json!(null)))
        .await;
    let older = add_key(&app, "box", "sk-older-key-0123456789").await;
    let newest = add_key(&app, "box", "sk-newest-key-0123456789").await;
    let (older, newest) = (
        older["uri"].as_str().unwrap(),
        newest["uri"].as_str().unwrap(),
    );
    assert!(key(&app, &doc, newest).await.get("state").is_none());

    // The newest key is tried first and refused: it rests a minute, the older one answers.
    mock.then(failing(401, vec![]));
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:m"))
            .await
            .status(),
        200
    );
    let refused = key(&app, &doc, newest).await;
    assert_eq!(refused["state"]["status"], "refused", "{refused}");
    assert_eq!(refused["state"]["until"], at(WALL + 60_000));
    assert!(refused["state"]["reason"].as_str().unwrap().contains("401"));
    assert!(key(&app, &doc, older).await.get("state").is_none());
    let list: Value = app
        .get("/provider-keys?provider=box")
        .await
        .json()
        .await
        .unwrap();
    let states: Vec<&Value> = list["aiGatewayProviderKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["state"]["status"])
        .collect();
    assert_eq!(states, [&json!("refused"), &Value::Null], "{list}");

    // The older key is now first; rate-limited, it rests as long as the upstream asked.
    mock.then(failing(429, vec![("retry-after", "7")]));
    assert_eq!(
        call(&app, "/v1/chat/completions", chat("box:m"))
            .await
            .status(),
        200
    );
    let limited = key(&app, &doc, older).await;
    assert_eq!(limited["state"]["status"], "resting", "{limited}");
    assert_eq!(limited["state"]["until"], at(WALL + 7_000));
    assert!(limited["state"]["reason"].as_str().unwrap().contains("429"));

    // Seven seconds on, the rate limit's rest is over; the refusal's still ends when it did.
    policy_now.fetch_add(7_000, Ordering::SeqCst);
    wall_now.fetch_add(7_000, Ordering::SeqCst);
    assert!(key(&app, &doc, older).await.get("state").is_none());
    assert_eq!(
        key(&app, &doc, newest).await["state"]["until"],
        at(WALL + 60_000)
    );

    // Rotating the refused key ends its rest, and its state with it.
    let rotated = app
        .post_json(
            &format!("{newest}/rotate"),
            &json!({"name": "k", "value": "sk-rotated-key-0123456789"}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    assert!(key(&app, &doc, newest).await.get("state").is_none());
}
