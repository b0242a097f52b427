//! What drives the store scenarios: filling and emptying the store over HTTP, reading back
//! what it applied, and the Lua scripts wrk sends it.

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::TOKEN;
use crate::wrk::LUA_DONE;

fn provider_body(n: u64) -> Value {
    json!({
        "providerId": format!("s{n}"),
        "name": format!("Provider {n}"),
        "baseUrl": "http://127.0.0.1:9/v1",
        "models": (0..10).map(|m| json!({"modelId": format!("model-{m}")})).collect::<Vec<_>>(),
    })
}

/// Creates `count` providers numbered from `from`, 64 at a time; answers their ids in order.
pub async fn load(base: &str, from: u64, count: u64) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut results: Vec<(u64, String)> = futures_util::stream::iter(from..from + count)
        .map(|n| {
            let client = client.clone();
            let url = format!("{base}/providers");
            async move {
                let res = client
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&provider_body(n))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201, "load failed at {n}");
                let body: Value = res.json().await.unwrap();
                (n, body["id"].as_str().unwrap().to_owned())
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    results.sort();
    let mut ids: Vec<String> = results.into_iter().map(|(_, id)| id).collect();
    ids.sort();
    ids
}

pub async fn delete_all(base: &str, ids: &[String]) {
    let client = reqwest::Client::new();
    futures_util::stream::iter(ids.iter().cloned())
        .map(|id| {
            let client = client.clone();
            let url = format!("{base}/providers/{id}");
            async move {
                let res = client.delete(url).bearer_auth(TOKEN).send().await.unwrap();
                assert_eq!(res.status(), 204);
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
}

/// Sum of every provider's version, read from its ETag (`"<id>-<version>"`).
pub async fn version_sum(base: &str, ids: &[String]) -> u64 {
    let client = reqwest::Client::new();
    let mut sum = 0;
    for id in ids {
        let res = client
            .get(format!("{base}/providers/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let etag = res.headers()["etag"]
            .to_str()
            .unwrap()
            .trim_matches('"')
            .to_owned();
        sum += etag.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    }
    sum
}

pub fn spread(ids: &[String], n: usize) -> Vec<String> {
    let step = (ids.len() / n).max(1);
    ids.iter().step_by(step).take(n).cloned().collect()
}

// ---------- wrk's scripts ----------

fn lua_list_of(name: &str, ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|i| format!("\"{i}\"")).collect();
    format!("local {name} = {{{}}}\n", quoted.join(","))
}

fn lua_prelude() -> String {
    format!(
        "wrk.headers[\"Authorization\"] = \"Bearer {TOKEN}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         local next_tid = 1\nsetup = function(thread) thread:set(\"tid\", next_tid); next_tid = next_tid + 1 end\n\
         init = function() math.randomseed(os.time() + tid * 7919) end\n{LUA_DONE}"
    )
}

pub fn lua_get(ids: &[String], prefix: &str) -> String {
    format!(
        "{}{}request = function() return wrk.format(\"GET\", \"{prefix}\" .. ids[math.random(#ids)]) end\n",
        lua_prelude(),
        lua_list_of("ids", ids)
    )
}

pub fn lua_list(cursors: &[String]) -> String {
    format!(
        "{}{}request = function() return wrk.format(\"GET\", \"/providers?limit=100&beforeId=\" .. ids[math.random(#ids)]) end\n",
        lua_prelude(),
        lua_list_of("ids", cursors)
    )
}

pub fn lua_post(run: &str) -> String {
    let models: Vec<String> = (0..10)
        .map(|m| format!("{{\"modelId\":\"model-{m}\"}}"))
        .collect();
    format!(
        "{}local counter = 0\nrequest = function()\n  counter = counter + 1\n  \
         local body = string.format('{{\"providerId\":\"{run}-%d-%d\",\"name\":\"bench\",\"baseUrl\":\"http://127.0.0.1:9/v1\",\"models\":[{}]}}', tid, counter)\n  \
         return wrk.format(\"POST\", \"/providers\", nil, body)\nend\n",
        lua_prelude(),
        models.join(",")
    )
}

pub fn lua_patch(ids: &[String], hot: &[String]) -> String {
    format!(
        "{}{}{}local counter = 0\nrequest = function()\n  counter = counter + 1\n  \
         local id = (math.random() < 0.5) and hot[math.random(#hot)] or ids[math.random(#ids)]\n  \
         local field = (counter % 2 == 0) and \"name\" or \"metadata\"\n  \
         local body = string.format('{{\"%s\":\"v-%d-%d\"}}', field, tid, counter)\n  \
         return wrk.format(\"PATCH\", \"/providers/\" .. id, nil, body)\nend\n",
        lua_prelude(),
        lua_list_of("ids", ids),
        lua_list_of("hot", hot)
    )
}
