//! `/model-aliases` (modelgate's extension): made, read, paged, changed (omitted keeps, `null`
//! clears, `If-Match`) and deleted; every violation at once; no shadowing of a `providerId:`
//! name, no alias pointing at an alias either way, a name unique ignoring case (409). On the
//! data plane: a call for an alias reaches its target, then its fallbacks, then the call's own
//! `models`; access key scopes are checked against where the call goes; `/v1/models` lists
//! aliases in both shapes; aliases survive a restart.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::data_plane::{call, chat, failing, header, openai_error, registered};
use crate::helpers::{
    ADMIN_TOKEN, TestApp, assert_error, assert_violations, spawn_app, spawn_app_in,
};
use crate::json_schema::{assert_conforms, resolve};
use crate::upstream::Mock;

const PATH: &str = "/model-aliases";
const NOWHERE: &str = "http://127.0.0.1:9/v1";

async fn json(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Asserts `value` is what the document says the schema `name` is.
async fn assert_documented(app: &TestApp, name: &str, value: &Value) {
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = resolve(&doc, &doc["components"]["schemas"][name]).clone();
    assert!(!schema.is_null(), "no schema {name}");
    assert_conforms(&doc, &schema, value, true);
}

async fn alias(app: &TestApp, body: Value) -> Value {
    let res = app.post_json(PATH, &body).await;
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let made = json(res, 201).await;
    assert_eq!(location.as_deref(), made["uri"].as_str());
    made
}

/// A provider at a mock that declares no models, so any `slug:model` reaches it.
async fn upstream(app: &TestApp, slug: &str) -> Mock {
    let mock = Mock::start().await;
    app.create(&registered(slug, &mock.base, &[], json!(null)))
        .await;
    mock
}

#[actix_web::test]
async fn an_alias_is_made_read_paged_changed_and_deleted() {
    let app = spawn_app().await;
    let made = alias(
        &app,
        json!({"alias": "gpt-4o", "target": "local:qwen2.5:7b",
               "fallbacks": ["a:m", "b"], "description": "d"}),
    )
    .await;
    assert_documented(&app, "ModelAlias", &made).await;
    assert_eq!(made["fallbacks"], json!(["a:m", "b"]));
    assert_eq!(made["createdBy"]["id"], "admin");
    assert!(made.get("metadata").is_none(), "{made}");
    let uri = made["uri"].as_str().unwrap().to_owned();
    let res = app.get(&uri).await;
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.contains(made["id"].as_str().unwrap()), "{etag}");
    assert_eq!(json(res, 200).await, made);
    let unchanged = app
        .req(Method::GET, &uri)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(
        app.req(Method::HEAD, &uri).send().await.unwrap().status(),
        200
    );

    let second = alias(&app, json!({"alias": "small", "target": "m"})).await;
    assert_eq!(second["fallbacks"], json!([]));
    let page = json(app.get(&format!("{PATH}?limit=1")).await, 200).await;
    assert_documented(&app, "ModelAliasList", &page).await;
    assert_eq!(page["modelAliases"][0]["id"], second["id"]);
    let rest = json(app.get(page["nextPageUri"].as_str().unwrap()).await, 200).await;
    assert_eq!(rest["modelAliases"][0]["id"], made["id"]);
    assert_eq!(rest["nextPageUri"], Value::Null);
    assert_error(
        app.get(&format!("{PATH}?beforeId=x")).await,
        400,
        "invalid_query",
    )
    .await;

    // If-Match: another version is refused; omitted keeps, `null` clears.
    let stale = app
        .req(Method::PATCH, &uri)
        .header("if-match", "\"other\"")
        .json(&json!({"target": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(stale, 412, "precondition_failed").await;
    let res = app
        .req(Method::PATCH, &uri)
        .header("if-match", &etag)
        .json(&json!({"fallbacks": null, "description": null, "target": "local:llama3"}))
        .send()
        .await
        .unwrap();
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let changed = json(res, 200).await;
    assert_ne!(new_etag, etag);
    assert_eq!(
        (&changed["alias"], &changed["target"], &changed["fallbacks"]),
        (&json!("gpt-4o"), &json!("local:llama3"), &json!([]))
    );
    assert!(changed.get("description").is_none(), "{changed}");
    // An empty PATCH changes nothing, not even the tag.
    let same = app.patch_json(&uri, &json!({})).await;
    assert_eq!(same.headers()["etag"].to_str().unwrap(), new_etag);

    let stale = app
        .req(Method::DELETE, &uri)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_error(stale, 412, "precondition_failed").await;
    let gone = app
        .req(Method::DELETE, &uri)
        .header("if-match", &new_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    assert_error(app.get(&uri).await, 404, "not_found").await;
    assert_error(app.delete(&uri).await, 404, "not_found").await;
    let patch = app.patch_json(&uri, &json!({"target": "x"})).await;
    assert_error(patch, 404, "not_found").await;
    assert_error(app.get(&format!("{PATH}/nope")).await, 404, "not_found").await;
}

#[actix_web::test]
async fn every_violation_of_a_body_is_reported_at_once() {
    let app = spawn_app().await;
    let res = app
        .post_json(
            PATH,
            &json!({"alias": "has space", "fallbacks": ["ok", "", "a\tb"], "description": "x\n"}),
        )
        .await;
    let details = assert_violations(
        res,
        &[
            "alias",
            "target",
            "fallbacks[1]",
            "fallbacks[2]",
            "description",
        ],
    )
    .await;
    assert_eq!(details["target"], "is required");
    let many = vec!["m"; 17];
    let res = app
        .post_json(
            PATH,
            &json!({"alias": "a", "target": "b", "fallbacks": many}),
        )
        .await;
    let details = assert_violations(res, &["fallbacks"]).await;
    assert!(
        details["fallbacks"].as_str().unwrap().contains("16"),
        "{details}"
    );
    let wrong_types = app
        .post_json(
            PATH,
            &json!({"alias": 1, "target": ["b"], "fallbacks": "c"}),
        )
        .await;
    assert_violations(wrong_types, &["alias", "target", "fallbacks"]).await;
    let unknown = app
        .post_json(PATH, &json!({"alias": "a", "target": "b", "extra": 1}))
        .await;
    assert_error(unknown, 400, "unknown_field").await;
    let array = app.post_json(PATH, &json!(["a", "b"])).await;
    assert_eq!(array.status(), 400);

    let made = alias(&app, json!({"alias": "a", "target": "b"})).await;
    let uri = made["uri"].as_str().unwrap();
    let res = app
        .patch_json(
            uri,
            &json!({"alias": null, "target": null, "fallbacks": [""]}),
        )
        .await;
    let details = assert_violations(res, &["alias", "target", "fallbacks[0]"]).await;
    assert_eq!(details["alias"], "cannot be cleared");
    assert_eq!(json(app.get(uri).await, 200).await, made);
}

#[actix_web::test]
async fn an_alias_cannot_shadow_a_qualified_name_nor_point_at_an_alias() {
    let app = spawn_app().await;
    app.create(&registered("local", NOWHERE, &[], json!(null)))
        .await;
    for shadowing in ["local:x", "openai:gpt-4o"] {
        let res = app
            .post_json(PATH, &json!({"alias": shadowing, "target": "m"}))
            .await;
        let details = assert_violations(res, &["alias"]).await;
        let prefix = shadowing.split(':').next().unwrap();
        assert!(
            details["alias"].as_str().unwrap().contains(prefix),
            "{details}"
        );
    }
    // A prefix that names no provider is a bare name, as calls read it.
    alias(&app, json!({"alias": "llama3.1:8b", "target": "nobody:x"})).await;
    alias(
        &app,
        json!({"alias": "GPT-4o", "target": "local:qwen", "fallbacks": ["m"]}),
    )
    .await;

    // Pointing at an alias, in any case, as target or fallback; and all at once.
    let res = app
        .post_json(
            PATH,
            &json!({"alias": "local:y", "target": "gpt-4O", "fallbacks": ["ok", "LLAMA3.1:8B", "local:"]}),
        )
        .await;
    let details =
        assert_violations(res, &["alias", "target", "fallbacks[1]", "fallbacks[2]"]).await;
    assert!(
        details["target"].as_str().unwrap().contains("`GPT-4o`"),
        "{details}"
    );
    // Naming an alias what an alias points at: a chain the other way.
    for pointed in ["M", "local:qwen", "nobody:x"] {
        let res = app
            .post_json(PATH, &json!({"alias": pointed, "target": "z"}))
            .await;
        let details = assert_violations(res, &["alias"]).await;
        assert!(
            details["alias"]
                .as_str()
                .unwrap()
                .contains("target or a fallback")
        );
    }
    let res = app
        .post_json(PATH, &json!({"alias": "me", "target": "ME"}))
        .await;
    assert_violations(res, &["target"]).await;

    // A name taken in any case is a conflict; an alias keeps its own name across a PATCH.
    let res = app
        .post_json(PATH, &json!({"alias": "gpt-4o", "target": "z"}))
        .await;
    let body = assert_error(res, 409, "alias_taken").await;
    assert_eq!(body["details"]["alias"], "is already taken");
    let other = alias(&app, json!({"alias": "other", "target": "z"})).await;
    let uri = other["uri"].as_str().unwrap();
    assert_error(
        app.patch_json(uri, &json!({"alias": "Gpt-4o"})).await,
        409,
        "alias_taken",
    )
    .await;
    assert_violations(
        app.patch_json(uri, &json!({"fallbacks": ["gpt-4o"]})).await,
        &["fallbacks[0]"],
    )
    .await;
    let renamed = json(app.patch_json(uri, &json!({"alias": "OTHER"})).await, 200).await;
    assert_eq!(renamed["alias"], "OTHER");
    // Deleting an alias frees its name and what it pointed at.
    app.delete(uri).await;
    alias(&app, json!({"alias": "z", "target": "q"})).await;
}

#[actix_web::test]
async fn a_call_through_an_alias_goes_to_its_target_then_its_fallbacks_then_the_calls_own() {
    let app = spawn_app().await;
    let (local, a, b, c) = (
        upstream(&app, "local").await,
        upstream(&app, "a").await,
        upstream(&app, "b").await,
        upstream(&app, "c").await,
    );
    alias(
        &app,
        json!({"alias": "gpt-4o", "target": "local:qwen2.5:7b", "fallbacks": ["a:m1", "b:m2"]}),
    )
    .await;
    let res = call(&app, "/v1/chat/completions", chat("GPT-4o")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-modelgate-provider"), "local");
    assert_eq!(header(&res, "x-modelgate-model"), "qwen2.5:7b");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["model"], "qwen2.5:7b",
        "the upstream's answer, as it said it"
    );
    assert_eq!(local.last().body["model"], "qwen2.5:7b");

    local.then(failing(500, vec![]));
    let res = call(&app, "/v1/chat/completions", chat("gpt-4o")).await;
    assert_eq!(
        (
            header(&res, "x-modelgate-provider"),
            header(&res, "x-modelgate-attempts")
        ),
        ("a", "2")
    );
    assert_eq!(a.last().body["model"], "m1");

    // Past the alias's own fallbacks come the call's `models`.
    local.then(failing(500, vec![]));
    a.then(failing(503, vec![]));
    b.then(failing(502, vec![]));
    let mut body = chat("gpt-4o");
    body["models"] = json!(["c:m3"]);
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(
        (
            header(&res, "x-modelgate-provider"),
            header(&res, "x-modelgate-attempts")
        ),
        ("c", "4")
    );
    assert_eq!(c.last().body["model"], "m3");
    assert_eq!(b.last().body["model"], "m2");

    // An alias among the call's `models` stands for its target and fallbacks there.
    let mut body = chat("c:first");
    body["models"] = json!(["gpt-4o"]);
    c.then(failing(500, vec![]));
    let res = call(&app, "/v1/chat/completions", body).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "local");

    // With fallback off, only the target.
    local.then(failing(500, vec![]));
    let res = app
        .client
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-modelgate-fallback", "off")
        .json(&chat("gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_eq!(a.seen().len(), 2, "no fallback tried");
}

#[actix_web::test]
async fn a_provider_prefix_always_wins_and_a_deleted_target_is_model_not_found() {
    let app = spawn_app().await;
    let a = upstream(&app, "a").await;
    alias(&app, json!({"alias": "later:m", "target": "a:m1"})).await;
    let res = call(&app, "/v1/chat/completions", chat("later:m")).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "a");
    let aliases_listed = || async {
        let list = json(app.get("/v1/models").await, 200).await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["owned_by"] == "modelgate-alias")
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(aliases_listed().await, ["later:m"]);
    // A provider registered after the alias owns its `providerId:` names.
    let later = upstream(&app, "later").await;
    let res = call(&app, "/v1/chat/completions", chat("later:m")).await;
    assert_eq!(header(&res, "x-modelgate-provider"), "later");
    assert_eq!(later.last().body["model"], "m");
    assert!(aliases_listed().await.is_empty());

    // Deleting the target's provider keeps the alias; it routes as any name then.
    let made = alias(&app, json!({"alias": "big", "target": "a:m2"})).await;
    let provider: Value = app.get("/providers").await.json().await.unwrap();
    let id = provider["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["providerId"] == "a")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.delete(&format!("/providers/{id}")).await.status(), 204);
    let error = openai_error(
        call(&app, "/v1/chat/completions", chat("big")).await,
        404,
        "model_not_found",
    )
    .await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("alias of `a:m2`"),
        "{error}"
    );
    assert_eq!(
        json(app.get(made["uri"].as_str().unwrap()).await, 200).await,
        made
    );
    drop(a);
}

/// An access key whose configuration allows `models`.
async fn scoped_key(app: &TestApp, models: Value) -> String {
    let c = json(
        app.post_json(
            "/access-key-configurations",
            &json!({"name": "c", "access": {"models": {"allow": models}}}),
        )
        .await,
        201,
    )
    .await;
    let key = json(
        app.post_json(
            "/access-keys",
            &json!({"accessKeyConfigurationId": c["id"]}),
        )
        .await,
        201,
    )
    .await;
    key["token"].as_str().unwrap().to_owned()
}

async fn listed(app: &TestApp, token: &str, anthropic: bool) -> Vec<Value> {
    let mut req = app.client.get(app.url("/v1/models")).bearer_auth(token);
    if anthropic {
        req = req.header("anthropic-version", "2023-06-01");
    }
    let list: Value = req.send().await.unwrap().json().await.unwrap();
    list["data"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn aliases_are_listed_and_scoped_by_where_they_go() {
    let app = spawn_app().await;
    let _local = upstream(&app, "local").await;
    let claude = Mock::start().await;
    app.create(&registered(
        "claude",
        &claude.base,
        &["c1"],
        json!([{"format": "anthropic"}]),
    ))
    .await;
    alias(
        &app,
        json!({"alias": "gpt-4o", "target": "local:qwen2.5:7b"}),
    )
    .await;
    alias(&app, json!({"alias": "sonnet", "target": "c1"})).await;

    let openai = listed(&app, ADMIN_TOKEN, false).await;
    assert_eq!(openai[0]["id"], "gpt-4o");
    assert_eq!(openai[0]["owned_by"], "modelgate-alias");
    assert!(openai.iter().all(|m| m["id"] != "sonnet"), "{openai:?}");
    let anthropic = listed(&app, ADMIN_TOKEN, true).await;
    let ids: Vec<&str> = anthropic
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sonnet", "claude:c1"]);
    assert_eq!(anthropic[0]["type"], "model");
    let one = app.get("/v1/models/GPT-4o").await;
    let one: Value = json(one, 200).await;
    assert_eq!(
        (&one["id"], &one["owned_by"]),
        (&json!("gpt-4o"), &json!("modelgate-alias"))
    );

    // Scope is checked against the target, never the alias's name.
    let target_allowed = scoped_key(&app, json!(["local:qwen2.5:7b"])).await;
    let name_allowed = scoped_key(&app, json!(["gpt-4o"])).await;
    let ids = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(listed(&app, &target_allowed, false).await), ["gpt-4o"]);
    assert!(ids(listed(&app, &name_allowed, false).await).is_empty());
    let through = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/v1/chat/completions"))
                .bearer_auth(token)
                .json(&chat("gpt-4o"))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(through(target_allowed).await.status(), 200);
    openai_error(through(name_allowed).await, 403, "model_not_allowed").await;
}

#[actix_web::test]
async fn aliases_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let kept = alias(
        &app,
        json!({"alias": "keep", "target": "up:m", "fallbacks": ["x"]}),
    )
    .await;
    let gone = alias(&app, json!({"alias": "gone", "target": "y"})).await;
    app.delete(gone["uri"].as_str().unwrap()).await;
    app.stop().await;

    let app = spawn_app_in(dir.path(), |_| {}).await;
    assert_eq!(
        json(app.get(kept["uri"].as_str().unwrap()).await, 200).await,
        kept
    );
    let list = json(app.get(PATH).await, 200).await;
    assert_eq!(list["modelAliases"].as_array().unwrap().len(), 1);
    // The routing table loaded it: calls route through it, and its name is still taken.
    let up = upstream(&app, "up").await;
    let res = call(&app, "/v1/chat/completions", chat("keep")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(up.last().body["model"], "m");
    assert_error(
        app.post_json(PATH, &json!({"alias": "KEEP", "target": "z"}))
            .await,
        409,
        "alias_taken",
    )
    .await;
    assert_violations(
        app.post_json(PATH, &json!({"alias": "x", "target": "z"}))
            .await,
        &["alias"],
    )
    .await;
}
