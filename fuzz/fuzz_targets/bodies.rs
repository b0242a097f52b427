//! Coverage-guided fuzzing of request bodies; the property is in `check.rs`, shared with
//! `tests/bodies.rs`.
#![no_main]

#[path = "check.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| check::check_body(bytes));
