//! The real binary as a user runs it: start-up, configuration errors, the generated admin
//! token, logs, graceful shutdown, and `kill -9` right after acknowledged writes.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

#[path = "support/server.rs"]
mod server;
#[path = "support/userns.rs"]
mod userns;

const BIN: &str = env!("CARGO_BIN_EXE_modelgate");
const TOKEN: &str = "process-test-token-0123456789";

fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("MODELGATE_BIND")
        .env_remove("MODELGATE_DATA_DIR")
        .env_remove("MODELGATE_ADMIN_TOKEN")
        .env_remove("MODELGATE_PUBLIC_URL");
    cmd
}

struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free port with `data` as data dir and waits until it listens.
    fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::spawn(data, env, None)
    }

    fn start_with_config(data: &Path, config: &Path) -> Server {
        Server::spawn(data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)], Some(config))
    }

    fn spawn(data: &Path, env: &[(&str, &str)], config: Option<&Path>) -> Server {
        let mut cmd = command(data.parent().unwrap());
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .envs(env.iter().copied())
            .stdout(Stdio::null());
        let started = server::spawn(&mut cmd);
        Server {
            child: started.child,
            base: format!("http://127.0.0.1:{}", started.port),
            log: started.log,
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status (within 20 s).
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log_text());
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// Runs the binary to completion and returns (exit code, stderr).
fn run_to_exit(mut cmd: Command) -> (i32, String) {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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

#[tokio::test]
async fn the_first_start_generates_a_private_admin_token_and_later_starts_reuse_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let path = data.join("admin-token");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(token.len() >= 43, "32 random bytes, encoded");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = server.log_text();
    assert!(
        log.contains(&path.display().to_string()) && log.contains("curl"),
        "{log}"
    );
    assert!(
        !log.contains(&token),
        "the token itself must not be printed"
    );
    // The first start names where to paste it: the admin page, on the port actually bound.
    assert!(
        log.contains(&format!("admin page at {}/", server.base)),
        "{log}"
    );
    let status = |base: String, token: String| async move {
        client()
            .get(format!("{base}/providers"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(status(server.base.clone(), token.clone()).await, 200);
    server.kill9();
    let server = Server::start(&data, &[]);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    assert_eq!(status(server.base.clone(), token.clone()).await, 200);
}

#[test]
fn a_start_that_cannot_bind_leaves_nothing_in_a_new_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let mut cmd = command(dir.path());
    cmd.args(["--bind", &bind, "--data-dir"]).arg(&data);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!("cannot listen on {bind}")),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&data)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "a failed start left {left:?} in {}",
        data.display()
    );
}

#[test]
fn configuration_problems_are_one_line_errors_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("typo.toml"), "[server]\nbnid = \"127.0.0.1:1\"\n").unwrap();
    std::fs::write(
        root.join("badvalue.toml"),
        "[storage]\ncache_capacity_mib = -5\n",
    )
    .unwrap();
    std::fs::write(root.join("a-file"), "not a directory").unwrap();

    // (arguments, environment, what the one-line error must mention)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--config", "typo.toml"], vec![], "bnid"),
        (
            vec!["--config", "badvalue.toml"],
            vec![],
            "cache_capacity_mib",
        ),
        (vec!["--config", "missing.toml"], vec![], "missing.toml"),
        (vec![], vec![("MODELGATE_BIND", "nonsense")], "server.bind"),
        (vec!["--bind", "127.0.0.1:99999"], vec![], "server.bind"),
        (vec!["--data-dir", "a-file/data"], vec![], "a-file/data"),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", "too-short")],
            "MODELGATE_ADMIN_TOKEN",
        ),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", " padded-token-0123456789 ")],
            "white space at its start or end",
        ),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", "                        ")],
            "only white space",
        ),
        (vec!["--data-dir", "padded"], vec![], "admin token in"),
        (
            vec![],
            vec![("MODELGATE_PUBLIC_URL", "not a url")],
            "public_url",
        ),
    ];
    // A token file whose token a client could never send as it is.
    std::fs::create_dir(root.join("padded")).unwrap();
    std::fs::write(
        root.join("padded/admin-token"),
        "  padded-token-0123456789\n",
    )
    .unwrap();
    for (args, env, needle) in cases {
        let mut cmd = command(root);
        cmd.args(&args).envs(env.iter().copied());
        if !args.contains(&"--data-dir") {
            cmd.args(["--data-dir", "data"]);
        }
        let (code, stderr) = run_to_exit(cmd);
        assert_ne!(code, 0, "{args:?} {env:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("modelgate: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked")
                && !stderr.contains("too-short")
                && !stderr.contains("padded-token"),
            "{stderr}"
        );
    }
}

#[test]
fn a_data_dir_held_by_a_running_modelgate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let mut cmd = command(dir.path());
    cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("MODELGATE_ADMIN_TOKEN", TOKEN);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("in use by another running modelgate"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn hash_token_prints_the_sha256_of_the_token_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"my-long-ci-token-1234\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        modelgate::auth::hash_token("my-long-ci-token-1234")
    );

    let mut child = command(dir.path())
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn sigterm_finishes_in_flight_work_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "graceful", "name": "g", "baseUrl": "http://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let (status, log) = server.terminate();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("store flushed"), "{log}");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let list: Value = client()
        .get(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["aiGatewayProviders"][0]["providerId"], "graceful");
}

#[tokio::test]
async fn logs_hold_one_line_per_request_and_never_a_token_or_a_body() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let marker = "body-marker-7f3a";
    let http = client();
    let res = http
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "logged", "name": marker, "baseUrl": "http://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .get(format!("{}/providers?limit=5", server.base))
        .bearer_auth("wrong-token-wrong-token-xyz")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = http
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{marker}\", oops"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let (_, log) = server.terminate();
    for secret in [
        TOKEN,
        "wrong-token-wrong-token-xyz",
        marker,
        "Bearer",
        "authorization",
    ] {
        assert!(!log.contains(secret), "log leaks `{secret}`:\n{log}");
    }
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("INFO  actix_web::middleware::logger]"))
        .collect();
    assert_eq!(access.len(), 3, "{log}");
    assert!(
        access[0].contains("\"POST /providers\" 201"),
        "{}",
        access[0]
    );
    assert!(
        access[1].contains("\"GET /providers\" 401"),
        "{}",
        access[1]
    );
}

// ---- provider-key secrets on disk and the master key ----

const SECRET: &str = "sk-ant-api03-Zx9QmP4vL7kW2nR8tY5uB1cD6eF3gH0j";

async fn create_secret(base: &str, value: &str) -> Value {
    let res = client()
        .post(format!("{base}/provider-keys"))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "anthropic", "name": "prod", "value": value}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn every_file(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_stored_secret_appears_nowhere_in_the_data_dir_or_the_logs() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let created = create_secret(&server.base, SECRET).await;
    let path = format!(
        "{}/provider-keys/{}",
        server.base,
        created["id"].as_str().unwrap()
    );
    let rotated = client()
        .post(format!("{path}/rotate"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "rotated", "value": format!("{SECRET}-v2")}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    // A proxy password too, used by a call (its proxy refuses the connection: logged).
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "proxied", "name": "p", "baseUrl": "http://10.9.9.9:9/v1",
                      "proxy": {"type": "http", "url": "http://127.0.0.1:1",
                                "username": "gw", "password": format!("{SECRET}-proxy")}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = client()
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "proxied:m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let (status, log) = server.terminate();
    assert!(status.success());

    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut needles: Vec<Vec<u8>> = vec![SECRET.as_bytes().to_vec()];
    for engine in engines {
        // Base64 of the secret at every alignment a surrounding encoder could produce.
        for pad in ["", "a", "ab"] {
            let encoded = engine.encode(format!("{pad}{SECRET}"));
            needles.push(encoded.as_bytes()[4..encoded.len() - 4].to_vec());
        }
    }
    let mut files = Vec::new();
    every_file(&data, &mut files);
    assert!(files.len() > 3, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} holds the secret",
                file.display()
            );
        }
    }
    for needle in &needles {
        assert!(
            !contains(log.as_bytes(), needle),
            "the log holds the secret"
        );
    }
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_is_refused_at_start() {
    use base64::Engine;
    let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let (key_a, key_b) = (b64(1), b64(2));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[
            ("MODELGATE_ADMIN_TOKEN", TOKEN),
            ("MODELGATE_MASTER_KEY", &key_a),
        ],
    );
    create_secret(&server.base, SECRET).await;
    server.kill9();

    for env in [
        vec![("MODELGATE_MASTER_KEY", key_b.as_str())],
        // No key in the environment: the default key file does not exist for this store.
        vec![],
    ] {
        let mut cmd = command(dir.path());
        cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env("MODELGATE_ADMIN_TOKEN", TOKEN)
            .envs(env.iter().copied());
        let (code, stderr) = run_to_exit(cmd);
        assert_ne!(code, 0, "{env:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("master key"), "{stderr}");
        assert!(
            !data.join("master.key").exists(),
            "no new key may be generated over sealed data"
        );
    }
    let server = Server::start(
        &data,
        &[
            ("MODELGATE_ADMIN_TOKEN", TOKEN),
            ("MODELGATE_MASTER_KEY", &key_a),
        ],
    );
    server.kill9();
}

/// Opens a stopped server's store with the library and reveals every key.
fn reveal_all(data: &Path) -> Vec<String> {
    use modelgate::store::KeyStore;
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.to_owned();
    let store = modelgate::startup::open_store(&settings).unwrap();
    let master = modelgate::master_key::load(&settings, &store).expect("store opens with a key");
    let page = store.list_keys(None, None, 10_000).unwrap();
    page.items
        .iter()
        .map(|k| k.reveal(&master).expect("every key opens").to_string())
        .collect()
}

/// Opens a stopped server's store and reveals its one provider's proxy password.
fn proxy_password(data: &Path) -> String {
    use modelgate::store::ProviderStore;
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.to_owned();
    let store = modelgate::startup::open_store(&settings).unwrap();
    let master = modelgate::master_key::load(&settings, &store).expect("store opens with a key");
    let provider = store.list(None, 1).unwrap().items.remove(0);
    let proxy = provider.settings.proxy.expect("the provider has a proxy");
    proxy
        .password(&master, provider.id)
        .expect("the password opens")
        .expect("a password is stored")
        .to_string()
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_secret_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    for i in 0..5 {
        create_secret(&server.base, &format!("{SECRET}-{i}")).await;
    }
    let res = client()
        .post(format!("{}/provider-keys", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "openai", "name": "env", "value": "env.MODELGATE_TEST_UPSTREAM"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "proxied", "name": "p", "baseUrl": "http://127.0.0.1:9/v1",
                      "proxy": {"type": "http", "url": "http://127.0.0.1:3128",
                                "username": "gw", "password": "proxy-secret-pw"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();

    // Refused while the server holds the data dir.
    let mut cmd = command(dir.path());
    cmd.args(["rotate-master-key", "--data-dir"]).arg(&data);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(stderr.contains("in use"), "{stderr}");
    server.kill9();

    let out = command(dir.path())
        .args(["rotate-master-key", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("re-wrapped 6 sealed secret(s)"), "{stdout}");
    assert_ne!(
        std::fs::read_to_string(data.join("master.key")).unwrap(),
        old_key
    );

    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var("MODELGATE_TEST_UPSTREAM", "resolved-from-env") };
    let mut values = reveal_all(&data);
    values.sort();
    let mut expected: Vec<String> = (0..5).map(|i| format!("{SECRET}-{i}")).collect();
    expected.push("resolved-from-env".into());
    expected.sort();
    assert_eq!(values, expected);
    assert_eq!(proxy_password(&data), "proxy-secret-pw");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    server.kill9();
}

#[test]
fn a_rotation_killed_at_any_moment_leaves_a_store_that_opens() {
    use modelgate::domain::{CreateProviderKey, NewProviderKey};
    use modelgate::store::KeyStore;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.clone();
    {
        let store = modelgate::startup::open_store(&settings).unwrap();
        let master = modelgate::master_key::load(&settings, &store).unwrap();
        // The store's writes run on a runtime's blocking pool.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for i in 0..300 {
            let new = NewProviderKey::parse(CreateProviderKey {
                provider_id: Some("openai".into()),
                name: Some(format!("k{i}")),
                value: Some(zeroize::Zeroizing::new(format!("{SECRET}-{i}"))),
                ..Default::default()
            })
            .unwrap();
            let key = new.into_key(&master, 0, "admin").unwrap();
            runtime
                .block_on(store.create_key(key, false))
                .unwrap()
                .unwrap()
                .wait_blocking()
                .unwrap();
        }
    }
    let expected: std::collections::HashSet<String> =
        (0..300).map(|i| format!("{SECRET}-{i}")).collect();
    let first_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let mut completed = 0;
    for round in 0..20u64 {
        let mut child = command(dir.path())
            .args(["rotate-master-key", "--data-dir"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kill over the rotation's whole life, from before it opened the store to
        // after it finished.
        // The last round runs to the end: rotation still works after every interruption.
        if round < 19 {
            std::thread::sleep(Duration::from_micros(round * 8_000));
            let _ = child.kill();
        }
        if child.wait().unwrap().success() {
            completed += 1;
        }
        let values: std::collections::HashSet<String> = reveal_all(&data).into_iter().collect();
        assert_eq!(values, expected, "round {round}");
    }
    eprintln!("{completed} of 20 rotations finished before the kill");
    assert!(completed >= 1);
    assert_ne!(
        std::fs::read_to_string(data.join("master.key")).unwrap(),
        first_key
    );
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

/// A small tmpfs of its own, unmounted when dropped: a disk that can be filled and made
/// read-only without touching the machine's.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, mib: u64) -> SmallDisk {
        use nix::mount::{MsFlags, mount};
        std::fs::create_dir_all(path).unwrap();
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(format!("size={mib}m").as_str()),
        )
        .expect("mounting a tmpfs (as root, or in the user namespace userns::runs_here made)");
        SmallDisk {
            path: path.to_owned(),
        }
    }

    fn remount(&self, read_only: bool) {
        use nix::mount::{MsFlags, mount};
        let mut flags = MsFlags::MS_REMOUNT;
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount(None::<&str>, &self.path, None::<&str>, flags, None::<&str>).unwrap();
    }

    fn free_bytes(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.path).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }

    /// Fills the disk until `leave` bytes are free.
    fn fill_leaving(&self, leave: u64) -> std::path::PathBuf {
        let ballast = self.path.join("ballast");
        let size = self.free_bytes().saturating_sub(leave);
        std::fs::write(&ballast, vec![0u8; size as usize]).unwrap();
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Sends `req` with the test token: its status, and its body as JSON (`null` when it has none).
async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.bearer_auth(TOKEN).send().await.unwrap();
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// A data dir on a tmpfs of `mib` MiB, and a config file giving it a reserve of `reserve_mib`.
fn on_small_disk(
    mib: u64,
    reserve_mib: u64,
) -> (
    tempfile::TempDir,
    SmallDisk,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), mib);
    let data = disk.path.join("data");
    let config = dir.path().join("modelgate.toml");
    let settings = format!("[storage]\nmin_free_mib = {reserve_mib}\ncache_capacity_mib = 8\n");
    std::fs::write(&config, settings).unwrap();
    (dir, disk, data, config)
}

fn provider_body(slug: &str, metadata_bytes: usize) -> Value {
    json!({"providerId": slug, "name": slug, "baseUrl": "http://h/v1",
           "metadata": "m".repeat(metadata_bytes)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_read_only_disk_refuses_writes_cleanly_and_recovers_without_a_restart() {
    if !userns::runs_here(
        module_path!(),
        "a_full_or_read_only_disk_refuses_writes_cleanly_and_recovers_without_a_restart",
    ) {
        return;
    }
    let (dir, disk, data, config) = on_small_disk(24, 4);
    let server = Server::start_with_config(&data, &config);
    let (http, base) = (client(), server.base.clone());

    let (status, before) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("before", 10)),
    )
    .await;
    assert_eq!(status, 201);
    let before_url = format!("{base}/providers/{}", before["id"].as_str().unwrap());

    // The store itself fills the disk: every write is acknowledged or refused as storage_full,
    // never a 500 and never a storage_failed.
    let ballast = disk.fill_leaving(8 << 20);
    let mut written = Vec::new();
    let refused_slug = loop {
        let slug = format!("fill-{}", written.len());
        let (status, body) = send(
            http.post(format!("{base}/providers"))
                .json(&provider_body(&slug, 4000)),
        )
        .await;
        match status {
            201 => written.push(body),
            503 => {
                assert_eq!(body["errorCode"], "storage_full", "{body}");
                assert!(body["msg"].as_str().unwrap().contains("MiB free"), "{body}");
                break slug;
            }
            other => panic!("write while filling the disk answered {other}: {body}"),
        }
        assert!(
            written.len() < 10_000,
            "the reserve never stopped the writes"
        );
    };
    assert!(!written.is_empty());
    eprintln!(
        "disk full after {} acknowledged creates; {} bytes free",
        written.len(),
        disk.free_bytes()
    );

    // Every kind of write is refused the same way; reads go on and show nothing of them.
    let (status, body) = send(http.patch(&before_url).json(&json!({"name": "changed"}))).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (503, Some("storage_full"))
    );
    let (status, _) = send(http.delete(&before_url)).await;
    assert_eq!(status, 503);
    let (status, _) = send(
        http.post(format!("{base}/provider-keys"))
            .json(&json!({"providerId": "openai", "name": "k", "value": "sk-0123456789"})),
    )
    .await;
    assert_eq!(status, 503);
    let (status, now) = send(http.get(&before_url)).await;
    assert_eq!((status, &now), (200, &before));
    let (status, health) = send(http.get(format!("{base}/healthz"))).await;
    assert_eq!(
        (status, health["errorCode"].as_str()),
        (503, Some("storage_full"))
    );
    let (status, list) = send(http.get(format!("{base}/providers?limit=100"))).await;
    assert_eq!(status, 200);
    assert!(
        list["aiGatewayProviders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["providerId"] != refused_slug.as_str())
    );

    // Space comes back: writes resume in the same process, and the refused providerId is free.
    std::fs::remove_file(&ballast).unwrap();
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body(&refused_slug, 10)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, changed) = send(http.patch(&before_url).json(&json!({"name": "changed"}))).await;
    assert_eq!(status, 200);
    assert_eq!(send(http.get(format!("{base}/healthz"))).await.0, 200);

    // Nothing acknowledged was lost and nothing refused appeared, across a hard kill.
    server.kill9();
    let server = Server::start_with_config(&data, &config);
    let base = server.base.clone();
    for p in &written {
        let (status, found) =
            send(http.get(format!("{base}/providers/{}", p["id"].as_str().unwrap()))).await;
        assert_eq!((status, &found), (200, p));
    }
    assert_eq!(
        send(http.get(format!(
            "{base}/providers/{}",
            before["id"].as_str().unwrap()
        )))
        .await,
        (200, changed)
    );
    let (_, list) = send(http.get(format!("{base}/providers?limit=100"))).await;
    let slugs: Vec<&str> = list["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["providerId"].as_str().unwrap())
        .collect();
    assert!(slugs.contains(&refused_slug.as_str()));

    // A data dir on a read-only file system: a one-line refusal at start, not a crash later.
    // (A live switch to read-only cannot be staged here: the kernel refuses to remount a file
    // system read-only while sled holds its files open for writing.)
    drop(server);
    disk.remount(true);
    let mut cmd = command(dir.path());
    cmd.arg("--config")
        .arg(&config)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("MODELGATE_ADMIN_TOKEN", TOKEN);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}

/// Without the reserve, sled meets ENOSPC itself and poisons its `Db`. The server must say so
/// clearly, keep serving reads while the disk is full, refuse writes, and once space is back
/// reopen the store by itself: holding every acknowledged write and the failed one either
/// whole or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_io_error_inside_the_engine_stops_writes_until_the_store_reopens_itself() {
    if !userns::runs_here(
        module_path!(),
        "an_io_error_inside_the_engine_stops_writes_until_the_store_reopens_itself",
    ) {
        return;
    }
    let (_dir, disk, data, config) = on_small_disk(64, 0);
    let server = Server::start_with_config(&data, &config);
    let (http, base) = (client(), server.base.clone());
    let ballast = disk.fill_leaving(2 << 20);
    let mut written = Vec::new();
    let (failed_slug, failure) = loop {
        let slug = format!("p{}", written.len());
        let (status, body) = send(
            http.post(format!("{base}/providers"))
                .json(&provider_body(&slug, 4000)),
        )
        .await;
        match status {
            201 => written.push(body),
            _ => break (slug, (status, body)),
        }
        assert!(written.len() < 10_000, "the disk never filled");
    };
    assert_eq!(failure.0, 503, "{:?}", failure.1);
    assert_eq!(failure.1["errorCode"], "storage_failed");
    assert!(
        failure.1["msg"]
            .as_str()
            .unwrap()
            .contains("may or may not have been stored")
    );

    // While the disk is full: writes refused, health says why, reads go on.
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("later", 10)),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (503, Some("storage_failed"))
    );
    let (status, health) = send(http.get(format!("{base}/healthz"))).await;
    assert_eq!(
        (status, health["errorCode"].as_str()),
        (503, Some("storage_failed"))
    );
    let first = &written[0];
    let first_url = format!("{base}/providers/{}", first["id"].as_str().unwrap());
    assert_eq!(send(http.get(&first_url)).await, (200, first.clone()));

    // Space is back: the next write reopens the store, in the same process.
    std::fs::remove_file(&ballast).unwrap();
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("later", 10)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(send(http.get(format!("{base}/healthz"))).await.0, 200);
    assert!(
        server.log_text().contains("store reopened"),
        "{}",
        server.log_text()
    );
    assert!(!server.log_text().contains("panicked"));
    for p in &written {
        let url = format!("{base}/providers/{}", p["id"].as_str().unwrap());
        assert_eq!(
            send(http.get(url)).await,
            (200, p.clone()),
            "acknowledged {p} lost"
        );
    }
    // The write that failed is all there or not there at all: its providerId is taken exactly
    // when a record carries it.
    let (_, list) = send(http.get(format!("{base}/providers?limit=2"))).await;
    let listed: Vec<&str> = list["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["providerId"].as_str().unwrap())
        .collect();
    let stored = listed.contains(&failed_slug.as_str());
    let (status, _) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body(&failed_slug, 10)),
    )
    .await;
    assert_eq!(status, if stored { 409 } else { 201 });
    eprintln!(
        "ENOSPC after {} acknowledged creates; the failed create was {} after the reopen",
        written.len(),
        if stored { "kept whole" } else { "absent" }
    );

    // And after a hard kill, the same.
    server.kill9();
    let server = Server::start_with_config(&data, &config);
    for p in &written {
        let url = format!("{}/providers/{}", server.base, p["id"].as_str().unwrap());
        assert_eq!(
            send(http.get(url)).await,
            (200, p.clone()),
            "acknowledged {p} lost"
        );
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_a_thousand_providers_of_a_thousand_models_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN)],
    );
    let pid = server.child.id();
    // Pooled connections are dropped before the server's 5 s keep-alive can close them under a
    // request: between rounds, a pager that finished early waits for the slowest.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(2))
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
                    let page: Value = serde_json::from_slice(&body).unwrap();
                    let list = page["aiGatewayProviders"].as_array().unwrap();
                    assert!(
                        list.iter()
                            .all(|p| p["models"].as_array().unwrap().len() == 1000)
                    );
                    items += list.len();
                    next = page["nextPageUri"].as_str().map(str::to_owned);
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

/// Requests too broken for actix to parse (a malformed Content-Length, a target past its own
/// limit) are refused before any route runs. Anyone can send them, so they must not reach the
/// error log: at the default level they are not logged at all, at debug they are.
#[test]
fn requests_too_broken_to_parse_never_reach_the_error_log() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    for (level, shown) in [("info", false), ("debug", true)] {
        let data = dir.path().join(level);
        let server = Server::start(
            &data,
            &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", level)],
        );
        let addr = server.base.trim_start_matches("http://").to_owned();
        let long_target = format!(
            "GET /providers?{} HTTP/1.1\r\nHost: x\r\n\r\n",
            "a=1&".repeat(20_000)
        );
        for raw in [
            "POST /providers HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_owned(),
            "POST /providers HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
            long_target,
        ] {
            for _ in 0..5 {
                let mut conn = std::net::TcpStream::connect(&addr).unwrap();
                conn.write_all(raw.as_bytes()).unwrap();
                let mut answer = String::new();
                let _ = conn.read_to_string(&mut answer);
                assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
            }
        }
        let (_, log) = server.terminate();
        assert!(!log.contains(" ERROR "), "{log}");
        assert_eq!(log.contains("request parse error"), shown, "{level}: {log}");
    }
}

/// SIGTERM while a model call streams: the stream in flight runs to its end, then the server
/// exits cleanly. The upstream is a bare HTTP/1.1 server in this test that sends its second
/// half only when told to, after the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_stream_in_flight_finish() {
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let (go, go_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut head = vec![0; 65536];
        let _ = sock.read(&mut head).await.unwrap();
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {\"n\":1}\n\n")
            .await
            .unwrap();
        go_rx.await.unwrap();
        sock.write_all(b"data: {\"n\":2}\n\ndata: [DONE]\n\n")
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        &dir.path().join("data"),
        &[("MODELGATE_ADMIN_TOKEN", TOKEN)],
    );
    let http = client();
    let (status, _) = send(
        http.post(format!("{}/providers", server.base))
            .json(&json!({"providerId": "up", "name": "up", "baseUrl": upstream})),
    )
    .await;
    assert_eq!(status, 201);
    let res = http
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "up:m", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: {\"n\":1}\n\n");
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    go.send(()).unwrap();
    let mut rest = Vec::new();
    while let Some(chunk) = body.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(rest, b"data: {\"n\":2}\n\ndata: [DONE]\n\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not exit after the stream ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", server.log_text());
    // One line per model call, with what it went to and how it ended; never a token or body.
    std::thread::sleep(Duration::from_millis(100));
    let log = server.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("modelgate::proxy"))
        .unwrap_or_else(|| panic!("no data-plane log line: {log}"));
    assert!(
        line.contains("/v1/chat/completions provider=up model=m status=200")
            && line.contains("streamed=true"),
        "{line}"
    );
    assert!(!log.contains(TOKEN) && !log.contains("\"stream\""), "{log}");
}
