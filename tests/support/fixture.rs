//! Data dirs committed under `tests/fixtures/`, copied into a scratch dir before a test opens
//! them (opening a store writes to it, and a test run leaves the checkout as it found it).

use std::fs;
use std::path::Path;

/// Copies `tests/fixtures/store-format-1` — a data dir the release before store format 2
/// wrote: two providers (one with surfaces, parameters, two models and metadata) and a sealed
/// key, with its master key and admin token — into `to`.
pub fn store_format_1(to: &Path) {
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-format-1"),
        to,
    );
}

/// Copies `tests/fixtures/store-format-2` — a data dir the release before store format 3
/// wrote: provider `old-azure` with extra headers `api-key` and `x-auth-token` in the clear
/// ([`FORMAT_2_SECRETS`]) and `x-tenant: homelab`, and provider `old-plain` with no settings,
/// with its master key and admin token — into `to`.
pub fn store_format_2(to: &Path) {
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-format-2"),
        to,
    );
}

/// Copies `tests/fixtures/store-format-3` — a data dir the release before store format 4
/// wrote: provider `fmt3` (model `tiny`) and its key `fmt3 key` of value [`FORMAT_3_KEY`],
/// with its master key — into `to`.
pub fn store_format_3(to: &Path) {
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-format-3"),
        to,
    );
}

/// Copies `tests/fixtures/store-format-4` — a data dir the release before store format 5
/// wrote: provider `fmt4` (model `tiny`) with its key `fmt4 key` of value [`FORMAT_4_KEY`], the
/// management API key `fmt4 ops` ([`FORMAT_4_API_KEY`]) and the access key `fmt4 app`
/// ([`FORMAT_4_ACCESS_KEY`], 1,000 requests per minute) — into `to`.
pub fn store_format_4(to: &Path) {
    copy(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-format-4"),
        to,
    );
}

/// The tokens and provider key `store-format-4` was made with: only their digests (and the key,
/// sealed) are in it.
pub const FORMAT_4_KEY: &str = "sk-fmt4-upstream-8888";
pub const FORMAT_4_API_KEY: &str = "mgk_HsdWQjQsRo1a4NNF23Rby2S6YfTD4z5LbivATOs6448";
pub const FORMAT_4_ACCESS_KEY: &str = "mga__Fnse1WJljF5-9kiCKDSB13xpuZf7WnPXHq67qSDLl8";

/// The value of the provider key `store-format-3` holds (sealed).
pub const FORMAT_3_KEY: &str = "sk-fmt3-upstream-7777";

/// The credential header values `store-format-2` holds in the clear.
pub const FORMAT_2_SECRETS: [&str; 2] = ["fmt2-plain-api-key-4242", "fmt2-plain-token-5151"];

/// The files under `dir` whose bytes hold `needle`.
pub fn files_holding(dir: &Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path);
        }
    }
    found
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
