//! A usage store that meets its free-space reserve: calls still answer, the registry still
//! takes writes (its reserve is the smaller one), the events that could not be written are
//! counted and warned of, and recording resumes by itself once space is back.

use std::time::Duration;

use serde_json::json;

use crate::disk::SmallDisk;
use crate::harness::{Server, client, send};
use crate::usage_crash::{all_events, upstream};
use crate::userns;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_usage_store_leaves_calls_and_provider_writes_working() {
    if !userns::runs_here(
        module_path!(),
        "a_full_usage_store_leaves_calls_and_provider_writes_working",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&dir.path().join("disk"), 40);
    let data = disk.path.join("data");
    let config = dir.path().join("modelgate.toml");
    // The registry stops at 2 MiB free; usage at 2 + 12.
    std::fs::write(
        &config,
        "[storage]\nmin_free_mib = 2\ncache_capacity_mib = 8\n\
         [usage]\nreserve_mib = 12\ncache_capacity_mib = 4\n",
    )
    .unwrap();
    let base_url = upstream().await;
    let server = Server::start_with_config(&data, &config);
    let (http, base) = (client(), server.base.clone());
    let provider = |slug: &str| {
        json!({"providerId": slug, "name": slug, "baseUrl": base_url,
               "models": [{"modelId": "m"}]})
    };
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider("box")),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let chat = || {
        http.post(format!("{base}/v1/chat/completions"))
            .json(&json!({"model": "box:m", "messages": []}))
    };
    let recorded = |n: usize| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            for _ in 0..200 {
                if all_events(&http, &base).await.len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("fewer than {n} events recorded");
        }
    };
    assert_eq!(send(chat()).await.0, 200);
    recorded(1).await;

    // 7 MiB free: under usage's reserve, over the registry's.
    let ballast = disk.fill_leaving(7 << 20);
    for _ in 0..20 {
        assert_eq!(send(chat()).await.0, 200, "a call must not wait on usage");
    }
    let (status, body) = send(
        http.post(format!("{base}/providers"))
            .json(&provider("after")),
    )
    .await;
    assert_eq!(status, 201, "the registry still takes writes: {body}");
    for _ in 0..200 {
        if server.log_text().contains("usage events dropped") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log_text();
    assert!(log.contains("usage events dropped"), "{log}");
    assert_eq!(
        all_events(&http, &base).await.len(),
        1,
        "reads still served"
    );

    std::fs::remove_file(&ballast).unwrap();
    assert_eq!(send(chat()).await.0, 200);
    recorded(2).await;
    eprintln!("usage full at {} bytes free; recording resumed", 7 << 20);
}
