//! The deployment guide's agent-state table: Engage agent state + call type + reason →
//! GC presence and routing status. Pure; each row of the table is a test.

/// The Engage side of the table, as EXAS derives it from Stat Server's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngageAgentState {
    /// Logged off.
    LoggedOff,
    /// Not Ready, with the reason name if any.
    NotReady {
        /// The Not Ready reason (e.g. `Break`), if one was given.
        reason: Option<String>,
        /// The call the agent is on.
        call: CallKind,
    },
    /// Ready.
    Ready {
        /// The call the agent is on.
        call: CallKind,
    },
    /// Not Ready – after-call work.
    AfterCallWork,
}

/// The call type column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// No call.
    NoCall,
    /// An internal call (between contact-center extensions, no customer).
    Internal,
    /// Any other call (inbound, outbound, consult, unknown).
    Other,
}

/// GC system presences EXAS sets (never `Available`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    /// Offline.
    Offline,
    /// Busy.
    Busy,
    /// Break.
    Break,
    /// Meal.
    Meal,
    /// Meeting.
    Meeting,
    /// Training.
    Training,
    /// On Queue.
    OnQueue,
}

impl Presence {
    /// The GC system presence name (`systemPresence`).
    pub fn system_name(self) -> &'static str {
        match self {
            Presence::Offline => "Offline",
            Presence::Busy => "Busy",
            Presence::Break => "Break",
            Presence::Meal => "Meal",
            Presence::Meeting => "Meeting",
            Presence::Training => "Training",
            Presence::OnQueue => "On Queue",
        }
    }
}

/// GC routing statuses EXAS sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RoutingStatus {
    /// OFF_QUEUE.
    OffQueue,
    /// IDLE.
    Idle,
    /// INTERACTING.
    Interacting,
    /// COMMUNICATING.
    Communicating,
}

/// The GC state for one Engage state. `presence` is `None` for after-call work: ACW does not
/// change the presence (the guide's footnote).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcAgentState {
    /// The presence to set, or `None` to keep the current one.
    pub presence: Option<Presence>,
    /// The routing status to set.
    pub routing: RoutingStatus,
}

/// Applies the table.
pub fn map_state(state: &EngageAgentState) -> GcAgentState {
    use RoutingStatus::*;
    let on_call = |call: CallKind| match call {
        CallKind::NoCall => None,
        CallKind::Internal => Some(Communicating),
        CallKind::Other => Some(Interacting),
    };
    match state {
        EngageAgentState::LoggedOff => GcAgentState {
            presence: Some(Presence::Offline),
            routing: OffQueue,
        },
        EngageAgentState::NotReady { reason, call } => match on_call(*call) {
            Some(routing) => GcAgentState {
                presence: Some(Presence::Busy),
                routing,
            },
            None => GcAgentState {
                presence: Some(reason_presence(reason.as_deref())),
                routing: OffQueue,
            },
        },
        EngageAgentState::Ready { call } => GcAgentState {
            presence: Some(Presence::OnQueue),
            routing: on_call(*call).unwrap_or(Idle),
        },
        EngageAgentState::AfterCallWork => GcAgentState {
            presence: None,
            routing: Interacting,
        },
    }
}

/// The table's Engage side of a Stat Server agent state ([`engage_statserver::AgentState`],
/// from [`engage_statserver::AgentState::summarize`]): logged out → Logged Off; after-call
/// work → ACW; ready / not ready with the call type folded to the table's three columns
/// (internal, no call, any other type).
pub fn engage_state(summary: &engage_statserver::AgentState) -> EngageAgentState {
    use engage_statserver::{CallKind as StatCall, Login, Readiness};
    if summary.login == Login::LoggedOut {
        return EngageAgentState::LoggedOff;
    }
    let call = match summary.call {
        StatCall::None => CallKind::NoCall,
        StatCall::Internal => CallKind::Internal,
        _ => CallKind::Other,
    };
    match &summary.readiness {
        Readiness::Ready => EngageAgentState::Ready { call },
        Readiness::AfterCallWork => EngageAgentState::AfterCallWork,
        Readiness::NotReady { reason } => EngageAgentState::NotReady {
            reason: reason.clone(),
            call,
        },
        // Readiness is non-exhaustive: an unknown readiness is treated as not ready.
        _ => EngageAgentState::NotReady { reason: None, call },
    }
}

/// Not Ready reasons named Break, Meal, Meeting or Training map to that presence; any other or
/// no reason is Busy.
fn reason_presence(reason: Option<&str>) -> Presence {
    match reason.map(str::trim) {
        Some("Break") => Presence::Break,
        Some("Meal") => Presence::Meal,
        Some("Meeting") => Presence::Meeting,
        Some("Training") => Presence::Training,
        _ => Presence::Busy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallKind::*;
    use Presence::*;
    use RoutingStatus::*;

    fn nr(reason: Option<&str>, call: CallKind) -> EngageAgentState {
        EngageAgentState::NotReady {
            reason: reason.map(str::to_string),
            call,
        }
    }

    fn check(state: EngageAgentState, presence: Option<Presence>, routing: RoutingStatus) {
        assert_eq!(
            map_state(&state),
            GcAgentState { presence, routing },
            "{state:?}"
        );
    }

    #[test]
    fn logged_off_is_offline_off_queue() {
        check(EngageAgentState::LoggedOff, Some(Offline), OffQueue);
    }

    #[test]
    fn not_ready_without_or_with_unmapped_reason_is_busy_off_queue() {
        check(nr(Option::None, NoCall), Some(Busy), OffQueue);
        check(nr(Some("Coffee"), NoCall), Some(Busy), OffQueue);
        check(nr(Some("break"), NoCall), Some(Busy), OffQueue);
    }

    #[test]
    fn not_ready_mapped_reasons() {
        check(nr(Some("Break"), NoCall), Some(Break), OffQueue);
        check(nr(Some("Meal"), NoCall), Some(Meal), OffQueue);
        check(nr(Some("Meeting"), NoCall), Some(Meeting), OffQueue);
        check(nr(Some("Training"), NoCall), Some(Training), OffQueue);
    }

    #[test]
    fn not_ready_on_calls() {
        check(nr(Some("Break"), Internal), Some(Busy), Communicating);
        check(nr(Option::None, Internal), Some(Busy), Communicating);
        check(nr(Some("Meal"), Other), Some(Busy), Interacting);
        check(nr(Option::None, Other), Some(Busy), Interacting);
    }

    #[test]
    fn ready_rows() {
        check(
            EngageAgentState::Ready { call: NoCall },
            Some(OnQueue),
            Idle,
        );
        check(
            EngageAgentState::Ready { call: Internal },
            Some(OnQueue),
            Communicating,
        );
        check(
            EngageAgentState::Ready { call: Other },
            Some(OnQueue),
            Interacting,
        );
    }

    #[test]
    fn acw_keeps_presence() {
        check(EngageAgentState::AfterCallWork, Option::None, Interacting);
    }

    #[test]
    fn presence_is_never_available() {
        let states = [
            EngageAgentState::LoggedOff,
            nr(Option::None, NoCall),
            nr(Some("Available"), NoCall),
            EngageAgentState::Ready { call: NoCall },
            EngageAgentState::AfterCallWork,
        ];
        for s in states {
            assert_ne!(
                map_state(&s).presence.map(Presence::system_name),
                Some("Available")
            );
        }
    }
    #[test]
    fn stat_server_summaries_fold_into_the_table() {
        use engage_statserver::{AgentState, CallKind as SC, Login, Readiness};
        let s = |login, readiness, call| AgentState::new("a", login, readiness, call, 0);
        assert_eq!(
            engage_state(&s(Login::LoggedOut, Readiness::Ready, SC::Inbound)),
            EngageAgentState::LoggedOff
        );
        assert_eq!(
            engage_state(&s(Login::LoggedIn, Readiness::Ready, SC::Consult)),
            EngageAgentState::Ready { call: Other }
        );
        assert_eq!(
            engage_state(&s(Login::LoggedIn, Readiness::Ready, SC::Internal)),
            EngageAgentState::Ready { call: Internal }
        );
        assert_eq!(
            engage_state(&s(
                Login::LoggedIn,
                Readiness::NotReady {
                    reason: Some("Meal".into())
                },
                SC::None
            )),
            nr(Some("Meal"), NoCall)
        );
        assert_eq!(
            engage_state(&s(Login::LoggedIn, Readiness::AfterCallWork, SC::None)),
            EngageAgentState::AfterCallWork
        );
        for call in [SC::Inbound, SC::Outbound, SC::Consult, SC::Unknown] {
            assert_eq!(
                engage_state(&s(
                    Login::LoggedIn,
                    Readiness::NotReady { reason: None },
                    call
                )),
                nr(Option::None, Other)
            );
        }
    }
}
