//! A start that cannot go on: one line on stderr naming what is wrong, a non-zero exit, and
//! nothing left behind.

use crate::harness::{Server, TOKEN, command, run_to_exit};

#[test]
fn a_start_that_cannot_bind_leaves_nothing_in_a_new_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let data = dir.path().join("data");
    let mut cmd = command(dir.path());
    cmd.args(["--bind", &bind, "--data-dir"]).arg(&data);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(&format!("cannot listen on {bind}")),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(&data)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "a failed start left {left:?} in {}",
        data.display()
    );
}

#[test]
fn configuration_problems_are_one_line_errors_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("typo.toml"), "[server]\nbnid = \"127.0.0.1:1\"\n").unwrap();
    std::fs::write(
        root.join("badvalue.toml"),
        "[storage]\ncache_capacity_mib = -5\n",
    )
    .unwrap();
    std::fs::write(root.join("a-file"), "not a directory").unwrap();

    // (arguments, environment, what the one-line error must mention)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--config", "typo.toml"], vec![], "bnid"),
        (
            vec!["--config", "badvalue.toml"],
            vec![],
            "cache_capacity_mib",
        ),
        (vec!["--config", "missing.toml"], vec![], "missing.toml"),
        (vec![], vec![("MODELGATE_BIND", "nonsense")], "server.bind"),
        (vec!["--bind", "127.0.0.1:99999"], vec![], "server.bind"),
        (vec!["--data-dir", "a-file/data"], vec![], "a-file/data"),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", "too-short")],
            "MODELGATE_ADMIN_TOKEN",
        ),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", " padded-token-0123456789 ")],
            "white space at its start or end",
        ),
        (
            vec![],
            vec![("MODELGATE_ADMIN_TOKEN", "                        ")],
            "only white space",
        ),
        (vec!["--data-dir", "padded"], vec![], "admin token in"),
        (
            vec![],
            vec![("MODELGATE_PUBLIC_URL", "not a url")],
            "public_url",
        ),
    ];
    // A token file whose token a client could never send as it is.
    std::fs::create_dir(root.join("padded")).unwrap();
    std::fs::write(
        root.join("padded/admin-token"),
        "  padded-token-0123456789\n",
    )
    .unwrap();
    for (args, env, needle) in cases {
        let mut cmd = command(root);
        cmd.args(&args).envs(env.iter().copied());
        if !args.contains(&"--data-dir") {
            cmd.args(["--data-dir", "data"]);
        }
        let (code, stderr) = run_to_exit(cmd);
        assert_ne!(code, 0, "{args:?} {env:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("modelgate: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("panicked")
                && !stderr.contains("too-short")
                && !stderr.contains("padded-token"),
            "{stderr}"
        );
    }
}

#[test]
fn a_data_dir_held_by_a_running_modelgate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start(&data, &[("MODELGATE_ADMIN_TOKEN", TOKEN)]);
    let mut cmd = command(dir.path());
    cmd.args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("MODELGATE_ADMIN_TOKEN", TOKEN);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("in use by another running modelgate"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
