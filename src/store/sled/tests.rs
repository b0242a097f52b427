use std::fs;

use super::*;
use crate::domain::{CreateProvider, NewProvider, Provider, now_ms};
use crate::secrets::{CryptoError, MasterKey};
use crate::store::{ProviderStore, Rejection};

#[path = "../../../tests/support/userns.rs"]
mod userns;

#[path = "../../../tests/support/fixture.rs"]
mod fixture;

fn provider(slug: &str) -> Provider {
    let new = NewProvider::parse(CreateProvider {
        provider_id: Some(slug.into()),
        name: Some("Local".into()),
        base_url: Some("http://127.0.0.1:11434/v1".into()),
        ..Default::default()
    })
    .expect("valid provider");
    Provider::create(new, &MasterKey::generate().unwrap(), now_ms(), "admin").unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A live switch to read-only cannot be staged under a running store (the kernel refuses
/// to remount with files open for writing), so the check is tried on its own, on a
/// file system mounted read-only from the start. Mounts, like the fault tests.
#[test]
fn a_read_only_file_system_is_told_apart_from_a_full_one() {
    use nix::mount::{MntFlags, MsFlags, mount, umount2};
    if !userns::runs_here(
        module_path!(),
        "a_read_only_file_system_is_told_apart_from_a_full_one",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (rw, ro) = (dir.path().join("rw"), dir.path().join("ro"));
    for (path, flags) in [(&rw, MsFlags::empty()), (&ro, MsFlags::MS_RDONLY)] {
        fs::create_dir(path).unwrap();
        mount(Some("tmpfs"), path, Some("tmpfs"), flags, Some("size=4m"))
            .expect("mounting a tmpfs (as root, or in the user namespace userns::runs_here made)");
    }
    let outcome = (writable_space(&rw), writable_space(&ro));
    for path in [&rw, &ro] {
        umount2(path, MntFlags::MNT_DETACH).unwrap();
    }
    let free = outcome.0.unwrap();
    assert!((3 << 20..=4 << 20).contains(&free), "{free}");
    assert!(matches!(outcome.1, Err(StoreError::ReadOnly)));
}

#[test]
fn a_second_store_on_the_same_dir_is_refused_while_the_first_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path(), 1 << 20).unwrap();
    let second = SledStore::open(dir.path(), 1 << 20);
    assert!(matches!(second, Err(OpenError::Locked { .. })));
}

#[test]
fn a_store_of_another_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path(), 1 << 20).unwrap());
    fs::write(dir.path().join(FORMAT_FILE), "99\n").unwrap();
    let err = SledStore::open(dir.path(), 1 << 20).err().unwrap();
    assert!(err.to_string().contains("format 99"), "{err}");
}

#[test]
fn engine_errors_become_the_stores_own_and_io_stays_io() {
    let io = StoreError::from(sled::Error::Io(io::Error::other("disk")));
    assert!(
        matches!(io, StoreError::Io(ref e) if e.to_string() == "disk"),
        "{io:?}"
    );
    let other = StoreError::from(sled::Error::Unsupported("x".into()));
    assert!(matches!(other, StoreError::Engine(_)), "{other:?}");
    // The engine's own error stays reachable as the cause, for logs that walk the chain.
    use std::error::Error as _;
    assert_eq!(io.source().unwrap().to_string(), "disk");
    assert!(other.source().unwrap().to_string().contains('x'));
}

#[test]
fn concurrent_writers_all_return_and_all_their_writes_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    runtime().block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move {
                    for j in 0..10 {
                        let p = provider(&format!("p-{i}-{j}"));
                        store
                            .create(p)
                            .await
                            .unwrap()
                            .unwrap()
                            .wait()
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(store.list(None, 1000).unwrap().items.len(), 320);
    assert_eq!(store.engine().unwrap().index.len(), 320);
}

#[test]
fn delete_removes_the_record_and_its_index_entry_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let p = provider("gone");
    runtime().block_on(async {
        store
            .create(p.clone())
            .await
            .unwrap()
            .unwrap()
            .wait()
            .await
            .unwrap();
        store
            .delete(p.id, None, None)
            .await
            .unwrap()
            .unwrap()
            .wait()
            .await
            .unwrap();
        assert!(store.get(p.id).unwrap().is_none());
        assert!(store.engine().unwrap().index.is_empty());
        assert!(matches!(
            store.delete(p.id, None, None).await.unwrap(),
            Err(Rejection::NotFound)
        ));
    });
}

#[test]
fn a_data_dir_of_format_1_is_migrated_at_open_and_keeps_every_record() {
    use crate::store::KeyStore;
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_1(dir.path());
    assert_eq!(
        fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        "1"
    );
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let providers = store.list(None, 10).unwrap().items;
    let slugs: Vec<&str> = providers.iter().map(|p| p.provider_id.as_str()).collect();
    assert_eq!(slugs, ["bare", "old-llama"]);
    let old = &providers[1];
    assert_eq!(old.name, "Old llama");
    assert_eq!(old.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(old.metadata.as_deref(), Some("from v1"));
    assert_eq!(old.surfaces[0].supported_params, ["temperature"]);
    let models: Vec<&str> = old.models.iter().map(|m| m.model_id.as_str()).collect();
    assert_eq!(models, ["tiny", "small"]);
    assert_eq!((old.version, old.settings.clone()), (1, Default::default()));
    assert_eq!(
        store
            .list_keys(Some("old-llama"), None, 10)
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        FORMAT_VERSION.to_string()
    );
    drop(store);
    let again = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(again.list(None, 10).unwrap().items, providers);
}

#[test]
fn a_migration_interrupted_before_its_marker_is_not_run_twice() {
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_1(dir.path());
    let providers = {
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let id = store.list(None, 10).unwrap().items[0].id;
        // A setting only format 2 can hold: read as format 1, it would be lost.
        let change: crate::store::UpdateFn<Provider> = Box::new(|p: &Provider| {
            let mut next = p.clone();
            next.settings.concurrency = Some(4);
            Ok(Some(next))
        });
        runtime().block_on(async {
            let written = store.update(id, change).await.unwrap().unwrap();
            written.wait().await.unwrap();
        });
        store.list(None, 10).unwrap().items
    };
    assert_eq!(providers[0].settings.concurrency, Some(4));
    // As if the process died after the migration's flush, before the marker moved.
    fs::write(dir.path().join("format-version"), "1\n").unwrap();
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.list(None, 10).unwrap().items, providers);
}

#[test]
fn a_migration_an_earlier_release_recorded_is_not_read_from_the_marker_file() {
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_1(dir.path());
    let providers = {
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let id = store.list(None, 10).unwrap().items[0].id;
        let change: crate::store::UpdateFn<Provider> = Box::new(|p: &Provider| {
            let mut next = p.clone();
            next.settings.concurrency = Some(4);
            next.settings.allow_private_network = Some(false);
            Ok(Some(next))
        });
        runtime().block_on(async {
            let written = store.update(id, change).await.unwrap().unwrap();
            written.wait().await.unwrap();
        });
        store.list(None, 10).unwrap().items
    };
    // What the format-3 release left when it died between its migration's flush and the
    // marker file: format 3 recorded inside the database, format 1 in the file.
    {
        let db = sled::open(dir.path().join("db")).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(b"format-version", &3u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    fs::write(dir.path().join("format-version"), "1\n").unwrap();
    // Read as format 1, the format-3 records would not decode, or lose what format 1 lacks.
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.list(None, 10).unwrap().items, providers);
}

fn fixture_key(dir: &std::path::Path) -> MasterKey {
    MasterKey::from_base64(&fs::read_to_string(dir.join("master.key")).unwrap()).unwrap()
}

fn seal_with(key: &MasterKey) -> impl Fn(&Provider) -> Result<Option<Provider>, CryptoError> {
    |p: &Provider| {
        Ok(p.settings
            .sealed_plaintext(key, p.id)?
            .map(|settings| Provider {
                settings,
                ..p.clone()
            }))
    }
}

#[test]
fn format_2s_plaintext_headers_are_sealed_and_gone_from_every_file_of_the_data_dir() {
    use crate::domain::settings::HeaderValue;
    use crate::store::SecretsStore;
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_2(dir.path());
    for secret in fixture::FORMAT_2_SECRETS {
        assert!(
            !fixture::files_holding(dir.path(), secret).is_empty(),
            "{secret}"
        );
    }
    let key = fixture_key(dir.path());
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let before = store.list(None, 10).unwrap().items;
    let was = before
        .iter()
        .find(|p| p.provider_id.as_str() == "old-azure");
    let was = was.unwrap();
    assert_eq!(store.seal_plaintext(&seal_with(&key)).unwrap(), Some(1));
    let after = store.list(None, 10).unwrap().items;
    let old = after.iter().find(|p| p.provider_id.as_str() == "old-azure");
    let old = old.unwrap();
    let headers = &old.settings.network.as_ref().unwrap().extra_headers;
    assert!(matches!(headers["api-key"], HeaderValue::Sealed(_)));
    assert_eq!(headers["x-tenant"], HeaderValue::Plain("homelab".into()));
    let api_key = headers["api-key"].open(&key, old.id, "api-key").unwrap();
    assert_eq!(api_key.as_str(), fixture::FORMAT_2_SECRETS[0]);
    assert_eq!(
        (old.version, old.etag()),
        (was.version, was.etag()),
        "sealing is not a change of the provider"
    );
    for secret in fixture::FORMAT_2_SECRETS {
        assert_eq!(
            fixture::files_holding(dir.path(), secret),
            Vec::<std::path::PathBuf>::new()
        );
    }
    // The rewritten store takes writes, and has nothing left to seal.
    runtime().block_on(async {
        let written = store.create(provider("after")).await.unwrap().unwrap();
        written.wait().await.unwrap();
    });
    drop(store);
    let again = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(again.seal_plaintext(&seal_with(&key)).unwrap(), None);
    assert_eq!(again.list(None, 10).unwrap().items.len(), 3);
}

#[test]
fn a_rewrite_interrupted_at_any_step_is_finished_or_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let [db, ready, old, new] = ["db", "db.ready", "db.old", "db.new"].map(|n| dir.path().join(n));
    let slugs = || {
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        let items = store.list(None, 10).unwrap().items;
        let mut slugs: Vec<_> = items
            .iter()
            .map(|p| p.provider_id.as_str().to_owned())
            .collect();
        slugs.sort();
        slugs
    };
    let write = |slug: &str| {
        let store = SledStore::open(dir.path(), 1 << 20).unwrap();
        runtime().block_on(async {
            store
                .create(provider(slug))
                .await
                .unwrap()
                .unwrap()
                .wait()
                .await
                .unwrap();
        });
    };
    let copy_dir = |from: &std::path::Path, to: &std::path::Path| {
        fs::create_dir_all(to).unwrap();
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    };
    write("first");
    // Died while copying: the partial copy is dropped, the old files kept.
    copy_dir(&db, &new);
    write("second");
    copy_dir(&db, &new);
    assert_eq!(slugs(), ["first", "second"]);
    assert!(!new.exists());
    // Died after the copy was complete (`db.ready` holds only `first`): it replaces `db`.
    copy_dir(&db, &ready);
    write("third");
    assert_eq!(slugs(), ["first", "second", "third"]);
    assert!(!ready.exists() && !old.exists());
    let before_fourth = dir.path().join("before-fourth");
    copy_dir(&db, &before_fourth);
    write("fourth");
    fs::rename(&before_fourth, &ready).unwrap();
    fs::rename(&db, &old).unwrap();
    // Died between the two renames.
    assert_eq!(slugs(), ["first", "second", "third"]);
    assert!(!ready.exists() && !old.exists() && db.exists());
}

#[test]
fn a_store_without_a_gateway_config_reads_it_as_never_written_and_keeps_one_written() {
    use crate::domain::gateway_config::GatewayConfig;
    use crate::store::GatewayConfigStore;
    let dir = tempfile::tempdir().unwrap();
    // A data dir of an earlier release has no such record.
    fixture::store_format_2(dir.path());
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(store.gateway_config().unwrap(), GatewayConfig::default());
    let written = runtime().block_on(async {
        let change = Box::new(|c: &GatewayConfig| {
            Ok(Some(GatewayConfig {
                version: c.version + 1,
                max_output_tokens: Some(64),
                ..c.clone()
            }))
        });
        let applied = store.update_gateway_config(change).await.unwrap().unwrap();
        applied.wait().await.unwrap()
    });
    assert_eq!((written.version, written.max_output_tokens), (1, Some(64)));
    // A refused change leaves it as it was.
    let refused = runtime().block_on(async {
        store
            .update_gateway_config(Box::new(|_| Err(Rejection::PreconditionFailed)))
            .await
            .unwrap()
    });
    assert!(matches!(refused, Err(Rejection::PreconditionFailed)));
    drop(store);
    let again = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(again.gateway_config().unwrap(), written);
}

#[test]
fn a_data_dir_of_format_4_opens_with_its_access_keys_allow_all() {
    use crate::auth::digest;
    use crate::store::{AccessKeyStore, ApiKeyStore, KeyStore};
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_4(dir.path());
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let access = store.all_access_keys().unwrap();
    assert_eq!(access.len(), 1);
    assert_eq!(access[0].digest, digest(fixture::FORMAT_4_ACCESS_KEY));
    assert_eq!(
        (access[0].configuration, access[0].requests_per_minute),
        (None, Some(1000))
    );
    let api = store.all_api_keys().unwrap();
    assert_eq!(api[0].digest, digest(fixture::FORMAT_4_API_KEY));
    let keys = store.list_keys(Some("fmt4"), None, 10).unwrap().items;
    let secret = fixture::FORMAT_4_KEY;
    assert_eq!(
        keys[0].key_redacted,
        format!("sk-…{}", &secret[secret.len() - 3..])
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        "5"
    );
}

#[test]
fn a_data_dir_of_format_3_opens_as_format_5_with_no_api_keys() {
    use crate::store::{AccessKeyConfigurationStore, AccessKeyStore, ApiKeyStore, KeyStore};
    let dir = tempfile::tempdir().unwrap();
    fixture::store_format_3(dir.path());
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let providers = store.list(None, 10).unwrap().items;
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].provider_id.as_str(), "fmt3");
    let keys = store.list_keys(Some("fmt3"), None, 10).unwrap().items;
    let secret = fixture::FORMAT_3_KEY;
    assert_eq!(
        keys[0].key_redacted,
        format!("sk-…{}", &secret[secret.len() - 3..])
    );
    assert!(store.all_api_keys().unwrap().is_empty());
    // Trees the format-3 release never made read as empty: no migration is needed for them.
    assert!(store.all_access_keys().unwrap().is_empty());
    assert!(store.all_configurations().unwrap().is_empty());
    assert_eq!(
        fs::read_to_string(dir.path().join("format-version"))
            .unwrap()
            .trim(),
        FORMAT_VERSION.to_string()
    );
    assert_eq!(FORMAT_VERSION, 5);
}

#[actix_web::test]
async fn api_keys_are_kept_listed_newest_first_changed_and_deleted() {
    use crate::domain::{ApiKey, NewApiKey};
    use crate::store::ApiKeyStore;
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let new = |n: u8| -> ApiKey {
        NewApiKey {
            name: Some(format!("k{n}")),
            description: None,
            metadata: None,
        }
        .into_key([n; 32], "mgk_…abcd".into(), now_ms(), "admin")
    };
    let mut made = Vec::new();
    for n in 0..3 {
        let key = store.create_api_key(new(n)).await.unwrap().unwrap();
        made.push(key.wait().await.unwrap());
    }
    let page = store.list_api_keys(None, 2).unwrap();
    assert!(page.has_more);
    assert_eq!(page.items, [made[2].clone(), made[1].clone()]);
    let rest = store.list_api_keys(Some(made[1].id), 10).unwrap();
    assert_eq!((rest.items, rest.has_more), (vec![made[0].clone()], false));
    let renamed = store
        .update_api_key(
            made[0].id,
            Box::new(|k: &ApiKey| {
                let mut next = k.clone();
                next.name = Some("renamed".into());
                Ok(Some(next))
            }),
        )
        .await
        .unwrap()
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("renamed"));
    let gone = store
        .delete_api_key(made[1].id, None)
        .await
        .unwrap()
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(gone.digest, [1; 32]);
    assert!(matches!(
        store.delete_api_key(made[1].id, None).await.unwrap(),
        Err(Rejection::NotFound)
    ));
    drop(store);
    let again = SledStore::open(dir.path(), 1 << 20).unwrap();
    let all = again.all_api_keys().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|k| k.name.as_deref() == Some("renamed")));
}

/// A key written before budgets and token limits (the record ends before them) reads as one
/// without either, through every read and a change; a key with both keeps them.
#[test]
fn an_access_key_written_before_its_limits_reads_without_them() {
    use crate::domain::budget::{Budget, BudgetPeriod};
    use crate::domain::{AccessKey, NewAccessKey};
    use crate::store::AccessKeyStore;
    let key = |n: u8, budget: Option<Budget>, tokens_per_minute| -> AccessKey {
        NewAccessKey {
            name: Some(format!("k{n}")),
            description: None,
            metadata: None,
            expires_at_ms: None,
            disabled: None,
            requests_per_minute: Some(7),
            tokens_per_minute,
            budget,
            configuration: None,
        }
        .into_key([n; 32], "mga_…abcd".into(), now_ms(), "admin")
    };
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 1 << 20).unwrap();
    let old = key(1, None, None);
    let mut bytes = codec::encode(&old).unwrap();
    // Two `None`s, one byte each, are the whole of the new fields.
    assert_eq!(bytes.split_off(bytes.len() - 2), [0, 0]);
    store
        .engine()
        .unwrap()
        .access_keys
        .insert(old.id.to_bytes(), bytes)
        .unwrap();
    let budget = Budget {
        amount_nanos: 2_500_000_000,
        period: BudgetPeriod::Month,
    };
    let new = key(2, Some(budget), Some(900));
    runtime().block_on(async {
        let made = store.create_access_key(new.clone()).await.unwrap().unwrap();
        made.wait().await.unwrap();
    });
    assert_eq!(store.get_access_key(old.id).unwrap(), Some(old.clone()));
    assert_eq!(store.all_access_keys().unwrap(), [old.clone(), new.clone()]);
    assert_eq!(
        store.list_access_keys(None, 10).unwrap().items,
        [new.clone(), old.clone()]
    );
    let changed = runtime().block_on(async {
        let change = Box::new(move |k: &AccessKey| {
            let mut next = k.clone();
            next.tokens_per_minute = Some(5);
            Ok(Some(next))
        });
        let applied = store.update_access_key(old.id, change).await.unwrap();
        applied.unwrap().wait().await.unwrap()
    });
    assert_eq!(changed.tokens_per_minute, Some(5));
    drop(store);
    let again = SledStore::open(dir.path(), 1 << 20).unwrap();
    assert_eq!(again.get_access_key(old.id).unwrap(), Some(changed));
    assert_eq!(again.get_access_key(new.id).unwrap(), Some(new));
}

/// Counts what the store tells of its writes.
#[derive(Default)]
struct Writes {
    groups: std::sync::Mutex<Vec<usize>>,
    durable: std::sync::atomic::AtomicUsize,
}

impl crate::store::WriteObserver for Writes {
    fn group_committed(&self, writes: usize) {
        self.groups.lock().unwrap().push(writes);
    }
    fn write_durable(&self, _: std::time::Duration) {
        self.durable
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn each_durable_write_and_each_group_commit_is_told_to_the_observer() {
    let dir = tempfile::tempdir().unwrap();
    let writes = Arc::new(Writes::default());
    let store = SledStore::open(dir.path(), 1 << 20)
        .unwrap()
        .with_write_observer(writes.clone());
    runtime().block_on(async {
        for slug in ["one", "two"] {
            let durable = store.create(provider(slug)).await.unwrap().unwrap();
            durable.wait().await.unwrap();
        }
        // Refused: nothing written, nothing timed.
        let taken = store.create(provider("one")).await.unwrap();
        assert!(matches!(taken, Err(Rejection::ProviderIdTaken(_))));
    });
    assert_eq!(writes.durable.load(std::sync::atomic::Ordering::Relaxed), 2);
    let groups = writes.groups.lock().unwrap().clone();
    assert_eq!(groups.iter().sum::<usize>(), 2, "{groups:?}");
}
