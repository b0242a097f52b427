//! llama.cpp's `llama-server` with the SmolLM2 model, on a loopback port of its own, serving
//! both formats and embeddings. Built and fetched by `tests/e2e/setup`; never downloads.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::setup;

/// The name the server answers to (`--alias`), as a provider's model id.
pub const ALIAS: &str = "smollm2";

pub struct LlamaServer {
    child: Child,
    pub base: String,
    log: tempfile::NamedTempFile,
}

impl LlamaServer {
    pub fn start() -> LlamaServer {
        let (server, model) = (
            setup("MODELGATE_LLAMA_SERVER"),
            setup("MODELGATE_LLAMA_MODEL"),
        );
        // llama-server cannot be told to pick a port and report it; borrow a free one.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(&server)
            .args([
                "-m",
                &model,
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
            ])
            // One thread: llama.cpp's threads spin while they wait, and two servers (the tests
            // run in parallel) with two threads each on two cores slow each other 30-fold.
            .args([
                "-c",
                "2048",
                "-t",
                "1",
                "--alias",
                ALIAS,
                "--embeddings",
                "--pooling",
                "mean",
            ])
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{server} does not start: {e}"));
        let mut started = LlamaServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        started.wait_healthy();
        started
    }

    fn wait_healthy(&mut self) {
        // A start-up bound, not a timing assertion: the model loads in well under a second.
        let deadline = Instant::now() + Duration::from_secs(120);
        let addr = self.base.trim_start_matches("http://").to_owned();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("llama-server exited ({status}):\n{}", self.log());
            }
            if healthy(&addr) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("llama-server was not healthy in 120 s:\n{}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

/// `GET /health` answers 200 once the model is loaded (503 while loading).
fn healthy(addr: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut answer = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.starts_with("HTTP/1.1 200")
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
