//! The ceiling a gateway is measured against: the least a proxy can do. Every request goes to
//! one upstream as it came (method, path, headers, body streamed), and the answer comes back
//! streamed as it arrives; nothing is parsed, nothing is checked. `TCP_NODELAY` on both sides,
//! connections to the upstream kept alive and pooled.
//!   bench-forwarder LISTEN_ADDR UPSTREAM_ADDR

use std::convert::Infallible;

use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, hyper::Error>;

async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: &'static str,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let uri: Uri = format!("http://{upstream}{path}").parse().unwrap();
    *req.uri_mut() = uri;
    Ok(match client.request(req).await {
        Ok(res) => res.map(BodyExt::boxed),
        Err(_) => {
            let mut res = Response::new(
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed(),
            );
            *res.status_mut() = StatusCode::BAD_GATEWAY;
            res
        }
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:18096".into());
    let upstream: &'static str = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:18095".into())
        .leak();
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    let listener = TcpListener::bind(&listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let client = client.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| forward(client.clone(), upstream, req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
