//! Checks response bodies against the shapes modelgate promises to match: ngrok's provider,
//! provider-key, list and error objects, kept in the repository as `fixtures/ngrok-shapes.json`
//! (its `about` explains the notation). When `MODELGATE_NGROK_SPEC` names ngrok's published
//! OpenAPI document, one more test checks that the fixture says what that document says.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

const FIXTURE: &str = include_str!("fixtures/ngrok-shapes.json");
/// In an object's shape: the object may be `null` instead.
const NULLABLE: &str = "|null";

fn shapes() -> &'static Map<String, Value> {
    static SHAPES: OnceLock<Value> = OnceLock::new();
    SHAPES
        .get_or_init(|| serde_json::from_str(FIXTURE).expect("the shapes fixture is JSON"))
        .get("shapes")
        .and_then(Value::as_object)
        .expect("the fixture has `shapes`")
}

/// Panics with every mismatch when `value` does not have the shape `name`.
pub fn assert_valid(name: &str, value: &Value) {
    let mut problems = Vec::new();
    check(&Value::String(name.into()), value, "$", &mut problems);
    assert!(problems.is_empty(), "{name} shape: {problems:#?}\n{value}");
}

fn check(shape: &Value, value: &Value, at: &str, problems: &mut Vec<String>) {
    match shape {
        Value::String(spelled) => {
            let (ty, nullable) = match spelled.strip_suffix("|null") {
                Some(ty) => (ty, true),
                None => (spelled.as_str(), false),
            };
            if value.is_null() {
                if !nullable {
                    problems.push(format!("{at}: null where {ty} is not nullable"));
                }
                return;
            }
            check_type(ty, value, at, problems);
        }
        Value::Array(item) => {
            let Some(items) = value.as_array() else {
                return problems.push(format!("{at}: not an array"));
            };
            for (i, v) in items.iter().enumerate() {
                check(&item[0], v, &format!("{at}[{i}]"), problems);
            }
        }
        Value::Object(fields) if value.is_null() => {
            if fields.get(NULLABLE) != Some(&Value::Bool(true)) {
                problems.push(format!("{at}: null where an object is not nullable"));
            }
        }
        Value::Object(fields) => check_object(fields, value, at, problems),
        other => panic!("the fixture has a shape it cannot read: {other}"),
    }
}

fn check_type(ty: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
    let fits = match ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "boolean" => value.is_boolean(),
        "date-time" => value
            .as_str()
            .is_some_and(|s| humantime::parse_rfc3339(s).is_ok()),
        named => {
            let shape = shapes()
                .get(named)
                .unwrap_or_else(|| panic!("the fixture names an unknown shape `{named}`"));
            return check(shape, value, at, problems);
        }
    };
    if !fits {
        problems.push(format!("{at}: {value} is not a {ty}"));
    }
}

fn check_object(fields: &Map<String, Value>, value: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(map) = value.as_object() else {
        return problems.push(format!("{at}: not an object"));
    };
    if let Some(any) = fields.get("*") {
        for (key, v) in map {
            check(any, v, &format!("{at}.{key}"), problems);
        }
        return;
    }
    for (spelled, shape) in fields.iter().filter(|(k, _)| *k != NULLABLE) {
        let (key, optional) = match spelled.strip_suffix('?') {
            Some(key) => (key, true),
            None => (spelled.as_str(), false),
        };
        match map.get(key) {
            Some(v) => check(shape, v, &format!("{at}.{key}"), problems),
            None if optional => {}
            None => problems.push(format!("{at}: required `{key}` missing")),
        }
    }
    for key in map.keys() {
        if !fields.contains_key(key) && !fields.contains_key(&format!("{key}?")) {
            problems.push(format!("{at}: `{key}` is not allowed"));
        }
    }
}

/// A schema of the published document written in the fixture's notation.
fn notation(schema: &Value) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return json!(r.rsplit('/').next().unwrap());
    }
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    // `allOf` of one schema: that schema, with this one's description (`AccessScope`).
    if let Some([only]) = schema
        .get("allOf")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        return match (notation(only), nullable) {
            (Value::String(name), true) => json!(format!("{name}|null")),
            (Value::Object(mut object), true) => {
                object.insert(NULLABLE.into(), json!(true));
                Value::Object(object)
            }
            (inner, _) => inner,
        };
    }
    let spelled = match schema.get("type").and_then(Value::as_str) {
        Some("array") => return json!([notation(&schema["items"])]),
        Some("object") => {
            let mut object = object_notation(schema);
            if nullable {
                object[NULLABLE] = json!(true);
            }
            return object;
        }
        Some("string") if schema.get("format") == Some(&json!("date-time")) => "date-time",
        Some(ty) => ty,
        None => panic!("a schema without a type: {schema}"),
    };
    json!(if nullable {
        format!("{spelled}|null")
    } else {
        spelled.to_owned()
    })
}

fn object_notation(schema: &Value) -> Value {
    if let Some(extra @ Value::Object(_)) = schema.get("additionalProperties") {
        return json!({"*": notation(extra)});
    }
    assert_eq!(
        schema.get("additionalProperties"),
        Some(&Value::Bool(false)),
        "the fixture reads every object as closed"
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Map::new();
    for (key, sub) in schema["properties"].as_object().into_iter().flatten() {
        let spelled = if required.contains(&key.as_str()) {
            key.clone()
        } else {
            format!("{key}?")
        };
        fields.insert(spelled, notation(sub));
    }
    Value::Object(fields)
}

#[test]
fn the_fixture_says_what_the_published_document_says_when_it_is_given() {
    let Some(path) = std::env::var_os("MODELGATE_NGROK_SPEC") else {
        eprintln!("MODELGATE_NGROK_SPEC is not set: the shapes fixture is not compared");
        return;
    };
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("MODELGATE_NGROK_SPEC={}: {e}", path.to_string_lossy()));
    let spec: Value = serde_yaml::from_str(&text).expect("the OpenAPI document parses");
    for (name, shape) in shapes() {
        let published = notation(&spec["components"]["schemas"][name]);
        assert_eq!(
            &published, shape,
            "shape {name} differs from the published one"
        );
    }
}

#[test]
fn the_checker_refuses_what_the_shapes_do_not_allow() {
    let good = json!({"id": "a", "uri": "/a"});
    assert_valid("Ref", &good);
    for (bad, why) in [
        (json!({"id": "a"}), "required `uri` missing"),
        (
            json!({"id": "a", "uri": "/a", "x": 1}),
            "`x` is not allowed",
        ),
        (json!({"id": 1, "uri": "/a"}), "is not a string"),
        (json!({"id": null, "uri": "/a"}), "not nullable"),
    ] {
        let mut problems = Vec::new();
        check(&json!("Ref"), &bad, "$", &mut problems);
        assert!(
            problems.iter().any(|p| p.contains(why)),
            "{bad}: {problems:?}"
        );
    }
    let mut problems = Vec::new();
    let key = json!({"id": "k", "uri": "/k", "createdAt": "yesterday", "updatedAt": "2026-01-01T00:00:00Z",
        "providerId": "p", "name": "n", "keyRedacted": "****", "createdBy": good, "lastUpdatedBy": good,
        "lastUsed": null});
    check(
        &json!("AIGatewayProviderAPIKeyDetail"),
        &key,
        "$",
        &mut problems,
    );
    assert_eq!(problems, ["$.createdAt: \"yesterday\" is not a date-time"]);
}
