//! The real binary as a user runs it: start-up, configuration errors, the generated admin
//! token, logs, graceful shutdown, secrets on disk, full disks, slow clients, memory, and
//! `kill -9` right after acknowledged writes. One module per concern; `harness` starts the
//! binary for all of them.

#[path = "../support/server.rs"]
mod server;
#[path = "../support/userns.rs"]
mod userns;

mod config_errors;
mod crash;
mod disk;
mod harness;
mod limits;
mod logs;
mod secrets;
mod shutdown;
mod startup;
mod usage_crash;
mod usage_disk;
