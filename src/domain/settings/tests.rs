use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::network::header_name_pattern;
use super::*;
use crate::domain::rules::{
    REQUEST_TIMEOUT_SECS, RETRIES, RETRY_BACKOFF_MS, STREAM_IDLE_TIMEOUT_SECS,
};
use crate::domain::{
    CreateProvider, InputError, NewProvider, ProviderChanges, UpdateProvider, schema,
};

fn proxy(password: PasswordInput) -> SettingsChanges {
    SettingsChanges {
        proxy: Some(Some(ProxyInput {
            kind: ProxyKind::Http,
            url: Some("http://127.0.0.1:3128".into()),
            username: Some("u".into()),
            password,
        })),
        ..SettingsChanges::default()
    }
}

#[test]
fn a_proxy_password_is_sealed_for_its_provider_and_kept_by_the_redaction() {
    let master = MasterKey::generate().unwrap();
    let id = Ulid::new();
    let mut changes = proxy(PasswordInput::Plain(Zeroizing::new("hunter2".into())));
    changes.seal(&master, id).unwrap();
    assert!(!format!("{changes:?}").contains("hunter2"));
    let stored = changes.apply(&Settings::default()).unwrap();
    let p = stored.proxy.as_ref().unwrap();
    assert_eq!(
        p.password(&master, id).unwrap().unwrap().as_str(),
        "hunter2"
    );
    assert!(
        p.password(&master, Ulid::new()).is_err(),
        "bound to its provider"
    );

    let kept = proxy(PasswordInput::Keep).apply(&stored).unwrap();
    assert_eq!(kept.proxy, stored.proxy);
    let none_stored = proxy(PasswordInput::Keep).apply(&Settings::default());
    assert!(
        none_stored
            .unwrap_err()
            .to_map()
            .contains_key("proxy.password")
    );

    let answer = serde_json::to_value(ProxyBody::answer(p)).unwrap();
    assert_eq!(answer["password"], REDACTED, "{answer}");
    let other = MasterKey::generate().unwrap();
    let moved = stored.rewrapped(&master, &other, id).unwrap().unwrap();
    let p = moved.proxy.as_ref().unwrap();
    assert_eq!(p.password(&other, id).unwrap().unwrap().as_str(), "hunter2");
    assert_eq!(
        Settings::default().rewrapped(&master, &other, id).unwrap(),
        None
    );
}

#[test]
fn the_buffer_is_checked_against_concurrency_after_the_change() {
    let current = Settings {
        concurrency: Some(8),
        buffer_size: Some(16),
        ..Settings::default()
    };
    let smaller = SettingsChanges {
        buffer_size: Some(Some(4)),
        ..SettingsChanges::default()
    };
    let map = smaller.apply(&current).unwrap_err().to_map();
    assert_eq!(
        map["bufferSize"],
        "must be at least `concurrency` (8) (got 4)"
    );
    let no_cap = SettingsChanges {
        concurrency: Some(None),
        ..SettingsChanges::default()
    };
    assert!(no_cap.apply(&current).is_err());
    let both = SettingsChanges {
        concurrency: Some(None),
        buffer_size: Some(None),
        ..SettingsChanges::default()
    };
    assert_eq!(both.apply(&current).unwrap(), Settings::default());
    assert_eq!(current.queue(), Some((8, 8)));
}

/// Every bounded setting: its JSON path in a body, the bounds it is checked and described
/// by, and the unit its message gives them in.
fn bounded() -> [(&'static str, Bounds, &'static str); 7] {
    [
        (
            "network.requestTimeoutSeconds",
            REQUEST_TIMEOUT_SECS,
            " seconds",
        ),
        (
            "network.streamIdleTimeoutSeconds",
            STREAM_IDLE_TIMEOUT_SECS,
            " seconds",
        ),
        ("network.maxRetries", RETRIES, ""),
        ("network.retryBackoffInitialMs", RETRY_BACKOFF_MS, " ms"),
        ("network.retryBackoffMaxMs", RETRY_BACKOFF_MS, " ms"),
        ("concurrency", CONCURRENCY, ""),
        ("bufferSize", CONCURRENCY, ""),
    ]
}

/// A body with every bounded setting at `value(bounds)`, but those it would make negative
/// (no longer a number of the field's type).
fn body(value: impl Fn(Bounds) -> i64) -> Value {
    let mut body = json!({"providerId": "p", "name": "P", "baseUrl": "http://10.0.0.1/v1"});
    for (path, bounds, _) in bounded() {
        let value = value(bounds);
        if value < 0 {
            continue;
        }
        match path.split_once('.') {
            Some((object, field)) => body[object][field] = json!(value),
            None => body[path] = json!(value),
        }
    }
    body
}

fn violations(body: &Value) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let create: CreateProvider = serde_json::from_value(body.clone()).unwrap();
    let mut patch = body.clone();
    patch.as_object_mut().unwrap().remove("providerId");
    let update: UpdateProvider = serde_json::from_value(patch).unwrap();
    let map = |e: InputError| match e {
        InputError::Invalid(v) => v.to_map(),
        other => panic!("{other:?}"),
    };
    (
        NewProvider::parse(create)
            .err()
            .map(map)
            .unwrap_or_default(),
        ProviderChanges::parse(update)
            .err()
            .map(map)
            .unwrap_or_default(),
    )
}

#[test]
fn each_bound_has_one_source_for_the_schema_and_the_rule() {
    let described = |path: &str| {
        let doc = match path.split_once('.') {
            Some(("network", field)) => {
                serde_json::to_value(schema::network()).unwrap()["properties"][field].clone()
            }
            _ if path == "concurrency" => serde_json::to_value(schema::concurrency()).unwrap(),
            _ => serde_json::to_value(schema::buffer_size()).unwrap(),
        };
        (doc["minimum"].as_u64(), doc["maximum"].as_u64())
    };
    for (path, bounds, _) in bounded() {
        let expected = (Some(u64::from(bounds.min)), Some(u64::from(bounds.max)));
        assert_eq!(described(path), expected, "{path}");
    }

    let (create, update) = violations(&body(|b| b.max.into()));
    assert!(
        create.is_empty() && update.is_empty(),
        "{create:?} {update:?}"
    );
    let (create, update) = violations(&body(|b| b.min.into()));
    assert!(
        create.is_empty() && update.is_empty(),
        "{create:?} {update:?}"
    );

    for outside in [
        |b: Bounds| i64::from(b.max) + 1,
        |b: Bounds| i64::from(b.min) - 1,
    ] {
        let (create, update) = violations(&body(outside));
        for (path, bounds, unit) in bounded() {
            if outside(bounds) < 0 {
                continue;
            }
            let message = format!("must be between {} and {}{unit}", bounds.min, bounds.max);
            for map in [&create, &update] {
                let got = map.get(path).map(String::as_str).unwrap_or_default();
                assert!(got.ends_with(&message), "{path}: {got:?} in {map:?}");
            }
        }
    }
}

#[test]
fn an_answer_shows_only_what_is_set() {
    let network = Network {
        max_retries: Some(2),
        ..Network::default()
    };
    assert_eq!(
        serde_json::to_value(NetworkBody::answer(&network)).unwrap(),
        json!({"maxRetries": 2})
    );
    let none = Proxy {
        kind: ProxyKind::None,
        url: None,
        username: None,
        password: None,
    };
    assert_eq!(
        serde_json::to_value(ProxyBody::answer(&none)).unwrap(),
        json!({"type": "none"})
    );
}

#[test]
fn every_settings_schema_serializes_what_it_was_written_as() {
    for (name, s) in [
        ("network", schema::network()),
        ("proxy", schema::proxy()),
        ("overrides", request_path_overrides()),
    ] {
        let back = serde_json::to_value(&s).unwrap();
        let text = back.to_string();
        assert!(
            text.contains("additionalProperties") || text.contains("propertyNames"),
            "{name}: {text}"
        );
    }
    let proxy = serde_json::to_value(schema::proxy()).unwrap();
    assert_eq!(proxy["oneOf"].as_array().unwrap().len(), 5, "{proxy}");
}

#[test]
fn the_header_name_pattern_refuses_forbidden_names_in_any_case() {
    let re = fancy_regex::Regex::new(&header_name_pattern()).unwrap();
    for ok in ["x-trace", "OpenAI-Organization", "hosts", "x-api-keys"] {
        assert!(re.is_match(ok).unwrap(), "{ok}");
    }
    for bad in [
        "Authorization",
        "X-API-KEY",
        "host",
        "Transfer-Encoding",
        "a b",
        "",
    ] {
        assert!(!re.is_match(bad).unwrap(), "{bad}");
    }
}

#[test]
fn the_request_path_pattern_refuses_dot_segments() {
    let re = fancy_regex::Regex::new(&request_path_pattern()).unwrap();
    for ok in ["/api/chat", "/v1/...", "/a%20b", "/", "/a/.b"] {
        assert!(re.is_match(ok).unwrap(), "{ok}");
    }
    for bad in ["api", "/a/../b", "/.", "/a/.", "/a?b", "/a%2", "/a b", ""] {
        assert!(!re.is_match(bad).unwrap(), "{bad}");
    }
}

#[test]
fn credential_header_names_are_told_in_any_case() {
    for yes in [
        "api-key",
        "Api-Key",
        "x-goog-api-key",
        "X-Auth-Token",
        "cf-access-client-secret",
        "x-db-password",
        "x_api_key",
        "cookie",
        "apikey",
    ] {
        assert!(is_credential(yes), "{yes}");
    }
    for no in [
        "x-tenant",
        "anthropic-version",
        "openai-organization",
        "x-keys",
        "token-type",
    ] {
        assert!(!is_credential(no), "{no}");
    }
}

fn network(headers: &[(&str, &str)]) -> SettingsChanges {
    let body: NetworkBody = serde_json::from_value(json!({
        "extraHeaders": headers.iter().copied().collect::<BTreeMap<_, _>>()
    }))
    .unwrap();
    SettingsChanges {
        network: Some(Some(body.into_input())),
        ..SettingsChanges::default()
    }
}

#[test]
fn a_credential_header_is_sealed_for_its_provider_and_name_and_kept_by_the_redaction() {
    let master = MasterKey::generate().unwrap();
    let id = Ulid::new();
    let mut changes = network(&[("Api-Key", "az-secret-77"), ("X-Tenant", "homelab")]);
    changes.seal(&master, id).unwrap();
    assert!(!format!("{changes:?}").contains("az-secret-77"));
    let stored = changes.apply(&Settings::default()).unwrap();
    let headers = &stored.network.as_ref().unwrap().extra_headers;
    assert!(matches!(headers["api-key"], HeaderValue::Sealed(_)));
    assert_eq!(headers["x-tenant"], HeaderValue::Plain("homelab".into()));
    let open =
        |h: &HeaderValue, m: &MasterKey, id, name| h.open(m, id, name).map(|v| v.to_string());
    assert_eq!(
        open(&headers["api-key"], &master, id, "api-key").unwrap(),
        "az-secret-77"
    );
    assert!(open(&headers["api-key"], &master, Ulid::new(), "api-key").is_err());
    assert!(
        open(&headers["api-key"], &master, id, "x-tenant").is_err(),
        "bound to its name"
    );
    let answer = serde_json::to_value(NetworkBody::answer(stored.network.as_ref().unwrap()));
    assert_eq!(
        answer.unwrap()["extraHeaders"],
        json!({"api-key": REDACTED, "x-tenant": "homelab"})
    );

    let kept = network(&[("API-KEY", REDACTED), ("X-Tenant", "homelab")]).apply(&stored);
    assert_eq!(kept.unwrap(), stored);
    let none_stored = network(&[("x-auth-token", REDACTED)]).apply(&stored);
    assert!(
        none_stored
            .unwrap_err()
            .to_map()
            .contains_key("network.extraHeaders.x-auth-token")
    );
    // Not a credential's name: the value is taken as it is.
    let literal = network(&[("x-tenant", REDACTED)]).apply(&stored).unwrap();
    assert_eq!(
        literal.network.unwrap().extra_headers["x-tenant"],
        HeaderValue::Plain(REDACTED.into())
    );

    let other = MasterKey::generate().unwrap();
    let moved = stored.rewrapped(&master, &other, id).unwrap().unwrap();
    let h = &moved.network.as_ref().unwrap().extra_headers["api-key"];
    assert_eq!(open(h, &other, id, "api-key").unwrap(), "az-secret-77");
    assert!(open(h, &master, id, "api-key").is_err());
}

#[test]
fn credential_headers_an_earlier_format_kept_in_the_clear_are_sealed_and_no_others() {
    let master = MasterKey::generate().unwrap();
    let id = Ulid::new();
    let plain = |v: &str| HeaderValue::Plain(v.into());
    let old = Settings {
        network: Some(Network {
            extra_headers: BTreeMap::from([
                ("x-auth-token".into(), plain("tok-1")),
                ("x-tenant".into(), plain("homelab")),
            ]),
            ..Network::default()
        }),
        ..Settings::default()
    };
    let sealed = old.sealed_plaintext(&master, id).unwrap().unwrap();
    let headers = &sealed.network.as_ref().unwrap().extra_headers;
    assert_eq!(headers["x-tenant"], plain("homelab"));
    let token = headers["x-auth-token"]
        .open(&master, id, "x-auth-token")
        .unwrap();
    assert_eq!(token.as_str(), "tok-1");
    assert!(matches!(headers["x-auth-token"], HeaderValue::Sealed(_)));
    assert_eq!(sealed.sealed_plaintext(&master, id).unwrap(), None);
    assert_eq!(
        Settings::default().sealed_plaintext(&master, id).unwrap(),
        None
    );
}
