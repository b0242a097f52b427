//! Logging set up from settings, with one adjustment: actix-http reports requests it cannot
//! even parse (a malformed header, a URI past its limit) at ERROR. Anyone, token or not, can
//! send those, so they must not be able to fill the error log: such records are passed on at
//! DEBUG, where they still help whoever looks for them.

use log::{Level, Log, Metadata, Record};

/// Where actix-http's dispatcher logs the requests it refuses before any route sees them.
const PARSE_ERRORS_TARGET: &str = "actix_http::h1::dispatcher";

struct Demoting(env_logger::Logger);

impl Demoting {
    fn level_of(record: &Record) -> Level {
        if record.target() == PARSE_ERRORS_TARGET && record.level() < Level::Debug {
            Level::Debug
        } else {
            record.level()
        }
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
        let demoted = Record::builder()
            .args(*record.args())
            .level(level)
            .target(record.target())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if self.0.matches(&demoted) {
            self.0.log(&demoted);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Installs the process's logger for `filters` (`RUST_LOG` syntax).
pub fn init(filters: &str) {
    let logger = env_logger::Builder::new()
        .parse_filters(filters)
        .format_timestamp_millis()
        .build();
    let max = logger.filter().max(log::LevelFilter::Debug);
    if log::set_boxed_logger(Box::new(Demoting(logger))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dispatchers_parse_errors_are_demoted_and_nothing_else() {
        let record = |target: &'static str, level| {
            Demoting::level_of(
                &Record::builder()
                    .args(format_args!("stream error"))
                    .target(target)
                    .level(level)
                    .build(),
            )
        };
        assert_eq!(record(PARSE_ERRORS_TARGET, Level::Error), Level::Debug);
        assert_eq!(record(PARSE_ERRORS_TARGET, Level::Warn), Level::Debug);
        assert_eq!(record(PARSE_ERRORS_TARGET, Level::Trace), Level::Trace);
        assert_eq!(record("modelgate::startup", Level::Error), Level::Error);
    }
}
