//! AgentStack's `/api/v1/model_providers`: every field of seed 004 written and read back, UUID
//! ids, Basic auth, probe-on-create (424), a unique `base_url` (409), the `api_key` as the
//! provider's key (and gone with it), errors in `{detail}`.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::{assert_shape, shapes};
use crate::helpers::{ADMIN_TOKEN, CI_ID, CI_TOKEN, TestApp, spawn_app};
use crate::upstream::{Mock, Reply};

const PATH: &str = "/api/v1/model_providers";
const API_KEY: &str = "sk-agentstack-secret-42";

fn basic(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.client
        .request(method, app.url(path))
        .basic_auth("admin", Some(ADMIN_TOKEN))
}

async fn send(req: RequestBuilder, body: Option<&Value>) -> (u16, Value) {
    let req = match body {
        Some(body) => req.json(body),
        None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(API_KEY),
        "the api_key is never answered: {text}"
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn models_listed(mock: &Mock) {
    mock.then(Reply::Json {
        status: 200,
        headers: vec![],
        body: json!({"object": "list", "data": [{"id": "granite", "object": "model"}]}),
    });
}

fn seed_body(base_url: &str) -> Value {
    json!({"type": "openai", "base_url": base_url, "api_key": API_KEY, "name": "Team OpenAI",
           "description": "the shared account"})
}

fn assert_detail(doc: &Value, (status, body): &(u16, Value), want: u16, needle: &str) {
    assert_eq!(*status, want, "{body}");
    assert_shape(doc, "Error", body);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(needle), "`{needle}` not in: {detail}");
}

#[actix_web::test]
async fn every_field_of_seed_004_is_written_and_read_back() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    models_listed(&mock);
    let base = format!("{}/v1", mock.base);
    let (status, created) = send(basic(&app, Method::POST, PATH), Some(&seed_body(&base))).await;
    assert_eq!(status, 201, "{created}");
    assert_shape(&doc, "ModelProvider", &created);
    // Probed with the api_key before it was written.
    let probe = mock.last();
    assert_eq!(probe.path, "/v1/models");
    assert_eq!(probe.headers["authorization"], format!("Bearer {API_KEY}"));
    assert_eq!(created["type"], "openai");
    assert_eq!(created["base_url"], base);
    assert_eq!(created["name"], "Team OpenAI");
    assert_eq!(created["description"], "the shared account");
    assert_eq!(created["capabilities"], json!(["llm", "embedding"]));
    assert_eq!(created["state"], "online");
    assert_eq!(created["registry"], Value::Null);

    let id = created["id"].as_str().unwrap();
    let (status, got) = send(basic(&app, Method::GET, &format!("{PATH}/{id}")), None).await;
    assert_eq!(status, 200);
    assert_eq!(got, created);
    // The UUID is the record's 128-bit id: the ngrok API's id names the same record.
    let ngrok: Value = app.get("/providers").await.json().await.unwrap();
    let p = &ngrok["aiGatewayProviders"][0];
    let ulid: String = p["id"].as_str().unwrap().to_owned();
    let (_, same) = send(
        basic(&app, Method::GET, &format!("{PATH}/{}", id.to_uppercase())),
        None,
    )
    .await;
    assert_eq!(same["id"], created["id"]);
    assert_eq!(p["baseUrl"], base);
    assert_eq!(p["name"], "Team OpenAI");
    // The api_key is the provider's key.
    let keys: Value = app.get("/provider-keys").await.json().await.unwrap();
    let keys = keys["aiGatewayProviderKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["providerId"], p["providerId"]);
    let (_, list) = send(basic(&app, Method::GET, PATH), None).await;
    assert_shape(&doc, "PaginatedModelProviders", &list);
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["items"][0], created);

    // Delete: 204, the provider and its key gone together.
    let (status, _) = send(basic(&app, Method::DELETE, &format!("{PATH}/{id}")), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&format!("/providers/{ulid}")).await.status(), 404);
    let keys: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert_eq!(keys["aiGatewayProviderKeys"], json!([]));
    let r = send(basic(&app, Method::GET, &format!("{PATH}/{id}")), None).await;
    assert_detail(&doc, &r, 404, "not found");
    mock.stop().await;
}

#[actix_web::test]
async fn a_failing_probe_is_refused_with_424_and_writes_nothing() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    mock.then(Reply::Json {
        status: 401,
        headers: vec![],
        body: json!({"error": "bad key"}),
    });
    let r = send(
        basic(&app, Method::POST, PATH),
        Some(&seed_body(&mock.base)),
    )
    .await;
    assert_detail(&doc, &r, 424, "Failed to load models");
    let list: Value = app.get("/providers").await.json().await.unwrap();
    assert_eq!(list["aiGatewayProviders"], json!([]));
    let keys: Value = app.get("/provider-keys").await.json().await.unwrap();
    assert_eq!(keys["aiGatewayProviderKeys"], json!([]));
    mock.stop().await;
}

#[actix_web::test]
async fn base_url_is_unique_among_all_providers() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    // Taken by a provider of the ngrok API: a trailing slash is the same address.
    app.create(
        &json!({"providerId": "taken", "name": "t", "baseUrl": format!("{}/v1", mock.base)}),
    )
    .await;
    let r = send(
        basic(&app, Method::POST, PATH),
        Some(&seed_body(&format!("{}/v1/", mock.base))),
    )
    .await;
    assert_detail(&doc, &r, 409, "already exists");
    assert!(mock.seen().is_empty(), "refused before any probe");
    mock.stop().await;
}

#[actix_web::test]
async fn concurrent_creates_of_one_base_url_make_exactly_one_provider() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let mock = Mock::start().await;
    const RACERS: usize = 4;
    // Every create has passed the early check and is at its probe before any is let go, so
    // only the check inside the create's transaction can refuse the later ones.
    let held: Vec<_> = (0..RACERS).map(|_| mock.then_held()).collect();
    let base = format!("{}/v1", mock.base);
    let creates: Vec<_> = (0..RACERS)
        .map(|i| {
            let mut body = seed_body(&base);
            body["name"] = json!(format!("racer {i}"));
            actix_web::rt::spawn(send(basic(&app, Method::POST, PATH).json(&body), None))
        })
        .collect();
    let mut releases = Vec::new();
    for (arrived, release) in held {
        arrived.await.unwrap();
        releases.push(release);
    }
    let list = json!({"object": "list", "data": [{"id": "granite", "object": "model"}]});
    for release in releases {
        release.send(list.clone()).unwrap();
    }
    let mut answers = Vec::new();
    for create in creates {
        answers.push(create.await.unwrap());
    }
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{answers:?}");
    for r in answers.iter().filter(|(s, _)| *s != 201) {
        assert_detail(&doc, r, 409, "already exists");
    }
    let (_, listed) = send(basic(&app, Method::GET, PATH), None).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    mock.stop().await;
}

#[actix_web::test]
async fn basic_auth_takes_a_credential_s_id_and_token() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let with = |user: &str, pass: &str| app.client.get(app.url(PATH)).basic_auth(user, Some(pass));
    assert_eq!(send(with("admin", ADMIN_TOKEN), None).await.0, 200);
    assert_eq!(send(with(CI_ID, CI_TOKEN), None).await.0, 200);
    let r = send(with(CI_ID, ADMIN_TOKEN), None).await;
    assert_detail(&doc, &r, 401, "Not authenticated");
    let r = send(with("admin", "wrong"), None).await;
    assert_detail(&doc, &r, 401, "Not authenticated");
    let r = send(app.client.get(app.url(PATH)).bearer_auth(ADMIN_TOKEN), None).await;
    assert_detail(&doc, &r, 401, "Not authenticated");
    let r = send(app.client.get(app.url(PATH)), None).await;
    assert_detail(&doc, &r, 401, "Not authenticated");
}

#[actix_web::test]
async fn bad_input_comes_in_agentstack_s_shape() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    let r = send(
        basic(&app, Method::POST, PATH),
        Some(&json!({"type": "nope", "base_url": ""})),
    )
    .await;
    assert_detail(&doc, &r, 422, "type");
    assert_detail(&doc, &r, 422, "base_url");
    assert_detail(&doc, &r, 422, "api_key");
    let watsonx = json!({"type": "watsonx", "base_url": "http://127.0.0.1:9", "api_key": "k"});
    let r = send(basic(&app, Method::POST, PATH), Some(&watsonx)).await;
    assert_detail(&doc, &r, 422, "watsonx_project_id");
    let r = send(
        basic(&app, Method::POST, PATH),
        Some(&json!({"type": "openai", "base_url": "ftp://x", "api_key": API_KEY})),
    )
    .await;
    assert_detail(&doc, &r, 422, "base_url");
    let r = send(
        basic(&app, Method::GET, &format!("{PATH}/not-a-uuid")),
        None,
    )
    .await;
    assert_detail(&doc, &r, 404, "not-a-uuid");
}

#[actix_web::test]
async fn match_scores_the_models_of_providers_with_the_capability() {
    let doc = shapes("agentstack-shapes.json");
    let app = spawn_app().await;
    // `other`-typed (llm and embedding) providers made by the ngrok API, with declared models.
    app.create(
        &json!({"providerId": "lab", "name": "lab", "baseUrl": "http://127.0.0.1:9/v1",
        "models": [{"modelId": "gpt-4o"}, {"modelId": "gpt-4o-mini"}, {"modelId": "llama3"}]}),
    )
    .await;
    let ask = json!({"suggested_models": ["gpt-4o"], "capability": "llm"});
    let (status, got) = send(
        basic(&app, Method::POST, &format!("{PATH}/match")),
        Some(&ask),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    let items = got["items"].as_array().unwrap();
    assert_eq!(items[0]["model_id"], "lab:gpt-4o");
    // difflib's ratio of `lab:gpt-4o` to `gpt-4o` is 12/16: 0.5 + 0.75 / 2.
    assert_eq!(items[0]["score"], 0.88);
    assert!(items.iter().all(|m| m["model_id"] != "lab:llama3"), "{got}");
    assert_eq!(got["total_count"], items.len());
    let r = send(
        basic(&app, Method::POST, &format!("{PATH}/match")),
        Some(&json!({"capability": "vision"})),
    )
    .await;
    assert_detail(&doc, &r, 422, "capability");
}
