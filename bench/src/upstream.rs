//! A fast mock LLM upstream for the data-plane benchmark: one worker, a fixed chat completion,
//! or (for a body that asks to stream) a fixed stream of six events, sent at once — or, for the
//! model `paced`, 6 ms apart, as a model emits tokens, so a gateway that holds or batches small
//! writes shows it in the time to the first content byte. The model `flaky` fails one call in
//! five with a 500 (the soak's failing upstream). A path ending in `/messages` is answered in
//! Anthropic's format (a fixed message, or a stream with as many text deltas as the chat
//! stream's), and the model `long` streams [`LONG`] content events in either format (the
//! translation benchmark's per-event cost). Never the bottleneck: it parses nothing but byte
//! searches. `TCP_NODELAY` is set on every connection it accepts (actix-web
//! leaves Nagle on: the paced stream's events waited ~40 ms for the client's delayed ACK).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
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

const MESSAGE: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"output_tokens":9}}"#;

const MESSAGE_START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
const MESSAGE_END: &str = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/// Content events in a `long` stream.
const LONG: usize = 200;

/// An Anthropic text delta carrying `text`.
fn text_delta(text: &str) -> String {
    format!(
        "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n"
    )
}

/// An OpenAI chunk carrying `text`.
fn content_chunk(text: &str) -> String {
    format!(
        "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
    )
}

/// A stream of `n` text events (`n` ≥ 3 starts with the short stream's three), whole.
fn stream_of(anthropic: bool, n: usize) -> String {
    let words = ["Hello", "!", " Hi"];
    let text = |i: usize| words.get(i).copied().unwrap_or(" word");
    if anthropic {
        let deltas: String = (0..n).map(|i| text_delta(text(i))).collect();
        return format!("{MESSAGE_START}{deltas}{MESSAGE_END}");
    }
    let chunks: String = (0..n).map(|i| content_chunk(text(i))).collect();
    format!(
        "{}{chunks}{}{}",
        EVENTS[0],
        EVENTS[4],
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9,\"total_tokens\":18}}\n\ndata: [DONE]\n\n"
    )
}

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

async fn answer(req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if has(&body, b"\"model\"", b"\"flaky\"") {
        let n = CALLS.fetch_add(1, Ordering::Relaxed);
        if (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32).is_multiple_of(5) {
            return HttpResponse::InternalServerError()
                .content_type("application/json")
                .body(r#"{"error":{"message":"flaky on purpose","type":"server_error"}}"#);
        }
    }
    let anthropic = req.path().ends_with("/messages");
    if !has(&body, b"\"stream\"", b"true") {
        return HttpResponse::Ok()
            .content_type("application/json")
            .body(if anthropic { MESSAGE } else { COMPLETION });
    }
    let mut sse = HttpResponse::Ok();
    sse.content_type("text/event-stream");
    if anthropic || has(&body, b"\"model\"", b"\"long\"") {
        let n = match has(&body, b"\"model\"", b"\"long\"") {
            true => LONG,
            false => 3,
        };
        return sse.body(stream_of(anthropic, n));
    }
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
