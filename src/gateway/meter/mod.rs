//! What a call used, measured as it passes: an event per attempt, handed to the usage
//! writer (`recorder`) off the hot path, and counted as it passes for the access keys'
//! budgets and token limits (`spend`).

pub mod event;
pub mod observer;
pub mod recorder;
pub mod retention;
pub mod spend;
pub mod strip;
pub mod tokens;

pub use observer::Observer;
pub use recorder::{Recorder, Writer};
