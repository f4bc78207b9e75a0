//! The EXAS driver: the tokio side around the [`Tracker`].
//!
//! ```text
//! store person:* ──scope scan──► Tracker ◄── ClientEvent::Value ── StatClient (primary/backup)
//!                                   │ Change
//!                                   ▼
//!                 Outbox (store) ──sender──► GcClient::inject_presence/routing_status_events
//! ```
//!
//! - Scope: every [`DriverConfig::scope_every`] the person records EXCS publishes
//!   (`person:{dbid}`) are read; agents (`is_agent && active` with a GC user id) new in scope
//!   get their two statistics opened (CurrentStateReason then CurrentState, pipelined with
//!   `open_many`), agents that left have them closed.
//! - Values: a value is mapped through the deployment guide's table; a change is pushed to
//!   the outbox, then the agent's delivered state is written to the store (so a crash between
//!   the two resends a state rather than losing it).
//! - Reconcile: after every link up (start, reconnect, switchover) every open statistic is
//!   peeked; values equal to the delivered state send nothing.
//! - Sender: takes up to [`DriverConfig::batch_items`] outbox items, injects their presence
//!   events, then their routing-status events (the client cuts requests at 100 events), and
//!   acknowledges by id exactly the items GC accepted or refused for good (parked in the
//!   dead-letter list, see [`delivery`](crate::delivery)). A round holds at most one change
//!   per user, so a retryable failure of one event can never let a later event of the same
//!   user overtake it. While GC is down (5xx, transport errors) or refuses every request
//!   (401/403/404) the same items are retried with backoff and jitter and later items wait
//!   behind them, so per-agent order holds; a request GC refuses for its content
//!   (400/409/413/422) is split until the bad item is alone, and that item is parked.
//! - Lease: one EXAS works an outbox at a time. An instance first takes the outbox lease
//!   in the store ([`engage_store::Lease`], heartbeat every quarter of
//!   [`DriverConfig::lease_slot`]); a second instance (a rolling update) waits, says so in
//!   its log and in `/health` (`outboxLease`), connects to no Stat Server, and takes over
//!   when the lease lapses (at once when the holder stops cleanly). An instance that loses
//!   the lease stops its work and waits again.
//! - Scope guard: an empty or sharply shrunk scope is a fault, not an order to close every
//!   statistic ([`scope`](crate::scope)).

use super::delivery::{self, DeadLetter, Fate, GcFault};
use super::scope::{ScopeGuard, ScopeVerdict};
use super::tracker::{
    Change, DeliveredState, InjectTarget, OutboxItem, PresenceIds, ScopedAgent, Tracker,
};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, ClientEvent, StatClient};
use engage_statserver::{StatSpec, StatSubject};
use engage_store::{
    JsonView, Lease, LeaseState, Namespace, Outbox, OutboxEntry, PRESENCE_SOURCE_KEY, PersonRecord,
    Store,
};
use gcex::GcClient;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// Health dependency names.
pub const HEALTH_STAT: &str = "statServer";
/// Health dependency name of the store.
pub const HEALTH_STORE: &str = "store";
/// Health dependency name of Genesys Cloud.
pub const HEALTH_GC: &str = "genesysCloud";
/// Health dependency name of the outbox lease (down while another instance holds it).
pub const HEALTH_LEASE: &str = "outboxLease";
/// Health dependency name of the scope (down while an empty or sharply shrunk scope is held
/// back).
pub const HEALTH_SCOPE: &str = "scope";

/// Driver settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverConfig {
    /// The Stat Server client (primary, backup, backoff).
    pub stat: ClientConfig,
    /// The Stat Server tenant the agents live in (Engage's default tenant is `Resources`).
    pub stat_tenant: String,
    /// How often the scope (person records) is read again.
    pub scope_every: Duration,
    /// Outbox items per delivery round (each holds up to one presence and one routing event;
    /// GC requests carry at most 100 events).
    pub batch_items: usize,
    /// First wait after a failed delivery round; doubled up to `retry_max`.
    pub retry_min: Duration,
    /// Longest wait between delivery rounds while GC fails.
    pub retry_max: Duration,
    /// Wait between attempts to read the presence source id and presence definitions.
    pub setup_retry: Duration,
    /// How many latency samples to keep (for the benchmark); 0 keeps none.
    pub latency_samples: usize,
    /// Rounds in which GC may answer `retryable` for one item before it is parked.
    pub max_attempts: u32,
    /// The outbox lease's slot: a dead holder is replaced within two slots.
    pub lease_slot: Duration,
    /// This instance's name in the lease (a unique suffix is added per process).
    pub instance_name: String,
    /// Removals from the scope allowed at once, in percent of the agents held
    /// (`EXAS_MAX_SCOPE_REMOVAL_PERCENT`).
    pub max_scope_removal_percent: u8,
    /// How long a larger shrink must persist before it is applied
    /// (`EXAS_SCOPE_SHRINK_HOLD_SECS`).
    pub scope_shrink_hold: Duration,
}

impl DriverConfig {
    /// Defaults: tenant `Resources`, scope every 10 s, 100 items a round, retries from 500 ms
    /// to 30 s, setup retried every 5 s, no latency samples, 10 attempts per item, 5 s lease
    /// slots, the host name as instance name, 10 % scope removals at once, 5 min shrink hold.
    pub fn new(stat: ClientConfig) -> DriverConfig {
        DriverConfig {
            stat,
            stat_tenant: "Resources".into(),
            scope_every: Duration::from_secs(10),
            batch_items: 100,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            setup_retry: Duration::from_secs(5),
            latency_samples: 0,
            max_attempts: delivery::DEFAULT_MAX_ATTEMPTS,
            lease_slot: Duration::from_secs(5),
            instance_name: std::env::var("HOSTNAME").unwrap_or_else(|_| "exas".into()),
            max_scope_removal_percent: super::scope::DEFAULT_MAX_REMOVAL_PERCENT,
            scope_shrink_hold: Duration::from_millis(
                u64::try_from(super::scope::DEFAULT_SHRINK_HOLD_MS).unwrap_or(300_000),
            ),
        }
    }
}

/// What `/status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ExasStatus {
    /// This instance's name in the outbox lease.
    pub instance: String,
    /// Whether this instance holds the outbox lease (works); else it stands by.
    pub active: bool,
    /// The lease holder, when it is another instance.
    pub lease_holder: Option<String>,
    /// Items waiting in the outbox.
    pub outbox_depth: usize,
    /// Items parked in the dead-letter list (`outbox:exas-dead-letter`).
    pub dead_letters: usize,
    /// The last item parked: its id and why.
    pub last_dead_letter: Option<String>,
    /// The last delivery failure and its class (`retryable`, `systemic`), if GC fails now.
    pub last_error: Option<String>,
    /// Agents in scope.
    pub agents_in_scope: usize,
    /// Why the scope read is held back (empty, or shrunk by too much), if it is.
    pub scope_fault: Option<String>,
}

/// The services the driver works with.
#[derive(Debug, Clone)]
pub struct DriverDeps {
    /// The shared store.
    pub store: Arc<dyn Store>,
    /// The deployment's key namespace.
    pub ns: Namespace,
    /// The Genesys Cloud client.
    pub gc: GcClient,
    /// Dependency health (for `/health`).
    pub health: Health,
    /// Metrics (for `/metrics`).
    pub metrics: Metrics,
}

/// The outbox name EXAS uses.
pub const OUTBOX_NAME: &str = "exas";

const M_RECEIVED: &str = "exas_states_received_total";
const M_CHANGES: &str = "exas_state_changes_total";
const M_INJECTED: &str = "exas_events_injected_total";
const M_REJECTED: &str = "exas_events_rejected_total";
const M_DEPTH: &str = "exas_outbox_depth";
const M_LAG: &str = "exas_lag_seconds";
const M_AGENTS: &str = "exas_agents_in_scope";
const M_LINK: &str = "exas_stat_server_link_up";
const M_SWITCH: &str = "exas_stat_server_switchovers_total";
const M_RECONCILE: &str = "exas_reconciliations_total";
const M_FAILED_ROUNDS: &str = "exas_delivery_failures_total";
const M_DEAD: &str = "exas_dead_letter_events";
const M_PARKED: &str = "exas_items_parked_total";
const M_LEASE: &str = "exas_outbox_lease_held";

/// Every EXAS counter series that exists before anything happened, registered at 0 when the
/// driver starts (the gauges are set by the first rounds).
pub const METRICS: &[engage_ops::metrics::CounterSpec] = &[
    (
        M_RECEIVED,
        "Agent state values received from Stat Server.",
        &[],
    ),
    (
        M_CHANGES,
        "Agent state changes queued for Genesys Cloud.",
        &[],
    ),
    (
        M_INJECTED,
        "Events Genesys Cloud accepted.",
        &[("kind", "presence")],
    ),
    (
        M_INJECTED,
        "Events Genesys Cloud accepted.",
        &[("kind", "routingStatus")],
    ),
    (
        M_REJECTED,
        "Events Genesys Cloud rejected (not retryable).",
        &[("kind", "presence")],
    ),
    (
        M_REJECTED,
        "Events Genesys Cloud rejected (not retryable).",
        &[("kind", "routingStatus")],
    ),
    (M_SWITCH, "Switchovers between the Stat Servers.", &[]),
    (
        M_RECONCILE,
        "Snapshots of all agent states taken (start, reconnect, switchover).",
        &[],
    ),
    (
        M_FAILED_ROUNDS,
        "Delivery rounds that Genesys Cloud did not complete (retried).",
        &[],
    ),
    (
        M_PARKED,
        "Outbox items parked in the dead-letter list (refused for good, too many attempts, undecodable).",
        &[("reason", "refused")],
    ),
    (
        M_PARKED,
        "Outbox items parked in the dead-letter list (refused for good, too many attempts, undecodable).",
        &[("reason", "undecodable")],
    ),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One delivered state change, recorded for benchmarks ([`DriverConfig::latency_samples`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The GC user.
    pub gc_user_id: String,
    /// When EXAS received the Stat Server value (Unix milliseconds).
    pub received_ms: i64,
    /// When GC accepted the events (Unix microseconds).
    pub accepted_us: i64,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

struct Shared {
    latencies: Mutex<Vec<Delivery>>,
    latency_cap: usize,
    sender_failing: AtomicBool,
    /// Until when (Unix ms) this instance holds the outbox lease; 0 when it does not.
    held_until: AtomicI64,
    status: Mutex<ExasStatus>,
}

impl Shared {
    fn status(&self) -> std::sync::MutexGuard<'_, ExasStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn holds_lease(&self) -> bool {
        now_ms() < self.held_until.load(Ordering::Relaxed)
    }
}

/// Reads a running driver's [`ExasStatus`].
#[derive(Clone)]
pub struct StatusSource {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StatusSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSource").finish_non_exhaustive()
    }
}

impl StatusSource {
    /// The status now.
    pub fn get(&self) -> ExasStatus {
        self.shared.status().clone()
    }
}

/// A running driver. Dropping it does not stop it; call [`DriverHandle::shutdown`].
pub struct DriverHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    outbox: Outbox,
    stat: Arc<Mutex<Option<StatClient>>>,
    health: Health,
}

impl std::fmt::Debug for DriverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverHandle").finish_non_exhaustive()
    }
}

impl DriverHandle {
    /// Events waiting in the outbox.
    pub async fn outbox_len(&self) -> Result<usize, engage_store::StoreError> {
        self.outbox.len().await
    }

    /// What `/status` shows.
    pub fn status(&self) -> ExasStatus {
        self.shared.status().clone()
    }

    /// A cloneable reader of the status (for the REST endpoint).
    pub fn status_source(&self) -> StatusSource {
        StatusSource {
            shared: self.shared.clone(),
        }
    }

    /// The Stat Server the driver is linked to now, if any.
    pub fn stat_link(&self) -> Option<engage_statserver::client::ServerRole> {
        self.stat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(StatClient::link)
    }

    /// Milliseconds from receiving each Stat Server value to GC accepting its events, in
    /// delivery order (kept only with [`DriverConfig::latency_samples`]).
    pub fn latencies_ms(&self) -> Vec<u32> {
        self.deliveries()
            .iter()
            .map(|d| {
                u32::try_from((d.accepted_us / 1000 - d.received_ms).max(0)).unwrap_or(u32::MAX)
            })
            .collect()
    }

    /// Every delivered state change, in delivery order (kept only with
    /// [`DriverConfig::latency_samples`]).
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared
            .latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the driver: closes the Stat Server link, ends its tasks and releases the outbox
    /// lease (so a waiting instance takes over at once). Events not yet accepted stay in the
    /// outbox for the next start.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Some(c) = self
            .stat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            c.shutdown();
        }
        for mut t in self.tasks {
            if t.is_finished() {
                continue; // ended (and possibly consumed by `died`)
            }
            if tokio::time::timeout(Duration::from_secs(10), &mut t)
                .await
                .is_err()
            {
                t.abort();
                let _ = t.await;
            }
        }
    }

    /// Completes when the driver ended without being asked to (a worker died, or the driver
    /// itself failed), with the reason; `/health` then shows [`HEALTH_WORKER`] down.
    pub async fn died(&mut self) -> String {
        let mut named: Vec<(&'static str, &mut JoinHandle<()>)> =
            self.tasks.iter_mut().map(|t| ("agent-state", t)).collect();
        let (_, why) = engage_ops::service::first_ended(&mut named).await;
        let said = self
            .health
            .report()
            .dependencies
            .get(HEALTH_WORKER)
            .filter(|d| !d.up)
            .map(|d| d.detail.clone());
        let why = said.unwrap_or(why);
        self.health.down(HEALTH_WORKER, why.clone());
        why
    }
}

/// The driver entry point.
#[derive(Debug)]
pub struct Driver;

impl Driver {
    /// Starts the driver on the current runtime: it reads the presence source id (from the
    /// store, published by EXCS) and the org's presence definitions (retrying until both are
    /// there), then connects to the Stat Server and syncs agent states until shut down.
    pub fn start(config: DriverConfig, deps: DriverDeps) -> DriverHandle {
        deps.metrics.register_counters(METRICS);
        deps.metrics.record_gc("exas", &deps.gc);
        let (stop_tx, stop_rx) = watch::channel(false);
        let outbox = Outbox::new(deps.store.clone(), &deps.ns, OUTBOX_NAME);
        let holder = format!("{}/{}", config.instance_name, uuid::Uuid::new_v4().simple());
        let shared = Arc::new(Shared {
            latencies: Mutex::new(Vec::new()),
            latency_cap: config.latency_samples,
            sender_failing: AtomicBool::new(false),
            held_until: AtomicI64::new(0),
            status: Mutex::new(ExasStatus {
                instance: holder.clone(),
                ..ExasStatus::default()
            }),
        });
        let stat = Arc::new(Mutex::new(None));
        let lease = Lease::new(
            deps.store.clone(),
            &deps.ns,
            OUTBOX_NAME,
            &holder,
            config.lease_slot,
        );
        let leader = Leader {
            config,
            deps,
            outbox: outbox.clone(),
            shared: shared.clone(),
            stat: stat.clone(),
            lease,
        };
        let health = leader.deps.health.clone();
        let tasks = vec![tokio::spawn(leader.run(stop_rx))];
        DriverHandle {
            health,
            stop: stop_tx,
            tasks,
            shared,
            outbox,
            stat,
        }
    }
}

/// Holds the outbox lease and runs the work (the Stat Server side and the sender) only while
/// it holds it.
struct Leader {
    config: DriverConfig,
    deps: DriverDeps,
    outbox: Outbox,
    shared: Arc<Shared>,
    stat: Arc<Mutex<Option<StatClient>>>,
    lease: Lease,
}

/// The work started while the lease is held.
struct Work {
    stop: watch::Sender<bool>,
    /// The tasks, each with its name (`sync`: Stat Server to outbox; `sender`: outbox to GC).
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

/// `/health` entry of the agent-state workers: down when one died.
pub const HEALTH_WORKER: &str = "worker.agentState";

/// Completes when a task of `work` ended (it should run until stopped); pending without work.
async fn work_ended(work: &mut Option<Work>) -> (&'static str, String) {
    match work {
        Some(w) => {
            let mut named: Vec<(&'static str, &mut JoinHandle<()>)> =
                w.tasks.iter_mut().map(|(n, t)| (*n, t)).collect();
            engage_ops::service::first_ended(&mut named).await
        }
        None => std::future::pending().await,
    }
}

impl Work {
    async fn stop(self) {
        let _ = self.stop.send(true);
        for (_, mut t) in self.tasks {
            if t.is_finished() {
                continue; // ended (and possibly consumed by `work_ended`)
            }
            if tokio::time::timeout(Duration::from_secs(5), &mut t)
                .await
                .is_err()
            {
                t.abort();
                let _ = t.await;
            }
        }
    }
}

impl Leader {
    fn start_work(&self) -> Work {
        let (stop, stop_rx) = watch::channel(false);
        let notify = Arc::new(Notify::new());
        let sender = Sender {
            config: self.config.clone(),
            deps: self.deps.clone(),
            outbox: self.outbox.clone(),
            dead: delivery::dead_letters(self.deps.store.clone(), &self.deps.ns),
            notify: notify.clone(),
            shared: self.shared.clone(),
            finished: HashSet::new(),
            attempts: HashMap::new(),
        };
        let main = Main {
            scope_guard: ScopeGuard::new(
                self.config.max_scope_removal_percent,
                i64::try_from(self.config.scope_shrink_hold.as_millis()).unwrap_or(i64::MAX),
            ),
            config: self.config.clone(),
            deps: self.deps.clone(),
            outbox: self.outbox.clone(),
            notify,
            shared: self.shared.clone(),
            stat: self.stat.clone(),
            tracker: Tracker::new(),
            needs_reconcile: false,
        };
        Work {
            stop,
            tasks: vec![
                ("sync", tokio::spawn(main.run(stop_rx.clone()))),
                ("sender", tokio::spawn(sender.run(stop_rx))),
            ],
        }
    }

    fn set_held(&self, holder: Option<String>, until_ms: i64) {
        self.shared.held_until.store(until_ms, Ordering::Relaxed);
        self.deps.metrics.set(
            M_LEASE,
            "1 while this instance holds the outbox lease (works), 0 while it stands by.",
            &[],
            if holder.is_none() { 1.0 } else { 0.0 },
        );
        let mut st = self.shared.status();
        st.active = holder.is_none();
        st.lease_holder = holder;
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let me = self.lease.holder().to_string();
        let mut work: Option<Work> = None;
        let mut waiting_on: Option<String> = None;
        self.deps
            .health
            .down(HEALTH_LEASE, "not held yet: checking the outbox lease");
        loop {
            match self.lease.heartbeat(now_ms()).await {
                Ok(LeaseState::Held { until_ms }) => {
                    self.set_held(None, until_ms);
                    if work.is_none() {
                        tracing::info!(instance = %me, "this EXAS holds the outbox lease; syncing agent states");
                        self.deps
                            .health
                            .up(HEALTH_LEASE, format!("held by this instance ({me})"));
                        waiting_on = None;
                        work = Some(self.start_work());
                    }
                }
                Ok(LeaseState::HeldBy { holder }) => {
                    self.set_held(Some(holder.clone()), 0);
                    if let Some(w) = work.take() {
                        tracing::error!(instance = %me, %holder, "this EXAS lost the outbox lease (its heartbeat was late); stopping its work and standing by");
                        w.stop().await;
                    }
                    if waiting_on.as_deref() != Some(holder.as_str()) {
                        tracing::warn!(instance = %me, %holder, "another EXAS instance holds the outbox lease; standing by until it stops or its lease lapses");
                        waiting_on = Some(holder.clone());
                    }
                    self.deps.health.down(
                        HEALTH_LEASE,
                        format!("standby: EXAS instance {holder} holds the outbox lease; this one takes over when it lapses"),
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    self.deps.health.down(HEALTH_STORE, e.to_string());
                    tracing::warn!(error = %e, "cannot renew the outbox lease");
                    if work.is_some() && !self.shared.holds_lease() {
                        tracing::error!(instance = %me, "the outbox lease lapsed (store unreachable); stopping work");
                        self.set_held(Some(String::new()), 0);
                        self.deps
                            .health
                            .down(HEALTH_LEASE, "lapsed: the store is unreachable");
                        if let Some(w) = work.take() {
                            w.stop().await;
                        }
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.lease.heartbeat_every()) => {}
                _ = stopped(&mut stop) => break,
                (name, why) = work_ended(&mut work) => {
                    // Nothing is synced any more: say so, let the lease go to a standby
                    // instance, and end (the service then exits for its supervisor).
                    tracing::error!(instance = %me, worker = name, reason = %why, "an EXAS worker died");
                    self.deps.health.down(HEALTH_WORKER, why);
                    break;
                }
            }
        }
        if let Some(w) = work.take() {
            w.stop().await;
        }
        if let Err(e) = self.lease.release(now_ms()).await {
            tracing::warn!(error = %e, "outbox lease not released; another instance takes over when it lapses");
        }
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

struct Main {
    scope_guard: ScopeGuard,
    config: DriverConfig,
    deps: DriverDeps,
    outbox: Outbox,
    notify: Arc<Notify>,
    shared: Arc<Shared>,
    stat: Arc<Mutex<Option<StatClient>>>,
    tracker: Tracker,
    needs_reconcile: bool,
}

impl Main {
    fn json(&self) -> JsonView {
        JsonView::new(self.deps.store.clone(), self.deps.ns.clone())
    }

    async fn presence_source(&self) -> Result<Option<String>, String> {
        let key = self.deps.ns.key(PRESENCE_SOURCE_KEY);
        let raw = self.deps.store.get(&key).await.map_err(|e| e.to_string())?;
        Ok(raw.and_then(|bytes| {
            // EXCS writes it as a JSON string; a bare id is accepted too.
            serde_json::from_slice::<String>(&bytes)
                .ok()
                .or_else(|| String::from_utf8(bytes).ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        }))
    }

    /// Reads the presence source id and the presence definitions, retrying until both come.
    async fn setup(&self, stop: &mut watch::Receiver<bool>) -> Option<InjectTarget> {
        let health = &self.deps.health;
        loop {
            let source = self.presence_source().await;
            match &source {
                Ok(_) => health.up(HEALTH_STORE, "store answers"),
                Err(e) => health.down(HEALTH_STORE, e.clone()),
            }
            let defs = self.deps.gc.presence_definitions().await;
            match (&source, defs) {
                (Ok(Some(source_id)), Ok(defs)) => {
                    health.up(HEALTH_GC, "presence definitions read");
                    let presence_ids = PresenceIds::from_definitions(&defs);
                    let missing = presence_ids.missing();
                    if !missing.is_empty() {
                        tracing::error!(
                            ?missing,
                            "the org has no presence definition for these presences; EXAS sends only routing status for them"
                        );
                    }
                    return Some(InjectTarget {
                        source_id: source_id.clone(),
                        presence_ids,
                    });
                }
                (Ok(None), defs) => {
                    if defs.is_ok() {
                        health.up(HEALTH_GC, "presence definitions read");
                    }
                    health.down(
                        HEALTH_STAT,
                        "not connected yet: waiting for the presence source id EXCS publishes",
                    );
                    tracing::warn!(
                        key = PRESENCE_SOURCE_KEY,
                        "no presence source id in the store yet; waiting for EXCS to create it"
                    );
                }
                (Err(_), Ok(_)) => {
                    health.up(HEALTH_GC, "presence definitions read");
                }
                (_, Err(e)) => {
                    health.down(HEALTH_GC, format!("cannot read presence definitions: {e}"));
                    tracing::warn!(error = %e, "cannot read the org's presence definitions; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.setup_retry) => {}
                _ = stopped(stop) => return None,
            }
        }
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        self.deps.health.down(HEALTH_STAT, "not connected yet");
        let Some(target) = self.setup(&mut stop).await else {
            return;
        };
        let (client, mut events) = StatClient::start(self.config.stat.clone());
        *self.stat.lock().unwrap_or_else(PoisonError::into_inner) = Some(client.clone());
        self.rescope(&client).await;
        let mut tick =
            tokio::time::interval(self.config.scope_every.max(Duration::from_millis(10)));
        tick.tick().await;
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => self.handle(&client, ev, &target).await,
                    None => return,
                },
                _ = tick.tick() => {
                    self.rescope(&client).await;
                    self.check_gc().await;
                    if std::mem::take(&mut self.needs_reconcile) {
                        self.reconcile(&client);
                    }
                }
                _ = stopped(&mut stop) => {
                    client.shutdown();
                    return;
                }
            }
        }
    }

    async fn check_gc(&self) {
        match self.deps.gc.authenticate().await {
            Ok(()) if !self.shared.sender_failing.load(Ordering::Relaxed) => {
                self.deps
                    .health
                    .up(HEALTH_GC, "token valid, events accepted");
            }
            Ok(()) => {}
            Err(e) => self
                .deps
                .health
                .down(HEALTH_GC, format!("cannot obtain a token: {e}")),
        }
    }

    fn reconcile(&self, client: &StatClient) {
        self.deps.metrics.inc(
            M_RECONCILE,
            "Snapshots of all agent states taken (start, reconnect, switchover).",
            &[],
        );
        let _ = client.peek_all();
    }

    /// Reads the person records and opens/closes statistics for agents entering/leaving.
    async fn rescope(&mut self, client: &StatClient) {
        let persons = match self.json().scan::<PersonRecord>(PersonRecord::PREFIX).await {
            Ok(p) => {
                self.deps.health.up(HEALTH_STORE, "store answers");
                p
            }
            Err(e) => {
                self.deps.health.down(HEALTH_STORE, e.to_string());
                tracing::warn!(error = %e, "cannot read the agents in scope; keeping the current scope");
                return;
            }
        };
        let mut wanted: Vec<ScopedAgent> = persons
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.is_agent && p.active && !p.gc_user_id.trim().is_empty())
            .map(|p| ScopedAgent {
                stat_agent_id: p.stat_agent_id().to_string(),
                gc_user_id: p.gc_user_id.clone(),
            })
            .collect();
        wanted.sort_by(|a, b| a.stat_agent_id.cmp(&b.stat_agent_id));
        wanted.dedup_by(|a, b| a.stat_agent_id == b.stat_agent_id);
        let held = self.tracker.agents();
        let removals: Vec<ScopedAgent> = {
            let ids: HashSet<&str> = wanted.iter().map(|a| a.stat_agent_id.as_str()).collect();
            held.into_iter()
                .filter(|a| !ids.contains(a.stat_agent_id.as_str()))
                .collect()
        };
        let verdict =
            self.scope_guard
                .judge(self.tracker.len(), wanted.len(), removals.len(), now_ms());
        self.report_scope(&verdict);
        match verdict {
            ScopeVerdict::KeepEmpty { .. } => return,
            ScopeVerdict::HoldRemovals { .. } => wanted.extend(removals),
            _ => {}
        }
        let diff = self.tracker.rescope(&wanted);
        if !diff.close.is_empty() {
            tracing::info!(
                statistics = diff.close.len(),
                "agents left the scope; closing their statistics"
            );
            let _ = client.close(diff.close);
        }
        if !diff.added.is_empty() {
            let delivered: HashMap<String, DeliveredState> = match self
                .json()
                .scan::<DeliveredState>(&DeliveredState::key(""))
                .await
            {
                Ok(rows) => rows.into_iter().collect(),
                Err(e) => {
                    self.deps.health.down(HEALTH_STORE, e.to_string());
                    tracing::warn!(error = %e, "cannot read delivered states; retrying the scope later");
                    // Forget the additions so the next scan offers them again.
                    let kept: Vec<ScopedAgent> = wanted
                        .iter()
                        .filter(|w| !diff.added.contains(w))
                        .cloned()
                        .collect();
                    let _ = self.tracker.rescope(&kept);
                    return;
                }
            };
            let tenant = self.config.stat_tenant.clone();
            let specs = diff.added.iter().flat_map(|a| {
                [
                    StatSpec::agent_current_state(&a.stat_agent_id, &tenant, StatSubject::DnAction),
                    StatSpec::agent_current_state(&a.stat_agent_id, &tenant, StatSubject::DnStatus),
                ]
            });
            match client.open_many(specs.collect::<Vec<_>>()) {
                Ok(refs) => {
                    for (a, pair) in diff.added.iter().zip(refs.chunks(2)) {
                        if let [action, status] = pair {
                            self.tracker.opened(
                                a,
                                *action,
                                *status,
                                delivered.get(&a.gc_user_id).cloned(),
                            );
                        }
                    }
                    tracing::info!(
                        agents = diff.added.len(),
                        "agents entered the scope; statistics opened"
                    );
                }
                Err(e) => tracing::error!(error = %e, "the Stat Server client stopped"),
            }
        }
        self.deps.metrics.set(
            M_AGENTS,
            "Agents whose states EXAS syncs.",
            &[],
            self.tracker.len() as f64,
        );
        self.shared.status().agents_in_scope = self.tracker.len();
    }

    /// Reports the scope guard's verdict in `/health`, `/status` and (on change) the log.
    fn report_scope(&self, verdict: &ScopeVerdict) {
        let fault = verdict
            .is_fault()
            .then(|| verdict.describe(&super::scope::NAMES));
        let previous = std::mem::replace(&mut self.shared.status().scope_fault, fault.clone());
        match (&fault, previous) {
            (Some(why), before) => {
                if before.as_deref() != Some(why.as_str()) {
                    tracing::error!(reason = %why, "scope read held back; no statistic is closed for it");
                }
                self.deps.health.down(HEALTH_SCOPE, why.clone());
            }
            (None, before) => {
                if before.is_some() {
                    tracing::info!("the scope EXCS published is consistent again");
                }
                if let ScopeVerdict::ApplyAfterHold { .. } = verdict {
                    tracing::warn!(reason = %verdict.describe(&super::scope::NAMES), "scope shrink applied");
                }
                self.deps.health.up(HEALTH_SCOPE, "scope read applied");
            }
        }
    }

    async fn handle(&mut self, client: &StatClient, ev: ClientEvent, target: &InjectTarget) {
        let m = &self.deps.metrics;
        let health = &self.deps.health;
        match ev {
            ClientEvent::Value {
                reference_id,
                server_time,
                value,
                ..
            } => {
                m.inc(
                    M_RECEIVED,
                    "Agent state values received from Stat Server.",
                    &[],
                );
                let Some(change) =
                    self.tracker
                        .on_value(reference_id, server_time, &value, now_ms(), target)
                else {
                    return;
                };
                self.deliver(change).await;
            }
            ClientEvent::LinkUp { role, endpoint } => {
                health.up(HEALTH_STAT, format!("linked to {role:?} {endpoint}"));
                m.set(M_LINK, "1 while linked to a Stat Server.", &[], 1.0);
                tracing::info!(?role, %endpoint, "Stat Server link up; reconciling every agent state");
                self.reconcile(client);
            }
            ClientEvent::LinkDown { role, reason } => {
                health.down(HEALTH_STAT, format!("{role:?} link down: {reason}"));
                m.set(M_LINK, "1 while linked to a Stat Server.", &[], 0.0);
                tracing::warn!(?role, %reason, "Stat Server link down");
            }
            ClientEvent::Switchover { from, to } => {
                m.inc(M_SWITCH, "Switchovers between the Stat Servers.", &[]);
                tracing::warn!(?from, ?to, "Stat Server switchover");
            }
            ClientEvent::ConnectFailed { role, error, .. } => {
                health.down(HEALTH_STAT, format!("{role:?}: {error}"));
            }
            ClientEvent::Invalid { reference_id }
            | ClientEvent::ClosedByServer { reference_id } => {
                self.tracker.invalidate(reference_id);
            }
            ClientEvent::OpenFailed {
                reference_id,
                code,
                message,
            } => {
                self.tracker.invalidate(reference_id);
                tracing::warn!(reference_id, ?code, %message, "Stat Server refused a statistic; it is retried");
            }
            _ => {}
        }
    }

    async fn deliver(&mut self, change: Change) {
        let pushed = async {
            self.outbox.push_entry(&change.item).await?;
            self.json()
                .put(&DeliveredState::key(&change.gc_user_id), &change.delivered)
                .await
        }
        .await;
        match pushed {
            Ok(()) => {
                self.tracker.commit(&change);
                self.deps.metrics.inc(
                    M_CHANGES,
                    "Agent state changes queued for Genesys Cloud.",
                    &[],
                );
                self.notify.notify_one();
            }
            Err(e) => {
                self.deps.health.down(HEALTH_STORE, e.to_string());
                tracing::error!(error = %e, agent = %change.stat_agent_id, "cannot queue an agent state; it is reconciled later");
                self.needs_reconcile = true;
            }
        }
    }
}

struct Sender {
    config: DriverConfig,
    deps: DriverDeps,
    outbox: Outbox,
    dead: Outbox,
    notify: Arc<Notify>,
    shared: Arc<Shared>,
    /// Items finished with (accepted or parked) that are not yet off the outbox: they are
    /// never sent again, only acknowledged again.
    finished: HashSet<String>,
    /// Rounds in which GC answered `retryable` for an item's event.
    attempts: HashMap<String, u32>,
}

fn item_user(i: &OutboxItem) -> Option<&str> {
    i.routing
        .as_ref()
        .map(|r| r.agent_id.as_str())
        .or_else(|| i.presence.as_ref().map(|p| p.user_id.as_str()))
}

/// The longest prefix of `items` in which no user appears twice. GC (and the client) resend
/// only the events of a request that failed as retryable, so two events of one user in one
/// request could be applied out of order; one change per user per round keeps each user's
/// order whatever fails.
fn one_change_per_user(mut items: Vec<(String, OutboxItem)>) -> Vec<(String, OutboxItem)> {
    let mut seen = HashSet::new();
    let cut = items
        .iter()
        .position(|(_, i)| item_user(i).is_some_and(|u| !seen.insert(u.to_string())))
        .unwrap_or(items.len());
    items.truncate(cut.max(1));
    items
}

/// What the sender does after a round.
enum Next {
    /// Go on at once.
    Continue,
    /// Nothing to send: wait for a new item.
    Idle,
    /// GC or the store failed: back off.
    Backoff,
}

impl Sender {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut backoff = engage_base::Backoff::new(self.config.retry_min, self.config.retry_max);
        let mut jitter = engage_base::Jitter::new();
        self.refresh_dead_count().await;
        loop {
            if *stop.borrow() {
                return;
            }
            let next = if self.shared.holds_lease() {
                self.step().await
            } else {
                // The lease lapsed (the leader stops this task soon): send nothing meanwhile.
                Next::Idle
            };
            match next {
                Next::Continue => backoff.reset(),
                Next::Idle => {
                    backoff.reset();
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stopped(&mut stop) => return,
                    }
                }
                Next::Backoff => {
                    let wait = backoff.next_delay(jitter.sample());
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped(&mut stop) => return,
                    }
                }
            }
        }
    }

    /// One round: read the head of the outbox, park what does not decode, deliver one change
    /// per user, park what GC refuses for good, acknowledge exactly what is finished.
    async fn step(&mut self) -> Next {
        let entries: Vec<OutboxEntry<OutboxItem>> = match self
            .outbox
            .peek_entries(self.config.batch_items.max(1))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                self.deps.health.down(HEALTH_STORE, e.to_string());
                tracing::warn!(error = %e, "cannot read the outbox; retrying");
                return Next::Backoff;
            }
        };
        // Forget what is no longer at the head (removed, by this instance or another).
        let present: HashSet<&str> = entries.iter().map(OutboxEntry::id).collect();
        self.finished.retain(|id| present.contains(id.as_str()));
        self.attempts.retain(|id, _| present.contains(id.as_str()));
        if entries.is_empty() {
            self.gauge_depth(0);
            return Next::Idle;
        }
        let mut items = Vec::new();
        let mut parked = Vec::new();
        for entry in &entries {
            if self.finished.contains(entry.id()) {
                continue;
            }
            match entry {
                OutboxEntry::Item { id, item } => items.push((id.clone(), item.clone())),
                OutboxEntry::Undecodable { id, raw, error } => {
                    parked.push(DeadLetter::undecodable(id, raw, error.clone()));
                }
                _ => {}
            }
        }
        let round = one_change_per_user(items);
        let mut next = Next::Continue;
        if !round.is_empty() {
            let sent: Vec<OutboxItem> = round.iter().map(|(_, i)| i.clone()).collect();
            let outcome = delivery::deliver(&self.deps.gc, &sent).await;
            self.deps.metrics.record_gc("exas", &self.deps.gc);
            let mut accepted = Vec::new();
            for ((id, item), fate) in round.iter().zip(outcome.fates) {
                match fate {
                    Fate::Accepted => {
                        self.finished.insert(id.clone());
                        accepted.push(item.clone());
                    }
                    Fate::Refused { error, status } => {
                        let attempts = self.attempts.get(id).copied().unwrap_or(0) + 1;
                        parked.push(DeadLetter::refused(
                            id,
                            item.clone(),
                            error,
                            status,
                            attempts,
                        ));
                    }
                    Fate::Retry(why) => {
                        let n = self.attempts.entry(id.clone()).or_insert(0);
                        *n += 1;
                        if *n >= self.config.max_attempts {
                            parked.push(DeadLetter::refused(
                                id,
                                item.clone(),
                                format!("GC still answers retryable after {n} attempts: {why}"),
                                None,
                                *n,
                            ));
                        } else {
                            next = Next::Backoff;
                        }
                    }
                    _ => {}
                }
            }
            self.record(&accepted, outcome.injected);
            match outcome.stopped {
                None => {
                    if self.shared.sender_failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("Genesys Cloud accepts agent state events again");
                    }
                    self.shared.status().last_error = None;
                    self.deps.health.up(HEALTH_GC, "events accepted");
                }
                Some((fault, e)) => {
                    self.shared.sender_failing.store(true, Ordering::Relaxed);
                    let why = format!("{} failure: {e}", fault.name());
                    let detail = if fault == GcFault::Systemic {
                        format!(
                            "GC refuses every agent state event ({why}); check the OAuth client's roles, the org and the presence source. Events wait in the outbox"
                        )
                    } else {
                        why.clone()
                    };
                    self.deps.health.down(HEALTH_GC, detail);
                    self.shared.status().last_error = Some(why.clone());
                    self.deps.metrics.inc(
                        M_FAILED_ROUNDS,
                        "Delivery rounds that Genesys Cloud did not complete (retried).",
                        &[],
                    );
                    tracing::warn!(error = %why, items = round.len(), "agent state events wait in the outbox");
                    next = Next::Backoff;
                }
            }
        }
        for d in parked {
            self.park(d).await;
        }
        // Acknowledge by id: only finished entries leave, and only from the head.
        let done: Vec<&str> = entries
            .iter()
            .map(OutboxEntry::id)
            .filter(|id| self.finished.contains(*id))
            .collect();
        if !done.is_empty() {
            match self.outbox.ack_ids(&done).await {
                Ok(n) => {
                    for id in entries.iter().take(n).map(OutboxEntry::id) {
                        self.finished.remove(id);
                        self.attempts.remove(id);
                    }
                }
                Err(e) => {
                    // Kept: acknowledged again next round, never sent again by this instance.
                    self.deps.health.down(HEALTH_STORE, e.to_string());
                    tracing::warn!(error = %e, "delivered items not acknowledged yet");
                    next = Next::Backoff;
                }
            }
        }
        if let Ok(n) = self.outbox.len().await {
            self.gauge_depth(n);
        }
        next
    }

    /// Parks an item: the dead-letter list, an ERROR line, the metrics. If the list cannot be
    /// written the item stays in the outbox (and is parked again later).
    async fn park(&mut self, d: DeadLetter) {
        if let Err(e) = self.dead.push(&d).await {
            self.deps.health.down(HEALTH_STORE, e.to_string());
            tracing::error!(error = %e, outbox_id = %d.outbox_id, "dead letter not stored; the item stays in the outbox");
            return;
        }
        let user = d.item.as_ref().and_then(item_user).unwrap_or("");
        tracing::error!(
            outbox_id = %d.outbox_id,
            gc_user_id = user,
            status = ?d.status,
            attempts = d.attempts,
            error = %d.error,
            "agent state change parked in the dead-letter list (outbox:exas-dead-letter); the rest flows"
        );
        self.deps.metrics.inc(
            M_PARKED,
            "Outbox items parked in the dead-letter list (refused for good, too many attempts, undecodable).",
            &[("reason", if d.item.is_none() { "undecodable" } else { "refused" })],
        );
        if let Some(item) = &d.item {
            let kinds = [
                ("presence", item.presence.is_some()),
                ("routingStatus", item.routing.is_some()),
            ];
            for (kind, present) in kinds {
                if present {
                    self.deps.metrics.inc(
                        M_REJECTED,
                        "Events Genesys Cloud rejected (not retryable).",
                        &[("kind", kind)],
                    );
                }
            }
        }
        self.finished.insert(d.outbox_id.clone());
        self.shared.status().last_dead_letter = Some(d.summary());
        self.refresh_dead_count().await;
    }

    async fn refresh_dead_count(&self) {
        if let Ok(n) = self.dead.len().await {
            self.deps.metrics.set(
                M_DEAD,
                "Agent state changes parked in the dead-letter list (outbox:exas-dead-letter).",
                &[],
                n as f64,
            );
            self.shared.status().dead_letters = n;
        }
    }

    fn gauge_depth(&self, n: usize) {
        self.deps.metrics.set(
            M_DEPTH,
            "Agent state changes waiting for Genesys Cloud.",
            &[],
            n as f64,
        );
        self.shared.status().outbox_depth = n;
    }

    fn record(&self, items: &[OutboxItem], injected: [u64; 2]) {
        let m = &self.deps.metrics;
        for (i, kind) in ["presence", "routingStatus"].into_iter().enumerate() {
            m.inc_by(
                M_INJECTED,
                "Events Genesys Cloud accepted.",
                &[("kind", kind)],
                injected[i],
            );
            m.inc_by(
                M_REJECTED,
                "Events Genesys Cloud rejected (not retryable).",
                &[("kind", kind)],
                0,
            );
        }
        let now = now_ms();
        if let Some(oldest) = items.iter().map(|i| i.received_ms).min() {
            m.set(
                M_LAG,
                "Seconds from receiving the oldest state of the last delivered batch to its acceptance.",
                &[],
                (now - oldest).max(0) as f64 / 1000.0,
            );
        }
        if self.shared.latency_cap > 0 {
            let mut l = self
                .shared
                .latencies
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let accepted_us = now_us();
            for i in items {
                if l.len() >= self.shared.latency_cap {
                    break;
                }
                let user = item_user(i).unwrap_or_default().to_string();
                l.push(Delivery {
                    gc_user_id: user,
                    received_ms: i.received_ms,
                    accepted_us,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12 §6: a worker of the lease holder that dies is noticed and named, and the
    /// work stops cleanly afterwards (the consumed handle is not awaited again).
    #[tokio::test]
    async fn a_dead_worker_is_named_and_the_rest_stops() {
        let (stop, mut stop_rx) = watch::channel(false);
        let mut work = Some(Work {
            stop,
            tasks: vec![
                (
                    "sync",
                    tokio::spawn(async move {
                        while !*stop_rx.borrow() {
                            if stop_rx.changed().await.is_err() {
                                return;
                            }
                        }
                    }),
                ),
                (
                    "sender",
                    tokio::spawn(async { panic!("outbox decoder bug") }),
                ),
            ],
        });
        let (name, why) = tokio::time::timeout(Duration::from_secs(5), work_ended(&mut work))
            .await
            .expect("noticed");
        assert_eq!(name, "sender");
        assert!(why.contains("outbox decoder bug"), "{why}");
        tokio::time::timeout(Duration::from_secs(5), work.take().expect("work").stop())
            .await
            .expect("the rest stops");
        // Without work nothing can end.
        let mut none: Option<Work> = None;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), work_ended(&mut none))
                .await
                .is_err()
        );
    }
    use gcex::events::UserRoutingStatusEvent;

    fn item(user: &str) -> (String, OutboxItem) {
        (
            format!("id-{user}"),
            OutboxItem {
                received_ms: 0,
                presence: None,
                routing: Some(UserRoutingStatusEvent {
                    agent_id: user.into(),
                    ..UserRoutingStatusEvent::default()
                }),
            },
        )
    }

    #[test]
    fn a_round_holds_one_change_per_user() {
        let users = |v: Vec<(String, OutboxItem)>| -> Vec<String> {
            v.iter()
                .map(|(_, i)| item_user(i).unwrap_or("").to_string())
                .collect()
        };
        let v = one_change_per_user(vec![item("a"), item("b"), item("a"), item("c")]);
        assert_eq!(users(v), vec!["a", "b"]);
        let v = one_change_per_user(vec![item("a"), item("a")]);
        assert_eq!(users(v), vec!["a"]);
        assert!(one_change_per_user(Vec::new()).is_empty());
    }
}
