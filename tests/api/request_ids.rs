//! Every answer, management or data plane, names its request by an id of its own.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{ADMIN_TOKEN, spawn_app};

const HEADER: &str = "x-modelgate-request-id";

#[actix_web::test]
async fn every_answer_carries_a_request_id_of_its_own() {
    let app = spawn_app().await;
    let mut seen = HashSet::new();
    let answers = [
        app.get("/providers").await,
        app.get("/providers/01ARZ3NDEKTSV4RRFFQ69G5FAV").await,
        app.post_json("/providers", &json!({})).await,
        app.get("/healthz").await,
        app.get("/no/such/route").await,
        app.req(Method::DELETE, "/providers").send().await.unwrap(),
        app.client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"model": "nowhere:m", "messages": []}))
            .send()
            .await
            .unwrap(),
        app.client
            .get(app.url("/v1/chat/completions"))
            .send()
            .await
            .unwrap(),
        app.client.get(app.url("/v1/models")).send().await.unwrap(),
    ];
    for res in answers {
        let id = res
            .headers()
            .get(HEADER)
            .unwrap_or_else(|| panic!("{} has no {HEADER}", res.url()))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(ulid::Ulid::from_string(&id).is_ok(), "{id}");
        assert_eq!(
            res.headers().get_all(HEADER).iter().count(),
            1,
            "{}: one id, not two",
            res.url()
        );
        assert!(seen.insert(id), "ids are not reused");
    }
}
