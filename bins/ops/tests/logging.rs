//! The file sink rotates at its size and keeps its backups, and stdout keeps receiving every
//! line while the file sink is on.

use engage_ops::config::EnvReader;
use engage_ops::logging::{LogConfig, LogLevel, ServiceLogSettings};
use engage_ops::settings::Setting;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const NAMES: [Setting; 3] = [
    Setting::guide("EXCS_LOG_LEVEL", ""),
    Setting::guide("EXCS_LOG_PATH", ""),
    Setting::guide("EXCS_LOG_FILENAME", ""),
];

fn config(env: &BTreeMap<String, String>) -> LogConfig {
    let mut r = EnvReader::new(env);
    let names = ServiceLogSettings {
        level: &NAMES[0],
        path: &NAMES[1],
        file_name: &NAMES[2],
    };
    let c = LogConfig::read(&mut r, "excs", names, "101");
    r.finish().expect("valid log settings");
    c
}

#[test]
fn file_sink_rotates_at_size_keeps_backups_and_stdout_still_gets_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let env: BTreeMap<String, String> = [
        ("EXCS_LOG_PATH", dir.path().to_str().unwrap()),
        ("EXCS_LOG_FILENAME", "excs-<TENANT_ID>.log"),
        ("LOG_FILE_SIZE", "300"),
        ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
        ("LOG_FILE_LEVEL", "DEBUG"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let cfg = config(&env);
    assert_eq!(cfg.console, Some(LogLevel::Info));
    let file = cfg.file.clone().expect("file sink on with EXCS_LOG_PATH");
    assert_eq!(file.path, dir.path().join("excs-101.log"));

    let stdout = Captured::default();
    let sink = stdout.clone();
    let subscriber = engage_ops::logging::subscriber(&cfg, move || sink.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..40 {
            tracing::info!(i, "line {i} of the rotation test");
            tracing::debug!(i, "debug line {i}: file only");
        }
    });

    // stdout: every INFO line, as JSON, none of the DEBUG ones.
    let out = String::from_utf8(stdout.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 40, "{out}");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
        assert_eq!(v["level"], "INFO");
    }

    // The file: rotated past 300 bytes, the guide's `<file>.<yyyy-mm-dd>[.N]` names, and
    // only the 3 newest backups kept.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.contains(&"excs-101.log".to_string()), "{names:?}");
    let backups: Vec<&String> = names.iter().filter(|n| *n != "excs-101.log").collect();
    assert_eq!(backups.len(), 3, "{names:?}");
    let today = time::OffsetDateTime::now_local()
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .date();
    for b in &backups {
        let suffix = b.strip_prefix("excs-101.log.").expect("rotated name");
        let date = suffix.split('.').next().unwrap();
        assert_eq!(date.len(), 10, "{b}");
        assert!(date.starts_with(&today.year().to_string()), "{b}");
    }
    let mut total_info = 0;
    for n in &names {
        let text = std::fs::read_to_string(dir.path().join(n)).unwrap();
        assert!(text.len() < 300 + 400, "{n} is {} bytes", text.len());
        for l in text.lines() {
            let v: serde_json::Value = serde_json::from_str(l).expect("whole JSON lines");
            if v["level"] == "INFO" {
                total_info += 1;
            }
        }
    }
    // The oldest rotated files were deleted: fewer lines remain than were written.
    assert!(total_info > 0 && total_info < 40, "{total_info}");
}

#[test]
fn unwritable_log_path_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let env: BTreeMap<String, String> = [(
        "EXCS_LOG_PATH".to_string(),
        blocker.join("sub").to_string_lossy().into_owned(),
    )]
    .into_iter()
    .collect();
    let cfg = config(&env);
    let err = engage_ops::logging::subscriber(&cfg, std::io::sink)
        .err()
        .expect("cannot create a directory under a file");
    assert!(
        err.to_string().contains("cannot open the log file"),
        "{err}"
    );
}
