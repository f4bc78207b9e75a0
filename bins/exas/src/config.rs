//! EXAS settings from the environment.
//!
//! The deployment guide's variables:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EXAS_PORT` | REST port (`/health`, `/metrics`) | 3630 |
//! | `EXAS_HOST` | address the REST endpoint binds | `0.0.0.0` |
//! | `EXAS_STAT_SERVER_PRIMARY_HOST` / `_PORT` | primary Stat Server | mandatory |
//! | `EXAS_STAT_SERVER_BACKUP_HOST` / `_PORT` | backup Stat Server | mandatory |
//! | `EXAS_LOG_LEVEL`, `EXAS_LOG_PATH`, `EXAS_LOG_FILENAME` | logging | `info`, stdout |
//! | `EXEC_ORG_ID`, `EXEC_TENANT_ID` | GC org, Engage tenant (store namespace) | mandatory |
//! | `EXEC_REDIS_HOST`, `EXEC_REDIS_PORT`, `EXEC_REDIS_SECURE`, `EXEC_REDIS_PASSWORD`, `EXEC_REDIS_TLS*` (ours) | the shared store | port 6379, not secure, no TLS |
//!
//! The GC connection comes, as the guide says, from the Config DB's `hybrid_integration`
//! transaction (`general` and `agent_state_sync`): EXCS, which reads the Config DB, publishes
//! it in the store and EXAS waits for it at start. Our additions override it:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EXAS_GC_BASE_URL` or `EXAS_GC_REGION` | GC API base (e.g. `https://api.mypurecloud.ie`) or region host | from `hybrid_integration`; once any `EXAS_GC_*` is set, one of these is mandatory |
//! | `EXAS_GC_AUTH_URL` | GC login base | derived from the API base (`api.` → `login.`) |
//! | `EXAS_GC_CLIENT_ID`, `EXAS_GC_CLIENT_SECRET` | OAuth client credentials | from `hybrid_integration`; mandatory once any `EXAS_GC_*` is set |
//! | `EXEC_STORE_PATH` | embedded store file, instead of Redis | — (one of it and `EXEC_REDIS_HOST` is mandatory) |
//! | `EXAS_STAT_SERVER_TENANT` | the Stat Server tenant of the agents | `Resources` |
//! | `EXAS_SCOPE_REFRESH_SECS` | how often the agents in scope are read again | 10 |
//! | `EXAS_MAX_SCOPE_REMOVAL_PERCENT` | agents a scope read may remove at once, in percent of those held (an empty scope is never applied) | 10 |
//! | `EXAS_SCOPE_SHRINK_HOLD_SECS` | how long a larger shrink must persist before it is applied | 300 |
//! | `EXAS_INSTANCE_ID` | this instance's name in the outbox lease (a unique suffix is added) | `HOSTNAME`, else `exas` |

use engage_ops::config::{
    COMMON_SETTINGS, CommonConfig, ConfigError, EnvReader, Lookup, STORE_SETTINGS,
};
use engage_ops::logging::{self, LogConfig};
use engage_ops::settings::{ServiceSettings, Setting, SettingGroup};
use std::path::PathBuf;
use std::time::Duration;

/// EXAS's own logging variables (the guide's names; `EXAS_LOG_FILE_NAME` also accepted).
pub const LOG_NAMES: [Setting; 3] = [
    Setting::guide("EXAS_LOG_LEVEL", logging::LEVEL_HELP).default_value("info"),
    Setting::guide("EXAS_LOG_PATH", logging::PATH_HELP).default_value("(stdout only)"),
    Setting::guide("EXAS_LOG_FILENAME", logging::FILE_NAME_HELP)
        .default_value("exas.log")
        .aliases(&["EXAS_LOG_FILE_NAME"]),
];

/// Every variable [`ExasConfig::read`] reads: `exas --help`, `--check-config` and the
/// redaction of secrets come from it (a test fails when the reader and it disagree).
pub static SETTINGS: ServiceSettings = ServiceSettings::new(
    "exas",
    "EX Engage Connector Agent State Sync Service (Stat Server agent states to Genesys Cloud)",
    &[
        SettingGroup::new(
            "EXAS",
            &[
                Setting::guide("EXAS_HOST", "address the REST endpoint binds")
                    .default_value("0.0.0.0"),
                Setting::guide("EXAS_PORT", "REST port (/health, /metrics)").default_value("3630"),
                Setting::guide("EXAS_STAT_SERVER_PRIMARY_HOST", "primary Stat Server host")
                    .mandatory(),
                Setting::guide("EXAS_STAT_SERVER_PRIMARY_PORT", "primary Stat Server port")
                    .mandatory(),
                Setting::guide("EXAS_STAT_SERVER_BACKUP_HOST", "backup Stat Server host")
                    .mandatory(),
                Setting::guide("EXAS_STAT_SERVER_BACKUP_PORT", "backup Stat Server port")
                    .mandatory(),
                Setting::ours(
                    "EXAS_STAT_SERVER_TENANT",
                    "the Stat Server tenant of the agents",
                )
                .default_value("Resources"),
                Setting::ours(
                    "EXAS_SCOPE_REFRESH_SECS",
                    "how often the agents in scope are read again, seconds",
                )
                .default_value("10"),
                Setting::ours(
                    "EXAS_MAX_SCOPE_REMOVAL_PERCENT",
                    "agents one scope read may remove at once, in percent of those held (an empty scope is never applied)",
                )
                .default_value("10"),
                Setting::ours(
                    "EXAS_SCOPE_SHRINK_HOLD_SECS",
                    "how long a larger shrink must persist before it is applied, seconds",
                )
                .default_value("300"),
                Setting::ours(
                    "EXAS_INSTANCE_ID",
                    "this instance's name in the outbox lease (a unique suffix is added)",
                )
                .default_value("the host name, else exas"),
            ],
        ),
        COMMON_SETTINGS,
        STORE_SETTINGS,
        SettingGroup::new(
            "GC connection (ours; default: the one EXCS publishes from hybrid_integration)",
            engage_ops::gc_env_settings!("EXAS"),
        ),
        SettingGroup::new("EXAS logging", &LOG_NAMES),
        logging::LOG_SETTINGS,
    ],
);

/// Where the store lives: the shared store settings type (EXAS reads it more strictly:
/// one of `EXEC_REDIS_HOST` and `EXEC_STORE_PATH` is mandatory).
pub use engage_store::StoreSettings as StoreLocation;

/// Everything the `exas` service needs. `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExasConfig {
    /// Org and tenant.
    pub common: CommonConfig,
    /// REST bind address (`EXAS_HOST`).
    pub host: String,
    /// REST port (`EXAS_PORT`).
    pub port: u16,
    /// Primary Stat Server host and port.
    pub stat_primary: (String, u16),
    /// Backup Stat Server host and port.
    pub stat_backup: (String, u16),
    /// Stat Server tenant of the agents.
    pub stat_tenant: String,
    /// Scope refresh period.
    pub scope_every: Duration,
    /// `EXAS_MAX_SCOPE_REMOVAL_PERCENT`.
    pub max_scope_removal_percent: u8,
    /// `EXAS_SCOPE_SHRINK_HOLD_SECS`.
    pub scope_shrink_hold: Duration,
    /// `EXAS_INSTANCE_ID`, if set.
    pub instance_id: Option<String>,
    /// The store.
    pub store: StoreLocation,
    /// The GC connection from `EXAS_GC_*`; `None`: the one EXCS publishes from
    /// `hybrid_integration/agent_state_sync`.
    pub gc: Option<engage_ops::config::GcEnv>,
    /// Logging.
    pub log: LogConfig,
}

fn port(env: &mut EnvReader<'_>, name: &str, what: &str) -> u16 {
    let raw = env.required(name, what);
    if raw.is_empty() {
        return 0;
    }
    match raw.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            env.invalid(name, &format!("`{raw}` is not a TCP port"));
            0
        }
    }
}

impl ExasConfig {
    /// Reads the settings; every missing or invalid variable is named in the one error.
    pub fn read(lookup: &dyn Lookup) -> Result<ExasConfig, ConfigError> {
        let mut env = EnvReader::new(lookup);
        let common = CommonConfig::read(&mut env);
        let host = env
            .optional("EXAS_HOST")
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let rest_port = env.parsed_or::<u16>("EXAS_PORT", 3630);
        let p_host = env.required("EXAS_STAT_SERVER_PRIMARY_HOST", "primary Stat Server host");
        let p_port = port(
            &mut env,
            "EXAS_STAT_SERVER_PRIMARY_PORT",
            "primary Stat Server port",
        );
        let b_host = env.required("EXAS_STAT_SERVER_BACKUP_HOST", "backup Stat Server host");
        let b_port = port(
            &mut env,
            "EXAS_STAT_SERVER_BACKUP_PORT",
            "backup Stat Server port",
        );
        let stat_tenant = env
            .optional("EXAS_STAT_SERVER_TENANT")
            .unwrap_or_else(|| "Resources".to_string());
        let scope_secs = env.parsed_or::<u64>("EXAS_SCOPE_REFRESH_SECS", 10);
        if scope_secs == 0 {
            env.invalid("EXAS_SCOPE_REFRESH_SECS", "must be at least 1 second");
        }

        let max_removal = env.parsed_or::<u8>(
            "EXAS_MAX_SCOPE_REMOVAL_PERCENT",
            crate::scope::DEFAULT_MAX_REMOVAL_PERCENT,
        );
        if max_removal > 100 {
            env.invalid("EXAS_MAX_SCOPE_REMOVAL_PERCENT", "must be 0 to 100");
        }
        let shrink_hold = env.parsed_or::<u64>("EXAS_SCOPE_SHRINK_HOLD_SECS", 300);
        let instance_id = env.optional("EXAS_INSTANCE_ID");

        let store = match (
            env.optional("EXEC_REDIS_HOST"),
            env.optional("EXEC_STORE_PATH"),
        ) {
            (Some(host), _) => {
                StoreLocation::Redis(engage_ops::config::redis_config(&mut env, host))
            }
            (None, Some(path)) => StoreLocation::Embedded(PathBuf::from(path)),
            (None, None) => {
                env.required(
                    "EXEC_REDIS_HOST",
                    "Redis host of the shared store; or EXEC_STORE_PATH for an embedded store",
                );
                StoreLocation::Embedded(PathBuf::new())
            }
        };

        let gc = engage_ops::config::GcEnv::read_optional(&mut env, "EXAS");
        let [level, path, file_name] = &LOG_NAMES;
        let names = logging::ServiceLogSettings {
            level,
            path,
            file_name,
        };
        let log = LogConfig::read(&mut env, "exas", names, &common.tenant_id);
        env.finish()?;
        Ok(ExasConfig {
            common,
            host,
            port: rest_port,
            stat_primary: (p_host, p_port),
            stat_backup: (b_host, b_port),
            stat_tenant,
            scope_every: Duration::from_secs(scope_secs),
            max_scope_removal_percent: max_removal,
            scope_shrink_hold: Duration::from_secs(shrink_hold),
            instance_id,
            store,
            gc,
            log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn full() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXAS_STAT_SERVER_PRIMARY_HOST", "stat1"),
            ("EXAS_STAT_SERVER_PRIMARY_PORT", "2060"),
            ("EXAS_STAT_SERVER_BACKUP_HOST", "stat2"),
            ("EXAS_STAT_SERVER_BACKUP_PORT", "2061"),
            ("EXEC_REDIS_HOST", "redis"),
            ("EXAS_GC_REGION", "mypurecloud.ie"),
            ("EXAS_GC_CLIENT_ID", "cid"),
            ("EXAS_GC_CLIENT_SECRET", "very-secret-value"),
        ])
    }

    #[test]
    fn reads_the_spec_variables_with_defaults() {
        let c = ExasConfig::read(&full()).expect("valid");
        assert_eq!(c.port, 3630);
        assert_eq!(c.stat_primary, ("stat1".to_string(), 2060));
        assert_eq!(c.stat_backup, ("stat2".to_string(), 2061));
        let gc = c.gc.as_ref().expect("EXAS_GC_* given");
        assert_eq!(gc.base_url, "https://api.mypurecloud.ie");
        assert_eq!(gc.auth_url, "https://login.mypurecloud.ie");
        assert_eq!(c.scope_every, Duration::from_secs(10));
        assert_eq!(c.max_scope_removal_percent, 10);
        assert_eq!(c.scope_shrink_hold, Duration::from_secs(300));
        assert_eq!(
            engage_ops::config::derive_auth_url("https://api.usw2.pure.cloud"),
            "https://login.usw2.pure.cloud"
        );
        assert!(matches!(&c.store, StoreLocation::Redis(r) if r.host == "redis" && r.port == 6379));
        assert!(!format!("{c:?}").contains("very-secret-value"));
    }

    #[test]
    fn every_missing_variable_is_named_in_one_line() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([("EXAS_PORT", "nope")]);
        let err = ExasConfig::read(&env).unwrap_err().to_string();
        for name in [
            "EXEC_ORG_ID",
            "EXEC_TENANT_ID",
            "EXAS_STAT_SERVER_PRIMARY_HOST",
            "EXAS_STAT_SERVER_PRIMARY_PORT",
            "EXAS_STAT_SERVER_BACKUP_HOST",
            "EXAS_STAT_SERVER_BACKUP_PORT",
            "EXEC_REDIS_HOST",
        ] {
            assert!(err.contains(&format!("missing {name}")), "{name}: {err}");
        }
        assert!(err.contains("invalid EXAS_PORT"), "{err}");
        assert!(!err.contains('\n'));
        // Without EXAS_GC_* the connection comes from hybrid_integration (through EXCS).
        assert!(!err.contains("EXAS_GC_"), "{err}");
        // One EXAS_GC_* variable makes the others mandatory.
        let partial: BTreeMap<&str, &str> = BTreeMap::from([("EXAS_GC_CLIENT_ID", "x")]);
        let err = ExasConfig::read(&partial).unwrap_err().to_string();
        for name in ["EXAS_GC_BASE_URL", "EXAS_GC_CLIENT_SECRET"] {
            assert!(err.contains(&format!("missing {name}")), "{name}: {err}");
        }
    }

    #[test]
    fn secure_redis_needs_a_password_and_embedded_store_is_accepted() {
        let mut env = full();
        env.insert("EXEC_REDIS_SECURE", "true");
        let err = ExasConfig::read(&env).unwrap_err().to_string();
        assert!(err.contains("missing EXEC_REDIS_PASSWORD"), "{err}");
        let mut env = full();
        env.remove("EXEC_REDIS_HOST");
        env.insert("EXEC_STORE_PATH", "/var/lib/exec/store.redb");
        env.insert("EXAS_GC_BASE_URL", "http://127.0.0.1:9000/");
        let c = ExasConfig::read(&env).expect("valid");
        assert_eq!(c.gc.as_ref().unwrap().auth_url, "http://127.0.0.1:9000");
        env.insert("EXAS_GC_AUTH_URL", "http://127.0.0.1:9001");
        let c = ExasConfig::read(&env).expect("valid");
        assert!(matches!(c.store, StoreLocation::Embedded(_)));
        assert_eq!(c.gc.as_ref().unwrap().base_url, "http://127.0.0.1:9000");
        assert_eq!(c.gc.as_ref().unwrap().auth_url, "http://127.0.0.1:9001");
    }

    #[test]
    fn bad_port_is_invalid() {
        let mut env = full();
        env.insert("EXAS_STAT_SERVER_BACKUP_PORT", "0");
        let err = ExasConfig::read(&env).unwrap_err().to_string();
        assert!(
            err.contains("invalid EXAS_STAT_SERVER_BACKUP_PORT"),
            "{err}"
        );
    }
}
