//! The other products' APIs over the same registry: Bifrost's `/api/providers` (`bifrost`),
//! checked against a schema fixture written from its published shapes, and the round trips
//! between the dialects and the ngrok API (`round_trips`).

mod agentstack;
mod bifrost;
mod bifrost_keys;
mod data_plane;
mod round_trips;

use serde_json::Value;

/// A schema of a fixture file, by name, with the document its references resolve in.
pub fn shapes(file: &str) -> Value {
    let path = format!("{}/tests/api/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn assert_shape(doc: &Value, name: &str, value: &Value) {
    let schema = &doc["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name}");
    crate::json_schema::assert_conforms(doc, schema, value, true);
}
