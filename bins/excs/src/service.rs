//! The EXCS service: settings, the poll loop (Config DB snapshot → desired org → removal guard →
//! reconcile) and its REST API (`/health`, `/status`, mapping look-ups, `/metrics`) on
//! `EXCS_PORT` (3640).
//!
//! # Safety settings (our additions)
//!
//! - `EXCS_MAX_REMOVAL_PERCENT` (0–100, default 10): the largest share of mapped users, queues,
//!   queue memberships or extension DN records one cycle may deactivate or remove. A cycle
//!   planning more is refused ([`crate::guard`]): nothing is changed, an ERROR line and
//!   `/status` (`data.blocked`) give the figures, `excs_cycles_blocked_total{reason}` counts it
//!   and `/health` shows `removalGuard` down. 100 turns the limit off; 0 asks for confirmation
//!   of every removal; one removal is always allowed otherwise.
//! - `EXCS_CONFIRM_REMOVALS`: the operator's one-shot confirmation of a refused cycle. A number
//!   N runs the next refused cycle once if it removes at most N objects in all (the `planned`
//!   figure of `/status`; a larger plan stays refused); `true` runs the next refused cycle once
//!   whatever it removes. Used at most once per start (logged); remove it afterwards.
//!
//! An empty read (no person, or no agent, in scope while GC has active mapped users or agents)
//! is never confirmable: it is a Config DB fault (`/health` `configDb` down, reason
//! `empty_read`); polling goes on and sync resumes by itself when a read brings them back.
//!
//! Each poll also checks a sentinel key EXCS writes in the store
//! ([`STORE_SENTINEL_KEY`]); when it vanished (a Redis flush or a new empty Redis) the poll runs
//! a full cycle at once, which republishes every `person:`, `dn:`, `vq:`, `hybrid:` record and
//! the presence source id (log line, `excs_store_wipes_detected_total`).

use super::desired::{DesiredOrg, DesiredSettings, desired_org};
use super::guard::{
    BlockReason, Confirmation, CurrentOrg, CycleBlock, MappedPerson, ReadSummary, RemovalPolicy,
    Verdict, assess,
};
use super::rules::RoleNames;
use super::sync::{Reconciler, SharedProgress, SyncReport};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use engage_cfgdb::changes::{ChangeKind, ChangeTracker, Delta, Poller, PollerConfig};
use engage_cfgdb::model::HybridIntegration;
use engage_cfgdb::{ConfigDb, DbConfig, FolderFilter, SchemaMap, Snapshot, read_snapshot};
use engage_ops::config::{
    COMMON_SETTINGS, CommonConfig, ConfigError, EnvReader, Lookup, STORE_SETTINGS,
};
use engage_ops::health::Health;
use engage_ops::http::{OpsState, base_router};
use engage_ops::logging;
use engage_ops::metrics::Metrics;
use engage_ops::settings::{ServiceSettings, Setting, SettingGroup};
use engage_store::schema::keys;
use engage_store::{
    DnRecord, IdKind, IdMap, JsonView, Namespace, PersonRecord, ServiceConnection, Store,
    StoreError,
};
use gcex::{GcClient, GcConfig, RateLimit};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// EXCS's own logging variables (the guide's names; `EXCS_LOG_FILE_NAME` also accepted).
pub const LOG_NAMES: [Setting; 3] = [
    Setting::guide("EXCS_LOG_LEVEL", logging::LEVEL_HELP).default_value("info"),
    Setting::guide("EXCS_LOG_PATH", logging::PATH_HELP).default_value("(stdout only)"),
    Setting::guide("EXCS_LOG_FILENAME", logging::FILE_NAME_HELP)
        .default_value("excs.log")
        .aliases(&["EXCS_LOG_FILE_NAME"]),
];

/// The Config DB variables `engage_cfgdb::DbConfig::from_lookup` reads (EXCS's and
/// `exec doctor`'s).
pub const CONFIG_DB_SETTINGS: SettingGroup = SettingGroup::new(
    "Config DB",
    &[
        Setting::guide(
            "EXCS_CONFIG_DB_TYPE",
            "postgresql, oracle, mssql (or sqlite)",
        )
        .default_value("postgresql"),
        Setting::guide("EXCS_CONFIG_DB_HOST", "Config DB host (not for sqlite)").mandatory(),
        Setting::guide("EXCS_CONFIG_DB_PORT", "Config DB port")
            .default_value("the type's usual port"),
        Setting::guide("EXCS_CONFIG_DB_NAME", "database name (sqlite: the file)").mandatory(),
        Setting::guide("EXCS_CONFIG_DB_USER", "user (not for sqlite)").mandatory(),
        Setting::guide("EXCS_CONFIG_DB_PASSWORD", "password").secret(),
        Setting::guide("EXCS_CONFIG_DB_SSL", "connect with TLS").default_value("false"),
        Setting::ours(
            "EXCS_CONFIG_DB_SSL_CA",
            "PEM file of the CA certificates to trust for the Config DB's TLS certificate",
        ),
    ],
);

/// Every variable [`ExcsSettings::from_env`] reads: `excs --help`, `--check-config` and the
/// redaction of secrets come from it (a test fails when the reader and it disagree).
pub static SETTINGS: ServiceSettings = ServiceSettings::new(
    "excs",
    "EX Engage Connector Configuration Sync Service (Config DB to Genesys Cloud)",
    &[
        SettingGroup::new(
            "EXCS",
            &[
                Setting::guide("EXCS_PORT", "REST port (/health, /status, /metrics)")
                    .default_value("3640"),
                Setting::ours("EXCS_HOST", "address the REST endpoint binds (127.0.0.1: this host only)")
                    .default_value("0.0.0.0"),
                Setting::ours(
                    "EXCS_SET_PRIMARY_PRESENCE_SOURCE",
                    "make the connector's presence source each agent's primary presence source in GC (PUT /api/v2/presence/users/{id}/primarysource; needs presence:userPrimarySource:edit). GC's docs do not say whether injected presence shows without it",
                )
                .default_value("false"),
                Setting::ours(
                    "EXCS_PROGRESS_LOG_SECS",
                    "how often a long sync cycle logs its progress at INFO (counts per kind, objects/s, GC requests/s, 429s, time left), seconds",
                )
                .default_value("10"),
                Setting::ours(
                    "EXCS_USER_API",
                    "how users are provisioned: scim (POST/PATCH /api/v2/scim/v2/users: one request creates a user with roles, skills and external id) or users (the Users API, for orgs without SCIM)",
                )
                .default_value("scim"),
                Setting::ours(
                    "EXCS_API_TOKEN",
                    "when set, the look-ups (/api/v1/*, personal data) need Authorization: Bearer <token>",
                )
                .secret(),
                Setting::guide(
                    "EXCS_GC_QUEUE_NAME_SUFFIX",
                    "suffix of the GC queues synced from Engage; set it to -Engage-external",
                )
                .mandatory(),
                Setting::guide(
                    "EXCS_SYNC_CUSTOMER_OBJECTS_ONLY",
                    "sync only objects under the folders of EXCS_SYNC_CUSTOMER_FOLDER_NAME",
                )
                .default_value("false")
                .aliases(&["SYNC_CUSTOMER_OBJECTS_ONLY"]),
                Setting::guide(
                    "EXCS_SYNC_CUSTOMER_FOLDER_NAME",
                    "comma-separated CME folder names (with their subfolders) to sync",
                )
                .aliases(&["SYNC_CUSTOMER_FOLDER_NAME"]),
                Setting::ours("EXCS_POLL_INTERVAL_SECS", "Config DB poll interval, seconds")
                    .default_value("5"),
                Setting::ours("EXCS_DRIFT_CHECK_EVERY", "full GC drift check every N polls")
                    .default_value("60"),
                Setting::ours(
                    "EXCS_FULL_SCAN_EVERY",
                    "full Config DB snapshot every N polls even when the history log shows no change",
                )
                .default_value("1"),
                Setting::ours("EXCS_GC_RATE_LIMIT_PER_MIN", "GC requests per minute; 0 disables")
                    .default_value("300"),
                Setting::ours("EXCS_GC_RATE_WINDOW_SECS", "the window of that limit, seconds")
                    .default_value("60"),
                Setting::ours(
                    "EXCS_MAX_REMOVAL_PERCENT",
                    "largest share (0-100) of mapped objects one cycle may remove; 100 turns the guard off",
                )
                .default_value("10"),
                Setting::ours(
                    "EXCS_CONFIRM_REMOVALS",
                    "one-shot confirmation of a refused cycle: a number of removals, or true",
                ),
            ],
        ),
        CONFIG_DB_SETTINGS,
        COMMON_SETTINGS,
        STORE_SETTINGS,
        SettingGroup::new("EXCS logging", &LOG_NAMES),
        logging::LOG_SETTINGS,
    ],
);

/// EXCS settings from the environment (the guide's names).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExcsSettings {
    /// Shared settings (org, tenant).
    pub common: CommonConfig,
    /// `EXCS_PORT` (default 3640).
    pub port: u16,
    /// `EXCS_HOST`: the address the REST endpoint binds (default `0.0.0.0`; ours).
    pub host: String,
    /// `EXCS_API_TOKEN`: when set, the look-ups need `Authorization: Bearer` (ours).
    pub api_token: Option<gcex::Secret>,
    /// `EXCS_SET_PRIMARY_PRESENCE_SOURCE` (ours, default false): make the connector's presence
    /// source each agent's primary presence source. Public docs say a custom source becomes a
    /// user's primary one this way, not whether presence injected through a non-primary source
    /// shows; a site whose agents' presence does not show in GC turns this on.
    pub set_primary_presence_source: bool,
    /// `EXCS_PROGRESS_LOG_SECS` (ours, default 10, at least 1): how often a long cycle logs its
    /// progress.
    pub progress_every: Duration,
    /// `EXCS_USER_API` (ours, default `scim`): provision users through GC's SCIM API or
    /// through the Users API (see [`crate::sync::UserApi`]).
    pub user_api: crate::sync::UserApi,
    /// Config DB connection (`EXCS_CONFIG_DB_*`).
    pub db: DbConfig,
    /// `EXCS_GC_QUEUE_NAME_SUFFIX`.
    pub queue_suffix: String,
    /// Folder filtering (`EXCS_SYNC_CUSTOMER_OBJECTS_ONLY` / `SYNC_CUSTOMER_OBJECTS_ONLY`, and
    /// the folder list).
    pub filter: FolderFilter,
    /// Poll interval (`EXCS_POLL_INTERVAL_SECS`, default 5; our addition).
    pub poll_interval: Duration,
    /// Full drift check every this many polls (`EXCS_DRIFT_CHECK_EVERY`, default 60; ours).
    pub drift_check_every: u32,
    /// Read a full Config DB snapshot every this many polls even when the history log shows
    /// no change (`EXCS_FULL_SCAN_EVERY`, default 1 = every poll, which never depends on the
    /// history log; raise it on very large Config DBs whose history is reliable; ours).
    pub full_scan_every: u32,
    /// GC requests per minute (`EXCS_GC_RATE_LIMIT_PER_MIN`, default 300; 0 disables; ours).
    pub gc_rate_limit_per_min: u32,
    /// The window of that limit (`EXCS_GC_RATE_WINDOW_SECS`, default 60; benchmarks shrink it).
    pub gc_rate_window: Duration,
    /// The largest share of objects one cycle may deactivate or remove without confirmation
    /// (`EXCS_MAX_REMOVAL_PERCENT`, 0–100, default 10; ours; see the module doc).
    pub removal_policy: RemovalPolicy,
    /// The operator's one-shot confirmation of a refused cycle (`EXCS_CONFIRM_REMOVALS`: a
    /// number of removals or `true`; ours; see the module doc).
    pub confirm_removals: Confirmation,
    /// The shared store.
    pub store: engage_store::StoreSettings,
    /// Log settings (`EXCS_LOG_LEVEL`, `EXCS_LOG_PATH`, `EXCS_LOG_FILENAME`, `LOG_*`).
    pub log: engage_ops::logging::LogConfig,
}

impl ExcsSettings {
    /// Reads every EXCS setting; one error names every missing or invalid variable.
    pub fn from_env(lookup: &dyn Lookup) -> Result<ExcsSettings, ConfigError> {
        let mut env = EnvReader::new(lookup);
        let common = CommonConfig::read(&mut env);
        let port = env.parsed_or::<u16>("EXCS_PORT", 3640);
        let host = env
            .optional("EXCS_HOST")
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let api_token = env.optional("EXCS_API_TOKEN").map(gcex::Secret::new);
        let set_primary_presence_source = env.flag("EXCS_SET_PRIMARY_PRESENCE_SOURCE", false);
        let progress_every =
            Duration::from_secs(env.parsed_or::<u64>("EXCS_PROGRESS_LOG_SECS", 10).max(1));
        let user_api = match env.optional("EXCS_USER_API") {
            None => crate::sync::UserApi::default(),
            Some(v) => v.parse().unwrap_or_else(|why: String| {
                env.invalid("EXCS_USER_API", &why);
                crate::sync::UserApi::default()
            }),
        };
        let queue_suffix = env.required(
            "EXCS_GC_QUEUE_NAME_SUFFIX",
            "queue name suffix, set it to -Engage-external",
        );
        let db = match DbConfig::from_lookup(|n| lookup.get(n)) {
            Ok(db) => Some(db),
            Err(e) => {
                env.invalid("EXCS_CONFIG_DB_*", &e.to_string());
                None
            }
        };
        let objects_only = env
            .optional("EXCS_SYNC_CUSTOMER_OBJECTS_ONLY")
            .or_else(|| env.optional("SYNC_CUSTOMER_OBJECTS_ONLY"));
        let folders = env
            .optional("EXCS_SYNC_CUSTOMER_FOLDER_NAME")
            .or_else(|| env.optional("SYNC_CUSTOMER_FOLDER_NAME"));
        let filter = match FolderFilter::from_settings(objects_only.as_deref(), folders.as_deref())
        {
            Ok(f) => f,
            Err(e) => {
                env.invalid("SYNC_CUSTOMER_OBJECTS_ONLY", &e.to_string());
                FolderFilter::off()
            }
        };
        let poll = env.parsed_or::<u64>("EXCS_POLL_INTERVAL_SECS", 5);
        let drift_check_every = env.parsed_or::<u32>("EXCS_DRIFT_CHECK_EVERY", 60);
        let full_scan_every = env.parsed_or::<u32>("EXCS_FULL_SCAN_EVERY", 1);
        let gc_rate_limit_per_min = env.parsed_or::<u32>("EXCS_GC_RATE_LIMIT_PER_MIN", 300);
        let gc_rate_window = env.parsed_or::<u64>("EXCS_GC_RATE_WINDOW_SECS", 60);
        let max_removal_percent = env.parsed_or::<u8>(
            "EXCS_MAX_REMOVAL_PERCENT",
            super::guard::DEFAULT_MAX_REMOVAL_PERCENT,
        );
        if max_removal_percent > 100 {
            env.invalid(
                "EXCS_MAX_REMOVAL_PERCENT",
                "a percent from 0 to 100 (100 turns the removal limit off)",
            );
        }
        let confirm_removals = match env.optional("EXCS_CONFIRM_REMOVALS") {
            None => Confirmation::None,
            Some(v) => Confirmation::parse(&v).unwrap_or_else(|why| {
                env.invalid("EXCS_CONFIRM_REMOVALS", &why);
                Confirmation::None
            }),
        };
        let store = engage_ops::config::store_settings(&mut env);
        let [level, path, file_name] = &LOG_NAMES;
        let names = logging::ServiceLogSettings {
            level,
            path,
            file_name,
        };
        let log = logging::LogConfig::read(&mut env, "excs", names, &common.tenant_id);
        env.finish()?;
        Ok(ExcsSettings {
            store,
            log,
            common,
            port,
            host,
            api_token,
            set_primary_presence_source,
            progress_every,
            user_api,
            db: db.unwrap_or_else(|| DbConfig::sqlite("")),
            queue_suffix,
            filter,
            poll_interval: Duration::from_secs(poll.max(1)),
            drift_check_every: drift_check_every.max(1),
            full_scan_every: full_scan_every.max(1),
            gc_rate_limit_per_min,
            gc_rate_window: Duration::from_secs(gc_rate_window.max(1)),
            removal_policy: RemovalPolicy::new(max_removal_percent),
            confirm_removals,
        })
    }
}

/// Why one poll failed. The service logs it, marks the dependency down in `/health` and polls
/// again after the poll interval.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The Config DB could not be read (nothing is changed in GC on a failed read).
    #[error("Config DB: {0}; check EXCS_CONFIG_DB_* and that the database answers")]
    ConfigDb(#[source] engage_cfgdb::Error),
    /// The reconciliation cycle failed (GC or the store).
    #[error("sync cycle: {0}")]
    Sync(#[from] crate::sync::SyncError),
    /// The removal guard refused the cycle (nothing was changed in GC); see
    /// [`PollError::blocked`].
    #[error("sync cycle refused: {}", .0.message)]
    Blocked(Box<CycleBlock>),
}

impl PollError {
    /// Whether the next poll may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        match self {
            PollError::ConfigDb(_) => true,
            PollError::Sync(e) => e.is_retryable(),
            PollError::Blocked(b) => b.reason == BlockReason::EmptyRead,
        }
    }

    /// Why the removal guard refused the cycle, if it did.
    pub fn blocked(&self) -> Option<&CycleBlock> {
        match self {
            PollError::Blocked(b) => Some(b),
            _ => None,
        }
    }

    /// Whether the Config DB failed (as opposed to GC or the store).
    pub fn is_config_db(&self) -> bool {
        matches!(self, PollError::ConfigDb(_))
    }
}

/// Why EXCS cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The `hybrid_integration` transaction is missing or incomplete.
    #[error(
        "hybrid_integration transaction: {0}. Configure it in CME as the deployment guide describes"
    )]
    HybridIntegration(String),
    /// The GC client configuration is invalid.
    #[error("Genesys Cloud client: {0}")]
    Gc(#[from] gcex::GcError),
    /// The Config DB could not be read.
    #[error("Config DB: {0}")]
    ConfigDb(#[from] engage_cfgdb::Error),
}

/// The GC client settings from the `hybrid_integration` transaction: `general`
/// (`base_service_url` + `base_auth_url`, or `region`; `organization_id`) and the `config_sync`
/// client credentials.
pub fn gc_config_from_hybrid(
    h: &HybridIntegration,
    section_credentials: &str,
    rate_limit: RateLimit,
) -> Result<GcConfig, StartError> {
    let empty = engage_cfgdb::model::AnnexSection::default();
    // EXRP's section names its secret `password` (the guide's recording-uploader table).
    let (creds, secret_key) = match section_credentials {
        "agent_state_sync" => (&h.agent_state_sync, "client_secret"),
        "conversation_provider" => (&h.conversation_provider, "client_secret"),
        RECORDING_GC_SECTION => (
            h.recording_uploader
                .get("exec.genesysCloud")
                .unwrap_or(&empty),
            "password",
        ),
        _ => (&h.config_sync, "client_secret"),
    };
    let get = |s: &engage_cfgdb::model::AnnexSection, k: &str| {
        s.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let org = get(&h.general, "organization_id").unwrap_or_default();
    let (Some(id), Some(secret)) = (get(creds, "client_id"), get(creds, secret_key)) else {
        return Err(StartError::HybridIntegration(format!(
            "missing {section_credentials}/client_id or {secret_key}"
        )));
    };
    let cfg = match (
        get(&h.general, "base_service_url"),
        get(&h.general, "base_auth_url"),
        get(&h.general, "region"),
    ) {
        (Some(api), Some(auth), _) => GcConfig::new(api, auth, org, id, secret),
        (Some(api), None, _) => GcConfig::from_region(&api, org, id, secret)?,
        (None, _, Some(region)) => GcConfig::from_region(&region, org, id, secret)?,
        _ => {
            return Err(StartError::HybridIntegration(
                "missing general/base_service_url (or general/region)".into(),
            ));
        }
    };
    Ok(cfg.with_rate_limit(rate_limit))
}

/// EXRP's GC connection section (`recording-uploader.exec.genesysCloud`: `client_id`,
/// `password`).
pub const RECORDING_GC_SECTION: &str = "recording-uploader.exec.genesysCloud";

/// EXRP's WebDAV section (`recording-uploader.exec.transientStorage`: `type`, `url`,
/// `username`, `password`).
pub const RECORDING_STORAGE_SECTION: &str = "recording-uploader.exec.transientStorage";

/// Publishes the `agent_state_sync` and `conversation_provider` sections (GC connection and
/// settings) for EXAS and EXCP, and EXRP's two `recording-uploader.exec.*` sections (the guide
/// has EXRP read those from Configuration Server; the project has no Config Server client, so
/// EXCS publishes them like the others), when they changed. A section without credentials is
/// skipped (logged once per change); store errors are logged (the next poll tries again).
pub async fn publish_connections(json: &JsonView, h: &HybridIntegration) {
    let empty = engage_cfgdb::model::AnnexSection::default();
    let recording_gc = h
        .recording_uploader
        .get("exec.genesysCloud")
        .unwrap_or(&empty);
    let storage = h.recording_uploader.get("exec.transientStorage");
    let mut sections = vec![
        ("agent_state_sync", &h.agent_state_sync, "agent_state_sync"),
        (
            "conversation_provider",
            &h.conversation_provider,
            "conversation_provider",
        ),
        (RECORDING_GC_SECTION, recording_gc, RECORDING_GC_SECTION),
    ];
    // The storage section carries WebDAV's settings; its GC part is EXRP's connection.
    if let Some(storage) = storage {
        sections.push((RECORDING_STORAGE_SECTION, storage, RECORDING_GC_SECTION));
    }
    for (section, data, credentials) in sections {
        let cfg = match gc_config_from_hybrid(h, credentials, RateLimit::disabled()) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(section, error = %e, "section not published");
                continue;
            }
        };
        let own_secret = section != RECORDING_STORAGE_SECTION;
        let settings = data
            .iter()
            .filter(|(k, _)| {
                !own_secret || (*k != "client_id" && *k != "client_secret" && *k != "password")
            })
            .filter_map(|(k, v)| v.first().map(|v| (k.to_string(), v.to_string())))
            .collect();
        let rec = ServiceConnection {
            base_service_url: cfg.base_service_url.clone(),
            base_auth_url: cfg.base_auth_url.clone(),
            organization_id: cfg.organization_id.clone(),
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.expose().to_string(),
            settings,
        };
        let key = ServiceConnection::key(section);
        match json.get::<ServiceConnection>(&key).await {
            Ok(Some(old)) if old == rec => {}
            Ok(_) => {
                if let Err(e) = json.put(&key, &rec).await {
                    tracing::warn!(section, error = %e, "GC connection not published");
                }
            }
            Err(e) => tracing::warn!(section, error = %e, "GC connection not published"),
        }
    }
}

/// The desired-org settings from EXCS settings and `hybrid_integration/config_sync`.
pub fn desired_settings(settings: &ExcsSettings, h: Option<&HybridIntegration>) -> DesiredSettings {
    let cs = h.map(|h| &h.config_sync);
    let get = |k: &str| cs.and_then(|s| s.get(k)).map(str::to_string);
    let num = |k: &str| get(k).and_then(|v| v.trim().parse::<i64>().ok());
    DesiredSettings {
        tenant_name: settings.common.tenant_name.clone(),
        queue_suffix: settings.queue_suffix.clone(),
        roles: RoleNames::with_overrides(
            get("nonagent_role_names").as_deref(),
            get("agent_role_names").as_deref(),
            get("supervisor_role_names").as_deref(),
        ),
        skill_level_min: num("skill_level_min_value"),
        skill_level_max: num("skill_level_max_value"),
        filter: settings.filter.clone(),
    }
}

/// The running EXCS engine: owns the change poller (Config DB reader) and the reconciler.
///
/// Each poll asks the [`Poller`] for typed deltas (history log + per-object fingerprints).
/// GC is only written when something changed in the Config DB, a drift check is due, or the
/// previous cycle left work to retry; an idle poll costs one history query (plus a snapshot
/// read every `full_scan_every` polls) and no GC request.
pub struct Excs {
    json: JsonView,
    ids: IdMap,
    poller: Poller,
    snapshot: Snapshot,
    settings: ExcsSettings,
    reconciler: Reconciler,
    health: Health,
    metrics: Metrics,
    polls: u64,
    retry_pending: bool,
    /// The operator's confirmation, until a refused cycle uses it.
    confirmation: Confirmation,
    /// Why cycles are refused now.
    blocked: Option<CycleBlock>,
    /// Queue members (person DBIDs) as the last cycle applied them; `None` until read from the
    /// store (or after a wipe).
    last_members: Option<BTreeMap<i64, BTreeSet<i64>>>,
    /// Whether this process wrote the store sentinel (so its absence means a wipe).
    sentinel_written: bool,
    /// A full cycle is owed (the store was wiped) until one succeeds.
    force_full: bool,
}

/// The store key (relative, in EXCS's own `applied:` family of `engage_store::schema`) EXCS
/// writes after a successful cycle and checks every poll: its absence means the store was
/// wiped, and the next cycle is a full one that republishes every record.
pub const STORE_SENTINEL_KEY: &str = "applied:excs:sentinel";

/// The store key of the queue members last applied (person DBIDs by VQ DN DBID), which the
/// removal guard compares the next desired org with, also after a restart.
pub const APPLIED_MEMBERS_KEY: &str = "applied:excs:queueMembers";

/// The queue members of a desired org, as the guard compares them.
fn members_of(desired: &DesiredOrg) -> BTreeMap<i64, BTreeSet<i64>> {
    desired
        .queues
        .iter()
        .map(|(d, q)| (*d, q.members.clone()))
        .collect()
}

impl std::fmt::Debug for Excs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Excs").field("polls", &self.polls).finish()
    }
}

/// Picks the tenant's `hybrid_integration` (by `EXEC_TENANT_ID` when it is a DBID, else the
/// only one).
pub fn hybrid_for_tenant<'a>(snap: &'a Snapshot, tenant_id: &str) -> Option<&'a HybridIntegration> {
    tenant_id
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|t| snap.hybrid_integration.get(&t))
        .or_else(|| snap.hybrid_integration.values().next())
}

impl Excs {
    /// Connects: reads the Config DB once to find `hybrid_integration` and build the GC client.
    pub async fn start(
        settings: ExcsSettings,
        db: Box<dyn ConfigDb>,
        store: Arc<dyn Store>,
        ns: Namespace,
        health: Health,
        metrics: Metrics,
    ) -> Result<Excs, StartError> {
        let map = SchemaMap::default();
        let db: Arc<dyn ConfigDb> = Arc::from(db);
        let snap = read_snapshot(db.as_ref(), &map).await?;
        health.up("configDb", "snapshot read");
        let hybrid = hybrid_for_tenant(&snap, &settings.common.tenant_id).ok_or_else(|| {
            StartError::HybridIntegration("no hybrid_integration transaction found".into())
        })?;
        let limit = if settings.gc_rate_limit_per_min == 0 {
            RateLimit::disabled()
        } else {
            RateLimit {
                max_requests: settings.gc_rate_limit_per_min,
                window: settings.gc_rate_window,
            }
        };
        let gc = GcClient::new(
            gc_config_from_hybrid(hybrid, "config_sync", limit)?
                .with_insecure_http(settings.common.gc_allow_http),
        )?;
        register_metrics(&metrics);
        // GC in /health from the start, not only after the first (possibly long) cycle.
        match tokio::time::timeout(Duration::from_secs(15), gc.authenticate()).await {
            Ok(Ok(())) => {
                tracing::info!("Genesys Cloud reached (access token obtained)");
                health.up("gc", "access token obtained");
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Genesys Cloud not reached at start; the sync cycles retry");
                health.down("gc", e.to_string());
            }
            Err(_) => {
                tracing::warn!(
                    "no answer from the Genesys Cloud login within 15 s; the sync cycles retry"
                );
                health.down("gc", "no answer from the GC login within 15 s");
            }
        }
        let roles = desired_settings(&settings, Some(hybrid)).roles;
        let (store_for_json, ns_for_json) = (store.clone(), ns.clone());
        let ids = IdMap::new(store.clone(), ns.clone());
        let reconciler = Reconciler::new(
            gc,
            store,
            ns,
            roles,
            metrics.clone(),
            SharedProgress::default(),
        )
        .with_primary_presence_source(settings.set_primary_presence_source)
        .with_user_api(settings.user_api)
        .with_progress_every(settings.progress_every);
        let poller = Poller::new(
            db,
            map,
            PollerConfig::new(settings.poll_interval, settings.full_scan_every),
            ChangeTracker::baseline(&snap),
        );
        if settings.confirm_removals != Confirmation::None {
            tracing::warn!(
                confirmation = ?settings.confirm_removals,
                "EXCS_CONFIRM_REMOVALS is set: the first sync cycle refused for too many \
                 removals that it covers will run once; remove the setting afterwards"
            );
        }
        health.up("removalGuard", "no cycle refused");
        let json = JsonView::new(store_for_json, ns_for_json);
        // Records written by a version without the login index get it now, once (at start,
        // never on a request path).
        let backfill = async {
            let mut indexed = 0usize;
            for (_, p) in json.scan::<PersonRecord>(PersonRecord::PREFIX).await? {
                p.index_logins(&json).await?;
                indexed += p.logins.len();
            }
            Ok::<usize, StoreError>(indexed)
        };
        match backfill.await {
            Ok(n) => tracing::debug!(logins = n, "login index written"),
            Err(e) => tracing::warn!(
                error = %e,
                "login index not written at start; logins get it when their person changes"
            ),
        }
        Ok(Excs {
            json,
            ids,
            confirmation: settings.confirm_removals,
            blocked: None,
            last_members: None,
            sentinel_written: false,
            force_full: false,
            poller,
            snapshot: snap,
            settings,
            reconciler,
            health,
            metrics,
            polls: 0,
            retry_pending: true,
        })
    }

    /// The progress handle for `/status`.
    pub fn progress(&self) -> SharedProgress {
        self.reconciler.progress()
    }

    /// One poll: check the store sentinel (a wiped store forces a full cycle), ask the change
    /// poller for deltas; when there are any (or on the first poll, when a drift check is due,
    /// when the previous cycle left work to retry or was refused, or when the store was wiped)
    /// compute the desired org from the latest snapshot, let the removal guard
    /// ([`crate::guard`]) accept or refuse it, and reconcile (full on the first poll, every
    /// `drift_check_every` polls and after a wipe). Otherwise GC is not touched and the report
    /// says `unchanged`. A refused cycle is [`PollError::Blocked`].
    pub async fn poll_once(&mut self) -> Result<SyncReport, PollError> {
        let r = self.poll_once_inner().await;
        // Whatever step failed (the guard's reads, the cycle, the publishing), `/health` says
        // which dependency it was.
        if let Err(PollError::Sync(e)) = &r {
            let which = match e {
                super::sync::SyncError::Store(_) => "store",
                _ => "gc",
            };
            self.health.down(which, e.to_string());
        }
        r
    }

    async fn poll_once_inner(&mut self) -> Result<SyncReport, PollError> {
        let drift_due = self
            .polls
            .is_multiple_of(u64::from(self.settings.drift_check_every));
        self.polls += 1;
        self.check_store_sentinel().await;
        let full = drift_due || self.force_full;
        let started = std::time::Instant::now();
        let polled = self.poller.poll_once().await;
        self.metrics.set(
            "excs_config_db_poll_seconds",
            CONFIG_DB_POLL_SECONDS_HELP,
            &[],
            started.elapsed().as_secs_f64(),
        );
        self.metrics.inc(
            "excs_config_db_polls_total",
            CONFIG_DB_POLLS_HELP,
            &[("outcome", if polled.is_ok() { "ok" } else { "error" })],
        );
        let outcome = match polled {
            Ok(o) => {
                if !self
                    .blocked
                    .as_ref()
                    .is_some_and(|b| b.reason == BlockReason::EmptyRead)
                {
                    self.health.up("configDb", "change poll succeeded");
                }
                o
            }
            Err(e) => {
                self.health.down("configDb", e.to_string());
                return Err(PollError::ConfigDb(e));
            }
        };
        if let Some(snap) = outcome.snapshot {
            self.snapshot = snap;
        }
        self.record_changes(&outcome.deltas);
        let due = full || self.retry_pending || self.blocked.is_some();
        if !due && outcome.deltas.is_empty() {
            self.reconciler.progress().checked_unchanged();
            return Ok(SyncReport {
                unchanged: true,
                ..SyncReport::default()
            });
        }
        let hybrid = hybrid_for_tenant(&self.snapshot, &self.settings.common.tenant_id).cloned();
        let desired = desired_org(
            &self.snapshot,
            &desired_settings(&self.settings, hybrid.as_ref()),
        );
        for s in &desired.skipped {
            tracing::error!(dbid = s.dbid, user_name = %s.user_name, reason = %s.reason, "person not synchronized");
        }
        let confirmed = match self.guard(&desired).await {
            Ok(confirmed) => confirmed,
            Err(e) => {
                self.retry_pending = true;
                return Err(e);
            }
        };
        match self.reconciler.run_cycle(&desired, full).await {
            Ok(mut r) => {
                if confirmed {
                    // Used: a later mass removal needs a new confirmation.
                    self.confirmation = Confirmation::None;
                    if let Err(e) = self.json.delete(keys::EXCS_CONFIRM_REMOVALS).await {
                        tracing::warn!(error = %e, "the used confirmation was not removed from the store");
                    }
                    tracing::warn!(
                        "the confirmed removals ran; remove EXCS_CONFIRM_REMOVALS from the \
                         deployment if it was set there"
                    );
                }
                if let Some(h) = &hybrid {
                    publish_connections(&self.json, h).await;
                }
                self.retry_pending = !r.errors.is_empty();
                r.config_changes = outcome.deltas.len();
                self.health.up("gc", "last sync cycle succeeded");
                self.health.up("store", "last sync cycle succeeded");
                self.after_cycle(&desired, full).await;
                Ok(r)
            }
            Err(e) => {
                self.retry_pending = true;
                let which = match &e {
                    super::sync::SyncError::Store(_) => "store",
                    _ => "gc",
                };
                self.health.down(which, e.to_string());
                self.metrics
                    .inc("excs_sync_errors_total", "Failed sync cycles.", &[]);
                Err(PollError::Sync(e))
            }
        }
    }

    /// Reads what is mapped now and lets the guard decide; records a refusal (log, metric,
    /// `/status`, `/health`) or its end. `Ok(true)` when the cycle runs on the operator's
    /// confirmation (consumed once the cycle succeeded).
    async fn guard(&mut self, desired: &DesiredOrg) -> Result<bool, PollError> {
        let current = self
            .current_org(desired)
            .await
            .map_err(|e| PollError::Sync(e.into()))?;
        let read = ReadSummary {
            persons_read: self
                .snapshot
                .persons
                .values()
                .filter(|p| p.state != engage_cfgdb::model::ObjectState::Deleted)
                .count(),
            folder_filter: self.settings.filter.enabled,
        };
        // `EXCS_CONFIRM_REMOVALS`, else what `exec confirm-removals` left in the store.
        let confirmation = match self.confirmation {
            Confirmation::None => self.stored_confirmation().await,
            c => c,
        };
        let verdict = assess(
            desired,
            &current,
            &read,
            &self.settings.removal_policy,
            confirmation,
        );
        match verdict {
            Verdict::Blocked(block) => {
                self.metrics.inc(
                    "excs_cycles_blocked_total",
                    "Sync cycles refused by the removal guard, by reason.",
                    &[("reason", block.reason.label())],
                );
                let changed = self.blocked.as_ref() != Some(&block);
                if changed {
                    tracing::error!(
                        reason = block.reason.label(),
                        persons_read = block.persons_read,
                        persons_in_scope = block.persons_in_scope,
                        agents_in_scope = block.agents_in_scope,
                        active_users_mapped = block.active_users_mapped,
                        planned = block.plan.planned(),
                        plan = ?block.plan.removals,
                        "sync cycle refused: {}",
                        block.message
                    );
                } else {
                    tracing::debug!(reason = block.reason.label(), "sync cycle still refused");
                }
                match block.reason {
                    BlockReason::EmptyRead => {
                        self.health
                            .down("configDb", format!("degraded: {}", block.message));
                        self.health.up("removalGuard", "no cycle refused");
                    }
                    _ => {
                        self.health.down("removalGuard", block.message.clone());
                    }
                }
                self.reconciler.progress().set_blocked(Some(block.clone()));
                self.blocked = Some(block.clone());
                Err(PollError::Blocked(Box::new(block)))
            }
            Verdict::Proceed { plan, confirmed } => {
                if confirmed {
                    tracing::warn!(
                        planned = plan.planned(),
                        plan = ?plan.removals,
                        "removals beyond EXCS_MAX_REMOVAL_PERCENT run once, confirmed by \
                         EXCS_CONFIRM_REMOVALS"
                    );
                    self.metrics.inc(
                        "excs_removals_confirmed_total",
                        "Sync cycles run beyond the removal limit on the operator's confirmation.",
                        &[],
                    );
                }
                if let Some(old) = self.blocked.take() {
                    tracing::info!(
                        was = old.reason.label(),
                        planned = plan.planned(),
                        "sync cycles resume"
                    );
                    self.reconciler.progress().set_blocked(None);
                    self.health.up("configDb", "change poll succeeded");
                    self.health.up("removalGuard", "no cycle refused");
                }
                Ok(confirmed)
            }
        }
    }

    /// What is mapped and published now, for the guard.
    async fn current_org(&mut self, desired: &DesiredOrg) -> Result<CurrentOrg, StoreError> {
        let records: BTreeMap<i64, PersonRecord> = self
            .json
            .scan::<PersonRecord>(PersonRecord::PREFIX)
            .await?
            .into_iter()
            .map(|(_, r)| (r.dbid, r))
            .collect();
        let persons = self
            .ids
            .all(IdKind::Person)
            .await?
            .into_iter()
            .filter_map(|(k, _)| k.parse::<i64>().ok())
            .map(|d| {
                let r = records.get(&d);
                let p = MappedPerson {
                    active: r.is_none_or(|r| r.active),
                    is_agent: r.is_some_and(|r| r.is_agent),
                };
                (d, p)
            })
            .collect();
        let mut queues = BTreeMap::new();
        for (k, _) in self.ids.all(IdKind::Queue).await? {
            let Ok(d) = k.parse::<i64>() else { continue };
            let emptied = !desired.queues.contains_key(&d)
                && self
                    .json
                    .get::<String>(&keys::applied("queue", &k))
                    .await?
                    .as_deref()
                    == Some("emptied");
            queues.insert(d, emptied);
        }
        if self.last_members.is_none() {
            self.last_members = self.json.get(APPLIED_MEMBERS_KEY).await?;
        }
        let extensions = self
            .json
            .scan::<DnRecord>(keys::DN_PREFIX)
            .await?
            .into_iter()
            .map(|(rest, _)| format!("{}{rest}", keys::DN_PREFIX))
            .collect();
        Ok(CurrentOrg {
            persons,
            queues,
            members: self.last_members.clone(),
            extensions,
        })
    }

    /// After a successful cycle: remember the applied queue members (memory and store) and
    /// write the store sentinel if this process has not (yet, or since a wipe).
    async fn after_cycle(&mut self, desired: &DesiredOrg, full: bool) {
        let members = members_of(desired);
        if self.last_members.as_ref() != Some(&members) {
            if let Err(e) = self.json.put(APPLIED_MEMBERS_KEY, &members).await {
                tracing::warn!(error = %e, "applied queue members not saved; the next poll tries again");
            }
            self.last_members = Some(members);
        }
        if full {
            // A full cycle republished every record: a wipe is repaired.
            self.force_full = false;
        }
        if !self.sentinel_written {
            let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
            match self.json.put(STORE_SENTINEL_KEY, &stamp).await {
                Ok(()) => self.sentinel_written = true,
                Err(e) => tracing::warn!(error = %e, "store sentinel not written"),
            }
        }
    }

    /// Checks the store sentinel: gone after this process wrote it means the store was wiped
    /// (a Redis flush, a new empty Redis); the next cycle is then a full one.
    /// The confirmation `exec confirm-removals` wrote, if any (an unreadable one is ignored
    /// and logged).
    async fn stored_confirmation(&self) -> Confirmation {
        match self.json.get::<String>(keys::EXCS_CONFIRM_REMOVALS).await {
            Ok(Some(v)) => Confirmation::parse(&v).unwrap_or_else(|e| {
                tracing::warn!(value = %v, error = %e, "ignoring the stored removal confirmation");
                Confirmation::None
            }),
            Ok(None) => Confirmation::None,
            Err(e) => {
                tracing::debug!(error = %e, "stored removal confirmation not readable");
                Confirmation::None
            }
        }
    }

    async fn check_store_sentinel(&mut self) {
        if !self.sentinel_written {
            return;
        }
        match self.json.get::<i64>(STORE_SENTINEL_KEY).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(
                    "the store was wiped (EXCS's sentinel key is gone): republishing every \
                     record with a full sync cycle now"
                );
                self.metrics.inc(
                    "excs_store_wipes_detected_total",
                    "Store wipes (Redis flushes) detected; each forces a full sync cycle.",
                    &[],
                );
                self.sentinel_written = false;
                self.force_full = true;
                self.last_members = None;
            }
            Err(e) => tracing::debug!(error = %e, "store sentinel not readable"),
        }
    }

    /// Counts and logs the Config DB changes a poll found.
    fn record_changes(&self, deltas: &[Delta]) {
        if deltas.is_empty() {
            return;
        }
        for d in deltas {
            let change = match d.change {
                ChangeKind::Created => "created",
                ChangeKind::Deleted => "deleted",
                _ => "changed",
            };
            let kind = format!("{:?}", d.kind);
            self.metrics.inc(
                "excs_config_changes_total",
                "Config DB object changes detected, by object kind and change.",
                &[("kind", kind.as_str()), ("change", change)],
            );
        }
        let sample: Vec<String> = deltas
            .iter()
            .take(10)
            .map(|d| format!("{:?} {} {:?}", d.kind, d.dbid, d.change))
            .collect();
        tracing::info!(count = deltas.len(), first = ?sample, "Config DB changes detected");
    }

    /// Polls forever at the configured interval.
    pub async fn run(mut self) {
        loop {
            if let Err(e) = self.poll_once().await {
                tracing::warn!(error = %e, "sync cycle failed; retrying next poll");
            }
            tokio::time::sleep(self.settings.poll_interval).await;
        }
    }
}

/// Every EXCS series that exists before anything happened, with its help: registered at 0 at
/// start ([`register_metrics`]), so that `/metrics` shows them all from the first scrape and a
/// dashboard or an alert never waits for a first event. (`excs_config_changes_total` and
/// `excs_name_conflicts_total` carry labels known only when they happen.)
pub const METRICS: &[engage_ops::metrics::CounterSpec] = &[
    (
        "excs_config_db_polls_total",
        CONFIG_DB_POLLS_HELP,
        &[("outcome", "ok")],
    ),
    (
        "excs_config_db_polls_total",
        CONFIG_DB_POLLS_HELP,
        &[("outcome", "error")],
    ),
    (
        "excs_sync_cycles_total",
        "Sync cycles run.",
        &[("result", "ok")],
    ),
    ("excs_sync_errors_total", "Failed sync cycles.", &[]),
    ("excs_users_created_total", "Users created in GC.", &[]),
    ("excs_users_updated_total", "Users updated in GC.", &[]),
    ("excs_queues_created_total", "Queues created in GC.", &[]),
    (
        "excs_cycles_blocked_total",
        "Sync cycles refused by the removal guard, by reason.",
        &[("reason", "empty_read")],
    ),
    (
        "excs_cycles_blocked_total",
        "Sync cycles refused by the removal guard, by reason.",
        &[("reason", "too_many_removals")],
    ),
    (
        "excs_removals_confirmed_total",
        "Sync cycles run beyond the removal limit on the operator's confirmation.",
        &[],
    ),
    (
        "excs_store_wipes_detected_total",
        "Store wipes (Redis flushes) detected; each forces a full sync cycle.",
        &[],
    ),
    (
        "excs_primary_presence_source_set_total",
        "Agents whose primary presence source EXCS set to the connector's (EXCS_SET_PRIMARY_PRESENCE_SOURCE).",
        &[],
    ),
];

const CONFIG_DB_POLLS_HELP: &str = "Config DB change polls, by outcome (ok, error).";
const CONFIG_DB_POLL_SECONDS_HELP: &str = "How long the last Config DB change poll took (history query, and the snapshot when one was read).";

/// The gauge of configured role names the org lacks (set every cycle; registered at 0).
pub const ROLES_MISSING: (&str, &str) = (
    "excs_roles_missing",
    "Role names configured for new users (hybrid_integration nonagent/agent/supervisor_role_names) that do not exist in the GC org; users get the others.",
);

/// Registers every counter of [`METRICS`] at 0, the gauges EXCS sets, and the GC client's.
pub fn register_metrics(metrics: &Metrics) {
    metrics.register_counters(METRICS);
    metrics.set(ROLES_MISSING.0, ROLES_MISSING.1, &[], 0.0);
    metrics.set(
        "excs_config_db_poll_seconds",
        CONFIG_DB_POLL_SECONDS_HELP,
        &[],
        0.0,
    );
    metrics.record_gc_client("excs", gcex::ClientStats::default());
}

/// What `exec confirm-removals VALUE` does: checks `value` as `EXCS_CONFIRM_REMOVALS` would
/// (`true`, or the number of removals the operator accepts) and leaves it in the store, where
/// EXCS's next poll finds it, runs the refused cycle once if it plans no more removals, and
/// removes it. No restart needed.
pub async fn confirm_removals(json: &JsonView, value: &str) -> Result<Confirmation, String> {
    let c = Confirmation::parse(value)?;
    if c == Confirmation::None {
        return Err(format!(
            "{value:?} confirms nothing: give `true` or the number of removals to allow"
        ));
    }
    json.put(keys::EXCS_CONFIRM_REMOVALS, &value.trim().to_string())
        .await
        .map_err(|e| format!("cannot write the confirmation: {e}"))?;
    Ok(c)
}

/// State of the EXCS REST API.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Org id for the status message.
    pub org_id: String,
    /// Progress of the sync.
    pub progress: SharedProgress,
    /// Id maps.
    pub ids: IdMap,
    /// JSON records.
    pub json: JsonView,
}

async fn status(State(s): State<ApiState>) -> Response {
    let p = s.progress.get();
    let ts = p.time_stamp.clone().unwrap_or_default();
    let (code, message) = match (&p.blocked, p.status.as_str()) {
        (Some(b), _) => (2, format!("Synchronization blocked: {}", b.message)),
        (None, "Success") => (
            0,
            format!(
                "Latest database updates for orgId:{} have been successfully processed on {ts}",
                s.org_id
            ),
        ),
        (None, "InProgress" | "") => (
            1,
            format!(
                "Synchronization in progress: {} of {} objects",
                p.done, p.total
            ),
        ),
        _ => (
            2,
            format!(
                "Last synchronization failed: {}",
                p.last_error.clone().unwrap_or_default()
            ),
        ),
    };
    let body = serde_json::json!({
        "status": {"code": code, "message": message, "corrId": uuid::Uuid::new_v4().to_string()},
        "data": {
            "syncStatus": {
                "timeStamp": ts,
                "status": if p.status.is_empty() { "InProgress" } else { p.status.as_str() },
                "progress": {"done": p.done, "total": p.total, "kinds": p.kinds.iter().map(|(k, [d, t])| (k.clone(), serde_json::json!({"done": d, "total": t}))).collect::<serde_json::Map<String, serde_json::Value>>()},
                "initialSyncDone": p.initial_sync_done,
            },
            "conflicts": p.conflicts,
            "lastReport": p.last_report,
            "blocked": p.blocked,
        }
    });
    axum::Json(body).into_response()
}

fn found<T: serde::Serialize>(v: Option<T>) -> Response {
    match v {
        Some(v) => axum::Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"message": "not mapped"})),
        )
            .into_response(),
    }
}

fn store_error(e: engage_store::StoreError) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({"message": e.to_string()})),
    )
        .into_response()
}

async fn person(State(s): State<ApiState>, Path(dbid): Path<i64>) -> Response {
    match s.json.get::<PersonRecord>(&PersonRecord::key(dbid)).await {
        Ok(v) => found(v),
        Err(e) => store_error(e),
    }
}

async fn person_by_login(
    State(s): State<ApiState>,
    Path((switch_dbid, code)): Path<(i64, String)>,
) -> Response {
    // Two reads through the login index: a request never scans the store.
    match PersonRecord::by_login(&s.json, switch_dbid, &code).await {
        Ok(p) => found(p),
        Err(e) => store_error(e),
    }
}

async fn queue(State(s): State<ApiState>, Path(dn_dbid): Path<i64>) -> Response {
    match s.ids.gc_id(IdKind::Queue, &dn_dbid.to_string()).await {
        Ok(v) => found(v.map(|id| serde_json::json!({"dnDbid": dn_dbid, "queueId": id}))),
        Err(e) => store_error(e),
    }
}

async fn extension(
    State(s): State<ApiState>,
    Path((switch, number)): Path<(String, String)>,
) -> Response {
    match s
        .json
        .get::<DnRecord>(&engage_store::schema::keys::dn(&switch, &number))
        .await
    {
        Ok(v) => found(v),
        Err(e) => store_error(e),
    }
}

async fn wrap_up_code(State(s): State<ApiState>, Path(name): Path<String>) -> Response {
    match s.ids.gc_id(IdKind::WrapUpCode, &name).await {
        Ok(v) => found(v.map(|id| serde_json::json!({"name": name, "wrapupCodeId": id}))),
        Err(e) => store_error(e),
    }
}

/// The EXCS REST API: `/status` and the look-ups EXAS and EXCP use, plus `/health`, `/metrics`.
/// With `token` (`EXCS_API_TOKEN`) the look-ups, which return personal data, need it.
pub fn router(api: ApiState, ops: OpsState, token: Option<gcex::Secret>) -> Router {
    let lookups = Router::new()
        .route("/api/v1/persons/{dbid}", get(person))
        .route("/api/v1/logins/{switch_dbid}/{code}", get(person_by_login))
        .route("/api/v1/queues/{dn_dbid}", get(queue))
        .route("/api/v1/extensions/{switch}/{number}", get(extension))
        .route("/api/v1/wrapupcodes/{name}", get(wrap_up_code))
        .with_state(api.clone());
    Router::new()
        .route("/status", get(status))
        .with_state(api)
        .merge(engage_ops::http::protect(lookups, token))
        .merge(base_router(ops))
}

/// Opens the Config DB reader for `cfg`; PostgreSQL with `EXCS_CONFIG_DB_SSL` gets a rustls
/// connector (see [`pg_tls_connector`]); every other dialect and TLS case goes through
/// [`engage_cfgdb::open`].
pub fn open_config_db(cfg: &DbConfig) -> Result<Box<dyn ConfigDb>, engage_cfgdb::Error> {
    if cfg.ssl && cfg.db_type == engage_cfgdb::Dialect::Postgres {
        let tls = pg_tls_connector(cfg.ssl_ca.as_deref())?;
        return Ok(Box::new(engage_cfgdb::PgConfigDb::connect_with_tls(
            cfg, tls,
        )?));
    }
    engage_cfgdb::open(cfg)
}

/// The rustls connector for a PostgreSQL Config DB. With `ca_file` (`EXCS_CONFIG_DB_SSL_CA`)
/// only the certificates of that PEM file are trusted (like libpq's `sslrootcert`: a private
/// CA is pinned); without it, the system roots. The server name is always verified.
pub fn pg_tls_connector(
    ca_file: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, engage_cfgdb::Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let err = |message: String| engage_cfgdb::Error::Connect {
        dialect: "postgresql",
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    if ca_file.is_none() {
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            err(format!(
                "EXCS_CONFIG_DB_SSL_CA={path} cannot be read: {e}; point it at a PEM file of CA certificates"
            ))
        })?;
        let mut added = 0usize;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| {
                err(format!(
                    "EXCS_CONFIG_DB_SSL_CA={path} is not valid PEM: {e}"
                ))
            })?;
            roots.add(cert).map_err(|e| {
                err(format!(
                    "EXCS_CONFIG_DB_SSL_CA={path} holds a certificate rustls rejects: {e}"
                ))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(err(format!(
                "EXCS_CONFIG_DB_SSL_CA={path} holds no CERTIFICATE block"
            )));
        }
    }
    if roots.is_empty() {
        return Err(err(
            "EXCS_CONFIG_DB_SSL=true but no root certificate could be loaded: install \
             ca-certificates or set EXCS_CONFIG_DB_SSL_CA to the database's CA (PEM)"
                .into(),
        ));
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
