//! A fast mock LLM upstream for the data-plane benchmark: one worker, a fixed chat completion,
//! or (for a body that asks to stream) a fixed stream of six events sent at once. Never the
//! bottleneck: it parses nothing but a byte search.

use actix_web::{App, HttpResponse, HttpServer, web};

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1764000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}}"#;

const STREAM: &str = concat!(
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"!\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" Hi\"}}]}\n\n",
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    "data: [DONE]\n\n",
);

async fn answer(body: web::Bytes) -> HttpResponse {
    let streamed = body.windows(13).any(|w| w == b"\"stream\":true");
    match streamed {
        true => HttpResponse::Ok()
            .content_type("text/event-stream")
            .body(STREAM),
        false => HttpResponse::Ok()
            .content_type("application/json")
            .body(COMPLETION),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18095".into());
    HttpServer::new(|| App::new().default_service(web::to(answer)))
        .workers(1)
        .bind(bind)?
        .run()
        .await
}
