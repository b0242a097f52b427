//! The property both body fuzzers check — `tests/bodies.rs` with proptest on stable, and the
//! cargo-fuzz target next to this file — so that the two cannot drift apart: any bytes get an
//! answer without a panic, and an accepted provider is stored in sled and read back unchanged,
//! with a base URL that the OpenAPI document's pattern admits.

use std::sync::LazyLock;

use modelgate::domain::{
    CreateProvider, CreateProviderKey, NewProvider, NewProviderKey, Provider, ProviderChanges,
    ProviderKeyChanges, RotateProviderKey, Rotation, UpdateProvider, UpdateProviderKey, schema,
};
use modelgate::http::body;
use modelgate::secrets::MasterKey;
use modelgate::store::ProviderStore;
use modelgate::store::sled::SledStore;

static STORE: LazyLock<(tempfile::TempDir, SledStore)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path(), 8 << 20).unwrap();
    (dir, store)
});

static MASTER: LazyLock<MasterKey> = LazyLock::new(|| MasterKey::generate().unwrap());

/// The store's writes run on a runtime's blocking pool; one small runtime drives them here.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
});

/// The schema's pattern, with its lookahead (hence fancy-regex).
pub static BASE_URL: LazyLock<fancy_regex::Regex> =
    LazyLock::new(|| fancy_regex::Regex::new(&schema::base_url_pattern()).unwrap());

/// Every body type the API reads, parsed and validated from `bytes`.
pub fn check_body(bytes: &[u8]) {
    let created = body::parse::<CreateProvider>(bytes)
        .ok()
        .and_then(|input| NewProvider::parse(input).ok())
        .and_then(round_trip);
    if let Ok(input) = body::parse::<UpdateProvider>(bytes)
        && let Ok(changes) = ProviderChanges::parse(input)
        && let Some(provider) = created
    {
        let _ = changes.apply(&provider, 1_700_000_000_001, "fuzz");
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
}

/// Stores what the parsers accepted and reads it back; `None` when the generated
/// `providerId` was already taken (the store doing its job).
fn round_trip(new: NewProvider) -> Option<Provider> {
    // Refused only for a rule checked on the record as made (a proxy password kept from none).
    let provider = Provider::create(new.clone(), &MASTER, 1_700_000_000_000, "fuzz").ok()?;
    let store = &STORE.1;
    RUNTIME
        .block_on(store.create(provider.clone()))
        .unwrap()
        .ok()?
        .wait_blocking()
        .unwrap();
    let back = store
        .get(provider.id)
        .unwrap()
        .expect("stored provider reads back");
    assert_eq!(back, provider);
    assert_eq!(back.name, new.name);
    assert_eq!(back.base_url, new.base_url);
    assert_eq!(back.metadata, new.metadata);
    let ids: Vec<&str> = back.models.iter().map(|m| m.model_id.as_str()).collect();
    assert_eq!(ids, new.model_ids);
    assert!(
        BASE_URL.is_match(&back.base_url).unwrap(),
        "{}",
        back.base_url
    );
    assert!(url::Url::parse(&back.base_url).is_ok());
    RUNTIME
        .block_on(store.delete(provider.id, None, None))
        .unwrap()
        .unwrap()
        .wait_blocking()
        .unwrap();
    Some(back)
}
