//! The exact translation between T-Library messages ([`engage_tlib::Message`]) and the
//! normalized events of the call model ([`EngageEvent`]), both ways.
//!
//! - [`engage_event`]: TLib → normalized (EXCP). `Ok(None)` for message types EXCP does not
//!   use (registration answers, `EventRinging` and the other DN events of extensions, ADDP,
//!   unknown numbers, …); `Err` when a message of a used type ([`USED_TYPES`]) lacks an
//!   attribute it needs or carries an invalid one. Never panics, whatever the message.
//! - [`tlib_message`]: normalized → one TLib message (the SIP Server simulator plays scenario
//!   files with it); `Err` naming the field when an event cannot be carried (a CallUUID that is
//!   not 32 ASCII letters and digits, a time beyond the TimeStamp range, …).
//! - For every event `e` that [`tlib_message`] accepts,
//!   `engage_event(&tlib_message(&e)?)? == Some(e)`, also through the wire codec (tested on every
//!   scenario file and on generated events).
//!
//! The mapping does not decide *whether* an event matters: `EventQueued` is mapped on any DN
//! (EXCP registers only the virtual queues), and `EventUserEvent` on any DN (EXCP registers the
//! agent extensions).
//!
//! ## The mapping
//!
//! "Public fact" means the attribute, its number and, where given, its codes are public Genesys
//! material (see `tlib/WIRE.md`); "our design" means the public material is silent and this
//! module chose. Every "our design" Extensions key starts with `EX_` so it cannot be mistaken
//! for a key a real SIP Server sends; Extensions keys this module does not know are ignored.
//!
//! | EngageEvent field | TLib attribute (number) or Extensions key | Source |
//! |---|---|---|
//! | the variant | message type of the same name: EventQueued 57, EventDiverted 58, EventUserEvent 96, EventCallCreated 160, EventCallDataChanged 161, EventCallDeleted 162, EventCallPartyAdded 163, EventCallPartyState 164, EventCallPartyMoved 165, EventCallPartyDeleted 166 | public fact |
//! | `time` (every event) | `TimeStamp` (120); **mandatory** | public fact: the attribute, and the event time as seconds + microseconds since 1970 (`TTimeStamp`) |
//! | ″ unit | TimeStamp = epoch **microseconds** (ms × 1000, lossless); read back as µs ÷ 1000 rounded down (sub-millisecond precision is dropped); a negative TimeStamp is invalid | our design: tlib carries TimeStamp as one `i64` and documents no unit; microseconds keep the public `TTimeStamp` precision (tlib's own sample value is in µs) |
//! | `site` (every event) | Extensions `EX_Site` (string); absent → `None` | our design |
//! | `call_uuid` (call-scoped events) | `CallUUID` (141); **mandatory** | public fact |
//! | `conn_id` | `ConnID` (9), 16 lower-case hex digits; `""` ↔ attribute absent | public fact (value and print form); `""` ↔ absent is our design |
//! | `is_link_list` | `ISLinkList` (146): one string pair per link, key `ISLink`, in order; read: every value is a link id (keys ignored; a non-string value is invalid); empty ↔ absent | the attribute is public; the list layout is our design |
//! | VQ event `vq` | `ThisDN` (20), also written to `ThisQueue` (21); read: ThisDN, else ThisQueue; **mandatory** | public fact |
//! | VQ event `target_dn` | `ThirdPartyDN` (28); absent → `None` | public fact |
//! | UserEvent `dn` | `ThisDN`; **mandatory** | public fact |
//! | UserEvent `call_uuid` | `CallUUID`; absent → `None` | public fact |
//! | UserEvent `participants` | Extensions `EX_Participants`: a list, one string pair `DN` per participant, in order; empty ↔ absent | our design |
//! | `user_data` (CallCreated, CallDataChanged, UserEvent) | `UserData` (51): one string pair per entry, in key order (absent when empty, except on EventCallDataChanged, which always carries it); read: String and Unicode values as text, Int and Long in decimal, Float, Binary and nested lists skipped; of duplicate keys the first kept value wins | public fact (the attribute); the value conversion is our design |
//! | CallCreated `call_type` | `CallType` (54): Unknown 0, Internal 1, Inbound 2, Outbound 3, Consult 4; always written; absent → Unknown; any other number is invalid | public fact |
//! | CallCreated `main_call_uuid` | on a consult call (CallType Consult) without `orig_call_uuid`: `OrigCallUUID` (143), as the public call definition has it; otherwise Extensions `EX_MainCallUUID` (string; empty = none, written on a consult call that has only `orig_call_uuid`); read: `EX_MainCallUUID` when present, else on a consult call `OrigCallUUID` | public fact (OrigCallUUID as a consult call's main call); the Extensions key is our design |
//! | CallCreated `orig_call_uuid` | `OrigCallUUID` (143), except as above | public fact (the attribute; the field's meaning is the call model's) |
//! | CallCreated `ani`, `dnis` | `ANI` (19), `DNIS` (18) | public fact |
//! | CallCreated `parties` | Extensions `EX_Parties`: a list, one pair `Party` per party, in order, whose value is a list with the party keys below; empty ↔ absent | our design |
//! | Party `party_id` | `PartyUUID` (145) / party key `PartyUUID` (string); **mandatory**; read: a party event without PartyUUID uses its party number `PartyID` (122) in decimal | public fact (the attributes); the PartyID fallback is our design |
//! | Party `dn` | `ThisDN` / party key `ThisDN` (string); **mandatory** | public fact |
//! | Party `state` | `PartyState` (124) / party key `PartyState` (Int): Initiated 0x1, Queued 0x9, Alerting 0xA, Busy 0xB, Connected 0xC, Held 0xE, Failed 0xF; read ignores the Dialing (0x10000) and Uncertain (0x20000) modifiers; any other state is invalid; **mandatory** | public fact |
//! | Party `role` | `ThisDNRole` (23) / party key `ThisDNRole` (Int), TDNRole codes: Origination 1, Destination 2, ConferenceMember 3, Observer 10; read: absent or RoleUnknown 0 → Destination, RoleNewParty 4 … RoleConferencedBy 9 and other numbers are invalid | public fact (the TDNRole codes); carrying a call-monitoring party's role in ThisDNRole is our design |
//! | ″ `InterSite` | no ThisDNRole, and Extensions / party key `EX_PartyRole` = `"InterSite"` (the only value defined; it wins over ThisDNRole) | our design (TDNRole has no inter-site role) |
//! | Party `dn_type` | Extensions / party key `EX_DNType` (Int), Config DB DN type codes: Extension 1, AcdQueue 3, RoutingPoint 4, Trunk 14, Other 0; read: every other code → Other, absent → Other | public fact (the CfgDNType codes); carrying them here is our design |
//! | `ctrl_party_id` (CallDeleted, CallPartyDeleted) | Extensions `EX_CtrlPartyUUID` (string); read: else the party number `CtrlParty` (126) in decimal (matching the PartyID fallback), else `None` | our design: the public `CtrlParty` is an Int party number and cannot hold a PartyUUID, so it is read but never written |
//! | PartyMoved `from_call_uuid` | Extensions `EX_FromCallUUID` (string); **mandatory** | our design |
//! | PartyMoved `from_party_id` | Extensions `EX_FromPartyUUID` (string); **mandatory** | our design |
//! | PartyDeleted `party_id` | `PartyUUID`, read: else `PartyID` in decimal; **mandatory** | public fact; the fallback is our design |
//!
//! Attributes a message carries beyond these are ignored. Extensions values written by this
//! module are strings (`String`) or numbers (`Int`); on reading, a `Unicode` value is accepted
//! wherever a string is. Wire limits (at most 65535 pairs per KV list and 65535 bytes per key)
//! are checked here; the packet-size limit is the codec's.
//!
//! Sources of the public facts: the T-Library reference (message and attribute numbers, the
//! CallType, PartyState and TDNRole enumerations, `TTimeStamp`), the call-based events of the
//! Events and Models reference (CallUUID, ConnID, CallType, OrigCallUUID, ISLinkList, ANI, DNIS,
//! UserData on EventCallCreated) and the Configuration Server's `CfgDNType` codes.
//!
//! Known gaps, to settle against a real SIP Server capture: the public call definition
//! describes `OrigCallUUID` as the main call of a *consult* call, and the call model also uses
//! `orig_call_uuid` for a multi-site leg's first CallUUID; a consult call's `OrigCallUUID` is
//! read as its main call (see the table), which a capture of a multi-site consult should
//! confirm; and the layouts of `ISLinkList` and of a call-monitoring party (PartyUUID vs
//! PartyID, role, DN type) are our reading.

use std::collections::BTreeMap;

use engage_callmodel::EngageEvent;
use engage_callmodel::input::{
    CallCreated, CallDataChanged, CallDeleted, CallRef, CallType, DnType, Party, PartyDeleted,
    PartyEvent, PartyMoved, PartyRole, PartyState, UserEvent, VqEvent,
};
use engage_tlib::{
    AttributeId, CallUuid, ConnId, KvList, KvListRef, KvValueRef, Message, MessageBuilder,
    MessageType, PartyStateKind, Value,
};

/// The message types [`engage_event`] translates; every other type gives `Ok(None)`.
pub const USED_TYPES: [MessageType; 10] = [
    MessageType::EventQueued,
    MessageType::EventDiverted,
    MessageType::EventUserEvent,
    MessageType::EventCallCreated,
    MessageType::EventCallDataChanged,
    MessageType::EventCallDeleted,
    MessageType::EventCallPartyAdded,
    MessageType::EventCallPartyState,
    MessageType::EventCallPartyMoved,
    MessageType::EventCallPartyDeleted,
];

const EXT_SITE: &str = "EX_Site";
const EXT_MAIN_CALL_UUID: &str = "EX_MainCallUUID";
const EXT_PARTIES: &str = "EX_Parties";
const EXT_PARTICIPANTS: &str = "EX_Participants";
const EXT_DN_TYPE: &str = "EX_DNType";
const EXT_PARTY_ROLE: &str = "EX_PartyRole";
const EXT_CTRL_PARTY_UUID: &str = "EX_CtrlPartyUUID";
const EXT_FROM_CALL_UUID: &str = "EX_FromCallUUID";
const EXT_FROM_PARTY_UUID: &str = "EX_FromPartyUUID";

/// Pair key of one link in `ISLinkList`.
const ISLINK_KEY: &str = "ISLink";
/// Pair key of one party in `EX_Parties`.
const PARTY_KEY: &str = "Party";
/// Pair key of one participant in `EX_Participants`.
const PARTICIPANT_KEY: &str = "DN";
/// Keys of a party entry in `EX_Parties` (the attribute names of a party event).
const P_UUID: &str = "PartyUUID";
const P_DN: &str = "ThisDN";
const P_STATE: &str = "PartyState";
const P_ROLE: &str = "ThisDNRole";
/// The one value of `EX_PartyRole`.
const INTER_SITE: &str = "InterSite";

/// TimeStamp units per event-time millisecond (TimeStamp is in microseconds).
const US_PER_MS: i64 = 1000;
/// The most pairs a packed KV list holds, and the longest key (bytes).
const KV_MAX: usize = 65_535;

/// Why a TLib message could not be normalized, or an event could not be sent as TLib.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlibMapError {
    /// A message of a used type lacks an attribute (or Extensions key) the event needs.
    #[error(
        "{msg_type} lacks {attribute}, which EXCP needs to normalize it; check that the sender is \
         SIP Server with call monitoring (or the simulator) and the mapping in excp::tlib_map"
    )]
    Missing {
        /// The message type.
        msg_type: MessageType,
        /// The attribute, or `Extensions.<key>` (with a `[index].<key>` path inside lists).
        attribute: String,
    },
    /// A message of a used type carries an attribute whose value cannot be normalized.
    #[error(
        "{msg_type} has an invalid {attribute}: {problem}; check the sender against the mapping \
         in excp::tlib_map"
    )]
    Invalid {
        /// The message type.
        msg_type: MessageType,
        /// The attribute, or `Extensions.<key>` (with a `[index].<key>` path inside lists).
        attribute: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A field of a normalized event cannot be carried by a TLib message.
    #[error("{event} cannot be sent as TLib: field {field} {problem}")]
    Unrepresentable {
        /// The event (`EventCallCreated`, …).
        event: &'static str,
        /// The field, as a path (`call.callUuid`, `parties[2].state`, …).
        field: String,
        /// What is wrong with it, and what would be accepted.
        problem: String,
    },
}

type Result<T> = std::result::Result<T, TlibMapError>;

// ---------------------------------------------------------------------------------------------
// Enumerations (both ways, public codes)
// ---------------------------------------------------------------------------------------------

fn call_type_code(t: CallType) -> Option<i32> {
    Some(match t {
        CallType::Unknown => 0,
        CallType::Internal => 1,
        CallType::Inbound => 2,
        CallType::Outbound => 3,
        CallType::Consult => 4,
        _ => return None,
    })
}

fn call_type_from_code(code: i32) -> Option<CallType> {
    Some(match code {
        0 => CallType::Unknown,
        1 => CallType::Internal,
        2 => CallType::Inbound,
        3 => CallType::Outbound,
        4 => CallType::Consult,
        _ => return None,
    })
}

fn party_state_code(s: PartyState) -> Option<i32> {
    Some(match s {
        PartyState::Initiated => 0x1,
        PartyState::Queued => 0x9,
        PartyState::Alerting => 0xA,
        PartyState::Busy => 0xB,
        PartyState::Connected => 0xC,
        PartyState::Held => 0xE,
        PartyState::Failed => 0xF,
        _ => return None,
    })
}

/// The base state of a TLib party state (Dialing / Uncertain modifiers ignored).
fn party_state_from_code(code: i32) -> Option<PartyState> {
    Some(match engage_tlib::PartyState(code).kind() {
        PartyStateKind::Initiated => PartyState::Initiated,
        PartyStateKind::Queued => PartyState::Queued,
        PartyStateKind::Alerting => PartyState::Alerting,
        PartyStateKind::Busy => PartyState::Busy,
        PartyStateKind::Connected => PartyState::Connected,
        PartyStateKind::Held => PartyState::Held,
        PartyStateKind::Failed => PartyState::Failed,
        _ => return None,
    })
}

/// TDNRole codes (public: `RoleUnknown` 0 … `RoleObserver` 10).
const ROLE_UNKNOWN: i32 = 0;
const ROLE_ORIGINATION: i32 = 1;
const ROLE_DESTINATION: i32 = 2;
const ROLE_CONFERENCE_MEMBER: i32 = 3;
const ROLE_OBSERVER: i32 = 10;

/// How a role is written: a TDNRole code, or (InterSite) the `EX_PartyRole` marker.
enum RoleOnWire {
    Code(i32),
    InterSite,
}

fn role_on_wire(r: PartyRole) -> Option<RoleOnWire> {
    Some(match r {
        PartyRole::Origination => RoleOnWire::Code(ROLE_ORIGINATION),
        PartyRole::Destination => RoleOnWire::Code(ROLE_DESTINATION),
        PartyRole::ConferenceMember => RoleOnWire::Code(ROLE_CONFERENCE_MEMBER),
        PartyRole::Observer => RoleOnWire::Code(ROLE_OBSERVER),
        PartyRole::InterSite => RoleOnWire::InterSite,
        _ => return None,
    })
}

fn role_from_code(code: i32) -> Option<PartyRole> {
    Some(match code {
        ROLE_UNKNOWN | ROLE_DESTINATION => PartyRole::Destination,
        ROLE_ORIGINATION => PartyRole::Origination,
        ROLE_CONFERENCE_MEMBER => PartyRole::ConferenceMember,
        ROLE_OBSERVER => PartyRole::Observer,
        _ => return None,
    })
}

fn role_code_name(code: i32) -> &'static str {
    match code {
        4 => " (RoleNewParty)",
        5 => " (RoleAddedBy)",
        6 => " (RoleDeletedBy)",
        7 => " (RoleTransferredBy)",
        8 => " (RoleDeletedParty)",
        9 => " (RoleConferencedBy)",
        _ => "",
    }
}

/// Config DB (CfgDNType) codes.
fn dn_type_code(t: DnType) -> Option<i32> {
    Some(match t {
        DnType::Extension => 1,
        DnType::AcdQueue => 3,
        DnType::RoutingPoint => 4,
        DnType::Trunk => 14,
        DnType::Other => 0,
        _ => return None,
    })
}

fn dn_type_from_code(code: i32) -> DnType {
    match code {
        1 => DnType::Extension,
        3 => DnType::AcdQueue,
        4 => DnType::RoutingPoint,
        14 => DnType::Trunk,
        _ => DnType::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// TLib → normalized
// ---------------------------------------------------------------------------------------------

/// Translates one TLib message into the normalized event it reports.
///
/// `Ok(None)` for message types EXCP does not use (anything outside [`USED_TYPES`]). `Err` when
/// a message of a used type lacks a mandatory attribute or carries an invalid one (see the
/// mapping table in the module documentation); the error names the message type and the
/// attribute. Never panics.
pub fn engage_event(msg: &Message) -> Result<Option<EngageEvent>> {
    let t = msg.msg_type();
    if !USED_TYPES.contains(&t) {
        return Ok(None);
    }
    let r = Reader::new(msg)?;
    let ev = match t {
        MessageType::EventQueued => EngageEvent::EventQueued(r.vq_event()?),
        MessageType::EventDiverted => EngageEvent::EventDiverted(r.vq_event()?),
        MessageType::EventUserEvent => EngageEvent::EventUserEvent(r.user_event()?),
        MessageType::EventCallCreated => EngageEvent::EventCallCreated(r.call_created()?),
        MessageType::EventCallDataChanged => EngageEvent::EventCallDataChanged(CallDataChanged {
            call: r.call_ref()?,
            user_data: r.user_data()?,
        }),
        MessageType::EventCallDeleted => EngageEvent::EventCallDeleted(CallDeleted {
            call: r.call_ref()?,
            ctrl_party_id: r.ctrl_party()?,
        }),
        MessageType::EventCallPartyAdded => EngageEvent::EventCallPartyAdded(PartyEvent {
            call: r.call_ref()?,
            party: r.party()?,
        }),
        MessageType::EventCallPartyState => EngageEvent::EventCallPartyState(PartyEvent {
            call: r.call_ref()?,
            party: r.party()?,
        }),
        MessageType::EventCallPartyMoved => EngageEvent::EventCallPartyMoved(PartyMoved {
            call: r.call_ref()?,
            party: r.party()?,
            from_call_uuid: r.required_ext_text(EXT_FROM_CALL_UUID)?,
            from_party_id: r.required_ext_text(EXT_FROM_PARTY_UUID)?,
        }),
        MessageType::EventCallPartyDeleted => EngageEvent::EventCallPartyDeleted(PartyDeleted {
            call: r.call_ref()?,
            party_id: r
                .party_id()?
                .ok_or_else(|| r.missing(AttributeId::PartyUUID.name()))?,
            ctrl_party_id: r.ctrl_party()?,
        }),
        _ => return Ok(None),
    };
    Ok(Some(ev))
}

/// The name of a value's kind, for error messages.
fn value_kind(v: &Value<'_>) -> &'static str {
    match v {
        Value::Int(_) => "an Int",
        Value::Long(_) => "a Long",
        Value::ConnId(_) => "a ConnID",
        Value::Str(_) => "a string",
        Value::Binary(_) => "binary data",
        Value::KvList(_) => "a KV list",
        Value::Raw { .. } => "a raw value",
        _ => "an unknown kind of value",
    }
}

fn kv_kind(v: &KvValueRef<'_>) -> &'static str {
    match v {
        KvValueRef::String(_) => "a String",
        KvValueRef::Int(_) => "an Int",
        KvValueRef::Binary(_) => "Binary",
        KvValueRef::List(_) => "a List",
        KvValueRef::Unicode(_) => "a Unicode string",
        KvValueRef::Long(_) => "a Long",
        KvValueRef::Float(_) => "a Float",
        _ => "an unknown kind of value",
    }
}

/// A KV value as text (String or Unicode); otherwise the problem.
fn kv_text(v: &KvValueRef<'_>) -> std::result::Result<String, String> {
    v.to_text()
        .ok_or_else(|| format!("holds {}, expected a string", kv_kind(v)))
}

fn kv_int(v: &KvValueRef<'_>) -> std::result::Result<i32, String> {
    match v {
        KvValueRef::Int(i) => Ok(*i),
        other => Err(format!("holds {}, expected an Int", kv_kind(other))),
    }
}

/// A party's fields as found on the wire, before validation.
struct RawParty {
    uuid: Option<String>,
    dn: Option<String>,
    state: Option<i32>,
    role: Option<i32>,
    role_name: Option<String>,
    dn_type: Option<i32>,
}

/// Reads the attributes of one message, naming the message type in errors.
struct Reader<'a> {
    msg: &'a Message,
    ext: Option<KvListRef<'a>>,
}

impl<'a> Reader<'a> {
    fn new(msg: &'a Message) -> Result<Self> {
        let mut r = Reader { msg, ext: None };
        r.ext = r.kv(AttributeId::Extensions)?;
        Ok(r)
    }

    fn missing(&self, attribute: &str) -> TlibMapError {
        TlibMapError::Missing {
            msg_type: self.msg.msg_type(),
            attribute: attribute.to_owned(),
        }
    }

    fn invalid(&self, attribute: &str, problem: impl Into<String>) -> TlibMapError {
        TlibMapError::Invalid {
            msg_type: self.msg.msg_type(),
            attribute: attribute.to_owned(),
            problem: problem.into(),
        }
    }

    fn wrong_kind(&self, id: AttributeId, v: &Value<'_>, expected: &str) -> TlibMapError {
        self.invalid(
            id.name(),
            format!("holds {}, expected {expected}", value_kind(v)),
        )
    }

    fn str(&self, id: AttributeId) -> Result<Option<&'a str>> {
        match self.msg.get(id) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(v) => Err(self.wrong_kind(id, &v, "a string")),
        }
    }

    fn required_str(&self, id: AttributeId) -> Result<String> {
        self.str(id)?
            .map(str::to_owned)
            .ok_or_else(|| self.missing(id.name()))
    }

    /// `PartyUUID`, else the party number `PartyID` in decimal.
    fn party_id(&self) -> Result<Option<String>> {
        match self.str(AttributeId::PartyUUID)? {
            Some(uuid) => Ok(Some(uuid.to_owned())),
            None => Ok(self.int(AttributeId::PartyID)?.map(|n| n.to_string())),
        }
    }

    /// `EX_CtrlPartyUUID`, else the party number `CtrlParty` in decimal.
    fn ctrl_party(&self) -> Result<Option<String>> {
        match self.ext_text(EXT_CTRL_PARTY_UUID)? {
            Some(uuid) => Ok(Some(uuid)),
            None => Ok(self.int(AttributeId::CtrlParty)?.map(|n| n.to_string())),
        }
    }

    fn int(&self, id: AttributeId) -> Result<Option<i32>> {
        match self.msg.get(id) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(i)),
            Some(v) => Err(self.wrong_kind(id, &v, "an Int")),
        }
    }

    fn kv(&self, id: AttributeId) -> Result<Option<KvListRef<'a>>> {
        match self.msg.get(id) {
            None => Ok(None),
            Some(Value::KvList(l)) => Ok(Some(l)),
            Some(v) => Err(self.wrong_kind(id, &v, "a KV list")),
        }
    }

    fn call_uuid(&self, id: AttributeId) -> Result<Option<String>> {
        match self.str(id)? {
            None => Ok(None),
            Some(s) if CallUuid::from_ascii(s.as_bytes()).is_ok() => Ok(Some(s.to_owned())),
            Some(s) => Err(self.invalid(
                id.name(),
                format!("{s:?} is not a CallUUID (32 ASCII letters and digits)"),
            )),
        }
    }

    /// `TimeStamp` (epoch µs) as epoch ms.
    fn time(&self) -> Result<u64> {
        let id = AttributeId::TimeStamp;
        let us = match self.msg.get(id) {
            None => return Err(self.missing(id.name())),
            Some(Value::Long(us)) => us,
            Some(v) => return Err(self.wrong_kind(id, &v, "a Long (epoch microseconds)")),
        };
        u64::try_from(us.div_euclid(US_PER_MS)).map_err(|_| {
            self.invalid(
                id.name(),
                format!("{us} µs is before 1970; event times are epoch microseconds"),
            )
        })
    }

    fn conn_id(&self) -> Result<String> {
        let id = AttributeId::ConnID;
        match self.msg.get(id) {
            None => Ok(String::new()),
            Some(Value::ConnId(c)) => Ok(c.to_string()),
            Some(v) => Err(self.wrong_kind(id, &v, "a ConnID")),
        }
    }

    fn links(&self) -> Result<Vec<String>> {
        let Some(list) = self.kv(AttributeId::ISLinkList)? else {
            return Ok(Vec::new());
        };
        list.iter()
            .enumerate()
            .map(|(i, (_, v))| {
                kv_text(&v).map_err(|p| self.invalid(&format!("ISLinkList[{i}]"), p))
            })
            .collect()
    }

    fn user_data(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let Some(list) = self.kv(AttributeId::UserData)? else {
            return Ok(out);
        };
        for (k, v) in list.iter() {
            let text = match v {
                KvValueRef::String(s) => s.to_owned(),
                KvValueRef::Unicode(u) => u.to_string(),
                KvValueRef::Int(i) => i.to_string(),
                KvValueRef::Long(l) => l.to_string(),
                _ => continue,
            };
            out.entry(k.to_owned()).or_insert(text);
        }
        Ok(out)
    }

    fn ext_value(&self, key: &str) -> Option<KvValueRef<'a>> {
        self.ext.and_then(|e| e.get(key))
    }

    fn ext_text(&self, key: &str) -> Result<Option<String>> {
        self.ext_value(key)
            .map(|v| kv_text(&v).map_err(|p| self.invalid(&format!("Extensions.{key}"), p)))
            .transpose()
    }

    fn required_ext_text(&self, key: &str) -> Result<String> {
        self.ext_text(key)?
            .ok_or_else(|| self.missing(&format!("Extensions.{key}")))
    }

    fn ext_int(&self, key: &str) -> Result<Option<i32>> {
        self.ext_value(key)
            .map(|v| kv_int(&v).map_err(|p| self.invalid(&format!("Extensions.{key}"), p)))
            .transpose()
    }

    fn ext_list(&self, key: &str) -> Result<Option<KvListRef<'a>>> {
        match self.ext_value(key) {
            None => Ok(None),
            Some(KvValueRef::List(l)) => Ok(Some(l)),
            Some(v) => Err(self.invalid(
                &format!("Extensions.{key}"),
                format!("holds {}, expected a List", kv_kind(&v)),
            )),
        }
    }

    fn call_ref(&self) -> Result<CallRef> {
        Ok(CallRef {
            time: self.time()?,
            site: self.ext_text(EXT_SITE)?,
            call_uuid: self
                .call_uuid(AttributeId::CallUUID)?
                .ok_or_else(|| self.missing(AttributeId::CallUUID.name()))?,
            conn_id: self.conn_id()?,
            is_link_list: self.links()?,
        })
    }

    fn vq_event(&self) -> Result<VqEvent> {
        let vq = match self.str(AttributeId::ThisDN)? {
            Some(dn) => dn.to_owned(),
            None => self
                .str(AttributeId::ThisQueue)?
                .map(str::to_owned)
                .ok_or_else(|| self.missing(AttributeId::ThisDN.name()))?,
        };
        Ok(VqEvent {
            call: self.call_ref()?,
            vq,
            target_dn: self.str(AttributeId::ThirdPartyDN)?.map(str::to_owned),
        })
    }

    fn user_event(&self) -> Result<UserEvent> {
        let participants = match self.ext_list(EXT_PARTICIPANTS)? {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .enumerate()
                .map(|(i, (_, v))| {
                    kv_text(&v).map_err(|p| {
                        self.invalid(&format!("Extensions.{EXT_PARTICIPANTS}[{i}]"), p)
                    })
                })
                .collect::<Result<_>>()?,
        };
        Ok(UserEvent {
            time: self.time()?,
            site: self.ext_text(EXT_SITE)?,
            dn: self.required_str(AttributeId::ThisDN)?,
            call_uuid: self.call_uuid(AttributeId::CallUUID)?,
            conn_id: self.conn_id()?,
            participants,
            user_data: self.user_data()?,
        })
    }

    fn call_created(&self) -> Result<CallCreated> {
        let call_type = match self.int(AttributeId::CallType)? {
            None => CallType::Unknown,
            Some(code) => call_type_from_code(code).ok_or_else(|| {
                self.invalid(
                    AttributeId::CallType.name(),
                    format!(
                        "{code} is not a call type (Unknown 0, Internal 1, Inbound 2, \
                         Outbound 3, Consult 4)"
                    ),
                )
            })?,
        };
        // A consult call's main call: `EX_MainCallUUID` when present (empty: none), else, on a
        // consult call, the public `OrigCallUUID` (the public call definition's meaning).
        let orig = self.call_uuid(AttributeId::OrigCallUUID)?;
        let (main_call_uuid, orig_call_uuid) = match self.ext_text(EXT_MAIN_CALL_UUID)? {
            Some(m) if m.is_empty() => (None, orig),
            Some(m) => (Some(m), orig),
            None if call_type == CallType::Consult => (orig, None),
            None => (None, orig),
        };
        Ok(CallCreated {
            call: self.call_ref()?,
            call_type,
            main_call_uuid,
            orig_call_uuid,
            ani: self.str(AttributeId::ANI)?.map(str::to_owned),
            dnis: self.str(AttributeId::DNIS)?.map(str::to_owned),
            user_data: self.user_data()?,
            parties: self.parties()?,
        })
    }

    /// The party of a party event: attributes plus two Extensions keys.
    fn party(&self) -> Result<Party> {
        let raw = RawParty {
            uuid: self.party_id()?,
            dn: self.str(AttributeId::ThisDN)?.map(str::to_owned),
            state: self.int(AttributeId::PartyState)?,
            role: self.int(AttributeId::ThisDNRole)?,
            role_name: self.ext_text(EXT_PARTY_ROLE)?,
            dn_type: self.ext_int(EXT_DN_TYPE)?,
        };
        self.validate_party(raw, "", "Extensions.")
    }

    /// The parties of `EX_Parties` (EventCallCreated).
    fn parties(&self) -> Result<Vec<Party>> {
        let Some(list) = self.ext_list(EXT_PARTIES)? else {
            return Ok(Vec::new());
        };
        list.iter()
            .enumerate()
            .map(|(i, (_, v))| {
                let at = format!("Extensions.{EXT_PARTIES}[{i}]");
                let KvValueRef::List(p) = v else {
                    return Err(
                        self.invalid(&at, format!("holds {}, expected a List", kv_kind(&v)))
                    );
                };
                let prefix = format!("{at}.");
                let text = |key: &str| {
                    p.get(key)
                        .map(|v| {
                            kv_text(&v).map_err(|e| self.invalid(&format!("{prefix}{key}"), e))
                        })
                        .transpose()
                };
                let int = |key: &str| {
                    p.get(key)
                        .map(|v| kv_int(&v).map_err(|e| self.invalid(&format!("{prefix}{key}"), e)))
                        .transpose()
                };
                let raw = RawParty {
                    uuid: text(P_UUID)?,
                    dn: text(P_DN)?,
                    state: int(P_STATE)?,
                    role: int(P_ROLE)?,
                    role_name: text(EXT_PARTY_ROLE)?,
                    dn_type: int(EXT_DN_TYPE)?,
                };
                self.validate_party(raw, &prefix, &prefix)
            })
            .collect()
    }

    /// Checks a party; `at` prefixes attribute names in errors, `ext_at` the Extensions keys.
    fn validate_party(&self, raw: RawParty, at: &str, ext_at: &str) -> Result<Party> {
        let party_id = raw
            .uuid
            .ok_or_else(|| self.missing(&format!("{at}{P_UUID}")))?;
        let dn = raw.dn.ok_or_else(|| self.missing(&format!("{at}{P_DN}")))?;
        let code = raw
            .state
            .ok_or_else(|| self.missing(&format!("{at}{P_STATE}")))?;
        let state = party_state_from_code(code).ok_or_else(|| {
            self.invalid(
                &format!("{at}{P_STATE}"),
                format!(
                    "{code:#x} is not a party state (Initiated 0x1, Queued 0x9, Alerting 0xA, \
                     Busy 0xB, Connected 0xC, Held 0xE, Failed 0xF, optionally with Dialing \
                     0x10000 / Uncertain 0x20000)"
                ),
            )
        })?;
        let role = match (raw.role_name, raw.role) {
            (Some(name), _) if name == INTER_SITE => PartyRole::InterSite,
            (Some(name), _) => {
                return Err(self.invalid(
                    &format!("{ext_at}{EXT_PARTY_ROLE}"),
                    format!("{name:?} is not a role marker (only \"{INTER_SITE}\" is defined)"),
                ));
            }
            (None, None) => PartyRole::Destination,
            (None, Some(code)) => role_from_code(code).ok_or_else(|| {
                self.invalid(
                    &format!("{at}{P_ROLE}"),
                    format!(
                        "{code}{} has no normalized role (RoleUnknown 0, RoleOrigination 1, \
                         RoleDestination 2, RoleConferenceMember 3, RoleObserver 10)",
                        role_code_name(code)
                    ),
                )
            })?,
        };
        Ok(Party {
            party_id,
            dn,
            dn_type: raw.dn_type.map_or(DnType::Other, dn_type_from_code),
            role,
            state,
        })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::excp::scenario::Scenario;
    use engage_tlib::wire::encode_with;
    use engage_tlib::{AttrInput, KvValue, WireConfig, decode_bytes};
    use proptest::prelude::*;

    const UUID_A: &str = "QK59HK4FS927D7FUU41G6IE468000004";
    const UUID_B: &str = "QK59HK4FS927D7FUU41G6IE468000005";

    /// Encodes with the wire codec (extended packets allowed), decodes, and maps.
    fn through_codec(msg: &Message) -> Result<Option<EngageEvent>> {
        let config = WireConfig::default();
        let mut buf = Default::default();
        encode_with(msg, &config, &mut buf).expect("a mapped message encodes");
        let back = decode_bytes(buf.freeze(), &config).expect("an encoded message decodes");
        assert_eq!(&back, msg, "the codec changed the message");
        engage_event(&back)
    }

    fn scenario_events() -> Vec<(String, EngageEvent)> {
        let all = Scenario::load_dir(&Scenario::project_dir()).unwrap();
        assert!(!all.is_empty());
        all.iter()
            .flat_map(|(path, s)| {
                let name = path.display().to_string();
                s.events().map(move |e| (name.clone(), e.clone()))
            })
            .collect()
    }

    #[test]
    fn every_scenario_event_round_trips() {
        let events = scenario_events();
        assert!(events.len() > 200, "{} events", events.len());
        let mut seen = std::collections::BTreeSet::new();
        for (file, e) in &events {
            let msg = tlib_message(e).unwrap_or_else(|err| panic!("{file}: {err}"));
            seen.insert(msg.msg_type().as_u32());
            assert_eq!(
                engage_event(&msg).unwrap_or_else(|err| panic!("{file}: {err}")),
                Some(e.clone()),
                "{file}"
            );
        }
        // The scenario files exercise every used message type.
        assert_eq!(seen.len(), USED_TYPES.len(), "{seen:?}");
    }

    #[test]
    fn every_scenario_event_round_trips_through_the_codec() {
        for (file, e) in scenario_events() {
            let msg = tlib_message(&e).unwrap();
            assert_eq!(
                through_codec(&msg).unwrap_or_else(|err| panic!("{file}: {err}")),
                Some(e),
                "{file}"
            );
        }
    }

    #[test]
    fn unused_message_types_are_none() {
        let base = Message::builder(MessageType::EventCallPartyAdded)
            .time_stamp(1)
            .call_uuid(UUID_A.parse().unwrap());
        for t in MessageType::ALL
            .iter()
            .copied()
            .chain([MessageType::Unknown(4242)])
        {
            let mut b = Message::builder(t);
            for (id, v) in base.clone().build().attributes() {
                b = b.try_attr(id, v.into()).unwrap();
            }
            let m = b.build();
            if USED_TYPES.contains(&t) {
                assert_ne!(engage_event(&m), Ok(None), "{t}: a used type");
            } else {
                assert_eq!(engage_event(&m), Ok(None), "{t}");
            }
        }
        for (name, m) in engage_tlib::fuzzing::seed_messages() {
            if !USED_TYPES.contains(&m.msg_type()) {
                assert_eq!(engage_event(&m), Ok(None), "{name}");
            }
        }
    }

    fn party_added() -> MessageBuilder {
        Message::builder(MessageType::EventCallPartyAdded)
            .time_stamp(1_764_000_000_123_456)
            .call_uuid(UUID_A.parse().unwrap())
            .conn_id(ConnId(0x0077_028a_809f_7004))
            .party_uuid("p1")
            .this_dn("7001")
            .party_state(engage_tlib::PartyState(0xA))
    }

    #[test]
    fn a_real_looking_party_event_maps_with_defaults() {
        let e = engage_event(&party_added().build()).unwrap().unwrap();
        let EngageEvent::EventCallPartyAdded(p) = e else {
            panic!("{e:?}")
        };
        // Microseconds to milliseconds, rounded down.
        assert_eq!(p.call.time, 1_764_000_000_123);
        assert_eq!(p.call.conn_id, "0077028a809f7004");
        assert_eq!(p.call.site, None);
        assert!(p.call.is_link_list.is_empty());
        assert_eq!(
            p.party,
            Party {
                party_id: "p1".into(),
                dn: "7001".into(),
                dn_type: DnType::Other,
                role: PartyRole::Destination,
                state: PartyState::Alerting,
            }
        );
    }

    #[test]
    fn missing_mandatory_attributes_are_named() {
        let cases: [(MessageBuilder, &str); 4] = [
            (
                Message::builder(MessageType::EventCallDeleted).time_stamp(5),
                "CallUUID",
            ),
            (
                Message::builder(MessageType::EventCallDeleted).call_uuid(UUID_A.parse().unwrap()),
                "TimeStamp",
            ),
            (
                Message::builder(MessageType::EventUserEvent).time_stamp(5),
                "ThisDN",
            ),
            (
                Message::builder(MessageType::EventCallPartyMoved)
                    .time_stamp(5)
                    .call_uuid(UUID_A.parse().unwrap())
                    .party_uuid("p1")
                    .this_dn("7001")
                    .party_state(engage_tlib::PartyState(0xC)),
                "Extensions.EX_FromCallUUID",
            ),
        ];
        for (b, attribute) in cases {
            let m = b.build();
            let err = engage_event(&m).unwrap_err();
            assert_eq!(
                err,
                TlibMapError::Missing {
                    msg_type: m.msg_type(),
                    attribute: attribute.into()
                }
            );
            let text = err.to_string();
            assert!(text.contains(attribute) && text.contains("check"), "{text}");
        }
        // A party without a state, inside EX_Parties.
        let ext = KvList::new().with(
            EXT_PARTIES,
            KvList::new().with(
                PARTY_KEY,
                KvList::new().with(P_UUID, "p1").with(P_DN, "7001"),
            ),
        );
        let m = Message::builder(MessageType::EventCallCreated)
            .time_stamp(5)
            .call_uuid(UUID_A.parse().unwrap())
            .extensions(&ext)
            .build();
        assert_eq!(
            engage_event(&m).unwrap_err(),
            TlibMapError::Missing {
                msg_type: MessageType::EventCallCreated,
                attribute: "Extensions.EX_Parties[0].PartyState".into()
            }
        );
    }

    #[test]
    fn invalid_attributes_are_named() {
        let invalid = |m: Message| match engage_event(&m) {
            Err(TlibMapError::Invalid { attribute, .. }) => attribute,
            other => panic!("{other:?}"),
        };
        // A party event: `first` goes in front, so it wins over the complete event's attributes.
        let party = |first: MessageBuilder| {
            let mut b = first;
            for (id, v) in party_added().build().attributes() {
                b = b.try_attr(id, v.into()).unwrap();
            }
            b.build()
        };
        let state = MessageType::EventCallPartyState;
        assert_eq!(
            invalid(party(Message::builder(state).time_stamp(-1))),
            "TimeStamp"
        );
        assert_eq!(
            invalid(party(
                Message::builder(state).party_state(engage_tlib::PartyState(0x5))
            )),
            "PartyState"
        );
        assert_eq!(
            invalid(party(Message::builder(state).this_dn_role(4))),
            "ThisDNRole"
        );
        assert_eq!(
            invalid(party(
                Message::builder(state).extensions(&KvList::new().with(EXT_PARTY_ROLE, "Boss"))
            )),
            "Extensions.EX_PartyRole"
        );
        assert_eq!(
            invalid(party(
                Message::builder(state).extensions(&KvList::new().with(EXT_DN_TYPE, "Trunk"))
            )),
            "Extensions.EX_DNType"
        );
        let created = |first: MessageBuilder| {
            first
                .time_stamp(1_000)
                .call_uuid(UUID_A.parse().unwrap())
                .build()
        };
        let call_created = MessageType::EventCallCreated;
        let bad_type =
            created(Message::builder(call_created).call_type(engage_tlib::CallType::from_i32(9)));
        assert_eq!(invalid(bad_type.clone()), "CallType");
        let text = engage_event(&bad_type).unwrap_err().to_string();
        assert!(
            text.contains("EventCallCreated(160)") && text.contains("9 is not a call type"),
            "{text}"
        );
        assert_eq!(
            invalid(created(
                Message::builder(call_created).is_link_list(&KvList::new().with("SiteB", 7))
            )),
            "ISLinkList[0]"
        );
        assert_eq!(
            invalid(created(Message::builder(call_created).extensions(
                &KvList::new().with(EXT_PARTIES, KvList::new().with("x", 1))
            ))),
            "Extensions.EX_Parties[0]"
        );
    }

    #[test]
    fn a_consult_calls_main_call_travels_in_orig_call_uuid() {
        let base = CallCreated {
            call: CallRef {
                time: 1_000,
                call_uuid: UUID_A.into(),
                ..CallRef::default()
            },
            call_type: CallType::Consult,
            ..CallCreated::default()
        };
        // Main call only: the public OrigCallUUID, no Extensions key.
        let main_only = CallCreated {
            main_call_uuid: Some(UUID_B.into()),
            ..base.clone()
        };
        let m = tlib_message(&EngageEvent::EventCallCreated(main_only.clone())).unwrap();
        assert_eq!(
            m.orig_call_uuid().map(|u| u.to_string()),
            Some(UUID_B.to_string())
        );
        assert_eq!(
            engage_event(&m).unwrap(),
            Some(EngageEvent::EventCallCreated(main_only))
        );
        // As a real SIP Server sends it: CallType Consult with OrigCallUUID.
        let real = Message::builder(MessageType::EventCallCreated)
            .time_stamp(1_000_000)
            .call_uuid(UUID_A.parse().unwrap())
            .call_type(engage_tlib::CallType::from_i32(4))
            .orig_call_uuid(UUID_B.parse().unwrap())
            .build();
        match engage_event(&real).unwrap() {
            Some(EngageEvent::EventCallCreated(c)) => {
                assert_eq!(c.main_call_uuid.as_deref(), Some(UUID_B));
                assert_eq!(c.orig_call_uuid, None);
            }
            other => panic!("{other:?}"),
        }
        // A consult leg with only a multi-site origin keeps it as the origin.
        let orig_only = CallCreated {
            orig_call_uuid: Some(UUID_B.into()),
            ..base.clone()
        };
        let m = tlib_message(&EngageEvent::EventCallCreated(orig_only.clone())).unwrap();
        assert_eq!(
            engage_event(&m).unwrap(),
            Some(EngageEvent::EventCallCreated(orig_only))
        );
        // Both: main in Extensions, origin in OrigCallUUID.
        let both = CallCreated {
            main_call_uuid: Some(UUID_B.into()),
            orig_call_uuid: Some(UUID_A.into()),
            ..base.clone()
        };
        let m = tlib_message(&EngageEvent::EventCallCreated(both.clone())).unwrap();
        assert_eq!(
            engage_event(&m).unwrap(),
            Some(EngageEvent::EventCallCreated(both))
        );
        let empty = CallCreated {
            main_call_uuid: Some(String::new()),
            ..base
        };
        assert!(tlib_message(&EngageEvent::EventCallCreated(empty)).is_err());
    }

    #[test]
    fn public_codes_are_pinned() {
        for (t, code) in [
            (CallType::Unknown, 0),
            (CallType::Internal, 1),
            (CallType::Inbound, 2),
            (CallType::Outbound, 3),
            (CallType::Consult, 4),
        ] {
            assert_eq!(call_type_code(t), Some(code));
            assert_eq!(call_type_from_code(code), Some(t));
        }
        assert_eq!(call_type_from_code(5), None);
        for (s, code) in [
            (PartyState::Initiated, 0x1),
            (PartyState::Queued, 0x9),
            (PartyState::Alerting, 0xA),
            (PartyState::Busy, 0xB),
            (PartyState::Connected, 0xC),
            (PartyState::Held, 0xE),
            (PartyState::Failed, 0xF),
        ] {
            assert_eq!(party_state_code(s), Some(code));
            assert_eq!(party_state_from_code(code), Some(s));
            // The Dialing and Uncertain modifiers do not change the base state.
            assert_eq!(party_state_from_code(code | 0x30000), Some(s));
        }
        assert_eq!(party_state_from_code(0xD), None);
        for (r, code) in [
            (PartyRole::Origination, 1),
            (PartyRole::Destination, 2),
            (PartyRole::ConferenceMember, 3),
            (PartyRole::Observer, 10),
        ] {
            assert!(matches!(role_on_wire(r), Some(RoleOnWire::Code(c)) if c == code));
            assert_eq!(role_from_code(code), Some(r));
        }
        assert!(matches!(
            role_on_wire(PartyRole::InterSite),
            Some(RoleOnWire::InterSite)
        ));
        assert_eq!(role_from_code(0), Some(PartyRole::Destination));
        assert_eq!(role_from_code(4), None);
        for (t, code) in [
            (DnType::Extension, 1),
            (DnType::AcdQueue, 3),
            (DnType::RoutingPoint, 4),
            (DnType::Trunk, 14),
            (DnType::Other, 0),
        ] {
            assert_eq!(dn_type_code(t), Some(code));
            assert_eq!(dn_type_from_code(code), t);
        }
        assert_eq!(dn_type_from_code(5), DnType::Other);
    }

    #[test]
    fn times_are_microseconds() {
        let e = EngageEvent::EventCallDeleted(CallDeleted {
            call: CallRef {
                time: 1_764_000_000_123,
                call_uuid: UUID_A.into(),
                ..Default::default()
            },
            ctrl_party_id: None,
        });
        let m = tlib_message(&e).unwrap();
        assert_eq!(m.time_stamp(), Some(1_764_000_000_123_000));
        assert_eq!(engage_event(&m).unwrap(), Some(e));
        let max = i64::MAX / 1000;
        for (ms, ok) in [
            (0, true),
            (max as u64, true),
            (max as u64 + 1, false),
            (u64::MAX, false),
        ] {
            let e = EngageEvent::EventUserEvent(UserEvent {
                time: ms,
                dn: "7001".into(),
                ..Default::default()
            });
            match tlib_message(&e) {
                Ok(m) => {
                    assert!(ok, "{ms}");
                    assert_eq!(engage_event(&m).unwrap(), Some(e));
                }
                Err(TlibMapError::Unrepresentable { field, .. }) => {
                    assert!(!ok, "{ms}");
                    assert_eq!(field, "time");
                }
                Err(other) => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn unrepresentable_fields_are_named() {
        let field = |e: EngageEvent| match tlib_message(&e) {
            Err(TlibMapError::Unrepresentable { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let call = |uuid: &str, conn: &str| CallRef {
            time: 1,
            call_uuid: uuid.into(),
            conn_id: conn.into(),
            ..Default::default()
        };
        assert_eq!(
            field(EngageEvent::EventCallDeleted(CallDeleted {
                call: call("CALL1", ""),
                ctrl_party_id: None
            })),
            "call.callUuid"
        );
        assert_eq!(
            field(EngageEvent::EventCallDeleted(CallDeleted {
                call: call(UUID_A, "0077028A809F7004"),
                ctrl_party_id: None
            })),
            "call.connId"
        );
        assert_eq!(
            field(EngageEvent::EventCallCreated(CallCreated {
                call: call(UUID_A, "0077028a809f7004"),
                orig_call_uuid: Some("short".into()),
                ..Default::default()
            })),
            "origCallUuid"
        );
        assert_eq!(
            field(EngageEvent::EventUserEvent(UserEvent {
                dn: "7001".into(),
                call_uuid: Some("x".into()),
                ..Default::default()
            })),
            "callUuid"
        );
        let mut long_key = BTreeMap::new();
        long_key.insert("k".repeat(KV_MAX + 1), "v".to_owned());
        assert_eq!(
            field(EngageEvent::EventCallDataChanged(CallDataChanged {
                call: call(UUID_A, ""),
                user_data: long_key
            })),
            "userData"
        );
        let err = tlib_message(&EngageEvent::EventCallDeleted(CallDeleted {
            call: call("CALL1", ""),
            ctrl_party_id: None,
        }))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("EventCallDeleted") && err.contains("32 ASCII"),
            "{err}"
        );
    }

    #[test]
    fn user_data_values_become_text() {
        let ud = KvList::new()
            .with("s", "text")
            .with("u", KvValue::Unicode("Grüße".into()))
            .with("i", -3)
            .with("l", KvValue::Long(9_000_000_000))
            .with("f", KvValue::Float(2.5))
            .with("b", vec![1u8, 2])
            .with("n", KvList::new().with("x", "y"))
            .with("s", "second")
            .with("b", "after a skipped value");
        let m = Message::builder(MessageType::EventCallDataChanged)
            .time_stamp(1_000)
            .call_uuid(UUID_A.parse().unwrap())
            .user_data(&ud)
            .build();
        let Some(EngageEvent::EventCallDataChanged(e)) = engage_event(&m).unwrap() else {
            panic!()
        };
        let expected: BTreeMap<String, String> = [
            ("s", "text"),
            ("u", "Grüße"),
            ("i", "-3"),
            ("l", "9000000000"),
            ("b", "after a skipped value"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(e.user_data, expected);
    }

    #[test]
    fn tlib_sample_messages_map() {
        // tlib's realistic call-created sample: ISLinkList values are link ids.
        let (_, m) = engage_tlib::fuzzing::seed_messages()
            .into_iter()
            .find(|(n, _)| *n == "call_created_islinks")
            .unwrap();
        let m = m.to_builder().time_stamp(2_000_000).build();
        let Some(EngageEvent::EventCallCreated(c)) = engage_event(&m).unwrap() else {
            panic!()
        };
        assert_eq!(c.call.is_link_list, vec!["0077028a809f7099".to_owned()]);
        assert_eq!(c.orig_call_uuid.as_deref(), Some(UUID_A));
        assert_eq!(c.call.time, 2_000);
        assert_eq!(c.call_type, CallType::Unknown);
        assert_eq!(
            c.user_data.get("Long").map(String::as_str),
            Some("9000000000")
        );
        // tlib's party-added sample names no party: PartyUUID is mandatory.
        let sample = engage_tlib::fuzzing::sample_call_party_added();
        assert_eq!(
            engage_event(&sample),
            Err(TlibMapError::Missing {
                msg_type: MessageType::EventCallPartyAdded,
                attribute: "PartyUUID".into()
            })
        );
        // With a party number it maps (PartyID in decimal).
        let numbered = sample.to_builder().party_id(3).build();
        let Some(EngageEvent::EventCallPartyAdded(p)) = engage_event(&numbered).unwrap() else {
            panic!()
        };
        assert_eq!(p.call.time, 1_764_000_000_123);
        assert_eq!(p.party.party_id, "3");
        assert_eq!(p.party.dn, "5001");
        assert_eq!(p.party.state, PartyState::Alerting);
        // tlib's party-deleted sample: PartyID 1, CtrlParty 2.
        let (_, m) = engage_tlib::fuzzing::seed_messages()
            .into_iter()
            .find(|(n, _)| *n == "call_party_deleted")
            .unwrap();
        let m = m.to_builder().time_stamp(7_000).build();
        let Some(EngageEvent::EventCallPartyDeleted(d)) = engage_event(&m).unwrap() else {
            panic!()
        };
        assert_eq!(d.party_id, "1");
        assert_eq!(d.ctrl_party_id.as_deref(), Some("2"));
        assert_eq!(d.call.conn_id, "0077028a809f7004");
    }

    // ----- generated events -----

    fn text() -> BoxedStrategy<String> {
        prop_oneof![
            3 => "[a-zA-Z0-9+_]{0,10}",
            1 => any::<String>(),
        ]
        .boxed()
    }

    fn call_uuid() -> BoxedStrategy<String> {
        prop_oneof![8 => "[A-Za-z0-9]{32}", 1 => text(), 1 => "[A-Za-z0-9]{31,33}"].boxed()
    }

    fn conn_id() -> BoxedStrategy<String> {
        prop_oneof![
            2 => Just(String::new()),
            6 => "[0-9a-f]{16}",
            1 => "[0-9a-fA-F]{16}",
            1 => text(),
        ]
        .boxed()
    }

    fn time() -> BoxedStrategy<u64> {
        prop_oneof![8 => 0u64..4_000_000_000_000, 1 => any::<u64>(), 1 => Just(i64::MAX as u64 / 1000)]
        .boxed()
    }

    fn call_ref() -> BoxedStrategy<CallRef> {
        (
            time(),
            proptest::option::of(text()),
            call_uuid(),
            conn_id(),
            proptest::collection::vec(text(), 0..3),
        )
            .prop_map(|(time, site, call_uuid, conn_id, is_link_list)| CallRef {
                time,
                site,
                call_uuid,
                conn_id,
                is_link_list,
            })
            .boxed()
    }

    fn party() -> BoxedStrategy<Party> {
        (
            text(),
            text(),
            prop_oneof![
                Just(DnType::Extension),
                Just(DnType::RoutingPoint),
                Just(DnType::Trunk),
                Just(DnType::AcdQueue),
                Just(DnType::Other),
            ],
            prop_oneof![
                Just(PartyRole::Origination),
                Just(PartyRole::Destination),
                Just(PartyRole::ConferenceMember),
                Just(PartyRole::Observer),
                Just(PartyRole::InterSite),
            ],
            prop_oneof![
                Just(PartyState::Initiated),
                Just(PartyState::Queued),
                Just(PartyState::Alerting),
                Just(PartyState::Busy),
                Just(PartyState::Connected),
                Just(PartyState::Held),
                Just(PartyState::Failed),
            ],
        )
            .prop_map(|(party_id, dn, dn_type, role, state)| Party {
                party_id,
                dn,
                dn_type,
                role,
                state,
            })
            .boxed()
    }

    fn user_data() -> BoxedStrategy<BTreeMap<String, String>> {
        proptest::collection::btree_map(text(), text(), 0..4).boxed()
    }

    fn event() -> BoxedStrategy<EngageEvent> {
        let vq = (
            call_ref(),
            text(),
            proptest::option::of(text()),
            any::<bool>(),
        )
            .prop_map(|(call, vq, target_dn, queued)| {
                let e = VqEvent {
                    call,
                    vq,
                    target_dn,
                };
                if queued {
                    EngageEvent::EventQueued(e)
                } else {
                    EngageEvent::EventDiverted(e)
                }
            });
        let user = (
            time(),
            proptest::option::of(text()),
            text(),
            proptest::option::of(call_uuid()),
            conn_id(),
            proptest::collection::vec(text(), 0..3),
            user_data(),
        )
            .prop_map(
                |(time, site, dn, call_uuid, conn_id, participants, user_data)| {
                    EngageEvent::EventUserEvent(UserEvent {
                        time,
                        site,
                        dn,
                        call_uuid,
                        conn_id,
                        participants,
                        user_data,
                    })
                },
            );
        let created = (
            call_ref(),
            prop_oneof![
                Just(CallType::Unknown),
                Just(CallType::Internal),
                Just(CallType::Inbound),
                Just(CallType::Outbound),
                Just(CallType::Consult),
            ],
            proptest::option::of(text()),
            proptest::option::of(call_uuid()),
            proptest::option::of(text()),
            proptest::option::of(text()),
            user_data(),
            proptest::collection::vec(party(), 0..4),
        )
            .prop_map(
                |(
                    call,
                    call_type,
                    main_call_uuid,
                    orig_call_uuid,
                    ani,
                    dnis,
                    user_data,
                    parties,
                )| {
                    EngageEvent::EventCallCreated(CallCreated {
                        call,
                        call_type,
                        main_call_uuid,
                        orig_call_uuid,
                        ani,
                        dnis,
                        user_data,
                        parties,
                    })
                },
            );
        let changed = (call_ref(), user_data()).prop_map(|(call, user_data)| {
            EngageEvent::EventCallDataChanged(CallDataChanged { call, user_data })
        });
        let deleted = (call_ref(), proptest::option::of(text())).prop_map(|(call, ctrl)| {
            EngageEvent::EventCallDeleted(CallDeleted {
                call,
                ctrl_party_id: ctrl,
            })
        });
        let party_ev = (call_ref(), party(), any::<bool>()).prop_map(|(call, party, added)| {
            let e = PartyEvent { call, party };
            if added {
                EngageEvent::EventCallPartyAdded(e)
            } else {
                EngageEvent::EventCallPartyState(e)
            }
        });
        let moved = (call_ref(), party(), text(), text()).prop_map(
            |(call, party, from_call_uuid, from_party_id)| {
                EngageEvent::EventCallPartyMoved(PartyMoved {
                    call,
                    party,
                    from_call_uuid,
                    from_party_id,
                })
            },
        );
        let party_deleted = (call_ref(), text(), proptest::option::of(text())).prop_map(
            |(call, party_id, ctrl_party_id)| {
                EngageEvent::EventCallPartyDeleted(PartyDeleted {
                    call,
                    party_id,
                    ctrl_party_id,
                })
            },
        );
        prop_oneof![
            vq,
            user,
            created,
            changed,
            deleted,
            party_ev,
            moved,
            party_deleted
        ]
        .boxed()
    }

    /// Whether TLib can carry the event, decided independently of `tlib_message`.
    fn representable(e: &EngageEvent) -> bool {
        let uuid_ok = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric());
        let conn_ok = |s: &str| {
            s.is_empty()
                || (s.len() == 16
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        };
        let time_ok = |t: u64| t <= (i64::MAX / 1000) as u64;
        let call_ok = |c: &CallRef| uuid_ok(&c.call_uuid) && conn_ok(&c.conn_id) && time_ok(c.time);
        match e {
            EngageEvent::EventUserEvent(u) => {
                time_ok(u.time) && conn_ok(&u.conn_id) && u.call_uuid.as_deref().is_none_or(uuid_ok)
            }
            EngageEvent::EventCallCreated(c) => {
                call_ok(&c.call)
                    && c.orig_call_uuid.as_deref().is_none_or(uuid_ok)
                    && c.main_call_uuid.as_deref() != Some("")
            }
            other => other.call_ref().is_some_and(call_ok),
        }
    }

    /// Makes the call-model fuzzer's ids valid TLib ids (its CallUUIDs are `CALL<n>`).
    fn pad_call_uuids(e: &mut EngageEvent) {
        let pad = |s: &mut String| *s = format!("{s:0<32}");
        match e {
            EngageEvent::EventQueued(v) | EngageEvent::EventDiverted(v) => {
                pad(&mut v.call.call_uuid)
            }
            EngageEvent::EventUserEvent(u) => {
                if let Some(c) = &mut u.call_uuid {
                    pad(c);
                }
            }
            EngageEvent::EventCallCreated(c) => pad(&mut c.call.call_uuid),
            EngageEvent::EventCallDataChanged(c) => pad(&mut c.call.call_uuid),
            EngageEvent::EventCallDeleted(c) => pad(&mut c.call.call_uuid),
            EngageEvent::EventCallPartyAdded(p) | EngageEvent::EventCallPartyState(p) => {
                pad(&mut p.call.call_uuid)
            }
            EngageEvent::EventCallPartyMoved(p) => pad(&mut p.call.call_uuid),
            EngageEvent::EventCallPartyDeleted(p) => pad(&mut p.call.call_uuid),
            _ => {}
        }
    }

    /// Arbitrary KV lists, including this module's keys with values of any kind.
    fn kv_list() -> BoxedStrategy<KvList> {
        let key = prop_oneof![
            Just(EXT_SITE.to_owned()),
            Just(EXT_MAIN_CALL_UUID.to_owned()),
            Just(EXT_PARTIES.to_owned()),
            Just(EXT_PARTICIPANTS.to_owned()),
            Just(EXT_DN_TYPE.to_owned()),
            Just(EXT_PARTY_ROLE.to_owned()),
            Just(EXT_CTRL_PARTY_UUID.to_owned()),
            Just(EXT_FROM_CALL_UUID.to_owned()),
            Just(EXT_FROM_PARTY_UUID.to_owned()),
            Just(P_UUID.to_owned()),
            Just(P_DN.to_owned()),
            Just(P_STATE.to_owned()),
            Just(P_ROLE.to_owned()),
            Just(INTER_SITE.to_owned()),
            text(),
        ];
        let leaf = prop_oneof![
            text().prop_map(KvValue::String),
            text().prop_map(KvValue::Unicode),
            any::<i32>().prop_map(KvValue::Int),
            prop_oneof![Just(0xC), Just(0x1000A), Just(10), Just(14)].prop_map(KvValue::Int),
            any::<i64>().prop_map(KvValue::Long),
            any::<f64>().prop_map(KvValue::Float),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(KvValue::Binary),
        ];
        let value = leaf.prop_recursive(3, 24, 4, move |inner| {
            proptest::collection::vec(("[A-Za-z]{0,4}", inner), 0..4).prop_map(|pairs| {
                let mut l = KvList::new();
                for (k, v) in pairs {
                    l.push(k, v);
                }
                KvValue::List(l)
            })
        });
        proptest::collection::vec((key, value), 0..5)
            .prop_map(|pairs| {
                let mut l = KvList::new();
                for (k, v) in pairs {
                    l.push(k, v);
                }
                l
            })
            .boxed()
    }

    /// One attribute of arbitrary kind and value (kind mismatches are skipped when building).
    #[derive(Debug, Clone)]
    enum Attr {
        Int(i32),
        Long(i64),
        Conn(u64),
        Str(String),
        Kv(KvList),
    }

    fn attr() -> BoxedStrategy<(AttributeId, Attr)> {
        let ids: Vec<AttributeId> = AttributeId::ALL.to_vec();
        (
            proptest::sample::select(ids),
            prop_oneof![
                any::<i32>().prop_map(Attr::Int),
                prop_oneof![Just(0xC), Just(0x2000E), Just(3), Just(4), Just(10)]
                    .prop_map(Attr::Int),
                any::<i64>().prop_map(Attr::Long),
                any::<u64>().prop_map(Attr::Conn),
                call_uuid().prop_map(Attr::Str),
                text().prop_map(Attr::Str),
                kv_list().prop_map(Attr::Kv),
            ],
        )
            .boxed()
    }

    fn add(b: MessageBuilder, id: AttributeId, a: &Attr) -> MessageBuilder {
        let input = match a {
            Attr::Int(i) => AttrInput::Int(*i),
            Attr::Long(l) => AttrInput::Long(*l),
            Attr::Conn(c) => AttrInput::ConnId(ConnId(*c)),
            Attr::Str(s) => AttrInput::Str(s),
            Attr::Kv(l) => AttrInput::KvList(l),
        };
        match b.clone().try_attr(id, input) {
            Ok(b) => b,
            Err(_) => b,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// Generated events: refused exactly when TLib cannot carry them, else an exact round
        /// trip (in memory and through the codec).
        #[test]
        fn generated_events_round_trip_or_are_refused(e in event()) {
            match tlib_message(&e) {
                Ok(m) => {
                    prop_assert!(representable(&e), "accepted {e:?}");
                    prop_assert_eq!(engage_event(&m), Ok(Some(e.clone())));
                    prop_assert_eq!(through_codec(&m), Ok(Some(e)));
                }
                Err(err) => {
                    prop_assert!(!representable(&e), "refused {e:?}: {err}");
                    let refused_with_field = matches!(err, TlibMapError::Unrepresentable { .. });
                    prop_assert!(refused_with_field, "{err:?}");
                }
            }
        }

        /// The call model's fuzz events: either refused or exact; with their CallUUIDs padded
        /// to 32 characters, always exact.
        #[test]
        fn callmodel_fuzz_events_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for e in engage_callmodel::fuzzing::decode_events(&bytes) {
                if let Ok(m) = tlib_message(&e) {
                    prop_assert_eq!(engage_event(&m), Ok(Some(e.clone())));
                }
                let mut padded = e;
                pad_call_uuids(&mut padded);
                let m = tlib_message(&padded);
                prop_assert!(m.is_ok(), "{padded:?}: {m:?}");
                if let Ok(m) = m {
                    prop_assert_eq!(engage_event(&m), Ok(Some(padded)));
                }
            }
        }

        /// Messages built from arbitrary attributes (in front of a valid event's attributes,
        /// some of which are dropped) never make engage_event panic.
        #[test]
        fn arbitrary_messages_never_panic(
            base in event(),
            type_pick in 0usize..14,
            extra in proptest::collection::vec(attr(), 0..6),
            keep in proptest::collection::vec(any::<bool>(), 16),
        ) {
            let base_msg = tlib_message(&base).ok();
            let t = USED_TYPES
                .get(type_pick)
                .copied()
                .or(base_msg.as_ref().map(Message::msg_type))
                .unwrap_or(MessageType::EventRinging);
            let mut b = Message::builder(t);
            for (id, a) in &extra {
                b = add(b, *id, a);
            }
            if let Some(m) = &base_msg {
                for (i, (id, v)) in m.attributes().enumerate() {
                    if keep.get(i).copied().unwrap_or(true) {
                        b = b.try_attr(id, v.into()).unwrap();
                    }
                }
            }
            let m = b.build();
            let _ = engage_event(&m);
            let _ = through_codec(&m);
        }

        /// Arbitrary bytes, and valid frames with a few bytes changed, decode (or not) and map
        /// without panicking.
        #[test]
        fn arbitrary_frames_never_panic(
            base in event(),
            noise in proptest::collection::vec(any::<u8>(), 0..64),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let config = WireConfig::default();
            if let Ok(m) = decode_bytes(noise.into(), &config) {
                let _ = engage_event(&m);
            }
            if let Ok(m) = tlib_message(&base) {
                let mut buf = Default::default();
                encode_with(&m, &config, &mut buf).unwrap();
                let mut frame = buf.to_vec();
                for (at, x) in flips {
                    let n = frame.len();
                    if let Some(byte) = frame.get_mut(at % n) {
                        *byte ^= x;
                    }
                }
                if let Ok(m) = decode_bytes(frame.into(), &config) {
                    let _ = engage_event(&m);
                }
            }
        }
    }
}
