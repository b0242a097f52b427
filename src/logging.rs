//! The process's logger: env_logger, set up from the `[log]` settings and rebuilt from them on
//! SIGHUP, with one adjustment: actix-http reports requests it cannot even parse (a malformed
//! header, a URI past its limit) at ERROR. Anyone, token or not, can send those, so they must
//! not be able to fill the error log: such records are passed on at DEBUG, where they still
//! help whoever looks for them.
//!
//! Records carry key-values (`log::warn!(request_id = id, attempt = n; "…")`): the text format
//! puts them after the message as ` key=value`, the JSON format makes each its own field.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use env_logger::fmt::Formatter;
use log::kv::{self, Key, Value, VisitSource, VisitValue};
use log::{Level, Log, Metadata, Record};

use crate::config::{LogFormat, LogSettings};

/// Where actix-http's dispatcher logs the requests it refuses before any route sees them.
const PARSE_ERRORS_TARGET: &str = "actix_http::h1::dispatcher";

/// The fields every JSON line has; a key-value of the same name is written as `kv.<name>`.
const JSON_FIELDS: [&str; 4] = ["timestamp", "level", "target", "message"];

struct Demoting(env_logger::Logger);

impl Demoting {
    fn level_of(record: &Record) -> Level {
        if record.target() == PARSE_ERRORS_TARGET && record.level() < Level::Debug {
            Level::Debug
        } else {
            record.level()
        }
    }

    /// The most verbose level any record may need to be let through at.
    fn max_level(&self) -> log::LevelFilter {
        self.0.filter().max(log::LevelFilter::Debug)
    }
}

impl Log for Demoting {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // The level a record will have once passed on decides; anything from the dispatcher
        // may turn into DEBUG.
        if metadata.target() == PARSE_ERRORS_TARGET {
            return self.0.enabled(
                &Metadata::builder()
                    .level(Level::Debug)
                    .target(metadata.target())
                    .build(),
            );
        }
        self.0.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        let level = Demoting::level_of(record);
        if level == record.level() {
            return self.0.log(record);
        }
        let demoted = record.to_builder().level(level).build();
        if self.0.matches(&demoted) {
            self.0.log(&demoted);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// The logger installed for the process: whichever `Demoting` was built last.
struct Switch(Arc<ArcSwap<Demoting>>);

impl Log for Switch {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.0.load().enabled(metadata)
    }

    fn log(&self, record: &Record) {
        self.0.load().log(record);
    }

    fn flush(&self) {
        self.0.load().flush();
    }
}

#[derive(Debug, thiserror::Error)]
#[error("log.file: cannot open {path} for appending: {source}")]
pub struct LogError {
    path: String,
    source: io::Error,
}

/// The installed logger, to rebuild from new settings (SIGHUP).
pub struct Logging {
    current: Arc<ArcSwap<Demoting>>,
    settings: LogSettings,
}

impl Logging {
    /// The settings the logger was last built from.
    pub fn settings(&self) -> &LogSettings {
        &self.settings
    }

    /// Rebuilds the logger from `settings`, opening the log file afresh (the same path too: a
    /// file logrotate renamed is let go, and a new one created at the path). When the file
    /// cannot be opened the logger stays as it was.
    pub fn apply(&mut self, settings: &LogSettings) -> Result<(), LogError> {
        let logger = build(settings)?;
        log::set_max_level(logger.max_level());
        self.current.store(Arc::new(logger));
        self.settings = settings.clone();
        Ok(())
    }
}

/// Installs the process's logger for `settings`. Called a second time in one process, the
/// returned handle drives a logger that is not the installed one.
pub fn init(settings: &LogSettings) -> Result<Logging, LogError> {
    let logger = build(settings)?;
    let max = logger.max_level();
    let current = Arc::new(ArcSwap::from_pointee(logger));
    if log::set_boxed_logger(Box::new(Switch(Arc::clone(&current)))).is_ok() {
        log::set_max_level(max);
    }
    Ok(Logging {
        current,
        settings: settings.clone(),
    })
}

fn build(settings: &LogSettings) -> Result<Demoting, LogError> {
    let target = match &settings.file {
        Some(path) => env_logger::Target::Pipe(Box::new(open_appending(path)?)),
        None => env_logger::Target::Stderr,
    };
    Ok(build_to(settings, target))
}

fn build_to(settings: &LogSettings, target: env_logger::Target) -> Demoting {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&settings.level);
    match settings.format {
        LogFormat::Text => builder
            .format_timestamp_millis()
            .format_key_values(text_key_values),
        LogFormat::Json => builder.format(json_line),
    };
    Demoting(builder.target(target).build())
}

/// env_logger writes each line with one `write_all`, so with `O_APPEND` lines from several
/// threads (or a second process) never interleave within a line.
fn open_appending(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|source| LogError {
            path: path.display().to_string(),
            source,
        })
}

/// ` key=value` after the message; a value that is empty or holds a space, `=` or `"` is
/// quoted, so every pair can be split out again.
fn text_key_values(buf: &mut Formatter, fields: &dyn kv::Source) -> io::Result<()> {
    struct Pairs<'a>(&'a mut Formatter);
    impl<'kvs> VisitSource<'kvs> for Pairs<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
            let text = value.to_string();
            if text.is_empty() || text.contains([' ', '=', '"', '\n', '\t']) {
                write!(self.0, " {key}={text:?}")?;
            } else {
                write!(self.0, " {key}={text}")?;
            }
            Ok(())
        }
    }
    fields.visit(&mut Pairs(buf)).map_err(io::Error::other)
}

/// One JSON object, one line: timestamp (RFC 3339, UTC), level, target, message, then each
/// key-value as its own field, in the order logged, numbers and booleans keeping their type.
fn json_line(buf: &mut Formatter, record: &Record) -> io::Result<()> {
    struct Fields(Vec<(String, serde_json::Value)>);
    impl<'kvs> VisitSource<'kvs> for Fields {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
            let mut json = JsonValue(serde_json::Value::Null);
            value.visit(&mut json)?;
            let key = match key.as_str() {
                k if JSON_FIELDS.contains(&k) => format!("kv.{k}"),
                k => k.to_owned(),
            };
            // A key logged twice would make a line JSON readers disagree on: the last wins.
            self.0.retain(|(k, _)| *k != key);
            self.0.push((key, json.0));
            Ok(())
        }
    }
    let mut fields = Fields(Vec::new());
    record
        .key_values()
        .visit(&mut fields)
        .map_err(io::Error::other)?;
    let timestamp = buf.timestamp_millis().to_string();
    let message = record.args().to_string();
    let fixed = [
        timestamp.as_str(),
        record.level().as_str(),
        record.target(),
        message.as_str(),
    ];
    let mut line = Vec::with_capacity(128 + message.len());
    for (i, (key, value)) in JSON_FIELDS.iter().zip(fixed).enumerate() {
        line.push(if i == 0 { b'{' } else { b',' });
        serde_json::to_writer(&mut line, key)?;
        line.push(b':');
        serde_json::to_writer(&mut line, value)?;
    }
    for (key, value) in &fields.0 {
        line.push(b',');
        serde_json::to_writer(&mut line, key)?;
        line.push(b':');
        serde_json::to_writer(&mut line, value)?;
    }
    line.extend_from_slice(b"}\n");
    buf.write_all(&line)
}

struct JsonValue(serde_json::Value);

impl<'v> VisitValue<'v> for JsonValue {
    fn visit_any(&mut self, value: Value) -> Result<(), kv::Error> {
        self.0 = value.to_string().into();
        Ok(())
    }
    fn visit_null(&mut self) -> Result<(), kv::Error> {
        self.0 = serde_json::Value::Null;
        Ok(())
    }
    fn visit_u64(&mut self, value: u64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_i64(&mut self, value: i64) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_f64(&mut self, value: f64) -> Result<(), kv::Error> {
        // JSON has no NaN or infinity: those stay readable as text.
        self.0 = serde_json::Number::from_f64(value)
            .map_or_else(|| value.to_string().into(), serde_json::Value::Number);
        Ok(())
    }
    fn visit_bool(&mut self, value: bool) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
    fn visit_str(&mut self, value: &str) -> Result<(), kv::Error> {
        self.0 = value.into();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
