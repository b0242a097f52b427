//! Coverage-guided fuzzing of request bodies: every byte string gets an answer (no panic), and
//! every accepted provider is stored and read back unchanged.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use modelgate::body;
use modelgate::domain::{
    CreateProvider, CreateProviderKey, NewProvider, NewProviderKey, Provider, ProviderChanges,
    ProviderKeyChanges, RotateProviderKey, Rotation, UpdateProvider, UpdateProviderKey,
};
use modelgate::store::ProviderStore;
use modelgate::store::sled::SledStore;

static STORE: LazyLock<(tempfile::TempDir, SledStore)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 8 << 20).unwrap();
    (dir, store)
});

fuzz_target!(|bytes: &[u8]| {
    if let Ok(input) = body::parse::<CreateProvider>(bytes)
        && let Ok(new) = NewProvider::parse(input)
    {
        let provider = Provider::create(new.clone(), 1_700_000_000_000, "fuzz");
        let store = &STORE.1;
        if let Ok(write) = store.create(&provider).unwrap() {
            write.wait_blocking().unwrap();
            let back = store
                .get(provider.id)
                .unwrap()
                .expect("stored provider reads back");
            assert_eq!(back, provider);
            assert_eq!(back.base_url, new.base_url);
            let ids: Vec<&str> = back.models.iter().map(|m| m.model_id.as_str()).collect();
            assert_eq!(ids, new.model_ids);
            store
                .delete(provider.id, None, false)
                .unwrap()
                .unwrap()
                .wait_blocking()
                .unwrap();
        }
        if let Ok(input) = body::parse::<UpdateProvider>(bytes)
            && let Ok(changes) = ProviderChanges::parse(input)
        {
            let _ = changes.apply(&provider, 1_700_000_000_001, "fuzz");
        }
    }
    if let Ok(input) = body::parse::<UpdateProvider>(bytes) {
        let _ = ProviderChanges::parse(input);
    }
    if let Ok(input) = body::parse::<CreateProviderKey>(bytes) {
        let _ = NewProviderKey::parse(input);
    }
    if let Ok(input) = body::parse::<UpdateProviderKey>(bytes) {
        let _ = ProviderKeyChanges::parse(input);
    }
    if let Ok(input) = body::parse::<RotateProviderKey>(bytes) {
        let _ = Rotation::parse(input);
    }
});
