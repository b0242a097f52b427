//! The gateways a user would otherwise pick, started here one after another on the server core,
//! each routed to the same mock upstream. A peer that is not installed (`bench/peers/install`
//! says where each is, through `BENCH_*` variables) or does not come up is reported as such.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::launch::{Server, bin, wait_ready};
use crate::{SERVER_CORE, TOKEN};

/// Which of the compared targets: what the bars name, where `Target::name` is the label shown.
#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// The mock upstream itself, with nothing between.
    Direct,
    /// The minimal Rust pass-through: the ceiling for any gateway.
    Forwarder,
    Modelgate,
    /// modelgate with the admin token, its provider holding a stored key: the access keys'
    /// baseline (`scoped`).
    #[serde(rename = "modelgate-keyed")]
    ModelgateKeyed,
    /// modelgate with an access key whose configuration routes by 50 rules.
    #[serde(rename = "modelgate-routed")]
    ModelgateRouted,
    /// modelgate with an access key scoped without a router: measured when a server refuses
    /// `router`.
    #[serde(rename = "modelgate-scoped")]
    ModelgateScoped,
    TensorZero,
    Noveum,
    Portkey,
    LiteLLM,
}

impl Peer {
    fn label(self) -> &'static str {
        match self {
            Peer::Direct => "direct to mock",
            Peer::Forwarder => "Rust forwarder",
            Peer::Modelgate => "modelgate",
            Peer::ModelgateKeyed => "modelgate, admin token, stored key",
            Peer::ModelgateRouted => "modelgate, access key, 50 router rules",
            Peer::ModelgateScoped => "modelgate, access key, no router (router refused)",
            Peer::TensorZero => "TensorZero",
            Peer::Noveum => "Noveum",
            Peer::Portkey => "Portkey",
            Peer::LiteLLM => "LiteLLM",
        }
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A way to reach one upstream: where to POST chat completions, with which headers, naming
/// which model for the burst (`m`) and paced (`paced`) answers of the mock.
pub struct Target {
    pub peer: Peer,
    pub name: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub model: String,
    pub paced_model: String,
    pub pid: u32,
    process: Running,
}

enum Running {
    /// Not ours to stop (the mock itself, or a server another target's maker stops).
    Nothing,
    /// A process group of ours: wrappers (Python, Node) may have children.
    Group(Child),
    Modelgate(Server),
}

impl Target {
    pub fn stop(self) {
        match self.process {
            Running::Nothing => {}
            Running::Group(mut child) => {
                let _ = Command::new("kill")
                    .args(["-TERM", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
            }
            Running::Modelgate(server) => server.stop(),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// `program args` on the server core, in a process group of its own, output discarded.
fn spawn_pinned(
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
    cwd: &Path,
) -> Result<Child, String> {
    use std::os::unix::process::CommandExt;
    Command::new("taskset")
        .args(["-c", SERVER_CORE, program])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program} does not start: {e}"))
}

/// Waits until `target` answers a chat completion with 200 (each peer's own health check
/// differs; this one also proves the route works), up to `limit`.
async fn answering(target: &Target, limit: Duration) -> Result<(), String> {
    let client = reqwest::Client::new();
    let body =
        serde_json::json!({"model": target.model, "messages": [{"role": "user", "content": "hi"}]});
    let deadline = Instant::now() + limit;
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        let mut req = client.post(&target.url).json(&body);
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        match req.send().await {
            Ok(r) if r.status() == 200 => return Ok(()),
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("did not answer within {limit:?}: {last}"))
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".into(), format!("Bearer {token}"))]
}

/// A peer started here as a process group, listening on `port` with the OpenAI route under
/// `/v1`, naming the mock's models as they are; ready once it answers a chat completion.
async fn local(
    peer: Peer,
    name: &'static str,
    port: u16,
    headers: Vec<(String, String)>,
    child: Child,
    startup: Duration,
) -> Result<Target, String> {
    let target = Target {
        peer,
        name,
        url: format!("http://127.0.0.1:{port}/v1/chat/completions"),
        headers,
        model: "m".into(),
        paced_model: "paced".into(),
        pid: child.id(),
        process: Running::Group(child),
    };
    answering(&target, startup).await.map(|()| target)
}

pub fn direct(upstream: &str, mock: &Child) -> Target {
    Target {
        peer: Peer::Direct,
        name: "direct to mock",
        url: format!("http://{upstream}/v1/chat/completions"),
        headers: bearer("x"),
        model: "m".into(),
        paced_model: "paced".into(),
        pid: mock.id(),
        process: Running::Nothing,
    }
}

pub async fn forwarder(upstream: &str, work: &Path) -> Result<Target, String> {
    let port = free_port();
    let child = spawn_pinned(
        bin("bench-forwarder").to_str().unwrap(),
        &[&format!("127.0.0.1:{port}"), upstream],
        &[],
        work,
    )?;
    local(
        Peer::Forwarder,
        "Rust forwarder (hyper)",
        port,
        bearer("x"),
        child,
        Duration::from_secs(20),
    )
    .await
}

pub async fn modelgate(upstream: &str, work: &Path) -> Result<Target, String> {
    let server = Server::start(&work.join("modelgate"), "warn").await;
    wait_ready(&format!("{}/healthz", server.base)).await;
    let created = reqwest::Client::new()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &serde_json::json!({"providerId": "mock", "name": "bench mock",
                                  "baseUrl": format!("http://{upstream}"),
                                  "models": [{"modelId": "m"}, {"modelId": "paced"}]}),
        )
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if created.status() != 201 {
        return Err(format!("registering the mock: {}", created.status()));
    }
    let target = Target {
        peer: Peer::Modelgate,
        name: "modelgate",
        url: format!("{}/v1/chat/completions", server.base),
        headers: bearer(TOKEN),
        model: "mock:m".into(),
        paced_model: "mock:paced".into(),
        pid: server.pid(),
        process: Running::Modelgate(server),
    };
    answering(&target, Duration::from_secs(20))
        .await
        .map(|()| target)
}

/// `peer`: a caller with `token` of a modelgate `server` started (and stopped) by whoever
/// made it, naming the mock provider's models; ready once a call with `token` answers.
pub async fn caller(
    peer: Peer,
    server: &Server,
    token: &str,
    limit: Duration,
) -> Result<Target, String> {
    let target = Target {
        peer,
        name: peer.label(),
        url: format!("{}/v1/chat/completions", server.base),
        headers: bearer(token),
        model: "mock:m".into(),
        paced_model: "mock:paced".into(),
        pid: server.pid(),
        process: Running::Nothing,
    };
    answering(&target, limit).await.map(|()| target)
}

fn installed(var: &str) -> Result<String, String> {
    std::env::var(var).map_err(|_| format!("not installed ({var} unset: run bench/peers/install)"))
}

pub async fn tensorzero(upstream: &str, work: &Path) -> Result<Target, String> {
    let python = installed("BENCH_TENSORZERO_PYTHON")?;
    let config = work.join("tensorzero.toml");
    let mut toml = String::from("[gateway]\nobservability.enabled = false\n");
    for m in ["m", "paced"] {
        toml.push_str(&format!(
            "\n[models.{m}]\nrouting = [\"local\"]\n\n[models.{m}.providers.local]\ntype = \"openai\"\n\
             model_name = \"{m}\"\napi_base = \"http://{upstream}/v1/\"\napi_key_location = \"env::MOCK_API_KEY\"\n"
        ));
    }
    std::fs::write(&config, toml).map_err(|e| e.to_string())?;
    let port_file = work.join("tensorzero.url");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/start_tensorzero.py");
    let child = spawn_pinned(
        &python,
        &[
            script.to_str().unwrap(),
            config.to_str().unwrap(),
            port_file.to_str().unwrap(),
        ],
        &[("MOCK_API_KEY", "x".into())],
        work,
    )?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let base = loop {
        if let Ok(url) = std::fs::read_to_string(&port_file)
            && url.ends_with('\n')
        {
            break url.trim().to_owned();
        }
        if Instant::now() > deadline {
            return Err("its gateway did not report a URL within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let target = Target {
        peer: Peer::TensorZero,
        name: "TensorZero 2026.6.0",
        url: format!("{base}/chat/completions"),
        headers: bearer("x"),
        model: "tensorzero::model_name::m".into(),
        paced_model: "tensorzero::model_name::paced".into(),
        pid: child.id(),
        process: Running::Group(child),
    };
    answering(&target, Duration::from_secs(30))
        .await
        .map(|()| target)
}

pub async fn noveum(upstream: &str, work: &Path) -> Result<Target, String> {
    let program = installed("BENCH_NOVEUM")?;
    let port = free_port();
    let origin = format!("http://{upstream}");
    let child = spawn_pinned(
        &program,
        &[],
        &[
            ("PORT", port.to_string()),
            ("HOST", "127.0.0.1".into()),
            ("OPENAI_BASE_URL", origin.clone()),
            ("ANTHROPIC_BASE_URL", origin),
            ("RUST_LOG", "warn".into()),
        ],
        work,
    )?;
    let mut headers = bearer("x");
    headers.push(("x-provider".into(), "openai".into()));
    local(
        Peer::Noveum,
        "Noveum 2.0.1",
        port,
        headers,
        child,
        Duration::from_secs(30),
    )
    .await
}

pub async fn portkey(upstream: &str, work: &Path) -> Result<Target, String> {
    let script = installed("BENCH_PORTKEY_JS")?;
    let port = free_port();
    let child = spawn_pinned("node", &[&script, &format!("--port={port}")], &[], work)?;
    let mut headers = bearer("x");
    headers.push(("x-portkey-provider".into(), "openai".into()));
    headers.push((
        "x-portkey-custom-host".into(),
        format!("http://{upstream}/v1"),
    ));
    local(
        Peer::Portkey,
        "Portkey 1.15.2",
        port,
        headers,
        child,
        Duration::from_secs(30),
    )
    .await
}

pub async fn litellm(upstream: &str, work: &Path) -> Result<Target, String> {
    let program = installed("BENCH_LITELLM")?;
    let port = free_port();
    let config = work.join("litellm.yaml");
    let mut yaml = String::from("model_list:\n");
    for m in ["m", "paced"] {
        yaml.push_str(&format!(
            "  - model_name: {m}\n    litellm_params:\n      model: openai/{m}\n      \
             api_base: http://{upstream}/v1\n      api_key: x\n"
        ));
    }
    std::fs::write(&config, yaml).map_err(|e| e.to_string())?;
    // LiteLLM refuses well-known master keys; this one is made for the run.
    let master = format!(
        "sk-bench-{:x}",
        std::process::id() as u64 * 0x9e37_79b9_7f4a_7c15
    );
    let child = spawn_pinned(
        &program,
        &[
            "--config",
            config.to_str().unwrap(),
            "--port",
            &port.to_string(),
            "--host",
            "127.0.0.1",
        ],
        &[
            ("LITELLM_MASTER_KEY", master.clone()),
            ("LITELLM_LOCAL_MODEL_COST_MAP", "True".into()),
            ("LITELLM_LOG", "ERROR".into()),
        ],
        work,
    )?;
    local(
        Peer::LiteLLM,
        "LiteLLM 1.108.7",
        port,
        bearer(&master),
        child,
        Duration::from_secs(90),
    )
    .await
}
