//! A provider that speaks both wire formats the way a real one does, for the SDKs to meet
//! through modelgate: chat completions (streamed or not, a stream ending with a chunk of only
//! `usage` and `choices: []`, as OpenAI's does when asked and vLLM's may unasked),
//! embeddings, Anthropic messages (streamed or not), all with usage counted from the words sent.
//! It records what reached it, so a test can see which credential modelgate sent. The model
//! `rate-limited` answers 429 with `retry-after`, as an upstream out of quota does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
}

pub struct Mock {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: actix_web::dev::ServerHandle,
}

impl Mock {
    pub async fn start() -> Mock {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::from(Arc::clone(&seen));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Mock {
            base: format!("http://127.0.0.1:{port}"),
            seen,
            handle,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Every string in the request's messages, as a provider would tokenize them.
fn prompt_words(body: &Value) -> u64 {
    fn walk(v: &Value) -> u64 {
        match v {
            Value::String(s) => words(s),
            Value::Array(items) => items.iter().map(walk).sum(),
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| *k != "role" && *k != "type")
                .map(|(_, v)| walk(v))
                .sum(),
            _ => 0,
        }
    }
    walk(&body["messages"]) + walk(&body["system"])
}

fn sse(events: impl IntoIterator<Item = (Option<&'static str>, String)>) -> HttpResponse {
    let mut out = String::new();
    for (event, data) in events {
        if let Some(event) = event {
            out.push_str(&format!("event: {event}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .body(out)
}

pub const REPLY: &str = "Hello from the mock provider";

fn chat(body: &Value) -> HttpResponse {
    let model = body["model"].clone();
    let (prompt, completion) = (prompt_words(body), words(REPLY));
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if body["stream"] != true {
        return HttpResponse::Ok().json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1764000000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
            "usage": usage}));
    }
    let chunk = |choices: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1764000000,
               "model": model, "choices": choices})
        .to_string()
    };
    let mut events = vec![(
        None,
        chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}}])),
    )];
    for (i, word) in REPLY.split(' ').enumerate() {
        let text = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push((
            None,
            chunk(json!([{"index": 0, "delta": {"content": text}}])),
        ));
    }
    events.push((
        None,
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])),
    ));
    // Sent unasked too: a client must take a chunk without choices in its stride.
    let mut last: Value = serde_json::from_str(&chunk(json!([]))).unwrap();
    last["usage"] = usage;
    events.push((None, last.to_string()));
    events.push((None, "[DONE]".to_owned()));
    sse(events)
}

fn embeddings(body: &Value) -> HttpResponse {
    let inputs: Vec<String> =
        match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().map(|v| v.to_string()).collect(),
            _ => return HttpResponse::BadRequest().json(
                json!({"error": {"message": "input is required", "type": "invalid_request_error"}}),
            ),
        };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let n = text.len() as f64;
            json!({"object": "embedding", "index": i, "embedding": [n / 100.0, 0.5, -0.25, 1.0]})
        })
        .collect();
    let prompt: u64 = inputs.iter().map(|s| words(s)).sum();
    HttpResponse::Ok().json(
        json!({"object": "list", "model": body["model"], "data": data,
                                   "usage": {"prompt_tokens": prompt, "total_tokens": prompt}}),
    )
}

fn messages(body: &Value) -> HttpResponse {
    let model = body["model"].clone();
    let (input, output) = (prompt_words(body), words(REPLY));
    if body["stream"] != true {
        return HttpResponse::Ok().json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": REPLY}], "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": output}}));
    }
    let mut events = vec![
        (
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
                "role": "assistant", "model": model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}})
            .to_string(),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
                .to_string(),
        ),
    ];
    for (i, word) in REPLY.split(' ').enumerate() {
        let text = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push((
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}})
                .to_string(),
        ));
    }
    events.extend([
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}).to_string(),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                   "usage": {"output_tokens": output}})
            .to_string(),
        ),
        (
            Some("message_stop"),
            json!({"type": "message_stop"}).to_string(),
        ),
    ]);
    sse(events)
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    seen: web::Data<Mutex<Vec<Seen>>>,
) -> HttpResponse {
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
    let path = req.path().to_owned();
    seen.lock().unwrap().push(Seen {
        path: path.clone(),
        headers,
    });
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if body["model"] == "rate-limited" {
        return HttpResponse::TooManyRequests()
            .insert_header(("retry-after", "7"))
            .json(json!({"error": {"message": "quota exceeded", "type": "rate_limit_error"}}));
    }
    match path.rsplit('/').next() {
        Some("completions") if path.ends_with("/chat/completions") => chat(&body),
        Some("embeddings") => embeddings(&body),
        Some("messages") => messages(&body),
        _ => {
            HttpResponse::NotFound().json(json!({"error": {"message": format!("no route {path}")}}))
        }
    }
}
