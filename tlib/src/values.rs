//! Typed values of the T-Library model: identifiers, enumerations, the party state and the
//! input mask. Numbers are public facts; see `WIRE.md`.

use std::fmt;
use std::str::FromStr;

use crate::MessageType;

/// A T-Server connection id: a 64-bit id, shown as 16 lower-case hex digits
/// (`0077028a809f7004`). A ConnID can change during a call and be reused across sites; use
/// [`CallUuid`] to identify a call.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({self})")
    }
}

/// Why a text could not be parsed as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdParseError {
    /// A ConnID must be exactly 16 hex digits.
    #[error("invalid ConnID: expected exactly 16 hex digits (e.g. 0077028a809f7004)")]
    ConnId,
    /// A CallUUID must be exactly 32 ASCII letters and digits.
    #[error(
        "invalid CallUUID: expected exactly 32 ASCII letters and digits (e.g. QK59HK4FS927D7FUU41G6IE468000004)"
    )]
    CallUuid,
}

impl FromStr for ConnId {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(IdParseError::ConnId);
        }
        u64::from_str_radix(s, 16)
            .map(ConnId)
            .map_err(|_| IdParseError::ConnId)
    }
}

/// The length of a CallUUID in characters.
pub const CALL_UUID_LEN: usize = 32;

/// A CallUUID: 32 ASCII letters and digits (`QK59HK4FS927D7FUU41G6IE468000004`), unique per
/// T-Server and the only id that never changes during a call. Stored inline (`Copy`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallUuid([u8; CALL_UUID_LEN]);

impl CallUuid {
    pub(crate) const PLACEHOLDER: CallUuid = CallUuid(*b"00000000000000000000000000000000");

    /// Checks and wraps 32 ASCII alphanumeric bytes.
    #[inline]
    pub fn from_ascii(bytes: &[u8]) -> Result<Self, IdParseError> {
        let arr: [u8; CALL_UUID_LEN] = bytes.try_into().map_err(|_| IdParseError::CallUuid)?;
        // Branch-free over the 32 bytes: count the bytes that are letters or digits.
        let good = arr
            .iter()
            .map(|&b| u8::from(b.is_ascii_alphanumeric()))
            .sum::<u8>();
        if usize::from(good) == CALL_UUID_LEN {
            Ok(CallUuid(arr))
        } else {
            Err(IdParseError::CallUuid)
        }
    }

    /// The CallUUID text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphanumerics are ever stored, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for CallUuid {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallUuid::from_ascii(s.as_bytes())
    }
}

impl fmt::Display for CallUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CallUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallUuid({})", self.as_str())
    }
}

macro_rules! int_enum {
    ($(#[$meta:meta])* $ty:ident { $( $name:ident = $num:literal, )* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $ty {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($num), ").")]
                $name,
            )*
            /// A value this crate does not know; preserved as is.
            Unknown(i32),
        }

        impl $ty {
            /// The value for a wire number (never fails).
            pub const fn from_i32(n: i32) -> Self {
                match n {
                    $($num => $ty::$name,)*
                    other => $ty::Unknown(other),
                }
            }

            /// The wire number.
            pub const fn as_i32(self) -> i32 {
                match self {
                    $($ty::$name => $num,)*
                    $ty::Unknown(n) => n,
                }
            }
        }
    };
}

int_enum! {
    /// `AttributeCallType`. The public `Unknown` (0) is [`CallType::Unspecified`] here, because
    /// `CallType::Unknown(n)` keeps numbers this crate does not know.
    CallType {
        Unspecified = 0,
        Internal = 1,
        Inbound = 2,
        Outbound = 3,
        Consult = 4,
    }
}

int_enum! {
    /// `AttributeAgentWorkMode`. The public `Unknown` (0) is [`AgentWorkMode::Unspecified`].
    AgentWorkMode {
        Unspecified = 0,
        ManualIn = 1,
        AutoIn = 2,
        AfterCallWork = 3,
        AuxWork = 4,
        NoCallDisconnect = 5,
        WalkAway = 6,
        ReturnBack = 7,
    }
}

int_enum! {
    /// `AttributeRegisterMode`.
    RegisterMode {
        Share = 0,
        Private = 1,
        Monitor = 2,
    }
}

int_enum! {
    /// `AttributeAddressType`.
    AddressType {
        Dn = 1,
        Position = 2,
        Queue = 3,
        RouteDn = 4,
    }
}

int_enum! {
    /// The base state of a party (`AttributePartyState` without its modifier bits).
    PartyStateKind {
        Initiated = 0x1,
        Queued = 0x9,
        Alerting = 0xA,
        Busy = 0xB,
        Connected = 0xC,
        Held = 0xE,
        Failed = 0xF,
    }
}

/// `AttributePartyState`: a base state plus the modifier bits `Dialing` (0x10000) and
/// `Uncertain` (0x20000). The raw value is kept, so unknown bits survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartyState(pub i32);

impl PartyState {
    /// Modifier: the party is dialing.
    pub const DIALING: i32 = 0x10000;
    /// Modifier: the state is uncertain.
    pub const UNCERTAIN: i32 = 0x20000;
    const MODIFIERS: i32 = Self::DIALING | Self::UNCERTAIN;

    /// A state from its base kind and modifiers.
    pub const fn new(kind: PartyStateKind, dialing: bool, uncertain: bool) -> Self {
        let mut v = kind.as_i32();
        if dialing {
            v |= Self::DIALING;
        }
        if uncertain {
            v |= Self::UNCERTAIN;
        }
        PartyState(v)
    }

    /// The base state (modifier bits removed).
    pub const fn kind(self) -> PartyStateKind {
        PartyStateKind::from_i32(self.0 & !Self::MODIFIERS)
    }

    /// True when the `Dialing` modifier is set.
    pub const fn is_dialing(self) -> bool {
        self.0 & Self::DIALING != 0
    }

    /// True when the `Uncertain` modifier is set.
    pub const fn is_uncertain(self) -> bool {
        self.0 & Self::UNCERTAIN != 0
    }
}

impl fmt::Debug for PartyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartyState({:?}", self.kind())?;
        if self.is_dialing() {
            f.write_str("|Dialing")?;
        }
        if self.is_uncertain() {
            f.write_str("|Uncertain")?;
        }
        f.write_str(")")
    }
}

/// The number of bytes in an input mask.
pub const INPUT_MASK_LEN: usize = 64;

/// `AttributeInputMask`: 64 bytes, one bit per message type (so types 0..=511). Bit `n` is
/// bit `n % 8` (least significant first) of byte `n / 8`; that bit order is our design.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InputMask(pub [u8; INPUT_MASK_LEN]);

impl InputMask {
    /// A mask with no message type selected.
    pub const fn none() -> Self {
        InputMask([0; INPUT_MASK_LEN])
    }

    /// A mask with every message type selected.
    pub const fn all() -> Self {
        InputMask([0xff; INPUT_MASK_LEN])
    }

    fn bit(t: MessageType) -> Option<(usize, u8)> {
        let n = usize::try_from(t.as_u32()).ok()?;
        (n < INPUT_MASK_LEN * 8).then(|| (n / 8, 1u8 << (n % 8)))
    }

    /// Selects a message type; returns false (and changes nothing) if its number is 512 or
    /// more, which a 64-byte mask cannot hold.
    pub fn insert(&mut self, t: MessageType) -> bool {
        match Self::bit(t) {
            Some((byte, mask)) => {
                self.0[byte] |= mask;
                true
            }
            None => false,
        }
    }

    /// Deselects a message type.
    pub fn remove(&mut self, t: MessageType) {
        if let Some((byte, mask)) = Self::bit(t) {
            self.0[byte] &= !mask;
        }
    }

    /// True when the message type is selected.
    pub fn contains(&self, t: MessageType) -> bool {
        Self::bit(t).is_some_and(|(byte, mask)| self.0[byte] & mask != 0)
    }
}

impl fmt::Debug for InputMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let selected = (0u32..512)
            .filter(|n| self.contains(MessageType::from_u32(*n)))
            .count();
        write!(f, "InputMask({selected} types selected)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_id_display_and_parse() {
        let id: ConnId = "0077028a809f7004".parse().unwrap();
        assert_eq!(id, ConnId(0x0077_028a_809f_7004));
        assert_eq!(id.to_string(), "0077028a809f7004");
        assert_eq!(ConnId(1).to_string(), "0000000000000001");
        assert!("77028a809f7004".parse::<ConnId>().is_err());
        assert!("+077028a809f7004".parse::<ConnId>().is_err());
        assert!("0077028a809f700g".parse::<ConnId>().is_err());
    }

    #[test]
    fn call_uuid_checks_length_and_charset() {
        let u: CallUuid = "QK59HK4FS927D7FUU41G6IE468000004".parse().unwrap();
        assert_eq!(u.to_string(), "QK59HK4FS927D7FUU41G6IE468000004");
        assert!(
            "QK59HK4FS927D7FUU41G6IE46800000"
                .parse::<CallUuid>()
                .is_err()
        );
        assert!(
            "QK59HK4FS927D7FUU41G6IE46800000-"
                .parse::<CallUuid>()
                .is_err()
        );
    }

    #[test]
    fn enums_keep_unknown_values() {
        assert_eq!(CallType::from_i32(2), CallType::Inbound);
        assert_eq!(CallType::from_i32(42).as_i32(), 42);
        assert_eq!(AgentWorkMode::from_i32(7), AgentWorkMode::ReturnBack);
        assert_eq!(RegisterMode::from_i32(2), RegisterMode::Monitor);
        assert_eq!(AddressType::from_i32(4), AddressType::RouteDn);
    }

    #[test]
    fn party_state_modifiers() {
        let s = PartyState(0x1000A | 0x20000);
        assert_eq!(s.kind(), PartyStateKind::Alerting);
        assert!(s.is_dialing() && s.is_uncertain());
        assert_eq!(
            PartyState::new(PartyStateKind::Held, false, true).0,
            0x2000E
        );
        assert_eq!(PartyState(0xC).kind(), PartyStateKind::Connected);
    }

    #[test]
    fn input_mask_bits() {
        let mut m = InputMask::none();
        assert!(m.insert(MessageType::EventEstablished));
        assert!(m.contains(MessageType::EventEstablished));
        assert_eq!(m.0[8], 1);
        assert!(!m.contains(MessageType::EventReleased));
        assert!(!m.insert(MessageType::Unknown(512)));
        m.remove(MessageType::EventEstablished);
        assert_eq!(m, InputMask::none());
        assert!(InputMask::all().contains(MessageType::Unknown(511)));
    }
}
