//! Arbitrary byte strings as Engage event sequences: the entry point of the fuzz target, and the
//! generator the property tests use. Also the invariant checker both apply to the output.
//!
//! Each event takes a few bytes choosing among a small, plausible alphabet (four calls, a
//! customer trunk, a routing point, three extensions of which one has no agent, an inter-site
//! trunk, mapped and unmapped VQs), so short inputs already build real call flows.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::input::{
    CallCreated, CallDataChanged, CallDeleted, CallRef, CallType, DnType, EngageEvent, Party,
    PartyDeleted, PartyEvent, PartyMoved, PartyRole, PartyState, UserEvent, VqEvent,
};
use crate::output::{ConversationEvent, Output};
use crate::{CallModel, ModelConfig, StaticLookups};

/// The look-ups the generated events are meant for.
pub fn lookups() -> StaticLookups {
    let mut l = StaticLookups::default();
    l.queues.insert("VQ1".into(), "queue-1".into());
    l.queues.insert("VQ2".into(), "queue-2".into());
    l.agents.insert("7001".into(), "user-1".into());
    l.agents.insert("7002".into(), "user-2".into());
    l.wrap_up_codes.insert("Sale".into(), "wrapup-sale".into());
    l
}

/// The configuration the generated events are meant for (after-call work on, short timeouts).
pub fn config() -> ModelConfig {
    ModelConfig {
        sta_userdata_language_key: Some("lang".into()),
        sta_default_language: Some("en-US".into()),
        after_call_work_required: true,
        disposition_key: Some("Disposition".into()),
        wrap_up_timeout_ms: 5_000,
        stale_call_timeout_ms: 60_000,
        ..ModelConfig::default()
    }
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }
    fn pick(&mut self, n: u8) -> u8 {
        self.next().map_or(0, |b| b % n)
    }
}

const DNS: [(&str, DnType, PartyRole); 6] = [
    ("+15550100", DnType::Trunk, PartyRole::Origination),
    ("8000", DnType::RoutingPoint, PartyRole::Destination),
    ("7001", DnType::Extension, PartyRole::Destination),
    ("7002", DnType::Extension, PartyRole::Destination),
    ("7003", DnType::Extension, PartyRole::Destination),
    ("ISCC", DnType::Trunk, PartyRole::InterSite),
];

const STATES: [PartyState; 5] = [
    PartyState::Alerting,
    PartyState::Connected,
    PartyState::Held,
    PartyState::Connected,
    PartyState::Initiated,
];

/// Decode bytes into an event sequence (never fails; stops when the bytes run out).
pub fn decode_events(data: &[u8]) -> Vec<EngageEvent> {
    let mut b = Bytes(data);
    let mut time = 1_000u64;
    let mut out = Vec::new();
    while let Some(op) = b.next() {
        let step = u64::from(b.pick(8));
        // Mostly forward in time; now and then a little backwards (out of order).
        time = if step == 7 {
            time.saturating_sub(300)
        } else {
            time + step * 400
        };
        let call_n = b.pick(8);
        let call = CallRef {
            time,
            site: None,
            call_uuid: format!("CALL{call_n}"),
            conn_id: format!("00000000000000{call_n:02}"),
            is_link_list: if b.pick(4) == 0 {
                vec!["L1".into()]
            } else {
                Vec::new()
            },
        };
        let party = |b: &mut Bytes<'_>| {
            let d: usize = [0, 0, 1, 2, 2, 3, 3, 4, 5, 1][usize::from(b.pick(10))];
            let (dn, dn_type, mut role) = DNS[d];
            let r = b.pick(32);
            if r == 0 {
                role = PartyRole::ConferenceMember;
            } else if r == 1 {
                role = PartyRole::Observer;
            } else if r < 5 && role != PartyRole::InterSite {
                role = PartyRole::Origination;
            }
            Party {
                party_id: format!("p{d}"),
                dn: dn.into(),
                dn_type,
                role,
                state: STATES[usize::from(b.pick(5))],
            }
        };
        let ev = match op % 12 {
            0 | 1 => {
                let call_type = match b.pick(8) {
                    0 => CallType::Internal,
                    1 => CallType::Outbound,
                    2 | 3 => CallType::Consult,
                    _ => CallType::Inbound,
                };
                let mut parties = Vec::new();
                for _ in 0..b.pick(3) {
                    parties.push(party(&mut b));
                }
                EngageEvent::EventCallCreated(CallCreated {
                    call,
                    call_type,
                    main_call_uuid: Some(format!("CALL{}", (call_n + 7 - b.pick(2)) % 8)),
                    orig_call_uuid: None,
                    ani: Some("+15550100".into()),
                    dnis: Some("8000".into()),
                    user_data: BTreeMap::new(),
                    parties,
                })
            }
            2 | 3 => EngageEvent::EventCallPartyAdded(PartyEvent {
                call,
                party: party(&mut b),
            }),
            4 | 5 => EngageEvent::EventCallPartyState(PartyEvent {
                call,
                party: party(&mut b),
            }),
            6 => {
                let party = party(&mut b);
                let from = b.pick(8);
                EngageEvent::EventCallPartyMoved(PartyMoved {
                    call,
                    from_party_id: party.party_id.clone(),
                    party,
                    from_call_uuid: format!("CALL{from}"),
                })
            }
            7 | 8 => {
                let p = b.pick(6);
                let ctrl = b.pick(8);
                EngageEvent::EventCallPartyDeleted(PartyDeleted {
                    call,
                    party_id: format!("p{p}"),
                    ctrl_party_id: (ctrl < 6).then(|| format!("p{ctrl}")),
                })
            }
            9 => {
                let ctrl = b.pick(8);
                EngageEvent::EventCallDeleted(CallDeleted {
                    call,
                    ctrl_party_id: (ctrl < 6).then(|| format!("p{ctrl}")),
                })
            }
            10 => {
                let vq = ["VQ1", "VQ2", "VQX"][usize::from(b.pick(3))];
                if b.pick(2) == 0 {
                    EngageEvent::EventQueued(VqEvent {
                        call,
                        vq: vq.into(),
                        target_dn: None,
                    })
                } else {
                    EngageEvent::EventDiverted(VqEvent {
                        call,
                        vq: vq.into(),
                        target_dn: Some("7001".into()),
                    })
                }
            }
            _ => {
                let mut user_data = BTreeMap::new();
                match b.pick(3) {
                    0 => user_data.insert("lang".into(), "de-DE".into()),
                    1 => user_data.insert("Disposition".into(), "Sale".into()),
                    _ => user_data.insert("other".into(), "x".into()),
                };
                if b.pick(2) == 0 {
                    EngageEvent::EventCallDataChanged(CallDataChanged { call, user_data })
                } else {
                    EngageEvent::EventUserEvent(UserEvent {
                        time,
                        site: None,
                        dn: "7001".into(),
                        call_uuid: Some(call.call_uuid),
                        conn_id: call.conn_id,
                        participants: Vec::new(),
                        user_data,
                    })
                }
            }
        };
        out.push(ev);
    }
    out
}

/// Feed events to a fresh model (generated look-ups and config), then let every timeout fire;
/// returns all outputs in order.
pub fn run(events: &[EngageEvent]) -> Vec<Output> {
    let mut model = CallModel::new(config());
    let lookups = lookups();
    let mut out = Vec::new();
    for e in events {
        model.handle_input(e, &lookups);
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    finish(&mut model, &mut out);
    out
}

/// Fire every remaining timeout and drain the outputs.
pub fn finish(model: &mut CallModel, out: &mut Vec<Output>) {
    while let Some(t) = model.poll_timeout() {
        model.handle_timeout(t);
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
}

/// Check the output invariants of a complete run (every timeout fired): each established
/// communication ends exactly once; nothing but a disposition (after-call work) or recording
/// metadata refers to a communication after its end; at most one disposition each; event ids
/// unique; event times strictly increasing per conversation; no established communication is
/// left open and every conversation is closed once.
pub fn check_invariants(outputs: &[Output]) -> Result<(), String> {
    let mut established: BTreeSet<Uuid> = BTreeSet::new();
    let mut ended: BTreeSet<Uuid> = BTreeSet::new();
    let mut disposed: BTreeSet<Uuid> = BTreeSet::new();
    let mut event_ids: BTreeSet<Uuid> = BTreeSet::new();
    // `yyyy-MM-ddTHH:mm:ss.SSSZ` is fixed-width: string order is time order.
    let mut last_time: BTreeMap<Uuid, String> = BTreeMap::new();
    let id = |i: usize, what: &str, s: &str| {
        Uuid::parse_str(s).map_err(|e| format!("#{i}: {what} {s:?} is no UUID: {e}"))
    };
    let mut conversations: BTreeSet<Uuid> = BTreeSet::new();
    let mut closed: BTreeSet<Uuid> = BTreeSet::new();
    for (i, o) in outputs.iter().enumerate() {
        let e = match o {
            Output::Event(e) => e,
            Output::RecordingSegment(s) => {
                if !ended.contains(&s.communication_id) {
                    return Err(format!(
                        "#{i}: recording segment before the communication ended"
                    ));
                }
                continue;
            }
            Output::ConversationClosed(c) => {
                if !closed.insert(c.conversation_id) {
                    return Err(format!("#{i}: conversation closed twice"));
                }
                continue;
            }
        };
        let conv = id(i, "conversationId", e.conversation_id())?;
        if closed.contains(&conv) {
            return Err(format!("#{i}: event after the conversation closed: {e:?}"));
        }
        conversations.insert(conv);
        if !event_ids.insert(id(i, "eventId", e.event_id())?) {
            return Err(format!("#{i}: duplicate event id"));
        }
        if e.event_date_time().len() != 24 {
            return Err(format!("#{i}: eventDateTime {:?}", e.event_date_time()));
        }
        if let Some(prev) = last_time.insert(conv, e.event_date_time().to_owned())
            && prev.as_str() >= e.event_date_time()
        {
            return Err(format!("#{i}: eventDateTime not increasing"));
        }
        let Some(c) = e.communication_id() else {
            continue;
        };
        let c = id(i, "communicationId", c)?;
        if e.is_established() {
            if !established.insert(c) {
                return Err(format!("#{i}: communication established twice"));
            }
            continue;
        }
        if !established.contains(&c) {
            return Err(format!(
                "#{i}: event for a communication never established: {e:?}"
            ));
        }
        match e {
            ConversationEvent::CommunicationEnded(_) => {
                if !ended.insert(c) {
                    return Err(format!("#{i}: communication ended twice"));
                }
            }
            ConversationEvent::CommunicationDispositionApplied(_) => {
                if !ended.contains(&c) || !disposed.insert(c) {
                    return Err(format!("#{i}: disposition not once after the end"));
                }
            }
            _ => {
                if ended.contains(&c) {
                    return Err(format!("#{i}: event after communicationEnded: {e:?}"));
                }
            }
        }
    }
    if let Some(open) = established.difference(&ended).next() {
        return Err(format!("communication {open} never ended"));
    }
    if let Some(open) = conversations.difference(&closed).next() {
        return Err(format!("conversation {open} never closed"));
    }
    Ok(())
}

/// The fuzz target: decode, run, check the invariants, and check that delivering every event
/// twice (the HA pair) changes nothing. Panics on a violation (that is a bug to report).
pub fn fuzz_events(data: &[u8]) {
    let events = decode_events(data);
    let outputs = run(&events);
    if let Err(e) = check_invariants(&outputs) {
        panic!("invariant violated: {e}");
    }
    let doubled: Vec<EngageEvent> = events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    assert!(
        run(&doubled) == outputs,
        "duplicated events changed the output"
    );
}
