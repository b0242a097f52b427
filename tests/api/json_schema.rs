//! A check of JSON values against the data plane's schemas in `/openapi.json`: JSON Schema
//! 2020-12 for the keywords those schemas use, and a refusal of any other, so that a schema
//! the check cannot read fails instead of passing unread. (The management API's answers are
//! checked against ngrok's shapes, `schema.rs`; a provider's `proxy` against its schema here.)

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};

/// `#/components/...` of the document.
pub fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let pointer = r.strip_prefix('#').expect("a local reference");
        node = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{r} names nothing"));
    }
    node
}

/// The keywords the checker below reads. A schema with any other fails the check rather than
/// pass with that keyword unread.
const KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "const",
    "minimum",
    "maximum",
    "maxItems",
    "items",
    "required",
    "properties",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "if",
    "then",
    "writeOnly",
    "description",
    "format",
];

/// Whether `value` is valid against `schema`: JSON Schema 2020-12 for the keywords the data
/// plane's schemas use. `strict` is for what modelgate writes itself, its answers: it also holds
/// open objects to the fields they list, and refuses a `writeOnly` field (OpenAPI: an answer
/// does not carry one).
pub fn problems(doc: &Value, schema: &Value, value: &Value, strict: bool, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let rules = schema.as_object().expect("a schema is an object");
    if let Some(unknown) = rules.keys().find(|k| !KEYWORDS.contains(&k.as_str())) {
        panic!("{at}: the checker does not read `{unknown}`: {schema}");
    }
    let mut found = Vec::new();
    let mut fail = |what: String| found.push(format!("{at}: {what}"));
    if let Some(types) = rules.get("type") {
        let names: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect(),
        };
        let fits = names.iter().any(|ty| match *ty {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            other => panic!("unknown type {other}"),
        });
        if !fits {
            fail(format!("{value} is not {names:?}"));
        }
    }
    if let Some(allowed) = rules.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        fail(format!("{value} is not one of {allowed:?}"));
    }
    if let (Some(min), Some(s)) = (
        rules.get("minLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (s.chars().count() as u64) < min
    {
        fail(format!("{s:?} is shorter than {min}"));
    }
    if let (Some(max), Some(s)) = (
        rules.get("maxLength").and_then(Value::as_u64),
        value.as_str(),
    ) && (s.chars().count() as u64) > max
    {
        fail(format!("{s:?} is longer than {max}"));
    }
    if let (Some(pattern), Some(s)) = (rules.get("pattern").and_then(Value::as_str), value.as_str())
        && !matches(pattern, s)
    {
        fail(format!("{s:?} does not match {pattern:?}"));
    }
    if let Some(constant) = rules.get("const")
        && constant != value
    {
        fail(format!("{value} is not {constant}"));
    }
    if let (Some(min), Some(n)) = (rules.get("minimum").and_then(Value::as_f64), value.as_f64())
        && n < min
    {
        fail(format!("{n} is below {min}"));
    }
    if let (Some(max), Some(n)) = (rules.get("maximum").and_then(Value::as_f64), value.as_f64())
        && n > max
    {
        fail(format!("{n} is above {max}"));
    }
    if rules.get("format") == Some(&json!("date-time"))
        && let Some(s) = value.as_str()
        && humantime::parse_rfc3339(s).is_err()
    {
        fail(format!("{s:?} is not a date-time"));
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = rules.get("maxItems").and_then(Value::as_u64)
            && items.len() as u64 > max
        {
            fail(format!("more than {max} items"));
        }
        if let Some(item) = rules.get("items") {
            for (i, v) in items.iter().enumerate() {
                found.extend(problems(doc, item, v, strict, &format!("{at}[{i}]")));
            }
        }
    }
    if let Some(fields) = value.as_object() {
        let properties = rules.get("properties").and_then(Value::as_object);
        for name in rules
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !fields.contains_key(name.as_str().unwrap()) {
                found.push(format!("{at}: required {name} missing"));
            }
        }
        let closed = rules.get("additionalProperties") == Some(&json!(false))
            || (strict && properties.is_some());
        for (name, v) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) if strict && resolve(doc, sub).get("writeOnly") == Some(&json!(true)) => {
                    found.push(format!(
                        "{at}: `{name}` is writeOnly, and this is an answer"
                    ))
                }
                Some(sub) => found.extend(problems(doc, sub, v, strict, &format!("{at}.{name}"))),
                None if closed => found.push(format!("{at}: `{name}` is not documented")),
                None => {}
            }
        }
    }
    let matching = |key: &str| {
        rules.get(key).and_then(Value::as_array).map(|options| {
            let fits = options
                .iter()
                .filter(|o| problems(doc, o, value, strict, at).is_empty())
                .count();
            (fits, options.len())
        })
    };
    if let Some((0, _)) = matching("anyOf") {
        found.push(format!("{at}: matches none of anyOf"));
    }
    if let Some((fits, _)) = matching("oneOf")
        && fits != 1
    {
        found.push(format!("{at}: matches {fits} of oneOf, not one"));
        if fits == 0 {
            // Why not, alternative by alternative.
            let options = rules["oneOf"].as_array().unwrap();
            for (i, o) in options.iter().enumerate() {
                let at = format!("{at} (oneOf[{i}])");
                found.extend(problems(doc, o, value, strict, &at));
            }
        }
    }
    // `if` is a test, not a shape: an open one, as JSON Schema reads it.
    if let Some(test) = rules.get("if")
        && problems(doc, test, value, false, at).is_empty()
        && let Some(then) = rules.get("then")
    {
        found.extend(problems(doc, then, value, false, at));
    }
    found
}

/// ECMA-262 in the document; the patterns modelgate writes read the same in fancy-regex. Each
/// is compiled once (the URL patterns take a while).
fn matches(pattern: &str, s: &str) -> bool {
    static COMPILED: LazyLock<Mutex<HashMap<String, Arc<fancy_regex::Regex>>>> =
        LazyLock::new(Mutex::default);
    let re = COMPILED
        .lock()
        .unwrap()
        .entry(pattern.to_owned())
        .or_insert_with(|| {
            Arc::new(fancy_regex::Regex::new(pattern).expect("the pattern compiles"))
        })
        .clone();
    re.is_match(s).expect("the pattern runs")
}

pub fn assert_conforms(doc: &Value, schema: &Value, value: &Value, strict: bool) {
    let found = problems(doc, schema, value, strict, "$");
    assert!(found.is_empty(), "{found:#?}\n{value}\nagainst {schema}");
}
