//! The real binary's calls to providers with a proxy in its environment (`HTTP_PROXY` and the
//! rest), which only a provider with `proxy.type: environment` goes through, and what it logs
//! of an unreachable provider. A process of its own, as the environment is the process's: the
//! API tests share one, and their clients would read these variables too.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[path = "support/server.rs"]
mod server;

const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
const TOKEN: &str = "outbound-test-token-0123456789";
const KEY: &str = "sk-env-proxy-test-0001";
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// An HTTP/1.1 server on loopback that answers every request with a chat completion naming
/// itself, and keeps each request's head (request line and headers).
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start(name: &'static str) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, name, Arc::clone(&seen)));
            }
        });
        Recorder { url, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

async fn serve(socket: tokio::net::TcpStream, name: &str, seen: Arc<Mutex<Vec<String>>>) {
    let mut reader = BufReader::new(socket);
    loop {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push_str(&line),
            }
        }
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        seen.lock().unwrap().push(head);
        let answer = json!({"id": "c-1", "object": "chat.completion", "choices": [],
                            "answeredBy": name})
        .to_string();
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if reader.get_mut().write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

struct Server {
    spawned: server::Spawned,
    base: String,
    http: reqwest::Client,
}

impl Server {
    /// The binary on a free port, with `env` and no other proxy variable than `env`'s.
    fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir)
            .args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .env_remove("RUST_LOG")
            .env_remove("MODELGATE_BIND")
            .env_remove("MODELGATE_DATA_DIR")
            .env("MODELGATE_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::null());
        for name in PROXY_VARS {
            cmd.env_remove(name);
        }
        cmd.envs(env.iter().copied());
        let spawned = server::spawn(&mut cmd);
        Server {
            base: format!("http://127.0.0.1:{}", spawned.port),
            spawned,
            // The test's own client never takes a proxy from the test's environment.
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn provider(&self, body: Value) {
        let res = self.post("/providers", body).await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    }

    /// The log once a line containing `needle` is in it (the log is read on another thread).
    fn log_with(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.spawned.log.lock().unwrap().clone();
            if log.iter().any(|l| l.contains(needle)) {
                return log;
            }
            assert!(Instant::now() < deadline, "no `{needle}` in {log:#?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.spawned.child.kill();
        let _ = self.spawned.child.wait();
    }
}

#[tokio::test]
async fn only_a_provider_that_asks_goes_through_the_environments_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = Recorder::start("upstream").await;
    let proxy = Recorder::start("proxy").await;
    let env: Vec<(&str, &str)> = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .into_iter()
        .map(|name| (name, proxy.url.as_str()))
        .collect();
    let server = Server::start(dir.path(), &env);
    let base = format!("{}/v1", upstream.url);
    let provider = |slug: &str, extra: Value| {
        let mut p = json!({"providerId": slug, "name": slug, "baseUrl": base,
                           "models": [{"modelId": "m"}]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    // The shared per-worker client, a network profile of its own without a proxy, and one
    // that asks for the environment's.
    server.provider(provider("direct", json!({}))).await;
    server
        .provider(provider("profiled", json!({"allowPrivateNetwork": true})))
        .await;
    server
        .provider(provider(
            "via-env",
            json!({"proxy": {"type": "environment"}}),
        ))
        .await;
    for slug in ["direct", "profiled"] {
        let key = json!({"providerId": slug, "name": "k", "value": KEY});
        assert_eq!(server.post("/provider-keys", key).await.status(), 201);
    }

    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    for (model, answered_by) in [
        ("direct:m", "upstream"),
        ("profiled:m", "upstream"),
        ("via-env:m", "proxy"),
    ] {
        let res = server.post("/v1/chat/completions", chat(model)).await;
        assert_eq!(res.status(), 200, "{model}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["answeredBy"], answered_by, "{model}");
    }
    let through_proxy = proxy.heads();
    assert_eq!(through_proxy.len(), 1, "{through_proxy:#?}");
    let port = upstream.url.rsplit(':').next().unwrap();
    assert!(
        through_proxy[0].starts_with(&format!(
            "POST http://127.0.0.1:{port}/v1/chat/completions HTTP/1.1"
        )),
        "{through_proxy:#?}"
    );
    assert!(!through_proxy[0].contains(KEY));
    let direct = upstream.heads();
    assert_eq!(direct.len(), 2, "{direct:#?}");
    assert!(direct.iter().all(|h| h.contains(KEY)), "{direct:#?}");

    // Said when the routing table takes the provider (at start, and here on its creation).
    let log = server.log_with("provider `via-env` goes through the environment's proxy");
    let said = log
        .iter()
        .find(|l| l.contains("`via-env` goes through"))
        .unwrap();
    assert!(
        said.contains("ALL_PROXY, HTTPS_PROXY, HTTP_PROXY set"),
        "{said}"
    );
    assert!(
        !said.contains(&proxy.url),
        "the values are not logged: {said}"
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("environment's proxy") && !l.contains("via-env")),
        "{log:#?}"
    );
}

/// A base URL's query may carry a key (`?key=…`): the line logged for an unreachable provider
/// names the URL without it.
#[tokio::test]
async fn an_unreachable_provider_is_logged_without_its_base_urls_query() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "sk-query-secret-0002";
    server
        .provider(json!({"providerId": "gone", "name": "gone",
                         "baseUrl": format!("http://127.0.0.1:{port}/v1?key={secret}"),
                         "models": [{"modelId": "m"}]}))
        .await;
    let res = server
        .post(
            "/v1/chat/completions",
            json!({"model": "gone:m", "messages": []}),
        )
        .await;
    assert_eq!(res.status(), 502);
    assert!(!res.text().await.unwrap().contains(secret));
    let log = server.log_with("provider `gone` unreachable");
    let line = log.iter().find(|l| l.contains("unreachable")).unwrap();
    assert!(
        line.contains(&format!("at http://127.0.0.1:{port}/v1/chat/completions: ")),
        "{line}"
    );
    assert!(!log.iter().any(|l| l.contains(secret)), "{log:#?}");
}
