//! The simulated Stat Server (feature `sim`).
//!
//! A [`SimWorld`] holds agent states, set through the control API
//! ([`SimWorld::set_agent_state`]); any number of [`SimServer`]s (a primary and a backup) serve
//! statistics about the same world over TCP. On open the server answers EventStatisticOpened
//! and an EventInfo with the current value; with notification Immediate (or Changes) it sends an
//! EventInfo on every change; Periodical sends every `frequency_secs`. A server can be stopped
//! (every connection drops, as if the process died) and started again on the same port, to test
//! failover.
//!
//! What it serves:
//! - Object type Agent only; RequestOpenStatisticEx with category CurrentState (subject DNStatus
//!   or DNAction), or RequestOpenStatistic with type [`TYPE_CURRENT_STATE`] (DNStatus) or
//!   [`TYPE_CURRENT_STATE_REASON`] (DNAction). Anything else gets EventError.
//! - Subject DNAction sends the agent status as set; DNStatus sends it with the actions'
//!   attached data removed (the reason travels only in the DNAction statistic).
//! - A non-empty main mask removes actions outside the mask from the DNs' action lists.
//! - An agent never set is reported as logged out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;

use crate::agent::{ActionMask, AgentStatus};
use crate::codec::StatCodec;
use crate::kvlist::KvList;
use crate::message::{
    ErrorCode, Event, Message, Notification, ObjectType, ReferenceId, Request, ServerMode,
    StatCategory, StatDefinition, StatSpec, StatSubject, StatValue,
};

/// Predefined statistic type served as CurrentState / DNStatus.
pub const TYPE_CURRENT_STATE: &str = "CurrentAgentState";
/// Predefined statistic type served as CurrentStateReason / DNAction.
pub const TYPE_CURRENT_STATE_REASON: &str = "CurrentStateReason";

#[derive(Debug, Clone)]
enum WorldEvent {
    AgentChanged(Arc<str>),
    CloseAll,
    Validity(bool),
}

#[derive(Debug, Default)]
struct WorldInner {
    agents: HashMap<String, AgentStatus>,
    subscribers: Vec<mpsc::UnboundedSender<WorldEvent>>,
}

/// The agents' states, shared by every simulated server.
#[derive(Debug, Clone, Default)]
pub struct SimWorld {
    inner: Arc<Mutex<WorldInner>>,
}

impl SimWorld {
    /// An empty world.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, WorldInner> {
        // A panicking holder cannot leave the map inconsistent (single inserts), so recover.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn broadcast(&self, ev: WorldEvent) {
        let mut w = self.lock();
        w.subscribers.retain(|s| s.send(ev.clone()).is_ok());
    }

    /// Sets an agent's state; every connection with an Immediate/Changes statistic on the
    /// agent gets an EventInfo. `status.agent_id` is set to `agent_id`.
    pub fn set_agent_state(&self, agent_id: &str, mut status: AgentStatus) {
        status.agent_id = agent_id.to_owned();
        self.lock().agents.insert(agent_id.to_owned(), status);
        self.broadcast(WorldEvent::AgentChanged(Arc::from(agent_id)));
    }

    /// The state last set for an agent.
    pub fn agent_state(&self, agent_id: &str) -> Option<AgentStatus> {
        self.lock().agents.get(agent_id).cloned()
    }

    /// Closes every open statistic on every connection (EventStatisticClosed), as a server
    /// that drops statistics would; clients must reopen them.
    pub fn close_all_statistics(&self) {
        self.broadcast(WorldEvent::CloseAll);
    }

    /// Sends EventStatisticInvalid (`false`) or EventStatisticValid (`true`) for every open
    /// statistic on every connection.
    pub fn set_statistics_valid(&self, valid: bool) {
        self.broadcast(WorldEvent::Validity(valid));
    }

    fn subscribe(&self) -> mpsc::UnboundedReceiver<WorldEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        rx
    }

    fn value_for(&self, agent_id: &str, subject: StatSubject, mask: ActionMask) -> AgentStatus {
        let mut st = self
            .agent_state(agent_id)
            .unwrap_or_else(|| AgentStatus::logged_out(agent_id, 0));
        for dn in &mut st.place.dns {
            if !mask.is_empty() {
                dn.actions.retain(|a| mask.contains(a.action));
            }
            if subject == StatSubject::DnStatus {
                for a in &mut dn.actions {
                    a.attached_data = KvList::new();
                }
            }
        }
        st
    }
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicUsize,
    open_statistics: AtomicUsize,
    requests: AtomicUsize,
}

/// A simulated Stat Server listening on one TCP port.
#[derive(Debug)]
pub struct SimServer {
    world: SimWorld,
    addr: SocketAddr,
    mode: ServerMode,
    counters: Arc<Counters>,
    task: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Starts a server on `addr` (port 0 picks a free port) serving `world`, announcing `mode`
    /// in EventServerMode.
    pub async fn start(
        world: SimWorld,
        addr: SocketAddr,
        mode: ServerMode,
    ) -> std::io::Result<Self> {
        let mut s = Self {
            world,
            addr,
            mode,
            counters: Arc::new(Counters::default()),
            task: None,
        };
        s.listen().await?;
        Ok(s)
    }

    async fn listen(&mut self) -> std::io::Result<()> {
        let listener = engage_base::net::listen(self.addr)?;
        self.addr = listener.local_addr()?;
        let world = self.world.clone();
        let counters = self.counters.clone();
        let mode = self.mode;
        self.task = Some(tokio::spawn(accept_loop(listener, world, mode, counters)));
        Ok(())
    }

    /// The address it listens on (with the actual port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The world it serves.
    pub fn world(&self) -> &SimWorld {
        &self.world
    }

    /// Shortcut for [`SimWorld::set_agent_state`].
    pub fn set_agent_state(&self, agent_id: &str, status: AgentStatus) {
        self.world.set_agent_state(agent_id, status);
    }

    /// Stops listening and drops every connection at once (a crash, for clients).
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.counters.connections.store(0, Ordering::SeqCst);
        self.counters.open_statistics.store(0, Ordering::SeqCst);
    }

    /// Starts again on the same port after [`SimServer::stop`].
    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.stop().await;
        self.listen().await
    }

    /// Whether it is listening.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Connected clients now.
    pub fn connections(&self) -> usize {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Statistics open now, over all connections.
    pub fn open_statistics(&self) -> usize {
        self.counters.open_statistics.load(Ordering::SeqCst)
    }

    /// Requests received since start.
    pub fn requests_received(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    world: SimWorld,
    mode: ServerMode,
    counters: Arc<Counters>,
) {
    // Connection tasks live in the set: aborting this task drops the set, which aborts them.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    counters.connections.fetch_add(1, Ordering::SeqCst);
                    conns.spawn(serve(stream, world.clone(), mode, counters.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

struct OpenStat {
    agent_id: String,
    subject: StatSubject,
    mask: ActionMask,
    notification: Notification,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

struct Conn {
    world: SimWorld,
    stats: HashMap<ReferenceId, OpenStat>,
    counters: Arc<Counters>,
    out: Vec<Message>,
}

impl Conn {
    fn info(&mut self, reference_id: ReferenceId, user_request_id: u32) {
        if let Some(s) = self.stats.get(&reference_id) {
            let value = self.world.value_for(&s.agent_id, s.subject, s.mask);
            self.out.push(
                Event::Info {
                    reference_id,
                    user_request_id,
                    server_time: now_secs(),
                    value: StatValue::AgentStatus(value),
                }
                .into(),
            );
        }
    }

    fn error(&mut self, reference_id: Option<ReferenceId>, code: ErrorCode, message: &str) {
        self.out.push(
            Event::Error {
                reference_id,
                code,
                message: message.to_owned(),
            }
            .into(),
        );
    }

    fn open(&mut self, reference_id: ReferenceId, spec: StatSpec) {
        if self.stats.contains_key(&reference_id) {
            return self.error(
                Some(reference_id),
                ErrorCode::DuplicateReference,
                "reference id already open",
            );
        }
        if spec.object.object_type != ObjectType::Agent {
            return self.error(
                Some(reference_id),
                ErrorCode::UnknownObject,
                "the simulator serves agent statistics only",
            );
        }
        let (subject, mask) = match &spec.definition {
            StatDefinition::Predefined { statistic_type, .. } => match statistic_type.as_str() {
                TYPE_CURRENT_STATE => (StatSubject::DnStatus, ActionMask::EMPTY),
                TYPE_CURRENT_STATE_REASON => (StatSubject::DnAction, ActionMask::EMPTY),
                _ => {
                    return self.error(
                        Some(reference_id),
                        ErrorCode::UnknownStatistic,
                        "unknown statistic type",
                    );
                }
            },
            StatDefinition::Ex(m) if m.category == StatCategory::CurrentState => {
                (m.subject, m.main_mask)
            }
            StatDefinition::Ex(_) => {
                return self.error(
                    Some(reference_id),
                    ErrorCode::UnknownStatistic,
                    "the simulator serves CurrentState only",
                );
            }
        };
        self.stats.insert(
            reference_id,
            OpenStat {
                agent_id: spec.object.object_id,
                subject,
                mask,
                notification: spec.notification,
            },
        );
        self.counters.open_statistics.fetch_add(1, Ordering::SeqCst);
        self.out
            .push(Event::StatisticOpened { reference_id }.into());
        self.info(reference_id, 0);
    }

    fn handle(&mut self, msg: Message) {
        self.counters.requests.fetch_add(1, Ordering::SeqCst);
        match msg {
            Message::AddpPoll => self.out.push(Message::AddpReply),
            Message::Request(Request::Open { reference_id, spec }) => self.open(reference_id, spec),
            Message::Request(Request::Peek {
                reference_id,
                user_request_id,
            }) => {
                if self.stats.contains_key(&reference_id) {
                    self.info(reference_id, user_request_id);
                } else {
                    self.error(
                        Some(reference_id),
                        ErrorCode::UnknownReference,
                        "no such statistic",
                    );
                }
            }
            Message::Request(Request::Close { reference_id }) => {
                if self.stats.remove(&reference_id).is_some() {
                    self.counters.open_statistics.fetch_sub(1, Ordering::SeqCst);
                    self.out
                        .push(Event::StatisticClosed { reference_id }.into());
                } else {
                    self.error(
                        Some(reference_id),
                        ErrorCode::UnknownReference,
                        "no such statistic",
                    );
                }
            }
            _ => {}
        }
    }

    fn world_event(&mut self, ev: WorldEvent) {
        match ev {
            WorldEvent::AgentChanged(agent) => {
                let mut refs: Vec<ReferenceId> = self
                    .stats
                    .iter()
                    .filter(|(_, s)| {
                        *s.agent_id == *agent
                            && matches!(
                                s.notification,
                                Notification::Immediate | Notification::Changes { .. }
                            )
                    })
                    .map(|(r, _)| *r)
                    .collect();
                refs.sort_unstable();
                for r in refs {
                    self.info(r, 0);
                }
            }
            WorldEvent::CloseAll => {
                let mut refs: Vec<ReferenceId> = self.stats.keys().copied().collect();
                refs.sort_unstable();
                self.counters
                    .open_statistics
                    .fetch_sub(refs.len(), Ordering::SeqCst);
                self.stats.clear();
                for reference_id in refs {
                    self.out
                        .push(Event::StatisticClosed { reference_id }.into());
                }
            }
            WorldEvent::Validity(valid) => {
                let mut refs: Vec<ReferenceId> = self.stats.keys().copied().collect();
                refs.sort_unstable();
                for reference_id in refs {
                    self.out.push(if valid {
                        Event::StatisticValid { reference_id }.into()
                    } else {
                        Event::StatisticInvalid { reference_id }.into()
                    });
                }
            }
        }
    }

    fn periodical(&mut self, tick: u64) {
        let mut refs: Vec<ReferenceId> = self
            .stats
            .iter()
            .filter(|(_, s)| match s.notification {
                Notification::Periodical { frequency_secs } => {
                    frequency_secs > 0 && tick.is_multiple_of(u64::from(frequency_secs))
                }
                _ => false,
            })
            .map(|(r, _)| *r)
            .collect();
        refs.sort_unstable();
        for r in refs {
            self.info(r, 0);
        }
    }
}

async fn serve(stream: TcpStream, world: SimWorld, mode: ServerMode, counters: Arc<Counters>) {
    let mut changes = world.subscribe();
    let mut framed = Framed::new(stream, StatCodec::default());
    let mut conn = Conn {
        world,
        stats: HashMap::new(),
        counters: counters.clone(),
        out: vec![Event::ServerMode { mode }.into()],
    };
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    let mut tick: u64 = 0;
    loop {
        let mut write_failed = false;
        for m in conn.out.drain(..) {
            if framed.feed(m).await.is_err() {
                write_failed = true;
                break;
            }
        }
        if write_failed || SinkExt::<Message>::flush(&mut framed).await.is_err() {
            break;
        }
        tokio::select! {
            item = framed.next() => match item {
                Some(Ok(Ok(msg))) => {
                    conn.handle(msg);
                    // Take whatever else is already buffered before writing: pipelined
                    // requests get pipelined answers.
                    while let Some(Some(Ok(Ok(msg)))) = framed.next().now_or_never() {
                        conn.handle(msg);
                    }
                }
                Some(Ok(Err(e))) => conn.error(None, ErrorCode::BadRequest, &e.to_string()),
                Some(Err(_)) | None => break,
            },
            Some(ev) = changes.recv() => {
                conn.world_event(ev);
                while let Some(Some(ev)) = changes.recv().now_or_never() {
                    conn.world_event(ev);
                }
            }
            _ = ticker.tick() => {
                tick += 1;
                conn.periodical(tick);
            }
        }
    }
    counters.open_statistics.fetch_sub(
        conn.stats
            .len()
            .min(counters.open_statistics.load(Ordering::SeqCst)),
        Ordering::SeqCst,
    );
    counters.connections.fetch_sub(1, Ordering::SeqCst);
}
