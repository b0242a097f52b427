//! A mock upstream provider, in-process on loopback: it records every request it receives and
//! answers from a plan the test sets — JSON, a stream the test feeds chunk by chunk (and that
//! tells the test when its reader went away), or no answer at all.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// What the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

pub enum Reply {
    Json {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: Value,
    },
    /// Server-sent events: each chunk the test sends goes out at once; `gone` fires when
    /// whoever read the stream stopped reading (the connection closed).
    Stream {
        chunks: mpsc::UnboundedReceiver<Bytes>,
        gone: oneshot::Sender<()>,
    },
    /// No answer: the request is held until the caller gives up.
    Hang,
    /// Tells `arrived` that the request came, then answers 200 with the JSON `release`
    /// gives: a test holds requests until all it expects have arrived.
    Held {
        arrived: oneshot::Sender<()>,
        release: oneshot::Receiver<Value>,
    },
}

struct State {
    seen: Mutex<Vec<Seen>>,
    plan: Mutex<VecDeque<Reply>>,
}

pub struct Mock {
    pub base: String,
    state: Arc<State>,
    handle: actix_web::dev::ServerHandle,
}

/// A certificate for `localhost` and 127.0.0.1, signed by a CA made for one test.
pub struct Tls {
    pub ca_pem: String,
    server: rustls::ServerConfig,
}

impl Tls {
    pub fn new() -> Tls {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&key, &ca_cert, &ca_key)
            .unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        Tls {
            ca_pem: ca_cert.pem(),
            server,
        }
    }
}

impl Mock {
    pub async fn start() -> Mock {
        Mock::serve(None).await
    }

    /// The mock over HTTPS with `tls`'s certificate: `base` is `https://localhost:PORT`.
    pub async fn start_tls(tls: &Tls) -> Mock {
        Mock::serve(Some(tls.server.clone())).await
    }

    async fn serve(tls: Option<rustls::ServerConfig>) -> Mock {
        let state = Arc::new(State {
            seen: Mutex::new(Vec::new()),
            plan: Mutex::new(VecDeque::new()),
        });
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 << 20))
                .default_service(web::to(answer))
        })
        .workers(1);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let server = match tls {
            Some(config) => server.bind_rustls_0_23("127.0.0.1:0", config),
            None => server.bind("127.0.0.1:0"),
        }
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Mock {
            base: format!("{scheme}://{host}:{port}"),
            state,
            handle,
        }
    }

    pub fn then(&self, reply: Reply) {
        self.state.plan.lock().unwrap().push_back(reply);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.seen().pop().expect("the mock received a request")
    }

    /// A stream reply the test drives: send chunks with the sender, learn from the receiver
    /// when the reader went away.
    pub fn then_stream(&self) -> (mpsc::UnboundedSender<Bytes>, oneshot::Receiver<()>) {
        let (tx, chunks) = mpsc::unbounded_channel();
        let (gone, gone_rx) = oneshot::channel();
        self.then(Reply::Stream { chunks, gone });
        (tx, gone_rx)
    }

    /// A reply held until the test releases it (see [`Reply::Held`]).
    pub fn then_held(&self) -> (oneshot::Receiver<()>, oneshot::Sender<Value>) {
        let (arrived, arrived_rx) = oneshot::channel();
        let (release_tx, release) = oneshot::channel();
        self.then(Reply::Held { arrived, release });
        (arrived_rx, release_tx)
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Fires its sender when dropped: the stream it rides in was let go.
struct Gone(Option<oneshot::Sender<()>>);

impl Drop for Gone {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = body["model"].clone();
    state.seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        headers,
        body,
    });
    let reply = state.plan.lock().unwrap().pop_front();
    match reply {
        None => HttpResponse::Ok().json(json!({"id": "mock-1", "object": "chat.completion",
                                              "model": model, "choices": []})),
        Some(Reply::Json {
            status,
            headers,
            body,
        }) => {
            let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            for h in headers {
                r.insert_header(h);
            }
            r.json(body)
        }
        Some(Reply::Stream { chunks, gone }) => {
            let guard = Gone(Some(gone));
            let stream =
                futures_util::stream::unfold((chunks, guard), |(mut chunks, guard)| async move {
                    chunks
                        .recv()
                        .await
                        .map(|chunk| (Ok::<_, actix_web::Error>(chunk), (chunks, guard)))
                });
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .streaming(stream.boxed_local())
        }
        Some(Reply::Held { arrived, release }) => {
            let _ = arrived.send(());
            match release.await {
                Ok(body) => HttpResponse::Ok().json(body),
                Err(_) => HttpResponse::ServiceUnavailable().finish(),
            }
        }
        Some(Reply::Hang) => {
            futures_util::future::pending::<()>().await;
            unreachable!()
        }
    }
}

/// A CONNECT proxy on loopback: it records each tunnel's target and `Proxy-Authorization`,
/// then relays bytes both ways.
pub struct ConnectProxy {
    pub url: String,
    pub tunnels: Arc<Mutex<Vec<Tunnel>>>,
}

/// A tunnel's target (`host:port`) and the `Proxy-Authorization` it came with.
pub type Tunnel = (String, Option<String>);

impl ConnectProxy {
    pub async fn start() -> ConnectProxy {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&tunnels);
        actix_web::rt::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                actix_web::rt::spawn(async move {
                    let mut reader = BufReader::new(socket);
                    let mut line = String::new();
                    reader.read_line(&mut line).await.unwrap();
                    let target = line
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let mut auth = None;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).await.unwrap();
                        if header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("proxy-authorization")
                        {
                            auth = Some(value.trim().to_owned());
                        }
                    }
                    seen.lock().unwrap().push((target.clone(), auth));
                    let mut client = reader.into_inner();
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else {
                        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                        return;
                    };
                    client
                        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                        .await
                        .unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                });
            }
        });
        ConnectProxy { url, tunnels }
    }
}
