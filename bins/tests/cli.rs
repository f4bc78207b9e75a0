//! Every service binary explains itself without starting anything: `--help` lists every
//! variable of its settings table (which the per-service drift tests tie to the reader, so a
//! variable read is a variable in the help), `--version` carries the git revision, and
//! `--check-config` validates the environment, prints it with secrets redacted and exits 0,
//! or 2 with one line.

use engage_ops::settings::ServiceSettings;
use std::process::{Command, Output};

struct Bin {
    name: &'static str,
    path: &'static str,
    table: &'static ServiceSettings,
    /// A valid environment (with secrets) for `--check-config`.
    valid: &'static [(&'static str, &'static str)],
    /// The secret values in `valid`.
    secrets: &'static [&'static str],
}

const BINS: &[Bin] = &[
    Bin {
        name: "excs",
        path: env!("CARGO_BIN_EXE_excs"),
        table: &engage_excs::service::SETTINGS,
        valid: &[
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXCS_GC_QUEUE_NAME_SUFFIX", "-Engage-external"),
            ("EXCS_CONFIG_DB_HOST", "127.0.0.1"),
            ("EXCS_CONFIG_DB_NAME", "config"),
            ("EXCS_CONFIG_DB_USER", "genesys"),
            ("EXCS_CONFIG_DB_PASSWORD", "db-pa55-value"),
            ("EXEC_REDIS_HOST", "127.0.0.1"),
            ("EXEC_REDIS_SECURE", "true"),
            ("EXEC_REDIS_PASSWORD", "redis-pa55-value"),
        ],
        secrets: &["db-pa55-value", "redis-pa55-value"],
    },
    Bin {
        name: "exas",
        path: env!("CARGO_BIN_EXE_exas"),
        table: &engage_exas::config::SETTINGS,
        valid: &[
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXAS_STAT_SERVER_PRIMARY_HOST", "stat1"),
            ("EXAS_STAT_SERVER_PRIMARY_PORT", "2060"),
            ("EXAS_STAT_SERVER_BACKUP_HOST", "stat2"),
            ("EXAS_STAT_SERVER_BACKUP_PORT", "2060"),
            ("EXEC_STORE_PATH", "/nonexistent/exas.redb"),
            ("EXAS_GC_REGION", "mypurecloud.ie"),
            ("EXAS_GC_CLIENT_ID", "cid"),
            ("EXAS_GC_CLIENT_SECRET", "gc-client-s3cret"),
        ],
        secrets: &["gc-client-s3cret"],
    },
    Bin {
        name: "excp",
        path: env!("CARGO_BIN_EXE_excp"),
        table: &engage_excp::config::SETTINGS,
        valid: &[
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXCP_1_VOICE_SERVER_VQ", "sip1:8000/sip2:8000"),
            ("EXCP_1_VOICE_SERVER_AGENT", "sip1:8000/sip2:8000"),
            ("EXCP_1_VOICE_SERVER_CALL", "sip1:8000/sip2:8000"),
            ("EXCP_APP_PASSWORD", "tlib-app-pa55"),
            ("EXEC_REDIS_HOST", "127.0.0.1"),
            ("EXEC_REDIS_PASSWORD", "redis-pa55-value"),
            ("EXCP_GC_BASE_URL", "http://127.0.0.1:9"),
            ("EXCP_GC_CLIENT_ID", "cid"),
            ("EXCP_GC_CLIENT_SECRET", "gc-client-s3cret"),
        ],
        secrets: &["tlib-app-pa55", "redis-pa55-value", "gc-client-s3cret"],
    },
    Bin {
        name: "exrp",
        path: env!("CARGO_BIN_EXE_exrp"),
        table: &engage_exrp::config::SETTINGS,
        valid: &[
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXEC_REDIS_HOST", "127.0.0.1"),
            ("EXEC_REDIS_PASSWORD", "redis-pa55-value"),
            ("EXRP_WEBDAV_URL", "http://127.0.0.1:8090/recordings"),
            ("EXRP_WEBDAV_PASSWORD", "dav-pa55-value"),
            ("EXRP_GC_BASE_URL", "http://127.0.0.1:9"),
            ("EXRP_GC_CLIENT_ID", "cid"),
            ("EXRP_GC_CLIENT_SECRET", "gc-client-s3cret"),
        ],
        secrets: &["redis-pa55-value", "dav-pa55-value", "gc-client-s3cret"],
    },
];

/// Runs `bin` with `args` and only `env` (no inherited variable), with a time limit: none of
/// these may start a service.
fn run(bin: &Bin, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin.path);
    cmd.args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(out) => out.expect("output"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!(
                "{} {args:?} did not exit: it must not start anything",
                bin.name
            );
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_every_setting_with_its_marks() {
    for bin in BINS {
        for flag in ["--help", "-h"] {
            let out = run(bin, &[flag], &[]);
            let help = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{} {flag}: {help}", bin.name);
            assert!(help.starts_with(bin.name), "{help}");
            for s in bin.table.all() {
                assert!(
                    help.contains(s.name),
                    "{}: {} not in help",
                    bin.name,
                    s.name
                );
                for alias in s.aliases {
                    assert!(help.contains(alias), "{}: alias {alias}", bin.name);
                }
                if s.mandatory {
                    assert!(help.contains(&format!("  {} *", s.name)), "{}", s.name);
                }
                if !s.default.is_empty() {
                    assert!(help.contains(s.default), "{} default", s.name);
                }
            }
            assert!(
                help.contains("[ours]") && help.contains("[secret]"),
                "{help}"
            );
            for guide in [
                "LOG_FILE_SIZE",
                "LOG_FILE_MAX_BACKUP_INDEX",
                "EXEC_REDIS_HOST",
            ] {
                assert!(help.contains(guide), "{}: {guide}", bin.name);
            }
        }
    }
}

#[test]
fn version_names_the_git_revision() {
    for bin in BINS {
        let out = run(bin, &["--version"], &[]);
        let v = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{v}");
        assert!(
            v.starts_with(&format!("{} {} (git ", bin.name, env!("CARGO_PKG_VERSION"))),
            "{v}"
        );
        assert_eq!(v.trim_end().lines().count(), 1, "{v}");
        assert!(!engage_ops::cli::GIT_REVISION.is_empty());
        assert!(v.contains(engage_ops::cli::GIT_REVISION), "{v}");
    }
}

#[test]
fn check_config_validates_and_redacts() {
    for bin in BINS {
        // Nothing set: exit 2 with one line naming the missing mandatory variables.
        let out = run(bin, &["--check-config"], &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", bin.name);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("missing EXEC_ORG_ID"), "{err}");

        // Valid: exit 0, every setting listed, no secret value anywhere.
        let out = run(bin, &["--check-config"], bin.valid);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{}: {stdout}{stderr}", bin.name);
        assert!(stdout.contains("configuration valid"), "{stdout}");
        for s in bin.table.all() {
            assert!(stdout.contains(s.name), "{}: {}", bin.name, s.name);
        }
        for secret in bin.secrets {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{secret}"
            );
        }
        assert!(stdout.contains("<redacted>"), "{stdout}");
    }
}

#[test]
fn an_unknown_argument_is_refused() {
    for bin in BINS {
        let out = run(bin, &["--frobnicate"], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", bin.name);
        assert!(text(&out.stderr).contains("--help"));
    }
}

/// Issue 12: Redis absent at start-up: every service ends at once with a failure code and a
/// line that names Redis and the settings to check (its supervisor restarts it until Redis is
/// there), never hangs and never starts half-way.
#[test]
fn every_service_started_without_redis_says_so_and_exits() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    for bin in BINS {
        let mut env: Vec<(&str, &str)> = bin
            .valid
            .iter()
            .filter(|(k, _)| !k.starts_with("EXEC_REDIS") && *k != "EXEC_STORE_PATH")
            .copied()
            .collect();
        env.extend([
            ("EXEC_REDIS_HOST", "127.0.0.1"),
            ("EXEC_REDIS_PORT", closed.as_str()),
            ("EXEC_GC_ALLOW_HTTP", "true"),
        ]);
        let out = run(bin, &[], &env);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_ne!(out.status.code(), Some(0), "{}: {all}", bin.name);
        assert!(
            all.contains("Redis") && all.contains("EXEC_REDIS_HOST"),
            "{}: {all}",
            bin.name
        );
        for s in bin.secrets {
            assert!(!all.contains(s), "{}: a secret in the output", bin.name);
        }
    }
}
