use std::sync::Mutex;

use env_logger::Target;

use super::*;

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn settings(level: &str, format: LogFormat) -> LogSettings {
    LogSettings {
        level: level.into(),
        format,
        file: None,
    }
}

/// What the logger built from `settings` writes for the records `log` passes it.
fn written(settings: &LogSettings, log: impl FnOnce(&dyn Log)) -> String {
    let sink = Sink::default();
    log(&build_to(settings, Target::Pipe(Box::new(sink.clone()))));
    String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
}

fn a_call_line(logger: &dyn Log) {
    let kvs: [(&str, Value); 6] = [
        ("request_id", "01J0REQ".into()),
        ("attempt", 2u64.into()),
        ("streamed", true.into()),
        ("latency", 1.5f64.into()),
        ("route", "openai chat".into()),
        ("message", "a clash".into()),
    ];
    logger.log(
        &Record::builder()
            .args(format_args!("attempt failed: \"502\"\nfrom upstream"))
            .level(Level::Warn)
            .target("modelgate::gateway")
            .key_values(&kvs)
            .build(),
    );
}

#[test]
fn json_lines_are_one_object_each_with_every_key_value_as_a_field() {
    let out = written(&settings("info", LogFormat::Json), a_call_line);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("{\"timestamp\":"), "{out}");
    let line: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    let timestamp = line["timestamp"].as_str().unwrap();
    assert!(
        regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            .unwrap()
            .is_match(timestamp),
        "{timestamp}"
    );
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "modelgate::gateway");
    assert_eq!(line["message"], "attempt failed: \"502\"\nfrom upstream");
    assert_eq!(line["request_id"], "01J0REQ");
    assert_eq!(line["attempt"], 2);
    assert_eq!(line["streamed"], true);
    assert_eq!(line["latency"], 1.5);
    assert_eq!(line["route"], "openai chat");
    assert_eq!(line["kv.message"], "a clash");
}

#[test]
fn text_lines_keep_env_loggers_shape_with_key_values_after_the_message() {
    let out = written(&settings("info", LogFormat::Text), a_call_line);
    let shape = regex::Regex::new(
        r#"^\[\d{4}-\d\d-\d\dT[\d:.]+Z WARN  modelgate::gateway\] attempt failed: "502"\n"#,
    )
    .unwrap();
    assert!(shape.is_match(&out), "{out}");
    assert!(
        out.ends_with(
            "from upstream request_id=01J0REQ attempt=2 streamed=true latency=1.5 \
             route=\"openai chat\" message=\"a clash\"\n"
        ),
        "{out}"
    );
}

#[test]
fn the_filter_decides_what_is_written() {
    let out = written(&settings("error", LogFormat::Json), a_call_line);
    assert_eq!(out, "");
    let out = written(
        &settings("modelgate::gateway=warn", LogFormat::Json),
        a_call_line,
    );
    assert_eq!(out.lines().count(), 1, "{out}");
}

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

#[test]
fn a_demoted_record_keeps_its_key_values_and_passes_only_at_debug() {
    let parse_error = |logger: &dyn Log| {
        let kvs = [("peer", "127.0.0.1")];
        logger.log(
            &Record::builder()
                .args(format_args!("request parse error"))
                .level(Level::Error)
                .target(PARSE_ERRORS_TARGET)
                .key_values(&kvs)
                .build(),
        )
    };
    assert_eq!(written(&settings("info", LogFormat::Json), parse_error), "");
    let out = written(&settings("debug", LogFormat::Json), parse_error);
    let line: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
    assert_eq!(line["level"], "DEBUG");
    assert_eq!(line["peer"], "127.0.0.1");
}

#[test]
fn the_log_file_is_appended_to_and_opened_afresh_at_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("modelgate.log");
    std::fs::write(&path, "an earlier line\n").unwrap();
    let mut settings = settings("info", LogFormat::Json);
    settings.file = Some(path.clone());
    build(&settings).unwrap().log(
        &Record::builder()
            .args(format_args!("first"))
            .level(Level::Info)
            .build(),
    );
    let rotated = dir.path().join("modelgate.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    build(&settings).unwrap().log(
        &Record::builder()
            .args(format_args!("second"))
            .level(Level::Info)
            .build(),
    );
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.starts_with("an earlier line\n") && old.contains("first"),
        "{old}"
    );
    let new = std::fs::read_to_string(&path).unwrap();
    assert!(new.contains("second") && !new.contains("first"), "{new}");
}

#[test]
fn a_log_file_that_cannot_be_opened_is_one_line_naming_the_setting() {
    let mut settings = settings("info", LogFormat::Text);
    settings.file = Some("/nonexistent-dir/modelgate.log".into());
    let err = build(&settings).err().unwrap().to_string();
    assert!(
        err.starts_with("log.file: cannot open /nonexistent-dir/modelgate.log"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}
