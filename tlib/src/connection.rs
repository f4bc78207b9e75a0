//! The sans-IO client side of a T-Library connection: registration with ReferenceID
//! correlation, request time-outs and the ADDP keep-alive timer.
//!
//! **Our design.** The public material says a client registers with
//! `RequestRegisterClient` (application name, password, protocol version) and then
//! `RequestRegisterAddress` per DN, that responses carry the request's `ReferenceID`, and that
//! ADDP polls an idle link after `addp-timeout` and declares it lost when no reply comes within
//! that interval (timeouts at most 3600 s). The exact handshake and the ADDP packet format are
//! not public, so this state machine stays at the message level and reports an ADDP poll as an
//! abstract [`Output::SendAddpPoll`] for the driver to put on the wire.
//!
//! The loop contract (as in quinn-proto / str0m): feed inputs
//! ([`Connection::handle_connected`], [`Connection::handle_message`],
//! [`Connection::handle_timeout`], [`Connection::request`]), then drain
//! [`Connection::poll_output`] until it returns `None`, and wake up at
//! [`Connection::poll_timeout`]. Time is always an input: the state machine never reads a
//! clock.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::message::{Message, MessageBuilder};
use crate::message_type::MessageType;
use crate::values::{AddressType, RegisterMode};

/// The longest ADDP timeout the public material allows.
pub const MAX_ADDP_TIMEOUT: Duration = Duration::from_secs(3600);

/// One DN to register after the client is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnRegistration {
    /// The DN.
    pub dn: String,
    /// How to register it (`Monitor` for an observer such as the connector).
    pub mode: RegisterMode,
    /// The address type.
    pub address_type: AddressType,
}

impl DnRegistration {
    /// A DN registered in `Monitor` mode as address type `DN`.
    pub fn monitor(dn: impl Into<String>) -> Self {
        DnRegistration {
            dn: dn.into(),
            mode: RegisterMode::Monitor,
            address_type: AddressType::Dn,
        }
    }
}

/// Settings of one client connection.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// The application name sent in `RequestRegisterClient`.
    pub application_name: String,
    /// The application password (never shown by `Debug`).
    pub application_password: String,
    /// The protocol version string.
    pub protocol_version: String,
    /// DNs to register once the client is registered.
    pub dns: Vec<DnRegistration>,
    /// Send `RequestStartCallMonitoring` after registration (call-based events).
    pub call_monitoring: bool,
    /// ADDP `addp-timeout`: poll an idle link after this long; `None` disables ADDP.
    pub addp_timeout: Option<Duration>,
    /// How long a request may wait for its response.
    pub request_timeout: Duration,
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("application_name", &self.application_name)
            .field("application_password", &"<redacted>")
            .field("protocol_version", &self.protocol_version)
            .field("dns", &self.dns)
            .field("call_monitoring", &self.call_monitoring)
            .field("addp_timeout", &self.addp_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl ConnectionConfig {
    /// A configuration with no DNs, no call monitoring, no ADDP and a 10 s request timeout.
    pub fn new(
        application_name: impl Into<String>,
        application_password: impl Into<String>,
    ) -> Self {
        ConnectionConfig {
            application_name: application_name.into(),
            application_password: application_password.into(),
            protocol_version: "tserver protocol 4.2".to_owned(),
            dns: Vec::new(),
            call_monitoring: false,
            addp_timeout: None,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A configuration the connection refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// ADDP timeouts are between 1 s and 3600 s.
    #[error("addp-timeout of {0:?} is outside 1 s ..= 3600 s; set it within that range")]
    AddpTimeout(Duration),
    /// The request timeout must be positive.
    #[error("request timeout must be greater than zero")]
    RequestTimeout,
}

/// Why the link is considered lost.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkLost {
    /// No traffic (not even an ADDP reply) within the ADDP timeout after a poll.
    AddpTimeout,
    /// The server refused `RequestRegisterClient`.
    ClientRejected {
        /// `AttributeErrorCode`, if sent.
        error_code: Option<i32>,
        /// `AttributeErrorMessage`, if sent.
        error_message: Option<String>,
    },
}

/// What the state machine asks its driver to do or tells its user.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// Write this message on the link.
    Send(Message),
    /// Write an ADDP poll on the link (format chosen by the driver).
    SendAddpPoll,
    /// The client registration succeeded (`EventServerConnected`).
    ClientRegistered,
    /// A DN is registered.
    DnRegistered {
        /// The DN.
        dn: String,
    },
    /// A DN could not be registered.
    DnRejected {
        /// The DN.
        dn: String,
        /// `AttributeErrorCode`, if sent.
        error_code: Option<i32>,
    },
    /// Call monitoring was accepted.
    CallMonitoringStarted,
    /// Every registration step has been answered.
    Ready,
    /// The response to a [`Connection::request`].
    Response {
        /// The request's ReferenceID.
        reference_id: i32,
        /// The response.
        message: Message,
    },
    /// A request got no response in time.
    RequestTimedOut {
        /// The request's ReferenceID.
        reference_id: i32,
        /// The request's type.
        request: MessageType,
    },
    /// An unsolicited event.
    Event(Message),
    /// The link is lost: drop the socket and reconnect (to the backup, if any).
    LinkLost(LinkLost),
}

/// The connection's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Not connected yet.
    Idle,
    /// `RequestRegisterClient` sent.
    RegisteringClient,
    /// Registering DNs / call monitoring.
    Registering,
    /// Every registration answered.
    Ready,
    /// The link is lost; create a new `Connection` for the next socket.
    Lost,
}

#[derive(Debug, Clone)]
enum Purpose {
    Client,
    Dn(String),
    CallMonitoring,
    User,
}

#[derive(Debug, Clone)]
struct Pending {
    purpose: Purpose,
    request: MessageType,
    /// `None` when the time-out is too far away to represent.
    deadline: Option<Instant>,
}

/// The sans-IO client connection state. See the module docs for the loop contract.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    phase: Phase,
    next_reference: i32,
    pending: BTreeMap<i32, Pending>,
    registration_left: usize,
    outputs: VecDeque<Output>,
    last_received: Option<Instant>,
    addp_poll_sent: Option<Instant>,
}

impl Connection {
    /// A connection for one socket.
    pub fn new(config: ConnectionConfig) -> Result<Self, ConfigError> {
        if let Some(t) = config.addp_timeout
            && (t < Duration::from_secs(1) || t > MAX_ADDP_TIMEOUT)
        {
            return Err(ConfigError::AddpTimeout(t));
        }
        if config.request_timeout.is_zero() {
            return Err(ConfigError::RequestTimeout);
        }
        Ok(Connection {
            config,
            phase: Phase::Idle,
            next_reference: 1,
            pending: BTreeMap::new(),
            registration_left: 0,
            outputs: VecDeque::new(),
            last_received: None,
            addp_poll_sent: None,
        })
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    fn send(&mut self, builder: MessageBuilder, purpose: Purpose, now: Instant) -> i32 {
        let reference_id = self.next_reference;
        self.next_reference = self.next_reference.checked_add(1).unwrap_or(1);
        let msg = builder.reference_id(reference_id).build();
        self.pending.insert(
            reference_id,
            Pending {
                purpose,
                request: msg.msg_type(),
                deadline: now.checked_add(self.config.request_timeout),
            },
        );
        self.outputs.push_back(Output::Send(msg));
        reference_id
    }

    /// The socket is connected: sends `RequestRegisterClient`.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.phase != Phase::Idle {
            return;
        }
        self.phase = Phase::RegisteringClient;
        self.last_received = Some(now);
        let b = Message::builder(MessageType::RequestRegisterClient)
            .application_name(&self.config.application_name)
            .application_password(&self.config.application_password)
            .protocol_version(&self.config.protocol_version);
        self.send(b, Purpose::Client, now);
    }

    /// Sends a request built by the caller, adding a fresh `ReferenceID`; its answer comes
    /// back as [`Output::Response`]. Returns the ReferenceID.
    pub fn request(&mut self, builder: MessageBuilder, now: Instant) -> i32 {
        self.send(builder, Purpose::User, now)
    }

    fn registration_step_done(&mut self) {
        self.registration_left = self.registration_left.saturating_sub(1);
        if self.registration_left == 0 && self.phase == Phase::Registering {
            self.phase = Phase::Ready;
            self.outputs.push_back(Output::Ready);
        }
    }

    fn start_registrations(&mut self, now: Instant) {
        self.phase = Phase::Registering;
        let dns = self.config.dns.clone();
        self.registration_left = dns.len() + usize::from(self.config.call_monitoring);
        for reg in dns {
            let b = Message::builder(MessageType::RequestRegisterAddress)
                .this_dn(&reg.dn)
                .register_mode(reg.mode)
                .address_type(reg.address_type);
            self.send(b, Purpose::Dn(reg.dn), now);
        }
        if self.config.call_monitoring {
            let b = Message::builder(MessageType::RequestStartCallMonitoring);
            self.send(b, Purpose::CallMonitoring, now);
        }
        if self.registration_left == 0 {
            self.phase = Phase::Ready;
            self.outputs.push_back(Output::Ready);
        }
    }

    /// A message arrived from the server. Any traffic proves the link alive (ADDP).
    pub fn handle_message(&mut self, msg: Message, now: Instant) {
        if self.phase == Phase::Lost {
            return;
        }
        self.handle_addp_reply(now);
        let pending = msg
            .reference_id()
            .and_then(|r| self.pending.remove(&r).map(|p| (r, p)));
        let Some((reference_id, pending)) = pending else {
            self.outputs.push_back(Output::Event(msg));
            return;
        };
        let failed = msg.msg_type() == MessageType::EventError;
        match pending.purpose {
            Purpose::Client if failed => {
                self.lose(LinkLost::ClientRejected {
                    error_code: msg.error_code(),
                    error_message: msg.error_message().map(str::to_owned),
                });
            }
            Purpose::Client => {
                self.outputs.push_back(Output::ClientRegistered);
                self.start_registrations(now);
            }
            Purpose::Dn(dn) => {
                self.outputs.push_back(if failed {
                    Output::DnRejected {
                        dn,
                        error_code: msg.error_code(),
                    }
                } else {
                    Output::DnRegistered { dn }
                });
                self.registration_step_done();
            }
            Purpose::CallMonitoring => {
                if !failed {
                    self.outputs.push_back(Output::CallMonitoringStarted);
                } else {
                    self.outputs.push_back(Output::Response {
                        reference_id,
                        message: msg,
                    });
                }
                self.registration_step_done();
            }
            Purpose::User => self.outputs.push_back(Output::Response {
                reference_id,
                message: msg,
            }),
        }
    }

    /// An ADDP reply (or any sign of life) arrived.
    pub fn handle_addp_reply(&mut self, now: Instant) {
        self.last_received = Some(now);
        self.addp_poll_sent = None;
    }

    fn lose(&mut self, why: LinkLost) {
        self.phase = Phase::Lost;
        self.pending.clear();
        self.outputs.push_back(Output::LinkLost(why));
    }

    /// Time has advanced to `now`: fires ADDP polls, ADDP loss and request time-outs.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Idle | Phase::Lost) {
            return;
        }
        if let (Some(timeout), Some(last)) = (self.config.addp_timeout, self.last_received) {
            match self.addp_poll_sent {
                Some(sent) if sent.checked_add(timeout).is_some_and(|d| now >= d) => {
                    self.lose(LinkLost::AddpTimeout);
                    return;
                }
                None if last.checked_add(timeout).is_some_and(|d| now >= d) => {
                    self.addp_poll_sent = Some(now);
                    self.outputs.push_back(Output::SendAddpPoll);
                }
                _ => {}
            }
        }
        let expired: Vec<i32> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| now >= d))
            .map(|(r, _)| *r)
            .collect();
        for reference_id in expired {
            if let Some(p) = self.pending.remove(&reference_id) {
                self.outputs.push_back(Output::RequestTimedOut {
                    reference_id,
                    request: p.request,
                });
                if matches!(p.purpose, Purpose::Dn(_) | Purpose::CallMonitoring) {
                    self.registration_step_done();
                }
            }
        }
    }

    /// The next instant at which [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Idle | Phase::Lost) {
            return None;
        }
        let addp = match (
            self.config.addp_timeout,
            self.addp_poll_sent,
            self.last_received,
        ) {
            (Some(t), Some(sent), _) => sent.checked_add(t),
            (Some(t), None, Some(last)) => last.checked_add(t),
            _ => None,
        };
        let request = self.pending.values().filter_map(|p| p.deadline).min();
        match (addp, request) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(c: &mut Connection) -> Vec<Output> {
        std::iter::from_fn(|| c.poll_output()).collect()
    }

    fn sent(outputs: &[Output]) -> Vec<&Message> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn reply(to: &Message, t: MessageType) -> Message {
        Message::builder(t)
            .reference_id(to.reference_id().expect("requests carry a ReferenceID"))
            .build()
    }

    fn config() -> ConnectionConfig {
        let mut c = ConnectionConfig::new("EXCP_1", "pw");
        c.dns = vec![
            DnRegistration::monitor("5001"),
            DnRegistration::monitor("5002"),
        ];
        c.call_monitoring = true;
        c.addp_timeout = Some(Duration::from_secs(10));
        c
    }

    #[test]
    fn registers_client_then_dns_with_reference_ids() {
        let t0 = Instant::now();
        let mut c = Connection::new(config()).unwrap();
        c.handle_connected(t0);
        let out = drain(&mut c);
        let reg = sent(&out)[0].clone();
        assert_eq!(reg.msg_type(), MessageType::RequestRegisterClient);
        assert_eq!(reg.application_name(), Some("EXCP_1"));
        assert_eq!(c.phase(), Phase::RegisteringClient);

        c.handle_message(reply(&reg, MessageType::EventServerConnected), t0);
        let out = drain(&mut c);
        assert_eq!(out[0], Output::ClientRegistered);
        let reqs: Vec<Message> = sent(&out).into_iter().cloned().collect();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].this_dn(), Some("5001"));
        assert_eq!(reqs[0].register_mode(), Some(RegisterMode::Monitor));
        assert_eq!(reqs[2].msg_type(), MessageType::RequestStartCallMonitoring);
        let ids: std::collections::HashSet<_> =
            reqs.iter().map(|m| m.reference_id().unwrap()).collect();
        assert_eq!(ids.len(), 3, "distinct ReferenceIDs");

        // answers out of order; an unrelated event in between
        c.handle_message(reply(&reqs[1], MessageType::EventError), t0);
        c.handle_message(Message::builder(MessageType::EventRinging).build(), t0);
        c.handle_message(reply(&reqs[2], MessageType::EventAck), t0);
        assert_eq!(c.phase(), Phase::Registering);
        c.handle_message(reply(&reqs[0], MessageType::EventRegistered), t0);
        let out = drain(&mut c);
        assert_eq!(
            out[0],
            Output::DnRejected {
                dn: "5002".into(),
                error_code: None
            }
        );
        assert!(
            matches!(out[1], Output::Event(ref m) if m.msg_type() == MessageType::EventRinging)
        );
        assert_eq!(out[2], Output::CallMonitoringStarted);
        assert_eq!(out[3], Output::DnRegistered { dn: "5001".into() });
        assert_eq!(out[4], Output::Ready);
        assert_eq!(c.phase(), Phase::Ready);
    }

    #[test]
    fn addp_polls_an_idle_link_and_declares_it_lost() {
        let t0 = Instant::now();
        let mut c = Connection::new(config()).unwrap();
        c.handle_connected(t0);
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(10)));
        c.handle_timeout(t0 + Duration::from_secs(9));
        assert!(!drain(&mut c).contains(&Output::SendAddpPoll));
        // traffic pushes the poll back
        c.handle_message(
            Message::builder(MessageType::EventRinging).build(),
            t0 + Duration::from_secs(5),
        );
        c.handle_timeout(t0 + Duration::from_secs(12));
        assert!(!drain(&mut c).contains(&Output::SendAddpPoll));
        c.handle_timeout(t0 + Duration::from_secs(15));
        let out = drain(&mut c);
        assert!(out.contains(&Output::SendAddpPoll));
        // a reply clears the poll
        c.handle_addp_reply(t0 + Duration::from_secs(16));
        c.handle_timeout(t0 + Duration::from_secs(25));
        assert!(
            !drain(&mut c)
                .iter()
                .any(|o| matches!(o, Output::LinkLost(_)))
        );
        // poll again at 26, no reply by 36: lost
        c.handle_timeout(t0 + Duration::from_secs(26));
        assert!(drain(&mut c).contains(&Output::SendAddpPoll));
        c.handle_timeout(t0 + Duration::from_secs(36));
        let out = drain(&mut c);
        assert!(out.contains(&Output::LinkLost(LinkLost::AddpTimeout)));
        assert_eq!(c.phase(), Phase::Lost);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn requests_time_out_and_rejected_client_loses_the_link() {
        let t0 = Instant::now();
        let mut cfg = ConnectionConfig::new("app", "pw");
        cfg.request_timeout = Duration::from_secs(3);
        let mut c = Connection::new(cfg).unwrap();
        c.handle_connected(t0);
        let reg = sent(&drain(&mut c))[0].clone();
        c.handle_message(reply(&reg, MessageType::EventServerConnected), t0);
        assert!(drain(&mut c).contains(&Output::Ready));
        let r = c.request(
            Message::builder(MessageType::RequestQueryAddress).this_dn("5001"),
            t0,
        );
        drain(&mut c);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(3)));
        c.handle_timeout(t0 + Duration::from_secs(3));
        assert_eq!(
            drain(&mut c),
            vec![Output::RequestTimedOut {
                reference_id: r,
                request: MessageType::RequestQueryAddress
            }]
        );

        let mut c = Connection::new(ConnectionConfig::new("app", "bad")).unwrap();
        c.handle_connected(t0);
        let reg = sent(&drain(&mut c))[0].clone();
        let err = Message::builder(MessageType::EventError)
            .reference_id(reg.reference_id().unwrap())
            .error_code(53)
            .error_message("Invalid password")
            .build();
        c.handle_message(err, t0);
        assert_eq!(
            drain(&mut c),
            vec![Output::LinkLost(LinkLost::ClientRejected {
                error_code: Some(53),
                error_message: Some("Invalid password".into())
            })]
        );
    }

    #[test]
    fn config_limits_and_redaction() {
        let mut cfg = ConnectionConfig::new("app", "topsecret");
        assert!(!format!("{cfg:?}").contains("topsecret"));
        cfg.addp_timeout = Some(Duration::from_secs(3601));
        assert!(matches!(
            Connection::new(cfg.clone()),
            Err(ConfigError::AddpTimeout(_))
        ));
        cfg.addp_timeout = None;
        cfg.request_timeout = Duration::ZERO;
        assert!(matches!(
            Connection::new(cfg),
            Err(ConfigError::RequestTimeout)
        ));
    }
}
