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
