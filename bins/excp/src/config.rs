//! EXCP settings from the environment.
//!
//! The deployment guide's variables (the bootstrap `.env` prefixes them `EXCP_1_`; the service
//! accepts `EXCP_…` and `EXCP_1_…`, and the bare `VOICE_SERVER_…` names):
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EXCP_VOICE_SERVER_VQ` | SIP Servers for Virtual Queue events: `primary:port/backup:port`, comma-separated pairs | mandatory |
//! | `EXCP_VOICE_SERVER_AGENT` | SIP Servers for extension DN events, same format | mandatory |
//! | `EXCP_VOICE_SERVER_CALL` | SIP Servers for call-monitoring events, same format | mandatory |
//! | `EXCP_PORT` | REST port (`/health`, `/status`, `/metrics`) | 3650 |
//! | `EXCP_LOG_LEVEL`, `EXCP_LOG_PATH`, `EXCP_LOG_FILE_NAME` | logging | `info`, stdout |
//! | `EXEC_ORG_ID`, `EXEC_TENANT_ID`, `EXEC_REDIS_*` | org, tenant, shared store | |
//!
//! The GC connection and the STA settings come, as the guide says, from the Config DB's
//! `hybrid_integration` transaction (`general` and `conversation_provider`): EXCS, which reads
//! the Config DB, publishes them in the store and EXCP waits for them at start.
//!
//! Our additions: `EXCP_GC_BASE_URL` / `EXCP_GC_REGION`, `EXCP_GC_AUTH_URL`,
//! `EXCP_GC_CLIENT_ID`, `EXCP_GC_CLIENT_SECRET` (override the published GC connection; once one
//! is set the others are mandatory), `EXCP_HOST` (bind
//! address, `0.0.0.0`), `EXCP_SWITCH_NAME` (the switch whose DNs this pair serves; all when
//! unset), `EXCP_INSTANCE_ID` (this instance's name: its de-duplication claims and its
//! checkpoint `excp:checkpoint:{id}`; the host name by default, so it must differ between the
//! two instances of a pair and stay the same across restarts), `EXCP_APP_NAME` / `EXCP_APP_PASSWORD` (the TLib client application,
//! `EXCP`), `EXCP_STA_USERDATA_LANGUAGE_KEY`, `EXCP_STA_DEFAULT_LANGUAGE`,
//! `EXCP_DISPOSITION_KEY`, `EXCP_AFTER_CALL_WORK` (call-model settings; the first two override
//! `conversation_provider/sta_userdata_language_key` and `sta_default_language`),
//! `EXCP_LOOKUP_REFRESH_SECS` (10), `EXCP_MAX_PENDING_EVENTS` (200000: undelivered GC events
//! held in memory; past it new events go to the store's spill list and `/health` reports delivery as degraded; warned at 80 %; never dropped).

use engage_callmodel::ModelConfig;
use engage_ops::config::{
    COMMON_SETTINGS, CommonConfig, ConfigError, EnvReader, GcEnv, Lookup, STORE_SETTINGS,
};
use engage_ops::logging::{self, LogConfig};
use engage_ops::settings::{ServiceSettings, Setting, SettingGroup};
use engage_store::StoreSettings;
use engage_tlib::client::Endpoint;
use std::time::Duration;

/// EXCP's own logging variables: the guide's `EXCP_1_…` names and the unnumbered ones.
pub const LOG_NAMES: [Setting; 3] = [
    Setting::guide("EXCP_LOG_LEVEL", logging::LEVEL_HELP)
        .default_value("info")
        .aliases(&["EXCP_1_LOG_LEVEL"]),
    Setting::guide("EXCP_LOG_PATH", logging::PATH_HELP)
        .default_value("(stdout only)")
        .aliases(&["EXCP_1_LOG_PATH"]),
    Setting::guide("EXCP_LOG_FILE_NAME", logging::FILE_NAME_HELP)
        .default_value("excp.log")
        .aliases(&["EXCP_1_LOG_FILE_NAME", "EXCP_LOG_FILENAME"]),
];

/// Every variable [`ExcpConfig::read`] reads: `excp --help`, `--check-config` and the
/// redaction of secrets come from it (a test fails when the reader and it disagree).
pub static SETTINGS: ServiceSettings = ServiceSettings::new(
    "excp",
    "EX Engage Connector Conversation Provider Service (SIP Server events to Genesys Cloud)",
    &[
        SettingGroup::new(
            "EXCP (the bootstrap's EXCP_1_ names are accepted too)",
            &[
                Setting::guide(
                    "EXCP_VOICE_SERVER_VQ",
                    "SIP Servers for Virtual Queue events: primary:port/backup:port, comma-separated pairs",
                )
                .mandatory()
                .aliases(&["EXCP_1_VOICE_SERVER_VQ", "VOICE_SERVER_VQ"]),
                Setting::guide(
                    "EXCP_VOICE_SERVER_AGENT",
                    "SIP Servers for extension DN events, same format",
                )
                .mandatory()
                .aliases(&["EXCP_1_VOICE_SERVER_AGENT", "VOICE_SERVER_AGENT"]),
                Setting::guide(
                    "EXCP_VOICE_SERVER_CALL",
                    "SIP Servers for call-monitoring events, same format",
                )
                .mandatory()
                .aliases(&["EXCP_1_VOICE_SERVER_CALL", "VOICE_SERVER_CALL"]),
                Setting::guide("EXCP_PORT", "REST port (/health, /status, /metrics)")
                    .default_value("3650")
                    .aliases(&["EXCP_1_PORT"]),
                Setting::ours(
                    "EXCP_API_TOKEN",
                    "when set, the recording API and the dead-letter API need Authorization: Bearer <token> (a load balancer in front can add it for MCP)",
                )
                .secret(),
                Setting::ours(
                    "EXCP_RECORDING_PROCESSOR_TOKEN",
                    "the token EXRP requires (its EXRP_API_TOKEN), sent with each interaction-end call",
                )
                .secret(),
                Setting::ours("EXCP_HOST", "address the REST endpoint binds")
                    .default_value("0.0.0.0"),
                Setting::ours("EXCP_SWITCH_NAME", "the switch whose DNs this pair serves")
                    .default_value("all"),
                Setting::ours(
                    "EXCP_INSTANCE_ID",
                    "this instance's name (claims, checkpoint); distinct within a pair, stable across restarts",
                )
                .default_value("the host name"),
                Setting::ours("EXCP_APP_NAME", "TLib client application name")
                    .default_value("EXCP"),
                Setting::ours("EXCP_APP_PASSWORD", "TLib client application password").secret(),
                Setting::ours(
                    "EXCP_STA_USERDATA_LANGUAGE_KEY",
                    "user data key of the language (overrides conversation_provider/sta_userdata_language_key)",
                ),
                Setting::ours(
                    "EXCP_STA_DEFAULT_LANGUAGE",
                    "default language (overrides conversation_provider/sta_default_language)",
                ),
                Setting::ours("EXCP_DISPOSITION_KEY", "user data key of the disposition code"),
                Setting::ours("EXCP_AFTER_CALL_WORK", "after-call work required")
                    .default_value("false"),
                Setting::ours("EXCP_LOOKUP_REFRESH_SECS", "look-up refresh period, seconds")
                    .default_value("10"),
                Setting::ours(
                    "EXCP_MAX_PENDING_EVENTS",
                    "undelivered GC events held in memory; past it they spill to the store and /health reports delivery degraded (never dropped)",
                )
                .default_value("200000"),
                Setting::ours(
                    "EXCP_MAX_DN_REMOVAL_PERCENT",
                    "registered DNs one look-up refresh may drop at once, in percent (an empty read is never applied)",
                )
                .default_value("10"),
                Setting::ours(
                    "EXCP_DN_SHRINK_HOLD_SECS",
                    "how long a larger drop must persist before the DNs are unregistered",
                )
                .default_value("300"),
                Setting::guide(
                    "EXCP_RECORDING_PROCESSOR_PROXY_HOST",
                    "the HTTP load balancer in front of the EXRP instances (recording hand-off)",
                ),
                Setting::guide(
                    "EXCP_RECORDING_PROCESSOR_PROXY_PORT",
                    "its port",
                )
                .default_value("8080"),
                Setting::ours(
                    "EXCP_RECORDING_ENABLED",
                    "hand recorded segments to EXRP (overrides conversation_provider/recording_enabled)",
                )
                .default_value("conversation_provider/recording_enabled, else false"),
                Setting::ours(
                    "EXCP_STA_DEFAULT_PROGRAM_ID",
                    "STA program requested for recordings (overrides conversation_provider/sta_default_programid)",
                ),
                Setting::ours(
                    "EXCP_RECORDING_METADATA_WAIT_SECS",
                    "how long a segment waits for MCP's recording metadata before it is parked",
                )
                .default_value("600"),
                Setting::guide(
                    "EXCP_GIR_HOST",
                    "GIR Interaction Recording Web Services host:port (HTTPS): recording metadata is pulled from GIR (with conversation_provider/gir_orgId, gir_user, gir_password, gir_metadata_fetch_*) instead of awaited from MCP",
                ),
                Setting::ours(
                    "EXCP_RECORDING_TTL_HOURS",
                    "how long a call's recording metadata and agent segments are kept in the store after the last write",
                )
                .default_value("72"),
            ],
        ),
        COMMON_SETTINGS,
        STORE_SETTINGS,
        SettingGroup::new(
            "GC connection (ours; default: the one EXCS publishes from hybrid_integration)",
            engage_ops::gc_env_settings!("EXCP"),
        ),
        SettingGroup::new("EXCP logging", &LOG_NAMES),
        logging::LOG_SETTINGS,
    ],
);

/// One SIP Server HA pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPair {
    /// The primary.
    pub primary: Endpoint,
    /// The backup, if given.
    pub backup: Option<Endpoint>,
}

fn endpoint(s: &str) -> Result<Endpoint, String> {
    let s = s.trim();
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("`{s}` is not host:port"))?;
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{s}` has no valid port"))?;
    if host.is_empty() {
        return Err(format!("`{s}` has no host"));
    }
    Ok(Endpoint::new(host, port))
}

/// Parses `primary:port/backup:port[,primary2:port/backup2:port…]`.
pub fn parse_servers(v: &str) -> Result<Vec<ServerPair>, String> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (p, b) = match pair.split_once('/') {
            Some((p, b)) => (p, Some(b)),
            None => (pair, None),
        };
        out.push(ServerPair {
            primary: endpoint(p)?,
            backup: b.map(endpoint).transpose()?,
        });
    }
    if out.is_empty() {
        return Err("no SIP Server given (format primary:port/backup:port)".into());
    }
    Ok(out)
}

/// Everything the `excp` service needs. `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExcpConfig {
    /// Org and tenant.
    pub common: CommonConfig,
    /// REST bind address.
    pub host: String,
    /// REST port.
    pub port: u16,
    /// SIP Servers for VQ events.
    pub vq_servers: Vec<ServerPair>,
    /// SIP Servers for extension events.
    pub agent_servers: Vec<ServerPair>,
    /// SIP Servers for call-monitoring events.
    pub call_servers: Vec<ServerPair>,
    /// The switch this pair serves (all when `None`).
    pub switch: Option<String>,
    /// This instance's claim name.
    pub instance_id: String,
    /// Whether the instance id is the host name (`EXCP_INSTANCE_ID` unset): fine on a host,
    /// wrong in a container, whose host name changes with every container.
    pub instance_id_from_host: bool,
    /// TLib application name.
    pub app_name: String,
    /// TLib application password (`Debug` never shows it).
    pub app_password: engage_base::Secret,
    /// The call model's settings.
    pub model: ModelConfig,
    /// Look-up refresh period.
    pub lookup_every: Duration,
    /// `EXCP_MAX_PENDING_EVENTS`: the undelivered-event level that degrades `/health`.
    pub max_pending: usize,
    /// `EXCP_MAX_DN_REMOVAL_PERCENT` (10) and `EXCP_DN_SHRINK_HOLD_SECS` (300): the guard on
    /// DN registrations.
    pub dn_guard: (u8, Duration),
    /// `EXCP_RECORDING_PROCESSOR_PROXY_HOST` / `_PORT`: EXRP's interaction-end URL, when set.
    pub recording_processor: Option<String>,
    /// `EXCP_RECORDING_ENABLED`: `None` takes `conversation_provider/recording_enabled`.
    pub recording_enabled: Option<bool>,
    /// `EXCP_STA_DEFAULT_PROGRAM_ID`: `None` takes `conversation_provider/sta_default_programid`.
    pub sta_program_id: Option<String>,
    /// `EXCP_RECORDING_METADATA_WAIT_SECS`.
    pub metadata_wait: Duration,
    /// `EXCP_GIR_HOST`: GIR mode (metadata pulled from RWS).
    pub gir_host: Option<String>,
    /// `EXCP_API_TOKEN` (ours): the token the recording and dead-letter APIs require.
    pub api_token: Option<engage_base::Secret>,
    /// `EXCP_RECORDING_PROCESSOR_TOKEN` (ours): the token sent to EXRP.
    pub processor_token: Option<engage_base::Secret>,
    /// `EXCP_RECORDING_TTL_HOURS` (72): how long a call's recording metadata and segments
    /// stay in the store after the last write.
    pub recording_ttl: Duration,
    /// The store.
    pub store: StoreSettings,
    /// GC connection from `EXCP_GC_*`; `None`: the one EXCS publishes.
    pub gc: Option<GcEnv>,
    /// Logging.
    pub log: LogConfig,
}

fn servers(env: &mut EnvReader<'_>, kind: &str, what: &str) -> Vec<ServerPair> {
    let names = [
        format!("EXCP_VOICE_SERVER_{kind}"),
        format!("EXCP_1_VOICE_SERVER_{kind}"),
        format!("VOICE_SERVER_{kind}"),
    ];
    let found = names
        .iter()
        .find_map(|n| env.optional(n).map(|v| (n.clone(), v)));
    match found {
        None => {
            env.required(&names[0], what);
            Vec::new()
        }
        Some((name, v)) => parse_servers(&v).unwrap_or_else(|e| {
            env.invalid(&name, &e);
            Vec::new()
        }),
    }
}

impl ExcpConfig {
    /// Reads the settings; every missing or invalid variable is named in the one error.
    pub fn read(lookup: &dyn Lookup) -> Result<ExcpConfig, ConfigError> {
        let mut env = EnvReader::new(lookup);
        let common = CommonConfig::read(&mut env);
        let host = env
            .optional("EXCP_HOST")
            .unwrap_or_else(|| "0.0.0.0".into());
        // The bootstrap's `.env` names are `EXCP_1_…` (pair 1); both spellings work.
        let port_name =
            if env.optional("EXCP_PORT").is_none() && env.optional("EXCP_1_PORT").is_some() {
                "EXCP_1_PORT"
            } else {
                "EXCP_PORT"
            };
        let port = env.parsed_or::<u16>(port_name, 3650);
        let vq_servers = servers(&mut env, "VQ", "SIP Servers for Virtual Queue events");
        let agent_servers = servers(&mut env, "AGENT", "SIP Servers for extension DN events");
        let call_servers = servers(&mut env, "CALL", "SIP Servers for call-monitoring events");
        let switch = env.optional("EXCP_SWITCH_NAME");
        // Stable across restarts (it names this instance's checkpoint) and distinct between
        // the two instances of a pair (it names their claims).
        let explicit_id = env.optional("EXCP_INSTANCE_ID");
        let instance_id_from_host = explicit_id.is_none();
        let instance_id = explicit_id.unwrap_or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| format!("excp-{}", std::process::id()))
        });
        let app_name = env
            .optional("EXCP_APP_NAME")
            .unwrap_or_else(|| "EXCP".into());
        let app_password =
            engage_base::Secret::new(env.optional("EXCP_APP_PASSWORD").unwrap_or_default());
        let mut model = ModelConfig::default();
        model.sta_userdata_language_key = env.optional("EXCP_STA_USERDATA_LANGUAGE_KEY");
        model.sta_default_language = env.optional("EXCP_STA_DEFAULT_LANGUAGE");
        model.disposition_key = env.optional("EXCP_DISPOSITION_KEY");
        model.after_call_work_required = env.flag("EXCP_AFTER_CALL_WORK", false);
        let lookup_secs = env.parsed_or::<u64>("EXCP_LOOKUP_REFRESH_SECS", 10).max(1);
        let recording_processor = env
            .optional("EXCP_RECORDING_PROCESSOR_PROXY_HOST")
            .map(|host| {
                let port = env.parsed_or::<u16>("EXCP_RECORDING_PROCESSOR_PROXY_PORT", 8080);
                crate::handoff::HandoffSettings::url_for(&host, port)
            });
        if recording_processor.is_none() {
            // Read for the drift check and --check-config even without a host.
            let _ = env.optional("EXCP_RECORDING_PROCESSOR_PROXY_PORT");
        }
        let recording_enabled = env
            .optional("EXCP_RECORDING_ENABLED")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let sta_program_id = env.optional("EXCP_STA_DEFAULT_PROGRAM_ID");
        let metadata_wait =
            Duration::from_secs(env.parsed_or::<u64>("EXCP_RECORDING_METADATA_WAIT_SECS", 600));
        let api_token = env.optional("EXCP_API_TOKEN").map(engage_base::Secret::new);
        let processor_token = env
            .optional("EXCP_RECORDING_PROCESSOR_TOKEN")
            .map(engage_base::Secret::new);
        let gir_host = env.optional("EXCP_GIR_HOST");
        let recording_ttl = Duration::from_secs(
            env.parsed_or::<u64>("EXCP_RECORDING_TTL_HOURS", 72)
                .clamp(1, 24 * 365)
                * 3600,
        );
        let max_pending = env
            .parsed_or::<usize>(
                "EXCP_MAX_PENDING_EVENTS",
                crate::service::DEFAULT_MAX_PENDING,
            )
            .max(1);
        let dn_guard = (
            env.parsed_or::<u8>("EXCP_MAX_DN_REMOVAL_PERCENT", 10)
                .min(100),
            Duration::from_secs(env.parsed_or::<u64>("EXCP_DN_SHRINK_HOLD_SECS", 300)),
        );
        let store = engage_ops::config::store_settings(&mut env);
        let gc = GcEnv::read_optional(&mut env, "EXCP");
        let [level, path, file_name] = &LOG_NAMES;
        let names = logging::ServiceLogSettings {
            level,
            path,
            file_name,
        };
        let log = LogConfig::read(&mut env, "excp", names, &common.tenant_id);
        env.finish()?;
        Ok(ExcpConfig {
            common,
            host,
            port,
            vq_servers,
            agent_servers,
            call_servers,
            switch,
            instance_id,
            instance_id_from_host,
            app_name,
            app_password,
            model,
            lookup_every: Duration::from_secs(lookup_secs),
            max_pending,
            dn_guard,
            recording_processor,
            recording_enabled,
            sta_program_id,
            metadata_wait,
            gir_host,
            api_token,
            processor_token,
            recording_ttl,
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

    #[test]
    fn server_lists_parse_pairs_and_say_what_is_wrong() {
        let v = parse_servers("sip1:8000/sip2:8000, sip3:8001").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].primary, Endpoint::new("sip1", 8000));
        assert_eq!(v[0].backup, Some(Endpoint::new("sip2", 8000)));
        assert_eq!(v[1].backup, None);
        assert!(parse_servers("sip1").unwrap_err().contains("host:port"));
        assert!(parse_servers("sip1:0").unwrap_err().contains("port"));
        assert!(parse_servers(" , ").is_err());
    }

    #[test]
    fn reads_the_guide_names_and_names_every_missing_one() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "1"),
            ("EXCP_1_VOICE_SERVER_VQ", "sipvq:8000/sipvq2:8000"),
            ("VOICE_SERVER_AGENT", "sip:8000"),
            ("EXCP_VOICE_SERVER_CALL", "sip:8000"),
            ("EXEC_STORE_PATH", "/tmp/x.redb"),
            ("EXCP_GC_BASE_URL", "http://127.0.0.1:9"),
            ("EXCP_GC_CLIENT_ID", "id"),
            ("EXCP_GC_CLIENT_SECRET", "s3cr3t-value"),
            ("EXCP_STA_DEFAULT_LANGUAGE", "en-US"),
            ("EXCP_1_PORT", "3651"),
            ("EXCP_1_LOG_LEVEL", "debug"),
        ]);
        let c = ExcpConfig::read(&env).unwrap();
        assert_eq!(c.port, 3651, "EXCP_1_PORT");
        assert_eq!(c.log.level, engage_ops::logging::LogLevel::Debug);
        assert_eq!(c.vq_servers[0].backup, Some(Endpoint::new("sipvq2", 8000)));
        assert_eq!(c.model.sta_default_language.as_deref(), Some("en-US"));
        assert!(!format!("{c:?}").contains("s3cr3t-value"));
        let err = ExcpConfig::read(&BTreeMap::<&str, &str>::new())
            .unwrap_err()
            .to_string();
        for n in [
            "EXCP_VOICE_SERVER_VQ",
            "EXCP_VOICE_SERVER_AGENT",
            "EXCP_VOICE_SERVER_CALL",
        ] {
            assert!(err.contains(n), "{n} missing from: {err}");
        }
        assert!(!err.contains("EXCP_GC_"), "published by EXCS: {err}");
    }
}
