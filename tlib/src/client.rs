//! The tokio client: a thin driver around the sans-IO [`Connection`].
//!
//! It connects to the primary SIP Server / T-Server first and registers there (the client,
//! then every DN, then call monitoring if asked). When the active link drops it switches to the
//! other server at once (a switchover) and registers everything again on a fresh
//! [`Connection`]; when neither server answers (or a link drops before its registration
//! completes, e.g. a refused password) it retries both with exponential backoff and jitter. Every unsolicited event the server sends comes out as [`ClientEvent::Message`], in
//! the order received, on one bounded channel together with the link events (a slow reader
//! slows the socket reads down rather than growing memory).
//!
//! **ADDP poll (our design).** The ADDP packet format is not public, so the poll the
//! [`Connection`] asks for is written as a `RequestQueryServer` message; any traffic, including
//! its `EventServerInfo` answer, proves the link alive. The answer to a poll is not forwarded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), engage_tlib::connection::ConfigError> {
//! use engage_tlib::client::{ClientConfig, ClientEvent, Endpoint, TlibClient};
//! let mut config = ClientConfig::new(
//!     Endpoint::new("sip-primary", 3000),
//!     Some(Endpoint::new("sip-backup", 3000)),
//!     "EX_Engage_Connector",
//! );
//! config.dns_to_register = vec!["5001".into(), "5002".into()];
//! config.call_monitoring = true;
//! let (_client, mut events) = TlibClient::start(config)?;
//! while let Some(ev) = events.recv().await {
//!     if let ClientEvent::Message(m) = ev {
//!         println!("{}", m.msg_type());
//!     }
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use engage_base::{Backoff, Failover, Jitter};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::Framed;

use crate::codec::TlibCodec;
use crate::connection::{
    ConfigError, Connection, ConnectionConfig, DnRegistration, LinkLost, Output,
};
use crate::message::Message;
use crate::message_type::MessageType;
use crate::wire::WireConfig;

/// Server addresses and the HA pair's roles come from `engage-base`, shared with the Stat
/// Server client (`engage_tlib::client::Endpoint` stays their name here).
pub use engage_base::{Endpoint, ServerRole};

/// Client settings.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The primary server.
    pub primary: Endpoint,
    /// The backup server, if any.
    pub backup: Option<Endpoint>,
    /// Application name sent in `RequestRegisterClient`.
    pub app_name: String,
    /// Application password (never shown by `Debug`).
    pub app_password: String,
    /// DNs registered (in `Monitor` mode, address type DN) on every link.
    pub dns_to_register: Vec<String>,
    /// Send `RequestStartCallMonitoring` on every link.
    pub call_monitoring: bool,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// First backoff delay after both servers failed.
    pub backoff_initial: Duration,
    /// Backoff ceiling.
    pub backoff_max: Duration,
    /// ADDP `addp-timeout` (1 s ..= 3600 s); `None` disables ADDP.
    pub addp_timeout: Option<Duration>,
    /// How long a registration request may wait for its answer.
    pub request_timeout: Duration,
    /// Frame limits of the codec.
    pub wire: WireConfig,
    /// Capacity of the event channel.
    pub event_capacity: usize,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("primary", &self.primary)
            .field("backup", &self.backup)
            .field("app_name", &self.app_name)
            .field("app_password", &"<redacted>")
            .field("dns_to_register", &self.dns_to_register)
            .field("call_monitoring", &self.call_monitoring)
            .field("connect_timeout", &self.connect_timeout)
            .field("backoff_initial", &self.backoff_initial)
            .field("backoff_max", &self.backoff_max)
            .field("addp_timeout", &self.addp_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("event_capacity", &self.event_capacity)
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    /// Defaults: no DNs, no call monitoring, empty password, connect timeout 5 s, backoff
    /// 500 ms doubling to 30 s, ADDP 30 s, requests answered within 10 s, classic frames,
    /// 16384 buffered events.
    pub fn new(primary: Endpoint, backup: Option<Endpoint>, app_name: impl Into<String>) -> Self {
        Self {
            primary,
            backup,
            app_name: app_name.into(),
            app_password: String::new(),
            dns_to_register: Vec::new(),
            call_monitoring: false,
            connect_timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            addp_timeout: Some(Duration::from_secs(30)),
            request_timeout: Duration::from_secs(10),
            wire: WireConfig::classic(),
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

    fn connection_config(&self) -> ConnectionConfig {
        let mut c = ConnectionConfig::new(self.app_name.clone(), self.app_password.clone());
        c.dns = self
            .dns_to_register
            .iter()
            .map(|d| DnRegistration::monitor(d.clone()))
            .collect();
        c.call_monitoring = self.call_monitoring;
        c.addp_timeout = self.addp_timeout;
        c.request_timeout = self.request_timeout;
        c
    }
}

/// What the client reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A link is up; registration is being sent on it.
    LinkUp {
        /// Which server.
        which: ServerRole,
        /// Its address.
        endpoint: String,
    },
    /// Every registration step on the current link has been answered (or timed out).
    Registered {
        /// Which server.
        which: ServerRole,
    },
    /// The server refused to register a DN (its events will not arrive).
    DnRejected {
        /// The DN.
        dn: String,
        /// `AttributeErrorCode`, if sent.
        error_code: Option<i32>,
    },
    /// The server refused `RequestStartCallMonitoring`.
    CallMonitoringRejected {
        /// `AttributeErrorCode`, if sent.
        error_code: Option<i32>,
    },
    /// A registration request got no answer in time; the link is dropped next
    /// ([`ClientEvent::LinkDown`]) and everything is registered on the other server.
    RequestTimedOut {
        /// The request's type.
        request: MessageType,
    },
    /// The link went down; the client switches to the other server.
    LinkDown {
        /// Which server.
        which: ServerRole,
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
        which: ServerRole,
        /// Why.
        error: String,
        /// The backoff before the next attempt (`None`: the other server is tried at once).
        retry_in: Option<Duration>,
    },
    /// An event message from the server, in the order received.
    Message(Message),
    /// A frame that did not decode was skipped; the link stays up (the frame's length was
    /// readable, so the stream stays in step). A malformed *header* still drops the link.
    FrameSkipped {
        /// Which server sent it.
        which: ServerRole,
        /// Why it did not decode.
        reason: String,
    },
}

/// The client's framing: a frame that does not decode but leaves the stream in step comes out
/// as an `Err` item instead of ending the stream (`Framed` ends it after any codec error).
#[derive(Debug, Clone, Copy)]
struct LenientCodec(TlibCodec);

impl tokio_util::codec::Decoder for LenientCodec {
    type Item = Result<Message, crate::wire::DecodeError>;
    type Error = crate::codec::CodecError;

    fn decode(&mut self, src: &mut bytes::BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.0.decode_from(src) {
            Ok(m) => Ok(m.map(Ok)),
            Err(crate::codec::CodecError::Decode(e)) if !e.is_fatal_to_stream() => Ok(Some(Err(e))),
            Err(e) => Err(e),
        }
    }
}

impl tokio_util::codec::Encoder<Message> for LenientCodec {
    type Error = crate::codec::CodecError;

    fn encode(&mut self, msg: Message, dst: &mut bytes::BytesMut) -> Result<(), Self::Error> {
        self.0.encode_into(&msg, dst)
    }
}

/// Counters for metrics (since the client started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// Links established (the first one included).
    pub links_established: u64,
    /// Links lost.
    pub links_lost: u64,
    /// Switchovers to the other server.
    pub switchovers: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Event messages forwarded.
    pub messages: u64,
    /// Frames that did not decode and were skipped (the link stayed up).
    pub frames_skipped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    links_established: AtomicU64,
    links_lost: AtomicU64,
    switchovers: AtomicU64,
    connect_failures: AtomicU64,
    messages: AtomicU64,
    frames_skipped: AtomicU64,
}

#[derive(Debug)]
enum Command {
    Shutdown,
}

/// Handle to a running client. Cheap to clone; the client stops when every handle is dropped,
/// the event receiver is dropped, or [`TlibClient::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct TlibClient {
    cmd: mpsc::UnboundedSender<Command>,
    link: watch::Receiver<Option<ServerRole>>,
    counters: Arc<Counters>,
}

impl TlibClient {
    /// Checks the configuration, spawns the client on the current tokio runtime and returns
    /// the handle and the event stream.
    pub fn start(
        config: ClientConfig,
    ) -> Result<(TlibClient, mpsc::Receiver<ClientEvent>), ConfigError> {
        // Validate once here so a bad setting is reported to the caller, not per link.
        Connection::new(config.connection_config())?;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::channel(config.event_capacity.max(1));
        let (link_tx, link_rx) = watch::channel(None);
        let counters = Arc::new(Counters::default());
        let driver = Driver {
            counters: counters.clone(),
            config,
            cmd_rx,
            ev_tx,
            link_tx,
            jitter: Jitter::new(),
            link_ready: false,
        };
        tokio::spawn(driver.run());
        Ok((
            TlibClient {
                cmd: cmd_tx,
                link: link_rx,
                counters,
            },
            ev_rx,
        ))
    }

    /// The server the client is linked to now, if any (for health checks).
    pub fn link(&self) -> Option<ServerRole> {
        *self.link.borrow()
    }

    /// Counters for metrics (reconnects, switchovers, failures, messages).
    pub fn stats(&self) -> ClientStats {
        let c = &self.counters;
        ClientStats {
            links_established: c.links_established.load(Ordering::Relaxed),
            links_lost: c.links_lost.load(Ordering::Relaxed),
            switchovers: c.switchovers.load(Ordering::Relaxed),
            connect_failures: c.connect_failures.load(Ordering::Relaxed),
            messages: c.messages.load(Ordering::Relaxed),
            frames_skipped: c.frames_skipped.load(Ordering::Relaxed),
        }
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
    counters: Arc<Counters>,
    config: ClientConfig,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    ev_tx: mpsc::Sender<ClientEvent>,
    link_tx: watch::Sender<Option<ServerRole>>,
    jitter: Jitter,
    /// Whether the current link completed registration.
    link_ready: bool,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn lost_reason(why: &LinkLost) -> String {
    match why {
        LinkLost::AddpTimeout => "ADDP: no answer to the keep-alive poll".to_owned(),
        LinkLost::ClientRejected {
            error_code,
            error_message,
        } => format!(
            "the server refused RequestRegisterClient (error code {error_code:?}: {}); \
             check the application name and password",
            error_message.as_deref().unwrap_or("no message")
        ),
    }
}

impl Driver {
    /// Sends an event, waiting while the channel is full; `false` means stop (the receiver is
    /// gone, or a shutdown arrived while waiting).
    async fn emit(&mut self, ev: ClientEvent) -> bool {
        tokio::select! {
            sent = self.ev_tx.send(ev) => sent.is_ok(),
            _ = self.cmd_rx.recv() => false,
        }
    }

    /// Runs `fut` unless a shutdown arrives first (`None`).
    async fn unless_shutdown<F: std::future::Future>(&mut self, fut: F) -> Option<F::Output> {
        tokio::select! {
            out = fut => Some(out),
            _ = self.cmd_rx.recv() => None,
            _ = self.ev_tx.closed() => None,
        }
    }

    async fn run(mut self) {
        let mut failover = self.config.failover();
        loop {
            let target = failover.target();
            let endpoint = failover.endpoint().clone();
            let attempt = engage_base::net::connect(&endpoint, self.config.connect_timeout);
            let Some(result) = self.unless_shutdown(attempt).await else {
                return;
            };
            match result {
                Ok(stream) => {
                    self.counters
                        .links_established
                        .fetch_add(1, Ordering::Relaxed);
                    if let Some(from) = failover.link_up() {
                        self.counters.switchovers.fetch_add(1, Ordering::Relaxed);
                        if !self
                            .emit(ClientEvent::Switchover { from, to: target })
                            .await
                        {
                            return;
                        }
                    }
                    if !self
                        .emit(ClientEvent::LinkUp {
                            which: target,
                            endpoint: endpoint.to_string(),
                        })
                        .await
                    {
                        return;
                    }
                    self.link_tx.send_replace(Some(target));
                    self.link_ready = false;
                    let end = self.run_link(stream, target).await;
                    self.link_tx.send_replace(None);
                    match end {
                        LinkEnd::Shutdown => return,
                        LinkEnd::Lost(reason) => {
                            self.counters.links_lost.fetch_add(1, Ordering::Relaxed);
                            if !self
                                .emit(ClientEvent::LinkDown {
                                    which: target,
                                    reason,
                                })
                                .await
                            {
                                return;
                            }
                        }
                    }
                    // A link lost before registration completed (e.g. a refused password)
                    // counts as a failure, so a server that keeps refusing is not hammered.
                    if let Some(d) = failover.link_lost(self.link_ready, self.jitter.sample())
                        && self.unless_shutdown(tokio::time::sleep(d)).await.is_none()
                    {
                        return;
                    }
                }
                Err(error) => {
                    self.counters
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    let retry_in = failover.connect_failed(self.jitter.sample());
                    if !self
                        .emit(ClientEvent::ConnectFailed {
                            which: target,
                            error: error.to_string(),
                            retry_in,
                        })
                        .await
                    {
                        return;
                    }
                    if let Some(d) = retry_in
                        && self.unless_shutdown(tokio::time::sleep(d)).await.is_none()
                    {
                        return;
                    }
                }
            }
        }
    }

    async fn run_link(&mut self, stream: TcpStream, which: ServerRole) -> LinkEnd {
        let mut framed = Framed::new(stream, LenientCodec(TlibCodec::new(self.config.wire)));
        let mut conn = match Connection::new(self.config.connection_config()) {
            Ok(c) => c,
            // Checked in `start`; unreachable in practice, but never panic.
            Err(e) => return LinkEnd::Lost(e.to_string()),
        };
        conn.handle_connected(now());
        let mut poll_outstanding = false;
        loop {
            let mut wrote = false;
            while let Some(out) = conn.poll_output() {
                let ev = match out {
                    Output::Send(m) => {
                        if let Err(e) = framed.feed(m).await {
                            return LinkEnd::Lost(format!("write failed: {e}"));
                        }
                        wrote = true;
                        continue;
                    }
                    Output::SendAddpPoll => {
                        let poll = Message::builder(MessageType::RequestQueryServer).build();
                        if let Err(e) = framed.feed(poll).await {
                            return LinkEnd::Lost(format!("write failed: {e}"));
                        }
                        poll_outstanding = true;
                        wrote = true;
                        continue;
                    }
                    Output::LinkLost(why) => return LinkEnd::Lost(lost_reason(&why)),
                    Output::Ready => {
                        self.link_ready = true;
                        ClientEvent::Registered { which }
                    }
                    Output::DnRejected { dn, error_code } => {
                        ClientEvent::DnRejected { dn, error_code }
                    }
                    Output::Response { message, .. }
                        if message.msg_type() == MessageType::EventError =>
                    {
                        // Only registration requests are sent, so an error response here is
                        // the call-monitoring refusal.
                        ClientEvent::CallMonitoringRejected {
                            error_code: message.error_code(),
                        }
                    }
                    Output::RequestTimedOut { request, .. } => {
                        // Only registration requests are sent: an unanswered one means the
                        // server is stuck (poisoned link); drop it and register elsewhere.
                        if !self.emit(ClientEvent::RequestTimedOut { request }).await {
                            return LinkEnd::Shutdown;
                        }
                        return LinkEnd::Lost(format!(
                            "no answer to {} within {:?}; the server is stuck",
                            request.name(),
                            self.config.request_timeout
                        ));
                    }
                    Output::Event(m) => {
                        if poll_outstanding && m.msg_type() == MessageType::EventServerInfo {
                            poll_outstanding = false;
                            continue;
                        }
                        self.counters.messages.fetch_add(1, Ordering::Relaxed);
                        ClientEvent::Message(m)
                    }
                    _ => continue,
                };
                if !self.emit(ev).await {
                    return LinkEnd::Shutdown;
                }
            }
            if wrote && let Err(e) = SinkExt::<Message>::flush(&mut framed).await {
                return LinkEnd::Lost(format!("write failed: {e}"));
            }
            let deadline = conn.poll_timeout();
            tokio::select! {
                item = framed.next() => match item {
                    Some(Ok(Ok(msg))) => conn.handle_message(msg, now()),
                    Some(Ok(Err(e))) => {
                        self.counters.frames_skipped.fetch_add(1, Ordering::Relaxed);
                        if !self
                            .emit(ClientEvent::FrameSkipped {
                                which,
                                reason: e.to_string(),
                            })
                            .await
                        {
                            return LinkEnd::Shutdown;
                        }
                    }
                    Some(Err(e)) => return LinkEnd::Lost(e.to_string()),
                    None => return LinkEnd::Lost("the server closed the connection".to_owned()),
                },
                _ = self.cmd_rx.recv() => return LinkEnd::Shutdown,
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                        None => std::future::pending().await,
                    }
                } => conn.handle_timeout(now()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_within_bounds() {
        let mut c = ClientConfig::new(Endpoint::new("h", 1), None, "app");
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
        c.backoff_initial = Duration::MAX;
        c.backoff_max = Duration::MAX;
        assert!(c.backoff(30, 500) > Duration::ZERO);
    }

    #[test]
    fn config_debug_hides_the_password_and_bad_addp_is_refused() {
        let mut c = ClientConfig::new(Endpoint::new("h", 1), None, "app");
        c.app_password = "topsecret".into();
        assert!(!format!("{c:?}").contains("topsecret"));
        c.addp_timeout = Some(Duration::from_millis(10));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let r = rt.block_on(async { TlibClient::start(c).map(|_| ()) });
        assert!(matches!(r, Err(ConfigError::AddpTimeout(_))));
    }
}
