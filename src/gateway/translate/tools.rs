//! Tools both ways: OpenAI's `function` tools and Anthropic's custom tools (their JSON Schema
//! as it is), and `tool_choice` (auto, any/required, a named tool, none).

use serde_json::{Value, json};

use super::common::Notes;

/// OpenAI's tools as Anthropic's: a tool that is not a function, or a strict one, is noted.
pub(super) fn to_anthropic(value: &Value, notes: &mut Notes) -> Value {
    let Some(list) = value.as_array() else {
        notes.wrong("tools", "must be an array");
        return Value::Null;
    };
    let mut out = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            notes.refuse("tools[].type");
            continue;
        }
        let function = &tool["function"];
        let Some(name) = function.get("name").and_then(Value::as_str) else {
            notes.wrong(format!("tools[{i}].function.name"), "must be a string");
            continue;
        };
        if function.get("strict") == Some(&Value::Bool(true)) {
            notes.refuse("tools[].function.strict");
        }
        let schema = match function.get("parameters") {
            None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
            Some(schema) => schema.clone(),
        };
        let mut one = json!({"name": name, "input_schema": schema});
        if let Some(description) = function.get("description").filter(|d| d.is_string()) {
            one["description"] = description.clone();
        }
        out.push(one);
    }
    Value::Array(out)
}

/// OpenAI's `tool_choice` as Anthropic's.
pub(super) fn choice_to_anthropic(value: &Value, notes: &mut Notes) -> Value {
    match value {
        Value::String(s) if s == "auto" => json!({"type": "auto"}),
        Value::String(s) if s == "required" => json!({"type": "any"}),
        Value::String(s) if s == "none" => json!({"type": "none"}),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            match o["function"].get("name").and_then(Value::as_str) {
                Some(name) => json!({"type": "tool", "name": name}),
                None => {
                    notes.wrong("tool_choice.function.name", "must be a string");
                    Value::Null
                }
            }
        }
        _ => {
            notes.refuse("tool_choice");
            Value::Null
        }
    }
}

/// Anthropic's tools as OpenAI's functions: Anthropic's own tools (web search, bash, …) are
/// noted.
pub(super) fn to_openai(value: &Value, notes: &mut Notes) -> Value {
    let Some(list) = value.as_array() else {
        notes.wrong("tools", "must be an array");
        return Value::Null;
    };
    let mut out = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        // Anthropic's own tools (web search, bash, …) carry a versioned `type`.
        if !matches!(
            tool.get("type").and_then(Value::as_str),
            None | Some("custom")
        ) {
            notes.refuse("tools[].type");
            continue;
        }
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            notes.wrong(format!("tools[{i}].name"), "must be a string");
            continue;
        };
        let schema = tool
            .get("input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"}));
        let mut function = json!({"name": name, "parameters": schema});
        if let Some(description) = tool.get("description").filter(|d| d.is_string()) {
            function["description"] = description.clone();
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Value::Array(out)
}

/// Anthropic's `tool_choice` as OpenAI's.
pub(super) fn choice_to_openai(value: &Value, notes: &mut Notes) -> Option<Value> {
    match value.get("type").and_then(Value::as_str) {
        Some("auto") => Some(json!("auto")),
        Some("any") => Some(json!("required")),
        Some("none") => Some(json!("none")),
        Some("tool") => match value.get("name").and_then(Value::as_str) {
            Some(name) => Some(json!({"type": "function", "function": {"name": name}})),
            None => {
                notes.wrong("tool_choice.name", "must be a string");
                None
            }
        },
        _ => {
            notes.wrong("tool_choice.type", "must be auto, any, tool or none");
            None
        }
    }
}
