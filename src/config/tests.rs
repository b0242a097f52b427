use super::*;
use std::collections::HashMap;

fn load(file: Option<&str>, env: &[(&str, &str)], cli: Overrides) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let mut overrides = cli;
    if let Some(text) = file {
        let path = dir.path().join("m.toml");
        std::fs::write(&path, text).unwrap();
        overrides.config_file = Some(path);
    }
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::load(&overrides, |k| env.get(k).cloned())
}

#[test]
fn defaults_bind_loopback_8080_with_data_in_dot_data() {
    let s = load(None, &[], Overrides::default()).unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.storage.data_dir, PathBuf::from("./data"));
    assert_eq!(s.storage.cache_capacity_mib, 64);
}

#[test]
fn file_then_env_then_cli_each_win_over_the_one_before() {
    let file = "[server]\nbind = \"127.0.0.1:1001\"\n[storage]\ndata_dir = \"/tmp/file\"\n";
    let s = load(Some(file), &[], Overrides::default()).unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:1001");
    let s = load(
        Some(file),
        &[("MODELGATE_BIND", "127.0.0.1:1002")],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:1002");
    assert_eq!(s.storage.data_dir, PathBuf::from("/tmp/file"));
    let cli = Overrides {
        bind: Some("127.0.0.1:1003".into()),
        data_dir: Some("/tmp/cli".into()),
        ..Default::default()
    };
    let s = load(
        Some(file),
        &[
            ("MODELGATE_BIND", "127.0.0.1:1002"),
            ("MODELGATE_DATA_DIR", "/tmp/env"),
        ],
        cli,
    )
    .unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:1003");
    assert_eq!(s.storage.data_dir, PathBuf::from("/tmp/cli"));
}

#[test]
fn an_unknown_key_is_one_line_naming_the_key_and_line() {
    let err = load(
        Some("[server]\nbind = \"127.0.0.1:1\"\nbnid = 3\n"),
        &[],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("bnid") && err.contains("line 3"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn bad_values_are_refused_with_the_setting_named() {
    let cases = [
        ("[server]\nbind = \"nonsense\"\n", "server.bind"),
        ("[server]\nmax_body_bytes = \"big\"\n", "line 2"),
        ("[server]\npublic_url = \"ftp://x\"\n", "server.public_url"),
        (
            "[[auth.tokens]]\nid = \"ci\"\nsha256 = \"abc\"\n",
            "auth.tokens[0].sha256",
        ),
        (
            "[[auth.tokens]]\nid = \"admin\"\nsha256 = \"00\"\n",
            "auth.tokens[0].id",
        ),
        (
            "[[auth.tokens]]\nid = \"01ARZ3NDEKTSV4RRFFQ69G5FAV\"\nsha256 = \"00\"\n",
            "auth.tokens[0].id `01ARZ3NDEKTSV4RRFFQ69G5FAV` reads as a ULID",
        ),
    ];
    for (file, needle) in cases {
        let err = load(Some(file), &[], Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{file}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_short_admin_token_is_refused() {
    let err = load(
        None,
        &[("MODELGATE_ADMIN_TOKEN", "tiny-tok")],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("MODELGATE_ADMIN_TOKEN") && !err.contains("tiny-tok"),
        "{err}"
    );
}

#[test]
fn the_admin_token_never_shows_in_debug_output() {
    let s = load(
        None,
        &[("MODELGATE_ADMIN_TOKEN", "0123456789abcdef-secret")],
        Overrides::default(),
    )
    .unwrap();
    assert!(!format!("{s:?}").contains("secret"));
}

#[test]
fn the_example_config_parses_and_states_the_built_in_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let example = Settings::from_file(&path).unwrap();
    assert_eq!(format!("{example:?}"), format!("{:?}", Settings::default()));
}

#[test]
fn public_url_loses_its_trailing_slash() {
    let s = load(
        None,
        &[("MODELGATE_PUBLIC_URL", "https://gw.example.com/")],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        s.server.public_url.as_deref(),
        Some("https://gw.example.com")
    );
}

#[test]
fn log_settings_come_from_the_file_then_the_environment() {
    let file = "[log]\nlevel = \"warn\"\nformat = \"json\"\nfile = \"/var/log/modelgate.log\"\n";
    let s = load(Some(file), &[], Overrides::default()).unwrap();
    assert_eq!(s.log.level, "warn");
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.log.file, Some(PathBuf::from("/var/log/modelgate.log")));
    let s = load(
        Some(file),
        &[
            ("RUST_LOG", "debug"),
            ("MODELGATE_LOG_FORMAT", "text"),
            ("MODELGATE_LOG_FILE", ""),
        ],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.log.level, "debug");
    assert_eq!(s.log.format, LogFormat::Text);
    assert_eq!(s.log.file, None, "an empty MODELGATE_LOG_FILE means stderr");
    let s = load(
        None,
        &[("MODELGATE_LOG_FILE", "m.log")],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.log.file, Some(PathBuf::from("m.log")));
    assert_eq!(s.log.format, LogFormat::Text, "text is the default");
}

#[test]
fn an_unknown_log_format_is_one_line_naming_the_field() {
    let err = load(Some("[log]\nformat = \"xml\"\n"), &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("log.format") && err.contains("`xml`") && err.contains("line 2"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let err = load(
        None,
        &[("MODELGATE_LOG_FORMAT", "JSON ")],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("log.format") && err.contains("MODELGATE_LOG_FORMAT"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
    let err = load(Some("[log]\nfile = \"\"\n"), &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("log.file"), "{err}");
}

#[test]
fn origins_are_held_to_what_a_browser_sends() {
    for (raw, want) in [
        ("https://app.example", Some("https://app.example")),
        ("https://App.Example/", Some("https://app.example")),
        ("http://localhost:5173", Some("http://localhost:5173")),
        ("https://app.example:443", Some("https://app.example")),
        ("*", None),
        ("https://app.example/path", None),
        ("https://app.example?x=1", None),
        ("ftp://app.example", None),
        ("https://user:pw@app.example", None),
        ("app.example", None),
    ] {
        assert_eq!(normalized_origin(raw).ok().as_deref(), want, "{raw}");
    }
}

#[test]
fn require_access_keys_is_off_unless_the_file_turns_it_on() {
    assert!(
        !load(None, &[], Overrides::default())
            .unwrap()
            .gateway
            .require_access_keys
    );
    let file = "[gateway]\nrequire_access_keys = true\n";
    let s = load(Some(file), &[], Overrides::default()).unwrap();
    assert!(s.gateway.require_access_keys);
    let err = load(
        Some("[gateway]\nrequire_access_keys = 1\n"),
        &[],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("require_access_keys"), "{err}");
}

#[test]
fn health_checks_are_on_every_minute_unless_turned_off() {
    let s = load(None, &[], Overrides::default()).unwrap();
    assert!(s.health.enabled);
    assert_eq!(s.health.interval_secs, 60);
    assert!(!s.gateway.hide_offline_models);
    let file =
        "[health]\nenabled = true\ninterval_secs = 1\n[gateway]\nhide_offline_models = true\n";
    let s = load(Some(file), &[], Overrides::default()).unwrap();
    assert_eq!(s.health.interval_secs, 1);
    assert!(s.gateway.hide_offline_models);
    let env = [("MODELGATE_HEALTH_ENABLED", "false")];
    assert!(
        !load(Some(file), &env, Overrides::default())
            .unwrap()
            .health
            .enabled
    );
    let bad = load(
        None,
        &[("MODELGATE_HEALTH_ENABLED", "maybe")],
        Overrides::default(),
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("MODELGATE_HEALTH_ENABLED")
    );
    let zero = load(
        Some("[health]\ninterval_secs = 0\n"),
        &[],
        Overrides::default(),
    );
    assert!(
        zero.unwrap_err()
            .to_string()
            .contains("health.interval_secs")
    );
}
