//! The server's bounds under pressure: slow and idle clients cut off, memory bounded while
//! listing large providers.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Server, TOKEN};

/// Reads from a raw connection until the server closes it or `within` passes; returns what
/// arrived, or `None` if the connection was still open at the end.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_never_stop_others_from_being_served() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modelgate.toml");
    std::fs::write(
        &config,
        "[server]\nclient_request_timeout_ms = 1000\nbody_timeout_ms = 1500\nkeep_alive_secs = 1\n",
    )
    .unwrap();
    let server = Server::start_with_config(&dir.path().join("data"), &config);
    let addr = server.base.trim_start_matches("http://").to_owned();
    let started = Instant::now();

    // 300 connections that never send a byte, 200 that trickle a request head, 100 that send
    // a head and then trickle the body, one byte every 100 ms.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    let trickle = |head: String| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            for byte in head.bytes().chain(std::iter::repeat(b'x')) {
                if s.write_all(&[byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            s
        })
    };
    let heads: Vec<_> = (0..200)
        .map(|_| trickle("POST /providers HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_owned()))
        .collect();
    let body_head = format!(
        "POST /providers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    let mut bodies = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(body_head.as_bytes()).await.unwrap();
        s.write_all(b"{\"name\":").await.unwrap();
        bodies.push(s);
    }

    // Meanwhile ordinary clients are served. The 10 s client timeout is a liveness bound (a
    // hang fails the test), not a performance claim.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for i in 0..40 {
        let res = http
            .post(format!("{}/providers", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"providerId": format!("served-{i}"), "name": "n", "baseUrl": "http://h"}))
            .send()
            .await
            .expect("served while slow clients hold connections");
        assert_eq!(res.status(), 201);
        assert_eq!(
            http.get(format!("{}/healthz", server.base))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }

    // Every slow or idle connection is closed by the server, the body tricklers with a 408.
    for s in &mut idle {
        assert!(
            closed_within(s, Duration::from_secs(10)).await.is_some(),
            "idle connection kept open"
        );
    }
    for s in &mut bodies {
        let answer = closed_within(s, Duration::from_secs(10))
            .await
            .expect("body trickler kept open");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
    }
    for h in heads {
        // The trickler stops when its writes fail: the server closed the connection.
        tokio::time::timeout(Duration::from_secs(20), h)
            .await
            .expect("slow head kept open")
            .unwrap();
    }
    eprintln!(
        "600 slow or idle connections cut off; 40 ordinary creates served meanwhile; {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// `VmHWM` (peak resident set) or `VmRSS` of a process, in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// One page of the list: how many providers it holds (each checked to carry its 1000 models),
/// and the next page's URI.
fn page_of(body: &[u8]) -> (usize, Option<String>) {
    let page: Value = serde_json::from_slice(body).unwrap();
    let list = page["aiGatewayProviders"].as_array().unwrap();
    assert!(
        list.iter()
            .all(|p| p["models"].as_array().unwrap().len() == 1000)
    );
    (list.len(), page["nextPageUri"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_thousand_providers_of_a_thousand_models_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN)],
    );
    let pid = server.child.id();
    // What is measured is the server's memory while listing, not its keep-alive: no connection
    // is reused, so none can be closed by the server's 5 s keep-alive just as the next page is
    // asked on it (on a loaded machine a pager may well be away that long).
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let models: Vec<Value> = (0..1000)
        .map(|m| json!({"modelId": format!("family-{m:04}/model-with-a-longer-name")}))
        .collect();
    let creates = futures_util::stream::iter(0..1000).map(|i| {
        let body = json!({"providerId": format!("big-{i:04}"), "name": format!("big {i}"),
                          "baseUrl": "http://h/v1", "models": models});
        let req = http
            .post(format!("{}/providers", server.base))
            .bearer_auth(TOKEN)
            .json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    });
    use futures_util::StreamExt;
    let statuses: Vec<u16> = creates.buffer_unordered(8).collect().await;
    assert!(statuses.iter().all(|s| *s == 201));
    let after_load = memory_kib(pid, "VmRSS:");
    // Forget the peak of the load phase: what is measured is listing.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();

    // Four clients page through everything, twice, at the largest page size.
    let mut bytes = 0usize;
    for _ in 0..2 {
        let pagers = (0..4).map(|_| {
            let (http, base) = (http.clone(), server.base.clone());
            async move {
                let (mut next, mut items, mut bytes) =
                    (Some("/providers?limit=100".to_owned()), 0, 0);
                while let Some(uri) = next {
                    let res = http.get(format!("{base}{uri}")).bearer_auth(TOKEN).send();
                    let body = res.await.unwrap().bytes().await.unwrap();
                    bytes += body.len();
                    // join_all polls the four pagers on one task: a page of several MiB is
                    // parsed off it, so the others keep reading and asking meanwhile.
                    let (listed, after) = tokio::task::spawn_blocking(move || page_of(&body))
                        .await
                        .unwrap();
                    items += listed;
                    next = after;
                }
                (items, bytes)
            }
        });
        for (items, b) in futures_util::future::join_all(pagers).await {
            assert_eq!(items, 1000);
            bytes += b;
        }
    }
    let peak = memory_kib(pid, "VmHWM:");
    eprintln!(
        "1000 providers x 1000 models: RSS {} MiB after loading; peak RSS while 4 clients listed \
         every page twice ({} MiB of JSON): {} MiB",
        after_load / 1024,
        bytes >> 20,
        peak / 1024
    );
    // Bounded: the cache (64 MiB) plus a few pages in flight, nowhere near the data's size.
    assert!(peak < 512 * 1024, "peak RSS {peak} KiB while listing");
}
