//! JSON bodies read into request types with every problem found at once: a key repeated in
//! one object, a value of the wrong type, a field the resource does not know — each keyed by
//! its path (`models[3].modelId`), so that one answer lists all the client must fix, together
//! with the rule violations the domain finds next.
//!
//! The body is read into a JSON tree first. A value of the wrong type is reported and taken out
//! of the tree, and the typed read runs again, until it succeeds; the domain then leaves the
//! paths already reported alone (`Violations::add_unreadable`).

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use zeroize::Zeroize;

use super::error::ApiError;
use crate::domain::wire::MapOnly;
use crate::domain::{Input, MAX_REPORTED, Violations};

/// Reads `bytes` as `T`. Only a body that is not JSON at all, or not the JSON object a
/// request type is, is an error here; everything else is in [`Input::violations`].
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Input<T>, ApiError> {
    let repeated = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut tree = Tree {
        path: String::new(),
        repeated: &repeated,
    }
    .deserialize(&mut de)
    .map_err(|e| invalid_json(&e))?;
    de.end().map_err(|e| invalid_json(&e))?;
    let mut violations = Violations::default();
    for path in repeated.into_inner() {
        violations.add_unreadable(
            path,
            "is given more than once in its object; send each field once",
        );
    }
    let result = typed(&mut tree, &mut violations);
    // The tree may hold a provider key's value: wipe its text before it is dropped.
    wipe(&mut tree);
    result.map(|value| Input { value, violations })
}

/// The typed read, again after each value of the wrong type is taken out.
fn typed<T: DeserializeOwned>(tree: &mut Value, v: &mut Violations) -> Result<T, ApiError> {
    let mut last_failed: Option<String> = None;
    for _ in 0..=MAX_REPORTED {
        let mut unknown = Vec::new();
        let result: Result<T, _> = {
            let mut note = |path: serde_ignored::Path<'_>| unknown.push(render_ignored(&path));
            let tracked = serde_ignored::Deserializer::new(&*tree, &mut note);
            serde_path_to_error::deserialize(MapOnly(tracked))
        };
        match result {
            Ok(value) => {
                for path in unknown {
                    v.add_unknown(path);
                }
                return Ok(value);
            }
            Err(e) => {
                let path = e.path().to_string();
                let expectation = expectation(e.inner());
                if path == "." {
                    return Err(ApiError::validation(
                        "body",
                        format!("request body {expectation}"),
                    ));
                }
                // The same path twice: what stood in for the value is not accepted either.
                let again = last_failed.as_deref() == Some(path.as_str());
                v.add_unreadable(path.as_str(), expectation);
                if again || !take_out(tree, &path) {
                    return Err(ApiError::Validation(std::mem::take(v)));
                }
                last_failed = Some(path);
            }
        }
    }
    Err(ApiError::Validation(std::mem::take(v)))
}

/// Takes the value at `path` out of the tree: a field is removed; an array item is replaced by
/// an empty object (items are objects in every request type), so later indexes stay right.
fn take_out(tree: &mut Value, path: &str) -> bool {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, indexes) = part
            .split_once('[')
            .map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            segments.push(Err(key.to_owned()));
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            match index.trim_end_matches(']').parse::<usize>() {
                Ok(i) => segments.push(Ok(i)),
                Err(_) => return false,
            }
        }
    }
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut at = tree;
    for segment in parents {
        let next = match (segment, at) {
            (Err(key), Value::Object(map)) => map.get_mut(key),
            (Ok(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => at = next,
            None => return false,
        }
    }
    match (last, at) {
        (Err(key), Value::Object(map)) => map.remove(key).is_some(),
        (Ok(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(item) if *item != Value::Object(Map::new()) => {
                *item = Value::Object(Map::new());
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}

/// Reads any JSON into a tree, noting each key that repeats within one object.
struct Tree<'a> {
    path: String,
    repeated: &'a RefCell<Vec<String>>,
}

impl Tree<'_> {
    fn below(&self, step: &str) -> Self {
        let path = match (self.path.is_empty(), step.starts_with('[')) {
            (true, _) | (false, true) => format!("{}{step}", self.path),
            (false, false) => format!("{}.{step}", self.path),
        };
        Tree {
            path,
            repeated: self.repeated,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.below(&format!("[{}]", items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.below(&key))?;
            if object.insert(key.clone(), value).is_some() {
                self.repeated.borrow_mut().push(self.below(&key).path);
            }
        }
        Ok(Value::Object(object))
    }
}

fn invalid_json(e: &serde_json::Error) -> ApiError {
    let text = e.to_string();
    ApiError::InvalidJson {
        // No request type nests deeper than a few levels; past 128 the reader stops.
        reason: match text.starts_with("recursion limit exceeded") {
            true => "arrays and objects are nested more than 128 levels deep".to_owned(),
            false => text,
        },
        line: Some(e.line()),
        column: Some(e.column()),
    }
}

/// serde's messages quote the offending value (``invalid type: string "abc", expected …``);
/// only the expectation is kept, so no submitted value, secret or not, is echoed back.
fn expectation(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    text.split_once(", expected ").map_or_else(
        || text.to_owned(),
        // serde names the Rust type it wanted (`struct UpdateProvider`); the client knows it
        // as an object.
        |(_, expected)| match expected.starts_with("struct ") {
            true => "must be a JSON object".to_owned(),
            false => format!("must be {expected}"),
        },
    )
}

fn render_ignored(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", render_ignored(parent)),
        Path::Map { parent, key } => match render_ignored(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => render_ignored(parent),
    }
}
