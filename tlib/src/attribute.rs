//! T-Library attribute identifiers with their public numbers and value kinds.
//!
//! Numbers are public facts; each attribute's value kind ([`AttrKind`]) is our reading of the
//! public material, documented in `WIRE.md`. `Reasons` has no public number: [`REASONS_NUMBER`]
//! is our placeholder until a capture shows the real one.

use std::fmt;

/// Our placeholder wire number for `AttributeReasons` (no public number is known).
pub const REASONS_NUMBER: u16 = 0x1000;

/// The kind of value an attribute carries. It decides the typed accessor and the wire tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttrKind {
    /// A 32-bit signed integer (ids, enumerations, codes).
    Int,
    /// A 64-bit signed integer (time stamps, sequence numbers).
    Long,
    /// A 64-bit connection id ([`crate::ConnId`]).
    ConnId,
    /// A UTF-8 string.
    Str,
    /// A 32-character CallUUID string ([`crate::CallUuid`]).
    CallUuid,
    /// Opaque bytes.
    Binary,
    /// The 64-byte input mask ([`crate::InputMask`]).
    InputMask,
    /// A KV list ([`crate::KvList`]).
    KvList,
}

macro_rules! attributes {
    ($( $(#[doc = $doc:literal])* $name:ident = $num:expr => $kind:ident, )*) => {
        /// A T-Library attribute identifier.
        ///
        /// Build values from numbers with [`AttributeId::from_u16`]; unknown numbers are kept
        /// in [`AttributeId::Unknown`] and their values are preserved byte for byte.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[allow(clippy::upper_case_acronyms)]
        pub enum AttributeId {
            $(
                #[doc = concat!("`Attribute", stringify!($name), "`, number ", stringify!($num),
                    ", value kind `", stringify!($kind), "`.")]
                $(#[doc = ""] #[doc = $doc])*
                $name,
            )*
            /// An attribute number this crate does not know; its value is kept raw.
            Unknown(u16),
        }

        impl AttributeId {
            /// Every named attribute, in ascending number order.
            pub const ALL: &'static [AttributeId] = &[$(AttributeId::$name,)*];

            /// The attribute for a wire number (never fails: unknown numbers are preserved).
            #[inline]
            #[allow(non_upper_case_globals)]
            pub const fn from_u16(number: u16) -> Self {
                $(
                    const $name: u16 = $num;
                )*
                match number {
                    $($name => AttributeId::$name,)*
                    other => AttributeId::Unknown(other),
                }
            }

            /// The wire number of this attribute.
            #[inline]
            pub const fn as_u16(self) -> u16 {
                match self {
                    $(AttributeId::$name => $num,)*
                    AttributeId::Unknown(n) => n,
                }
            }

            /// The value kind of a named attribute; `None` for unknown attributes.
            #[inline]
            pub const fn kind(self) -> Option<AttrKind> {
                match self {
                    $(AttributeId::$name => Some(AttrKind::$kind),)*
                    AttributeId::Unknown(_) => None,
                }
            }

            /// The name without the `Attribute` prefix (`"ThisDN"`), or `"Unknown"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(AttributeId::$name => stringify!($name),)*
                    AttributeId::Unknown(_) => "Unknown",
                }
            }
        }
    };
}

attributes! {
    ProtocolVersion = 0 => Str,
    ErrorMessage = 1 => Str,
    ReferenceID = 2 => Int,
    CallID = 3 => Int,
    ConnID = 9 => ConnId,
    PreviousConnID = 10 => ConnId,
    TransferConnID = 11 => ConnId,
    ConferenceConnID = 12 => ConnId,
    CallState = 13 => Int,
    AgentID = 14 => Str,
    AgentWorkMode = 16 => Int,
    Reason = 17 => Int,
    DNIS = 18 => Str,
    ANI = 19 => Str,
    ThisDN = 20 => Str,
    ThisQueue = 21 => Str,
    ThisDNRole = 23 => Int,
    OtherDN = 24 => Str,
    OtherQueue = 25 => Str,
    OtherDNRole = 27 => Int,
    ThirdPartyDN = 28 => Str,
    InputMask = 45 => InputMask,
    ErrorCode = 46 => Int,
    AddressType = 47 => Int,
    RegisterMode = 49 => Int,
    ControlMode = 50 => Int,
    UserData = 51 => KvList,
    Extensions = 53 => KvList,
    CallType = 54 => Int,
    UserEvent = 58 => Int,
    ApplicationName = 64 => Str,
    ApplicationPassword = 65 => Str,
    Place = 92 => Str,
    MediaType = 97 => Int,
    ClientID = 102 => Int,
    DN = 115 => Str,
    OriginConnID = 117 => ConnId,
    RefConnID = 118 => ConnId,
    /// The event time in **microseconds** since 1970-01-01 00:00:00 UTC (the public
    /// `TTimeStamp`'s seconds · 1 000 000 + microseconds, as one `i64`; see `WIRE.md`).
    TimeStamp = 120 => Long,
    PartyID = 122 => Int,
    PartyType = 123 => Int,
    PartyState = 124 => Int,
    RefParty = 125 => Int,
    CtrlParty = 126 => Int,
    CallUUID = 141 => CallUuid,
    NewCallUUID = 142 => CallUuid,
    OrigCallUUID = 143 => CallUuid,
    RefCallUUID = 144 => CallUuid,
    PartyUUID = 145 => Str,
    ISLinkList = 146 => KvList,
    ServerStartTime = 147 => Long,
    EventSequenceNumber = 148 => Long,
    Reasons = REASONS_NUMBER => KvList,
}

impl AttributeId {
    /// True when the value must never be logged or shown (`ApplicationPassword`).
    pub const fn is_secret(self) -> bool {
        matches!(self, AttributeId::ApplicationPassword)
    }
}

impl fmt::Display for AttributeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeId::Unknown(n) => write!(f, "Attribute#{n}"),
            named => write!(f, "{}({})", named.name(), named.as_u16()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in AttributeId::ALL {
            assert!(seen.insert(a.as_u16()));
            assert_eq!(AttributeId::from_u16(a.as_u16()), *a);
            assert!(a.kind().is_some());
        }
        assert_eq!(AttributeId::ALL.len(), 53);
    }

    #[test]
    fn public_numbers_and_kinds() {
        assert_eq!(AttributeId::ConnID.as_u16(), 9);
        assert_eq!(AttributeId::UserData.kind(), Some(AttrKind::KvList));
        assert_eq!(AttributeId::CallUUID.as_u16(), 141);
        assert_eq!(AttributeId::EventSequenceNumber.as_u16(), 148);
        assert_eq!(AttributeId::from_u16(4), AttributeId::Unknown(4));
        assert_eq!(AttributeId::Unknown(4).kind(), None);
        assert!(AttributeId::ApplicationPassword.is_secret());
    }
}
