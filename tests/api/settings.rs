//! A provider's own settings through the management API: written, answered back (only when
//! set, the proxy password never), changed by PATCH's omit/null/replace rules, refused with
//! every violation at once, documented, and kept across the store format's upgrade.

use serde_json::{Value, json};

use crate::helpers::data_plane::call;
use crate::helpers::{assert_error, assert_violations, merged, provider, spawn_app, spawn_app_in};
use crate::json_schema::{assert_conforms, problems};
use crate::schema::assert_valid;
use crate::upstream::{Mock, Tls};

const PASSWORD: &str = "proxy-pass-4f1d9c";

fn every_setting(ca_pem: &str) -> Value {
    json!({
        "network": {
            "requestTimeoutSeconds": 30, "streamIdleTimeoutSeconds": 45, "maxRetries": 2,
            "retryBackoffInitialMs": 100, "retryBackoffMaxMs": 1000,
            "extraHeaders": {"X-Trace-Source": "modelgate", "OpenAI-Organization": "org-1"},
            "caCertPem": ca_pem, "insecureSkipVerify": false
        },
        "proxy": {"type": "http", "url": "http://proxy.lan:3128", "username": "gw",
                  "password": PASSWORD},
        "concurrency": 4, "bufferSize": 10, "keyless": true,
        "requestPathOverrides": {"chat-completions": "/api/chat", "embeddings": "/api/embed"},
        "allowPrivateNetwork": true
    })
}

#[actix_web::test]
async fn every_setting_is_answered_back_as_written_and_the_proxy_password_never() {
    let app = spawn_app().await;
    let tls = Tls::new();
    let created = app
        .create(&merged(provider("tuned"), every_setting(&tls.ca_pem)))
        .await;
    let id = created["id"].as_str().unwrap();
    let read: Value = app
        .get(&format!("/providers/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let list: Value = app.get("/providers").await.json().await.unwrap();
    for answer in [&created, &read, &list["aiGatewayProviders"][0]] {
        assert_eq!(answer["network"]["maxRetries"], 2, "{answer}");
        assert_eq!(answer["network"]["requestTimeoutSeconds"], 30);
        // Header names are case-insensitive; they are kept as HTTP/2 sends them.
        assert_eq!(
            answer["network"]["extraHeaders"],
            json!({"openai-organization": "org-1", "x-trace-source": "modelgate"})
        );
        assert_eq!(answer["network"]["caCertPem"], tls.ca_pem.as_str());
        assert_eq!(
            answer["proxy"],
            json!({"type": "http", "url": "http://proxy.lan:3128", "username": "gw",
                   "password": "********"})
        );
        assert_eq!(
            (&answer["concurrency"], &answer["bufferSize"]),
            (&json!(4), &json!(10))
        );
        assert_eq!(answer["keyless"], true);
        assert_eq!(answer["allowPrivateNetwork"], true);
        assert_eq!(
            answer["requestPathOverrides"]["chat-completions"],
            "/api/chat"
        );
        assert!(!answer.to_string().contains(PASSWORD));
    }
}

#[actix_web::test]
async fn patch_keeps_what_it_omits_clears_what_it_nulls_and_replaces_objects_whole() {
    let app = spawn_app().await;
    let tls = Tls::new();
    let created = app
        .create(&merged(provider("p"), every_setting(&tls.ca_pem)))
        .await;
    let path = format!("/providers/{}", created["id"].as_str().unwrap());

    let res = app
        .patch_json(
            &path,
            &json!({"network": {"maxRetries": 5}, "keyless": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["network"], json!({"maxRetries": 5}), "replaced whole");
    assert!(after.get("keyless").is_none(), "cleared: {after}");
    assert_eq!(after["proxy"], created["proxy"], "omitted: kept");
    assert_ne!(after["updatedAt"], Value::Null);

    // The redaction sent back keeps the stored password; a new URL comes with it.
    let proxy = json!({"proxy": {"type": "http", "url": "http://proxy2.lan:3128",
                                 "username": "gw", "password": "********"}});
    let res = app.patch_json(&path, &proxy).await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_eq!(after["proxy"]["password"], "********");
    assert_eq!(after["proxy"]["url"], "http://proxy2.lan:3128");

    // Buffer and concurrency are checked against what is stored.
    let res = app.patch_json(&path, &json!({"bufferSize": 3})).await;
    let details = assert_violations(res, &["bufferSize"]).await;
    assert_eq!(
        details["bufferSize"],
        "must be at least `concurrency` (4) (got 3)"
    );

    // Every setting cleared: the answer is ngrok's closed shape again.
    let cleared = json!({"network": null, "proxy": null, "concurrency": null,
                         "bufferSize": null, "requestPathOverrides": null,
                         "allowPrivateNetwork": null});
    let res = app.patch_json(&path, &cleared).await;
    assert_eq!(res.status(), 200);
    let after: Value = res.json().await.unwrap();
    assert_valid("AIGatewayProvider", &after);

    // Nothing stored to keep.
    let res = app.patch_json(&path, &proxy).await;
    assert_violations(res, &["proxy.password"]).await;
}

#[actix_web::test]
async fn every_broken_setting_is_named_at_once() {
    let app = spawn_app().await;
    let bad = merged(
        provider("bad"),
        json!({
            "network": {
                "requestTimeoutSeconds": 0, "streamIdleTimeoutSeconds": 3601, "maxRetries": 11,
                "retryBackoffInitialMs": 900, "retryBackoffMaxMs": 800,
                "extraHeaders": {"Authorization": "x", "Host": "h", "bad name": "v",
                                 "x-ok": "line\nbreak"},
                "caCertPem": "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
            },
            "proxy": {"type": "socks5", "url": "http://u:p@proxy.lan:1080", "password": "x"},
            "concurrency": 20, "bufferSize": 10,
            "requestPathOverrides": {"chat": "/x", "embeddings": "/a/../b"}
        }),
    );
    let res = app.post_json("/providers", &bad).await;
    let details = assert_violations(
        res,
        &[
            "bufferSize",
            "network.caCertPem",
            "network.extraHeaders.Authorization",
            "network.extraHeaders.Host",
            "network.extraHeaders.bad name",
            "network.extraHeaders.x-ok",
            "network.maxRetries",
            "network.requestTimeoutSeconds",
            "network.retryBackoffMaxMs",
            "network.streamIdleTimeoutSeconds",
            "proxy.url",
            "proxy.username",
            "requestPathOverrides.chat",
            "requestPathOverrides.embeddings",
        ],
    )
    .await;
    assert!(
        details["network.extraHeaders.Authorization"]
            .as_str()
            .unwrap()
            .contains("provider keys")
    );
    assert!(
        details["network.caCertPem"]
            .as_str()
            .unwrap()
            .contains("not an X.509 certificate"),
        "{details}"
    );
    // Nothing was written.
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"], json!([]));
    // JSON Schema's integers include `2.0`; halves and words are not whole numbers.
    let res = app
        .post_json(
            "/providers",
            &merged(
                provider("floats"),
                json!({"concurrency": 2.5, "network": {"maxRetries": "2"}}),
            ),
        )
        .await;
    let details = assert_violations(res, &["concurrency", "network.maxRetries"]).await;
    assert!(
        details["concurrency"]
            .as_str()
            .unwrap()
            .contains("whole number")
    );
    let whole = app
        .create(&merged(
            provider("floats"),
            json!({"concurrency": 2.0, "network": {"maxRetries": 3.0}}),
        ))
        .await;
    assert_eq!(
        (&whole["concurrency"], &whole["network"]["maxRetries"]),
        (&json!(2), &json!(3))
    );
    // A proxy password is never quoted back, even when it breaks a rule.
    let res = app
        .post_json(
            "/providers",
            &merged(
                provider("p"),
                json!({"proxy": {"type": "http", "url": "http://proxy.lan:1",
                                 "username": "u", "password": "bad\u{7}secret-pw"}}),
            ),
        )
        .await;
    let body = assert_error(res, 400, "validation_failed").await;
    assert!(!body.to_string().contains("secret-pw"), "{body}");
}

/// Every answer's `proxy` is valid against the document's `AIGatewayProvider.proxy`, read as
/// OpenAPI reads a response schema. Schemathesis (tests/fuzz, ST108) found a stored password's
/// `********` refused there: the schema marked `password` `writeOnly`, which no answer carries,
/// while every answer with a stored password shows it.
#[actix_web::test]
async fn every_answered_proxy_is_valid_against_the_documented_answer() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["AIGatewayProvider"]["properties"]["proxy"];
    // The checker reads the proxy schema's keywords: `pattern`, `if`/`then`, `const`, `oneOf`.
    for bad in [
        json!({"type": "socks5", "url": "http://proxy.lan:1080"}),
        json!({"type": "socks5", "url": "socks5://proxy.lan:1080/path"}),
        json!({"type": "socks5", "url": "socks5://proxy.lan:1080", "password": "x"}),
        json!({"type": "SOCKS5", "url": "socks5://proxy.lan:1080"}),
        json!({"type": "none", "url": "socks5://proxy.lan:1080"}),
    ] {
        assert!(!problems(&doc, schema, &bad, true, "$").is_empty(), "{bad}");
    }
    let sent = [
        // The request schemathesis sent (its password filtered out of the report).
        json!({"type": "http", "url": "http://205.204.126.255/", "password": "p",
               "username": "0000000"}),
        json!({"type": "socks5", "url": "socks5h://205.204.126.255/", "password": "p",
               "username": "0000000"}),
        json!({"type": "socks5", "url": "socks5://proxy.lan:1080", "username": "gw"}),
        json!({"type": "socks5", "url": "socks5://[2001:db8::1]:1080", "username": null,
               "password": null}),
        json!({"type": "environment"}),
        json!({"type": "none"}),
    ];
    for (i, proxy) in sent.into_iter().enumerate() {
        let created = app
            .create(&merged(
                provider(&format!("proxied-{i}")),
                json!({"proxy": proxy}),
            ))
            .await;
        let path = format!("/providers/{}", created["id"].as_str().unwrap());
        let read: Value = app.get(&path).await.json().await.unwrap();
        // Sent back as answered: `********` keeps the stored password.
        let res = app
            .patch_json(&path, &json!({"proxy": created["proxy"]}))
            .await;
        assert_eq!(res.status(), 200, "{}", created["proxy"]);
        let patched: Value = res.json().await.unwrap();
        for answer in [&created, &read, &patched] {
            assert_conforms(&doc, schema, &answer["proxy"], true);
        }
        assert_eq!(patched["proxy"], created["proxy"]);
    }
}

#[actix_web::test]
async fn the_openapi_document_describes_the_settings_with_their_rules() {
    let app = spawn_app().await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let create = &doc["components"]["schemas"]["CreateProvider"]["properties"];
    let network = &create["network"]["properties"];
    assert_eq!(network["maxRetries"]["maximum"], 10);
    assert_eq!(network["requestTimeoutSeconds"]["maximum"], 3600);
    assert_eq!(create["concurrency"]["maximum"], 10000);
    assert_eq!(create["proxy"]["oneOf"].as_array().unwrap().len(), 5);
    let update = &doc["components"]["schemas"]["UpdateProvider"]["properties"];
    for field in [
        "network",
        "proxy",
        "concurrency",
        "bufferSize",
        "keyless",
        "requestPathOverrides",
        "allowPrivateNetwork",
    ] {
        assert!(create.get(field).is_some(), "{field}");
        assert!(update.get(field).is_some(), "{field}");
    }
}

/// The release before store format 2 wrote `tests/fixtures/store-format-1` (two providers, one
/// with surfaces, models and a sealed key); this one opens it, migrated, with nothing lost.
#[actix_web::test]
async fn a_data_dir_written_by_the_previous_release_opens_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    crate::fixture::store_format_1(dir.path());
    let app = spawn_app_in(dir.path(), |_| {}).await;
    let list: Value = app.get("/providers").await.json().await.unwrap();
    let providers = list["aiGatewayProviders"].as_array().unwrap();
    assert_eq!(providers.len(), 2);
    for p in providers {
        assert_valid("AIGatewayProvider", p);
    }
    let old = &providers[1];
    assert_eq!(old["providerId"], "old-llama");
    assert_eq!(old["metadata"], "from v1");
    assert_eq!(old["models"].as_array().unwrap().len(), 2);
    let keys: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert_eq!(keys["aiGatewayProviderKeys"][0]["keyRedacted"], "sk…23");
    // The migrated record takes the new fields, and its key still opens.
    let mock = Mock::start().await;
    let res = app
        .patch_json(
            &format!("/providers/{}", old["id"].as_str().unwrap()),
            &json!({"concurrency": 2, "baseUrl": format!("{}/v1", mock.base)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = call(
        &app,
        "/v1/chat/completions",
        json!({"model": "old-llama:tiny", "messages": []}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        mock.last().headers["authorization"],
        "Bearer sk-old-secret-123"
    );
    app.stop().await;
    assert_eq!(
        std::fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        "5"
    );
}
