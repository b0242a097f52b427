//! The data dir's own files beside the engine: the lock that keeps a second process out, and
//! the marker that says which store format the dir holds.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::Path;

use super::OpenError;
use crate::files::write_durably;

/// Bumped whenever the on-disk layout changes incompatibly, with a migration from each earlier
/// format in `migrate`. 2: providers gained their settings. 3: credential headers sealed.
/// 4: management API keys and access keys (new trees; earlier records are read as they are).
pub const FORMAT_VERSION: u32 = 5;
/// The oldest format `migrate` brings up to date.
const OLDEST_MIGRATED: u32 = 1;
pub(super) const FORMAT_FILE: &str = "format-version";
const LOCK_FILE: &str = "modelgate.lock";
pub(super) const DB_DIR: &str = "db";

/// Takes an exclusive lock on `<dir>/modelgate.lock` and records our pid in it, so that a
/// second modelgate on the same dir fails at once with a message naming the holder.
pub(super) fn lock_data_dir(dir: &Path) -> Result<File, OpenError> {
    let path = dir.join(LOCK_FILE);
    let not_writable = |source| OpenError::NotWritable {
        path: dir.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(not_writable)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(OpenError::Locked {
                path: dir.to_owned(),
                holder: if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                },
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(not_writable(e)),
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .map_err(not_writable)?;
    Ok(file)
}

/// Answers the older format the dir holds, which must be migrated before use, or `None` when
/// it holds this one (or is new, when the marker is written now).
pub(super) fn check_format_marker(dir: &Path) -> Result<Option<u32>, OpenError> {
    let marker = dir.join(FORMAT_FILE);
    match fs::read_to_string(&marker) {
        Ok(found) if found.trim() == FORMAT_VERSION.to_string() => Ok(None),
        Ok(found)
            if let Ok(old @ OLDEST_MIGRATED..FORMAT_VERSION) = found.trim().parse::<u32>() =>
        {
            Ok(Some(old))
        }
        Ok(found) => Err(OpenError::Format {
            path: dir.to_owned(),
            found: found.trim().chars().take(32).collect(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if dir.join(DB_DIR).exists() {
                return Err(OpenError::NoMarker {
                    path: dir.to_owned(),
                });
            }
            write_marker(dir).map(|()| None)
        }
        Err(source) => Err(OpenError::NotWritable {
            path: dir.to_owned(),
            source,
        }),
    }
}

/// Records that the dir holds this format, durably.
pub(super) fn write_marker(dir: &Path) -> Result<(), OpenError> {
    write_durably(
        &dir.join(FORMAT_FILE),
        format!("{FORMAT_VERSION}\n").as_bytes(),
    )
    .map_err(|source| OpenError::NotWritable {
        path: dir.to_owned(),
        source,
    })
}
