//! The data plane's part of `/openapi.json`: every `/v1` route the server serves is there, with
//! its body, answers, auth and error shape; and real answers of each route validate against
//! what the document says of their status.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, CI_TOKEN, TestApp, spawn_app};
use crate::json_schema::{assert_conforms, problems, resolve};

/// Every data-plane route the server serves, with the format its errors come in (`None`: the
/// OpenAI shape, or Anthropic's when the request carries `anthropic-version`).
const DATA_PLANE: &[(&str, &str, Option<&str>)] = &[
    ("/v1/chat/completions", "post", Some("OpenAiError")),
    ("/v1/completions", "post", Some("OpenAiError")),
    ("/v1/responses", "post", Some("OpenAiError")),
    ("/v1/embeddings", "post", Some("OpenAiError")),
    ("/v1/messages", "post", Some("AnthropicError")),
    ("/v1/messages/count_tokens", "post", Some("AnthropicError")),
    ("/v1/v1/messages", "post", Some("AnthropicError")),
    (
        "/v1/v1/messages/count_tokens",
        "post",
        Some("AnthropicError"),
    ),
    ("/v1/models", "get", None),
    ("/v1/models/{model}", "get", None),
];

/// The statuses a model call can be refused with, all in the route's format.
const CALL_REFUSALS: &[&str] = &[
    "400", "401", "402", "403", "404", "405", "408", "413", "429", "500", "502", "503", "504",
];

const HEADERS: &[&str] = &[
    "x-modelgate-request-id",
    "x-modelgate-attempts",
    "x-modelgate-fallbacks",
    "x-modelgate-provider",
    "x-modelgate-model",
];

async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    res.json().await.unwrap()
}

/// The JSON schema of an answer `status` of `path`'s one operation, and its headers.
pub fn documented_answer(doc: &Value, path: &str, status: &str) -> (Value, BTreeSet<String>) {
    let item = doc["paths"][path].as_object().unwrap();
    let (_, operation) = item.iter().next().expect("an operation");
    let response = resolve(doc, &operation["responses"][status]);
    assert!(response.is_object(), "{path} documents no {status}");
    let schema = response["content"]["application/json"]["schema"].clone();
    let headers = response["headers"]
        .as_object()
        .map(|h| h.keys().map(|k| k.to_lowercase()).collect())
        .unwrap_or_default();
    (schema, headers)
}

#[actix_web::test]
async fn every_data_plane_route_is_documented_with_its_body_answers_auth_and_error_shape() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|p| p.starts_with("/v1/"))
        .collect();
    let served: BTreeSet<&str> = DATA_PLANE.iter().map(|(path, ..)| *path).collect();
    assert_eq!(documented, served);
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "data plane")
    );
    let api_key = &doc["components"]["securitySchemes"]["apiKey"];
    assert_eq!(
        (&api_key["in"], &api_key["name"]),
        (&json!("header"), &json!("x-api-key"))
    );

    let call = &doc["components"]["schemas"]["ModelCall"];
    assert_eq!(call["additionalProperties"], true, "a call's body is open");
    assert_eq!(call["required"], json!(["model"]));
    assert_eq!(call["properties"]["model"]["type"], "string");
    assert_eq!(call["properties"]["models"]["maxItems"], 16);
    assert_eq!(call["properties"]["models"]["items"]["minLength"], 1);
    assert_eq!(call["properties"]["stream"]["type"], "boolean");

    for (path, method, error) in DATA_PLANE {
        let item = doc["paths"][path].as_object().unwrap();
        assert_eq!(item.keys().collect::<Vec<_>>(), [method], "{path}");
        let operation = &item[*method];
        assert_eq!(operation["tags"], json!(["data plane"]), "{path}");
        assert_eq!(
            operation["security"],
            json!([{"bearer": []}, {"apiKey": []}]),
            "{path}: Bearer or x-api-key"
        );
        let statuses: &[&str] = match error {
            Some(_) => CALL_REFUSALS,
            None => &["401", "405", "500"],
        };
        for status in statuses {
            let (schema, headers) = documented_answer(&doc, path, status);
            let want = match error {
                Some(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
                None => json!({"anyOf": [
                    {"$ref": "#/components/schemas/OpenAiError"},
                    {"$ref": "#/components/schemas/AnthropicError"},
                ]}),
            };
            assert_eq!(schema, want, "{path} {status}");
            for header in HEADERS {
                assert!(headers.contains(*header), "{path} {status}: {header}");
            }
        }
        let (_, headers) = documented_answer(&doc, path, "414");
        assert!(
            headers.is_empty(),
            "414 is the management API's, before routing"
        );
        if error.is_some() {
            assert_eq!(
                resolve(
                    &doc,
                    &operation["requestBody"]["content"]["application/json"]["schema"]
                ),
                call,
                "{path}"
            );
            let ok = &operation["responses"]["200"];
            assert!(
                ok["content"]["text/event-stream"].is_object(),
                "{path}: streams"
            );
            assert!(ok["content"]["application/json"].is_object(), "{path}");
            for header in HEADERS {
                assert!(ok["headers"][header].is_object(), "{path} 200: {header}");
            }
        }
    }
    let (openai, anthropic) = (
        &doc["components"]["schemas"]["OpenAiError"],
        &doc["components"]["schemas"]["AnthropicError"],
    );
    let fields = |schema: &Value| -> BTreeSet<String> {
        schema["properties"]["error"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let want = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        fields(openai),
        want(&["message", "type", "code", "param", "attempts"])
    );
    assert_eq!(anthropic["properties"]["type"]["enum"], json!(["error"]));
    assert_eq!(fields(anthropic), want(&["type", "message", "attempts"]));
}

/// What the server sends on `path` for one request, checked against what the document says
/// of that status: the body against its schema (held to the fields it lists, as modelgate
/// writes these itself), every `x-modelgate-*` header documented, the request id present.
async fn assert_answer_as_documented(doc: &Value, path: &str, res: reqwest::Response) -> Value {
    let status = res.status().as_str().to_owned();
    let sent: BTreeSet<String> = res
        .headers()
        .keys()
        .map(|h| h.as_str().to_owned())
        .filter(|h| h.starts_with("x-modelgate-"))
        .collect();
    let body: Value = res.json().await.unwrap();
    let (schema, headers) = documented_answer(doc, path, &status);
    assert_conforms(doc, &schema, &body, true);
    assert!(sent.contains("x-modelgate-request-id"), "{path} {status}");
    assert!(
        sent.is_subset(&headers),
        "{path} {status}: {sent:?} not all in {headers:?}"
    );
    body
}

#[actix_web::test]
async fn real_errors_of_every_data_plane_route_validate_against_their_documented_schemas() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    // A provider nothing listens for, on loopback: its calls fail at once, in both formats.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for id in ["dead", "dead-too"] {
        app.create(&json!({
            "providerId": id, "name": id, "baseUrl": format!("http://{closed}/v1"),
            "supportedApiSurfaces": [{"format": "openai"}, {"format": "anthropic"}],
            "models": [{"modelId": "m"}],
        }))
        .await;
    }
    // Serves embeddings only: no count of tokens is estimated for it.
    app.create(&json!({
        "providerId": "embed-only", "name": "embed-only", "baseUrl": format!("http://{closed}/v1"),
        "supportedApiSurfaces": [{"format": "openai", "surface": "embeddings"}],
        "models": [{"modelId": "e"}],
    }))
    .await;
    let seventeen: Vec<String> = (0..17).map(|i| format!("m{i}")).collect();
    for (path, method, error) in DATA_PLANE.iter().filter(|(.., e)| e.is_some()) {
        assert_eq!(*method, "post");
        let anthropic = *error == Some("AnthropicError");
        let (keyless, other) = match anthropic {
            true => ("anthropic:claude-x", "openai:gpt-x"),
            false => ("openai:gpt-x", "anthropic:claude-x"),
        };
        let cases = [
            (None, json!({"model": "x"}), 401, "missing_credential"),
            (
                Some(CI_TOKEN),
                json!({"messages": []}),
                400,
                "missing_model",
            ),
            (Some(CI_TOKEN), json!({"model": 7}), 400, "invalid_model"),
            (
                Some(ADMIN_TOKEN),
                json!({"model": "x", "models": seventeen}),
                400,
                "invalid_models",
            ),
            (
                Some(ADMIN_TOKEN),
                json!({"model": "nobody-serves-this"}),
                404,
                "model_not_found",
            ),
            // A catalog provider without a key: refused before any connection is made.
            (
                Some(ADMIN_TOKEN),
                json!({"model": keyless}),
                503,
                "no_usable_key",
            ),
            // A catalog provider of the other format does not serve this surface — unless a
            // translation reaches it (chat completions ↔ messages), and then it has no key; a
            // count of tokens it would estimate, so a provider of embeddings stands in there.
            match (
                path.ends_with("/chat/completions") || path.ends_with("/messages"),
                path.ends_with("/count_tokens"),
            ) {
                (false, false) => (
                    Some(ADMIN_TOKEN),
                    json!({"model": other}),
                    400,
                    "surface_not_supported",
                ),
                (false, true) => (
                    Some(ADMIN_TOKEN),
                    json!({"model": "embed-only:e"}),
                    400,
                    "surface_not_supported",
                ),
                (true, _) => (
                    Some(ADMIN_TOKEN),
                    json!({"model": other}),
                    503,
                    "no_usable_key",
                ),
            },
            (
                Some(ADMIN_TOKEN),
                json!({"model": "dead:m"}),
                502,
                "upstream_unreachable",
            ),
            // Two providers serve a bare `m`, both unreachable: the answer is that failure,
            // and lists both attempts.
            (
                Some(ADMIN_TOKEN),
                json!({"model": "m"}),
                502,
                "upstream_unreachable",
            ),
        ];
        for (token, body, status, code) in cases {
            let mut req = app.client.post(app.url(path)).json(&body);
            if let Some(token) = token {
                // Both ways a token is sent, in turn.
                req = match anthropic {
                    true => req.header("x-api-key", token),
                    false => req.bearer_auth(token),
                };
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), status, "{path} {body}");
            let answer = assert_answer_as_documented(&doc, path, res).await;
            if anthropic {
                assert_eq!(answer["type"], "error", "{path}");
            } else {
                assert_eq!(answer["error"]["code"], code, "{path} {answer}");
            }
            if body == json!({"model": "m"}) {
                let attempts = answer["error"]["attempts"].as_array().unwrap();
                assert_eq!(attempts.len(), 2, "{answer}");
                assert_eq!(attempts[0]["status"], Value::Null, "{answer}");
            }
        }
        let res = app.req(Method::GET, path).send().await.unwrap();
        assert_eq!(res.status(), 405, "GET {path}");
        assert_answer_as_documented(&doc, path, res).await;
    }
}

#[actix_web::test]
async fn the_model_list_and_its_errors_validate_in_both_formats() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    app.create(&json!({
        "providerId": "box", "name": "Box", "baseUrl": "http://127.0.0.1:9/v1",
        "models": [{"modelId": "llama3.1:8b"}, {"modelId": "qwen"}],
        "supportedApiSurfaces": [{"format": "openai"}, {"format": "anthropic"}],
    }))
    .await;
    let (list, _) = {
        let item = &doc["paths"]["/v1/models"]["get"]["responses"]["200"];
        (item["content"]["application/json"]["schema"].clone(), ())
    };
    for anthropic in [false, true] {
        let with = |req: reqwest::RequestBuilder| match anthropic {
            true => req.header("anthropic-version", "2023-06-01"),
            false => req,
        };
        let res = with(app.req(Method::GET, "/v1/models"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 2, "{body}");
        assert_conforms(&doc, &list, &body, true);
        let res = with(app.req(Method::GET, "/v1/models/box:qwen"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let model = assert_answer_as_documented(&doc, "/v1/models/{model}", res).await;
        assert_eq!(model["id"], "box:qwen");
        let res = with(app.req(Method::GET, "/v1/models/box:nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_answer_as_documented(&doc, "/v1/models/{model}", res).await;
        if anthropic {
            let res = with(app.req(Method::GET, "/v1/models?limit=0"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400);
            assert_answer_as_documented(&doc, "/v1/models", res).await;
        }
        let res = with(app.client.get(app.url("/v1/models")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let body = assert_answer_as_documented(&doc, "/v1/models", res).await;
        assert_eq!(body.get("type").is_some(), anthropic, "{body}");
        let res = with(app.req(Method::POST, "/v1/models"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405);
        assert_answer_as_documented(&doc, "/v1/models", res).await;
    }
}

#[actix_web::test]
async fn the_checker_finds_what_the_schemas_refuse() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let openai = json!({"$ref": "#/components/schemas/OpenAiError"});
    let good = json!({"error": {"message": "m", "type": "t", "code": "c", "param": null}});
    assert_conforms(&doc, &openai, &good, true);
    for bad in [
        json!({"error": {"type": "t", "code": "c", "param": null}}),
        json!({"error": {"message": 1, "type": "t"}}),
        json!({"error": {"message": "m", "type": "t", "extra": 1}}),
        json!({"error": {"message": "m", "type": "t", "attempts": [{"model": "x"}]}}),
    ] {
        assert!(
            !problems(&doc, &openai, &bad, true, "$").is_empty(),
            "{bad}"
        );
    }
    // Open for what others write: an upstream's extra field passes when not strict.
    let extra = json!({"error": {"message": "m", "type": "t", "extra": 1}});
    assert!(problems(&doc, &openai, &extra, false, "$").is_empty());
    let list = &doc["paths"]["/v1/models"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    let both = json!({"object": "list", "data": [], "has_more": false});
    assert!(!problems(&doc, list, &both, true, "$").is_empty());
}
