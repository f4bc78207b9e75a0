//! What every binary answers before it starts anything: `--help` (the settings table),
//! `--version` (with the git revision) and `--check-config` (validate the environment, print
//! the effective configuration with secrets redacted; exit 0 when valid, 2 otherwise).
//!
//! A service's `main` starts with one line:
//!
//! ```no_run
//! # use engage_ops::settings::ServiceSettings;
//! # static SETTINGS: ServiceSettings = ServiceSettings::new("exrp", "demo", &[]);
//! # #[derive(Debug)] struct Config;
//! # fn read(_: &dyn engage_ops::config::Lookup) -> Result<Config, engage_ops::config::ConfigError> { Ok(Config) }
//! fn main() -> std::process::ExitCode {
//!     if let Some(code) = engage_ops::cli::answer(&SETTINGS, read) { return code; }
//!     // … start the service
//! #   std::process::ExitCode::SUCCESS
//! }
//! ```

use crate::config::{Lookup, ProcessEnv};
use crate::settings::ServiceSettings;
use std::io::Write;
use std::process::ExitCode;

/// The git revision the binaries were built from (`git rev-parse --short HEAD` at build
/// time, or `ENGAGE_GIT_REVISION` given to the build; `unknown` without git or `.git`).
pub const GIT_REVISION: &str = env!("ENGAGE_GIT_REVISION");

/// `0.1.0 (git abc1234)`: the workspace version and the git revision, for every binary's
/// `--version` (clap binaries use it as `#[command(version = engage_ops::cli::VERSION)]`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("ENGAGE_GIT_REVISION"),
    ")"
);

/// What the arguments ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// No argument: start the service.
    Run,
    /// `--help` / `-h`.
    Help,
    /// `--version` / `-V`.
    Version,
    /// `--check-config`.
    CheckConfig,
    /// Anything else (the argument).
    Unknown(String),
}

impl Request {
    /// Reads the arguments after the program name.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Request {
        match args.first().map(AsRef::as_ref) {
            None => Request::Run,
            Some("--help" | "-h" | "help") => Request::Help,
            Some("--version" | "-V") => Request::Version,
            Some("--check-config") => Request::CheckConfig,
            Some(other) => Request::Unknown(other.to_string()),
        }
    }
}

/// Answers `request` for `table`'s binary, writing to `out` and `err`: `None` for
/// [`Request::Run`] (the caller starts the service), else the exit code. `read` is the
/// service's settings reader (only `--check-config` calls it; its error is printed as one
/// line); `env_names` are the process's
/// variable names, to warn about set-but-unread ones with the service's prefixes.
pub fn respond<C: std::fmt::Debug, E: std::fmt::Display>(
    table: &ServiceSettings,
    request: &Request,
    lookup: &dyn Lookup,
    read: impl FnOnce(&dyn Lookup) -> Result<C, E>,
    env_names: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Option<u8> {
    let bin = table.binary;
    match request {
        Request::Run => None,
        Request::Help => {
            let _ = write!(out, "{}", table.help());
            Some(0)
        }
        Request::Version => {
            let _ = writeln!(out, "{bin} {VERSION}");
            Some(0)
        }
        Request::Unknown(arg) => {
            let _ = writeln!(
                err,
                "{bin}: unknown argument `{arg}`; it takes none (settings come from the environment), or one of --help, --version, --check-config"
            );
            Some(2)
        }
        Request::CheckConfig => {
            let prefixes: Vec<String> = table
                .all()
                .filter_map(|s| s.name.split_once('_').map(|(p, _)| format!("{p}_")))
                .filter(|p| p != "EXEC_" && p != "LOG_")
                .collect();
            let prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
            let unknown = table.unknown(env_names.iter().map(String::as_str), &prefixes);
            let result = read(lookup);
            let _ = writeln!(out, "{bin} {VERSION}: effective configuration\n");
            let _ = write!(out, "{}", table.effective_text(lookup));
            for name in &unknown {
                let _ = writeln!(
                    out,
                    "\nnote: {name} is set but {bin} does not read it (a typo?)"
                );
            }
            match result {
                Ok(config) => {
                    let _ = writeln!(out, "\nparsed (secrets redacted):\n{config:#?}");
                    let _ = writeln!(out, "\nconfiguration valid");
                    Some(0)
                }
                Err(e) => {
                    let _ = writeln!(err, "{bin}: {e}");
                    Some(2)
                }
            }
        }
    }
}

/// [`respond`] on the process: its arguments, environment, stdout and stderr. `None`: no
/// argument, start the service; `Some(code)`: exit with it.
pub fn answer<C: std::fmt::Debug, E: std::fmt::Display>(
    table: &ServiceSettings,
    read: impl FnOnce(&dyn Lookup) -> Result<C, E>,
) -> Option<ExitCode> {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let request = Request::parse(&args);
    if request == Request::Run {
        return None;
    }
    let names: Vec<String> = std::env::vars_os()
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    let code = respond(
        table,
        &request,
        &ProcessEnv,
        read,
        &names,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    code.map(ExitCode::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;
    use crate::settings::{Setting, SettingGroup};
    use std::collections::BTreeMap;

    static T: ServiceSettings = ServiceSettings::new(
        "t",
        "test",
        &[SettingGroup::new(
            "T",
            &[
                Setting::guide("T_HOST", "host").mandatory(),
                Setting::guide("T_PASSWORD", "password").secret(),
            ],
        )],
    );

    fn read(l: &dyn Lookup) -> Result<String, ConfigError> {
        let mut r = crate::config::EnvReader::new(l);
        let host = r.required("T_HOST", "host");
        let _ = r.optional("T_PASSWORD");
        r.finish().map(|()| host)
    }

    fn run(args: &[&str], env: &BTreeMap<&str, &str>) -> (Option<u8>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let names: Vec<String> = env.keys().map(|k| k.to_string()).collect();
        let code = respond(
            &T,
            &Request::parse(args),
            env,
            read,
            &names,
            &mut out,
            &mut err,
        );
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn each_request_has_its_exit_code() {
        let env = BTreeMap::from([("T_HOST", "h"), ("T_PASSWORD", "pw-123"), ("T_HOTS", "x")]);
        assert_eq!(run(&[], &env).0, None);
        let (code, out, _) = run(&["--version"], &env);
        assert_eq!(code, Some(0));
        assert!(out.starts_with("t 0.") && out.contains("(git "), "{out}");
        let (code, out, _) = run(&["--help"], &env);
        assert_eq!(code, Some(0));
        assert!(out.contains("T_HOST *"), "{out}");
        let (code, out, _) = run(&["--check-config"], &env);
        assert_eq!(code, Some(0), "{out}");
        assert!(!out.contains("pw-123"), "{out}");
        assert!(
            out.contains("T_HOTS is set but t does not read it"),
            "{out}"
        );
        let (code, _, err) = run(&["--check-config"], &BTreeMap::new());
        assert_eq!(code, Some(2));
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("missing T_HOST"), "{err}");
        assert_eq!(run(&["--frobnicate"], &env).0, Some(2));
    }
}
