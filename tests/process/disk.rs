//! Full and read-only disks, on a small tmpfs of each test's own: writes refused cleanly, reads
//! served, and recovery without a restart.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Server, TOKEN, client, command, run_to_exit, send};
use crate::userns;

/// A small tmpfs of its own, unmounted when dropped: a disk that can be filled and made
/// read-only without touching the machine's.
pub(crate) struct SmallDisk {
    pub(crate) path: std::path::PathBuf,
}

impl SmallDisk {
    pub(crate) fn mount(path: &Path, mib: u64) -> SmallDisk {
        use nix::mount::{MsFlags, mount};
        std::fs::create_dir_all(path).unwrap();
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(format!("size={mib}m").as_str()),
        )
        .expect("mounting a tmpfs (as root, or in the user namespace userns::runs_here made)");
        SmallDisk {
            path: path.to_owned(),
        }
    }

    fn remount(&self, read_only: bool) {
        use nix::mount::{MsFlags, mount};
        let mut flags = MsFlags::MS_REMOUNT;
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        mount(None::<&str>, &self.path, None::<&str>, flags, None::<&str>).unwrap();
    }

    pub(crate) fn free_bytes(&self) -> u64 {
        let s = nix::sys::statvfs::statvfs(&self.path).unwrap();
        s.blocks_available() as u64 * s.fragment_size() as u64
    }

    /// Fills the disk until `leave` bytes are free.
    pub(crate) fn fill_leaving(&self, leave: u64) -> std::path::PathBuf {
        let ballast = self.path.join("ballast");
        let size = self.free_bytes().saturating_sub(leave);
        std::fs::write(&ballast, vec![0u8; size as usize]).unwrap();
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A data dir on a tmpfs of `mib` MiB, and a config file giving it a reserve of `reserve_mib`.
fn on_small_disk(
    mib: u64,
    reserve_mib: u64,
) -> (
    tempfile::TempDir,
    SmallDisk,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), mib);
    let data = disk.path.join("data");
    let config = dir.path().join("modelgate.toml");
    let settings = format!("[storage]\nmin_free_mib = {reserve_mib}\ncache_capacity_mib = 8\n");
    std::fs::write(&config, settings).unwrap();
    (dir, disk, data, config)
}

fn provider_body(slug: &str, metadata_bytes: usize) -> Value {
    json!({"providerId": slug, "name": slug, "baseUrl": "http://h/v1",
           "metadata": "m".repeat(metadata_bytes)})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_read_only_disk_refuses_writes_cleanly_and_recovers_without_a_restart() {
    if !userns::runs_here(
        module_path!(),
        "a_full_or_read_only_disk_refuses_writes_cleanly_and_recovers_without_a_restart",
    ) {
        return;
    }
    let (dir, disk, data, config) = on_small_disk(24, 4);
    let server = Server::start_with_config(&data, &config);
    let (http, base) = (client(), server.base.clone());

    let (status, before) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("before", 10)),
    )
    .await;
    assert_eq!(status, 201);
    let before_url = format!("{base}/providers/{}", before["id"].as_str().unwrap());

    // The store itself fills the disk: every write is acknowledged or refused as storage_full,
    // never a 500 and never a storage_failed.
    let ballast = disk.fill_leaving(8 << 20);
    let mut written = Vec::new();
    let refused_slug = loop {
        let slug = format!("fill-{}", written.len());
        let (status, body) = send(
            http.post(format!("{base}/providers"))
                .json(&provider_body(&slug, 4000)),
        )
        .await;
        match status {
            201 => written.push(body),
            503 => {
                assert_eq!(body["errorCode"], "storage_full", "{body}");
                assert!(body["msg"].as_str().unwrap().contains("MiB free"), "{body}");
                break slug;
            }
            other => panic!("write while filling the disk answered {other}: {body}"),
        }
        assert!(
            written.len() < 10_000,
            "the reserve never stopped the writes"
        );
    };
    assert!(!written.is_empty());
    eprintln!(
        "disk full after {} acknowledged creates; {} bytes free",
        written.len(),
        disk.free_bytes()
    );

    // Every kind of write is refused the same way; reads go on and show nothing of them.
    let (status, body) = send(http.patch(&before_url).json(&json!({"name": "changed"}))).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (503, Some("storage_full"))
    );
    let (status, _) = send(http.delete(&before_url)).await;
    assert_eq!(status, 503);
    let (status, _) = send(
        http.post(format!("{base}/provider-keys"))
            .json(&json!({"providerId": "openai", "name": "k", "value": "sk-0123456789"})),
    )
    .await;
    assert_eq!(status, 503);
    let (status, now) = send(http.get(&before_url)).await;
    assert_eq!((status, &now), (200, &before));
    let (status, health) = send(http.get(format!("{base}/healthz"))).await;
    assert_eq!(
        (status, health["errorCode"].as_str()),
        (503, Some("storage_full"))
    );
    let (status, list) = send(http.get(format!("{base}/providers?limit=100"))).await;
    assert_eq!(status, 200);
    assert!(
        list["aiGatewayProviders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["providerId"] != refused_slug.as_str())
    );

    // Space comes back: writes resume in the same process, and the refused providerId is free.
    std::fs::remove_file(&ballast).unwrap();
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body(&refused_slug, 10)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, changed) = send(http.patch(&before_url).json(&json!({"name": "changed"}))).await;
    assert_eq!(status, 200);
    assert_eq!(send(http.get(format!("{base}/healthz"))).await.0, 200);

    // Nothing acknowledged was lost and nothing refused appeared, across a hard kill.
    server.kill9();
    let server = Server::start_with_config(&data, &config);
    let base = server.base.clone();
    for p in &written {
        let (status, found) =
            send(http.get(format!("{base}/providers/{}", p["id"].as_str().unwrap()))).await;
        assert_eq!((status, &found), (200, p));
    }
    assert_eq!(
        send(http.get(format!(
            "{base}/providers/{}",
            before["id"].as_str().unwrap()
        )))
        .await,
        (200, changed)
    );
    let (_, list) = send(http.get(format!("{base}/providers?limit=100"))).await;
    let slugs: Vec<&str> = list["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["providerId"].as_str().unwrap())
        .collect();
    assert!(slugs.contains(&refused_slug.as_str()));

    // A data dir on a read-only file system: a one-line refusal at start, not a crash later.
    // (A live switch to read-only cannot be staged here: the kernel refuses to remount a file
    // system read-only while sled holds its files open for writing.)
    drop(server);
    disk.remount(true);
    let mut cmd = command(dir.path());
    cmd.arg("--config")
        .arg(&config)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("MODELGATE_ADMIN_TOKEN", TOKEN);
    let (code, stderr) = run_to_exit(cmd);
    assert_ne!(code, 0);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
}

/// Without the reserve, sled meets ENOSPC itself and poisons its `Db`. The server must say so
/// clearly, keep serving reads while the disk is full, refuse writes, and once space is back
/// reopen the store by itself: holding every acknowledged write and the failed one either
/// whole or not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_io_error_inside_the_engine_stops_writes_until_the_store_reopens_itself() {
    if !userns::runs_here(
        module_path!(),
        "an_io_error_inside_the_engine_stops_writes_until_the_store_reopens_itself",
    ) {
        return;
    }
    let (_dir, disk, data, config) = on_small_disk(64, 0);
    let server = Server::start_with_config(&data, &config);
    let (http, base) = (client(), server.base.clone());
    let ballast = disk.fill_leaving(2 << 20);
    let mut written = Vec::new();
    let (failed_slug, failure) = loop {
        let slug = format!("p{}", written.len());
        let (status, body) = send(
            http.post(format!("{base}/providers"))
                .json(&provider_body(&slug, 4000)),
        )
        .await;
        match status {
            201 => written.push(body),
            _ => break (slug, (status, body)),
        }
        assert!(written.len() < 10_000, "the disk never filled");
    };
    assert_eq!(failure.0, 503, "{:?}", failure.1);
    assert_eq!(failure.1["errorCode"], "storage_failed");
    assert!(
        failure.1["msg"]
            .as_str()
            .unwrap()
            .contains("may or may not have been stored")
    );

    // While the disk is full: writes refused, health says why, reads go on.
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("later", 10)),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (503, Some("storage_failed"))
    );
    let (status, health) = send(http.get(format!("{base}/healthz"))).await;
    assert_eq!(
        (status, health["errorCode"].as_str()),
        (503, Some("storage_failed"))
    );
    let first = &written[0];
    let first_url = format!("{base}/providers/{}", first["id"].as_str().unwrap());
    assert_eq!(send(http.get(&first_url)).await, (200, first.clone()));

    // Space is back: the next write reopens the store, in the same process.
    std::fs::remove_file(&ballast).unwrap();
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body("later", 10)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(send(http.get(format!("{base}/healthz"))).await.0, 200);
    assert!(
        server.log_text().contains("store reopened"),
        "{}",
        server.log_text()
    );
    assert!(!server.log_text().contains("panicked"));
    for p in &written {
        let url = format!("{base}/providers/{}", p["id"].as_str().unwrap());
        assert_eq!(
            send(http.get(url)).await,
            (200, p.clone()),
            "acknowledged {p} lost"
        );
    }
    // The write that failed is all there or not there at all: its providerId is taken exactly
    // when a record carries it.
    let (_, list) = send(http.get(format!("{base}/providers?limit=2"))).await;
    let listed: Vec<&str> = list["aiGatewayProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["providerId"].as_str().unwrap())
        .collect();
    let stored = listed.contains(&failed_slug.as_str());
    let (status, _) = send(
        http.post(format!("{base}/providers"))
            .json(&provider_body(&failed_slug, 10)),
    )
    .await;
    assert_eq!(status, if stored { 409 } else { 201 });
    eprintln!(
        "ENOSPC after {} acknowledged creates; the failed create was {} after the reopen",
        written.len(),
        if stored { "kept whole" } else { "absent" }
    );

    // And after a hard kill, the same.
    server.kill9();
    let server = Server::start_with_config(&data, &config);
    for p in &written {
        let url = format!("{}/providers/{}", server.base, p["id"].as_str().unwrap());
        assert_eq!(
            send(http.get(url)).await,
            (200, p.clone()),
            "acknowledged {p} lost"
        );
    }
}
