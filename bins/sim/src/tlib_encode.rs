//! The encode half of EXCP's TLib mapping: normalized Engage events → the TLib messages a SIP
//! Server sends for them. The SIP Server simulator plays scenario files with it; the decode
//! half ([`engage_excp::tlib_map::engage_event`]) is EXCP's, and the mapping table (every field,
//! attribute, `Extensions` key, public fact or our design) is documented there. For every
//! event [`tlib_message`] accepts, `engage_event` gives the same event back (tested in
//! `tests/tlib_map.rs`).

use engage_callmodel::EngageEvent;
use engage_callmodel::input::{CallCreated, CallRef, CallType, Party, UserEvent, VqEvent};
use engage_excp::tlib_map::*;
use engage_tlib::{CallUuid, ConnId, KvList, Message, MessageBuilder, MessageType};
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------------
// normalized → TLib
// ---------------------------------------------------------------------------------------------

/// Translates one normalized event into the TLib message that reports it (the SIP Server
/// simulator plays scenario files with it).
///
/// `Err` names the field that TLib cannot carry: a CallUUID that is not 32 ASCII letters and
/// digits, a ConnID that is not 16 lower-case hex digits, a time whose microseconds exceed
/// `i64`, a UserData key above 65535 bytes or a list above 65535 entries. For every event this
/// accepts, [`engage_event`] gives the same event back.
pub fn tlib_message(ev: &EngageEvent) -> Result<Message> {
    match ev {
        EngageEvent::EventQueued(e) => vq_message(MessageType::EventQueued, "EventQueued", e),
        EngageEvent::EventDiverted(e) => vq_message(MessageType::EventDiverted, "EventDiverted", e),
        EngageEvent::EventUserEvent(e) => user_event_message(e),
        EngageEvent::EventCallCreated(e) => call_created_message(e),
        EngageEvent::EventCallDataChanged(e) => {
            let w = Writer::new(MessageType::EventCallDataChanged, "EventCallDataChanged");
            let (b, ext) = w.call_ref(&e.call)?;
            let b = b.user_data(&w.user_data(&e.user_data)?);
            Ok(finish(b, ext))
        }
        EngageEvent::EventCallDeleted(e) => {
            let w = Writer::new(MessageType::EventCallDeleted, "EventCallDeleted");
            let (b, mut ext) = w.call_ref(&e.call)?;
            if let Some(c) = &e.ctrl_party_id {
                ext.push(EXT_CTRL_PARTY_UUID, c.as_str());
            }
            Ok(finish(b, ext))
        }
        EngageEvent::EventCallPartyAdded(e) => party_message(
            Writer::new(MessageType::EventCallPartyAdded, "EventCallPartyAdded"),
            &e.call,
            &e.party,
        )
        .map(|(b, ext)| finish(b, ext)),
        EngageEvent::EventCallPartyState(e) => party_message(
            Writer::new(MessageType::EventCallPartyState, "EventCallPartyState"),
            &e.call,
            &e.party,
        )
        .map(|(b, ext)| finish(b, ext)),
        EngageEvent::EventCallPartyMoved(e) => {
            let w = Writer::new(MessageType::EventCallPartyMoved, "EventCallPartyMoved");
            let (b, mut ext) = party_message(w, &e.call, &e.party)?;
            ext.push(EXT_FROM_CALL_UUID, e.from_call_uuid.as_str());
            ext.push(EXT_FROM_PARTY_UUID, e.from_party_id.as_str());
            Ok(finish(b, ext))
        }
        EngageEvent::EventCallPartyDeleted(e) => {
            let w = Writer::new(MessageType::EventCallPartyDeleted, "EventCallPartyDeleted");
            let (b, mut ext) = w.call_ref(&e.call)?;
            let b = b.party_uuid(&e.party_id);
            if let Some(c) = &e.ctrl_party_id {
                ext.push(EXT_CTRL_PARTY_UUID, c.as_str());
            }
            Ok(finish(b, ext))
        }
        _ => Err(TlibMapError::Unrepresentable {
            event: "this event",
            field: "event".into(),
            problem: "is a kind of event this mapping does not know".into(),
        }),
    }
}

/// Adds Extensions when there is any, and builds.
fn finish(mut b: MessageBuilder, ext: KvList) -> Message {
    if !ext.is_empty() {
        b = b.extensions(&ext);
    }
    b.build()
}

/// The message type and event name of the message being written, for errors.
struct Writer {
    msg_type: MessageType,
    event: &'static str,
}

impl Writer {
    fn new(msg_type: MessageType, event: &'static str) -> Self {
        Writer { msg_type, event }
    }

    fn err(&self, field: impl Into<String>, problem: impl Into<String>) -> TlibMapError {
        TlibMapError::Unrepresentable {
            event: self.event,
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn call_uuid(&self, field: &str, s: &str) -> Result<CallUuid> {
        CallUuid::from_ascii(s.as_bytes()).map_err(|_| {
            self.err(
                field,
                format!(
                    "{s:?} is not a TLib CallUUID: it needs exactly 32 ASCII letters and digits"
                ),
            )
        })
    }

    fn conn_id(&self, field: &str, s: &str) -> Result<Option<ConnId>> {
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<ConnId>() {
            Ok(c) if c.to_string() == s => Ok(Some(c)),
            _ => Err(self.err(
                field,
                format!(
                    "{s:?} is not a TLib ConnID: it needs exactly 16 lower-case hex digits \
                     (or \"\" for none)"
                ),
            )),
        }
    }

    fn time_stamp(&self, field: &str, ms: u64) -> Result<i64> {
        i64::try_from(ms)
            .ok()
            .and_then(|ms| ms.checked_mul(US_PER_MS))
            .ok_or_else(|| {
                self.err(
                    field,
                    format!(
                        "{ms} ms does not fit TimeStamp (epoch microseconds in an i64; at most {} ms)",
                        i64::MAX / US_PER_MS
                    ),
                )
            })
    }

    fn check_count(&self, field: &str, n: usize) -> Result<()> {
        if n > KV_MAX {
            return Err(self.err(
                field,
                format!("has {n} entries; a TLib KV list holds at most {KV_MAX}"),
            ));
        }
        Ok(())
    }

    fn user_data(&self, map: &BTreeMap<String, String>) -> Result<KvList> {
        self.check_count("userData", map.len())?;
        let mut list = KvList::new();
        for (k, v) in map {
            if k.len() > KV_MAX {
                return Err(self.err(
                    "userData",
                    format!(
                        "has a key of {} bytes; a TLib KV key holds at most {KV_MAX}",
                        k.len()
                    ),
                ));
            }
            list.push(k.as_str(), v.as_str());
        }
        Ok(list)
    }

    /// A builder with TimeStamp, CallUUID, ConnID and ISLinkList, and the Extensions so far.
    fn call_ref(&self, call: &CallRef) -> Result<(MessageBuilder, KvList)> {
        let mut b = Message::builder(self.msg_type)
            .time_stamp(self.time_stamp("call.time", call.time)?)
            .call_uuid(self.call_uuid("call.callUuid", &call.call_uuid)?);
        if let Some(c) = self.conn_id("call.connId", &call.conn_id)? {
            b = b.conn_id(c);
        }
        if !call.is_link_list.is_empty() {
            self.check_count("call.isLinkList", call.is_link_list.len())?;
            let mut links = KvList::new();
            for l in &call.is_link_list {
                links.push(ISLINK_KEY, l.as_str());
            }
            b = b.is_link_list(&links);
        }
        let mut ext = KvList::new();
        if let Some(site) = &call.site {
            ext.push(EXT_SITE, site.as_str());
        }
        Ok((b, ext))
    }

    /// A party's state, role and DN type codes: (PartyState, ThisDNRole or InterSite, EX_DNType).
    fn party_codes(&self, field: &str, p: &Party) -> Result<(i32, RoleOnWire, i32)> {
        let state = party_state_code(p.state).ok_or_else(|| {
            self.err(
                format!("{field}.state"),
                format!("{:?} has no TLib party state", p.state),
            )
        })?;
        let role = role_on_wire(p.role).ok_or_else(|| {
            self.err(
                format!("{field}.role"),
                format!("{:?} has no TLib role", p.role),
            )
        })?;
        let dn_type = dn_type_code(p.dn_type).ok_or_else(|| {
            self.err(
                format!("{field}.dnType"),
                format!("{:?} has no DN type code", p.dn_type),
            )
        })?;
        Ok((state, role, dn_type))
    }
}

fn vq_message(t: MessageType, event: &'static str, e: &VqEvent) -> Result<Message> {
    let w = Writer::new(t, event);
    let (mut b, ext) = w.call_ref(&e.call)?;
    b = b.this_dn(&e.vq).this_queue(&e.vq);
    if let Some(target) = &e.target_dn {
        b = b.third_party_dn(target);
    }
    Ok(finish(b, ext))
}

fn user_event_message(e: &UserEvent) -> Result<Message> {
    let w = Writer::new(MessageType::EventUserEvent, "EventUserEvent");
    let mut b = Message::builder(MessageType::EventUserEvent)
        .time_stamp(w.time_stamp("time", e.time)?)
        .this_dn(&e.dn);
    if let Some(u) = &e.call_uuid {
        b = b.call_uuid(w.call_uuid("callUuid", u)?);
    }
    if let Some(c) = w.conn_id("connId", &e.conn_id)? {
        b = b.conn_id(c);
    }
    if !e.user_data.is_empty() {
        b = b.user_data(&w.user_data(&e.user_data)?);
    }
    let mut ext = KvList::new();
    if let Some(site) = &e.site {
        ext.push(EXT_SITE, site.as_str());
    }
    if !e.participants.is_empty() {
        w.check_count("participants", e.participants.len())?;
        let mut list = KvList::new();
        for p in &e.participants {
            list.push(PARTICIPANT_KEY, p.as_str());
        }
        ext.push(EXT_PARTICIPANTS, list);
    }
    Ok(finish(b, ext))
}

fn call_created_message(e: &CallCreated) -> Result<Message> {
    let w = Writer::new(MessageType::EventCallCreated, "EventCallCreated");
    let (mut b, mut ext) = w.call_ref(&e.call)?;
    let call_type = call_type_code(e.call_type).ok_or_else(|| {
        w.err(
            "callType",
            format!("{:?} has no TLib call type", e.call_type),
        )
    })?;
    b = b.call_type(engage_tlib::CallType::from_i32(call_type));
    if e.main_call_uuid.as_deref() == Some("") {
        return Err(w.err("mainCallUuid", "is empty".to_string()));
    }
    let consult = e.call_type == CallType::Consult;
    match (&e.main_call_uuid, &e.orig_call_uuid) {
        // A consult call's main call travels the public way, in OrigCallUUID.
        (Some(m), None) if consult && CallUuid::from_ascii(m.as_bytes()).is_ok() => {
            b = b.orig_call_uuid(w.call_uuid("mainCallUuid", m)?);
        }
        (m, o) => {
            if let Some(o) = o {
                b = b.orig_call_uuid(w.call_uuid("origCallUuid", o)?);
            }
            match m {
                Some(m) => ext.push(EXT_MAIN_CALL_UUID, m.as_str()),
                // A consult call without a main call but with OrigCallUUID says so, or the
                // reader would take OrigCallUUID for the main call.
                None if consult && o.is_some() => ext.push(EXT_MAIN_CALL_UUID, ""),
                None => {}
            }
        }
    }
    if let Some(ani) = &e.ani {
        b = b.ani(ani);
    }
    if let Some(dnis) = &e.dnis {
        b = b.dnis(dnis);
    }
    if !e.user_data.is_empty() {
        b = b.user_data(&w.user_data(&e.user_data)?);
    }
    if !e.parties.is_empty() {
        w.check_count("parties", e.parties.len())?;
        let mut parties = KvList::new();
        for (i, p) in e.parties.iter().enumerate() {
            let (state, role, dn_type) = w.party_codes(&format!("parties[{i}]"), p)?;
            let mut entry = KvList::new()
                .with(P_UUID, p.party_id.as_str())
                .with(P_DN, p.dn.as_str())
                .with(P_STATE, state);
            match role {
                RoleOnWire::Code(code) => entry.push(P_ROLE, code),
                RoleOnWire::InterSite => entry.push(EXT_PARTY_ROLE, INTER_SITE),
            }
            entry.push(EXT_DN_TYPE, dn_type);
            parties.push(PARTY_KEY, entry);
        }
        ext.push(EXT_PARTIES, parties);
    }
    Ok(finish(b, ext))
}

/// A party event's call identity and party (attributes and Extensions).
fn party_message(w: Writer, call: &CallRef, p: &Party) -> Result<(MessageBuilder, KvList)> {
    let (mut b, mut ext) = w.call_ref(call)?;
    let (state, role, dn_type) = w.party_codes("party", p)?;
    b = b
        .party_uuid(&p.party_id)
        .this_dn(&p.dn)
        .party_state(engage_tlib::PartyState(state));
    match role {
        RoleOnWire::Code(code) => b = b.this_dn_role(code),
        RoleOnWire::InterSite => ext.push(EXT_PARTY_ROLE, INTER_SITE),
    }
    ext.push(EXT_DN_TYPE, dn_type);
    Ok((b, ext))
}
