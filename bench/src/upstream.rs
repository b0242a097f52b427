//! A fast mock LLM upstream for the data-plane benchmark: one worker, a fixed chat completion,
//! or (for a body that asks to stream) a fixed stream of six events, sent at once — or, for the
//! model `paced`, 6 ms apart, as a model emits tokens, so a gateway that holds or batches small
//! writes shows it in the time to the first content byte. The model `flaky` fails one call in
//! five with a 500 (the soak's failing upstream). Never the bottleneck: it parses
//! nothing but byte searches. `TCP_NODELAY` is set on every connection it accepts (actix-web
//! leaves Nagle on: the paced stream's events waited ~40 ms for the client's delayed ACK).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::stream;

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1764000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}"#;

const EVENTS: [&str; 6] = [
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" Hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
];

/// Whether `body` has `"key"` followed by `:` and `value`, white space allowed around the colon
/// (gateways written in Python re-serialize bodies with spaces).
fn has(body: &[u8], key: &[u8], value: &[u8]) -> bool {
    body.windows(key.len()).enumerate().any(|(at, w)| {
        if w != key {
            return false;
        }
        let rest = &body[at + key.len()..];
        let rest = rest.trim_ascii_start();
        rest.strip_prefix(b":")
            .is_some_and(|r| r.trim_ascii_start().starts_with(value))
    })
}

/// Every call so far, for the `flaky` model's failures: spread evenly by a multiplicative hash,
/// one in five, so a soak sees 20% failures at no cost of a random number generator.
static CALLS: AtomicU64 = AtomicU64::new(0);

async fn answer(body: web::Bytes) -> HttpResponse {
    if has(&body, b"\"model\"", b"\"flaky\"") {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        if (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32).is_multiple_of(5) {
            return HttpResponse::InternalServerError()
                .content_type("application/json")
                .body(r#"{"error":{"message":"flaky on purpose","type":"server_error"}}"#);
        }
    }
    if !has(&body, b"\"stream\"", b"true") {
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(COMPLETION);
    }
    let mut sse = HttpResponse::Ok();
    sse.content_type("text/event-stream");
    if !has(&body, b"\"model\"", b"\"paced\"") {
        return sse.body(EVENTS.concat());
    }
    let paced = stream::unfold(0, |i| async move {
        if i == EVENTS.len() {
            return None;
        }
        if i > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(6)).await;
        }
        Some((
            Ok::<_, actix_web::Error>(web::Bytes::from_static(EVENTS[i].as_bytes())),
            i + 1,
        ))
    });
    sse.streaming(paced)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18095".into());
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .workers(1)
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .bind(bind)?
        .run()
        .await
}
