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
//!   acknowledges them only when GC accepted or finally rejected every event. A round holds
//!   at most one change per user, so a retryable failure of one event can never let a later
//!   event of the same user overtake it. While GC is
//!   down (5xx, transport errors, retryable event errors) the same batch is retried with
//!   backoff and later items wait behind it, so per-agent order holds.

use super::tracker::{
    Change, DeliveredState, InjectTarget, OutboxItem, PresenceIds, ScopedAgent, Tracker,
};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, ClientEvent, StatClient};
use engage_statserver::{StatSpec, StatSubject};
use engage_store::{JsonView, Namespace, Outbox, PRESENCE_SOURCE_KEY, PersonRecord, Store};
use gcex::GcClient;
use gcex::events::InjectReport;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

impl DriverConfig {
    /// Defaults: tenant `Resources`, scope every 10 s, 100 items a round, retries from 500 ms
    /// to 30 s, setup retried every 5 s, no latency samples.
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
        }
    }
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
}

/// A running driver. Dropping it does not stop it; call [`DriverHandle::shutdown`].
pub struct DriverHandle {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
    outbox: Outbox,
    stat: Arc<Mutex<Option<StatClient>>>,
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

    /// Stops the driver: closes the Stat Server link and ends its tasks. Events not yet
    /// accepted stay in the outbox for the next start.
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
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
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
        let (stop_tx, stop_rx) = watch::channel(false);
        let outbox = Outbox::new(deps.store.clone(), &deps.ns, OUTBOX_NAME);
        let shared = Arc::new(Shared {
            latencies: Mutex::new(Vec::new()),
            latency_cap: config.latency_samples,
            sender_failing: AtomicBool::new(false),
        });
        let notify = Arc::new(Notify::new());
        let stat = Arc::new(Mutex::new(None));
        let sender = Sender {
            config: config.clone(),
            deps: deps.clone(),
            outbox: outbox.clone(),
            notify: notify.clone(),
            shared: shared.clone(),
        };
        let main = Main {
            config,
            deps,
            outbox: outbox.clone(),
            notify,
            shared: shared.clone(),
            stat: stat.clone(),
            tracker: Tracker::new(),
            needs_reconcile: false,
        };
        let tasks = vec![
            tokio::spawn(main.run(stop_rx.clone())),
            tokio::spawn(sender.run(stop_rx)),
        ];
        DriverHandle {
            stop: stop_tx,
            tasks,
            shared,
            outbox,
            stat,
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
            self.outbox.push(&change.item).await?;
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
    notify: Arc<Notify>,
    shared: Arc<Shared>,
}

/// The outcome of one delivery round.
enum Round {
    /// Everything accepted or finally rejected: acknowledge the batch.
    Done {
        injected: [u64; 2],
        rejected: [u64; 2],
    },
    /// Try the same batch again later.
    Retry(String),
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
fn one_change_per_user(mut items: Vec<OutboxItem>) -> Vec<OutboxItem> {
    let mut seen = std::collections::HashSet::new();
    let cut = items
        .iter()
        .position(|i| item_user(i).is_some_and(|u| !seen.insert(u.to_string())))
        .unwrap_or(items.len());
    items.truncate(cut.max(1));
    items
}

fn tally(report: &InjectReport) -> Result<(u64, u64), String> {
    if let Some(e) = report.failed.iter().find(|e| e.retryable) {
        return Err(format!(
            "GC still reports events as retryable: {}",
            e.message.as_deref().unwrap_or("no message")
        ));
    }
    for e in &report.failed {
        tracing::warn!(event_id = ?e.event_id, message = ?e.message, "Genesys Cloud rejected an agent state event");
    }
    Ok((report.accepted as u64, report.failed.len() as u64))
}

impl Sender {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut wait = self.config.retry_min;
        loop {
            if *stop.borrow() {
                return;
            }
            let items: Vec<OutboxItem> =
                match self.outbox.peek(self.config.batch_items.max(1)).await {
                    Ok(v) => one_change_per_user(v),
                    Err(e) => {
                        self.deps.health.down(HEALTH_STORE, e.to_string());
                        tracing::warn!(error = %e, "cannot read the outbox; retrying");
                        tokio::select! {
                            _ = tokio::time::sleep(wait) => {}
                            _ = stopped(&mut stop) => return,
                        }
                        wait = (wait * 2).min(self.config.retry_max);
                        continue;
                    }
                };
            if items.is_empty() {
                self.gauge_depth(0);
                tokio::select! {
                    _ = self.notify.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped(&mut stop) => return,
                }
                continue;
            }
            match self.round(&items).await {
                Round::Done { injected, rejected } => {
                    if let Err(e) = self.outbox.ack(items.len()).await {
                        // Not acknowledged: the batch goes again; GC applies each eventId once.
                        self.deps.health.down(HEALTH_STORE, e.to_string());
                        continue;
                    }
                    wait = self.config.retry_min;
                    if self.shared.sender_failing.swap(false, Ordering::Relaxed) {
                        tracing::info!("Genesys Cloud accepts agent state events again");
                    }
                    self.deps.health.up(HEALTH_GC, "events accepted");
                    self.record(&items, injected, rejected);
                    if let Ok(n) = self.outbox.len().await {
                        self.gauge_depth(n);
                    }
                }
                Round::Retry(why) => {
                    self.shared.sender_failing.store(true, Ordering::Relaxed);
                    self.deps.health.down(HEALTH_GC, why.clone());
                    self.deps.metrics.inc(
                        M_FAILED_ROUNDS,
                        "Delivery rounds that Genesys Cloud did not complete (retried).",
                        &[],
                    );
                    tracing::warn!(error = %why, retry_in_ms = wait.as_millis() as u64, items = items.len(), "agent state events wait in the outbox");
                    if let Ok(n) = self.outbox.len().await {
                        self.gauge_depth(n);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopped(&mut stop) => return,
                    }
                    wait = (wait * 2).min(self.config.retry_max);
                }
            }
        }
    }

    fn gauge_depth(&self, n: usize) {
        self.deps.metrics.set(
            M_DEPTH,
            "Agent state changes waiting for Genesys Cloud.",
            &[],
            n as f64,
        );
    }

    async fn round(&self, items: &[OutboxItem]) -> Round {
        let presence: Vec<_> = items.iter().filter_map(|i| i.presence.clone()).collect();
        let routing: Vec<_> = items.iter().filter_map(|i| i.routing.clone()).collect();
        let mut injected = [0u64; 2];
        let mut rejected = [0u64; 2];
        if !presence.is_empty() {
            match self.deps.gc.inject_presence_events(&presence).await {
                Ok(report) => match tally(&report) {
                    Ok((a, r)) => {
                        injected[0] = a;
                        rejected[0] = r;
                    }
                    Err(why) => return Round::Retry(why),
                },
                Err(e) if e.is_bad_request() => {
                    tracing::error!(error = %e, events = presence.len(), "Genesys Cloud refused a presence batch as invalid; dropping it");
                    rejected[0] = presence.len() as u64;
                }
                Err(e) => return Round::Retry(e.to_string()),
            }
        }
        if !routing.is_empty() {
            match self.deps.gc.inject_routing_status_events(&routing).await {
                Ok(report) => match tally(&report) {
                    Ok((a, r)) => {
                        injected[1] = a;
                        rejected[1] = r;
                    }
                    Err(why) => return Round::Retry(why),
                },
                Err(e) if e.is_bad_request() => {
                    tracing::error!(error = %e, events = routing.len(), "Genesys Cloud refused a routing status batch as invalid; dropping it");
                    rejected[1] = routing.len() as u64;
                }
                Err(e) => return Round::Retry(e.to_string()),
            }
        }
        Round::Done { injected, rejected }
    }

    fn record(&self, items: &[OutboxItem], injected: [u64; 2], rejected: [u64; 2]) {
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
                rejected[i],
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
    use gcex::events::UserRoutingStatusEvent;

    fn item(user: &str) -> OutboxItem {
        OutboxItem {
            received_ms: 0,
            presence: None,
            routing: Some(UserRoutingStatusEvent {
                agent_id: user.into(),
                ..UserRoutingStatusEvent::default()
            }),
        }
    }

    #[test]
    fn a_round_holds_one_change_per_user() {
        let users = |v: Vec<OutboxItem>| -> Vec<String> {
            v.iter()
                .map(|i| item_user(i).unwrap_or("").to_string())
                .collect()
        };
        let v = one_change_per_user(vec![item("a"), item("b"), item("a"), item("c")]);
        assert_eq!(users(v), vec!["a", "b"]);
        let v = one_change_per_user(vec![item("a"), item("a")]);
        assert_eq!(users(v), vec!["a"]);
        assert!(one_change_per_user(Vec::new()).is_empty());
    }
}
