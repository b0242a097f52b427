//! A provider that speaks both wire formats the way a real one does, for the SDKs to meet
//! through modelgate: chat completions (streamed or not, a stream ending with a chunk of only
//! `usage` and `choices: []`, as OpenAI's does when asked and vLLM's may unasked),
//! embeddings, Anthropic messages (streamed or not), all with usage counted from the words sent;
//! offered tools, it calls one (`tools`), its streamed arguments cut across events, and it
//! answers the call's result. It records what reached it and what it answered, so a test can
//! see which credential and body modelgate sent and which counts the usage events must hold.
//! The model `rate-limited` answers 429 with `retry-after`, as an upstream out of quota does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

mod tools;

pub use tools::answer_text;
use tools::{Call, Reply};

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Lower-case names; repeated headers joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The request body (`Null` when it was not JSON).
    pub body: Value,
    /// What the mock answered, for a call it answered with a reply.
    pub answered: Option<Answered>,
}

/// A reply's usage counts and stop reason, as the mock sent them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Answered {
    pub input: u64,
    pub output: u64,
    pub stop: &'static str,
    pub streamed: bool,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// The tool call ids handed out, which a later turn's result must echo.
    issued: Vec<String>,
}

pub struct Mock {
    pub base: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Mock {
    pub async fn start() -> Mock {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::from(Arc::clone(&state));
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
            state,
            handle,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// A word a token of every string value (keys, `role` and `type` not counted); a call's JSON
/// `arguments` are read as the values they hold, so a call costs the same in either format.
fn value_words(v: &Value) -> u64 {
    match v {
        Value::String(s) => words(s),
        Value::Array(items) => items.iter().map(value_words).sum(),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| *k != "role" && *k != "type")
            .map(|(k, v)| match (k.as_str(), v) {
                ("arguments", Value::String(s)) => serde_json::from_str(s)
                    .map(|parsed| value_words(&parsed))
                    .unwrap_or_else(|_| words(s)),
                _ => value_words(v),
            })
            .sum(),
        _ => 0,
    }
}

/// Every string in the request's messages, as a provider would tokenize them (the tools'
/// definitions are not counted).
fn prompt_words(body: &Value) -> u64 {
    value_words(&body["messages"]) + value_words(&body["system"])
}

/// A call's output: its words before the call, its name, and its arguments' values.
fn call_words(call: &Call) -> u64 {
    call.preamble.map_or(0, words) + 1 + value_words(&call.arguments)
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

/// `text` as a stream sends it, a word (with the space before it) a delta.
fn deltas(text: &str) -> Vec<String> {
    text.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect()
}

/// The arguments of a streamed call, cut in pieces of this many characters.
const PIECE: usize = 4;

fn chat(body: &Value, reply: &Reply) -> (HttpResponse, Answered) {
    let model = body["model"].clone();
    let streamed = body["stream"] == true;
    let (prompt, completion, stop) = match reply {
        Reply::Text(text) => (prompt_words(body), words(text), "stop"),
        Reply::Call(call) => (prompt_words(body), call_words(call), "tool_calls"),
    };
    let answered = Answered {
        input: prompt,
        output: completion,
        stop,
        streamed,
    };
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if !streamed {
        let message = match reply {
            Reply::Text(text) => json!({"role": "assistant", "content": text}),
            Reply::Call(call) => json!({"role": "assistant", "content": call.preamble,
                "tool_calls": [{"id": call.id, "type": "function", "function": {
                    "name": call.name, "arguments": call.arguments.to_string()}}]}),
        };
        let response = HttpResponse::Ok().json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1764000000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": stop}],
            "usage": usage}));
        return (response, answered);
    }
    let chunk = |choices: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1764000000,
               "model": model, "choices": choices})
        .to_string()
    };
    let delta = |delta: Value| (None, chunk(json!([{"index": 0, "delta": delta}])));
    let mut events = vec![delta(json!({"role": "assistant", "content": ""}))];
    let text = match reply {
        Reply::Text(text) => Some(text.as_str()),
        Reply::Call(call) => call.preamble,
    };
    for text in text.map(deltas).unwrap_or_default() {
        events.push(delta(json!({"content": text})));
    }
    if let Reply::Call(call) = reply {
        events.push(delta(
            json!({"tool_calls": [{"index": 0, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}}]}),
        ));
        for piece in tools::pieces(&call.arguments.to_string(), PIECE) {
            events.push(delta(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
            ));
        }
    }
    events.push((
        None,
        chunk(json!([{"index": 0, "delta": {}, "finish_reason": stop}])),
    ));
    // Sent unasked too: a client must take a chunk without choices in its stride.
    let mut last: Value = serde_json::from_str(&chunk(json!([]))).unwrap();
    last["usage"] = usage;
    events.push((None, last.to_string()));
    events.push((None, "[DONE]".to_owned()));
    (sse(events), answered)
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

fn messages(body: &Value, reply: &Reply) -> (HttpResponse, Answered) {
    let model = body["model"].clone();
    let streamed = body["stream"] == true;
    let (input, output, stop) = match reply {
        Reply::Text(text) => (prompt_words(body), words(text), "end_turn"),
        Reply::Call(call) => (prompt_words(body), call_words(call), "tool_use"),
    };
    let answered = Answered {
        input,
        output,
        stop,
        streamed,
    };
    let (text, call) = match reply {
        Reply::Text(text) => (Some(text.as_str()), None),
        Reply::Call(call) => (call.preamble, Some(call)),
    };
    if !streamed {
        let mut content: Vec<Value> = text
            .map(|text| json!({"type": "text", "text": text}))
            .into_iter()
            .collect();
        if let Some(call) = call {
            content.push(json!({"type": "tool_use", "id": call.id, "name": call.name,
                "input": call.arguments}));
        }
        let response = HttpResponse::Ok().json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": output}}));
        return (response, answered);
    }
    let event = |name: &'static str, data: Value| (Some(name), data.to_string());
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_mock", "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": input, "output_tokens": 1}}}),
    )];
    let mut index = 0;
    if let Some(text) = text {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index,
                   "content_block": {"type": "text", "text": ""}}),
        ));
        for text in deltas(text) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "text_delta", "text": text}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    if let Some(call) = call {
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block":
                {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}),
        ));
        for piece in tools::pieces(&call.arguments.to_string(), PIECE) {
            events.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": piece}}),
            ));
        }
        events.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.extend([
        event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                   "usage": {"output_tokens": output}}),
        ),
        event("message_stop", json!({"type": "message_stop"})),
    ]);
    (sse(events), answered)
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Mutex<State>>,
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
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    let (response, answered) = route(&path, &body, &mut state.issued);
    state.seen.push(Seen {
        path,
        headers,
        body,
        answered,
    });
    response
}

fn route(path: &str, body: &Value, issued: &mut Vec<String>) -> (HttpResponse, Option<Answered>) {
    if body["model"] == "rate-limited" {
        let response = HttpResponse::TooManyRequests()
            .insert_header(("retry-after", "7"))
            .json(json!({"error": {"message": "quota exceeded", "type": "rate_limit_error"}}));
        return (response, None);
    }
    let refused = |message: String| {
        let response = HttpResponse::BadRequest()
            .json(json!({"type": "error", "error": {"message": message, "type": "invalid_request_error"}}));
        (response, None)
    };
    match path.rsplit('/').next() {
        Some("completions") if path.ends_with("/chat/completions") => {
            match tools::openai(body, issued) {
                Ok(reply) => {
                    let (response, answered) = chat(body, &reply);
                    (response, Some(answered))
                }
                Err(message) => refused(message),
            }
        }
        Some("embeddings") => (embeddings(body), None),
        Some("messages") => match tools::anthropic(body, issued) {
            Ok(reply) => {
                let (response, answered) = messages(body, &reply);
                (response, Some(answered))
            }
            Err(message) => refused(message),
        },
        _ => {
            let response = HttpResponse::NotFound()
                .json(json!({"error": {"message": format!("no route {path}")}}));
            (response, None)
        }
    }
}
