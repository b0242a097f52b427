//! The mock's tool turns: a request that offers tools is answered with a call of one of them
//! (the named one, else the first), its arguments taken from the tool's own JSON Schema (each
//! property's first `examples` value), so a test knows what to expect from the schema it sent; a
//! request that ends with the result of a call is answered with text naming the call's id and
//! the result — but only when the id is one this mock issued and the assistant turn before it
//! made that call, so an SDK or a translation that loses or rewrites the id fails the turn.

use serde_json::{Map, Value, json};

pub enum Reply {
    Text(String),
    Call(Call),
}

pub struct Call {
    pub id: String,
    pub name: String,
    pub arguments: Value,
    /// Words before the call, as Claude often says what it is about to do; OpenAI's models
    /// mostly call with no content, so the OpenAI side sends none.
    pub preamble: Option<&'static str>,
}

const PREAMBLE: &str = "Let me check.";

/// The text that answers a tool's result: the test compares it with the id and result it sent.
pub fn answer_text(id: &str, result: &str) -> String {
    format!("Tool call {id} answered: {result}")
}

/// The reply to an OpenAI chat request: `Err` is a 400's message.
pub fn openai(body: &Value, issued: &mut Vec<String>) -> Result<Reply, String> {
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if let Some(last) = messages.last().filter(|m| m["role"] == "tool") {
        let id = last["tool_call_id"]
            .as_str()
            .ok_or("the tool message has no tool_call_id")?;
        let called = messages
            .iter()
            .rev()
            .skip(1)
            .find(|m| m["role"] == "assistant");
        let made = called
            .and_then(|m| m["tool_calls"].as_array())
            .is_some_and(|calls| calls.iter().any(|c| c["id"] == id));
        check_id(id, made, issued)?;
        return Ok(Reply::Text(answer_text(id, &text_of(&last["content"]))));
    }
    let tools: Vec<(&str, &Value)> = match body["tools"].as_array() {
        Some(tools) => tools
            .iter()
            .filter_map(|t| {
                Some((
                    t["function"]["name"].as_str()?,
                    &t["function"]["parameters"],
                ))
            })
            .collect(),
        None => Vec::new(),
    };
    let named = match &body["tool_choice"] {
        Value::String(s) if s == "none" => return Ok(Reply::Text(super::REPLY.to_owned())),
        choice => choice["function"]["name"].as_str(),
    };
    call(&tools, named, "call_mock", None, issued)
}

/// The reply to an Anthropic messages request: `Err` is a 400's message.
pub fn anthropic(body: &Value, issued: &mut Vec<String>) -> Result<Reply, String> {
    let messages = body["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let result = messages
        .last()
        .filter(|m| m["role"] == "user")
        .and_then(|m| {
            m["content"]
                .as_array()?
                .iter()
                .find(|b| b["type"] == "tool_result")
        });
    if let Some(result) = result {
        let id = result["tool_use_id"]
            .as_str()
            .ok_or("the tool_result has no tool_use_id")?;
        let called = messages
            .iter()
            .rev()
            .skip(1)
            .find(|m| m["role"] == "assistant");
        let made = called
            .and_then(|m| m["content"].as_array())
            .is_some_and(|blocks| {
                blocks
                    .iter()
                    .any(|b| b["type"] == "tool_use" && b["id"] == id)
            });
        check_id(id, made, issued)?;
        return Ok(Reply::Text(answer_text(id, &text_of(&result["content"]))));
    }
    let tools: Vec<(&str, &Value)> = match body["tools"].as_array() {
        Some(tools) => tools
            .iter()
            .filter_map(|t| Some((t["name"].as_str()?, &t["input_schema"])))
            .collect(),
        None => Vec::new(),
    };
    let named = match body["tool_choice"]["type"].as_str() {
        Some("none") => return Ok(Reply::Text(super::REPLY.to_owned())),
        Some("tool") => body["tool_choice"]["name"].as_str(),
        _ => None,
    };
    call(&tools, named, "toolu_mock", Some(PREAMBLE), issued)
}

fn check_id(id: &str, made: bool, issued: &[String]) -> Result<(), String> {
    if !issued.iter().any(|i| i == id) {
        return Err(format!(
            "tool call id {id:?} was never issued by this provider"
        ));
    }
    if !made {
        return Err(format!(
            "no assistant turn before the result made the call {id:?}"
        ));
    }
    Ok(())
}

fn call(
    tools: &[(&str, &Value)],
    named: Option<&str>,
    prefix: &str,
    preamble: Option<&'static str>,
    issued: &mut Vec<String>,
) -> Result<Reply, String> {
    let Some(&(first, _)) = tools.first() else {
        return Ok(Reply::Text(super::REPLY.to_owned()));
    };
    let name = named.unwrap_or(first);
    let (_, schema) = tools
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("tool_choice names {name:?}, which is not among the tools"))?;
    let id = format!("{prefix}_{}", issued.len() + 1);
    issued.push(id.clone());
    Ok(Reply::Call(Call {
        id,
        name: name.to_owned(),
        arguments: arguments(schema),
        preamble,
    }))
}

/// Each property of the schema with its first example (its name when it has none).
fn arguments(schema: &Value) -> Value {
    let mut out = Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            let value = property["examples"][0].clone();
            out.insert(
                name.clone(),
                if value.is_null() { json!(name) } else { value },
            );
        }
    }
    Value::Object(out)
}

/// A tool result's words: a string, or the text of its blocks or parts.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// `text` cut into pieces of `n` characters, as a provider streams a call's arguments.
pub fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}
