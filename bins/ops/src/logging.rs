//! Logging: JSON lines to stdout by default, optionally to a file, at the level the service's
//! `<SERVICE>_LOG_LEVEL` names (trace, debug, info, warn, error, fatal).

use std::path::PathBuf;

/// Where and how a service logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Level name from `<SERVICE>_LOG_LEVEL` (default `info`; `fatal` maps to `error`).
    pub level: String,
    /// Directory from `<SERVICE>_LOG_PATH`; stdout when absent.
    pub path: Option<PathBuf>,
    /// File name from `<SERVICE>_LOG_FILENAME` (default `<service>.log`).
    pub file_name: Option<String>,
    /// JSON lines (default) or human-readable text.
    pub json: bool,
}

/// Maps the spec's level names onto tracing's.
pub fn tracing_level(level: &str) -> &'static str {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" | "all" => "trace",
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" | "fatal" => "error",
        "off" => "off",
        _ => "info",
    }
}

/// Installs the global subscriber. Call once per process, from a binary only.
pub fn init(service: &str, cfg: &LogConfig) -> std::io::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(tracing_level(&cfg.level)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match &cfg.path {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let name = cfg
                .file_name
                .clone()
                .unwrap_or_else(|| format!("{service}.log"));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))?;
            let writer = std::sync::Mutex::new(file);
            if cfg.json {
                builder.json().with_writer(writer).try_init()
            } else {
                builder.with_ansi(false).with_writer(writer).try_init()
            }
        }
        None if cfg.json => builder.json().try_init(),
        None => builder.try_init(),
    };
    // A second init (tests, the all-in-one binary) keeps the first subscriber.
    let _ = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_levels_map_to_tracing() {
        assert_eq!(tracing_level("FATAL"), "error");
        assert_eq!(tracing_level("warn"), "warn");
        assert_eq!(tracing_level("ALL"), "trace");
        assert_eq!(tracing_level("nonsense"), "info");
    }
}
