//! The sans-IO call model: [`CallModel`].
//!
//! Contract (the str0m / quinn-proto shape): feed [`CallModel::handle_input`] with each Engage
//! event and the current [`Lookups`]; drain [`CallModel::poll_output`] until it returns `None`;
//! call [`CallModel::handle_timeout`] with the current event time (or a clock) whenever it
//! reaches [`CallModel::poll_timeout`]. The model never reads a clock, does no IO and uses no
//! randomness, so two instances fed the same inputs produce identical outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::ModelConfig;
use crate::ids::{Fnv, IdKind, child_id, conversation_id, fingerprint};
use crate::small::SmallStr;

/// A map keyed by Engage ids, with the fixed hasher (lookups only; never iterated for output).
type IdMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;
use crate::input::{
    CallCreated, CallRef, CallType, DnType, EngageEvent, Party, PartyMoved, PartyRole, PartyState,
};
use crate::lookup::Lookups;
use crate::output::{ConversationClosed, Output, RecordingSegment};
use gcex::events::{
    CommunicationAnsweredEvent, CommunicationDispositionAppliedEvent, CommunicationEndedEvent,
    ConsultTransferEvent, ConversationEvent, DisconnectType, EndConsultTransferEvent,
    EndTransferEvent, ExternalEstablishedEvent, FinalState as TransferFinalState, HoldUpdatedEvent,
    InitialConfiguration, IvrEstablishedEvent, MAX_EVENT_MILLIS, ProgressConsultTransferEvent,
    ProgressTransferEvent, RoutingEstablishedEvent, RoutingTransferEvent, SourceConfiguration,
    TransferType, UserEstablishedEvent, UserTransferEvent, event_time_millis,
};

/// The fields every GC conversation event starts with, as the wire carries them.
struct ConvHead {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
}

/// [`ConvHead`] and the communication the event is about.
struct CommHead {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    communication_id: String,
}

/// The fields the five established events share.
struct EstHead {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    communication_id: String,
    initial_configuration: InitialConfiguration,
    source_configuration: SourceConfiguration,
}

/// The fields the three transfer-start events share.
struct StartHead {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    transfer_type: TransferType,
    command_id: String,
    initiating_communication_id: String,
    target_communication_id: String,
    object_communication_id: String,
}

/// How many ignored events (desktop events about unknown calls) are remembered for de-duplication.
const IGNORED_MEMORY: usize = 4096;

/// Index of the main context (the customer's call and its remote-site legs).
const MAIN: u8 = 0;
/// Index of the consult context (the consult call and its remote-site legs).
const CONSULT: u8 = 1;

/// The call model: every live conversation, the indexes that find them, and pending outputs.
/// The whole value serializes (serde) and resumes exactly where it stopped.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CallModel {
    config: ModelConfig,
    next_key: u64,
    /// Hashed for the hot path; serialized in key order (as the `BTreeMap` it replaced).
    #[serde(serialize_with = "serialize_sorted")]
    conversations: HashMap<u64, Conversation, BuildHasherDefault<Fnv>>,
    /// CallUUID -> conversation key.
    calls: IdMap<u64>,
    /// ISLink id -> conversation key.
    links: IdMap<u64>,
    /// Extension DN -> CallUUIDs of the live calls it is a party of.
    extension_calls: IdMap<Vec<String>>,
    /// (deadline, conversation key).
    deadlines: BTreeSet<(u64, u64)>,
    /// Fingerprints of closed CallUUIDs, and their order for eviction.
    closed: BTreeSet<u64>,
    closed_order: VecDeque<u64>,
    /// Fingerprints of ignored events about unknown calls, and their order for eviction.
    ignored: BTreeSet<u64>,
    ignored_order: VecDeque<u64>,
    outputs: VecDeque<Output>,
    clock: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Conversation {
    id: Uuid,
    root: String,
    inbound: bool,
    suspended: bool,
    legs: Vec<Leg>,
    comms: Vec<Comm>,
    ctx: [Ctx; 2],
    seen: Vec<u64>,
    next_event: u32,
    next_command: u32,
    last_out: u64,
    last_activity: u64,
    deadline: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ani: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dnis: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Leg {
    call_uuid: String,
    conn_id: SmallStr,
    call_type: CallType,
    ctx: u8,
    created: bool,
    deleted: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    links: Vec<String>,
    parties: Vec<LegParty>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LegParty {
    id: SmallStr,
    dn: SmallStr,
    dn_type: DnType,
    last_time: u64,
    deleted: bool,
    comm: Option<u16>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum CommKind {
    External,
    Ivr,
    Routing,
    User,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Comm {
    id: Uuid,
    kind: CommKind,
    ctx: u8,
    primary_leg: u16,
    answered: bool,
    ended: bool,
    held: bool,
    /// GC user id (user) or queue id (routing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gc_id: Option<String>,
    dn: SmallStr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin_queue: Option<String>,
    answered_at: u64,
    answer_leg: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    departed_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    leave_as: Option<DisconnectType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wrap_deadline: Option<u64>,
}

impl Comm {
    fn is_router(&self) -> bool {
        matches!(self.kind, CommKind::Ivr | CommKind::Routing)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Ctx {
    /// The communication being routed in this context: the customer (main) or the consulting
    /// agent (consult).
    object: Option<u16>,
    /// The communication that currently has the object: IVR, routing, or an agent.
    holder: Option<u16>,
    transfer: Option<Transfer>,
    /// An agent who transferred to a routing point or another site; the destination is not
    /// known yet.
    awaiting: Option<u16>,
    queue: Option<String>,
    pending_queue: Option<String>,
    consult_open: bool,
    completing: bool,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Transfer {
    command: Uuid,
    target: u16,
    object: u16,
    dest: u16,
}

/// Everything a conversation step needs besides itself.
struct Env<'a, L: ?Sized> {
    cfg: &'a ModelConfig,
    lookups: &'a L,
    out: &'a mut VecDeque<Output>,
    ext: &'a mut IdMap<Vec<String>>,
    /// Communications ended during the current step (drives the single-party rule).
    ended: u32,
}

/// Serializes a map in key order, exactly as a `BTreeMap` with the same entries would.
fn serialize_sorted<S, V, H>(map: &HashMap<u64, V, H>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    V: Serialize,
{
    let mut entries: Vec<(&u64, &V)> = map.iter().collect();
    entries.sort_unstable_by_key(|(k, _)| **k);
    serializer.collect_map(entries)
}

/// Look-ups that know nothing (used by timeouts, which need none).
struct NoLookups;

impl Lookups for NoLookups {
    fn queue_id(&self, _: &str) -> Option<&str> {
        None
    }
    fn agent_user_id(&self, _: &str) -> Option<&str> {
        None
    }
    fn wrap_up_code_id(&self, _: &str) -> Option<&str> {
        None
    }
}

impl CallModel {
    /// A model with no live calls.
    pub fn new(config: ModelConfig) -> Self {
        Self {
            config,
            next_key: 0,
            conversations: HashMap::default(),
            calls: IdMap::default(),
            links: IdMap::default(),
            extension_calls: IdMap::default(),
            deadlines: BTreeSet::new(),
            closed: BTreeSet::new(),
            closed_order: VecDeque::new(),
            ignored: BTreeSet::new(),
            ignored_order: VecDeque::new(),
            outputs: VecDeque::new(),
            clock: 0,
        }
    }

    /// The model's configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The latest event time seen (epoch ms): pass it to [`Self::handle_timeout`] to drive the
    /// stale-call and wrap-up timeouts purely by event time.
    pub fn event_clock(&self) -> u64 {
        self.clock
    }

    /// Number of conversations in memory.
    pub fn live_conversations(&self) -> usize {
        self.conversations.len()
    }

    /// An estimate of the heap and inline bytes the live conversations occupy.
    pub fn approx_state_bytes(&self) -> usize {
        self.conversations
            .values()
            .map(Conversation::approx_bytes)
            .sum()
    }

    /// The next output, in order; `None` when drained.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Self::handle_timeout`] may next have work (epoch ms), if ever. It is never later
    /// than the real deadline; calling earlier is harmless.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// Feed one Engage event.
    pub fn handle_input<L: Lookups + ?Sized>(&mut self, event: &EngageEvent, lookups: &L) {
        let time = event.time();
        self.clock = self.clock.max(time);
        let Some(call_uuid) = event.call_uuid() else {
            return;
        };
        let key = match self.calls.get(call_uuid) {
            Some(k) => *k,
            None => {
                if self.closed.contains(&fingerprint(call_uuid)) {
                    return;
                }
                if matches!(event, EngageEvent::EventUserEvent(_)) {
                    // About a call the model does not know: ignored, and remembered so that a
                    // copy arriving once the call is known is still recognised as a duplicate.
                    let fp = fingerprint(event);
                    if self.ignored.insert(fp) {
                        self.ignored_order.push_back(fp);
                        if self.ignored_order.len() > IGNORED_MEMORY
                            && let Some(old) = self.ignored_order.pop_front()
                        {
                            self.ignored.remove(&old);
                        }
                    }
                    return;
                }
                self.attach_or_create(event)
            }
        };
        if let Some(call) = event.call_ref() {
            for link in &call.is_link_list {
                if !self.links.contains_key(link) {
                    self.links.insert(link.clone(), key);
                }
            }
        }
        let Some(conv) = self.conversations.get_mut(&key) else {
            return;
        };
        let fp = fingerprint(event);
        if conv.seen.contains(&fp) || self.ignored.contains(&fp) {
            return;
        }
        conv.seen.push(fp);
        conv.last_activity = conv.last_activity.max(time);
        let mut env = Env {
            cfg: &self.config,
            lookups,
            out: &mut self.outputs,
            ext: &mut self.extension_calls,
            ended: 0,
        };
        conv.apply(&mut env, event, time);
        self.after_step(key, false);
    }

    /// Advance time to `now` (epoch ms): closes stale conversations and reports overdue
    /// dispositions as skipped.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some(&(deadline, key)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let Some(conv) = self.conversations.get_mut(&key) else {
                continue;
            };
            // Entries are lower bounds (activity only moves a deadline later): re-arm.
            conv.deadline = 0;
            let actual = conv.due(&self.config);
            if actual > now {
                conv.deadline = actual;
                self.deadlines.insert((actual, key));
                continue;
            }
            let mut env = Env {
                cfg: &self.config,
                lookups: &NoLookups,
                out: &mut self.outputs,
                ext: &mut self.extension_calls,
                ended: 0,
            };
            let stale = conv.legs.iter().any(|l| !l.deleted) || conv.live_count() > 0;
            conv.expire(&mut env, deadline, stale);
            self.after_step(key, stale);
        }
    }

    fn attach_or_create(&mut self, event: &EngageEvent) -> u64 {
        let (call_uuid, links): (&str, &[String]) = match event.call_ref() {
            Some(c) => (&c.call_uuid, &c.is_link_list),
            None => ("", &[]),
        };
        let mut found = None;
        let mut root = call_uuid;
        if let EngageEvent::EventCallCreated(c) = event {
            if let Some(m) = &c.main_call_uuid {
                found = self.calls.get(m).copied();
            }
            if let Some(o) = &c.orig_call_uuid {
                found = found.or_else(|| self.calls.get(o).copied());
                root = o;
            }
        }
        if found.is_none() {
            found = links.iter().find_map(|l| self.links.get(l).copied());
        }
        let key = match found {
            Some(k) => k,
            None => {
                let key = self.next_key;
                self.next_key += 1;
                self.conversations
                    .insert(key, Conversation::new(root.to_owned()));
                key
            }
        };
        self.calls.insert(call_uuid.to_owned(), key);
        key
    }

    /// Close the conversation when it is finished, else refresh its deadline.
    fn after_step(&mut self, key: u64, timed_out: bool) {
        let Some(conv) = self.conversations.get_mut(&key) else {
            return;
        };
        let all_deleted = conv.legs.iter().all(|l| l.deleted);
        let pending_wrap = conv.comms.iter().any(|c| c.wrap_deadline.is_some());
        if timed_out || (all_deleted && !pending_wrap && conv.live_count() == 0) {
            self.close(key, timed_out);
            return;
        }
        // The timer entry is a lower bound of the real deadline; it only has to move when the
        // deadline comes earlier (a wrap-up deadline once every leg is gone).
        let due = conv.due(&self.config);
        if conv.deadline == 0 || due < conv.deadline {
            self.deadlines.remove(&(conv.deadline, key));
            conv.deadline = due;
            self.deadlines.insert((due, key));
        }
    }

    fn close(&mut self, key: u64, timed_out: bool) {
        let Some(conv) = self.conversations.remove(&key) else {
            return;
        };
        self.deadlines.remove(&(conv.deadline, key));
        for leg in &conv.legs {
            if self.calls.get(&leg.call_uuid) == Some(&key) {
                self.calls.remove(&leg.call_uuid);
            }
            for link in &leg.links {
                if self.links.get(link) == Some(&key) {
                    self.links.remove(link);
                }
            }
            for p in &leg.parties {
                if p.dn_type == DnType::Extension {
                    unregister_extension(&mut self.extension_calls, &p.dn, &leg.call_uuid);
                }
            }
            let fp = fingerprint(leg.call_uuid.as_str());
            if self.closed.insert(fp) {
                self.closed_order.push_back(fp);
            }
        }
        while self.closed_order.len() > self.config.closed_call_memory {
            if let Some(old) = self.closed_order.pop_front() {
                self.closed.remove(&old);
            }
        }
        self.outputs
            .push_back(Output::ConversationClosed(ConversationClosed {
                conversation_id: conv.id,
                interaction_id: conv.root.clone(),
                call_uuids: conv.legs.iter().map(|l| l.call_uuid.clone()).collect(),
                suspended: conv.suspended,
                timed_out,
            }));
    }
}

fn register_extension(ext: &mut IdMap<Vec<String>>, dn: &str, call: &str) -> usize {
    // One lookup when the DN is known, one insert when it is not.
    if let Some(calls) = ext.get_mut(dn) {
        let others = calls.iter().filter(|c| *c != call).count();
        if others == calls.len() {
            calls.push(call.to_owned());
        }
        return others;
    }
    ext.insert(dn.to_owned(), vec![call.to_owned()]);
    0
}

fn unregister_extension(ext: &mut IdMap<Vec<String>>, dn: &str, call: &str) {
    if let Some(calls) = ext.get_mut(dn) {
        calls.retain(|c| c != call);
        if calls.is_empty() {
            ext.remove(dn);
        }
    }
}

impl Conversation {
    fn new(root: String) -> Self {
        Self {
            id: conversation_id(&root),
            root,
            inbound: true,
            suspended: false,
            legs: Vec::with_capacity(1),
            comms: Vec::with_capacity(4),
            ctx: [Ctx::default(), Ctx::default()],
            seen: Vec::with_capacity(16),
            next_event: 0,
            next_command: 0,
            last_out: 0,
            last_activity: 0,
            deadline: 0,
            language: None,
            disposition: None,
            ani: None,
            dnis: None,
        }
    }

    /// When this conversation next needs `handle_timeout`: the earliest wrap-up deadline once
    /// every leg is gone, else the stale-call deadline.
    fn due(&self, cfg: &ModelConfig) -> u64 {
        let wrap = self.comms.iter().filter_map(|c| c.wrap_deadline).min();
        match wrap {
            Some(w) if self.legs.iter().all(|l| l.deleted) => w,
            _ => self.last_activity.saturating_add(cfg.stale_call_timeout_ms),
        }
    }

    fn approx_bytes(&self) -> usize {
        let s = |x: &String| x.capacity();
        let o = |x: &Option<String>| x.as_ref().map_or(0, String::capacity);
        let mut n = std::mem::size_of::<Self>() + s(&self.root) + self.seen.capacity() * 8;
        n += o(&self.language) + o(&self.disposition) + o(&self.ani) + o(&self.dnis);
        for c in &self.ctx {
            n += o(&c.queue) + o(&c.pending_queue);
        }
        for l in &self.legs {
            n += std::mem::size_of::<Leg>() + s(&l.call_uuid) + l.conn_id.heap_bytes();
            n += l.links.iter().map(|x| 24 + x.capacity()).sum::<usize>();
            for p in &l.parties {
                n += std::mem::size_of::<LegParty>() + p.id.heap_bytes() + p.dn.heap_bytes();
            }
        }
        for c in &self.comms {
            n += std::mem::size_of::<Comm>() + o(&c.gc_id) + c.dn.heap_bytes() + o(&c.origin_queue);
            n += o(&c.language);
        }
        n
    }

    fn live_count(&self) -> usize {
        self.comms.iter().filter(|c| !c.ended).count()
    }

    fn live(&self, c: Option<u16>) -> Option<u16> {
        c.filter(|c| self.comms.get(usize::from(*c)).is_some_and(|x| !x.ended))
    }

    fn comm(&self, c: u16) -> &Comm {
        &self.comms[usize::from(c)]
    }

    fn comm_mut(&mut self, c: u16) -> &mut Comm {
        &mut self.comms[usize::from(c)]
    }

    fn cid(&self, c: u16) -> Uuid {
        self.comm(c).id
    }

    // ---- emitting ----

    fn header(&mut self, t: u64) -> (String, String) {
        let at = if self.next_event == 0 {
            t
        } else {
            t.max(self.last_out.saturating_add(1))
        };
        self.last_out = at;
        let id = child_id(&self.id, IdKind::Event, self.next_event);
        self.next_event = self.next_event.wrapping_add(1);
        // GC cannot express a time after 9999; such a time is written as the last instant.
        let time = event_time_millis(at.min(MAX_EVENT_MILLIS)).unwrap_or_default();
        (id.to_string(), time)
    }

    fn conv_ref(&mut self, t: u64) -> ConvHead {
        let (event_id, event_date_time) = self.header(t);
        ConvHead {
            event_id,
            event_date_time,
            conversation_id: self.id.to_string(),
        }
    }

    fn comm_ref(&mut self, t: u64, c: u16) -> CommHead {
        let (event_id, event_date_time) = self.header(t);
        CommHead {
            event_id,
            event_date_time,
            conversation_id: self.id.to_string(),
            communication_id: self.cid(c).to_string(),
        }
    }

    fn emit<L: ?Sized>(env: &mut Env<'_, L>, e: ConversationEvent) {
        env.out.push_back(Output::Event(e));
    }

    fn new_comm(&mut self, kind: CommKind, ctx: u8, leg: u16, dn: &str) -> u16 {
        let n = u16::try_from(self.comms.len()).unwrap_or(u16::MAX);
        let answered = matches!(kind, CommKind::Ivr | CommKind::Routing);
        self.comms.push(Comm {
            id: child_id(&self.id, IdKind::Communication, u32::from(n)),
            kind,
            ctx,
            primary_leg: leg,
            answered,
            ended: false,
            held: false,
            gc_id: None,
            dn: SmallStr::new(dn),
            origin_queue: None,
            answered_at: 0,
            answer_leg: leg,
            language: None,
            departed_at: None,
            leave_as: None,
            wrap_deadline: None,
        });
        n
    }

    fn established<L: ?Sized>(
        &mut self,
        env: &Env<'_, L>,
        t: u64,
        c: u16,
        alerting: bool,
        invited_by: Option<u16>,
    ) -> EstHead {
        let (event_id, event_date_time) = self.header(t);
        EstHead {
            event_id,
            event_date_time,
            conversation_id: self.id.to_string(),
            communication_id: self.cid(c).to_string(),
            initial_configuration: InitialConfiguration {
                alerting: Some(alerting),
                inbound: Some(self.inbound),
                invited_by: invited_by.map(|i| self.cid(i).to_string()),
                ..InitialConfiguration::default()
            },
            source_configuration: SourceConfiguration {
                source_id: env.cfg.source_id.clone(),
                interaction_id: self.root.clone(),
                tag_id: None,
            },
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn establish_user<L: ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        (leg, ctx): (u16, u8),
        user_id: &str,
        dn: &str,
        alerting: bool,
        invited_by: Option<u16>,
    ) -> u16 {
        let c = self.new_comm(CommKind::User, ctx, leg, dn);
        let queue = self.ctx[usize::from(ctx)]
            .queue
            .clone()
            .or_else(|| self.ctx[usize::from(MAIN)].queue.clone());
        {
            let comm = self.comm_mut(c);
            comm.gc_id = Some(user_id.to_owned());
            comm.answered = !alerting;
            comm.origin_queue = queue;
        }
        let EstHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
            initial_configuration,
            source_configuration,
        } = self.established(env, t, c, alerting, invited_by);
        Self::emit(
            env,
            ConversationEvent::UserEstablished(UserEstablishedEvent {
                event_id,
                event_date_time,
                conversation_id,
                communication_id,
                initial_configuration,
                source_configuration,
                user_id: user_id.to_owned(),
                phone_number: None,
                station_id: None,
                after_call_work_required: env.cfg.after_call_work_required.then_some(true),
                queue_id: None,
                ani: None,
                dnis: None,
            }),
        );
        if !alerting {
            self.mark_answered(env, c, leg, t);
        }
        c
    }

    fn establish_routing<L: ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        (leg, ctx): (u16, u8),
        queue: &str,
        invited_by: Option<u16>,
    ) -> u16 {
        let c = self.new_comm(CommKind::Routing, ctx, leg, "");
        self.comm_mut(c).gc_id = Some(queue.to_owned());
        let EstHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
            initial_configuration,
            source_configuration,
        } = self.established(env, t, c, false, invited_by);
        Self::emit(
            env,
            ConversationEvent::RoutingEstablished(RoutingEstablishedEvent {
                event_id,
                event_date_time,
                conversation_id,
                communication_id,
                initial_configuration,
                source_configuration,
                queue_id: queue.to_owned(),
                phone_number: None,
                skill_ids: Vec::new(),
                language_id: None,
                ani: None,
                dnis: None,
            }),
        );
        self.ctx[usize::from(ctx)].queue = Some(queue.to_owned());
        c
    }

    fn next_command(&mut self) -> Uuid {
        let id = child_id(&self.id, IdKind::Command, self.next_command);
        self.next_command = self.next_command.wrapping_add(1);
        id
    }

    fn transfer_start(&mut self, t: u64, init: u16, object: u16, command: Uuid) -> StartHead {
        let ConvHead {
            event_id,
            event_date_time,
            conversation_id,
        } = self.conv_ref(t);
        StartHead {
            event_id,
            event_date_time,
            conversation_id,
            transfer_type: TransferType::Unattended,
            command_id: command.to_string(),
            initiating_communication_id: self.cid(init).to_string(),
            target_communication_id: self.cid(init).to_string(),
            object_communication_id: self.cid(object).to_string(),
        }
    }

    fn progress_transfer<L: ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        command: Uuid,
        object: u16,
        dest: u16,
    ) {
        let ConvHead {
            event_id,
            event_date_time,
            conversation_id,
        } = self.conv_ref(t);
        let (o, d) = (self.cid(object), self.cid(dest));
        Self::emit(
            env,
            ConversationEvent::ProgressTransfer(ProgressTransferEvent {
                event_id,
                event_date_time,
                conversation_id,
                command_id: command.to_string(),
                object_communication_id: o.to_string(),
                destination_communication_id: d.to_string(),
            }),
        );
    }

    fn end_transfer<L: ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        command: Uuid,
        object: u16,
        final_state: TransferFinalState,
    ) {
        let ConvHead {
            event_id,
            event_date_time,
            conversation_id,
        } = self.conv_ref(t);
        let o = self.cid(object);
        Self::emit(
            env,
            ConversationEvent::EndTransfer(EndTransferEvent {
                event_id,
                event_date_time,
                conversation_id,
                command_id: command.to_string(),
                final_state,
                object_communication_id: o.to_string(),
            }),
        );
    }

    fn consult_event<L: ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        progress: bool,
        init: u16,
        dest: u16,
    ) {
        let Some(object) = self.ctx[usize::from(MAIN)].object else {
            return;
        };
        let ConvHead {
            event_id,
            event_date_time,
            conversation_id,
        } = self.conv_ref(t);
        let initiating_communication_id = self.cid(init).to_string();
        let destination_communication_id = self.cid(dest).to_string();
        let object_communication_id = self.cid(object).to_string();
        Self::emit(
            env,
            if progress {
                ConversationEvent::ProgressConsultTransfer(ProgressConsultTransferEvent {
                    event_id,
                    event_date_time,
                    conversation_id,
                    initiating_communication_id,
                    destination_communication_id,
                    object_communication_id,
                })
            } else {
                ConversationEvent::ConsultTransfer(ConsultTransferEvent {
                    event_id,
                    event_date_time,
                    conversation_id,
                    initiating_communication_id,
                    destination_communication_id,
                    object_communication_id,
                })
            },
        );
    }

    fn end_consult<L: ?Sized>(&mut self, env: &mut Env<'_, L>, t: u64) {
        let open = self.ctx[usize::from(CONSULT)].consult_open;
        self.ctx[usize::from(CONSULT)] = Ctx::default();
        if open && !self.suspended {
            let ConvHead {
                event_id,
                event_date_time,
                conversation_id,
            } = self.conv_ref(t);
            Self::emit(
                env,
                ConversationEvent::EndConsultTransfer(EndConsultTransferEvent {
                    event_id,
                    event_date_time,
                    conversation_id,
                }),
            );
        }
    }

    fn end_comm<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        c: u16,
        disconnect_type: DisconnectType,
        t: u64,
    ) {
        if self.comm(c).ended {
            return;
        }
        self.comm_mut(c).ended = true;
        env.ended += 1;
        let CommHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
        } = self.comm_ref(t, c);
        Self::emit(
            env,
            ConversationEvent::CommunicationEnded(CommunicationEndedEvent {
                event_id,
                event_date_time,
                conversation_id,
                communication_id,
                disconnect_type,
                destination_conversation_id: None,
            }),
        );
        let comm = self.comm(c);
        if comm.kind != CommKind::User || !comm.answered {
            return;
        }
        if env.cfg.after_call_work_required && !self.suspended {
            match self.disposition.take() {
                Some(d) => self.disposition_applied(env, c, &d, t),
                None => {
                    self.comm_mut(c).wrap_deadline =
                        Some(t.saturating_add(env.cfg.wrap_up_timeout_ms));
                }
            }
        }
        let comm = self.comm(c);
        let leg = self.legs.get(usize::from(comm.answer_leg));
        let segment = RecordingSegment {
            conversation_id: self.id,
            communication_id: comm.id,
            user_id: comm.gc_id.clone().unwrap_or_default(),
            agent_dn: comm.dn.as_str().to_owned(),
            call_uuid: leg.map(|l| l.call_uuid.clone()).unwrap_or_default(),
            conn_id: leg
                .map(|l| l.conn_id.as_str().to_owned())
                .unwrap_or_default(),
            origination_queue_id: comm.origin_queue.clone(),
            language: comm.language.clone(),
            start_time: comm.answered_at,
            end_time: comm.departed_at.unwrap_or(t),
        };
        env.out.push_back(Output::RecordingSegment(segment));
    }

    fn disposition_applied<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        c: u16,
        disposition: &str,
        t: u64,
    ) {
        self.comm_mut(c).wrap_deadline = None;
        let code = env.lookups.wrap_up_code_id(disposition).map(str::to_owned);
        let CommHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
        } = self.comm_ref(t, c);
        Self::emit(
            env,
            ConversationEvent::CommunicationDispositionApplied(
                CommunicationDispositionAppliedEvent {
                    event_id,
                    event_date_time,
                    conversation_id,
                    communication_id,
                    code,
                    notes: None,
                    tags: Vec::new(),
                },
            ),
        );
    }

    fn mark_answered<L: ?Sized>(&mut self, env: &Env<'_, L>, c: u16, leg: u16, t: u64) {
        let language = self
            .language
            .clone()
            .or_else(|| env.cfg.sta_default_language.clone());
        let comm = self.comm_mut(c);
        comm.answered = true;
        comm.answered_at = t;
        comm.answer_leg = leg;
        comm.language = language;
    }

    // ---- applying events ----

    fn apply<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, event: &EngageEvent, t: u64) {
        match event {
            EngageEvent::EventCallCreated(e) => {
                let leg = self.leg_for(env, &e.call, Some(e), t);
                self.merge_user_data(env, &e.user_data, None, t);
                if self.comms.is_empty() && !self.suspended && !self.parties_supported(env, e) {
                    // Calls to an extension without a (mapped) agent, or a third call on an
                    // agent DN: not injected at all.
                    self.suspend(env, t);
                }
                let mut parties: Vec<&Party> = e.parties.iter().collect();
                parties.sort_by_key(|p| p.role != PartyRole::Origination);
                for p in parties {
                    self.on_party(env, leg, &e.call.call_uuid, p, t);
                }
            }
            EngageEvent::EventCallDataChanged(e) => {
                self.leg_for(env, &e.call, None, t);
                self.merge_user_data(env, &e.user_data, None, t);
            }
            EngageEvent::EventCallDeleted(e) => {
                let leg = self.leg_for(env, &e.call, None, t);
                self.on_call_deleted(env, leg, e.ctrl_party_id.as_deref(), t);
            }
            EngageEvent::EventCallPartyAdded(e) | EngageEvent::EventCallPartyState(e) => {
                let leg = self.leg_for(env, &e.call, None, t);
                self.on_party(env, leg, &e.call.call_uuid, &e.party, t);
            }
            EngageEvent::EventCallPartyMoved(e) => {
                let leg = self.leg_for(env, &e.call, None, t);
                self.on_party_moved(env, leg, e, t);
            }
            EngageEvent::EventCallPartyDeleted(e) => {
                let leg = self.leg_for(env, &e.call, None, t);
                self.on_party_deleted(env, leg, &e.party_id, e.ctrl_party_id.as_deref(), t);
            }
            EngageEvent::EventQueued(e) => {
                let leg = self.leg_for(env, &e.call, None, t);
                // The look-ups outlive `env`'s borrow: no copy of the queue id needed.
                let lookups = env.lookups;
                if let Some(q) = lookups.queue_id(&e.vq)
                    && !self.suspended
                {
                    self.queue_to(env, leg, q, t);
                }
            }
            EngageEvent::EventDiverted(e) => {
                // The delivery itself is reported by call monitoring (the target's party
                // appears); the diversion only confirms it.
                self.leg_for(env, &e.call, None, t);
            }
            EngageEvent::EventUserEvent(e) => {
                self.merge_user_data(env, &e.user_data, Some(&e.dn), t);
            }
        }
        // Only departures, deletions, moves and suspensions can leave a communication unbacked
        // or alone.
        if env.ended > 0
            || matches!(
                event,
                EngageEvent::EventCallDeleted(_)
                    | EngageEvent::EventCallPartyDeleted(_)
                    | EngageEvent::EventCallPartyMoved(_)
            )
        {
            self.sweep(env, t);
        }
    }

    fn leg_for<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        call: &CallRef,
        created: Option<&CallCreated>,
        t: u64,
    ) -> u16 {
        let idx = match self.legs.iter().position(|l| l.call_uuid == call.call_uuid) {
            Some(i) => i,
            None => {
                let mut ctx = MAIN;
                let mut nested = false;
                if let Some(c) = created.filter(|c| c.call_type == CallType::Consult) {
                    let main = c
                        .main_call_uuid
                        .as_ref()
                        .and_then(|m| self.legs.iter().position(|l| &l.call_uuid == m));
                    if let Some(mi) = main {
                        let consult_live = self.legs.iter().any(|l| !l.deleted && l.ctx == CONSULT);
                        nested = self.legs[mi].ctx == CONSULT || consult_live;
                        ctx = CONSULT;
                    }
                } else if let Some(li) = self
                    .legs
                    .iter()
                    .position(|l| l.links.iter().any(|x| call.is_link_list.contains(x)))
                {
                    ctx = self.legs[li].ctx;
                }
                self.legs.push(Leg {
                    call_uuid: call.call_uuid.clone(),
                    conn_id: SmallStr::new(&call.conn_id),
                    call_type: CallType::Unknown,
                    ctx,
                    created: false,
                    deleted: false,
                    links: Vec::new(),
                    parties: Vec::with_capacity(3),
                });
                if nested {
                    // A consult out of a consult, or a second consult: not a GC shape.
                    self.suspend(env, t);
                }
                self.legs.len() - 1
            }
        };
        let first = idx == 0;
        let leg = &mut self.legs[idx];
        if !call.conn_id.is_empty() && leg.conn_id != call.conn_id {
            leg.conn_id = SmallStr::new(&call.conn_id);
        }
        for l in &call.is_link_list {
            if !leg.links.contains(l) {
                leg.links.push(l.clone());
            }
        }
        if let Some(c) = created
            && !leg.created
        {
            leg.created = true;
            leg.call_type = c.call_type;
            if first && self.comms.is_empty() {
                self.inbound = c.call_type != CallType::Outbound;
                self.ani.clone_from(&c.ani);
                self.dnis.clone_from(&c.dnis);
                // Internal calls, and consult calls whose main call is unknown, are not
                // injected at all.
                if matches!(c.call_type, CallType::Internal | CallType::Consult) {
                    self.suspend(env, t);
                }
            }
        }
        u16::try_from(idx).unwrap_or(u16::MAX)
    }

    fn parties_supported<L: Lookups + ?Sized>(&self, env: &Env<'_, L>, e: &CallCreated) -> bool {
        e.parties
            .iter()
            .filter(|p| p.dn_type == DnType::Extension)
            .all(|p| {
                let others = env.ext.get(&p.dn).map_or(0, |calls| {
                    calls.iter().filter(|c| **c != e.call.call_uuid).count()
                });
                others < 2 && env.lookups.agent_user_id(&p.dn).is_some()
            })
    }

    fn merge_user_data<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        data: &BTreeMap<String, String>,
        from_dn: Option<&str>,
        t: u64,
    ) {
        if let Some(v) = env
            .cfg
            .sta_userdata_language_key
            .as_ref()
            .and_then(|k| data.get(k))
        {
            self.language = Some(v.clone());
        }
        let Some(v) = env.cfg.disposition_key.as_ref().and_then(|k| data.get(k)) else {
            return;
        };
        if self.suspended || !env.cfg.after_call_work_required {
            return;
        }
        let pending = |c: &Comm| c.wrap_deadline.is_some();
        let target = from_dn
            .and_then(|dn| self.comms.iter().position(|c| pending(c) && c.dn == dn))
            .or_else(|| self.comms.iter().position(pending));
        match target {
            Some(c) => {
                let c = u16::try_from(c).unwrap_or(u16::MAX);
                self.disposition_applied(env, c, v, t);
            }
            None => self.disposition = Some(v.clone()),
        }
    }

    fn suspend<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, t: u64) {
        if self.suspended {
            return;
        }
        self.suspended = true;
        // A party left alone by the suspension is ended by the single-party rule.
        env.ended += 1;
        for ctx in &mut self.ctx {
            ctx.transfer = None;
            ctx.awaiting = None;
            ctx.pending_queue = None;
        }
        for c in &mut self.comms {
            c.wrap_deadline = None;
            c.leave_as = None;
        }
        // Agents kept alive while their transfer's destination was unknown have left.
        let deferred: Vec<u16> = (0..self.comms.len())
            .filter(|&i| !self.comms[i].ended && self.comms[i].departed_at.is_some())
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        for c in deferred {
            self.end_comm(env, c, DisconnectType::SelfDisconnect, t);
        }
    }

    fn on_party<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        call_uuid: &str,
        p: &Party,
        t: u64,
    ) {
        let li = usize::from(leg);
        if let Some(pi) = self.legs[li]
            .parties
            .iter()
            .position(|x| x.id == p.party_id)
        {
            let lp = &mut self.legs[li].parties[pi];
            if lp.deleted || t < lp.last_time {
                return;
            }
            lp.last_time = t;
            if let Some(c) = lp.comm {
                self.apply_state(env, c, leg, p.state, t);
            }
            return;
        }
        self.legs[li].parties.push(LegParty {
            id: SmallStr::new(&p.party_id),
            dn: SmallStr::new(&p.dn),
            dn_type: p.dn_type,
            last_time: t,
            deleted: false,
            comm: None,
        });
        let pi = self.legs[li].parties.len() - 1;
        let mut third_call = false;
        if p.dn_type == DnType::Extension {
            third_call = register_extension(env.ext, &p.dn, call_uuid) >= 2;
        }
        if matches!(p.role, PartyRole::ConferenceMember | PartyRole::Observer) || third_call {
            self.suspend(env, t);
            return;
        }
        if self.suspended {
            return;
        }
        let comm = match (p.role, p.dn_type) {
            (PartyRole::InterSite, _) => {
                self.on_inter_site(leg);
                None
            }
            (_, DnType::Extension) => self.on_agent(env, leg, p, t),
            (_, DnType::RoutingPoint) => self.on_routing_point(env, leg, p, t),
            (_, DnType::Trunk) => self.on_trunk(env, leg, p, t),
            _ => None,
        };
        self.legs[li].parties[pi].comm = comm;
        if let Some(c) = comm {
            self.apply_state(env, c, leg, p.state, t);
        }
    }

    fn apply_state<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        c: u16,
        leg: u16,
        state: PartyState,
        t: u64,
    ) {
        let comm = self.comm(c);
        if self.suspended || comm.ended || comm.primary_leg != leg {
            return;
        }
        let (answered, held) = (comm.answered, comm.held);
        match state {
            PartyState::Connected | PartyState::Held => {
                if !answered {
                    self.answer(env, c, leg, t);
                }
                let want_held = state == PartyState::Held;
                if held != want_held && (answered || want_held) {
                    self.comm_mut(c).held = want_held;
                    let CommHead {
                        event_id,
                        event_date_time,
                        conversation_id,
                        communication_id,
                    } = self.comm_ref(t, c);
                    Self::emit(
                        env,
                        ConversationEvent::HoldUpdated(HoldUpdatedEvent {
                            event_id,
                            event_date_time,
                            conversation_id,
                            communication_id,
                            held: want_held,
                        }),
                    );
                }
            }
            _ => {}
        }
    }

    fn answer<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, c: u16, leg: u16, t: u64) {
        let CommHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
        } = self.comm_ref(t, c);
        Self::emit(
            env,
            ConversationEvent::CommunicationAnswered(CommunicationAnsweredEvent {
                event_id,
                event_date_time,
                conversation_id,
                communication_id,
            }),
        );
        self.mark_answered(env, c, leg, t);
        let ctx = usize::from(self.comm(c).ctx);
        if let Some(tr) = self.ctx[ctx].transfer.filter(|tr| tr.dest == c) {
            self.ctx[ctx].transfer = None;
            self.end_transfer(env, t, tr.command, tr.object, TransferFinalState::Completed);
            if self.comm(tr.target).is_router() {
                self.end_comm(env, tr.target, DisconnectType::TransferUser, t);
            }
            self.ctx[ctx].holder = Some(c);
        }
    }

    fn on_agent<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        p: &Party,
        t: u64,
    ) -> Option<u16> {
        let lookups = env.lookups;
        let Some(user) = lookups.agent_user_id(&p.dn) else {
            // No logged-in agent, or an agent out of the EX scope.
            self.suspend(env, t);
            return None;
        };
        let ctx_i = self.legs[usize::from(leg)].ctx;
        let ci = usize::from(ctx_i);
        // The same agent in another leg (the consulting agent in its consult call).
        if let Some(c) = self
            .comms
            .iter()
            .position(|c| !c.ended && c.kind == CommKind::User && c.dn == p.dn)
        {
            let c = u16::try_from(c).unwrap_or(u16::MAX);
            if ctx_i == CONSULT && self.ctx[ci].object.is_none() {
                self.ctx[ci].object = Some(c);
            }
            return Some(c);
        }
        let alerting = true;
        if self.ctx[ci].object.is_none()
            && self.live(self.ctx[ci].holder).is_none()
            && (p.role == PartyRole::Origination || !self.inbound)
        {
            // The agent originates the call (outbound).
            let c = self.establish_user(env, t, (leg, ctx_i), user, &p.dn, false, None);
            self.ctx[ci].holder = Some(c);
            return Some(c);
        }
        let object = self.ctx[ci].object;
        match self.live(self.ctx[ci].holder) {
            Some(h) if self.comm(h).is_router() => {
                let (Some(object), None) = (object, self.ctx[ci].transfer) else {
                    self.suspend(env, t);
                    return None;
                };
                Some(self.start_user_transfer(env, t, (leg, ctx_i), h, object, user, &p.dn))
            }
            Some(h) => {
                let (Some(object), None, MAIN) = (object, self.ctx[ci].transfer, ctx_i) else {
                    // A third agent in a consult, or a second transfer while one is ringing.
                    self.suspend(env, t);
                    return None;
                };
                let d = self.start_user_transfer(env, t, (leg, ctx_i), h, object, user, &p.dn);
                self.ctx[ci].awaiting = None;
                if self.comm(h).departed_at.is_some() {
                    self.end_comm(env, h, DisconnectType::TransferUser, t);
                } else {
                    self.comm_mut(h).leave_as = Some(DisconnectType::TransferUser);
                }
                Some(d)
            }
            None if ctx_i == CONSULT => {
                let Some(initiator) = self.live(object) else {
                    self.suspend(env, t);
                    return None;
                };
                let c = self.establish_user(
                    env,
                    t,
                    (leg, ctx_i),
                    user,
                    &p.dn,
                    alerting,
                    Some(initiator),
                );
                self.ctx[ci].holder = Some(c);
                self.ctx[ci].consult_open = true;
                self.consult_event(env, t, false, initiator, c);
                Some(c)
            }
            None => {
                // Direct call to the extension, no queue: the best matching GC shape is a
                // user leg invited by the caller.
                let c = self.establish_user(env, t, (leg, ctx_i), user, &p.dn, alerting, object);
                self.ctx[ci].holder = Some(c);
                Some(c)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_user_transfer<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        t: u64,
        place: (u16, u8),
        init: u16,
        object: u16,
        user: &str,
        dn: &str,
    ) -> u16 {
        let command = self.next_command();
        let StartHead {
            event_id,
            event_date_time,
            conversation_id,
            transfer_type,
            command_id,
            initiating_communication_id,
            target_communication_id,
            object_communication_id,
        } = self.transfer_start(t, init, object, command);
        Self::emit(
            env,
            ConversationEvent::UserTransfer(UserTransferEvent {
                event_id,
                event_date_time,
                conversation_id,
                transfer_type,
                command_id,
                initiating_communication_id,
                target_communication_id,
                object_communication_id,
                destination_user_id: user.to_owned(),
            }),
        );
        let d = self.establish_user(env, t, place, user, dn, true, Some(init));
        self.progress_transfer(env, t, command, object, d);
        self.ctx[usize::from(place.1)].transfer = Some(Transfer {
            command,
            target: init,
            object,
            dest: d,
        });
        d
    }

    fn on_routing_point<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        p: &Party,
        t: u64,
    ) -> Option<u16> {
        let ctx_i = self.legs[usize::from(leg)].ctx;
        let ci = usize::from(ctx_i);
        if !self.inbound && self.comms.is_empty() {
            // An outbound call placed by a routing point / dialer, not by an agent:
            // agent-less campaign or ASM dialing. Not injected.
            self.suspend(env, t);
            return None;
        }
        match self.live(self.ctx[ci].holder) {
            None if ctx_i == MAIN && !self.comms.iter().any(|c| c.kind == CommKind::User) => {
                let c = self.new_comm(CommKind::Ivr, ctx_i, leg, &p.dn);
                let invited_by = self.live(self.ctx[ci].object);
                let EstHead {
                    event_id,
                    event_date_time,
                    conversation_id,
                    communication_id,
                    initial_configuration,
                    source_configuration,
                } = self.established(env, t, c, false, invited_by);
                Self::emit(
                    env,
                    ConversationEvent::IvrEstablished(IvrEstablishedEvent {
                        event_id,
                        event_date_time,
                        conversation_id,
                        communication_id,
                        initial_configuration,
                        source_configuration,
                        ivr_phone_number: Some(p.dn.clone()),
                        ivr_name: None,
                        ani: None,
                        dnis: None,
                    }),
                );
                self.ctx[ci].holder = Some(c);
                if let Some(q) = self.ctx[ci].pending_queue.take() {
                    self.queue_to(env, leg, &q, t);
                }
                Some(c)
            }
            Some(h) if self.comm(h).kind == CommKind::User && p.role == PartyRole::Destination => {
                // A blind transfer to a routing point: the queue or agent comes next.
                self.ctx[ci].awaiting = Some(h);
                None
            }
            _ => None,
        }
    }

    fn on_trunk<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        p: &Party,
        t: u64,
    ) -> Option<u16> {
        let ctx_i = self.legs[usize::from(leg)].ctx;
        let ci = usize::from(ctx_i);
        if ctx_i != MAIN || self.ctx[ci].object.is_some() {
            // A second external party (external consult / transfer to a number): not a
            // supported GC shape.
            self.suspend(env, t);
            return None;
        }
        let holder = self.live(self.ctx[ci].holder);
        let c = self.new_comm(CommKind::External, ctx_i, leg, &p.dn);
        let (ani, dnis, alerting) = if self.inbound {
            let ani = self.ani.clone().or_else(|| Some(p.dn.clone()));
            (ani, self.dnis.clone(), false)
        } else {
            if holder.is_none() {
                // Outbound with no agent: agent-less campaign / ASM dialing. Not injected.
                self.comms.pop();
                self.suspend(env, t);
                return None;
            }
            (None, Some(p.dn.clone()), true)
        };
        self.comm_mut(c).answered = !alerting;
        let EstHead {
            event_id,
            event_date_time,
            conversation_id,
            communication_id,
            initial_configuration,
            source_configuration,
        } = self.established(
            env,
            t,
            c,
            alerting,
            if self.inbound { None } else { holder },
        );
        Self::emit(
            env,
            ConversationEvent::ExternalEstablished(ExternalEstablishedEvent {
                event_id,
                event_date_time,
                conversation_id,
                communication_id,
                initial_configuration,
                source_configuration,
                ani,
                ani_name: None,
                dnis,
                dnis_name: None,
            }),
        );
        self.ctx[ci].object = Some(c);
        if holder.is_none()
            && let Some(q) = self.ctx[ci].pending_queue.take()
        {
            self.queue_to(env, leg, &q, t);
        }
        Some(c)
    }

    fn on_inter_site(&mut self, leg: u16) {
        let ci = usize::from(self.legs[usize::from(leg)].ctx);
        if let Some(h) = self.live(self.ctx[ci].holder) {
            let comm = self.comm(h);
            if comm.kind == CommKind::User && comm.primary_leg == leg {
                // The agent transfers to another site; the remote leg brings the destination.
                self.ctx[ci].awaiting = Some(h);
            }
        }
    }

    fn queue_to<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, leg: u16, q: &str, t: u64) {
        let ctx_i = self.legs[usize::from(leg)].ctx;
        let ci = usize::from(ctx_i);
        let object = self.live(self.ctx[ci].object);
        match self.live(self.ctx[ci].holder) {
            Some(h) => {
                let comm = self.comm(h);
                let kind = comm.kind;
                let transferable = comm.is_router() || self.ctx[ci].awaiting == Some(h);
                if (kind == CommKind::Routing && comm.gc_id.as_deref() == Some(q))
                    || self.ctx[ci].transfer.is_some()
                    || !transferable
                {
                    return;
                }
                let Some(object) = object else {
                    return;
                };
                let command = self.next_command();
                let StartHead {
                    event_id,
                    event_date_time,
                    conversation_id,
                    transfer_type,
                    command_id,
                    initiating_communication_id,
                    target_communication_id,
                    object_communication_id,
                } = self.transfer_start(t, h, object, command);
                Self::emit(
                    env,
                    ConversationEvent::RoutingTransfer(RoutingTransferEvent {
                        event_id,
                        event_date_time,
                        conversation_id,
                        transfer_type,
                        command_id,
                        initiating_communication_id,
                        target_communication_id,
                        object_communication_id,
                        destination_queue_id: q.to_owned(),
                        language_id: None,
                        skill_ids: Vec::new(),
                    }),
                );
                let r = self.establish_routing(env, t, (leg, ctx_i), q, Some(h));
                self.progress_transfer(env, t, command, object, r);
                self.end_transfer(env, t, command, object, TransferFinalState::Completed);
                self.ctx[ci].holder = Some(r);
                self.ctx[ci].awaiting = None;
                if kind == CommKind::User && self.comm(h).departed_at.is_none() {
                    self.comm_mut(h).leave_as = Some(DisconnectType::TransferAcd);
                } else {
                    self.end_comm(env, h, DisconnectType::TransferAcd, t);
                }
            }
            None => match object {
                Some(o) if ctx_i == CONSULT => {
                    let r = self.establish_routing(env, t, (leg, ctx_i), q, Some(o));
                    self.ctx[ci].holder = Some(r);
                    self.ctx[ci].consult_open = true;
                    self.consult_event(env, t, false, o, r);
                }
                Some(o) => {
                    let r = self.establish_routing(env, t, (leg, ctx_i), q, Some(o));
                    self.ctx[ci].holder = Some(r);
                }
                None => self.ctx[ci].pending_queue = Some(q.to_owned()),
            },
        }
    }

    fn on_party_moved<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        e: &PartyMoved,
        t: u64,
    ) {
        let li = usize::from(leg);
        if self.legs[li]
            .parties
            .iter()
            .any(|x| x.id == e.party.party_id)
        {
            return;
        }
        let from = self
            .legs
            .iter()
            .position(|l| l.call_uuid == e.from_call_uuid)
            .and_then(|fl| {
                let pi = self.legs[fl]
                    .parties
                    .iter()
                    .position(|p| p.id == e.from_party_id && !p.deleted)?;
                Some((fl, pi))
            });
        let Some((fl, pi)) = from else {
            self.on_party(env, leg, &e.call.call_uuid, &e.party, t);
            return;
        };
        let moved = &mut self.legs[fl].parties[pi];
        moved.deleted = true;
        let comm = moved.comm;
        let from_call = self.legs[fl].call_uuid.clone();
        let from_ctx = self.legs[fl].ctx;
        if e.party.dn_type == DnType::Extension {
            unregister_extension(env.ext, &e.party.dn, &from_call);
            register_extension(env.ext, &e.party.dn, &e.call.call_uuid);
        }
        self.legs[li].parties.push(LegParty {
            id: SmallStr::new(&e.party.party_id),
            dn: SmallStr::new(&e.party.dn),
            dn_type: e.party.dn_type,
            last_time: t,
            deleted: false,
            comm,
        });
        if matches!(
            e.party.role,
            PartyRole::ConferenceMember | PartyRole::Observer
        ) {
            self.suspend(env, t);
            return;
        }
        let Some(c) = comm else {
            return;
        };
        if self.suspended {
            return;
        }
        let consult = usize::from(CONSULT);
        if from_ctx == CONSULT
            && self.legs[li].ctx == MAIN
            && self.ctx[consult].holder == Some(c)
            && !self.ctx[consult].completing
            && let Some(init) = self.live(self.ctx[consult].object)
        {
            self.consult_event(env, t, true, init, c);
            self.ctx[consult].completing = true;
        }
        self.comm_mut(c).primary_leg = leg;
        self.apply_state(env, c, leg, e.party.state, t);
    }

    fn on_party_deleted<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        party_id: &str,
        ctrl: Option<&str>,
        t: u64,
    ) {
        let li = usize::from(leg);
        let Some(pi) = self.legs[li].parties.iter().position(|x| x.id == party_id) else {
            // Deleted before it was added (events out of order): remember it as gone.
            self.legs[li].parties.push(LegParty {
                id: SmallStr::new(party_id),
                dn: SmallStr::default(),
                dn_type: DnType::Other,
                last_time: t,
                deleted: true,
                comm: None,
            });
            return;
        };
        if self.legs[li].parties[pi].deleted {
            return;
        }
        self.remove_party(env, li, pi, t);
        let Some(c) = self.legs[li].parties[pi].comm else {
            return;
        };
        if self.comm(c).ended || self.has_live_party(c) {
            return;
        }
        let dt = disconnect_for(party_id, ctrl, self.comm(c).answered);
        self.depart(env, c, dt, t);
    }

    fn remove_party<L: ?Sized>(&mut self, env: &mut Env<'_, L>, li: usize, pi: usize, t: u64) {
        let leg = &mut self.legs[li];
        let p = &mut leg.parties[pi];
        p.deleted = true;
        p.last_time = t;
        if p.dn_type == DnType::Extension {
            unregister_extension(env.ext, &p.dn, &leg.call_uuid);
        }
    }

    fn has_live_party(&self, c: u16) -> bool {
        self.legs
            .iter()
            .any(|l| !l.deleted && l.parties.iter().any(|p| !p.deleted && p.comm == Some(c)))
    }

    fn on_call_deleted<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        leg: u16,
        ctrl: Option<&str>,
        t: u64,
    ) {
        let li = usize::from(leg);
        if self.legs[li].deleted {
            return;
        }
        let mut leaving: Vec<(SmallStr, u16)> = Vec::new();
        for pi in 0..self.legs[li].parties.len() {
            if self.legs[li].parties[pi].deleted {
                continue;
            }
            self.remove_party(env, li, pi, t);
            let p = &self.legs[li].parties[pi];
            if let Some(c) = p.comm {
                leaving.push((p.id.clone(), c));
            }
        }
        self.legs[li].deleted = true;
        // The releasing party first.
        leaving.sort_by_key(|(id, _)| Some(id.as_str()) != ctrl);
        for (id, c) in leaving {
            if self.comm(c).ended || self.has_live_party(c) {
                continue;
            }
            let dt = match ctrl {
                None => DisconnectType::System,
                Some(_) => disconnect_for(&id, ctrl, self.comm(c).answered),
            };
            self.depart(env, c, dt, t);
        }
    }

    /// A communication's last Engage party left.
    fn depart<L: Lookups + ?Sized>(
        &mut self,
        env: &mut Env<'_, L>,
        c: u16,
        dt: DisconnectType,
        t: u64,
    ) {
        let ci = usize::from(self.comm(c).ctx);
        let consult = usize::from(CONSULT);
        if self.suspended {
            self.end_comm(env, c, dt, t);
        } else if self.ctx[ci].awaiting == Some(c) {
            // Left on a blind transfer whose destination is not known yet: stays until the
            // queue or the remote agent shows up.
            self.comm_mut(c).departed_at = Some(t);
            return;
        } else if let Some(x) = self.comm(c).leave_as {
            self.end_comm(env, c, x, t);
        } else if ci == usize::from(MAIN)
            && self.ctx[consult].completing
            && self.ctx[consult].object == Some(c)
        {
            let dest = self.ctx[consult].holder;
            self.end_comm(env, c, DisconnectType::TransferConsult, t);
            self.end_consult(env, t);
            if let Some(d) = dest {
                self.comm_mut(d).ctx = MAIN;
                self.ctx[ci].holder = Some(d);
            }
            return;
        } else if let Some(tr) = self.ctx[ci].transfer.filter(|tr| tr.dest == c) {
            self.ctx[ci].transfer = None;
            self.end_comm(env, c, dt, t);
            self.end_transfer(env, t, tr.command, tr.object, TransferFinalState::Failed);
            return;
        } else if ci == consult && self.ctx[consult].holder == Some(c) {
            self.end_comm(env, c, dt, t);
            self.end_consult(env, t);
            return;
        } else {
            self.end_comm(env, c, dt, t);
        }
        // The routed party left: what routed it ends with it.
        if self.ctx[ci].object == Some(c) {
            if let Some(tr) = self.ctx[ci].transfer.take() {
                self.end_comm(env, tr.dest, DisconnectType::Peer, t);
                if !self.suspended {
                    self.end_transfer(env, t, tr.command, tr.object, TransferFinalState::Failed);
                }
            }
            if let Some(h) = self.live(self.ctx[ci].holder)
                && self.comm(h).is_router()
            {
                self.end_comm(env, h, DisconnectType::Peer, t);
            }
        }
    }

    /// Is this live communication still backed by the Engage call?
    fn backed(&self, c: u16) -> bool {
        if self.has_live_party(c) {
            return true;
        }
        let comm = self.comm(c);
        let ci = usize::from(comm.ctx);
        let ctx_live = self.legs.iter().any(|l| !l.deleted && l.ctx == comm.ctx);
        if !ctx_live {
            return false;
        }
        if comm.is_router() {
            let object = self.ctx[ci].object;
            return object.is_none() || self.live(object).is_some();
        }
        comm.departed_at.is_some() && self.ctx[ci].awaiting == Some(c)
    }

    /// After every step: end what the Engage call no longer backs, close a consult whose legs
    /// are gone, and end a party left alone.
    fn sweep<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, t: u64) {
        let consult = usize::from(CONSULT);
        if self.ctx[consult].consult_open
            && !self.ctx[consult].completing
            && !self.legs.iter().any(|l| !l.deleted && l.ctx == CONSULT)
        {
            if let Some(h) = self.live(self.ctx[consult].holder)
                && !self.has_live_party(h)
            {
                self.end_comm(env, h, DisconnectType::Peer, t);
            }
            self.end_consult(env, t);
        }
        for i in 0..self.comms.len() {
            let c = u16::try_from(i).unwrap_or(u16::MAX);
            if !self.comms[i].ended && !self.backed(c) {
                self.end_comm(env, c, DisconnectType::System, t);
            }
        }
        if env.ended > 0 && self.live_count() == 1 {
            // A GC conversation is never left with a single party.
            if let Some(i) = self.comms.iter().position(|c| !c.ended) {
                let c = u16::try_from(i).unwrap_or(u16::MAX);
                let ci = usize::from(self.comm(c).ctx);
                let transfer = self.ctx[ci].transfer.take();
                self.end_comm(env, c, DisconnectType::Peer, t);
                if let Some(tr) = transfer
                    && !self.suspended
                {
                    self.end_transfer(env, t, tr.command, tr.object, TransferFinalState::Failed);
                }
            }
        }
    }

    /// The deadline passed: either a stale call (end everything) or overdue dispositions.
    fn expire<L: Lookups + ?Sized>(&mut self, env: &mut Env<'_, L>, t: u64, stale: bool) {
        if stale {
            for ci in 0..2 {
                if let Some(tr) = self.ctx[ci].transfer.take() {
                    self.end_comm(env, tr.dest, DisconnectType::System, t);
                    if !self.suspended {
                        self.end_transfer(
                            env,
                            t,
                            tr.command,
                            tr.object,
                            TransferFinalState::Failed,
                        );
                    }
                }
            }
            if self.ctx[usize::from(CONSULT)].consult_open {
                self.end_consult(env, t);
            }
            for i in 0..self.comms.len() {
                let c = u16::try_from(i).unwrap_or(u16::MAX);
                self.end_comm(env, c, DisconnectType::System, t);
            }
        }
        for i in 0..self.comms.len() {
            if self.comms[i].wrap_deadline.is_some_and(|d| stale || d <= t) {
                let c = u16::try_from(i).unwrap_or(u16::MAX);
                self.comm_mut(c).wrap_deadline = None;
                let CommHead {
                    event_id,
                    event_date_time,
                    conversation_id,
                    communication_id,
                } = self.comm_ref(t, c);
                Self::emit(
                    env,
                    ConversationEvent::CommunicationDispositionApplied(
                        CommunicationDispositionAppliedEvent {
                            event_id,
                            event_date_time,
                            conversation_id,
                            communication_id,
                            code: None,
                            notes: None,
                            tags: Vec::new(),
                        },
                    ),
                );
            }
        }
    }
}

/// Self when the party released itself (or nobody else is named); Peer when another party
/// released it; System when a never-answered party was withdrawn by someone else.
fn disconnect_for(party_id: &str, ctrl: Option<&str>, answered: bool) -> DisconnectType {
    match ctrl {
        Some(x) if x != party_id => {
            if answered {
                DisconnectType::Peer
            } else {
                DisconnectType::System
            }
        }
        _ => DisconnectType::SelfDisconnect,
    }
}
