//! Sans-IO client session: which statistics the client needs, their state on the current link,
//! what to send, and what happened.
//!
//! The contract (quinn / str0m style): feed inputs ([`Session::handle_connected`],
//! [`Session::handle_message`], [`Session::handle_disconnected`], [`Session::handle_timeout`],
//! and the user's [`Session::open`] / [`Session::close`] / [`Session::peek`]); then drain
//! [`Session::poll_transmit`] (messages to write, in order, without waiting for replies: opening
//! thousands of statistics is one burst) and [`Session::poll_output`] (what the user sees). The
//! session never reads a clock: time comes in as arguments.
//!
//! The set of statistics the user opened is the *reopen list*: on every new link (after a
//! failover or a reconnect) every one of them is requested again under the same reference id.
//! A statistic the server closes on its own is reopened at once; one whose open failed is retried
//! by [`Session::retry_failed`] and on the next link. Nothing the user needs stays closed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::message::{
    ErrorCode, Event, Message, ReferenceId, Request, ServerMode, StatSpec, StatValue,
};

/// The state of one needed statistic on the current link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatState {
    /// Not requested on this link (no link, or not yet sent).
    Closed,
    /// Open request sent, no answer yet.
    Opening,
    /// Open; values flow.
    Open,
    /// Open but the server says the value cannot be computed for now.
    Invalid,
    /// The server refused to open it; retried later.
    Failed,
}

/// Something the user of the session should know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A statistic is open on the current link.
    Opened {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// A value of a needed statistic.
    Value {
        /// The statistic.
        reference_id: ReferenceId,
        /// The statistic's object id (the agent id for agent statistics).
        object_id: String,
        /// The peek this answers, 0 for notifications.
        user_request_id: u32,
        /// Server time of the value (Unix seconds).
        server_time: i64,
        /// The value.
        value: StatValue,
    },
    /// The server cannot compute the statistic for now.
    Invalid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// The statistic is computable again.
    Valid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// The server refused to open a statistic; it will be retried.
    OpenFailed {
        /// The statistic.
        reference_id: ReferenceId,
        /// Why.
        code: ErrorCode,
        /// Server text.
        message: String,
    },
    /// The server closed a needed statistic by itself; it is being reopened.
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
        /// The mode.
        mode: ServerMode,
    },
    /// ADDP: no frame came back within the timeout after a poll. The driver must drop the link.
    LinkTimedOut,
    /// An open request got no answer within the request timeout: the server is stuck. The
    /// driver must drop the link (the statistic is reopened on the next one).
    RequestTimedOut {
        /// The statistic.
        reference_id: ReferenceId,
    },
}

/// Errors of session operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The reference id is already used by a needed statistic.
    #[error("reference id {0} is already open; use a fresh id per statistic")]
    DuplicateReference(ReferenceId),
}

#[derive(Debug)]
struct Entry {
    spec: StatSpec,
    state: StatState,
    /// Which open request is outstanding (matches the `pending` queue entry).
    open_seq: u64,
}

/// The sans-IO Stat Server client session.
#[derive(Debug)]
pub struct Session {
    stats: HashMap<ReferenceId, Entry>,
    transmit: VecDeque<Message>,
    outputs: VecDeque<SessionEvent>,
    connected: bool,
    next_user_request_id: u32,
    addp_timeout: Option<Duration>,
    last_rx: Option<Instant>,
    poll_sent: Option<Instant>,
    request_timeout: Option<Duration>,
    /// Outstanding opens in send order: (deadline, reference id, open sequence).
    pending: VecDeque<(Instant, ReferenceId, u64)>,
    open_seq: u64,
}

impl Session {
    /// A session; with `addp_timeout`, polls the server after that much silence and reports
    /// [`SessionEvent::LinkTimedOut`] when a poll goes unanswered as long.
    pub fn new(addp_timeout: Option<Duration>) -> Self {
        Self {
            stats: HashMap::new(),
            transmit: VecDeque::new(),
            outputs: VecDeque::new(),
            connected: false,
            next_user_request_id: 1,
            addp_timeout,
            last_rx: None,
            poll_sent: None,
            request_timeout: None,
            pending: VecDeque::new(),
            open_seq: 0,
        }
    }

    /// Builder: report [`SessionEvent::RequestTimedOut`] when an open request is unanswered
    /// for `timeout`.
    pub fn with_request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Queues the open request of a needed statistic.
    fn queue_open(&mut self, now: Instant, reference_id: ReferenceId) {
        self.open_seq += 1;
        let seq = self.open_seq;
        let Some(e) = self.stats.get_mut(&reference_id) else {
            return;
        };
        e.state = StatState::Opening;
        e.open_seq = seq;
        self.transmit
            .push_back(e.spec.open_request(reference_id).into());
        if let Some(d) = self.request_timeout.and_then(|t| now.checked_add(t)) {
            self.pending.push_back((d, reference_id, seq));
        }
    }

    /// Drops answered opens from the front of the pending queue.
    fn prune_pending(&mut self) {
        while let Some(&(_, r, seq)) = self.pending.front() {
            let outstanding = self
                .stats
                .get(&r)
                .is_some_and(|e| e.state == StatState::Opening && e.open_seq == seq);
            if outstanding {
                break;
            }
            self.pending.pop_front();
        }
    }

    /// Adds a needed statistic at `now`; sends its open request now if linked, else on the
    /// next link.
    pub fn open(
        &mut self,
        now: Instant,
        reference_id: ReferenceId,
        spec: StatSpec,
    ) -> Result<(), SessionError> {
        if self.stats.contains_key(&reference_id) {
            return Err(SessionError::DuplicateReference(reference_id));
        }
        self.stats.insert(
            reference_id,
            Entry {
                spec,
                state: StatState::Closed,
                open_seq: 0,
            },
        );
        if self.connected {
            self.queue_open(now, reference_id);
        }
        Ok(())
    }

    /// Removes a statistic from the needed set (closing it on the server if linked). Returns
    /// whether it was needed.
    pub fn close(&mut self, reference_id: ReferenceId) -> bool {
        let Some(e) = self.stats.remove(&reference_id) else {
            return false;
        };
        if self.connected
            && matches!(
                e.state,
                StatState::Opening | StatState::Open | StatState::Invalid
            )
        {
            self.transmit
                .push_back(Request::Close { reference_id }.into());
        }
        true
    }

    /// Asks for the current value of an open statistic; returns the user request id the
    /// answering value will carry, or `None` if the statistic is not open on a link.
    pub fn peek(&mut self, reference_id: ReferenceId) -> Option<u32> {
        let e = self.stats.get(&reference_id)?;
        if !self.connected
            || !matches!(
                e.state,
                StatState::Opening | StatState::Open | StatState::Invalid
            )
        {
            return None;
        }
        let user_request_id = self.next_user_request_id;
        self.next_user_request_id = self.next_user_request_id.checked_add(1).unwrap_or(1);
        self.transmit.push_back(
            Request::Peek {
                reference_id,
                user_request_id,
            }
            .into(),
        );
        Some(user_request_id)
    }

    /// A link is up: queue an open request for every needed statistic (the reopen list), in
    /// reference id order.
    pub fn handle_connected(&mut self, now: Instant) {
        self.connected = true;
        self.transmit.clear();
        self.pending.clear();
        self.last_rx = Some(now);
        self.poll_sent = None;
        for r in self.needed() {
            self.queue_open(now, r);
        }
    }

    /// The link is gone: every statistic is closed until the next link.
    pub fn handle_disconnected(&mut self) {
        self.connected = false;
        self.transmit.clear();
        self.pending.clear();
        self.last_rx = None;
        self.poll_sent = None;
        for e in self.stats.values_mut() {
            e.state = StatState::Closed;
        }
    }

    /// Re-queues, at `now`, the open requests of statistics the server refused (call it
    /// periodically).
    pub fn retry_failed(&mut self, now: Instant) {
        if !self.connected {
            return;
        }
        let mut refs: Vec<ReferenceId> = self
            .stats
            .iter()
            .filter(|(_, e)| e.state == StatState::Failed)
            .map(|(r, _)| *r)
            .collect();
        refs.sort_unstable();
        for r in refs {
            self.queue_open(now, r);
        }
    }

    /// A message arrived from the server at `now`.
    pub fn handle_message(&mut self, now: Instant, msg: Message) {
        self.last_rx = Some(now);
        self.poll_sent = None;
        match msg {
            Message::AddpPoll => self.transmit.push_back(Message::AddpReply),
            Message::AddpReply | Message::Request(_) => {}
            Message::Event(e) => self.handle_event(now, e),
        }
        self.prune_pending();
    }

    fn handle_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::StatisticOpened { reference_id } => {
                if let Some(e) = self.stats.get_mut(&reference_id) {
                    e.state = StatState::Open;
                    self.outputs
                        .push_back(SessionEvent::Opened { reference_id });
                }
            }
            Event::Info {
                reference_id,
                user_request_id,
                server_time,
                value,
            } => {
                if let Some(e) = self.stats.get_mut(&reference_id) {
                    if matches!(e.state, StatState::Opening | StatState::Failed) {
                        e.state = StatState::Open;
                    }
                    self.outputs.push_back(SessionEvent::Value {
                        reference_id,
                        object_id: e.spec.object.object_id.clone(),
                        user_request_id,
                        server_time,
                        value,
                    });
                }
            }
            Event::StatisticClosed { reference_id } => {
                if self.stats.contains_key(&reference_id) {
                    self.outputs
                        .push_back(SessionEvent::ClosedByServer { reference_id });
                    // Never leave a needed statistic closed.
                    self.queue_open(now, reference_id);
                }
            }
            Event::StatisticInvalid { reference_id } => {
                if let Some(e) = self.stats.get_mut(&reference_id) {
                    e.state = StatState::Invalid;
                    self.outputs
                        .push_back(SessionEvent::Invalid { reference_id });
                }
            }
            Event::StatisticValid { reference_id } => {
                if let Some(e) = self.stats.get_mut(&reference_id) {
                    e.state = StatState::Open;
                    self.outputs.push_back(SessionEvent::Valid { reference_id });
                }
            }
            Event::Error {
                reference_id,
                code,
                message,
            } => {
                let opening = reference_id
                    .and_then(|r| self.stats.get_mut(&r))
                    .filter(|e| e.state == StatState::Opening);
                match (opening, reference_id) {
                    (Some(e), Some(reference_id)) => {
                        e.state = StatState::Failed;
                        self.outputs.push_back(SessionEvent::OpenFailed {
                            reference_id,
                            code,
                            message,
                        });
                    }
                    _ => self.outputs.push_back(SessionEvent::ServerError {
                        reference_id,
                        code,
                        message,
                    }),
                }
            }
            Event::ServerMode { mode } => self.outputs.push_back(SessionEvent::ServerMode { mode }),
        }
    }

    /// When [`Session::handle_timeout`] wants to be called next (ADDP, request timeout), if
    /// ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.connected {
            return None;
        }
        let addp = self.addp_timeout.and_then(|t| match self.poll_sent {
            Some(sent) => sent.checked_add(t),
            None => self.last_rx?.checked_add(t),
        });
        let request = self.pending.front().map(|&(d, _, _)| d);
        match (addp, request) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Time has come: send an ADDP poll after silence, declare the link dead when a poll went
    /// unanswered, or report an open request that timed out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if !self.connected {
            return;
        }
        self.prune_pending();
        if let Some(&(deadline, reference_id, _)) = self.pending.front()
            && now >= deadline
        {
            self.pending.pop_front();
            self.outputs
                .push_back(SessionEvent::RequestTimedOut { reference_id });
        }
        let Some(t) = self.addp_timeout else { return };
        match self.poll_sent {
            Some(sent) if now.saturating_duration_since(sent) >= t => {
                self.poll_sent = None;
                self.outputs.push_back(SessionEvent::LinkTimedOut);
            }
            Some(_) => {}
            None => {
                if let Some(rx) = self.last_rx
                    && now.saturating_duration_since(rx) >= t
                {
                    self.poll_sent = Some(now);
                    self.transmit.push_back(Message::AddpPoll);
                }
            }
        }
    }

    /// The next message to write.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmit.pop_front()
    }

    /// The next event for the user.
    pub fn poll_output(&mut self) -> Option<SessionEvent> {
        self.outputs.pop_front()
    }

    /// The state of a needed statistic.
    pub fn state(&self, reference_id: ReferenceId) -> Option<StatState> {
        self.stats.get(&reference_id).map(|e| e.state)
    }

    /// The spec of a needed statistic.
    pub fn spec(&self, reference_id: ReferenceId) -> Option<&StatSpec> {
        self.stats.get(&reference_id).map(|e| &e.spec)
    }

    /// The reopen list: every needed statistic, in reference id order.
    pub fn needed(&self) -> Vec<ReferenceId> {
        let mut v: Vec<ReferenceId> = self.stats.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// How many needed statistics are in `state`.
    pub fn count_in(&self, state: StatState) -> usize {
        self.stats.values().filter(|e| e.state == state).count()
    }

    /// Whether a link is up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::AgentStatus;
    use crate::message::StatSubject;

    fn spec(agent: &str) -> StatSpec {
        StatSpec::agent_current_state(agent, "T", StatSubject::DnAction)
    }

    fn drain_tx(s: &mut Session) -> Vec<Message> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn drain_out(s: &mut Session) -> Vec<SessionEvent> {
        std::iter::from_fn(|| s.poll_output()).collect()
    }

    #[test]
    fn opens_are_pipelined_and_reopened_on_every_link() {
        let now = Instant::now();
        let mut s = Session::new(None);
        for i in 0..1000u32 {
            s.open(now, i, spec(&format!("a{i}"))).unwrap();
        }
        assert!(
            drain_tx(&mut s).is_empty(),
            "nothing goes out without a link"
        );
        s.handle_connected(now);
        let tx = drain_tx(&mut s);
        assert_eq!(tx.len(), 1000);
        assert_eq!(tx[0], spec("a0").open_request(0).into());
        assert_eq!(s.count_in(StatState::Opening), 1000);
        for i in 0..1000u32 {
            s.handle_message(now, Event::StatisticOpened { reference_id: i }.into());
        }
        assert_eq!(s.count_in(StatState::Open), 1000);
        s.handle_disconnected();
        assert_eq!(s.count_in(StatState::Closed), 1000);
        // New link (failover): every statistic goes out again, same ids.
        s.handle_connected(now);
        let tx = drain_tx(&mut s);
        assert_eq!(tx.len(), 1000);
        assert_eq!(tx[999], spec("a999").open_request(999).into());
    }

    #[test]
    fn values_carry_the_object_id_and_unknown_refs_are_ignored() {
        let now = Instant::now();
        let mut s = Session::new(None);
        s.open(now, 5, spec("agent5")).unwrap();
        s.handle_connected(now);
        drain_tx(&mut s);
        let value = StatValue::AgentStatus(AgentStatus::logged_out("agent5", 3));
        s.handle_message(
            now,
            Event::Info {
                reference_id: 5,
                user_request_id: 0,
                server_time: 9,
                value: value.clone(),
            }
            .into(),
        );
        s.handle_message(
            now,
            Event::Info {
                reference_id: 6,
                user_request_id: 0,
                server_time: 9,
                value: value.clone(),
            }
            .into(),
        );
        assert_eq!(
            drain_out(&mut s),
            vec![SessionEvent::Value {
                reference_id: 5,
                object_id: "agent5".into(),
                user_request_id: 0,
                server_time: 9,
                value
            }]
        );
        assert_eq!(s.state(5), Some(StatState::Open));
    }

    #[test]
    fn server_close_reopens_and_failed_opens_retry() {
        let now = Instant::now();
        let mut s = Session::new(None);
        s.open(now, 1, spec("a")).unwrap();
        s.open(now, 2, spec("b")).unwrap();
        assert_eq!(
            s.open(now, 1, spec("c")),
            Err(SessionError::DuplicateReference(1))
        );
        s.handle_connected(now);
        drain_tx(&mut s);
        s.handle_message(now, Event::StatisticOpened { reference_id: 1 }.into());
        s.handle_message(now, Event::StatisticClosed { reference_id: 1 }.into());
        assert_eq!(drain_tx(&mut s), vec![spec("a").open_request(1).into()]);
        s.handle_message(
            now,
            Event::Error {
                reference_id: Some(2),
                code: ErrorCode::UnknownObject,
                message: "no".into(),
            }
            .into(),
        );
        assert_eq!(s.state(2), Some(StatState::Failed));
        let out = drain_out(&mut s);
        assert!(out.contains(&SessionEvent::ClosedByServer { reference_id: 1 }));
        assert!(matches!(
            out.last(),
            Some(SessionEvent::OpenFailed {
                reference_id: 2,
                ..
            })
        ));
        s.retry_failed(now);
        assert_eq!(drain_tx(&mut s), vec![spec("b").open_request(2).into()]);
    }

    #[test]
    fn close_and_peek() {
        let now = Instant::now();
        let mut s = Session::new(None);
        s.open(now, 1, spec("a")).unwrap();
        assert_eq!(s.peek(1), None, "no link");
        assert!(s.close(1));
        assert!(!s.close(1));
        s.handle_connected(now);
        assert!(
            drain_tx(&mut s).is_empty(),
            "closed statistics are not reopened"
        );
        s.open(now, 2, spec("b")).unwrap();
        let p = s.peek(2).unwrap();
        assert!(s.close(2));
        assert_eq!(
            drain_tx(&mut s),
            vec![
                spec("b").open_request(2).into(),
                Request::Peek {
                    reference_id: 2,
                    user_request_id: p
                }
                .into(),
                Request::Close { reference_id: 2 }.into(),
            ]
        );
    }

    #[test]
    fn unanswered_opens_time_out_answered_ones_do_not() {
        let t0 = Instant::now();
        let d = Duration::from_secs(60);
        let mut s = Session::new(None).with_request_timeout(Some(d));
        s.open(t0, 1, spec("a")).unwrap();
        s.open(t0, 2, spec("b")).unwrap();
        assert_eq!(s.poll_timeout(), None, "no link, nothing outstanding");
        s.handle_connected(t0);
        assert_eq!(s.poll_timeout(), Some(t0 + d));
        // 1 is answered; 2 is not.
        s.handle_message(t0, Event::StatisticOpened { reference_id: 1 }.into());
        s.handle_timeout(t0 + Duration::from_secs(59));
        assert!(
            drain_out(&mut s)
                .iter()
                .all(|e| !matches!(e, SessionEvent::RequestTimedOut { .. }))
        );
        s.handle_timeout(t0 + d);
        assert_eq!(
            drain_out(&mut s).last(),
            Some(&SessionEvent::RequestTimedOut { reference_id: 2 })
        );
        // A reopen after a server-side close gets a fresh deadline.
        let t1 = t0 + Duration::from_secs(100);
        s.handle_message(t1, Event::StatisticOpened { reference_id: 2 }.into());
        s.handle_message(t1, Event::StatisticClosed { reference_id: 2 }.into());
        assert_eq!(s.poll_timeout(), Some(t1 + d));
        s.handle_message(t1, Event::StatisticOpened { reference_id: 2 }.into());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn addp_polls_after_silence_and_times_out() {
        let t0 = Instant::now();
        let d = Duration::from_secs(10);
        let mut s = Session::new(Some(d));
        assert_eq!(s.poll_timeout(), None);
        s.handle_connected(t0);
        assert_eq!(s.poll_timeout(), Some(t0 + d));
        s.handle_timeout(t0 + Duration::from_secs(5));
        assert!(drain_tx(&mut s).is_empty());
        s.handle_timeout(t0 + d);
        assert_eq!(drain_tx(&mut s), vec![Message::AddpPoll]);
        assert_eq!(s.poll_timeout(), Some(t0 + d + d));
        // A reply resets the clock.
        s.handle_message(t0 + d + Duration::from_secs(1), Message::AddpReply);
        assert_eq!(s.poll_timeout(), Some(t0 + d + Duration::from_secs(1) + d));
        // Another silent period: poll, then no answer.
        let t1 = t0 + Duration::from_secs(30);
        s.handle_timeout(t1);
        assert_eq!(drain_tx(&mut s), vec![Message::AddpPoll]);
        s.handle_timeout(t1 + d);
        assert_eq!(drain_out(&mut s), vec![SessionEvent::LinkTimedOut]);
        // Server polls are answered.
        s.handle_message(t1, Message::AddpPoll);
        assert_eq!(drain_tx(&mut s), vec![Message::AddpReply]);
    }
}
