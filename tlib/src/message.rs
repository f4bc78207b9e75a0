//! The typed T-Library message: a [`MessageType`] and an ordered list of attributes.
//!
//! A [`Message`] keeps its strings, bytes and KV lists in one shared byte arena (for a decoded
//! message: the received frame itself, so decoding copies nothing) and small fixed-size slots
//! that point into it. Readers get borrowed views ([`Value`], [`KvListRef`]); writers use
//! [`MessageBuilder`]. The representation does not depend on the wire layout: only
//! [`crate::wire`] knows the bytes on the wire.

use std::fmt;

use bytes::Bytes;

use crate::attribute::{AttrKind, AttributeId};
use crate::kvlist::{
    KvEntry, KvList, KvListRef, KvSlot, KvValue, KvValueRef, ListRange, Span, arena_str,
};
use crate::message_type::MessageType;
use crate::values::{
    AddressType, AgentWorkMode, CallType, CallUuid, ConnId, INPUT_MASK_LEN, InputMask, PartyState,
    RegisterMode,
};

/// One stored attribute value (internal representation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Int(i32),
    Long(i64),
    ConnId(ConnId),
    /// Validated UTF-8 (for `CallUuid` kind: validated CallUUID).
    Str(Span),
    Binary(Span),
    KvList(ListRange),
    /// An unknown attribute: its wire tag and payload, untouched.
    Raw {
        tag: u8,
        span: Span,
    },
}

/// One stored attribute (internal representation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrEntry {
    pub(crate) id: AttributeId,
    pub(crate) slot: Slot,
}

/// A T-Library message: its type and its attributes, in order.
///
/// Cheap to clone (the arena is reference counted). Equality is by content: a decoded message
/// equals the built message it was encoded from. `Debug` never shows `ApplicationPassword`.
#[derive(Clone)]
pub struct Message {
    pub(crate) msg_type: MessageType,
    pub(crate) arena: Bytes,
    pub(crate) attrs: Vec<AttrEntry>,
    pub(crate) kv: Vec<KvEntry>,
    /// Deepest KV-list nesting (1 = a list without nested lists).
    pub(crate) kv_depth: usize,
    /// Set by the builder when a value did not fit the arena's 32-bit offsets; encoding fails.
    pub(crate) oversize: bool,
    /// Strings that were not UTF-8 on the wire and were decoded as Windows-1252.
    pub(crate) transcoded: usize,
}

/// A borrowed attribute value.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    Long(i64),
    /// A connection id.
    ConnId(ConnId),
    /// A string (also CallUUID attributes).
    Str(&'a str),
    /// Bytes (also the input mask).
    Binary(&'a [u8]),
    /// A KV list.
    KvList(KvListRef<'a>),
    /// The value of an unknown attribute: its wire tag and payload, kept byte for byte.
    Raw {
        /// The wire type tag.
        tag: u8,
        /// The payload.
        bytes: &'a [u8],
    },
}

/// A value to store in a [`MessageBuilder`] with [`MessageBuilder::try_attr`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum AttrInput<'a> {
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer.
    Long(i64),
    /// A connection id.
    ConnId(ConnId),
    /// A string.
    Str(&'a str),
    /// Bytes.
    Binary(&'a [u8]),
    /// An owned KV list.
    KvList(&'a KvList),
    /// A KV list borrowed from another message.
    KvListRef(KvListRef<'a>),
    /// A raw value for an unknown attribute.
    Raw {
        /// The wire type tag.
        tag: u8,
        /// The payload.
        bytes: &'a [u8],
    },
}

impl<'a> From<Value<'a>> for AttrInput<'a> {
    fn from(v: Value<'a>) -> Self {
        match v {
            Value::Int(x) => AttrInput::Int(x),
            Value::Long(x) => AttrInput::Long(x),
            Value::ConnId(x) => AttrInput::ConnId(x),
            Value::Str(x) => AttrInput::Str(x),
            Value::Binary(x) => AttrInput::Binary(x),
            Value::KvList(x) => AttrInput::KvListRef(x),
            Value::Raw { tag, bytes } => AttrInput::Raw { tag, bytes },
        }
    }
}

/// Why [`MessageBuilder::try_attr`] refused a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The value does not have the attribute's kind.
    #[error("attribute {attribute} takes a {expected:?} value; pass that kind")]
    KindMismatch {
        /// The attribute.
        attribute: AttributeId,
        /// Its kind.
        expected: AttrKind,
    },
    /// Unknown attributes take only raw values (`AttrInput::Raw`).
    #[error("attribute {attribute} is unknown to this crate; give its value as AttrInput::Raw")]
    UnknownNeedsRaw {
        /// The attribute.
        attribute: AttributeId,
    },
    /// Raw values are only for unknown attributes.
    #[error("attribute {attribute} is known; give it a typed value, not AttrInput::Raw")]
    RawForKnown {
        /// The attribute.
        attribute: AttributeId,
    },
    /// A CallUUID attribute needs 32 ASCII letters and digits.
    #[error("attribute {attribute} needs a 32-character CallUUID of ASCII letters and digits")]
    InvalidCallUuid {
        /// The attribute.
        attribute: AttributeId,
    },
    /// The input mask is exactly 64 bytes.
    #[error("attribute {attribute} needs exactly 64 bytes (the input mask)")]
    InvalidInputMask {
        /// The attribute.
        attribute: AttributeId,
    },
}

impl Message {
    /// Starts building a message of this type.
    pub fn builder(msg_type: MessageType) -> MessageBuilder {
        MessageBuilder::new(msg_type)
    }

    /// How many strings of this message were not UTF-8 on the wire and were decoded as
    /// Windows-1252 (a site's code page in user data) instead of failing the frame; count them
    /// to see how often a site sends them.
    pub fn transcoded_strings(&self) -> usize {
        self.transcoded
    }

    /// The message type.
    #[inline]
    pub fn msg_type(&self) -> MessageType {
        self.msg_type
    }

    /// The number of attributes.
    pub fn attr_count(&self) -> usize {
        self.attrs.len()
    }

    #[inline]
    fn value_of(&self, slot: Slot) -> Value<'_> {
        let arena = &self.arena[..];
        match slot {
            Slot::Int(v) => Value::Int(v),
            Slot::Long(v) => Value::Long(v),
            Slot::ConnId(v) => Value::ConnId(v),
            Slot::Str(s) => Value::Str(arena_str(arena, s)),
            Slot::Binary(s) => Value::Binary(s.get(arena)),
            Slot::KvList(range) => Value::KvList(KvListRef {
                arena,
                entries: &self.kv,
                range,
            }),
            Slot::Raw { tag, span } => Value::Raw {
                tag,
                bytes: span.get(arena),
            },
        }
    }

    /// The attributes in order, duplicates included.
    pub fn attributes(&self) -> impl Iterator<Item = (AttributeId, Value<'_>)> + '_ {
        self.attrs.iter().map(|a| (a.id, self.value_of(a.slot)))
    }

    /// The first value of an attribute.
    #[inline]
    pub fn get(&self, id: AttributeId) -> Option<Value<'_>> {
        self.attrs
            .iter()
            .find(|a| a.id == id)
            .map(|a| self.value_of(a.slot))
    }

    /// The first value of a string, binary or unknown attribute as an owned [`Bytes`] that
    /// shares the message's buffer (no copy): keep a DN or a UUID beyond the message's life.
    pub fn value_bytes(&self, id: AttributeId) -> Option<Bytes> {
        let span = match self.attrs.iter().find(|a| a.id == id)?.slot {
            Slot::Str(s) | Slot::Binary(s) | Slot::Raw { span: s, .. } => s,
            _ => return None,
        };
        let start = span.start as usize;
        let end = start + span.len as usize;
        (end <= self.arena.len()).then(|| self.arena.slice(start..end))
    }

    /// A copy of this message in a builder, to add attributes.
    pub fn to_builder(&self) -> MessageBuilder {
        let mut b = MessageBuilder::new(self.msg_type);
        for (id, v) in self.attributes() {
            b.push_input(id, v.into());
        }
        b
    }

    fn get_int(&self, id: AttributeId) -> Option<i32> {
        match self.get(id)? {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }

    fn get_long(&self, id: AttributeId) -> Option<i64> {
        match self.get(id)? {
            Value::Long(v) => Some(v),
            _ => None,
        }
    }

    fn get_conn_id(&self, id: AttributeId) -> Option<ConnId> {
        match self.get(id)? {
            Value::ConnId(v) => Some(v),
            _ => None,
        }
    }

    fn get_str(&self, id: AttributeId) -> Option<&str> {
        match self.get(id)? {
            Value::Str(v) => Some(v),
            _ => None,
        }
    }

    fn get_call_uuid(&self, id: AttributeId) -> Option<CallUuid> {
        CallUuid::from_ascii(self.get_str(id)?.as_bytes()).ok()
    }

    fn get_kv(&self, id: AttributeId) -> Option<KvListRef<'_>> {
        match self.get(id)? {
            Value::KvList(v) => Some(v),
            _ => None,
        }
    }

    /// `AttributeInputMask`.
    pub fn input_mask(&self) -> Option<InputMask> {
        match self.get(AttributeId::InputMask)? {
            Value::Binary(b) => b.try_into().ok().map(InputMask),
            _ => None,
        }
    }

    /// `AttributeCallType`.
    pub fn call_type(&self) -> Option<CallType> {
        self.get_int(AttributeId::CallType).map(CallType::from_i32)
    }

    /// `AttributeAgentWorkMode`.
    pub fn agent_work_mode(&self) -> Option<AgentWorkMode> {
        self.get_int(AttributeId::AgentWorkMode)
            .map(AgentWorkMode::from_i32)
    }

    /// `AttributeRegisterMode`.
    pub fn register_mode(&self) -> Option<RegisterMode> {
        self.get_int(AttributeId::RegisterMode)
            .map(RegisterMode::from_i32)
    }

    /// `AttributeAddressType`.
    pub fn address_type(&self) -> Option<AddressType> {
        self.get_int(AttributeId::AddressType)
            .map(AddressType::from_i32)
    }

    /// `AttributePartyState`.
    pub fn party_state(&self) -> Option<PartyState> {
        self.get_int(AttributeId::PartyState).map(PartyState)
    }
}

macro_rules! accessors {
    ($( $(#[doc = $doc:literal])* $getter:ident, $id:ident, $ret:ty, $via:ident; )*) => {
        impl Message {
            $(
                #[doc = concat!("`Attribute", stringify!($id), "` (first occurrence).")]
                $(#[doc = ""] #[doc = $doc])*
                #[inline]
                pub fn $getter(&self) -> Option<$ret> {
                    self.$via(AttributeId::$id)
                }
            )*
        }
    };
}

accessors! {
    protocol_version, ProtocolVersion, &str, get_str;
    error_message, ErrorMessage, &str, get_str;
    reference_id, ReferenceID, i32, get_int;
    call_id, CallID, i32, get_int;
    conn_id, ConnID, ConnId, get_conn_id;
    previous_conn_id, PreviousConnID, ConnId, get_conn_id;
    transfer_conn_id, TransferConnID, ConnId, get_conn_id;
    conference_conn_id, ConferenceConnID, ConnId, get_conn_id;
    call_state, CallState, i32, get_int;
    agent_id, AgentID, &str, get_str;
    reason, Reason, i32, get_int;
    dnis, DNIS, &str, get_str;
    ani, ANI, &str, get_str;
    this_dn, ThisDN, &str, get_str;
    this_queue, ThisQueue, &str, get_str;
    this_dn_role, ThisDNRole, i32, get_int;
    other_dn, OtherDN, &str, get_str;
    other_queue, OtherQueue, &str, get_str;
    other_dn_role, OtherDNRole, i32, get_int;
    third_party_dn, ThirdPartyDN, &str, get_str;
    error_code, ErrorCode, i32, get_int;
    control_mode, ControlMode, i32, get_int;
    user_data, UserData, KvListRef<'_>, get_kv;
    extensions, Extensions, KvListRef<'_>, get_kv;
    user_event, UserEvent, i32, get_int;
    application_name, ApplicationName, &str, get_str;
    application_password, ApplicationPassword, &str, get_str;
    place, Place, &str, get_str;
    media_type, MediaType, i32, get_int;
    client_id, ClientID, i32, get_int;
    dn, DN, &str, get_str;
    origin_conn_id, OriginConnID, ConnId, get_conn_id;
    ref_conn_id, RefConnID, ConnId, get_conn_id;
    /// The event time in **microseconds** since the Unix epoch (UTC). Divide by 1 000 for
    /// milliseconds (EXCP does, rounding down).
    time_stamp, TimeStamp, i64, get_long;
    party_id, PartyID, i32, get_int;
    party_type, PartyType, i32, get_int;
    ref_party, RefParty, i32, get_int;
    ctrl_party, CtrlParty, i32, get_int;
    call_uuid, CallUUID, CallUuid, get_call_uuid;
    new_call_uuid, NewCallUUID, CallUuid, get_call_uuid;
    orig_call_uuid, OrigCallUUID, CallUuid, get_call_uuid;
    ref_call_uuid, RefCallUUID, CallUuid, get_call_uuid;
    party_uuid, PartyUUID, &str, get_str;
    is_link_list, ISLinkList, KvListRef<'_>, get_kv;
    server_start_time, ServerStartTime, i64, get_long;
    event_sequence_number, EventSequenceNumber, i64, get_long;
    reasons, Reasons, KvListRef<'_>, get_kv;
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.msg_type == other.msg_type
            && self.attrs.len() == other.attrs.len()
            && self
                .attributes()
                .zip(other.attributes())
                .all(|(a, b)| a == b)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Attr<'a>(AttributeId, Value<'a>);
        impl fmt::Debug for Attr<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0.is_secret() {
                    return write!(f, "{}: <redacted>", self.0);
                }
                match self.1 {
                    Value::Int(v) => write!(f, "{}: {v}", self.0),
                    Value::Long(v) => write!(f, "{}: {v}", self.0),
                    Value::ConnId(v) => write!(f, "{}: {v}", self.0),
                    Value::Str(v) => write!(f, "{}: {v:?}", self.0),
                    Value::Binary(v) => write!(f, "{}: <{} bytes>", self.0, v.len()),
                    Value::KvList(v) => write!(f, "{}: {v:?}", self.0),
                    Value::Raw { tag, bytes } => {
                        write!(f, "{}: raw(tag {tag}, {} bytes)", self.0, bytes.len())
                    }
                }
            }
        }
        f.debug_struct("Message")
            .field("type", &format_args!("{}", self.msg_type))
            .field(
                "attributes",
                &self
                    .attributes()
                    .map(|(id, v)| Attr(id, v))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Builds a [`Message`]: typed setters for every named attribute (`conn_id`, `this_dn`,
/// `user_data`, …, same names as the [`Message`] getters), and [`MessageBuilder::try_attr`] for
/// any attribute. Attributes keep the order in which they are added. `Debug` shows only the
/// type and the attribute count (the arena may hold a password).
#[derive(Clone)]
pub struct MessageBuilder {
    msg_type: MessageType,
    arena: Vec<u8>,
    attrs: Vec<AttrEntry>,
    kv: Vec<KvEntry>,
    kv_depth: usize,
    oversize: bool,
}

impl fmt::Debug for MessageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageBuilder")
            .field("type", &format_args!("{}", self.msg_type))
            .field("attributes", &self.attrs.len())
            .finish()
    }
}

impl MessageBuilder {
    /// An empty message of this type.
    pub fn new(msg_type: MessageType) -> Self {
        MessageBuilder {
            msg_type,
            arena: Vec::new(),
            attrs: Vec::new(),
            kv: Vec::new(),
            kv_depth: 0,
            oversize: false,
        }
    }

    /// The finished message.
    pub fn build(self) -> Message {
        Message {
            msg_type: self.msg_type,
            arena: Bytes::from(self.arena),
            attrs: self.attrs,
            kv: self.kv,
            kv_depth: self.kv_depth,
            oversize: self.oversize,
            transcoded: 0,
        }
    }

    fn push_bytes(&mut self, bytes: &[u8]) -> Span {
        let start = self.arena.len();
        match (u32::try_from(start), u32::try_from(bytes.len())) {
            (Ok(s), Ok(l)) if s.checked_add(l).is_some() => {
                self.arena.extend_from_slice(bytes);
                Span { start: s, len: l }
            }
            _ => {
                self.oversize = true;
                Span::default()
            }
        }
    }

    fn push_utf16(&mut self, text: &str) -> Span {
        let mut buf = Vec::with_capacity(text.len() * 2);
        for unit in text.encode_utf16() {
            buf.extend_from_slice(&unit.to_be_bytes());
        }
        self.push_bytes(&buf)
    }

    fn reserve_entries(&mut self, count: usize) -> Option<(usize, ListRange)> {
        let start = self.kv.len();
        match (u32::try_from(start), u32::try_from(count)) {
            (Ok(s), Ok(l)) if s.checked_add(l).is_some() => {
                self.kv.resize(start + count, KvEntry::PLACEHOLDER);
                Some((start, ListRange { start: s, len: l }))
            }
            _ => {
                self.oversize = true;
                None
            }
        }
    }

    fn add_owned_list(&mut self, list: &KvList, depth: usize) -> ListRange {
        self.kv_depth = self.kv_depth.max(depth);
        let Some((start, range)) = self.reserve_entries(list.len()) else {
            return ListRange::default();
        };
        for (i, pair) in list.pairs().iter().enumerate() {
            let key = self.push_bytes(pair.key.as_bytes());
            let value = match &pair.value {
                KvValue::String(s) => KvSlot::String(self.push_bytes(s.as_bytes())),
                KvValue::Int(v) => KvSlot::Int(*v),
                KvValue::Binary(b) => KvSlot::Binary(self.push_bytes(b)),
                KvValue::List(l) => KvSlot::List(self.add_owned_list(l, depth + 1)),
                KvValue::Unicode(s) => KvSlot::Unicode(self.push_utf16(s)),
                KvValue::Long(v) => KvSlot::Long(*v),
                KvValue::Float(v) => KvSlot::Float(v.to_bits()),
            };
            self.kv[start + i] = KvEntry { key, value };
        }
        range
    }

    fn add_ref_list(&mut self, list: KvListRef<'_>, depth: usize) -> ListRange {
        self.kv_depth = self.kv_depth.max(depth);
        let Some((start, range)) = self.reserve_entries(list.len()) else {
            return ListRange::default();
        };
        for (i, (k, v)) in list.iter().enumerate() {
            let key = self.push_bytes(k.as_bytes());
            let value = match v {
                KvValueRef::String(s) => KvSlot::String(self.push_bytes(s.as_bytes())),
                KvValueRef::Int(v) => KvSlot::Int(v),
                KvValueRef::Binary(b) => KvSlot::Binary(self.push_bytes(b)),
                KvValueRef::List(l) => KvSlot::List(self.add_ref_list(l, depth + 1)),
                KvValueRef::Unicode(u) => KvSlot::Unicode(self.push_bytes(u.as_utf16be())),
                KvValueRef::Long(v) => KvSlot::Long(v),
                KvValueRef::Float(v) => KvSlot::Float(v.to_bits()),
            };
            self.kv[start + i] = KvEntry { key, value };
        }
        range
    }

    /// Stores an input already checked against the attribute's kind.
    fn push_input(&mut self, id: AttributeId, input: AttrInput<'_>) {
        let slot = match input {
            AttrInput::Int(v) => Slot::Int(v),
            AttrInput::Long(v) => Slot::Long(v),
            AttrInput::ConnId(v) => Slot::ConnId(v),
            AttrInput::Str(s) => Slot::Str(self.push_bytes(s.as_bytes())),
            AttrInput::Binary(b) => Slot::Binary(self.push_bytes(b)),
            AttrInput::KvList(l) => Slot::KvList(self.add_owned_list(l, 1)),
            AttrInput::KvListRef(l) => Slot::KvList(self.add_ref_list(l, 1)),
            AttrInput::Raw { tag, bytes } => Slot::Raw {
                tag,
                span: self.push_bytes(bytes),
            },
        };
        self.attrs.push(AttrEntry { id, slot });
    }

    /// Adds any attribute, checking the value against the attribute's kind: unknown
    /// attributes take [`AttrInput::Raw`] only; known ones take their typed kind.
    pub fn try_attr(mut self, id: AttributeId, value: AttrInput<'_>) -> Result<Self, BuildError> {
        let Some(kind) = id.kind() else {
            return match value {
                AttrInput::Raw { .. } => {
                    self.push_input(id, value);
                    Ok(self)
                }
                _ => Err(BuildError::UnknownNeedsRaw { attribute: id }),
            };
        };
        let ok = match (kind, value) {
            (_, AttrInput::Raw { .. }) => return Err(BuildError::RawForKnown { attribute: id }),
            (AttrKind::Int, AttrInput::Int(_))
            | (AttrKind::Long, AttrInput::Long(_))
            | (AttrKind::ConnId, AttrInput::ConnId(_))
            | (AttrKind::Str, AttrInput::Str(_))
            | (AttrKind::Binary, AttrInput::Binary(_))
            | (AttrKind::KvList, AttrInput::KvList(_) | AttrInput::KvListRef(_)) => true,
            (AttrKind::CallUuid, AttrInput::Str(s)) => {
                if CallUuid::from_ascii(s.as_bytes()).is_err() {
                    return Err(BuildError::InvalidCallUuid { attribute: id });
                }
                true
            }
            (AttrKind::InputMask, AttrInput::Binary(b)) => {
                if b.len() != INPUT_MASK_LEN {
                    return Err(BuildError::InvalidInputMask { attribute: id });
                }
                true
            }
            _ => false,
        };
        if !ok {
            return Err(BuildError::KindMismatch {
                attribute: id,
                expected: kind,
            });
        }
        self.push_input(id, value);
        Ok(self)
    }

    /// `AttributeInputMask`.
    #[must_use]
    pub fn input_mask(mut self, mask: &InputMask) -> Self {
        self.push_input(AttributeId::InputMask, AttrInput::Binary(&mask.0));
        self
    }

    /// `AttributeCallType`.
    #[must_use]
    pub fn call_type(mut self, v: CallType) -> Self {
        self.push_input(AttributeId::CallType, AttrInput::Int(v.as_i32()));
        self
    }

    /// `AttributeAgentWorkMode`.
    #[must_use]
    pub fn agent_work_mode(mut self, v: AgentWorkMode) -> Self {
        self.push_input(AttributeId::AgentWorkMode, AttrInput::Int(v.as_i32()));
        self
    }

    /// `AttributeRegisterMode`.
    #[must_use]
    pub fn register_mode(mut self, v: RegisterMode) -> Self {
        self.push_input(AttributeId::RegisterMode, AttrInput::Int(v.as_i32()));
        self
    }

    /// `AttributeAddressType`.
    #[must_use]
    pub fn address_type(mut self, v: AddressType) -> Self {
        self.push_input(AttributeId::AddressType, AttrInput::Int(v.as_i32()));
        self
    }

    /// `AttributePartyState`.
    #[must_use]
    pub fn party_state(mut self, v: PartyState) -> Self {
        self.push_input(AttributeId::PartyState, AttrInput::Int(v.0));
        self
    }
}

macro_rules! setters {
    ($( $(#[doc = $doc:literal])* $setter:ident, $id:ident, $arg:ty, $variant:ident $(, $conv:ident)?; )*) => {
        impl MessageBuilder {
            $(
                #[doc = concat!("Adds `Attribute", stringify!($id), "`.")]
                $(#[doc = ""] #[doc = $doc])*
                #[must_use]
                pub fn $setter(mut self, value: $arg) -> Self {
                    self.push_input(AttributeId::$id, AttrInput::$variant(value $(.$conv())?));
                    self
                }
            )*
        }
    };
}

setters! {
    protocol_version, ProtocolVersion, &str, Str;
    error_message, ErrorMessage, &str, Str;
    reference_id, ReferenceID, i32, Int;
    call_id, CallID, i32, Int;
    conn_id, ConnID, ConnId, ConnId;
    previous_conn_id, PreviousConnID, ConnId, ConnId;
    transfer_conn_id, TransferConnID, ConnId, ConnId;
    conference_conn_id, ConferenceConnID, ConnId, ConnId;
    call_state, CallState, i32, Int;
    agent_id, AgentID, &str, Str;
    reason, Reason, i32, Int;
    dnis, DNIS, &str, Str;
    ani, ANI, &str, Str;
    this_dn, ThisDN, &str, Str;
    this_queue, ThisQueue, &str, Str;
    this_dn_role, ThisDNRole, i32, Int;
    other_dn, OtherDN, &str, Str;
    other_queue, OtherQueue, &str, Str;
    other_dn_role, OtherDNRole, i32, Int;
    third_party_dn, ThirdPartyDN, &str, Str;
    error_code, ErrorCode, i32, Int;
    control_mode, ControlMode, i32, Int;
    user_data, UserData, &KvList, KvList;
    extensions, Extensions, &KvList, KvList;
    user_event, UserEvent, i32, Int;
    application_name, ApplicationName, &str, Str;
    application_password, ApplicationPassword, &str, Str;
    place, Place, &str, Str;
    media_type, MediaType, i32, Int;
    client_id, ClientID, i32, Int;
    dn, DN, &str, Str;
    origin_conn_id, OriginConnID, ConnId, ConnId;
    ref_conn_id, RefConnID, ConnId, ConnId;
    /// `value`: the event time in **microseconds** since the Unix epoch (UTC), e.g.
    /// milliseconds · 1 000.
    time_stamp, TimeStamp, i64, Long;
    party_id, PartyID, i32, Int;
    party_type, PartyType, i32, Int;
    ref_party, RefParty, i32, Int;
    ctrl_party, CtrlParty, i32, Int;
    party_uuid, PartyUUID, &str, Str;
    is_link_list, ISLinkList, &KvList, KvList;
    server_start_time, ServerStartTime, i64, Long;
    event_sequence_number, EventSequenceNumber, i64, Long;
    reasons, Reasons, &KvList, KvList;
}

macro_rules! uuid_setters {
    ($( $setter:ident, $id:ident; )*) => {
        impl MessageBuilder {
            $(
                #[doc = concat!("Adds `Attribute", stringify!($id), "`.")]
                #[must_use]
                pub fn $setter(mut self, value: CallUuid) -> Self {
                    self.push_input(AttributeId::$id, AttrInput::Str(value.as_str()));
                    self
                }
            )*
        }
    };
}

uuid_setters! {
    call_uuid, CallUUID;
    new_call_uuid, NewCallUUID;
    orig_call_uuid, OrigCallUUID;
    ref_call_uuid, RefCallUUID;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        let ud = KvList::new()
            .with("Customer", "4711")
            .with("Priority", 5)
            .with(
                "Nested",
                KvList::new().with("a", KvValue::Unicode("é€".into())),
            );
        Message::builder(MessageType::EventEstablished)
            .conn_id(ConnId(0x0077_028a_809f_7004))
            .call_uuid("QK59HK4FS927D7FUU41G6IE468000004".parse().unwrap())
            .this_dn("1001")
            .call_type(CallType::Inbound)
            .party_state(PartyState(0x1000C))
            .user_data(&ud)
            .application_password("s3cret")
            .build()
    }

    #[test]
    fn typed_accessors_read_what_builders_wrote() {
        let m = sample();
        assert_eq!(m.msg_type(), MessageType::EventEstablished);
        assert_eq!(m.conn_id().unwrap().to_string(), "0077028a809f7004");
        assert_eq!(
            m.call_uuid().unwrap().as_str(),
            "QK59HK4FS927D7FUU41G6IE468000004"
        );
        assert_eq!(m.this_dn(), Some("1001"));
        assert_eq!(m.other_dn(), None);
        assert_eq!(m.call_type(), Some(CallType::Inbound));
        assert!(m.party_state().unwrap().is_dialing());
        let ud = m.user_data().unwrap();
        assert_eq!(ud.len(), 3);
        assert_eq!(ud.get_str("Customer"), Some("4711"));
        assert_eq!(ud.get("Priority"), Some(KvValueRef::Int(5)));
        let Some(KvValueRef::List(nested)) = ud.get("Nested") else {
            panic!("nested list missing")
        };
        assert_eq!(nested.get("a").unwrap().to_text().unwrap(), "é€");
        assert_eq!(ud.to_kv_list().len(), 3);
    }

    #[test]
    fn debug_redacts_the_password() {
        let text = format!("{:?}", sample());
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("<redacted>"));
        assert!(text.contains("1001"));
        let builder =
            Message::builder(MessageType::RequestRegisterClient).application_password("s3cret");
        let text = format!("{builder:?}");
        assert!(
            !text.contains("s3cret") && !text.contains("115, 51"),
            "{text}"
        );
    }

    #[test]
    fn messages_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Message>();
        send_sync::<MessageBuilder>();
        send_sync::<KvList>();
    }

    #[test]
    fn value_bytes_shares_the_buffer() {
        let m = sample();
        let dn = m.value_bytes(AttributeId::ThisDN).unwrap();
        assert_eq!(&dn[..], b"1001");
        assert!(m.value_bytes(AttributeId::ConnID).is_none());
        assert!(m.value_bytes(AttributeId::OtherDN).is_none());
    }

    #[test]
    fn try_attr_checks_kinds() {
        let b = Message::builder(MessageType::EventRinging);
        let err = b
            .clone()
            .try_attr(AttributeId::ThisDN, AttrInput::Int(3))
            .unwrap_err();
        assert!(matches!(err, BuildError::KindMismatch { .. }));
        assert!(matches!(
            b.clone()
                .try_attr(AttributeId::Unknown(999), AttrInput::Int(1))
                .unwrap_err(),
            BuildError::UnknownNeedsRaw { .. }
        ));
        assert!(matches!(
            b.clone()
                .try_attr(AttributeId::CallUUID, AttrInput::Str("short"))
                .unwrap_err(),
            BuildError::InvalidCallUuid { .. }
        ));
        let m = b
            .try_attr(
                AttributeId::Unknown(999),
                AttrInput::Raw {
                    tag: 77,
                    bytes: b"\x01\x02",
                },
            )
            .unwrap()
            .build();
        assert_eq!(
            m.get(AttributeId::Unknown(999)),
            Some(Value::Raw {
                tag: 77,
                bytes: b"\x01\x02"
            })
        );
    }

    #[test]
    fn to_builder_copies_everything() {
        let m = sample();
        let copy = m.to_builder().other_dn("2002").build();
        assert_eq!(copy.attr_count(), m.attr_count() + 1);
        assert_eq!(copy.user_data(), m.user_data());
        assert_ne!(copy, m);
    }
}
