use super::*;

const FILE: FileTimeouts = FileTimeouts {
    total: Duration::from_secs(600),
    per_request: Duration::from_secs(300),
};

fn parse(body: serde_json::Value) -> Result<GatewayConfigChanges, Violations> {
    let value: UpdateGatewayConfig = serde_json::from_value(body).unwrap();
    GatewayConfigChanges::parse(value).map_err(|e| match e {
        InputError::Invalid(v) => v,
        other => panic!("{other:?}"),
    })
}

#[test]
fn the_estimate_is_a_quarter_of_the_bytes_rounded_up() {
    for (bytes, tokens) in [(0, 0), (1, 1), (4, 1), (5, 2), (8, 2), (4001, 1001)] {
        assert_eq!(estimated_tokens(bytes), tokens, "{bytes}");
    }
}

#[test]
fn every_violation_is_reported_at_once() {
    let v = parse(json!({"totalTimeout": "0.5s", "perRequestTimeout": "1d",
        "metadata": "a\u{0}"}))
    .unwrap_err();
    let map = v.to_map();
    assert_eq!(
        map.keys().collect::<Vec<_>>(),
        ["metadata", "perRequestTimeout", "totalTimeout"]
    );
    // A cap out of range is refused as it is read, like a value of the wrong type.
    for cap in [
        json!(0),
        json!(100_000_001),
        json!(1.5),
        json!(-1),
        json!("9"),
    ] {
        let read = serde_json::from_value::<UpdateGatewayConfig>(json!({"maxInputTokens": cap}));
        let err = read.unwrap_err().to_string();
        assert!(
            err.contains("from 1 to 100000000") || err.contains("invalid type"),
            "{cap}: {err}"
        );
    }
    let fits =
        serde_json::from_value::<UpdateGatewayConfig>(json!({"maxInputTokens": 100_000_000.0}));
    assert_eq!(fits.unwrap().max_input_tokens, Some(Some(100_000_000)));
    assert_eq!(map["totalTimeout"], "must be between 1s and 24h0m0s");
    assert!(
        map["perRequestTimeout"].contains("unknown unit `d`"),
        "{map:?}"
    );
    let v = parse(json!({"totalTimeout": "25h", "perRequestTimeout": null})).unwrap_err();
    assert!(v.to_map()["perRequestTimeout"].contains("cannot be cleared"));
    let v = parse(json!({"totalTimeout": "10s", "perRequestTimeout": "11s"})).unwrap_err();
    assert_eq!(
        v.to_map()["perRequestTimeout"],
        "must be at most totalTimeout (10s)"
    );
}

#[test]
fn a_change_meets_the_stored_value_of_the_field_it_does_not_send() {
    let current = GatewayConfig::default();
    // The config file's total (10m) stands for the one never written.
    let change = parse(json!({"perRequestTimeout": "11m"})).unwrap();
    let v = change.apply(&current, FILE).unwrap_err();
    assert_eq!(
        v.to_map()["perRequestTimeout"],
        "must be at most totalTimeout (10m0s)"
    );
    let stored = parse(json!({"perRequestTimeout": "2m"}))
        .unwrap()
        .apply(&current, FILE)
        .unwrap()
        .unwrap();
    assert_eq!(stored.version, 1);
    let v = parse(json!({"totalTimeout": "1m"}))
        .unwrap()
        .apply(&stored, FILE)
        .unwrap_err();
    assert_eq!(
        v.to_map()["totalTimeout"],
        "must be at least perRequestTimeout (2m0s)"
    );
    // Nothing new: no new version.
    let same = parse(json!({"perRequestTimeout": "120s"})).unwrap();
    assert_eq!(same.apply(&stored, FILE), Ok(None));
}

#[test]
fn caps_and_metadata_are_set_and_cleared() {
    let set = parse(json!({"maxInputTokens": 100, "maxOutputTokens": 50, "metadata": "m"}))
        .unwrap()
        .apply(&GatewayConfig::default(), FILE)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            set.max_input_tokens,
            set.max_output_tokens,
            set.metadata.as_deref()
        ),
        (Some(100), Some(50), Some("m"))
    );
    let cleared = parse(json!({"maxInputTokens": null, "metadata": null}))
        .unwrap()
        .apply(&set, FILE)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            cleared.max_input_tokens,
            cleared.max_output_tokens,
            cleared.metadata
        ),
        (None, Some(50), None)
    );
    assert_eq!(cleared.version, 2);
}
