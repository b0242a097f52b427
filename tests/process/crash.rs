//! `kill -9` after acknowledged writes, and at random moments during concurrent ones: nothing
//! acknowledged is lost, and the providerId index agrees with the records.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, TOKEN, client, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_right_after_acknowledged_writes_loses_none_of_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = client();
    let mut kept: Vec<Value> = Vec::new();
    let mut deleted: Vec<Value> = Vec::new();
    for round in 0..3 {
        let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
        // 48 concurrent creates; then PATCH half and DELETE a quarter, concurrently.
        let creates = (0..48).map(|i| {
            let body = json!({
                "providerId": format!("r{round}-p{i}"),
                "name": format!("round {round} #{i}"),
                "baseUrl": "http://127.0.0.1:9/v1",
                "models": [{"modelId": format!("m{i}")}],
            });
            http.post(format!("{}/providers", server.base))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
        });
        let mut created = Vec::new();
        for res in futures_util::future::join_all(creates).await {
            let res = res.unwrap();
            assert_eq!(res.status(), 201);
            created.push(res.json::<Value>().await.unwrap());
        }
        let writes = created.iter().enumerate().map(|(i, p)| {
            let url = format!("{}/providers/{}", server.base, p["id"].as_str().unwrap());
            let req = if i % 4 == 0 {
                http.delete(url)
            } else {
                http.patch(url)
                    .json(&json!({"metadata": format!("patched {i}")}))
            };
            req.bearer_auth(TOKEN).send()
        });
        let results = futures_util::future::join_all(writes).await;
        let mut acknowledged = Vec::new();
        for (i, res) in results.into_iter().enumerate() {
            let res = res.unwrap();
            if i % 4 == 0 {
                assert_eq!(res.status(), 204);
                acknowledged.push(None);
            } else {
                assert_eq!(res.status(), 200);
                acknowledged.push(Some(res.json::<Value>().await.unwrap()));
            }
        }
        // No grace period: the process dies the moment the last answer arrived.
        server.kill9();
        for (p, ack) in created.into_iter().zip(acknowledged) {
            match ack {
                Some(patched) => kept.push(patched),
                None => deleted.push(p),
            }
        }
    }

    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    for p in &kept {
        let res = get_provider(&http, &server.base, p).await;
        assert_eq!(res.status(), 200, "acknowledged provider {p} was lost");
        assert_eq!(&res.json::<Value>().await.unwrap(), p);
    }
    for p in &deleted {
        let res = get_provider(&http, &server.base, p).await;
        assert_eq!(res.status(), 404, "acknowledged delete of {p} came back");
        // The index entry went with the record: the providerId is free again.
        let res = http
            .post(format!("{}/providers", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"providerId": p["providerId"], "name": "again", "baseUrl": "http://x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let list: Value = http
        .get(format!("{}/providers?limit=100", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = list["aiGatewayProviders"].as_array().unwrap().len();
    assert_eq!(listed, 100.min(kept.len() + deleted.len()));
}

async fn get_provider(http: &reqwest::Client, base: &str, p: &Value) -> reqwest::Response {
    let id = p["id"].as_str().unwrap();
    http.get(format!("{base}/providers/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
}

/// What the client was told about one provider.
#[derive(Clone)]
struct Known {
    /// The last acknowledged body; `None` once a delete was acknowledged.
    body: Option<Value>,
    /// A write to it was in flight when the server died: either outcome is allowed.
    uncertain: bool,
}

/// A small, seedable generator, so a failing round can be replayed from its printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

type Model = Arc<Mutex<std::collections::HashMap<String, Known>>>;

/// Writes acknowledged across all rounds of the crash test, for its report.
static ACKNOWLEDGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One writer: creates, PATCHes and deletes its own providers until the server dies.
async fn writer(
    base: String,
    model: Model,
    tag: String,
    mut rng: Rng,
    attempted: Arc<Mutex<Vec<String>>>,
) {
    let http = client();
    let mut mine: Vec<String> = model
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, k)| k.body.is_some() && !k.uncertain)
        // Each provider has one writer (`w1` must not take `w10-…`), so the order in which
        // the model learns of acknowledgements is the order the server applied them.
        .filter(|(_, k)| {
            k.body.as_ref().unwrap()["providerId"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{tag}-"))
        })
        .map(|(id, _)| id.clone())
        .collect();
    for n in 0.. {
        if mine.is_empty() || rng.below(10) < 4 {
            let slug = format!("{tag}-{n}");
            attempted.lock().unwrap().push(slug.clone());
            let body = json!({"providerId": slug, "name": format!("n{n}"), "baseUrl": "http://h/v1",
                              "models": [{"modelId": format!("m{n}")}]});
            let Ok(res) = http
                .post(format!("{base}/providers"))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
            else {
                return;
            };
            if res.status() != 201 {
                return;
            }
            let Ok(p) = res.json::<Value>().await else {
                return;
            };
            let id = p["id"].as_str().unwrap().to_owned();
            model.lock().unwrap().insert(
                id.clone(),
                Known {
                    body: Some(p),
                    uncertain: false,
                },
            );
            ACKNOWLEDGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            mine.push(id);
        } else {
            let at = rng.below(mine.len() as u64) as usize;
            let id = mine[at].clone();
            let url = format!("{base}/providers/{id}");
            let delete = rng.below(10) < 3;
            let req = if delete {
                http.delete(url)
            } else {
                http.patch(url).json(
                    &json!({"metadata": format!("v{n}"), "models": [{"modelId": format!("m{n}")}]}),
                )
            };
            let answer = match req.bearer_auth(TOKEN).send().await {
                Ok(res) if res.status().is_success() => {
                    if delete {
                        Some(None)
                    } else {
                        res.json::<Value>().await.ok().map(Some)
                    }
                }
                _ => None,
            };
            let mut model = model.lock().unwrap();
            match answer {
                Some(body) => {
                    model.insert(
                        id.clone(),
                        Known {
                            body,
                            uncertain: false,
                        },
                    );
                    ACKNOWLEDGED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if delete {
                        mine.swap_remove(at);
                    }
                }
                None => {
                    model.get_mut(&id).unwrap().uncertain = true;
                    return;
                }
            }
        }
    }
}

/// After a restart: every certain provider is exactly as acknowledged; uncertain ones are
/// settled to whatever the recovered store holds.
async fn check_and_settle(base: &str, model: &Model) {
    let http = client();
    let entries: Vec<(String, Known)> = model
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, known) in entries {
        let (status, body) = send(http.get(format!("{base}/providers/{id}"))).await;
        assert!(status == 200 || status == 404, "GET {id}: {status}");
        let now = (status == 200).then_some(body);
        if !known.uncertain {
            match (&known.body, &now) {
                (Some(acked), Some(found)) => {
                    assert_eq!(acked, found, "acknowledged state of {id} changed")
                }
                (Some(acked), None) => panic!("acknowledged provider {acked} was lost"),
                (None, Some(found)) => panic!("acknowledged delete of {found} came back"),
                (None, None) => {}
            }
        }
        model.lock().unwrap().insert(
            id,
            Known {
                body: now,
                uncertain: false,
            },
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_during_concurrent_writes_loses_nothing_acknowledged() {
    let rounds: u64 = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test: {rounds} rounds, CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let model: Model = Arc::default();
    let attempted: Arc<Mutex<Vec<String>>> = Arc::default();
    let started = Instant::now();
    for round in 0..rounds {
        let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
        check_and_settle(&server.base, &model).await;
        let writers: Vec<_> = (0..12)
            .map(|w| {
                tokio::spawn(writer(
                    server.base.clone(),
                    Arc::clone(&model),
                    format!("w{w}"),
                    Rng(rng.next() | 1),
                    Arc::clone(&attempted),
                ))
            })
            .collect();
        let after_ms = 20 + rng.below(400);
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        server.kill9();
        for w in writers {
            w.await.unwrap();
        }
        let m = model.lock().unwrap();
        eprintln!(
            "round {round}: killed after {after_ms} ms; {} providers known, {} in flight",
            m.len(),
            m.values().filter(|k| k.uncertain).count()
        );
    }
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    check_and_settle(&server.base, &model).await;

    // Records and the providerId index agree exactly: every listed providerId is taken, and
    // every other providerId ever tried is free.
    let http = client();
    let mut listed = std::collections::BTreeSet::new();
    let mut next = Some("/providers?limit=100".to_owned());
    while let Some(uri) = next {
        let (_, page) = send(http.get(format!("{}{uri}", server.base))).await;
        for p in page["aiGatewayProviders"].as_array().unwrap() {
            assert!(
                listed.insert(p["providerId"].as_str().unwrap().to_owned()),
                "providerId listed twice: {p}"
            );
            let known = model
                .lock()
                .unwrap()
                .get(p["id"].as_str().unwrap())
                .cloned();
            if let Some(Known { body: Some(b), .. }) = known {
                assert_eq!(&b, p);
            }
        }
        next = page["nextPageUri"].as_str().map(str::to_owned);
    }
    // Every provider the client knows of is listed; anything else listed is a create that was
    // in flight when the server died: tried, never answered.
    let present: std::collections::BTreeSet<String> = model
        .lock()
        .unwrap()
        .values()
        .filter_map(|k| k.body.as_ref())
        .map(|b| b["providerId"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        present.is_subset(&listed),
        "known providers missing from the list"
    );
    let in_flight = listed.difference(&present).count();
    for extra in listed.difference(&present) {
        assert!(
            attempted.lock().unwrap().contains(extra),
            "{extra} is listed but was never created"
        );
    }
    // Writers reuse providerIds across rounds (a deleted one may be taken again): probe each once.
    let tried: std::collections::BTreeSet<String> =
        attempted.lock().unwrap().iter().cloned().collect();
    for slug in &tried {
        let probe = json!({"providerId": slug, "name": "probe", "baseUrl": "http://h"});
        let (status, _) = send(http.post(format!("{}/providers", server.base)).json(&probe)).await;
        let expected = if listed.contains(slug) { 409 } else { 201 };
        assert_eq!(
            status, expected,
            "providerId {slug}: index and records disagree"
        );
    }
    eprintln!(
        "crash test: {rounds} rounds in {:.1}s; {} writes acknowledged, all found; {} providerIds \
         tried, {} present at the end, {in_flight} of them from creates in flight at a kill",
        started.elapsed().as_secs_f64(),
        ACKNOWLEDGED.load(std::sync::atomic::Ordering::Relaxed),
        tried.len(),
        listed.len()
    );
}
