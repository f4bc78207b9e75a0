//! The sans-IO core of EXAS: which agents are in scope, their two statistics, the last GC
//! state delivered per agent, and the GC events a new Stat Server value calls for.
//!
//! No IO and no clock: the engine feeds it scope changes, statistic values (with the Stat
//! Server's server time and the local receive time) and commits; it answers with
//! [`Change`]s to push to the outbox.
//!
//! Which statistic decides: both statistics carry the agent's DN actions; only the
//! CurrentStateReason one (subject DNAction) carries the attached data with the Not Ready
//! reason. The state is therefore computed from the CurrentStateReason value while that
//! statistic is valid, and from the CurrentState value (subject DNStatus) otherwise. So a
//! CurrentState value that arrives just before its CurrentStateReason twin never produces a
//! reason-less intermediate state.

use super::mapping::{GcAgentState, Presence, RoutingStatus, engage_state, map_state};
use engage_statserver::{AgentState, AgentStatus, ReferenceId, StatSubject, StatValue};
use gcex::events::{
    RoutingStatus as GcRoutingStatus, UserPresenceEvent, UserRoutingStatusEvent, event_time,
};
use gcex::presence::PresenceDefinition;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The last GC state EXAS handed to the outbox for one agent (kept in the store, so a
/// restart resends nothing already accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredState {
    /// The presence last sent, if any.
    pub presence: Option<Presence>,
    /// The routing status last sent, if any.
    pub routing: Option<RoutingStatus>,
    /// `eventDateTime` of the last event sent, in Unix milliseconds (kept strictly increasing
    /// per agent, because GC orders a user's events by it).
    pub last_event_ms: i64,
}

impl DeliveredState {
    /// The relative store key for an agent's delivered state (by GC user id).
    pub fn key(gc_user_id: &str) -> String {
        engage_store::schema::keys::exas_delivered(gc_user_id)
    }
}

/// One outbox entry: the GC events of one agent state change, injected together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxItem {
    /// When EXAS received the Stat Server value (Unix milliseconds), for the lag metric.
    pub received_ms: i64,
    /// The presence event, unless the presence stays (ACW) or did not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence: Option<UserPresenceEvent>,
    /// The routing-status event, unless it did not change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<UserRoutingStatusEvent>,
}

/// The org's presence definition ids for the presences EXAS sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceIds {
    ids: HashMap<Presence, String>,
}

const ALL_PRESENCES: [Presence; 7] = [
    Presence::Offline,
    Presence::Busy,
    Presence::Break,
    Presence::Meal,
    Presence::Meeting,
    Presence::Training,
    Presence::OnQueue,
];

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl PresenceIds {
    /// Picks, for every presence, the active definition whose `systemPresence` names it
    /// (compared without case, spaces or underscores: `On Queue`, `OnQueue`, `ON_QUEUE`),
    /// preferring `System` definitions over secondary (`User`) ones.
    pub fn from_definitions(defs: &[PresenceDefinition]) -> PresenceIds {
        let mut ids = HashMap::new();
        for p in ALL_PRESENCES {
            let want = normalized(p.system_name());
            let mut candidates: Vec<&PresenceDefinition> = defs
                .iter()
                .filter(|d| !d.deactivated && d.id.is_some())
                .filter(|d| normalized(&d.system_presence) == want)
                .collect();
            candidates.sort_by_key(|d| d.kind.as_deref() != Some("System"));
            if let Some(id) = candidates.first().and_then(|d| d.id.clone()) {
                ids.insert(p, id);
            }
        }
        PresenceIds { ids }
    }

    /// The definition id for a presence.
    pub fn id(&self, p: Presence) -> Option<&str> {
        self.ids.get(&p).map(String::as_str)
    }

    /// The presences the org has no definition for (EXAS cannot set them).
    pub fn missing(&self) -> Vec<Presence> {
        ALL_PRESENCES
            .into_iter()
            .filter(|p| !self.ids.contains_key(p))
            .collect()
    }
}

/// Where injected events point to: the connector's presence source and the org's presence
/// definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectTarget {
    /// The presence source id EXCS created.
    pub source_id: String,
    /// The presence definition ids.
    pub presence_ids: PresenceIds,
}

/// An agent in scope, as the tracker is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedAgent {
    /// The Stat Server object id (Employee ID, else User Name).
    pub stat_agent_id: String,
    /// The GC user id.
    pub gc_user_id: String,
}

/// A state change to deliver.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The Stat Server agent id.
    pub stat_agent_id: String,
    /// The GC user id.
    pub gc_user_id: String,
    /// The events to push to the outbox.
    pub item: OutboxItem,
    /// The delivered state once the item is pushed (commit it with [`Tracker::commit`]).
    pub delivered: DeliveredState,
    /// The mapped GC state.
    pub state: GcAgentState,
}

#[derive(Debug, Default)]
struct Slot {
    gc_user_id: String,
    action_ref: Option<ReferenceId>,
    status_ref: Option<ReferenceId>,
    action_value: Option<(i64, AgentStatus)>,
    status_value: Option<(i64, AgentStatus)>,
    delivered: DeliveredState,
}

/// What happened to the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeDiff {
    /// Agents new in scope: open their statistics (then [`Tracker::opened`]).
    pub added: Vec<ScopedAgent>,
    /// Statistics of agents that left the scope: close them.
    pub close: Vec<ReferenceId>,
    /// Agents whose GC user id changed (their delivered state starts anew).
    pub remapped: Vec<ScopedAgent>,
}

/// The EXAS state machine.
#[derive(Debug, Default)]
pub struct Tracker {
    agents: BTreeMap<String, Slot>,
    refs: HashMap<ReferenceId, (String, StatSubject)>,
}

/// `OffQueue` etc. as the injection API's enum.
pub fn gc_routing(r: RoutingStatus) -> GcRoutingStatus {
    match r {
        RoutingStatus::OffQueue => GcRoutingStatus::OffQueue,
        RoutingStatus::Idle => GcRoutingStatus::Idle,
        RoutingStatus::Interacting => GcRoutingStatus::Interacting,
        RoutingStatus::Communicating => GcRoutingStatus::Communicating,
    }
}

fn ms_to_time(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    event_time(t)
}

impl Tracker {
    /// An empty tracker.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Agents in scope.
    pub fn len(&self) -> usize {
        self.agents.len()
    }

    /// Whether no agent is in scope.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }

    /// Every agent in scope, by Stat Server agent id.
    pub fn agents(&self) -> Vec<ScopedAgent> {
        self.agents
            .iter()
            .map(|(id, slot)| ScopedAgent {
                stat_agent_id: id.clone(),
                gc_user_id: slot.gc_user_id.clone(),
            })
            .collect()
    }

    /// The GC user id of an agent in scope.
    pub fn gc_user_id(&self, stat_agent_id: &str) -> Option<&str> {
        self.agents
            .get(stat_agent_id)
            .map(|s| s.gc_user_id.as_str())
    }

    /// Compares the wanted scope with the current one. Agents that left are dropped at once
    /// (their statistics are returned for closing); new agents must be opened and announced
    /// with [`Tracker::opened`].
    pub fn rescope(&mut self, wanted: &[ScopedAgent]) -> ScopeDiff {
        let mut diff = ScopeDiff::default();
        let wanted_ids: HashMap<&str, &ScopedAgent> = wanted
            .iter()
            .map(|a| (a.stat_agent_id.as_str(), a))
            .collect();
        let gone: Vec<String> = self
            .agents
            .keys()
            .filter(|k| !wanted_ids.contains_key(k.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if let Some(slot) = self.agents.remove(&id) {
                for r in [slot.action_ref, slot.status_ref].into_iter().flatten() {
                    self.refs.remove(&r);
                    diff.close.push(r);
                }
            }
        }
        for a in wanted {
            match self.agents.get_mut(&a.stat_agent_id) {
                None => diff.added.push(a.clone()),
                Some(slot) if slot.gc_user_id != a.gc_user_id => {
                    slot.gc_user_id = a.gc_user_id.clone();
                    slot.delivered = DeliveredState::default();
                    diff.remapped.push(a.clone());
                }
                Some(_) => {}
            }
        }
        diff
    }

    /// An agent's statistics were opened: `action_ref` is CurrentStateReason (DNAction),
    /// `status_ref` CurrentState (DNStatus); `delivered` is its state from the store.
    pub fn opened(
        &mut self,
        agent: &ScopedAgent,
        action_ref: ReferenceId,
        status_ref: ReferenceId,
        delivered: Option<DeliveredState>,
    ) {
        self.refs.insert(
            action_ref,
            (agent.stat_agent_id.clone(), StatSubject::DnAction),
        );
        self.refs.insert(
            status_ref,
            (agent.stat_agent_id.clone(), StatSubject::DnStatus),
        );
        self.agents.insert(
            agent.stat_agent_id.clone(),
            Slot {
                gc_user_id: agent.gc_user_id.clone(),
                action_ref: Some(action_ref),
                status_ref: Some(status_ref),
                delivered: delivered.unwrap_or_default(),
                ..Slot::default()
            },
        );
    }

    /// A statistic stopped being computable (invalid, closed by the server, refused): its
    /// last value no longer counts.
    pub fn invalidate(&mut self, reference_id: ReferenceId) {
        if let Some((agent, subject)) = self.refs.get(&reference_id)
            && let Some(slot) = self.agents.get_mut(agent)
        {
            if *subject == StatSubject::DnAction {
                slot.action_value = None;
            } else {
                slot.status_value = None;
            }
        }
    }

    /// A statistic value arrived. Returns the change to deliver, if the agent's GC state
    /// differs from the one last delivered. `server_time` is the Stat Server's (Unix
    /// seconds); `received_ms` the local receive time (Unix milliseconds).
    pub fn on_value(
        &mut self,
        reference_id: ReferenceId,
        server_time: i64,
        value: &StatValue,
        received_ms: i64,
        target: &InjectTarget,
    ) -> Option<Change> {
        let StatValue::AgentStatus(status) = value else {
            return None;
        };
        let (agent_id, subject) = self.refs.get(&reference_id)?.clone();
        let slot = self.agents.get_mut(&agent_id)?;
        let v = Some((server_time, status.clone()));
        if subject == StatSubject::DnAction {
            slot.action_value = v;
        } else {
            slot.status_value = v;
        }
        let (time, decisive) = slot.action_value.as_ref().or(slot.status_value.as_ref())?;
        let state = map_state(&engage_state(&AgentState::summarize(decisive)));
        let presence = state
            .presence
            .filter(|p| slot.delivered.presence != Some(*p));
        let routing = Some(state.routing).filter(|r| slot.delivered.routing != Some(*r));
        if presence.is_none() && routing.is_none() {
            return None;
        }
        let event_ms = time
            .saturating_mul(1000)
            .max(slot.delivered.last_event_ms.saturating_add(1));
        let when = ms_to_time(event_ms);
        let presence_event = presence.and_then(|p| {
            target.presence_ids.id(p).map(|def| UserPresenceEvent {
                event_id: uuid::Uuid::new_v4().to_string(),
                event_date_time: when.clone(),
                user_id: slot.gc_user_id.clone(),
                source_id: target.source_id.clone(),
                presence_definition_id: Some(def.to_string()),
                message: None,
            })
        });
        let routing_event = routing.map(|r| UserRoutingStatusEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_date_time: when.clone(),
            agent_id: slot.gc_user_id.clone(),
            status: gc_routing(r),
            source_id: target.source_id.clone(),
        });
        let delivered = DeliveredState {
            presence: state.presence.or(slot.delivered.presence),
            routing: Some(state.routing),
            last_event_ms: event_ms,
        };
        Some(Change {
            stat_agent_id: agent_id,
            gc_user_id: slot.gc_user_id.clone(),
            item: OutboxItem {
                received_ms,
                presence: presence_event,
                routing: routing_event,
            },
            delivered,
            state,
        })
    }

    /// The change was pushed to the outbox: it is now the agent's delivered state.
    pub fn commit(&mut self, change: &Change) {
        if let Some(slot) = self.agents.get_mut(&change.stat_agent_id)
            && slot.gc_user_id == change.gc_user_id
        {
            slot.delivered = change.delivered.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_statserver::{CallKind as SC, Login, Readiness};

    fn defs() -> Vec<PresenceDefinition> {
        let d = |id: &str, sp: &str, kind: &str| PresenceDefinition {
            id: Some(id.into()),
            kind: Some(kind.into()),
            language_labels: BTreeMap::new(),
            system_presence: sp.into(),
            division_id: None,
            deactivated: false,
            self_uri: None,
        };
        vec![
            d("u-busy", "Busy", "User"),
            d("busy", "Busy", "System"),
            d("off", "Offline", "System"),
            d("brk", "Break", "System"),
            d("meal", "Meal", "System"),
            d("meet", "Meeting", "System"),
            d("trn", "Training", "System"),
            d("onq", "OnQueue", "System"),
            d("avail", "Available", "System"),
        ]
    }

    fn target() -> InjectTarget {
        InjectTarget {
            source_id: "src".into(),
            presence_ids: PresenceIds::from_definitions(&defs()),
        }
    }

    fn status(login: Login, readiness: Readiness, call: SC) -> StatValue {
        StatValue::AgentStatus(
            AgentState::new("a1", login, readiness, call, 5).to_status("p", "1001", "sw"),
        )
    }

    fn ready() -> StatValue {
        status(Login::LoggedIn, Readiness::Ready, SC::None)
    }

    fn not_ready(reason: Option<&str>) -> StatValue {
        status(
            Login::LoggedIn,
            Readiness::NotReady {
                reason: reason.map(str::to_string),
            },
            SC::None,
        )
    }

    fn scoped() -> Tracker {
        let mut t = Tracker::new();
        let a = ScopedAgent {
            stat_agent_id: "a1".into(),
            gc_user_id: "u1".into(),
        };
        let d = t.rescope(std::slice::from_ref(&a));
        assert_eq!(d.added, vec![a.clone()]);
        t.opened(&a, 1, 2, None);
        t
    }

    #[test]
    fn presence_ids_prefer_system_and_match_spelling_variants() {
        let p = PresenceIds::from_definitions(&defs());
        assert_eq!(p.id(Presence::Busy), Some("busy"));
        assert_eq!(p.id(Presence::OnQueue), Some("onq"));
        assert!(p.missing().is_empty());
        let only = PresenceIds::from_definitions(&defs()[..2]);
        assert!(only.missing().contains(&Presence::OnQueue));
    }

    #[test]
    fn first_value_sends_both_then_only_changes() {
        let mut t = scoped();
        let tg = target();
        let c = t.on_value(1, 100, &ready(), 7, &tg).expect("first state");
        let p = c.item.presence.as_ref().expect("presence");
        assert_eq!(p.presence_definition_id.as_deref(), Some("onq"));
        assert_eq!(p.user_id, "u1");
        assert_eq!(p.source_id, "src");
        assert_eq!(p.event_date_time, "1970-01-01T00:01:40.000Z");
        let r = c.item.routing.as_ref().expect("routing");
        assert_eq!(r.status, GcRoutingStatus::Idle);
        assert_eq!(c.item.received_ms, 7);
        t.commit(&c);
        // The same state again (e.g. the CurrentState twin, or a peek): nothing.
        assert_eq!(t.on_value(2, 100, &ready(), 8, &tg), None);
        assert_eq!(t.on_value(1, 101, &ready(), 8, &tg), None);
        // Not ready with Break: presence and routing change.
        let c = t
            .on_value(1, 100, &not_ready(Some("Break")), 9, &tg)
            .expect("change");
        assert_eq!(
            c.item
                .presence
                .as_ref()
                .unwrap()
                .presence_definition_id
                .as_deref(),
            Some("brk")
        );
        assert_eq!(
            c.item.routing.as_ref().unwrap().status,
            GcRoutingStatus::OffQueue
        );
        // Strictly increasing event times even within one server second.
        assert_eq!(c.delivered.last_event_ms, 100_001);
        t.commit(&c);
        // Break -> Meal: only presence.
        let c = t
            .on_value(1, 102, &not_ready(Some("Meal")), 9, &tg)
            .expect("change");
        assert!(c.item.routing.is_none());
        assert!(c.item.presence.is_some());
    }

    #[test]
    fn uncommitted_changes_are_offered_again() {
        let mut t = scoped();
        let tg = target();
        assert!(t.on_value(1, 100, &ready(), 0, &tg).is_some());
        // Not committed (e.g. the store was down): the next value offers it again.
        assert!(t.on_value(1, 100, &ready(), 0, &tg).is_some());
    }

    #[test]
    fn reason_statistic_decides_while_valid() {
        let mut t = scoped();
        let tg = target();
        let c = t
            .on_value(1, 100, &not_ready(Some("Break")), 0, &tg)
            .unwrap();
        t.commit(&c);
        // The CurrentState twin has no attached data: without the rule it would read Busy.
        assert_eq!(t.on_value(2, 100, &not_ready(None), 0, &tg), None);
        // With the reason statistic invalid, CurrentState decides.
        t.invalidate(1);
        let c = t.on_value(2, 101, &not_ready(None), 0, &tg).unwrap();
        assert_eq!(c.state.presence, Some(Presence::Busy));
    }

    #[test]
    fn acw_keeps_presence_and_sends_only_routing() {
        let mut t = scoped();
        let tg = target();
        let c = t.on_value(1, 100, &ready(), 0, &tg).unwrap();
        t.commit(&c);
        let acw = status(Login::LoggedIn, Readiness::AfterCallWork, SC::None);
        let c = t.on_value(1, 101, &acw, 0, &tg).unwrap();
        assert!(c.item.presence.is_none());
        assert_eq!(
            c.item.routing.as_ref().unwrap().status,
            GcRoutingStatus::Interacting
        );
        assert_eq!(c.delivered.presence, Some(Presence::OnQueue));
    }

    #[test]
    fn delivered_state_from_the_store_suppresses_resends() {
        let mut t = Tracker::new();
        let a = ScopedAgent {
            stat_agent_id: "a1".into(),
            gc_user_id: "u1".into(),
        };
        t.rescope(std::slice::from_ref(&a));
        t.opened(
            &a,
            1,
            2,
            Some(DeliveredState {
                presence: Some(Presence::OnQueue),
                routing: Some(RoutingStatus::Idle),
                last_event_ms: 500_000,
            }),
        );
        assert_eq!(t.on_value(1, 100, &ready(), 0, &target()), None);
        // A change gets a time after the last one delivered, even if the server's is older.
        let c = t.on_value(1, 100, &not_ready(None), 0, &target()).unwrap();
        assert_eq!(c.delivered.last_event_ms, 500_001);
    }

    #[test]
    fn rescope_adds_removes_and_remaps() {
        let mut t = scoped();
        let tg = target();
        let c = t.on_value(1, 100, &ready(), 0, &tg).unwrap();
        t.commit(&c);
        let b = ScopedAgent {
            stat_agent_id: "b".into(),
            gc_user_id: "ub".into(),
        };
        let moved = ScopedAgent {
            stat_agent_id: "a1".into(),
            gc_user_id: "u1-new".into(),
        };
        let d = t.rescope(&[moved.clone(), b.clone()]);
        assert_eq!(d.added, vec![b]);
        assert_eq!(d.remapped, vec![moved]);
        assert!(d.close.is_empty());
        // Remapped: the new user gets the full state.
        let c = t.on_value(1, 101, &ready(), 0, &tg).unwrap();
        assert_eq!(c.gc_user_id, "u1-new");
        assert!(c.item.presence.is_some() && c.item.routing.is_some());
        let d = t.rescope(&[]);
        let mut closed = d.close.clone();
        closed.sort_unstable();
        assert_eq!(closed, vec![1, 2]);
        assert!(t.is_empty());
        assert_eq!(t.on_value(1, 102, &ready(), 0, &tg), None);
    }

    #[test]
    fn missing_presence_definition_still_sends_routing() {
        let mut t = scoped();
        let tg = InjectTarget {
            source_id: "src".into(),
            presence_ids: PresenceIds::default(),
        };
        let c = t.on_value(1, 100, &ready(), 0, &tg).unwrap();
        assert!(c.item.presence.is_none());
        assert!(c.item.routing.is_some());
    }

    #[test]
    fn outbox_item_round_trips_as_json() {
        let mut t = scoped();
        let c = t.on_value(1, 100, &ready(), 3, &target()).unwrap();
        let json = serde_json::to_string(&c.item).unwrap();
        let back: OutboxItem = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c.item);
    }
}
