//! An access key configuration's `router.rules` (ngrok's `Router`): which provider keys the
//! calls under it use. The mock upstream tells which key each attempt carried: an ordered
//! rule's keys in order (the second answering when the first fails), round-robin alternating,
//! weighted by weight, a model rule beating its provider's rule, an inline `{name, value}` key
//! created with the configuration. Bad rules are refused all at once; a key a rule names is 409
//! on delete unless `?cascade=true` takes it out of the rule (an emptied rule goes, and the
//! provider's own keys apply again). Answers match ngrok's shapes.

use serde_json::{Value, json};

use super::configurations::PATH;
use super::{create as create_key, json as answer};
use crate::helpers::data_plane::{add_key, chat, failing, registered};
use crate::helpers::{
    ADMIN_TOKEN, CI_ID, CI_TOKEN, TestApp, assert_error, assert_violations, merged, spawn_app,
};
use crate::schema::assert_valid;
use crate::upstream::Mock;

/// Provider `box` at a mock, declaring `m` and `other`, with keys `sk-box-key-1…` to `-3…`
/// (the third newest: what calls without a rule use first); and their ids.
async fn boxed(app: &TestApp) -> (Mock, Vec<String>) {
    let mock = Mock::start().await;
    app.create(&registered("box", &mock.base, &["m", "other"], json!(null)))
        .await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let key = add_key(app, "box", &format!("sk-box-key-{n}-0123456789")).await;
        ids.push(key["id"].as_str().unwrap().to_owned());
    }
    (mock, ids)
}

fn bearer(n: usize) -> String {
    format!("Bearer sk-box-key-{n}-0123456789")
}

/// A step of `type: user` with these keys (`{id}` each) and strategy.
fn step(ids: &[&str], strategy: Option<&str>) -> Value {
    let keys: Vec<Value> = ids.iter().map(|id| json!({"id": id})).collect();
    match strategy {
        Some(s) => json!({"type": "user", "keys": keys, "keySelectionStrategy": s}),
        None => json!({"type": "user", "keys": keys}),
    }
}

/// A key under a new configuration with these rules, and the configuration.
async fn routed(app: &TestApp, rules: Value) -> (String, Value) {
    let body = json!({"name": "routed", "router": {"rules": rules}});
    let made = answer(app.post_json(PATH, &body).await, 201).await;
    assert_ngrok_shape(&made);
    let (_, token) = create_key(app, json!({"accessKeyConfigurationId": made["id"]})).await;
    (token, made)
}

async fn chat_as(app: &TestApp, token: &str, model: &str) -> u16 {
    app.client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(token)
        .json(&chat(model))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The keys the upstream saw, from the `from`th request on.
fn seen_keys(mock: &Mock, from: usize) -> Vec<String> {
    mock.seen()[from..]
        .iter()
        .map(|s| s.headers["authorization"].clone())
        .collect()
}

/// Checks a configuration against ngrok's shape, modelgate's `weight` set aside.
fn assert_ngrok_shape(c: &Value) {
    let mut plain = c.clone();
    for rule in plain["router"]["rules"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for step in rule["steps"].as_array_mut().unwrap() {
            for key in step["keys"].as_array_mut().unwrap() {
                key.as_object_mut().unwrap().remove("weight");
            }
        }
    }
    assert_valid("AIGatewayAccessKeyConfiguration", &plain);
}

#[actix_web::test]
async fn an_ordered_rule_walks_its_keys_in_order_and_answers_in_ngroks_exact_shape() {
    let app = spawn_app().await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([{"provider": "box", "steps": [step(&[&ids[0], &ids[1]], Some("ordered"))]}]),
    )
    .await;
    // ngrok's exact shape: each step key expanded, no value, no field of modelgate's.
    assert_valid("AIGatewayAccessKeyConfiguration", &made);
    let key = &made["router"]["rules"][0]["steps"][0]["keys"][0];
    assert_eq!(key["id"], ids[0].as_str());
    assert_eq!(key["name"], "k");
    assert!(key["keyRedacted"].is_string());
    assert_eq!(key.as_object().unwrap().len(), 3, "{key}");
    assert_eq!(made["router"]["rules"][0]["steps"][0]["type"], "user");
    assert!(!made.to_string().contains("0123456789"), "{made}");

    mock.then(failing(401, vec![]));
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 0), [bearer(1), bearer(2)]);
    // The management credential keeps the provider's own keys, newest first.
    assert_eq!(chat_as(&app, ADMIN_TOKEN, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 2), [bearer(3)]);
    mock.stop().await;
}

#[actix_web::test]
async fn round_robin_alternates_and_weighted_follows_the_weights() {
    let app = spawn_app().await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([
            {"provider": "box", "steps": [step(&[&ids[0], &ids[1]], Some("round-robin"))]},
            {"model": "box:other", "steps": [{"type": "user", "keySelectionStrategy": "weighted",
                "keys": [{"id": ids[0], "weight": 1}, {"id": ids[2], "weight": 1000}]}]},
        ]),
    )
    .await;
    assert_ngrok_shape(&made);
    let weighted = &made["router"]["rules"][1]["steps"][0];
    assert_eq!(weighted["keySelectionStrategy"], "weighted");
    assert_eq!(weighted["keys"][1]["weight"], 1000);
    for _ in 0..2 {
        assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    }
    // A fallback model at the same provider is served by the same rule: the first key still
    // moves once per call, not once per target.
    for _ in 0..2 {
        let body = merged(chat("box:m"), json!({"models": ["box:m"]}));
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(&token);
        assert_eq!(res.json(&body).send().await.unwrap().status(), 200);
    }
    assert_eq!(
        seen_keys(&mock, 0),
        [bearer(1), bearer(2), bearer(1), bearer(2)]
    );
    for _ in 0..20 {
        assert_eq!(chat_as(&app, &token, "box:other").await, 200);
    }
    let light = seen_keys(&mock, 4)
        .iter()
        .filter(|k| **k == bearer(1))
        .count();
    // Weights 1 and 1000 share every 1001 calls exactly: at most one of 20 is the light key's.
    assert!(light <= 1, "{light}");
    mock.stop().await;
}

#[actix_web::test]
async fn a_model_rule_beats_its_providers_rule_and_inline_keys_are_made_with_it() {
    let app = spawn_app().await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([
            {"provider": "box", "steps": [step(&[&ids[0]], None)]},
            {"model": "box:OTHER", "steps": [{"type": "user",
                "keys": [{"name": "inline", "value": "sk-inline-key-0123456789"}]}]},
        ]),
    )
    .await;
    assert_ngrok_shape(&made);
    assert!(!made.to_string().contains("sk-inline-key"), "{made}");
    let inline = &made["router"]["rules"][1]["steps"][0]["keys"][0];
    assert_eq!(inline["name"], "inline");
    let listed = answer(app.get("/provider-keys?provider=box").await, 200).await;
    assert!(listed.to_string().contains(inline["id"].as_str().unwrap()));

    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(chat_as(&app, &token, "box:other").await, 200);
    assert_eq!(
        seen_keys(&mock, 0),
        [bearer(1), "Bearer sk-inline-key-0123456789".to_owned()]
    );
    mock.stop().await;
}

#[actix_web::test]
async fn every_bad_rule_is_refused_at_once_and_nothing_is_made() {
    let app = spawn_app().await;
    let (_mock, ids) = boxed(&app).await;
    let openai = add_key(&app, "openai", "sk-openai-key-0123456789").await;
    let unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    let body = json!({"name": "bad", "router": {"rules": [
        {"provider": "box", "steps": [step(&[openai["id"].as_str().unwrap(), unknown], None)]},
        {"provider": "box", "steps": [step(&[&ids[0]], None)]},
        {"provider": "openai", "steps": [{"type": "ngrok"}]},
        {"model": "box:m", "steps": []},
        {"model": "box:x", "steps": [{"type": "user", "keySelectionStrategy": "weighted",
            "keys": [{"id": ids[0], "weight": 0}]}]},
        {"model": "box:y", "steps": [{"type": "user", "keys": [{"id": ids[0], "weight": 5}]}]},
        {"model": "box:z", "steps": [step(&[&ids[0]], Some("random"))]},
    ]}});
    let details = assert_violations(
        app.post_json(PATH, &body).await,
        &[
            "router.rules[0].steps[0].keys[0].id",
            "router.rules[0].steps[0].keys[1].id",
            "router.rules[1].provider",
            "router.rules[2].steps[0].type",
            "router.rules[3].steps",
            "router.rules[4].steps[0].keys[0].weight",
            "router.rules[5].steps[0].keys[0].weight",
            "router.rules[6].steps[0].keySelectionStrategy",
        ],
    )
    .await;
    let said = |path: &str| details[path].as_str().unwrap().to_owned();
    assert!(said("router.rules[0].steps[0].keys[0].id").contains("openai"));
    assert!(said("router.rules[2].steps[0].type").contains("ngrok"));
    // An array where an object goes, at any depth.
    for router in [
        json!([{"rules": []}]),
        json!({"rules": [[{"provider": "box"}]]}),
        json!({"rules": [{"provider": "box", "steps": [[null]]}]}),
    ] {
        let res = app
            .post_json(PATH, &json!({"name": "x", "router": router}))
            .await;
        assert_error(res, 400, "validation_failed").await;
    }
    let list = answer(app.get(PATH).await, 200).await;
    assert_eq!(list["aiGatewayAccessKeyConfigurations"], json!([]));
    let keys = answer(app.get("/provider-keys").await, 200).await;
    assert_eq!(
        keys["aiGatewayProviderKeys"].as_array().map(Vec::len),
        Some(4)
    );
}

#[actix_web::test]
async fn a_patch_keeps_replaces_or_clears_the_router() {
    let app = spawn_app().await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([{"provider": "box", "steps": [step(&[&ids[0]], None)]}]),
    )
    .await;
    let uri = made["uri"].as_str().unwrap().to_owned();
    let kept = answer(app.patch_json(&uri, &json!({"name": "n"})).await, 200).await;
    assert_eq!(kept["router"], made["router"]);
    let bad = json!({"router": {"rules": [{"provider": "box", "steps": [step(&["x"], None)]}]}});
    assert_violations(
        app.patch_json(&uri, &bad).await,
        &["router.rules[0].steps[0].keys[0].id"],
    )
    .await;
    let replaced = json!({"router": {"rules": [{"provider": "box",
        "steps": [step(&[&ids[1]], None)]}]}});
    answer(app.patch_json(&uri, &replaced).await, 200).await;
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    let cleared = answer(app.patch_json(&uri, &json!({"router": null})).await, 200).await;
    assert!(cleared.get("router").is_none(), "{cleared}");
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 0), [bearer(2), bearer(3)]);
    // Cleared, the key it named is free to go.
    assert_eq!(
        app.delete(&format!("/provider-keys/{}", ids[1]))
            .await
            .status(),
        204
    );
    mock.stop().await;
}

#[actix_web::test]
async fn a_key_a_rule_names_is_in_use_until_a_cascade_takes_it_out() {
    let app = spawn_app().await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([{"provider": "box",
            "steps": [step(&[&ids[0]], None), step(&[&ids[1]], None)]}]),
    )
    .await;
    let uri = made["uri"].as_str().unwrap().to_owned();
    let first = format!("/provider-keys/{}", ids[0]);
    let body = assert_error(app.delete(&first).await, 409, "provider_key_in_use").await;
    assert_eq!(body["details"]["accessKeyConfigurations"], made["id"]);
    assert_eq!(
        answer(app.get(&first).await, 200).await["id"],
        ids[0].as_str()
    );

    // Deleted by another credential than the one that wrote the configuration: the cascade
    // names it as the configuration's last updater.
    let gone = app
        .client
        .delete(app.url(&format!("{first}?cascade=true")))
        .bearer_auth(CI_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    let after = answer(app.get(&uri).await, 200).await;
    assert_ngrok_shape(&after);
    assert_eq!(made["lastUpdatedBy"]["id"], "admin");
    assert_eq!(after["lastUpdatedBy"]["id"], CI_ID, "{after}");
    assert_eq!(
        after["router"]["rules"][0]["steps"],
        json!([{"type": "user", "keys": [made["router"]["rules"][0]["steps"][1]["keys"][0]]}])
    );
    assert!(after["updatedAt"].as_str() >= made["updatedAt"].as_str());
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    // The rule's last key gone, the rule goes: the provider's own keys apply again.
    let second = format!("/provider-keys/{}?cascade=true", ids[1]);
    assert_eq!(app.delete(&second).await.status(), 204);
    let emptied = answer(app.get(&uri).await, 200).await;
    assert_eq!(emptied["router"], json!({"rules": []}));
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 0), [bearer(2), bearer(3)]);

    // A provider's cascading delete takes its keys out of the rules the same way.
    let (_, again) = routed(
        &app,
        json!([{"provider": "box", "steps": [step(&[&ids[2]], None)]}]),
    )
    .await;
    let provider = answer(app.get("/providers").await, 200).await["aiGatewayProviders"][0]["uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(app.delete(&provider).await, 409, "provider_has_keys").await;
    assert_eq!(
        app.delete(&format!("{provider}?cascade=true"))
            .await
            .status(),
        204
    );
    let pruned = answer(app.get(again["uri"].as_str().unwrap()).await, 200).await;
    assert_eq!(pruned["router"], json!({"rules": []}));
    mock.stop().await;
}

#[actix_web::test]
async fn rules_and_what_they_name_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = crate::helpers::spawn_app_in(dir.path(), |_| {}).await;
    let (mock, ids) = boxed(&app).await;
    let (token, made) = routed(
        &app,
        json!([{"provider": "box", "steps": [step(&[&ids[1]], None)]}]),
    )
    .await;
    app.stop().await;
    let app = crate::helpers::spawn_app_in(dir.path(), |_| {}).await;
    assert_eq!(
        answer(app.get(made["uri"].as_str().unwrap()).await, 200).await,
        made
    );
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 0), [bearer(2)]);
    let named = format!("/provider-keys/{}", ids[1]);
    assert_error(app.delete(&named).await, 409, "provider_key_in_use").await;
    app.stop().await;
    mock.stop().await;
}

#[actix_web::test]
async fn a_provider_without_a_rule_uses_its_own_keys() {
    let app = spawn_app().await;
    let (mock, _) = boxed(&app).await;
    let openai = add_key(&app, "openai", "sk-openai-key-0123456789").await;
    let (token, _) = routed(
        &app,
        json!([{"provider": "openai", "steps": [step(&[openai["id"].as_str().unwrap()], None)]}]),
    )
    .await;
    assert_eq!(chat_as(&app, &token, "box:m").await, 200);
    assert_eq!(seen_keys(&mock, 0), [bearer(3)]);
    mock.stop().await;
}
