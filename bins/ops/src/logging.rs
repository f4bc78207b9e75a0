//! Logging as the deployment guide's logging table says.
//!
//! - JSON lines to stdout by default (`LOG_CONSOLE_ENABLE` true, `LOG_JSON_ENABLE` true).
//! - A file sink that *adds* to stdout, never replaces it: on when `<SERVICE>_LOG_PATH` is set
//!   (the file is `<SERVICE>_LOG_PATH/<SERVICE>_LOG_FILE_NAME`, default `<service>.log`) or when
//!   `LOG_FILE_ENABLE` is true (the file is `LOG_FILE_PATH`, default `/rup/logs/ccerp.log`, the
//!   guide's). `LOG_FILE_ENABLE=false` turns it off even with a path.
//! - The file rotates once it passes `LOG_FILE_SIZE` (default `50M`); the rotated file gets the
//!   date and, from the second rotation of a day on, a number, as the guide's example
//!   `ccerp.log.2020-05-19.1`; `LOG_FILE_MAX_BACKUP_INDEX` rotated files are kept (the guide
//!   gives no default; ours is 10), older ones are deleted. Rotation is the `file-rotate`
//!   crate's.
//! - Levels, case-insensitive, as the guide lists them: `OFF`, `FATAL`, `ERROR`, `WARN`,
//!   `INFO`, `DEBUG`, `TRACE`, `ALL` (tracing has no fatal level: `FATAL` logs errors only,
//!   `ALL` is `TRACE`). `<SERVICE>_LOG_LEVEL` (default `info`) sets both sinks;
//!   `LOG_CONSOLE_LEVEL` and `LOG_FILE_LEVEL` override it for one sink. `RUST_LOG` (ours), when
//!   set, replaces the levels of both sinks with tracing filter directives
//!   (`info,engage_excs=debug`).
//! - File name patterns of the guide's examples are expanded once, at start:
//!   `<TENANT_ID>` / `{TENANT_ID}`, `<HOSTNAME>` / `{HOSTNAME}`, and the start time's `%Y`,
//!   `%m`, `%d`, `%H`, `%M`, `%S`, `%L` (milliseconds), in UTC.

use crate::config::EnvReader;
use crate::settings::{Setting, SettingGroup};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// A level as the guide names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Critical failures (logged as tracing's ERROR).
    Fatal,
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Lifecycle events (the default).
    Info,
    /// Extra information for debugging.
    Debug,
    /// Per-request detail.
    Trace,
    /// Everything (tracing's TRACE).
    All,
}

/// A level name that is none of the guide's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a log level (off, fatal, error, warn, info, debug, trace, all)")]
pub struct ParseLevelError(String);

impl FromStr for LogLevel {
    type Err = ParseLevelError;
    fn from_str(s: &str) -> Result<LogLevel, ParseLevelError> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "off" => LogLevel::Off,
            "fatal" => LogLevel::Fatal,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            "all" => LogLevel::All,
            _ => return Err(ParseLevelError(s.to_string())),
        })
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Off => "off",
            LogLevel::Fatal => "fatal",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
            LogLevel::All => "all",
        })
    }
}

impl LogLevel {
    /// tracing's name for it (a filter directive).
    pub fn tracing_directive(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Fatal | LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace | LogLevel::All => "trace",
        }
    }
}

/// Maps a level name onto tracing's (unknown names: `info`).
pub fn tracing_level(level: &str) -> &'static str {
    level
        .parse::<LogLevel>()
        .map_or("info", LogLevel::tracing_directive)
}

/// The rotating file sink.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileSink {
    /// The file written (rotated files sit beside it).
    pub path: PathBuf,
    /// Its level.
    pub level: LogLevel,
    /// Rotate once the file passes this many bytes (`LOG_FILE_SIZE`).
    pub max_bytes: u64,
    /// Rotated files kept (`LOG_FILE_MAX_BACKUP_INDEX`).
    pub max_backups: usize,
}

/// Where and how a service logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogConfig {
    /// `<SERVICE>_LOG_LEVEL` (default info).
    pub level: LogLevel,
    /// The console (stdout) sink's level; `None` when `LOG_CONSOLE_ENABLE` is false.
    pub console: Option<LogLevel>,
    /// JSON lines (`LOG_JSON_ENABLE`, default) or text.
    pub json: bool,
    /// The file sink, when on.
    pub file: Option<FileSink>,
    /// `RUST_LOG` filter directives replacing the levels (ours).
    pub directives: Option<String>,
}

impl Default for LogConfig {
    /// JSON at INFO to stdout, no file.
    fn default() -> LogConfig {
        LogConfig {
            level: LogLevel::Info,
            console: Some(LogLevel::Info),
            json: true,
            file: None,
            directives: None,
        }
    }
}

/// `LOG_FILE_SIZE`'s default, the guide's 50 MB.
pub const DEFAULT_FILE_SIZE: u64 = 50 * 1024 * 1024;
/// `LOG_FILE_MAX_BACKUP_INDEX`'s default (ours: the guide gives none).
pub const DEFAULT_MAX_BACKUPS: usize = 10;
/// `LOG_FILE_PATH`'s default, the guide's.
pub const DEFAULT_FILE_PATH: &str = "/rup/logs/ccerp.log";

/// The logging settings every service shares (the guide's logging table, and `RUST_LOG`).
pub const LOG_SETTINGS: SettingGroup = SettingGroup::new(
    "Logging (every service)",
    &[
        Setting::guide("LOG_CONSOLE_ENABLE", "log to stdout").default_value("true"),
        Setting::guide(
            "LOG_CONSOLE_LEVEL",
            "stdout's level: off, fatal, error, warn, info, debug, trace, all",
        )
        .default_value("<SERVICE>_LOG_LEVEL, else INFO"),
        Setting::guide("LOG_JSON_ENABLE", "JSON lines (else text), for every sink")
            .default_value("true"),
        Setting::guide(
            "LOG_FILE_ENABLE",
            "also log to a file (stdout stays on); true when <SERVICE>_LOG_PATH is set",
        )
        .default_value("false"),
        Setting::guide(
            "LOG_FILE_PATH",
            "the file, when LOG_FILE_ENABLE is true and <SERVICE>_LOG_PATH is not set",
        )
        .default_value(DEFAULT_FILE_PATH),
        Setting::guide("LOG_FILE_LEVEL", "the file's level (names as LOG_CONSOLE_LEVEL)")
            .default_value("<SERVICE>_LOG_LEVEL, else INFO"),
        Setting::guide(
            "LOG_FILE_SIZE",
            "rotate the file once it passes this size: bytes, or with K, M, G (e.g. 50M); rotated files are named <file>.<yyyy-mm-dd>[.N]",
        )
        .default_value("50M"),
        Setting::guide(
            "LOG_FILE_MAX_BACKUP_INDEX",
            "rotated files kept; older ones are deleted (the guide gives no default)",
        )
        .default_value("10"),
        Setting::ours(
            "RUST_LOG",
            "tracing filter directives (e.g. info,engage_excs=debug) replacing the levels of both sinks",
        ),
    ],
);

/// A service's own logging variables (the first name of each is the one used in messages):
/// `<SERVICE>_LOG_LEVEL`, `<SERVICE>_LOG_PATH`, `<SERVICE>_LOG_FILE_NAME`, with the aliases
/// the service accepts. Its table lists the same three [`Setting`]s.
#[derive(Debug, Clone, Copy)]
pub struct ServiceLogSettings<'a> {
    /// `<SERVICE>_LOG_LEVEL`.
    pub level: &'a Setting,
    /// `<SERVICE>_LOG_PATH`.
    pub path: &'a Setting,
    /// `<SERVICE>_LOG_FILE_NAME`.
    pub file_name: &'a Setting,
}

/// The description of `<SERVICE>_LOG_LEVEL` in the tables.
pub const LEVEL_HELP: &str =
    "the service's log level: off, fatal, error, warn, info, debug, trace, all (both sinks)";
/// The description of `<SERVICE>_LOG_PATH` in the tables.
pub const PATH_HELP: &str =
    "directory of the log file; when set, logs also go to a file there (stdout stays on)";
/// The description of `<SERVICE>_LOG_FILE_NAME` in the tables.
pub const FILE_NAME_HELP: &str = "log file name in <SERVICE>_LOG_PATH; <TENANT_ID>, {HOSTNAME}, %Y%m%d_%H%M%S_%L (start time) are expanded";

fn first_of(env: &EnvReader<'_>, s: &Setting) -> Option<(&'static str, String)> {
    s.names().find_map(|n| env.optional(n).map(|v| (n, v)))
}

fn level_of(env: &mut EnvReader<'_>, name: &str, value: &str) -> Option<LogLevel> {
    match value.parse::<LogLevel>() {
        Ok(l) => Some(l),
        Err(e) => {
            env.invalid(name, &e.to_string());
            None
        }
    }
}

/// Parses `50M`, `10k`, `1G`, `4096`, `50MB` into bytes (K = 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1024u64),
        Some('m') => (&t[..t.len() - 1], 1024 * 1024),
        Some('g') => (&t[..t.len() - 1], 1024 * 1024 * 1024),
        _ => (t, 1),
    };
    match digits.trim().parse::<u64>() {
        Ok(n) if n > 0 => n
            .checked_mul(mult)
            .ok_or_else(|| format!("`{s}` is too large")),
        _ => Err(format!("`{s}` is not a size such as 50M, 512K or 1048576")),
    }
}

/// Expands the guide's file name patterns: `<TENANT_ID>`, `{TENANT_ID}`, `<HOSTNAME>`,
/// `{HOSTNAME}`, and `%Y %m %d %H %M %S %L %%` of `now`.
pub fn expand_file_name(
    pattern: &str,
    tenant_id: &str,
    hostname: &str,
    now: time::OffsetDateTime,
) -> String {
    let named = pattern
        .replace("<TENANT_ID>", tenant_id)
        .replace("{TENANT_ID}", tenant_id)
        .replace("<HOSTNAME>", hostname)
        .replace("{HOSTNAME}", hostname);
    let mut out = String::with_capacity(named.len());
    let mut chars = named.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{:04}", now.year())),
            Some('m') => out.push_str(&format!("{:02}", u8::from(now.month()))),
            Some('d') => out.push_str(&format!("{:02}", now.day())),
            Some('H') => out.push_str(&format!("{:02}", now.hour())),
            Some('M') => out.push_str(&format!("{:02}", now.minute())),
            Some('S') => out.push_str(&format!("{:02}", now.second())),
            Some('L') => out.push_str(&format!("{:03}", now.millisecond())),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

impl LogConfig {
    /// Reads the guide's logging variables for `service` (`excs`, …, the default file name's
    /// stem) with its own three `names`; problems are recorded in `env`. `tenant_id` fills
    /// the file name pattern.
    pub fn read(
        env: &mut EnvReader<'_>,
        service: &str,
        names: ServiceLogSettings<'_>,
        tenant_id: &str,
    ) -> LogConfig {
        let level = match first_of(env, names.level) {
            Some((n, v)) => level_of(env, n, &v).unwrap_or(LogLevel::Info),
            None => LogLevel::Info,
        };
        let sink_level = |env: &mut EnvReader<'_>, name: &str| match env.optional(name) {
            Some(v) => level_of(env, name, &v).unwrap_or(level),
            None => level,
        };
        let console_on = env.flag("LOG_CONSOLE_ENABLE", true);
        let console_level = sink_level(env, "LOG_CONSOLE_LEVEL");
        let json = env.flag("LOG_JSON_ENABLE", true);
        let dir = first_of(env, names.path).map(|(_, v)| PathBuf::from(v));
        let file_name = first_of(env, names.file_name).map(|(_, v)| v);
        let file_on = env.flag("LOG_FILE_ENABLE", dir.is_some());
        let file_path = env.optional("LOG_FILE_PATH");
        let file_level = sink_level(env, "LOG_FILE_LEVEL");
        let max_bytes = match env.optional("LOG_FILE_SIZE") {
            None => DEFAULT_FILE_SIZE,
            Some(v) => parse_size(&v).unwrap_or_else(|why| {
                env.invalid("LOG_FILE_SIZE", &why);
                DEFAULT_FILE_SIZE
            }),
        };
        let max_backups = env.parsed_or::<usize>("LOG_FILE_MAX_BACKUP_INDEX", DEFAULT_MAX_BACKUPS);
        let directives = env.optional("RUST_LOG");
        if let Some(d) = &directives
            && let Err(e) = EnvFilter::builder().parse(d)
        {
            env.invalid("RUST_LOG", &e.to_string());
        }
        let file = file_on.then(|| {
            let path = match dir {
                Some(dir) => {
                    let pattern = file_name.unwrap_or_else(|| format!("{service}.log"));
                    dir.join(expand_file_name(
                        &pattern,
                        tenant_id,
                        &hostname(),
                        time::OffsetDateTime::now_utc(),
                    ))
                }
                None => PathBuf::from(file_path.unwrap_or_else(|| DEFAULT_FILE_PATH.into())),
            };
            FileSink {
                path,
                level: file_level,
                max_bytes,
                max_backups,
            }
        });
        LogConfig {
            level,
            console: console_on.then_some(console_level),
            json,
            file,
            directives,
        }
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log file (or its directory) cannot be created or opened.
    #[error("cannot open the log file {path}: {source}; check <SERVICE>_LOG_PATH / LOG_FILE_PATH")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `RUST_LOG` does not parse.
    #[error("RUST_LOG: {0}")]
    Directives(String),
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

fn filter(cfg: &LogConfig, level: LogLevel) -> Result<EnvFilter, LogError> {
    let directives = cfg
        .directives
        .clone()
        .unwrap_or_else(|| level.tracing_directive().to_string());
    EnvFilter::builder()
        .parse(directives)
        .map_err(|e| LogError::Directives(e.to_string()))
}

fn sink<W>(json: bool, ansi: bool, writer: W, filter: EnvFilter) -> BoxedLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi);
    if json {
        layer.json().with_filter(filter).boxed()
    } else {
        layer.with_filter(filter).boxed()
    }
}

/// Opens the rotating file of `sink` (creating its directory).
pub fn open_file(
    sink: &FileSink,
) -> Result<file_rotate::FileRotate<file_rotate::suffix::AppendTimestamp>, LogError> {
    use file_rotate::suffix::{AppendTimestamp, DateFrom, FileLimit};
    use file_rotate::{ContentLimit, FileRotate, compression::Compression};
    let err = |source| LogError::File {
        path: sink.path.clone(),
        source,
    };
    // The crate panics where it cannot create the directory or find a relative path's
    // parent: do both first, and fail with a typed error instead.
    let path = std::path::absolute(&sink.path).map_err(err)?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(err)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(err)?;
    let bytes = usize::try_from(sink.max_bytes.max(1)).unwrap_or(usize::MAX);
    Ok(FileRotate::new(
        path,
        AppendTimestamp::with_format(
            "%Y-%m-%d",
            FileLimit::MaxFiles(sink.max_backups),
            DateFrom::Now,
        ),
        ContentLimit::BytesSurpassed(bytes),
        Compression::None,
        None,
    ))
}

/// The layers of `cfg`: the console sink on `stdout` and the file sink, each with its level.
pub fn layers<W>(cfg: &LogConfig, stdout: W) -> Result<Vec<BoxedLayer>, LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut layers = Vec::new();
    if let Some(level) = cfg.console {
        layers.push(sink(cfg.json, !cfg.json, stdout, filter(cfg, level)?));
    }
    if let Some(file) = &cfg.file {
        let writer = std::sync::Mutex::new(open_file(file)?);
        layers.push(sink(cfg.json, false, writer, filter(cfg, file.level)?));
    }
    Ok(layers)
}

/// A subscriber for `cfg` writing its console sink to `stdout` (tests pass a buffer; use it
/// with `tracing::subscriber::with_default`).
pub fn subscriber<W>(
    cfg: &LogConfig,
    stdout: W,
) -> Result<impl tracing::Subscriber + Send + Sync + 'static, LogError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Ok(Registry::default().with(layers(cfg, stdout)?))
}

/// Installs the global subscriber for `cfg` (stdout and the file sink). Call once per
/// process, from a binary; a second call keeps the first subscriber. `service` names the
/// service in the error.
pub fn init(service: &str, cfg: &LogConfig) -> Result<(), LogError> {
    let _ = service;
    let sub = subscriber(cfg, std::io::stdout)?;
    // A second init (tests, the all-in-one binary) keeps the first subscriber.
    let _ = sub.try_init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const S: [Setting; 3] = [
        Setting::guide("X_LOG_LEVEL", LEVEL_HELP).aliases(&["X_1_LOG_LEVEL"]),
        Setting::guide("X_LOG_PATH", PATH_HELP),
        Setting::guide("X_LOG_FILE_NAME", FILE_NAME_HELP).aliases(&["X_LOG_FILENAME"]),
    ];

    fn read(env: &BTreeMap<&str, &str>) -> Result<LogConfig, crate::config::ConfigError> {
        let mut r = EnvReader::new(env);
        let names = ServiceLogSettings {
            level: &S[0],
            path: &S[1],
            file_name: &S[2],
        };
        let c = LogConfig::read(&mut r, "x", names, "101");
        r.finish().map(|()| c)
    }

    #[test]
    fn spec_levels_map_to_tracing() {
        assert_eq!(tracing_level("FATAL"), "error");
        assert_eq!(tracing_level("warn"), "warn");
        assert_eq!(tracing_level("ALL"), "trace");
        assert_eq!(tracing_level("OFF"), "off");
        assert_eq!(tracing_level("nonsense"), "info");
    }

    #[test]
    fn defaults_are_the_guides() {
        let c = read(&BTreeMap::new()).unwrap();
        assert_eq!(c, LogConfig::default());
        let c = read(&BTreeMap::from([("LOG_FILE_ENABLE", "true")])).unwrap();
        let f = c.file.unwrap();
        assert_eq!(f.path, PathBuf::from("/rup/logs/ccerp.log"));
        assert_eq!(f.max_bytes, 50 * 1024 * 1024);
        assert_eq!(c.console, Some(LogLevel::Info), "the file adds to stdout");
    }

    #[test]
    fn service_variables_sinks_and_levels() {
        let c = read(&BTreeMap::from([
            ("X_1_LOG_LEVEL", "DEBUG"),
            ("X_LOG_PATH", "/var/log/x"),
            ("X_LOG_FILENAME", "x-<TENANT_ID>.%Y.log"),
            ("LOG_FILE_LEVEL", "ALL"),
            ("LOG_FILE_SIZE", "1k"),
            ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
        ]))
        .unwrap();
        assert_eq!(c.level, LogLevel::Debug);
        assert_eq!(c.console, Some(LogLevel::Debug));
        let f = c.file.unwrap();
        assert_eq!(f.level, LogLevel::All);
        assert_eq!(f.max_bytes, 1024);
        assert_eq!(f.max_backups, 3);
        let name = f.path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("x-101.20") && name.ends_with(".log"),
            "{name}"
        );
        let c = read(&BTreeMap::from([
            ("X_LOG_PATH", "/var/log/x"),
            ("LOG_FILE_ENABLE", "false"),
            ("LOG_CONSOLE_ENABLE", "false"),
        ]))
        .unwrap();
        assert_eq!((c.file, c.console), (None, None));
        let err = read(&BTreeMap::from([
            ("X_LOG_LEVEL", "loud"),
            ("LOG_FILE_SIZE", "big"),
            ("LOG_CONSOLE_LEVEL", "x"),
        ]))
        .unwrap_err()
        .to_string();
        for n in ["X_LOG_LEVEL", "LOG_FILE_SIZE", "LOG_CONSOLE_LEVEL"] {
            assert!(err.contains(&format!("invalid {n}")), "{err}");
        }
    }

    #[test]
    fn sizes_and_patterns() {
        assert_eq!(parse_size("50M"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("50MB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("0").is_err() && parse_size("M").is_err());
        let now = time::macros::datetime!(2020-05-19 13:04:05.678 UTC);
        assert_eq!(
            expand_file_name(
                "excp-%Y%m%d_%H%M%S_%L_{TENANT_ID}_{HOSTNAME}.log",
                "7",
                "h",
                now
            ),
            "excp-20200519_130405_678_7_h.log"
        );
        assert_eq!(expand_file_name("a%%b%q", "", "", now), "a%b%q");
    }
}
