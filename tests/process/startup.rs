//! Start-up that works: the generated admin token, and the `hash-token` command.

use std::io::Write;
use std::process::Stdio;

use crate::harness::{Server, client, command};

#[tokio::test]
async fn the_first_start_generates_a_private_admin_token_and_later_starts_reuse_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let path = data.join("admin-token");
    let token = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(token.len() >= 43, "32 random bytes, encoded");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let log = server.log_text();
    assert!(
        log.contains(&path.display().to_string()) && log.contains("curl"),
        "{log}"
    );
    assert!(
        !log.contains(&token),
        "the token itself must not be printed"
    );
    // The first start names where to paste it: the admin page, on the port actually bound.
    assert!(
        log.contains(&format!("admin page at {}/", server.base)),
        "{log}"
    );
    let status = |base: String, token: String| async move {
        client()
            .get(format!("{base}/providers"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(status(server.base.clone(), token.clone()).await, 200);
    server.kill9();
    let server = Server::start(&data, &[]);
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    assert_eq!(status(server.base.clone(), token.clone()).await, 200);
}

#[test]
fn hash_token_prints_the_sha256_of_the_token_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(dir.path())
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"my-long-ci-token-1234\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        modelgate::auth::hash_token("my-long-ci-token-1234")
    );

    let mut child = command(dir.path())
        .arg("hash-token")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
}
