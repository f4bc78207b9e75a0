//! The `excp` service: SIP Server clients (VQ, extension, call monitoring; each an HA pair),
//! the engine, ordered and de-duplicated GC delivery, and REST (`/health`, `/status`,
//! `/metrics`) on `EXCP_PORT` (3650).

use super::config::{ExcpConfig, ServerPair};
use super::delivery::{self, DeadLetterApi, DeliveryTask, ReplayRequest};
use super::engine::{Engine, EngineStats};
use super::injector::{Injector, rejects_content};
use super::lookups::ExcpLookups;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use engage_callmodel::ModelConfig;
use engage_ops::health::Health;
use engage_ops::http::{OpsState, base_router, serve};
use engage_ops::metrics::Metrics;
use engage_ops::shrink::{ShrinkGuard, ShrinkNames, ShrinkVerdict};
use engage_store::{
    IdMap, JsonView, Namespace, PRESENCE_SOURCE_KEY, ServiceConnection, Store, StoreError,
};
use engage_tlib::client::{ClientConfig, ClientEvent, TlibClient};
use gcex::events::MAX_EVENTS_PER_REQUEST;
use gcex::{GcClient, GcError};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The re-ordering window of the engine.
const REORDER_MS: u64 = 150;

/// How long a liveness mark holds (see [`RunSettings::liveness_ttl`]).
pub const LIVENESS_TTL: Duration = Duration::from_secs(15);

/// One instance id, one live instance: a mark in the shared store (`excp:alive:{instance}`)
/// holding a token of this run, created with a TTL and re-created when it lapses. Two
/// instances configured with the same id would share a checkpoint and every claim; the second
/// one finds the first one's mark and refuses to start, and a running one that finds a
/// stranger's token in its mark stops.
#[derive(Debug)]
struct Liveness {
    key: String,
    instance: String,
    token: Vec<u8>,
    ttl: Duration,
}

impl Liveness {
    fn new(deps: &Deps, instance: &str, ttl: Duration) -> Liveness {
        Liveness {
            key: deps
                .ns
                .key(&engage_store::schema::keys::excp_alive(instance)),
            instance: instance.to_string(),
            token: uuid::Uuid::new_v4().to_string().into_bytes(),
            ttl,
        }
    }

    /// This run's token (the mark's value), as text.
    fn token(&self) -> String {
        String::from_utf8_lossy(&self.token).into_owned()
    }

    fn conflict(&self) -> String {
        format!(
            "another EXCP instance with the id {:?} is alive (it holds {}); give each instance of \
             a pair its own stable EXCP_INSTANCE_ID",
            self.instance, self.key
        )
    }

    /// Takes the mark, waiting up to one TTL for a previous run's mark to lapse (a restart
    /// after a crash). Store errors do not block the start.
    async fn acquire(&self, store: &Arc<dyn Store>) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + self.ttl + Duration::from_millis(500);
        loop {
            match self.check(store, false).await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(_) => tokio::time::sleep(self.ttl / 10).await,
            }
        }
    }

    /// Checks the mark, and with `renew` gives it a fresh TTL before it lapses (overwritten with
    /// `put_ttl`, so it is never absent while this run lives); `Err` when another instance
    /// holds it.
    async fn check(&self, store: &Arc<dyn Store>, renew: bool) -> Result<(), String> {
        let held = match store.get(&self.key).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "liveness mark not readable");
                return Ok(());
            }
        };
        match held {
            Some(t) if t == self.token => {
                if renew {
                    // Overwritten with a fresh TTL, never deleted first: a peer judging this
                    // run's claims (see `Injector::with_liveness`) must never find it absent.
                    if let Err(e) = store.put_ttl(&self.key, &self.token, self.ttl).await {
                        tracing::warn!(error = %e, "liveness mark not renewed");
                    }
                }
                Ok(())
            }
            Some(_) => Err(self.conflict()),
            None => self.take(store).await,
        }
    }

    async fn take(&self, store: &Arc<dyn Store>) -> Result<(), String> {
        match store
            .put_if_absent(&self.key, &self.token, Some(self.ttl))
            .await
        {
            Ok(true) | Err(_) => Ok(()),
            Ok(false) => match store.get(&self.key).await {
                Ok(Some(t)) if t == self.token => Ok(()),
                _ => Err(self.conflict()),
            },
        }
    }

    /// Gives the mark up at a clean stop (a restart need not wait for it to lapse).
    async fn release(&self, store: &Arc<dyn Store>) {
        if let Ok(Some(t)) = store.get(&self.key).await
            && t == self.token
        {
            let _ = store.delete(&self.key).await;
        }
    }
}

/// The default of `EXCP_MAX_PENDING_EVENTS`.
pub const DEFAULT_MAX_PENDING: usize = 200_000;

/// How long the last delivery round at stop may take before the events are left in the
/// checkpoint (a SIGTERM grace period is typically 30 s).
const LAST_ROUND: Duration = Duration::from_secs(10);

/// How often a changed engine is checkpointed to the store.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The GC client could not be built.
    #[error("cannot set up the Genesys Cloud client: {0}")]
    Gc(#[from] GcError),
    /// The REST port could not be bound.
    #[error("cannot listen on {addr} (EXCP_HOST/EXCP_PORT): {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Which events a SIP Server client is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Virtual queue DNs (`VOICE_SERVER_VQ`).
    Vq,
    /// Agent extension DNs (`VOICE_SERVER_AGENT`).
    Agent,
    /// Call monitoring (`VOICE_SERVER_CALL`).
    Call,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Vq => "vq",
            Role::Agent => "agent",
            Role::Call => "call",
        }
    }
}

/// The engine's settings, without IO handles.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RunSettings {
    /// SIP Servers for VQ events.
    pub vq_servers: Vec<ServerPair>,
    /// SIP Servers for extension events.
    pub agent_servers: Vec<ServerPair>,
    /// SIP Servers for call monitoring.
    pub call_servers: Vec<ServerPair>,
    /// The switch served (all when `None`).
    pub switch: Option<String>,
    /// This instance's claim name.
    pub instance_id: String,
    /// TLib application name and password.
    pub app_name: String,
    /// TLib application password (`Debug` never shows it).
    pub app_password: engage_base::Secret,
    /// Call-model settings.
    pub model: ModelConfig,
    /// Look-up refresh period.
    pub lookup_every: Duration,
    /// How often time is passed to the model and delivery is retried (default 200 ms).
    pub tick: Duration,
    /// Tunes the TLib clients (tests shorten the backoffs).
    pub tlib_tweak: fn(&mut ClientConfig),
    /// Undelivered GC events held in memory (`EXCP_MAX_PENDING_EVENTS`, 200,000; warned at
    /// 80 %). Past it, new events go to the store's spill list ([`crate::spill`]) and
    /// `/health` reports delivery as degraded; they are never dropped.
    pub max_pending: usize,
    /// How long this instance's liveness mark (`excp:alive:{instance}`) holds without being
    /// renewed (15 s; renewed every third of it). A second live instance with the same id
    /// finds it and refuses to start.
    pub liveness_ttl: Duration,
    /// The recording hand-off to EXRP, when recording is enabled and a processor is set.
    pub handoff: Option<crate::handoff::HandoffSettings>,
    /// How long a call's recording metadata and segments stay in the store after the last
    /// write (`EXCP_RECORDING_TTL_HOURS`, 72 h).
    pub recording_ttl: Duration,
    /// The token the recording and dead-letter APIs require (`EXCP_API_TOKEN`); `None`: open.
    pub api_token: Option<engage_base::Secret>,
    /// The guard on DN registrations: the share of registered DNs one refresh may drop
    /// (`EXCP_MAX_DN_REMOVAL_PERCENT`, 10) and how long a larger drop must persist
    /// (`EXCP_DN_SHRINK_HOLD_SECS`, 300 s). An empty read is never applied.
    pub dn_guard: (u8, Duration),
}

impl RunSettings {
    /// Settings with every role on the same SIP Servers, default model settings, look-ups
    /// refreshed every 10 s (tests, the demo).
    pub fn new(servers: Vec<ServerPair>, instance_id: impl Into<String>) -> RunSettings {
        RunSettings {
            vq_servers: servers.clone(),
            agent_servers: servers.clone(),
            call_servers: servers,
            switch: None,
            instance_id: instance_id.into(),
            app_name: "EXCP".into(),
            app_password: engage_base::Secret::default(),
            model: ModelConfig::default(),
            lookup_every: Duration::from_secs(10),
            tick: Duration::from_millis(200),
            tlib_tweak: |_| {},
            max_pending: DEFAULT_MAX_PENDING,
            liveness_ttl: LIVENESS_TTL,
            handoff: None,
            recording_ttl: crate::recording::DEFAULT_TTL,
            api_token: None,
            dn_guard: (10, Duration::from_secs(300)),
        }
    }

    /// The settings of a configured service.
    pub fn from_config(c: &ExcpConfig) -> RunSettings {
        RunSettings {
            vq_servers: c.vq_servers.clone(),
            agent_servers: c.agent_servers.clone(),
            call_servers: c.call_servers.clone(),
            switch: c.switch.clone(),
            instance_id: c.instance_id.clone(),
            app_name: c.app_name.clone(),
            app_password: c.app_password.clone(),
            model: c.model.clone(),
            lookup_every: c.lookup_every,
            tick: Duration::from_millis(200),
            tlib_tweak: |_| {},
            max_pending: c.max_pending,
            liveness_ttl: LIVENESS_TTL,
            handoff: None,
            recording_ttl: c.recording_ttl,
            api_token: c.api_token.clone(),
            dn_guard: c.dn_guard,
        }
    }
}

/// What `/status` shows.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcpStatus {
    /// Engine counters.
    pub engine: EngineStats,
    /// Live conversations.
    pub live_conversations: usize,
    /// GC events waiting for delivery.
    pub pending_events: usize,
    /// GC events delivered by this instance.
    pub delivered: u64,
    /// GC events the other instance of the pair delivered.
    pub skipped_claimed: u64,
    /// GC events GC refused for good.
    pub refused: u64,
    /// VQ DNs, extensions and wrap-up codes known.
    pub lookups: (usize, usize, usize),
    /// Agents logged in on the registered extensions.
    pub agents_logged_in: usize,
    /// Last delivery error, if the last round failed.
    pub last_error: Option<String>,
    /// GC events parked in the dead-letter list (refused for good), in the store.
    pub dead_letters: usize,
    /// The last event parked: its id and GC's answer.
    pub last_dead_letter: Option<String>,
    /// The pending-event level at which `/health` reports delivery as degraded and new events
    /// go to the spill (`EXCP_MAX_PENDING_EVENTS`).
    pub pending_cap: usize,
    /// Undelivered GC events beyond the cap: in the store's spill list, or set aside for it.
    pub spilled_events: usize,
    /// Conversations for which the other instance of the pair derived other events
    /// ([`crate::pair_check`]).
    pub pair_divergences: u64,
    /// The last of them: its conversation id and both digests.
    pub last_divergence: Option<String>,
}

/// Shared status.
pub type SharedStatus = Arc<Mutex<ExcpStatus>>;

/// IO handles of the engine.
#[derive(Debug, Clone)]
pub struct Deps {
    /// The shared store.
    pub store: Arc<dyn Store>,
    /// Its namespace.
    pub ns: Namespace,
    /// GC.
    pub gc: GcClient,
    /// Health.
    pub health: Health,
    /// Metrics.
    pub metrics: Metrics,
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    /// Where REST is served.
    pub http_addr: SocketAddr,
    /// Dependency health.
    pub health: Health,
    /// Metrics.
    pub metrics: Metrics,
    /// Live status.
    pub status: SharedStatus,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    http: tokio::task::JoinHandle<()>,
    handoff: Option<tokio::task::JoinHandle<()>>,
}

/// `/status` in the services' common envelope ([`engage_ops::status`]): what is connected, what
/// is pending (events in memory, in the spill, parked), the last error, and [`ExcpStatus`]
/// under `detail`.
async fn status_handler(
    State((s, health)): State<(SharedStatus, Health)>,
) -> Json<serde_json::Value> {
    let st = s.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let pending = std::collections::BTreeMap::from([
        ("events".to_string(), st.pending_events as u64),
        ("spilledEvents".to_string(), st.spilled_events as u64),
        ("deadLetters".to_string(), st.dead_letters as u64),
    ]);
    let errors: Vec<String> = [
        st.last_error.clone(),
        st.last_dead_letter.clone(),
        st.last_divergence.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let detail = serde_json::to_value(&st).unwrap_or_default();
    Json(engage_ops::status::service_status(
        "EXCP", &health, pending, errors, detail,
    ))
}

impl Service {
    /// Starts from the environment's settings.
    pub async fn start(config: &ExcpConfig) -> Result<Service, ServiceError> {
        let store: Arc<dyn Store> = config.store.open().await?;
        let ns = Namespace::new(&config.common.tenant_id, &config.common.org_id);
        let json = JsonView::new(store.clone(), ns.clone());
        let key = ServiceConnection::key("conversation_provider");
        let (gc_config, published) = match &config.gc {
            // Overridden: the published section (if any) still gives the STA settings.
            Some(gc) => (
                gc.gc_config(&config.common.org_id),
                json.get::<ServiceConnection>(&key).await.ok().flatten(),
            ),
            None => {
                let p = ServiceConnection::wait_for(
                    &json,
                    "conversation_provider",
                    Duration::from_secs(2),
                )
                .await;
                (p.gc_config(), Some(p))
            }
        };
        let gc = GcClient::new(gc_config.with_insecure_http(config.common.gc_allow_http))?;
        if config.instance_id_from_host {
            tracing::warn!(
                instance = %config.instance_id,
                "EXCP_INSTANCE_ID is not set: this instance is named after its host. In a container \
                 the host name changes with every container, so a restart would not find its \
                 checkpoint: set a stable EXCP_INSTANCE_ID per instance of the pair"
            );
        } else {
            tracing::info!(instance = %config.instance_id, "EXCP instance");
        }
        let mut settings = RunSettings::from_config(config);
        let from_section = |k: &str| published.as_ref().and_then(|p| p.settings.get(k).cloned());
        if settings.model.sta_userdata_language_key.is_none() {
            settings.model.sta_userdata_language_key = from_section("sta_userdata_language_key");
        }
        if settings.model.sta_default_language.is_none() {
            settings.model.sta_default_language = from_section("sta_default_language");
        }
        let recording_enabled = config.recording_enabled.unwrap_or_else(|| {
            from_section("recording_enabled").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        });
        settings.handoff = match (&config.recording_processor, recording_enabled) {
            (Some(url), true) => Some(crate::handoff::HandoffSettings {
                url: url.clone(),
                sta_program_id: config
                    .sta_program_id
                    .clone()
                    .or_else(|| from_section("sta_default_programid")),
                metadata_wait: config.metadata_wait,
                every: Duration::from_secs(1),
                token: config.processor_token.clone(),
                gir: {
                    let empty = std::collections::BTreeMap::new();
                    let section = published.as_ref().map_or(&empty, |p| &p.settings);
                    let gir =
                        crate::gir::GirSettings::from_section(config.gir_host.as_deref(), section);
                    if config.gir_host.is_some() && gir.is_none() {
                        tracing::warn!(
                            "EXCP_GIR_HOST is set but conversation_provider/gir_orgId is not: recording metadata is awaited from MCP"
                        );
                    }
                    gir
                },
            }),
            (None, true) => {
                tracing::warn!(
                    "recording is enabled but EXCP_RECORDING_PROCESSOR_PROXY_HOST is not set: recorded segments are stored, not handed to EXRP"
                );
                None
            }
            _ => None,
        };
        let deps = Deps {
            store,
            ns,
            gc,
            health: Health::new(),
            metrics: Metrics::new(),
        };
        Service::start_with(settings, deps, &config.host, config.port).await
    }

    /// Starts with explicit parts (tests, the demo).
    pub async fn start_with(
        settings: RunSettings,
        deps: Deps,
        host: &str,
        port: u16,
    ) -> Result<Service, ServiceError> {
        let addr = engage_ops::http::listen_addr(host, port)
            .await
            .map_err(|e| ServiceError::Listen {
                addr: e.addr,
                source: e.source,
            })?;
        deps.metrics.register_counters(METRICS);
        let deps = Deps {
            store: engage_ops::timed_store::timed(deps.store, "excp", &deps.metrics),
            ..deps
        };
        deps.metrics.record_gc("excp", &deps.gc);
        let status: SharedStatus = Arc::default();
        let router = base_router(OpsState {
            health: deps.health.clone(),
            metrics: deps.metrics.clone(),
        })
        .merge(
            axum::Router::new()
                .route("/status", get(status_handler))
                .with_state((status.clone(), deps.health.clone())),
        )
        .merge(engage_ops::http::protect(
            super::recording::router(super::recording::RecordingApi {
                json: JsonView::new(deps.store.clone(), deps.ns.clone()),
                ttl: settings.recording_ttl,
            }),
            settings.api_token.clone(),
        ));
        let (replay_tx, replay_rx) = mpsc::channel::<ReplayRequest>(4);
        let router = router.merge(engage_ops::http::protect(
            delivery::router(DeadLetterApi {
                list: delivery::dead_letters(deps.store.clone(), &deps.ns),
                replay: replay_tx,
            }),
            settings.api_token.clone(),
        ));
        let (http_addr, http) =
            serve(addr, router)
                .await
                .map_err(|source| ServiceError::Listen {
                    addr: addr.to_string(),
                    source,
                })?;
        let (stop, stop_rx) = watch::channel(false);
        let health = deps.health.clone();
        let metrics = deps.metrics.clone();
        let handoff = settings.handoff.clone().map(|h| {
            tokio::spawn(crate::handoff::run_with_programs(
                h,
                JsonView::new(deps.store.clone(), deps.ns.clone()),
                deps.health.clone(),
                deps.metrics.clone(),
                Some(deps.gc.clone()),
            ))
        });
        let task = tokio::spawn(run(settings, deps, status.clone(), stop_rx, replay_rx));
        Ok(Service {
            http_addr,
            health,
            metrics,
            status,
            stop,
            task,
            http,
            handoff,
        })
    }

    /// Completes when the engine task ended without being asked to (its delivery worker
    /// died, or it panicked), with the reason; `/health` then reports `worker.engine` down.
    pub async fn engine_died(&mut self) -> String {
        let ended = (&mut self.task).await;
        // The engine says why it stopped in its health entry when it knows.
        let said = self
            .health
            .report()
            .dependencies
            .get("worker.engine")
            .filter(|d| !d.up)
            .map(|d| d.detail.clone());
        let why = match (ended, said) {
            (Ok(()), Some(said)) => said,
            (Ok(()), None) => "the EXCP engine task ended (see the log line before)".to_string(),
            (Err(e), _) => format!("the EXCP engine task failed: {e}"),
        };
        self.health.down("worker.engine", why.clone());
        why
    }

    /// Stops the clients, the engine (undelivered events are given one last delivery round)
    /// and REST.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if !self.task.is_finished() {
            let _ = self.task.await;
        }
        if let Some(h) = self.handoff {
            // Its jobs are in the store; the next start goes on with them.
            h.abort();
            let _ = h.await;
        }
        self.http.abort();
        let _ = self.http.await;
    }
}

struct Links {
    clients: Vec<(Role, TlibClient)>,
    dns: [BTreeSet<String>; 2],
}

fn start_role(
    settings: &RunSettings,
    role: Role,
    dns: &BTreeSet<String>,
    tx: &mpsc::Sender<(Role, ClientEvent)>,
) -> Vec<(Role, TlibClient)> {
    let servers = match role {
        Role::Vq => &settings.vq_servers,
        Role::Agent => &settings.agent_servers,
        Role::Call => &settings.call_servers,
    };
    let mut out = Vec::new();
    for pair in servers {
        let mut c = ClientConfig::new(
            pair.primary.clone(),
            pair.backup.clone(),
            settings.app_name.clone(),
        );
        c.app_password = settings.app_password.expose().to_string();
        c.call_monitoring = role == Role::Call;
        if role != Role::Call {
            c.dns_to_register = dns.iter().cloned().collect();
        }
        (settings.tlib_tweak)(&mut c);
        match TlibClient::start(c) {
            Ok((client, mut rx)) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(ev) = rx.recv().await {
                        if tx.send((role, ev)).await.is_err() {
                            break;
                        }
                    }
                });
                out.push((role, client));
            }
            Err(e) => {
                tracing::error!(role = role.name(), error = %e, "SIP Server client not started")
            }
        }
    }
    out
}

/// Every EXCP counter series that exists before anything happened (per client role where the
/// counter is per role), registered at 0 at start; the gauges are set on the first loop turn.
pub const METRICS: &[engage_ops::metrics::CounterSpec] = &[
    (
        "excp_delivery_failures_total",
        "Delivery rounds that ended early, by cause (GC unreachable or refusing, the store).",
        &[("cause", "content")],
    ),
    (
        "excp_delivery_failures_total",
        "Delivery rounds that ended early, by cause (GC unreachable or refusing, the store).",
        &[("cause", "unauthorized")],
    ),
    (
        "excp_delivery_failures_total",
        "Delivery rounds that ended early, by cause (GC unreachable or refusing, the store).",
        &[("cause", "gc")],
    ),
    (
        "excp_delivery_failures_total",
        "Delivery rounds that ended early, by cause (GC unreachable or refusing, the store).",
        &[("cause", "store")],
    ),
    (
        "excp_events_delivered_total",
        "Conversation events accepted by GC.",
        &[],
    ),
    (
        "excp_pair_checks_total",
        PAIR_CHECKS_HELP,
        &[("outcome", "first")],
    ),
    (
        "excp_pair_checks_total",
        PAIR_CHECKS_HELP,
        &[("outcome", "agree")],
    ),
    (
        "excp_pair_checks_total",
        PAIR_CHECKS_HELP,
        &[("outcome", "diverged")],
    ),
    (
        "excp_events_spilled_total",
        "GC events written to the store's spill list (memory held EXCP_MAX_PENDING_EVENTS).",
        &[],
    ),
    (
        "excp_spill_unreadable_total",
        "Spilled entries that no longer decode (moved aside for the operator).",
        &[],
    ),
    (
        "excp_events_skipped_total",
        "Conversation events delivered by the other instance of the pair.",
        &[],
    ),
    (
        "excp_events_refused_total",
        "Conversation events GC refused for good (parked in the dead-letter list).",
        &[],
    ),
    (
        "excp_gc_retryable_event_errors_total",
        "Conversation events GC answered with retryable: true (kept and sent again). Growing while excp_events_delivered_total does not: GC's retryable does not mean what we assume (gcex/README.md).",
        &[],
    ),
    (
        "excp_recording_handoffs_total",
        "Recorded segments handed to EXRP, by outcome.",
        &[("outcome", "delivered")],
    ),
    (
        "excp_recording_handoffs_total",
        "Recorded segments handed to EXRP, by outcome.",
        &[("outcome", "parked")],
    ),
    (
        "excp_tlib_messages_total",
        "TLib messages received, by client role.",
        &[("role", "vq")],
    ),
    (
        "excp_tlib_messages_total",
        "TLib messages received, by client role.",
        &[("role", "agent")],
    ),
    (
        "excp_tlib_messages_total",
        "TLib messages received, by client role.",
        &[("role", "call")],
    ),
    (
        "excp_tlib_frames_skipped_total",
        "TLib frames that did not decode and were skipped (the link stayed up), by client role.",
        &[("role", "vq")],
    ),
    (
        "excp_tlib_frames_skipped_total",
        "TLib frames that did not decode and were skipped (the link stayed up), by client role.",
        &[("role", "agent")],
    ),
    (
        "excp_tlib_frames_skipped_total",
        "TLib frames that did not decode and were skipped (the link stayed up), by client role.",
        &[("role", "call")],
    ),
    (
        "excp_tlib_transcoded_strings_total",
        "TLib strings that were not UTF-8 and were decoded as Windows-1252 (the site's code page in user data), by client role.",
        &[("role", "vq")],
    ),
    (
        "excp_tlib_transcoded_strings_total",
        "TLib strings that were not UTF-8 and were decoded as Windows-1252 (the site's code page in user data), by client role.",
        &[("role", "agent")],
    ),
    (
        "excp_tlib_transcoded_strings_total",
        "TLib strings that were not UTF-8 and were decoded as Windows-1252 (the site's code page in user data), by client role.",
        &[("role", "call")],
    ),
    (
        "excp_sip_switchovers_total",
        "SIP Server primary/backup switchovers, by client role.",
        &[("role", "vq")],
    ),
    (
        "excp_sip_switchovers_total",
        "SIP Server primary/backup switchovers, by client role.",
        &[("role", "agent")],
    ),
    (
        "excp_sip_switchovers_total",
        "SIP Server primary/backup switchovers, by client role.",
        &[("role", "call")],
    ),
    (
        "excp_dn_rejected_total",
        "DN registrations the SIP Server refused.",
        &[("role", "vq")],
    ),
    (
        "excp_dn_rejected_total",
        "DN registrations the SIP Server refused.",
        &[("role", "agent")],
    ),
];

/// How EXCP words the DN guard's verdicts.
const DN_GUARD_NAMES: ShrinkNames = ShrinkNames {
    items: "DNs",
    source: "the DN and VQ records EXCS published",
    max_setting: "EXCP_MAX_DN_REMOVAL_PERCENT",
    hold_setting: "EXCP_DN_SHRINK_HOLD_SECS",
    check: "Check EXCS and the store (a flush, the wrong EXEC_TENANT_ID/EXEC_ORG_ID, EXCP_SWITCH_NAME)",
};

/// Reports the DN guard's verdict: `/health` (`dnRegistrations`), a gauge, and a log line when
/// it changes.
fn report_dn_guard(deps: &Deps, verdict: &ShrinkVerdict, fault: &mut Option<String>) {
    let now = verdict
        .is_fault()
        .then(|| verdict.describe(&DN_GUARD_NAMES));
    deps.metrics.set(
        "excp_dn_registrations_held",
        "1 while a look-up refresh that would drop registered DNs is held back (empty or sharply shrunk read), else 0.",
        &[],
        if now.is_some() { 1.0 } else { 0.0 },
    );
    match (&now, fault.as_ref()) {
        (Some(why), before) if before != Some(why) => {
            tracing::error!(reason = %why, "DN registrations held back; no DN is unregistered for it");
            deps.health.down("dnRegistrations", why.clone());
        }
        (None, Some(_)) => {
            tracing::info!("the DN records EXCS published are consistent again");
            deps.health.up("dnRegistrations", "look-ups applied");
        }
        _ => {}
    }
    if let ShrinkVerdict::ApplyAfterHold { .. } = verdict {
        tracing::warn!(reason = %verdict.describe(&DN_GUARD_NAMES), "DN drop applied");
    }
    *fault = now;
}

/// Wall-clock time in Unix milliseconds (0 before 1970, saturating far in the future).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn load_lookups(
    deps: &Deps,
    settings: &RunSettings,
    json: &JsonView,
    ids: &IdMap,
) -> Option<ExcpLookups> {
    match ExcpLookups::load(json, ids, settings.switch.as_deref()).await {
        Ok(l) => {
            deps.health.up("store", "look-ups loaded");
            if !l.ambiguous.is_empty() {
                tracing::warn!(numbers = ?l.ambiguous, "DN numbers exist on several switches; set EXCP_SWITCH_NAME");
            }
            Some(l)
        }
        Err(e) => {
            deps.health.down("store", e.to_string());
            tracing::warn!(error = %e, "look-ups not loaded; retrying");
            None
        }
    }
}

async fn run(
    settings: RunSettings,
    deps: Deps,
    status: SharedStatus,
    mut stop: watch::Receiver<bool>,
    mut replays: mpsc::Receiver<ReplayRequest>,
) {
    let json = JsonView::new(deps.store.clone(), deps.ns.clone());
    let ids = IdMap::new(deps.store.clone(), deps.ns.clone());
    let alive = Liveness::new(&deps, &settings.instance_id, settings.liveness_ttl);
    if let Err(e) = alive.acquire(&deps.store).await {
        tracing::error!(instance = %settings.instance_id, "{e}");
        deps.health.down("worker.engine", e);
        return;
    }
    let mut alive_at = tokio::time::Instant::now() + settings.liveness_ttl / 3;
    let mut conflicted = false;
    // Established events name the connector's presence source, which EXCS creates.
    let mut model = settings.model.clone();
    loop {
        match json.get::<String>(PRESENCE_SOURCE_KEY).await {
            Ok(Some(id)) => {
                model.source_id = id;
                break;
            }
            Ok(None) => deps.health.down(
                "store",
                "waiting for EXCS to create the connector's presence source",
            ),
            Err(e) => deps.health.down("store", e.to_string()),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(settings.lookup_every) => {}
        }
    }
    let mut lookups = ExcpLookups::default();
    if let Some(l) = load_lookups(&deps, &settings, &json, &ids).await {
        lookups = l;
    }
    let (tx, mut rx) = mpsc::channel::<(Role, ClientEvent)>(16_384);
    let vq_dns: BTreeSet<String> = lookups.maps.queues.keys().cloned().collect();
    let agent_dns: BTreeSet<String> = lookups.extensions.clone();
    let mut links = Links {
        clients: Vec::new(),
        dns: [vq_dns, agent_dns],
    };
    for role in [Role::Vq, Role::Agent, Role::Call] {
        let dns = match role {
            Role::Vq => &links.dns[0],
            _ => &links.dns[1],
        };
        let started = start_role(&settings, role, dns, &tx);
        links.clients.extend(started);
    }
    // Resume from this instance's checkpoint, if any (calls in progress, undelivered events).
    let checkpoint_key = deps.ns.key(&engage_store::schema::keys::excp_checkpoint(
        &settings.instance_id,
    ));
    let mut engine = match deps.store.get(&checkpoint_key).await {
        Ok(Some(bytes)) => match Engine::restore(&bytes, REORDER_MS) {
            Ok(mut e) => {
                tracing::info!(
                    live = e.live_conversations(),
                    pending = e.pending().len(),
                    "resumed from the checkpoint"
                );
                e
            }
            Err(err) => {
                // Never overwrite what cannot be read: keep it aside for the operator.
                let aside = format!("{checkpoint_key}:unreadable");
                match deps.store.put(&aside, &bytes).await {
                    Ok(()) => {
                        tracing::error!(error = %err, kept_at = %aside, "checkpoint unreadable: kept aside; starting without it")
                    }
                    Err(e) => {
                        tracing::error!(error = %err, store_error = %e, "checkpoint unreadable and could not be kept aside; starting without it")
                    }
                }
                Engine::with_reorder(model, REORDER_MS)
            }
        },
        Ok(None) => Engine::with_reorder(model, REORDER_MS),
        Err(e) => {
            tracing::warn!(error = %e, "checkpoint not readable; starting without it");
            Engine::with_reorder(model, REORDER_MS)
        }
    };
    let spill = crate::spill::Spill::new(deps.store.clone(), &deps.ns, &settings.instance_id);
    let mut spilled = match spill.entries().await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "spill length not readable; assuming events are spilled");
            usize::MAX
        }
    };
    if spilled > 0 {
        // Whatever is in the spill is older than anything this run produces.
        engine.start_spilling();
        if spilled != usize::MAX {
            tracing::info!(spilled, "resuming with events in the spill");
        }
    }
    let mut spill_check_at = tokio::time::Instant::now();
    let pair_check = crate::pair_check::PairCheck::new(deps.store.clone(), &deps.ns);
    let mut divergences = (0u64, None::<String>);
    let mut saved_state = None;
    let mut checkpoint_at = tokio::time::Instant::now();
    let injector = Injector::new(
        deps.gc.clone(),
        deps.store.clone(),
        deps.ns.key(engage_store::schema::keys::EXCP_CLAIM_PREFIX),
        settings.instance_id.clone(),
    )
    .with_liveness(
        deps.ns.key(&engage_store::schema::keys::excp_alive("")),
        alive.token(),
    );
    let mut tick = tokio::time::interval(settings.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refresh = tokio::time::interval(settings.lookup_every);
    let mut dn_guard = ShrinkGuard::new(
        settings.dn_guard.0,
        i64::try_from(settings.dn_guard.1.as_millis()).unwrap_or(i64::MAX),
    );
    let mut dn_fault: Option<String> = None;
    deps.health.up("dnRegistrations", "look-ups applied");
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.tick().await;
    deps.health.up("worker.engine", "running");
    deps.health.up("worker.delivery", "running");
    let dead = delivery::dead_letters(deps.store.clone(), &deps.ns);
    let mut dead_count = dead.len().await.unwrap_or(0);
    let mut delivery_task = DeliveryTask::start(injector.clone());
    let mut in_flight = false;
    let mut retry_at = tokio::time::Instant::now();
    let mut backoff =
        engage_base::Backoff::new(Duration::from_millis(250), Duration::from_secs(32));
    let mut jitter = engage_base::Jitter::new();
    let mut counts = Counts::default();
    let mut last_error: Option<String> = None;
    let mut last_dead: Option<String> = None;
    let mut near_cap_warned = false;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            report = delivery_task.reports.recv() => {
                let Some((plan, d)) = report else {
                    // The delivery task ended: nothing would ever be delivered again.
                    tracing::error!("the GC delivery task died; EXCP stops so that its supervisor restarts it");
                    deps.health.down("worker.delivery", "the GC delivery task died");
                    break;
                };
                in_flight = false;
                engine.pending().report(&plan, &d.finished);
                book(&deps, &d, &mut counts);
                for p in &d.report.parked {
                    last_dead = Some(format!("{}: {}", p.event.event_id(), p.error));
                    if let Err(e) = dead.push(p).await {
                        tracing::error!(error = %e, event_id = p.event.event_id(), "dead letter not stored; keeping the event pending");
                        engine.pending().push(p.event.clone());
                    } else {
                        dead_count += 1;
                    }
                }
                match &d.error {
                    None => {
                        backoff.reset();
                        last_error = None;
                        deps.health.up("gc", "events delivered");
                        if !d.report.progressed() {
                            // Only retryable answers, or the peer is on these events.
                            retry_at = tokio::time::Instant::now() + Duration::from_millis(200);
                        }
                    }
                    Some(e) => {
                        let wait = backoff.next_delay(jitter.sample());
                        tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "delivery to GC failed; events kept");
                        deps.health.down("gc", e.to_string());
                        last_error = Some(e.to_string());
                        retry_at = tokio::time::Instant::now() + wait;
                    }
                }
            }
            Some(reply) = replays.recv() => {
                let moved = delivery::take_dead_letters(&dead).await.map(|events| {
                    let n = events.len();
                    for e in events {
                        engine.pending().push(e);
                    }
                    n
                });
                if let Ok(n) = &moved {
                    tracing::info!(events = n, "dead letters put back in the delivery queue");
                    dead_count = dead.len().await.unwrap_or(0);
                    retry_at = tokio::time::Instant::now();
                }
                let _ = reply.send(moved);
            }
            Some((role, ev)) = rx.recv() => {
                handle(&mut engine, &lookups, &deps, role, ev);
                while let Ok((role, ev)) = rx.try_recv() {
                    handle(&mut engine, &lookups, &deps, role, ev);
                }
            }
            _ = tick.tick() => {
                engine.on_time(now_ms(), &lookups);
                if tokio::time::Instant::now() >= alive_at {
                    alive_at = tokio::time::Instant::now() + settings.liveness_ttl / 3;
                    if let Err(e) = alive.check(&deps.store, true).await {
                        tracing::error!(instance = %settings.instance_id, "{e}; stopping without a last delivery round or checkpoint (they would be the other instance's)");
                        deps.health.down("worker.engine", e);
                        conflicted = true;
                        break;
                    }
                }
            }
            _ = refresh.tick() => {
                if let Some(l) = load_lookups(&deps, &settings, &json, &ids).await {
                    let mut vq: BTreeSet<String> = l.maps.queues.keys().cloned().collect();
                    let mut agent: BTreeSet<String> = l.extensions.clone();
                    let verdict = dn_guard.judge(
                        links.dns[0].len() + links.dns[1].len(),
                        vq.len() + agent.len(),
                        links.dns[0].difference(&vq).count()
                            + links.dns[1].difference(&agent).count(),
                        now_ms().min(i64::MAX as u64) as i64,
                    );
                    report_dn_guard(&deps, &verdict, &mut dn_fault);
                    match verdict {
                        // Keep every look-up and registration as they are.
                        ShrinkVerdict::KeepEmpty { .. } => continue,
                        // Map with the new look-ups, keep the DNs it would drop registered.
                        ShrinkVerdict::HoldRemovals { .. } => {
                            vq.extend(links.dns[0].iter().cloned());
                            agent.extend(links.dns[1].iter().cloned());
                        }
                        _ => {}
                    }
                    lookups = l;
                    for (i, (role, new)) in [(Role::Vq, vq), (Role::Agent, agent)].into_iter().enumerate() {
                        if new != links.dns[i] {
                            tracing::info!(role = role.name(), dns = new.len(), "DN set changed; re-registering");
                            links.clients.retain(|(r, c)| {
                                if *r == role { c.shutdown(); false } else { true }
                            });
                            let started = start_role(&settings, role, &new, &tx);
                            links.clients.extend(started);
                            links.dns[i] = new;
                        }
                    }
                }
            }
        }
        // Hand the next plan to the delivery task when it is idle and GC is not in a backoff;
        // this never waits on GC.
        if !in_flight && !engine.pending().is_empty() && tokio::time::Instant::now() >= retry_at {
            let plan = engine.pending().plan(MAX_EVENTS_PER_REQUEST);
            if !plan.is_empty() {
                match delivery_task.plans.try_send(plan) {
                    Ok(()) => in_flight = true,
                    Err(e) => {
                        let plan = match e {
                            mpsc::error::TrySendError::Full(p)
                            | mpsc::error::TrySendError::Closed(p) => p,
                        };
                        engine.pending().report(&plan, &Default::default());
                    }
                }
            }
        }
        check_pair(&mut engine, &pair_check, &deps, &mut divergences).await;
        spill_step(
            &mut engine,
            &spill,
            &mut spilled,
            &mut spill_check_at,
            &settings,
            &deps,
        )
        .await;
        let pending_now = engine.pending().len();
        if pending_now >= settings.max_pending.saturating_mul(4) / 5 || engine.spilling() {
            if !near_cap_warned {
                tracing::warn!(
                    pending = pending_now,
                    cap = settings.max_pending,
                    "undelivered GC events near the cap (EXCP_MAX_PENDING_EVENTS); check GC reachability"
                );
                near_cap_warned = true;
            }
            if pending_now >= settings.max_pending || engine.spilling() {
                deps.health.down(
                    "delivery",
                    format!(
                        "{pending_now} undelivered events in memory (cap {}), {} in the spill",
                        settings.max_pending,
                        spilled_count(spilled, &engine)
                    ),
                );
            }
        } else if near_cap_warned {
            near_cap_warned = false;
            deps.health
                .up("delivery", "undelivered events below the cap");
        }
        // Recording segments go to the store for the recording provider; until stored they
        // stay in the engine, and so in its checkpoint.
        let mut stored = 0;
        for seg in engine.unsaved_segments() {
            let saved =
                match super::recording::store_segment(&json, seg, settings.recording_ttl).await {
                    Ok(()) if settings.handoff.is_some() => {
                        crate::handoff::enqueue(&json, seg, now_ms()).await
                    }
                    other => other,
                };
            match saved {
                Ok(()) => stored += 1,
                Err(e) => {
                    tracing::warn!(error = %e, call_uuid = %seg.call_uuid, "recording segment not stored yet");
                    deps.health.down("store", e.to_string());
                    break;
                }
            }
        }
        engine.segments_stored(stored);
        let stats = engine.stats();
        // Checkpoint every couple of seconds when something changed.
        if tokio::time::Instant::now() >= checkpoint_at {
            checkpoint_at = tokio::time::Instant::now() + CHECKPOINT_EVERY;
            let state = (
                stats,
                engine.pending().len(),
                engine.held(),
                engine.unsaved_segments().len(),
                (engine.spilling(), engine.spill_buffered()),
            );
            if saved_state != Some(state) {
                match deps.store.put(&checkpoint_key, &engine.checkpoint()).await {
                    Ok(()) => saved_state = Some(state),
                    Err(e) => tracing::warn!(error = %e, "checkpoint not stored"),
                }
            }
        }
        deps.metrics.record_gc("excp", &deps.gc);
        deps.metrics.set(
            "excp_pending_events",
            "Conversation events waiting for GC.",
            &[],
            engine.pending().len() as f64,
        );
        deps.metrics.set(
            "excp_live_conversations",
            "Conversations in progress.",
            &[],
            engine.live_conversations() as f64,
        );
        deps.metrics.set(
            "excp_pending_events_cap",
            "EXCP_MAX_PENDING_EVENTS: alert when excp_pending_events nears it.",
            &[],
            settings.max_pending as f64,
        );
        deps.metrics.set(
            "excp_dead_letter_events",
            "GC events parked in the dead-letter list (refused for good; replay with POST /api/v1/dead-letter/replay).",
            &[],
            dead_count as f64,
        );
        let spilled_now = spilled_count(spilled, &engine);
        deps.metrics.set(
            "excp_spilled_events",
            "Undelivered GC events beyond EXCP_MAX_PENDING_EVENTS, in the store's spill list (or set aside for it).",
            &[],
            spilled_now as f64,
        );
        *status.lock().unwrap_or_else(PoisonError::into_inner) = ExcpStatus {
            engine: stats,
            live_conversations: engine.live_conversations(),
            pending_events: engine.pending().len(),
            delivered: counts.delivered,
            skipped_claimed: counts.skipped,
            refused: counts.refused,
            lookups: (
                lookups.maps.queues.len(),
                lookups.extensions.len(),
                lookups.maps.wrap_up_codes.len(),
            ),
            agents_logged_in: engine.logged_in().len(),
            last_error: last_error.clone(),
            dead_letters: dead_count,
            last_dead_letter: last_dead.clone(),
            pending_cap: settings.max_pending,
            spilled_events: spilled_now,
            pair_divergences: divergences.0,
            last_divergence: divergences.1.clone(),
        };
    }
    for (_, c) in &links.clients {
        c.shutdown();
    }
    if conflicted {
        delivery_task.task.abort();
        return;
    }
    // The request in flight is reported, then what is still held or queued gets one last,
    // bounded round; the rest stays in the checkpoint.
    drop(delivery_task.plans);
    engine.release(u64::MAX, &lookups);
    let last = async {
        if in_flight && let Some((plan, d)) = delivery_task.reports.recv().await {
            engine.pending().report(&plan, &d.finished);
            for p in &d.report.parked {
                if dead.push(p).await.is_err() {
                    engine.pending().push(p.event.clone());
                }
            }
        }
        if !engine.pending().is_empty()
            && let Err(e) = injector.round(engine.pending()).await
        {
            tracing::warn!(error = %e, "last delivery round failed");
        }
    };
    if tokio::time::timeout(LAST_ROUND, last).await.is_err() {
        tracing::warn!("last delivery round cut short");
    }
    delivery_task.task.abort();
    if !engine.pending().is_empty() {
        tracing::warn!(
            pending = engine.pending().len(),
            "stopping with undelivered events; they are in the checkpoint"
        );
    }
    if let Err(e) = deps.store.put(&checkpoint_key, &engine.checkpoint()).await {
        tracing::warn!(error = %e, "final checkpoint not stored");
    }
    alive.release(&deps.store).await;
}

/// The pair check of the conversations closed since the last turn ([`crate::pair_check`]).
async fn check_pair(
    engine: &mut Engine,
    check: &crate::pair_check::PairCheck,
    deps: &Deps,
    divergences: &mut (u64, Option<String>),
) {
    for closed in engine.take_closed_digests() {
        match check.check(&closed).await {
            Ok(v) => {
                deps.metrics.inc(
                    "excp_pair_checks_total",
                    PAIR_CHECKS_HELP,
                    &[("outcome", v.label())],
                );
                if let crate::pair_check::Verdict::Diverged { ours, theirs } = v {
                    tracing::error!(
                        conversation_id = %closed.conversation_id,
                        ours = %ours,
                        theirs = %theirs,
                        "the two EXCP instances of the pair derived different GC events for this \
                         call (one missed SIP Server events: a link drop, or a start in the middle \
                         of the call without its checkpoint); GC may show parts of it twice"
                    );
                    divergences.0 += 1;
                    divergences.1 = Some(format!(
                        "{}: ours {ours}, the other instance's {theirs}",
                        closed.conversation_id
                    ));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, conversation_id = %closed.conversation_id, "pair check skipped (store)");
            }
        }
    }
}

/// The help of `excp_pair_checks_total`.
const PAIR_CHECKS_HELP: &str = "Closed conversations compared with the other instance of the pair, by outcome (first: nothing to compare yet; agree; diverged: the instances derived different GC events, see the log).";

/// Spilled events: the store's list (unknown counts as 0) and the buffer.
fn spilled_count(in_store: usize, engine: &Engine) -> usize {
    let in_store = if in_store == usize::MAX { 0 } else { in_store };
    in_store.saturating_add(engine.spill_buffered())
}

/// The spill's step of one loop turn ([`crate::spill`]): start spilling at the cap, write what
/// the engine set aside, and read the spill back once memory is down to half the cap (at most
/// every 200 ms). `spilled` is the store list's length as this run knows it (`usize::MAX`:
/// unknown).
async fn spill_step(
    engine: &mut Engine,
    spill: &crate::spill::Spill,
    spilled: &mut usize,
    check_at: &mut tokio::time::Instant,
    settings: &RunSettings,
    deps: &Deps,
) {
    if !engine.spilling() && engine.pending().len() >= settings.max_pending {
        engine.start_spilling();
        tracing::warn!(
            pending = engine.pending().len(),
            cap = settings.max_pending,
            "undelivered GC events reached EXCP_MAX_PENDING_EVENTS: new events go to the store's \
             spill list until delivery catches up"
        );
    }
    if engine.spill_buffered() > 0 {
        let w = spill.write(engine.take_to_spill()).await;
        if w.written > 0 {
            deps.metrics.inc_by(
                "excp_events_spilled_total",
                "GC events written to the store's spill list (memory held EXCP_MAX_PENDING_EVENTS).",
                &[],
                w.written as u64,
            );
            if *spilled != usize::MAX {
                *spilled = spilled.saturating_add(w.written);
            }
        }
        if let Some(e) = w.error {
            tracing::warn!(error = %e, buffered = w.unwritten.len(), "spill not written; the events stay in memory and in the checkpoint");
            deps.health.down("store", e.to_string());
            engine.spill_not_written(w.unwritten);
        }
    }
    let now = tokio::time::Instant::now();
    if !engine.spilling() || now < *check_at || engine.pending().len() > settings.max_pending / 2 {
        return;
    }
    // Checked again at once after a batch came back (more may wait), else in 200 ms.
    *check_at = now + Duration::from_millis(200);
    let room = (settings.max_pending / 2)
        .saturating_sub(engine.pending().len())
        .clamp(1, crate::spill::RELOAD_BATCH);
    match spill.reload(room).await {
        Ok(r) if r.events.is_empty() && r.unreadable == 0 => {
            engine.spill_drained();
            *spilled = 0;
            tracing::info!("the spill is empty: new events are held in memory again");
        }
        Ok(r) => {
            if r.unreadable > 0 {
                tracing::error!(
                    entries = r.unreadable,
                    "spilled events that no longer decode were moved to excp:spill:{{instance}}:unreadable"
                );
                deps.metrics.inc_by(
                    "excp_spill_unreadable_total",
                    "Spilled entries that no longer decode (moved aside for the operator).",
                    &[],
                    r.unreadable as u64,
                );
            }
            let n = r.events.len() + r.unreadable;
            if *spilled != usize::MAX {
                *spilled = spilled.saturating_sub(n);
            }
            engine.unspill(r.events);
            *check_at = now;
        }
        Err(e) => {
            tracing::warn!(error = %e, "spill not read back yet");
            deps.health.down("store", e.to_string());
        }
    }
}

/// Delivery counters since start.
#[derive(Debug, Default)]
struct Counts {
    delivered: u64,
    skipped: u64,
    refused: u64,
}

/// Books a delivery's counters in the metrics and logs what GC refused.
fn book(deps: &Deps, d: &super::injector::Delivery, counts: &mut Counts) {
    let r = &d.report;
    counts.delivered += r.accepted as u64;
    counts.skipped += r.skipped_claimed as u64;
    counts.refused += r.parked.len() as u64;
    for p in &r.parked {
        tracing::error!(
            event_id = p.event.event_id(),
            conversation_id = p.event.conversation_id(),
            status = ?p.status,
            error = %p.error,
            "GC refused a conversation event for good; parked in the dead-letter list"
        );
    }
    deps.metrics.inc_by(
        "excp_events_delivered_total",
        "Conversation events accepted by GC.",
        &[],
        r.accepted as u64,
    );
    deps.metrics.inc_by(
        "excp_events_skipped_total",
        "Conversation events delivered by the other instance of the pair.",
        &[],
        r.skipped_claimed as u64,
    );
    deps.metrics.inc_by(
        "excp_events_refused_total",
        "Conversation events GC refused for good (parked in the dead-letter list).",
        &[],
        r.parked.len() as u64,
    );
    deps.metrics.inc_by(
        "excp_gc_retryable_event_errors_total",
        "Conversation events GC answered with retryable: true (kept and sent again). Growing while excp_events_delivered_total does not: GC's retryable does not mean what we assume (gcex/README.md).",
        &[],
        r.retryable as u64,
    );
    if let Some(e) = &d.error {
        let kind = match e {
            super::injector::InjectError::Gc(g) if rejects_content(g) => "content",
            super::injector::InjectError::Gc(g) if g.is_unauthorized() => "unauthorized",
            super::injector::InjectError::Gc(_) => "gc",
            super::injector::InjectError::Store(_) => "store",
        };
        deps.metrics.inc(
            "excp_delivery_failures_total",
            "Delivery rounds that ended early, by cause (GC unreachable or refusing, the store).",
            &[("cause", kind)],
        );
    }
}

fn handle(engine: &mut Engine, lookups: &ExcpLookups, deps: &Deps, role: Role, ev: ClientEvent) {
    let key = format!("sipServer.{}", role.name());
    let labels = [("role", role.name())];
    let link = |up: bool| {
        deps.metrics.set(
            "excp_sip_link_up",
            "Whether the SIP Server link of a client role is registered (1) or down (0).",
            &labels,
            if up { 1.0 } else { 0.0 },
        );
    };
    match ev {
        ClientEvent::Message(m) => {
            deps.metrics.inc(
                "excp_tlib_messages_total",
                "TLib messages received, by client role.",
                &labels,
            );
            if m.transcoded_strings() > 0 {
                deps.metrics.inc_by(
                    "excp_tlib_transcoded_strings_total",
                    "TLib strings that were not UTF-8 and were decoded as Windows-1252 (the site's code page in user data), by client role.",
                    &labels,
                    m.transcoded_strings() as u64,
                );
            }
            engine.on_tlib(&m, lookups, now_ms());
        }
        ClientEvent::Registered { which } => {
            link(true);
            deps.health
                .up(&key, format!("registered on the {which:?} server"));
        }
        ClientEvent::LinkDown { which, reason } => {
            link(false);
            tracing::warn!(role = role.name(), server = ?which, %reason, "SIP Server link down");
            deps.health
                .down(&key, format!("{which:?} link down: {reason}"));
        }
        ClientEvent::Switchover { from, to } => {
            deps.metrics.inc(
                "excp_sip_switchovers_total",
                "SIP Server primary/backup switchovers, by client role.",
                &labels,
            );
            tracing::warn!(role = role.name(), ?from, ?to, "SIP Server switchover");
        }
        ClientEvent::DnRejected { dn, error_code } => {
            deps.metrics.inc(
                "excp_dn_rejected_total",
                "DN registrations the SIP Server refused.",
                &labels,
            );
            tracing::warn!(role = role.name(), %dn, ?error_code, "SIP Server refused a DN registration");
        }
        ClientEvent::CallMonitoringRejected { error_code } => {
            link(false);
            tracing::error!(?error_code, "SIP Server refused call monitoring");
            deps.health.down(&key, "call monitoring refused");
        }
        ClientEvent::ConnectFailed { which, error, .. } => {
            link(false);
            deps.health.down(&key, format!("{which:?}: {error}"));
        }
        ClientEvent::FrameSkipped { which, reason } => {
            deps.metrics.inc(
                "excp_tlib_frames_skipped_total",
                "TLib frames that did not decode and were skipped (the link stayed up), by client role.",
                &labels,
            );
            tracing::warn!(role = role.name(), server = ?which, %reason, "TLib frame skipped: it does not decode");
        }
        other => tracing::debug!(role = role.name(), event = ?other, "SIP Server link"),
    }
}

impl engage_ops::service::RunningService for Service {
    fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    fn stop(self) -> impl std::future::Future<Output = ()> + Send {
        self.shutdown()
    }
    fn died(&mut self) -> impl std::future::Future<Output = String> + Send {
        self.engine_died()
    }
}
