//! The tokio client: a thin driver around [`Session`].
//!
//! It connects to the primary Stat Server first; when the active link drops it switches to the
//! other server at once (a switchover) and reopens every needed statistic there; when neither
//! answers it retries both with exponential backoff and jitter. Requests are pipelined: all
//! pending opens are written in one burst and flushed once, without waiting for replies.
//! Everything that happens comes out of one bounded channel of [`ClientEvent`]s (a slow reader
//! slows the socket reads down rather than growing memory).
//!
//! ```no_run
//! # async fn demo() -> Result<(), engage_statserver::client::ClientError> {
//! use engage_statserver::client::{ClientConfig, ClientEvent, Endpoint, StatClient};
//! use engage_statserver::{StatSpec, StatSubject};
//! let config = ClientConfig::new(
//!     Endpoint::new("stat-primary", 2060),
//!     Some(Endpoint::new("stat-backup", 2060)),
//! );
//! let (client, mut events) = StatClient::start(config);
//! let refs = client.open_many(["agent1", "agent2"].map(|a| {
//!     StatSpec::agent_current_state(a, "Resources", StatSubject::DnAction)
//! }))?;
//! while let Some(ev) = events.recv().await {
//!     if let ClientEvent::Value { object_id, value, .. } = ev {
//!         println!("{object_id}: {value:?}");
//!     }
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use engage_base::{Backoff, Failover, Jitter};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

use crate::codec::StatCodec;
use crate::error::DecodeError;
use crate::message::{ErrorCode, Message, ReferenceId, ServerMode, StatSpec, StatValue};
use crate::session::{Session, SessionEvent};
use crate::wire;

/// Server addresses (Stat Server's default port is 2060) and the HA pair's roles come from
/// `engage-base`, shared with the T-Library client (`engage_statserver::client::Endpoint` stays
/// their name here).
pub use engage_base::{Endpoint, ServerRole};

/// Client settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The primary server.
    pub primary: Endpoint,
    /// The backup server, if any.
    pub backup: Option<Endpoint>,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// First backoff delay after both servers failed.
    pub backoff_initial: Duration,
    /// Backoff ceiling.
    pub backoff_max: Duration,
    /// ADDP: poll after this much silence; drop the link if the poll is not answered as long.
    pub addp_timeout: Option<Duration>,
    /// How often statistics the server refused are requested again.
    pub retry_failed_every: Duration,
    /// An open request unanswered this long means the server is stuck: the link is dropped
    /// and every statistic reopened on the next one.
    pub request_timeout: Option<Duration>,
    /// Largest accepted frame body.
    pub max_frame_body: usize,
    /// Capacity of the event channel.
    pub event_capacity: usize,
}

impl ClientConfig {
    /// Defaults: connect timeout 5 s, backoff 500 ms doubling to 30 s, ADDP 30 s, failed
    /// statistics retried every 60 s, open requests answered within 120 s, 1 MiB frames,
    /// 16384 buffered events.
    pub fn new(primary: Endpoint, backup: Option<Endpoint>) -> Self {
        Self {
            primary,
            backup,
            connect_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            addp_timeout: Some(Duration::from_secs(30)),
            retry_failed_every: Duration::from_secs(60),
            request_timeout: Some(Duration::from_secs(120)),
            max_frame_body: wire::DEFAULT_MAX_BODY,
            event_capacity: 16_384,
        }
    }

    /// The backoff before attempt round `round` (1 = first retry): `initial · 2^(round-1)`,
    /// times a jitter factor in [0.75, 1.25] from `jitter_seed`, never above `max`
    /// ([`engage_base::Backoff::delay`]).
    pub fn backoff(&self, round: u32, jitter_seed: u64) -> Duration {
        self.backoff_policy().delay(round, jitter_seed)
    }

    fn backoff_policy(&self) -> Backoff {
        Backoff::new(self.backoff_initial, self.backoff_max)
    }

    fn failover(&self) -> Failover {
        Failover::new(
            self.primary.clone(),
            self.backup.clone(),
            self.backoff_policy(),
        )
    }
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A link is up (every needed statistic is being opened on it).
    LinkUp {
        /// Which server.
        role: ServerRole,
        /// Its address.
        endpoint: String,
    },
    /// The link went down (statistics are reopened on the next link).
    LinkDown {
        /// Which server.
        role: ServerRole,
        /// Why.
        reason: String,
    },
    /// The new link is on the other server than the previous one.
    Switchover {
        /// The previous server.
        from: ServerRole,
        /// The new server.
        to: ServerRole,
    },
    /// A connection attempt failed.
    ConnectFailed {
        /// Which server.
        role: ServerRole,
        /// Why.
        error: String,
        /// The backoff before the next attempt (`None`: the other server is tried at once).
        retry_in: Option<Duration>,
    },
    /// A statistic is open.
    Opened {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// A statistic value.
    Value {
        /// The statistic.
        reference_id: ReferenceId,
        /// Its object id (the agent id for agent statistics).
        object_id: String,
        /// The peek it answers, 0 for notifications.
        user_request_id: u32,
        /// Server time (Unix seconds).
        server_time: i64,
        /// The value.
        value: StatValue,
    },
    /// The server cannot compute a statistic for now.
    Invalid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// The statistic is computable again.
    Valid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// The server refused to open a statistic; it is retried periodically and on every link.
    OpenFailed {
        /// The statistic.
        reference_id: ReferenceId,
        /// Why.
        code: ErrorCode,
        /// Server text.
        message: String,
    },
    /// The server closed a statistic; the client reopens it.
    ClosedByServer {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// An error not tied to an open request.
    ServerError {
        /// The statistic, if any.
        reference_id: Option<ReferenceId>,
        /// Why.
        code: ErrorCode,
        /// Server text.
        message: String,
    },
    /// The server announced its mode.
    ServerMode {
        /// Which server.
        role: ServerRole,
        /// The mode.
        mode: ServerMode,
    },
    /// A frame could not be decoded and was skipped.
    Malformed {
        /// The decode error.
        error: DecodeError,
    },
}

impl ClientEvent {
    fn from_session(ev: SessionEvent, role: ServerRole) -> Option<Self> {
        Some(match ev {
            SessionEvent::Opened { reference_id } => ClientEvent::Opened { reference_id },
            SessionEvent::Value {
                reference_id,
                object_id,
                user_request_id,
                server_time,
                value,
            } => ClientEvent::Value {
                reference_id,
                object_id,
                user_request_id,
                server_time,
                value,
            },
            SessionEvent::Invalid { reference_id } => ClientEvent::Invalid { reference_id },
            SessionEvent::Valid { reference_id } => ClientEvent::Valid { reference_id },
            SessionEvent::OpenFailed {
                reference_id,
                code,
                message,
            } => ClientEvent::OpenFailed {
                reference_id,
                code,
                message,
            },
            SessionEvent::ClosedByServer { reference_id } => {
                ClientEvent::ClosedByServer { reference_id }
            }
            SessionEvent::ServerError {
                reference_id,
                code,
                message,
            } => ClientEvent::ServerError {
                reference_id,
                code,
                message,
            },
            SessionEvent::ServerMode { mode } => ClientEvent::ServerMode { role, mode },
            SessionEvent::LinkTimedOut | SessionEvent::RequestTimedOut { .. } => return None,
        })
    }
}

/// Errors of the client handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client task has stopped (shut down, or its event receiver was dropped).
    #[error("the Stat Server client has stopped; start a new one")]
    Stopped,
}

#[derive(Debug)]
enum Command {
    Open(Vec<(ReferenceId, StatSpec)>),
    Close(Vec<ReferenceId>),
    Peek(ReferenceId),
    PeekAll,
    Shutdown,
}

/// Handle to a running client. Cheap to clone; the client stops when every handle is dropped
/// or [`StatClient::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct StatClient {
    cmd: mpsc::UnboundedSender<Command>,
    next_ref: Arc<AtomicU32>,
    link: watch::Receiver<Option<ServerRole>>,
}

impl StatClient {
    /// Spawns the client on the current tokio runtime; returns the handle and the event
    /// stream.
    pub fn start(config: ClientConfig) -> (StatClient, mpsc::Receiver<ClientEvent>) {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(config.event_capacity.max(1));
        let (link_tx, link_rx) = watch::channel(None);
        let driver = Driver {
            session: Session::new(config.addp_timeout).with_request_timeout(config.request_timeout),
            config,
            cmd_rx,
            ev_tx,
            link_tx,
            jitter: Jitter::new(),
        };
        tokio::spawn(driver.run());
        (
            StatClient {
                cmd: cmd_tx,
                next_ref: Arc::new(AtomicU32::new(1)),
                link: link_rx,
            },
            ev_rx,
        )
    }

    fn send(&self, c: Command) -> Result<(), ClientError> {
        self.cmd.send(c).map_err(|_| ClientError::Stopped)
    }

    /// Opens a statistic and keeps it open (across failovers) until closed; returns its
    /// reference id, which every event about it carries.
    pub fn open(&self, spec: StatSpec) -> Result<ReferenceId, ClientError> {
        let r = self.next_ref.fetch_add(1, Ordering::Relaxed);
        self.send(Command::Open(vec![(r, spec)]))?;
        Ok(r)
    }

    /// Opens many statistics in one pipelined burst; the ids come back in order.
    pub fn open_many(
        &self,
        specs: impl IntoIterator<Item = StatSpec>,
    ) -> Result<Vec<ReferenceId>, ClientError> {
        let batch: Vec<(ReferenceId, StatSpec)> = specs
            .into_iter()
            .map(|s| (self.next_ref.fetch_add(1, Ordering::Relaxed), s))
            .collect();
        let refs = batch.iter().map(|(r, _)| *r).collect();
        self.send(Command::Open(batch))?;
        Ok(refs)
    }

    /// Closes statistics (they are no longer reopened).
    pub fn close(&self, refs: impl IntoIterator<Item = ReferenceId>) -> Result<(), ClientError> {
        self.send(Command::Close(refs.into_iter().collect()))
    }

    /// Asks for the current value now; it arrives as a [`ClientEvent::Value`] with a non-zero
    /// user request id. Ignored while the statistic is not open.
    pub fn peek(&self, reference_id: ReferenceId) -> Result<(), ClientError> {
        self.send(Command::Peek(reference_id))
    }

    /// Peeks every open statistic (a snapshot of all current values, e.g. for reconciliation;
    /// values also come by themselves after every (re)open).
    pub fn peek_all(&self) -> Result<(), ClientError> {
        self.send(Command::PeekAll)
    }

    /// The server the client is linked to now, if any (for health checks).
    pub fn link(&self) -> Option<ServerRole> {
        *self.link.borrow()
    }

    /// Stops the client (the link is closed; the event stream ends).
    pub fn shutdown(&self) {
        let _ = self.cmd.send(Command::Shutdown);
    }
}

enum LinkEnd {
    Lost(String),
    Shutdown,
}

struct Driver {
    config: ClientConfig,
    session: Session,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    ev_tx: mpsc::Sender<ClientEvent>,
    link_tx: watch::Sender<Option<ServerRole>>,
    jitter: Jitter,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

impl Driver {
    /// Applies a command; `false` means shut down.
    fn apply(&mut self, c: Option<Command>) -> bool {
        match c {
            None | Some(Command::Shutdown) => return false,
            Some(Command::Open(batch)) => {
                for (r, spec) in batch {
                    // Ids come from one counter per client, so they never collide.
                    let _ = self.session.open(now(), r, spec);
                }
            }
            Some(Command::Close(refs)) => {
                for r in refs {
                    self.session.close(r);
                }
            }
            Some(Command::Peek(r)) => {
                self.session.peek(r);
            }
            Some(Command::PeekAll) => {
                for r in self.session.needed() {
                    self.session.peek(r);
                }
            }
        }
        true
    }

    async fn emit(&mut self, ev: ClientEvent) -> bool {
        self.ev_tx.send(ev).await.is_ok()
    }

    /// Runs `fut` while applying commands; `None` on shutdown.
    async fn while_idle<F: std::future::Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                c = self.cmd_rx.recv() => if !self.apply(c) { return None },
            }
        }
    }

    async fn run(mut self) {
        let mut failover = self.config.failover();
        loop {
            let target = failover.target();
            let endpoint = failover.endpoint().clone();
            let attempt = engage_base::net::connect(&endpoint, self.config.connect_timeout);
            let Some(result) = self.while_idle(attempt).await else {
                return;
            };
            match result {
                Ok(stream) => {
                    if let Some(from) = failover.link_up()
                        && !self
                            .emit(ClientEvent::Switchover { from, to: target })
                            .await
                    {
                        return;
                    }
                    if !self
                        .emit(ClientEvent::LinkUp {
                            role: target,
                            endpoint: endpoint.to_string(),
                        })
                        .await
                    {
                        return;
                    }
                    self.link_tx.send_replace(Some(target));
                    let end = self.run_link(stream, target).await;
                    self.session.handle_disconnected();
                    self.link_tx.send_replace(None);
                    match end {
                        LinkEnd::Shutdown => return,
                        LinkEnd::Lost(reason) => {
                            if !self
                                .emit(ClientEvent::LinkDown {
                                    role: target,
                                    reason,
                                })
                                .await
                            {
                                return;
                            }
                        }
                    }
                    // Any established link counts as healthy: switch over at once.
                    let _ = failover.link_lost(true, self.jitter.sample());
                }
                Err(error) => {
                    let retry_in = failover.connect_failed(self.jitter.sample());
                    if !self
                        .emit(ClientEvent::ConnectFailed {
                            role: target,
                            error: error.to_string(),
                            retry_in,
                        })
                        .await
                    {
                        return;
                    }
                    if let Some(d) = retry_in
                        && self.while_idle(tokio::time::sleep(d)).await.is_none()
                    {
                        return;
                    }
                }
            }
        }
    }

    async fn run_link(&mut self, stream: TcpStream, role: ServerRole) -> LinkEnd {
        let mut framed = Framed::new(stream, StatCodec::new(self.config.max_frame_body));
        self.session.handle_connected(now());
        // (interval() refuses a zero period.)
        let mut retry =
            tokio::time::interval(self.config.retry_failed_every.max(Duration::from_millis(1)));
        retry.tick().await;
        loop {
            // Pipelining: everything queued goes out in one burst, flushed once.
            let mut wrote = false;
            while let Some(m) = self.session.poll_transmit() {
                if let Err(e) = framed.feed(m).await {
                    return LinkEnd::Lost(format!("write failed: {e}"));
                }
                wrote = true;
            }
            if wrote && let Err(e) = SinkExt::<Message>::flush(&mut framed).await {
                return LinkEnd::Lost(format!("write failed: {e}"));
            }
            while let Some(ev) = self.session.poll_output() {
                match ev {
                    SessionEvent::LinkTimedOut => {
                        return LinkEnd::Lost("ADDP: no answer to the keep-alive poll".to_owned());
                    }
                    SessionEvent::RequestTimedOut { reference_id } => {
                        return LinkEnd::Lost(format!(
                            "no answer to the open request of statistic {reference_id}; \
                             the server is stuck"
                        ));
                    }
                    _ => {}
                }
                if let Some(ev) = ClientEvent::from_session(ev, role)
                    && !self.emit(ev).await
                {
                    return LinkEnd::Shutdown;
                }
            }
            let deadline = self.session.poll_timeout();
            tokio::select! {
                item = framed.next() => match item {
                    Some(Ok(Ok(msg))) => self.session.handle_message(now(), msg),
                    Some(Ok(Err(error))) => {
                        if !self.emit(ClientEvent::Malformed { error }).await {
                            return LinkEnd::Shutdown;
                        }
                    }
                    Some(Err(e)) => return LinkEnd::Lost(e.to_string()),
                    None => return LinkEnd::Lost("the server closed the connection".to_owned()),
                },
                c = self.cmd_rx.recv() => if !self.apply(c) { return LinkEnd::Shutdown },
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                        None => std::future::pending().await,
                    }
                } => self.session.handle_timeout(now()),
                _ = retry.tick() => self.session.retry_failed(now()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let mut c = ClientConfig::new(Endpoint::new("h", 1), None);
        c.backoff_initial = Duration::from_millis(100);
        c.backoff_max = Duration::from_millis(1000);
        for seed in [0u64, 250, 500, 12345] {
            let d1 = c.backoff(1, seed);
            assert!(d1 >= Duration::from_millis(75) && d1 <= Duration::from_millis(125));
            let d3 = c.backoff(3, seed);
            assert!(d3 >= Duration::from_millis(300) && d3 <= Duration::from_millis(500));
            let d10 = c.backoff(10, seed);
            assert!(d10 >= Duration::from_millis(750) && d10 <= Duration::from_millis(1000));
        }
        assert!(c.backoff(u32::MAX, 1) <= Duration::from_millis(1000));
        // Extreme settings never panic.
        c.backoff_initial = Duration::MAX;
        c.backoff_max = Duration::MAX;
        assert!(c.backoff(30, 500) > Duration::ZERO);
    }
}
