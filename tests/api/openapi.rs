use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, spawn_app};
use crate::json_schema::assert_conforms;
use crate::openapi_dataplane::documented_answer;

const ANY_ID: &str = "01J0000000000000000000000A";

#[actix_web::test]
async fn the_openapi_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let create = &doc["components"]["schemas"]["CreateProvider"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["properties"]["name"]["maxLength"], 255);
    assert_eq!(create["properties"]["models"]["maxItems"], 1000);
    let patch = &doc["paths"]["/providers/{id}"]["patch"];
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"If-Match"), "{params:?}");
    assert!(patch["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(patch["responses"]["412"].is_object());
    let list = &doc["paths"]["/providers"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limit", "beforeId", "include"]);
    assert_eq!(
        doc["paths"]["/providers"]["get"]["security"][0]["bearer"],
        serde_json::json!([])
    );
}

/// For every documented path, the methods the server answers (its 405 `Allow`) are exactly the
/// documented ones, HEAD included; and every operation documents the 405 and 414 that any
/// route can answer.
#[actix_web::test]
async fn every_documented_path_serves_exactly_its_documented_methods() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9, "{:?}", paths.keys());
    for (path, item) in paths {
        let documented: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| ["get", "head", "put", "post", "patch", "delete"].contains(&k.as_str()))
            .map(|k| k.to_uppercase())
            .collect();
        // The data plane answers no HEAD (an SDK never sends one).
        let data_plane = path.starts_with("/v1/");
        assert_eq!(
            documented.contains("GET") && !data_plane,
            documented.contains("HEAD"),
            "HEAD goes with GET on the management API: {path}"
        );
        for (method, operation) in item.as_object().unwrap() {
            for status in ["405", "414"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} documents no {status}"
                );
            }
        }
        let concrete = path
            .replace("{id}", ANY_ID)
            .replace("{path}", "app.js")
            .replace("{provider}", "no-such-provider");
        // A method the path does not serve: PUT, or PATCH where PUT is served (Bifrost's).
        let probe: &[u8] = if documented.contains("PUT") {
            b"PATCH"
        } else {
            b"PUT"
        };
        let req = app.client.request(
            reqwest::Method::from_bytes(probe).unwrap(),
            format!("{}{concrete}", app.address),
        );
        // AgentStack's routes take the credential as Basic, as AgentStack does.
        let req = match path.starts_with("/api/v1/model_providers") {
            true => req.basic_auth("admin", Some(ADMIN_TOKEN)),
            false => req.bearer_auth(ADMIN_TOKEN),
        };
        let res = req.send().await.unwrap();
        assert_eq!(
            res.status(),
            405,
            "{} {path}",
            String::from_utf8_lossy(probe)
        );
        if data_plane {
            // Its 405 is in the route's format, as documented (and carries no `Allow`).
            let (schema, _) = documented_answer(&doc, path, "405");
            let body: Value = res.json().await.unwrap();
            assert_conforms(&doc, &schema, &body, true);
            continue;
        }
        let allowed: BTreeSet<String> = res.headers()["allow"]
            .to_str()
            .unwrap()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        assert_eq!(allowed, documented, "{path}");
    }
}
