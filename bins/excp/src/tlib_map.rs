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
    AttributeId, CallUuid, KvListRef, KvValueRef, Message, MessageType, PartyStateKind, Value,
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

/// `Extensions` key: the site of the SIP Server that reports the event (our design).
pub const EXT_SITE: &str = "EX_Site";
/// `Extensions` key: a consult call's main call where `OrigCallUUID` is taken (our design).
pub const EXT_MAIN_CALL_UUID: &str = "EX_MainCallUUID";
/// `Extensions` key: the parties of a created call (our design).
pub const EXT_PARTIES: &str = "EX_Parties";
/// `Extensions` key: the participants of a user event (our design).
pub const EXT_PARTICIPANTS: &str = "EX_Participants";
/// `Extensions` key: the party's DN type, as a CfgDNType code (our design).
pub const EXT_DN_TYPE: &str = "EX_DNType";
/// `Extensions` key: marks an inter-site party (our design).
pub const EXT_PARTY_ROLE: &str = "EX_PartyRole";
/// `Extensions` key: the controlling party of a deletion (our design).
pub const EXT_CTRL_PARTY_UUID: &str = "EX_CtrlPartyUUID";
/// `Extensions` key: the call a moved party came from (our design).
pub const EXT_FROM_CALL_UUID: &str = "EX_FromCallUUID";
/// `Extensions` key: the party id a moved party had (our design).
pub const EXT_FROM_PARTY_UUID: &str = "EX_FromPartyUUID";

/// Pair key of one link in `ISLinkList`.
pub const ISLINK_KEY: &str = "ISLink";
/// Pair key of one party in `EX_Parties`.
pub const PARTY_KEY: &str = "Party";
/// Pair key of one participant in `EX_Participants`.
pub const PARTICIPANT_KEY: &str = "DN";
/// Keys of a party entry in `EX_Parties` (the attribute names of a party event): its PartyUUID.
pub const P_UUID: &str = "PartyUUID";
/// Key of a party entry: its DN.
pub const P_DN: &str = "ThisDN";
/// Key of a party entry: its TLib PartyState code.
pub const P_STATE: &str = "PartyState";
/// Key of a party entry: its TDNRole code.
pub const P_ROLE: &str = "ThisDNRole";
/// The one value of `EX_PartyRole`.
pub const INTER_SITE: &str = "InterSite";

/// TimeStamp units per event-time millisecond (TimeStamp is in microseconds).
pub const US_PER_MS: i64 = 1000;
/// The most pairs a packed KV list holds, and the longest key (bytes).
pub const KV_MAX: usize = 65_535;

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

/// The result of a mapping.
pub type Result<T> = std::result::Result<T, TlibMapError>;

// ---------------------------------------------------------------------------------------------
// Enumerations (both ways, public codes)
// ---------------------------------------------------------------------------------------------

/// The TLib CallType code of a call type (public codes).
pub fn call_type_code(t: CallType) -> Option<i32> {
    Some(match t {
        CallType::Unknown => 0,
        CallType::Internal => 1,
        CallType::Inbound => 2,
        CallType::Outbound => 3,
        CallType::Consult => 4,
        _ => return None,
    })
}

/// The TLib PartyState code of a base party state.
pub fn party_state_code(s: PartyState) -> Option<i32> {
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

/// How a role is written: a TDNRole code, or (InterSite) the `EX_PartyRole` marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleOnWire {
    /// A TDNRole code.
    Code(i32),
    /// The `EX_PartyRole` = `InterSite` marker (our design).
    InterSite,
}

/// How a party role is written on the wire.
pub fn role_on_wire(r: PartyRole) -> Option<RoleOnWire> {
    Some(match r {
        PartyRole::Origination => RoleOnWire::Code(ROLE_ORIGINATION),
        PartyRole::Destination => RoleOnWire::Code(ROLE_DESTINATION),
        PartyRole::ConferenceMember => RoleOnWire::Code(ROLE_CONFERENCE_MEMBER),
        PartyRole::Observer => RoleOnWire::Code(ROLE_OBSERVER),
        PartyRole::InterSite => RoleOnWire::InterSite,
        _ => return None,
    })
}

/// The Config DB (CfgDNType) code of a DN type.
pub fn dn_type_code(t: DnType) -> Option<i32> {
    Some(match t {
        DnType::Extension => 1,
        DnType::AcdQueue => 3,
        DnType::RoutingPoint => 4,
        DnType::Trunk => 14,
        DnType::Other => 0,
        _ => return None,
    })
}

/// The call type of a TLib CallType code.
pub fn call_type_from_code(code: i32) -> Option<CallType> {
    Some(match code {
        0 => CallType::Unknown,
        1 => CallType::Internal,
        2 => CallType::Inbound,
        3 => CallType::Outbound,
        4 => CallType::Consult,
        _ => return None,
    })
}

/// The base state of a TLib party state (Dialing / Uncertain modifiers ignored).
pub fn party_state_from_code(code: i32) -> Option<PartyState> {
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

// TDNRole codes (public: `RoleUnknown` 0 … `RoleObserver` 10).
/// TDNRole `RoleUnknown`.
pub const ROLE_UNKNOWN: i32 = 0;
/// TDNRole `RoleOrigination`.
pub const ROLE_ORIGINATION: i32 = 1;
/// TDNRole `RoleDestination`.
pub const ROLE_DESTINATION: i32 = 2;
/// TDNRole `RoleConferenceMember`.
pub const ROLE_CONFERENCE_MEMBER: i32 = 3;
/// TDNRole `RoleObserver`.
pub const ROLE_OBSERVER: i32 = 10;

/// The party role of a TDNRole code (codes 4–9 have no party role).
pub fn role_from_code(code: i32) -> Option<PartyRole> {
    Some(match code {
        ROLE_UNKNOWN | ROLE_DESTINATION => PartyRole::Destination,
        ROLE_ORIGINATION => PartyRole::Origination,
        ROLE_CONFERENCE_MEMBER => PartyRole::ConferenceMember,
        ROLE_OBSERVER => PartyRole::Observer,
        _ => return None,
    })
}

/// The public name of TDNRole codes 4–9, for error messages.
pub fn role_code_name(code: i32) -> &'static str {
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

/// The DN type of a Config DB (CfgDNType) code; unknown codes are `Other`.
pub fn dn_type_from_code(code: i32) -> DnType {
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
