//! For tests that mount small file systems (tmpfs) to stage full and read-only disks. Root runs
//! them in place. Anyone else re-runs the one test in a new user + mount namespace
//! (`unshare --user --map-root-user --mount`), where an unprivileged user may mount a tmpfs
//! of its own; the server the test starts inherits that namespace and sees the same mounts.
//! Where neither is possible the test fails with one line saying so, never a silent skip.
//!
//! Shared by the unit tests (`#[path]`) and `tests/process/disk.rs`.

use std::process::Command;

const INSIDE: &str = "MODELGATE_TEST_IN_MOUNT_NAMESPACE";

/// Whether the calling test should run its body in this process. `false` means it already ran,
/// and passed, in a namespace of its own (a failure there fails the caller with its output).
/// `module` is the caller's `module_path!()`, `test` its function name.
pub fn runs_here(module: &str, test: &str) -> bool {
    if nix::unistd::geteuid().is_root() || std::env::var_os(INSIDE).is_some() {
        return true;
    }
    // libtest names a test by its path below the crate root.
    let name = match module.split_once("::") {
        Some((_, below)) => format!("{below}::{test}"),
        None => test.to_owned(),
    };
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--"])
        .arg(exe)
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("this test mounts a tmpfs: it needs root, or `unshare` (util-linux) with user namespaces: {e}")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.starts_with("unshare:") {
        panic!(
            "this test mounts a tmpfs: it needs root, or user namespaces (`unshare --user --map-root-user --mount` failed: {})",
            stderr.lines().next().unwrap_or_default()
        );
    }
    assert!(
        out.status.success(),
        "{name} failed in its user + mount namespace:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its namespace:\n{stdout}\n{stderr}"
    );
    false
}
