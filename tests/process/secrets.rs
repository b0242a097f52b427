//! Secrets on disk (provider keys, proxy passwords, credential headers, the tokens of stored
//! API keys and access keys) and the master key: sealed (or, for tokens, kept as digests)
//! everywhere, refused when the key is wrong, readable after a rotation, even one killed
//! half-way.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{Server, TOKEN, client, command, run_to_exit};

const SECRET: &str = "sk-ant-api03-Zx9QmP4vL7kW2nR8tY5uB1cD6eF3gH0j";

async fn create_secret(base: &str, value: &str) -> Value {
    let res = client()
        .post(format!("{base}/provider-keys"))
        .bearer_auth(TOKEN)
        .json(&json!({"providerId": "anthropic", "name": "prod", "value": value}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

fn every_file(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            every_file(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_stored_secret_appears_nowhere_in_the_data_dir_or_the_logs() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let created = create_secret(&server.base, SECRET).await;
    let path = format!(
        "{}/provider-keys/{}",
        server.base,
        created["id"].as_str().unwrap()
    );
    let rotated = client()
        .post(format!("{path}/rotate"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "rotated", "value": format!("{SECRET}-v2")}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    // A proxy password and a credential header too, used by a call (its proxy refuses the
    // connection: logged).
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "proxied", "name": "p", "baseUrl": "http://10.9.9.9:9/v1",
                      "network": {"extraHeaders": {"X-Auth-Token": format!("{SECRET}-header")}},
                      "proxy": {"type": "http", "url": "http://127.0.0.1:1",
                                "username": "gw", "password": format!("{SECRET}-proxy")}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = client()
        .post(format!("{}/v1/chat/completions", server.base))
        .bearer_auth(TOKEN)
        .json(&json!({"model": "proxied:m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    let (status, log) = server.terminate();
    assert!(status.success());

    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let mut needles: Vec<Vec<u8>> = vec![SECRET.as_bytes().to_vec()];
    for engine in engines {
        // Base64 of the secret at every alignment a surrounding encoder could produce.
        for pad in ["", "a", "ab"] {
            let encoded = engine.encode(format!("{pad}{SECRET}"));
            needles.push(encoded.as_bytes()[4..encoded.len() - 4].to_vec());
        }
    }
    let mut files = Vec::new();
    every_file(&data, &mut files);
    assert!(files.len() > 3, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle),
                "{} holds the secret",
                file.display()
            );
        }
    }
    for needle in &needles {
        assert!(
            !contains(log.as_bytes(), needle),
            "the log holds the secret"
        );
    }
}

/// Stored API keys and access keys: their tokens, answered once, are in no file of the data
/// dir and no line of a debug log, though they were used and one was refused.
#[tokio::test]
async fn a_stored_credentials_token_appears_nowhere_in_the_data_dir_or_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[("MODELGATE_ADMIN_TOKEN", TOKEN), ("RUST_LOG", "debug")],
    );
    let mut tokens = Vec::new();
    for resource in ["api-keys", "access-keys"] {
        let res = client()
            .post(format!("{}/{resource}", server.base))
            .bearer_auth(TOKEN)
            .json(&json!({"name": "app"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        tokens.push(body["token"].as_str().unwrap().to_owned());
    }
    let (management, access) = (&tokens[0], &tokens[1]);
    for (token, status) in [(management, 200), (access, 403)] {
        let res = client()
            .get(format!("{}/providers", server.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
    for token in [management, access] {
        let res = client()
            .post(format!("{}/v1/chat/completions", server.base))
            .bearer_auth(token)
            .json(&json!({"model": "nowhere:m", "messages": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    // The flush of their lastUsed, once a second, before the data dir is read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, log) = server.terminate();
    assert!(status.success());
    let mut files = Vec::new();
    every_file(&data, &mut files);
    for token in &tokens {
        let random = &token.as_bytes()[4..];
        for file in &files {
            let bytes = std::fs::read(file).unwrap();
            assert!(
                !contains(&bytes, random),
                "{} holds a token",
                file.display()
            );
        }
        assert!(!contains(log.as_bytes(), random), "the log holds a token");
    }
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_is_refused_at_start() {
    use base64::Engine;
    let b64 = |byte: u8| base64::engine::general_purpose::STANDARD.encode([byte; 32]);
    let (key_a, key_b) = (b64(1), b64(2));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &data,
        &[
            ("MODELGATE_ADMIN_TOKEN", TOKEN),
            ("MODELGATE_MASTER_KEY", &key_a),
        ],
    );
    create_secret(&server.base, SECRET).await;
    server.kill9();

    for env in [
        vec![("MODELGATE_MASTER_KEY", key_b.as_str())],
        // No key in the environment: the default key file does not exist for this store.
        vec![],
    ] {
        let mut cmd = command(dir.path());
        cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env("MODELGATE_ADMIN_TOKEN", TOKEN)
            .envs(env.iter().copied());
        let (code, stderr) = run_to_exit(cmd);
        assert_ne!(code, 0, "{env:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("master key"), "{stderr}");
        assert!(
            !data.join("master.key").exists(),
            "no new key may be generated over sealed data"
        );
    }
    let server = Server::start(
        &data,
        &[
            ("MODELGATE_ADMIN_TOKEN", TOKEN),
            ("MODELGATE_MASTER_KEY", &key_a),
        ],
    );
    server.kill9();
}

/// Opens a stopped server's store with the library and reveals every key.
fn reveal_all(data: &Path) -> Vec<String> {
    use modelgate::store::KeyStore;
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.to_owned();
    let store = modelgate::startup::open_store(&settings).unwrap();
    let master = modelgate::master_key::load(&settings, &store).expect("store opens with a key");
    let page = store.list_keys(None, None, 10_000).unwrap();
    page.items
        .iter()
        .map(|k| k.reveal(&master).expect("every key opens").to_string())
        .collect()
}

/// Opens a stopped server's store and reveals its one provider's proxy password.
fn proxy_password(data: &Path) -> String {
    use modelgate::store::ProviderStore;
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.to_owned();
    let store = modelgate::startup::open_store(&settings).unwrap();
    let master = modelgate::master_key::load(&settings, &store).expect("store opens with a key");
    let provider = store.list(None, 1).unwrap().items.remove(0);
    let proxy = provider.settings.proxy.expect("the provider has a proxy");
    proxy
        .password(&master, provider.id)
        .expect("the password opens")
        .expect("a password is stored")
        .to_string()
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_secret_readable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    for i in 0..5 {
        create_secret(&server.base, &format!("{SECRET}-{i}")).await;
    }
    let res = client()
        .post(format!("{}/provider-keys", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "openai", "name": "env", "value": "env.MODELGATE_TEST_UPSTREAM"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = client()
        .post(format!("{}/providers", server.base))
        .bearer_auth(TOKEN)
        .json(
            &json!({"providerId": "proxied", "name": "p", "baseUrl": "http://127.0.0.1:9/v1",
                      "proxy": {"type": "http", "url": "http://127.0.0.1:3128",
                                "username": "gw", "password": "proxy-secret-pw"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let old_key = std::fs::read_to_string(data.join("master.key")).unwrap();

    // Refused while the server holds the data dir.
    let mut cmd = command(dir.path());
    cmd.args(["rotate-master-key", "--data-dir"]).arg(&data);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(stderr.contains("in use"), "{stderr}");
    server.kill9();

    let out = command(dir.path())
        .args(["rotate-master-key", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("re-wrapped 6 sealed secret(s)"), "{stdout}");
    assert_ne!(
        std::fs::read_to_string(data.join("master.key")).unwrap(),
        old_key
    );

    // SAFETY: only this test reads this variable.
    unsafe { std::env::set_var("MODELGATE_TEST_UPSTREAM", "resolved-from-env") };
    let mut values = reveal_all(&data);
    values.sort();
    let mut expected: Vec<String> = (0..5).map(|i| format!("{SECRET}-{i}")).collect();
    expected.push("resolved-from-env".into());
    expected.sort();
    assert_eq!(values, expected);
    assert_eq!(proxy_password(&data), "proxy-secret-pw");
    let server = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    server.kill9();
}

#[test]
fn a_rotation_killed_at_any_moment_leaves_a_store_that_opens() {
    use modelgate::domain::{CreateProviderKey, NewProviderKey};
    use modelgate::store::KeyStore;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut settings = modelgate::config::Settings::default();
    settings.storage.data_dir = data.clone();
    {
        let store = modelgate::startup::open_store(&settings).unwrap();
        let master = modelgate::master_key::load(&settings, &store).unwrap();
        // The store's writes run on a runtime's blocking pool.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for i in 0..300 {
            let new = NewProviderKey::parse(CreateProviderKey {
                provider_id: Some("openai".into()),
                name: Some(format!("k{i}")),
                value: Some(zeroize::Zeroizing::new(format!("{SECRET}-{i}"))),
                ..Default::default()
            })
            .unwrap();
            let key = new.into_key(&master, 0, "admin").unwrap();
            runtime
                .block_on(store.create_key(key, false))
                .unwrap()
                .unwrap()
                .wait_blocking()
                .unwrap();
        }
    }
    let expected: std::collections::HashSet<String> =
        (0..300).map(|i| format!("{SECRET}-{i}")).collect();
    let first_key = std::fs::read_to_string(data.join("master.key")).unwrap();
    let mut completed = 0;
    for round in 0..20u64 {
        let mut child = command(dir.path())
            .args(["rotate-master-key", "--data-dir"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kill over the rotation's whole life, from before it opened the store to
        // after it finished.
        // The last round runs to the end: rotation still works after every interruption.
        if round < 19 {
            std::thread::sleep(Duration::from_micros(round * 8_000));
            let _ = child.kill();
        }
        if child.wait().unwrap().success() {
            completed += 1;
        }
        let values: std::collections::HashSet<String> = reveal_all(&data).into_iter().collect();
        assert_eq!(values, expected, "round {round}");
    }
    eprintln!("{completed} of 20 rotations finished before the kill");
    assert!(completed >= 1);
    assert_ne!(
        std::fs::read_to_string(data.join("master.key")).unwrap(),
        first_key
    );
}
