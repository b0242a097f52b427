//! What a call used, measured as it passes: an event per attempt, handed to the usage
//! writer (`recorder`) off the hot path.

pub mod event;
pub mod recorder;
pub mod retention;
pub mod tokens;

pub use recorder::{Recorder, Writer};
