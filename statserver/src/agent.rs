//! The agent-state value: [`AgentStatus`], its DNs, their actions, and the priority rule.
//!
//! Public model (see `WIRE.md`): an agent status has the agent id, a status, the time the status
//! started, and a place status listing the place's DNs with their statuses and actions;
//! attached data rides with actions. A status is the highest-priority action present, and it
//! takes the attached data of that action.
//!
//! [`AgentState::summarize`] reduces an [`AgentStatus`] to what EXAS needs (logged in, ready /
//! not ready with reason / after-call work, call type). Mapping that to Genesys Cloud presence is
//! EXAS's job, not this crate's.

use crate::kvlist::{KvList, KvValue};

/// A DN action (also used as a DN, place or agent status).
///
/// The declaration order is the public priority order, lowest to highest; `Ord` follows it, so
/// `a > b` means "a wins over b". The discriminant is also the wire code and the bit number in an
/// [`ActionMask`] (our design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DnAction {
    /// The DN is not monitored by Stat Server.
    NotMonitored = 0,
    /// The DN is monitored, nothing else is known.
    Monitored = 1,
    /// An agent is logged in on the DN.
    LoggedIn = 2,
    /// The phone is on hook.
    OnHook = 3,
    /// The agent is ready for the next call.
    WaitForNextCall = 4,
    /// The phone is off hook (no call yet).
    OffHook = 5,
    /// A call is being dialed.
    CallDialing = 6,
    /// A call is ringing on the DN.
    CallRinging = 7,
    /// The agent is not ready (a reason may travel in the attached data).
    NotReadyForNextCall = 8,
    /// The agent is in after-call work.
    AfterCallWork = 9,
    /// A call is on hold.
    CallOnHold = 10,
    /// A call of unknown type is established.
    CallUnknown = 11,
    /// A consultation call is established.
    CallConsult = 12,
    /// An internal call is established.
    CallInternal = 13,
    /// An outbound call is established.
    CallOutbound = 14,
    /// An inbound call is established.
    CallInbound = 15,
    /// The agent is logged out (agents only).
    LoggedOut = 16,
}

impl DnAction {
    /// Every action, lowest to highest priority.
    pub const ALL: [DnAction; 17] = [
        DnAction::NotMonitored,
        DnAction::Monitored,
        DnAction::LoggedIn,
        DnAction::OnHook,
        DnAction::WaitForNextCall,
        DnAction::OffHook,
        DnAction::CallDialing,
        DnAction::CallRinging,
        DnAction::NotReadyForNextCall,
        DnAction::AfterCallWork,
        DnAction::CallOnHold,
        DnAction::CallUnknown,
        DnAction::CallConsult,
        DnAction::CallInternal,
        DnAction::CallOutbound,
        DnAction::CallInbound,
        DnAction::LoggedOut,
    ];

    /// The priority rank (0 = lowest).
    pub fn priority(self) -> u8 {
        self as u8
    }

    /// The wire code (our design: equal to the priority rank).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The action with wire code `code`.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The Genesys name of the action (`"CallInbound"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DnAction::NotMonitored => "NotMonitored",
            DnAction::Monitored => "Monitored",
            DnAction::LoggedIn => "LoggedIn",
            DnAction::OnHook => "OnHook",
            DnAction::WaitForNextCall => "WaitForNextCall",
            DnAction::OffHook => "OffHook",
            DnAction::CallDialing => "CallDialing",
            DnAction::CallRinging => "CallRinging",
            DnAction::NotReadyForNextCall => "NotReadyForNextCall",
            DnAction::AfterCallWork => "AfterCallWork",
            DnAction::CallOnHold => "CallOnHold",
            DnAction::CallUnknown => "CallUnknown",
            DnAction::CallConsult => "CallConsult",
            DnAction::CallInternal => "CallInternal",
            DnAction::CallOutbound => "CallOutbound",
            DnAction::CallInbound => "CallInbound",
            DnAction::LoggedOut => "LoggedOut",
        }
    }

    /// Parses a Genesys action name (exact spelling, as [`DnAction::name`] prints it).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether the action means a call is present on the DN.
    pub fn is_call(self) -> bool {
        matches!(
            self,
            DnAction::CallDialing
                | DnAction::CallRinging
                | DnAction::CallOnHold
                | DnAction::CallUnknown
                | DnAction::CallConsult
                | DnAction::CallInternal
                | DnAction::CallOutbound
                | DnAction::CallInbound
        )
    }
}

/// A set of [`DnAction`]s (the "main mask" of a statistic). Bit `n` is the action with code `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActionMask(u32);

impl ActionMask {
    /// The empty mask.
    pub const EMPTY: ActionMask = ActionMask(0);

    /// Every action.
    pub fn all() -> Self {
        Self::from_actions(DnAction::ALL)
    }

    /// The mask of the given actions.
    pub fn from_actions(actions: impl IntoIterator<Item = DnAction>) -> Self {
        Self(actions.into_iter().fold(0, |m, a| m | (1 << a.code())))
    }

    /// The mask from its wire bits; bits that name no action are dropped.
    pub fn from_bits_truncate(bits: u32) -> Self {
        Self(bits & Self::all().0)
    }

    /// The wire bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether `action` is in the set.
    pub fn contains(self, action: DnAction) -> bool {
        self.0 & (1 << action.code()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// One action present on a DN, with its attached data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionRecord {
    /// The action.
    pub action: DnAction,
    /// When the action started (Unix seconds).
    pub time: i64,
    /// The call's connection id, for call actions.
    pub conn_id: Option<u64>,
    /// Attached data: call user data for call actions, reasons for not-ready / ACW (see
    /// [`REASON_CODE_KEY`]).
    pub attached_data: KvList,
}

impl ActionRecord {
    /// An action without call id or attached data.
    pub fn new(action: DnAction, time: i64) -> Self {
        Self {
            action,
            time,
            conn_id: None,
            attached_data: KvList::new(),
        }
    }

    /// Builder: sets the connection id.
    pub fn with_conn_id(mut self, conn_id: u64) -> Self {
        self.conn_id = Some(conn_id);
        self
    }

    /// Builder: sets the attached data.
    pub fn with_attached_data(mut self, data: KvList) -> Self {
        self.attached_data = data;
        self
    }

    /// Builder: a not-ready / ACW reason under [`REASON_CODE_KEY`].
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.attached_data
            .push(REASON_CODE_KEY, KvValue::Str(reason.into()));
        self
    }
}

/// A DN's status inside a place status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnStatus {
    /// The DN number.
    pub dn_id: String,
    /// The switch the DN belongs to.
    pub switch_id: String,
    /// The DN's status (its highest-priority action, see [`DnStatus::from_actions`]).
    pub status: DnAction,
    /// When the status started (Unix seconds).
    pub time: i64,
    /// The actions present on the DN.
    pub actions: Vec<ActionRecord>,
}

impl DnStatus {
    /// A DN status whose status and time derive from its actions by the priority rule
    /// (`NotMonitored` at `time` when there is no action).
    pub fn from_actions(
        dn_id: impl Into<String>,
        switch_id: impl Into<String>,
        time: i64,
        actions: Vec<ActionRecord>,
    ) -> Self {
        let (status, t) = match dominant_action(&actions) {
            Some(a) => (a.action, a.time),
            None => (DnAction::NotMonitored, time),
        };
        Self {
            dn_id: dn_id.into(),
            switch_id: switch_id.into(),
            status,
            time: t,
            actions,
        }
    }

    /// The attached data of this DN's status: that of its highest-priority action.
    pub fn attached_data(&self) -> Option<&KvList> {
        dominant_action(&self.actions).map(|a| &a.attached_data)
    }
}

/// A place's status: the DNs of the agent's place.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlaceStatus {
    /// The place id.
    pub place_id: String,
    /// The place's status (the highest DN status).
    pub status: DnAction,
    /// When the status started (Unix seconds).
    pub time: i64,
    /// The place's DNs.
    pub dns: Vec<DnStatus>,
}

impl PlaceStatus {
    /// A place status whose status and time derive from its DNs by the priority rule.
    pub fn from_dns(place_id: impl Into<String>, time: i64, dns: Vec<DnStatus>) -> Self {
        let (status, t) = match dns.iter().max_by_key(|d| d.status) {
            Some(d) => (d.status, d.time),
            None => (DnAction::NotMonitored, time),
        };
        Self {
            place_id: place_id.into(),
            status,
            time: t,
            dns,
        }
    }
}

/// The value of a CurrentState statistic for an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentStatus {
    /// The agent's id (employee id / login as configured).
    pub agent_id: String,
    /// The agent's status (the place status; `LoggedOut` when the agent is logged out).
    pub status: DnAction,
    /// When the status started (Unix seconds).
    pub time: i64,
    /// The agent's place and its DNs.
    pub place: PlaceStatus,
}

impl AgentStatus {
    /// An agent status whose status and time are those of `place`.
    pub fn new(agent_id: impl Into<String>, place: PlaceStatus) -> Self {
        Self {
            agent_id: agent_id.into(),
            status: place.status,
            time: place.time,
            place,
        }
    }

    /// A logged-out agent with an empty place (status `LoggedOut`).
    pub fn logged_out(agent_id: impl Into<String>, time: i64) -> Self {
        Self {
            agent_id: agent_id.into(),
            status: DnAction::LoggedOut,
            time,
            place: PlaceStatus {
                place_id: String::new(),
                status: DnAction::LoggedOut,
                time,
                dns: Vec::new(),
            },
        }
    }

    /// An agent with one DN carrying `actions`; statuses and times derive by the priority rule.
    pub fn single_dn(
        agent_id: impl Into<String>,
        place_id: impl Into<String>,
        dn_id: impl Into<String>,
        switch_id: impl Into<String>,
        time: i64,
        actions: Vec<ActionRecord>,
    ) -> Self {
        let dn = DnStatus::from_actions(dn_id, switch_id, time, actions);
        Self::new(agent_id, PlaceStatus::from_dns(place_id, time, vec![dn]))
    }

    /// Every action on every DN of the place.
    pub fn actions(&self) -> impl Iterator<Item = &ActionRecord> {
        self.place.dns.iter().flat_map(|d| d.actions.iter())
    }

    /// The attached data of the agent's status: that of its highest-priority action.
    pub fn attached_data(&self) -> Option<&KvList> {
        dominant_action_iter(self.actions()).map(|a| &a.attached_data)
    }
}

/// The highest-priority action of `actions` ("a status takes the attached data of its
/// highest-priority action"). Ties go to the first one listed. `None` when empty.
pub fn dominant_action(actions: &[ActionRecord]) -> Option<&ActionRecord> {
    dominant_action_iter(actions.iter())
}

fn dominant_action_iter<'a>(
    actions: impl Iterator<Item = &'a ActionRecord>,
) -> Option<&'a ActionRecord> {
    actions.fold(None, |best: Option<&ActionRecord>, a| match best {
        Some(b) if b.action >= a.action => Some(b),
        _ => Some(a),
    })
}

/// The attached-data key that carries a not-ready reason (our design; see `WIRE.md`).
pub const REASON_CODE_KEY: &str = "ReasonCode";
/// The attached-data key of a nested reasons list (`Reasons`, as TLib names it); a
/// [`REASON_CODE_KEY`] inside it is honoured when the top level has none.
pub const REASONS_KEY: &str = "Reasons";

/// The reason name in an action's attached data: `ReasonCode` at the top level, else
/// `Reasons/ReasonCode`. Integer codes print in decimal; empty strings count as no reason.
pub fn reason_of(attached_data: &KvList) -> Option<String> {
    let direct = attached_data
        .get(REASON_CODE_KEY)
        .and_then(KvValue::to_text);
    let nested = || {
        attached_data
            .get(REASONS_KEY)
            .and_then(KvValue::as_list)
            .and_then(|l| l.get(REASON_CODE_KEY))
            .and_then(KvValue::to_text)
    };
    direct.or_else(nested).filter(|s| !s.is_empty())
}

/// Whether the agent is logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Login {
    /// Logged out (or not monitored).
    LoggedOut,
    /// Logged in.
    LoggedIn,
}

/// The agent's readiness while logged in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Readiness {
    /// Ready for the next call (`WaitForNextCall`).
    Ready,
    /// Not ready, with the reason name from the attached data if any.
    NotReady {
        /// The reason (e.g. `Break`), `None` when no reason was given.
        reason: Option<String>,
    },
    /// After-call work.
    AfterCallWork,
}

/// The type of the agent's current call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// No call.
    None,
    /// An internal call (between extensions).
    Internal,
    /// An inbound call.
    Inbound,
    /// An outbound call.
    Outbound,
    /// A consultation call.
    Consult,
    /// A call whose type is not (yet) known: dialing, ringing, on hold, or `CallUnknown`.
    Unknown,
}

/// The normalized agent state EXAS maps to Genesys Cloud.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AgentState {
    /// The agent id.
    pub agent_id: String,
    /// Logged in or out.
    pub login: Login,
    /// Readiness; meaningful only when logged in (`NotReady { reason: None }` when logged out).
    pub readiness: Readiness,
    /// The current call type.
    pub call: CallKind,
    /// When the agent's status started (Unix seconds, from the value).
    pub since: i64,
}

impl AgentState {
    /// A normalized state (for simulators and tests that describe agents at this level).
    pub fn new(
        agent_id: impl Into<String>,
        login: Login,
        readiness: Readiness,
        call: CallKind,
        since: i64,
    ) -> Self {
        Self {
            agent_id: agent_id.into(),
            login,
            readiness,
            call,
            since,
        }
    }

    /// An [`AgentStatus`] on one DN that [`AgentState::summarize`]s back to this state (the
    /// inverse direction, for simulators and scenario files). A logged-out agent with a call
    /// keeps the call on its DN. `since` becomes every action's time.
    pub fn to_status(&self, place_id: &str, dn_id: &str, switch_id: &str) -> AgentStatus {
        let t = self.since;
        let mut actions = Vec::new();
        match self.login {
            Login::LoggedOut => actions.push(ActionRecord::new(DnAction::LoggedOut, t)),
            Login::LoggedIn => {
                actions.push(ActionRecord::new(DnAction::LoggedIn, t));
                actions.push(match &self.readiness {
                    Readiness::Ready => ActionRecord::new(DnAction::WaitForNextCall, t),
                    Readiness::AfterCallWork => ActionRecord::new(DnAction::AfterCallWork, t),
                    Readiness::NotReady { reason: None } => {
                        ActionRecord::new(DnAction::NotReadyForNextCall, t)
                    }
                    Readiness::NotReady {
                        reason: Some(reason),
                    } => ActionRecord::new(DnAction::NotReadyForNextCall, t).with_reason(reason),
                });
            }
        }
        let call = match self.call {
            CallKind::None => None,
            CallKind::Internal => Some(DnAction::CallInternal),
            CallKind::Inbound => Some(DnAction::CallInbound),
            CallKind::Outbound => Some(DnAction::CallOutbound),
            CallKind::Consult => Some(DnAction::CallConsult),
            CallKind::Unknown => Some(DnAction::CallUnknown),
        };
        if let Some(c) = call {
            actions.push(ActionRecord::new(c, t));
        }
        let mut st = AgentStatus::single_dn(
            self.agent_id.clone(),
            place_id,
            dn_id,
            switch_id,
            t,
            actions,
        );
        st.time = t;
        st
    }

    /// Summarizes an [`AgentStatus`]:
    /// - logged in iff no action is `LoggedOut`, the agent status is not `LoggedOut`, and some
    ///   action is `LoggedIn`, `WaitForNextCall`, `NotReadyForNextCall` or `AfterCallWork`;
    /// - readiness: the highest-priority of `AfterCallWork` > `NotReadyForNextCall` >
    ///   `WaitForNextCall`; only `LoggedIn` means not ready without reason; the not-ready reason is
    ///   [`reason_of`] the not-ready action's attached data;
    /// - call: the highest-priority call action: `CallInbound`, `CallOutbound`, `CallInternal`,
    ///   `CallConsult` give their type; `CallUnknown`, `CallOnHold`, `CallRinging`,
    ///   `CallDialing` give `Unknown`; none gives `None`.
    pub fn summarize(status: &AgentStatus) -> AgentState {
        let has = |a: DnAction| status.actions().any(|r| r.action == a);
        let logged_out = status.status == DnAction::LoggedOut || has(DnAction::LoggedOut);
        let login_evidence = [
            DnAction::LoggedIn,
            DnAction::WaitForNextCall,
            DnAction::NotReadyForNextCall,
            DnAction::AfterCallWork,
        ]
        .into_iter()
        .any(has);
        let login = if !logged_out && login_evidence {
            Login::LoggedIn
        } else {
            Login::LoggedOut
        };

        let readiness_action = dominant_action_iter(status.actions().filter(|r| {
            matches!(
                r.action,
                DnAction::WaitForNextCall | DnAction::NotReadyForNextCall | DnAction::AfterCallWork
            )
        }));
        let readiness = match readiness_action {
            Some(r) if r.action == DnAction::AfterCallWork => Readiness::AfterCallWork,
            Some(r) if r.action == DnAction::WaitForNextCall => Readiness::Ready,
            Some(r) => Readiness::NotReady {
                reason: reason_of(&r.attached_data),
            },
            None => Readiness::NotReady { reason: None },
        };

        let call = match dominant_action_iter(status.actions().filter(|r| r.action.is_call())) {
            None => CallKind::None,
            Some(r) => match r.action {
                DnAction::CallInbound => CallKind::Inbound,
                DnAction::CallOutbound => CallKind::Outbound,
                DnAction::CallInternal => CallKind::Internal,
                DnAction::CallConsult => CallKind::Consult,
                _ => CallKind::Unknown,
            },
        };

        AgentState {
            agent_id: status.agent_id.clone(),
            login,
            readiness,
            call,
            since: status.time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_order_is_the_public_one() {
        let names: Vec<&str> = DnAction::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(
            names,
            [
                "NotMonitored",
                "Monitored",
                "LoggedIn",
                "OnHook",
                "WaitForNextCall",
                "OffHook",
                "CallDialing",
                "CallRinging",
                "NotReadyForNextCall",
                "AfterCallWork",
                "CallOnHold",
                "CallUnknown",
                "CallConsult",
                "CallInternal",
                "CallOutbound",
                "CallInbound",
                "LoggedOut"
            ]
        );
        for pair in DnAction::ALL.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(pair[0].priority() < pair[1].priority());
        }
        for a in DnAction::ALL {
            assert_eq!(DnAction::from_code(a.code()), Some(a));
            assert_eq!(DnAction::from_name(a.name()), Some(a));
        }
        assert_eq!(DnAction::from_code(17), None);
    }

    #[test]
    fn status_takes_attached_data_of_highest_priority_action() {
        let actions = vec![
            ActionRecord::new(DnAction::NotReadyForNextCall, 10).with_reason("Break"),
            ActionRecord::new(DnAction::CallInbound, 20)
                .with_attached_data(KvList::new().with_str("Customer", "42")),
            ActionRecord::new(DnAction::LoggedIn, 5),
        ];
        let dom = dominant_action(&actions).map(|a| a.action);
        assert_eq!(dom, Some(DnAction::CallInbound));
        let dn = DnStatus::from_actions("1001", "SIP", 0, actions.clone());
        assert_eq!(dn.status, DnAction::CallInbound);
        assert_eq!(dn.time, 20);
        assert_eq!(
            dn.attached_data().and_then(|d| d.get("Customer")),
            Some(&KvValue::Str("42".into()))
        );
        // Order of listing does not matter.
        let mut rev = actions;
        rev.reverse();
        assert_eq!(
            dominant_action(&rev).map(|a| a.action),
            Some(DnAction::CallInbound)
        );
        assert_eq!(dominant_action(&[]), None);
    }

    #[test]
    fn dominant_action_matches_max_for_every_pair() {
        for a in DnAction::ALL {
            for b in DnAction::ALL {
                let acts = [
                    ActionRecord::new(a, 1).with_reason("A"),
                    ActionRecord::new(b, 2).with_reason("B"),
                ];
                let d = dominant_action(&acts).map(|r| r.action);
                assert_eq!(d, Some(a.max(b)));
                // Ties keep the first one listed.
                let reason = dominant_action(&acts).and_then(|r| reason_of(&r.attached_data));
                let expect = if a >= b { "A" } else { "B" };
                assert_eq!(reason.as_deref(), Some(expect));
            }
        }
    }

    #[test]
    fn reason_lookup_top_level_then_nested() {
        assert_eq!(
            reason_of(&KvList::new().with_str("ReasonCode", "Meal")).as_deref(),
            Some("Meal")
        );
        let nested = KvList::new().with(
            "Reasons",
            KvValue::List(KvList::new().with_str("ReasonCode", "Training")),
        );
        assert_eq!(reason_of(&nested).as_deref(), Some("Training"));
        assert_eq!(
            reason_of(&KvList::new().with("ReasonCode", KvValue::Int(7))).as_deref(),
            Some("7")
        );
        assert_eq!(reason_of(&KvList::new().with_str("ReasonCode", "")), None);
        assert_eq!(reason_of(&KvList::new()), None);
    }

    fn agent(actions: Vec<ActionRecord>) -> AgentStatus {
        AgentStatus::single_dn("a1", "p1", "1001", "SIP", 100, actions)
    }

    fn summary(actions: Vec<ActionRecord>) -> (Login, Readiness, CallKind) {
        let s = AgentState::summarize(&agent(actions));
        (s.login, s.readiness, s.call)
    }

    #[test]
    fn summary_logged_out() {
        let s = AgentState::summarize(&AgentStatus::logged_out("a1", 7));
        assert_eq!(s.login, Login::LoggedOut);
        assert_eq!(s.call, CallKind::None);
        assert_eq!(s.since, 7);
        let (l, _, _) = summary(vec![ActionRecord::new(DnAction::Monitored, 1)]);
        assert_eq!(l, Login::LoggedOut);
        let (l, _, _) = summary(vec![
            ActionRecord::new(DnAction::WaitForNextCall, 1),
            ActionRecord::new(DnAction::LoggedOut, 2),
        ]);
        assert_eq!(l, Login::LoggedOut);
    }

    #[test]
    fn summary_ready_and_not_ready() {
        let w = DnAction::WaitForNextCall;
        let nr = DnAction::NotReadyForNextCall;
        assert_eq!(
            summary(vec![ActionRecord::new(w, 1)]),
            (Login::LoggedIn, Readiness::Ready, CallKind::None)
        );
        assert_eq!(
            summary(vec![
                ActionRecord::new(DnAction::LoggedIn, 1),
                ActionRecord::new(nr, 2).with_reason("Break")
            ]),
            (
                Login::LoggedIn,
                Readiness::NotReady {
                    reason: Some("Break".into())
                },
                CallKind::None
            )
        );
        assert_eq!(
            summary(vec![ActionRecord::new(DnAction::LoggedIn, 1)]),
            (
                Login::LoggedIn,
                Readiness::NotReady { reason: None },
                CallKind::None
            )
        );
        // Not ready wins over ready; ACW wins over not ready.
        assert_eq!(
            summary(vec![ActionRecord::new(w, 1), ActionRecord::new(nr, 2)]).1,
            Readiness::NotReady { reason: None }
        );
        assert_eq!(
            summary(vec![
                ActionRecord::new(nr, 1).with_reason("Meal"),
                ActionRecord::new(DnAction::AfterCallWork, 2)
            ])
            .1,
            Readiness::AfterCallWork
        );
    }

    #[test]
    fn summary_call_kinds() {
        let w = || ActionRecord::new(DnAction::WaitForNextCall, 1);
        let cases = [
            (DnAction::CallInbound, CallKind::Inbound),
            (DnAction::CallOutbound, CallKind::Outbound),
            (DnAction::CallInternal, CallKind::Internal),
            (DnAction::CallConsult, CallKind::Consult),
            (DnAction::CallUnknown, CallKind::Unknown),
            (DnAction::CallOnHold, CallKind::Unknown),
            (DnAction::CallRinging, CallKind::Unknown),
            (DnAction::CallDialing, CallKind::Unknown),
            (DnAction::OffHook, CallKind::None),
            (DnAction::OnHook, CallKind::None),
        ];
        for (action, kind) in cases {
            let (l, r, c) = summary(vec![w(), ActionRecord::new(action, 2)]);
            assert_eq!(
                (l, r, c),
                (Login::LoggedIn, Readiness::Ready, kind),
                "{action:?}"
            );
        }
        // A held inbound call is inbound; consult + inbound is inbound (higher priority).
        let (_, _, c) = summary(vec![
            w(),
            ActionRecord::new(DnAction::CallOnHold, 2),
            ActionRecord::new(DnAction::CallInbound, 3),
            ActionRecord::new(DnAction::CallConsult, 4),
        ]);
        assert_eq!(c, CallKind::Inbound);
    }

    #[test]
    fn summary_spans_all_dns_of_the_place() {
        let d1 = DnStatus::from_actions(
            "1001",
            "SIP",
            0,
            vec![
                ActionRecord::new(DnAction::NotReadyForNextCall, 3).with_attached_data(
                    KvList::new().with(
                        "Reasons",
                        KvValue::List(KvList::new().with_str("ReasonCode", "Meeting")),
                    ),
                ),
            ],
        );
        let d2 = DnStatus::from_actions(
            "1002",
            "SIP",
            0,
            vec![ActionRecord::new(DnAction::CallInternal, 4)],
        );
        let st = AgentStatus::new("a9", PlaceStatus::from_dns("p", 0, vec![d1, d2]));
        assert_eq!(st.status, DnAction::CallInternal);
        assert_eq!(st.time, 4);
        let s = AgentState::summarize(&st);
        assert_eq!(s.login, Login::LoggedIn);
        assert_eq!(
            s.readiness,
            Readiness::NotReady {
                reason: Some("Meeting".into())
            }
        );
        assert_eq!(s.call, CallKind::Internal);
        assert_eq!(s.agent_id, "a9");
    }

    #[test]
    fn to_status_summarizes_back() {
        let readiness = [
            Readiness::Ready,
            Readiness::AfterCallWork,
            Readiness::NotReady { reason: None },
            Readiness::NotReady {
                reason: Some("Training".into()),
            },
        ];
        let calls = [
            CallKind::None,
            CallKind::Internal,
            CallKind::Inbound,
            CallKind::Outbound,
            CallKind::Consult,
            CallKind::Unknown,
        ];
        for r in &readiness {
            for c in calls {
                let s = AgentState::new("a", Login::LoggedIn, r.clone(), c, 77);
                assert_eq!(AgentState::summarize(&s.to_status("p", "1001", "SIP")), s);
            }
        }
        for c in calls {
            let s = AgentState::new(
                "a",
                Login::LoggedOut,
                Readiness::NotReady { reason: None },
                c,
                5,
            );
            let st = s.to_status("p", "1001", "SIP");
            assert_eq!(st.status, DnAction::LoggedOut);
            assert_eq!(AgentState::summarize(&st), s);
        }
    }

    #[test]
    fn mask_bits() {
        let m = ActionMask::from_actions([DnAction::CallInbound, DnAction::LoggedOut]);
        assert!(m.contains(DnAction::CallInbound));
        assert!(!m.contains(DnAction::CallOutbound));
        assert_eq!(m.bits(), (1 << 15) | (1 << 16));
        assert_eq!(ActionMask::from_bits_truncate(u32::MAX), ActionMask::all());
        assert_eq!(ActionMask::all().bits(), (1 << 17) - 1);
    }
}
