//! T-Library message types (requests and events) with their public numbers.
//!
//! The numbers are public facts (see the foundation issue and `WIRE.md`); the Rust names follow
//! the Genesys naming (`RequestRegisterClient`, `EventEstablished`, …). A number this crate does
//! not know decodes as [`MessageType::Unknown`] and re-encodes unchanged.

use std::fmt;

macro_rules! message_types {
    ($( $name:ident = $num:literal, )*) => {
        /// A T-Library message type: a request (client to server) or an event (server to
        /// client).
        ///
        /// Build values from numbers with [`MessageType::from_u32`]; it never fails. Do not
        /// construct `Unknown(n)` with a number that has a named variant: such a value encodes
        /// fine but decodes back as the named variant.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum MessageType {
            $(
                #[doc = concat!("`", stringify!($name), "`, message number ", stringify!($num), ".")]
                $name,
            )*
            /// A message number this crate does not know; preserved as is.
            Unknown(u32),
        }

        impl MessageType {
            /// Every named message type, in ascending number order.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$name,)*];

            /// The message type for a wire number (never fails: unknown numbers are preserved).
            #[inline]
            pub const fn from_u32(number: u32) -> Self {
                match number {
                    $($num => MessageType::$name,)*
                    other => MessageType::Unknown(other),
                }
            }

            /// The wire number of this message type.
            #[inline]
            pub const fn as_u32(self) -> u32 {
                match self {
                    $(MessageType::$name => $num,)*
                    MessageType::Unknown(n) => n,
                }
            }

            /// The Genesys name (`"EventEstablished"`), or `"Unknown"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(MessageType::$name => stringify!($name),)*
                    MessageType::Unknown(_) => "Unknown",
                }
            }
        }
    };
}

message_types! {
    RequestRegisterClient = 0,
    RequestQueryServer = 1,
    RequestQueryAddress = 2,
    RequestRegisterAddress = 3,
    RequestUnregisterAddress = 4,
    RequestRegisterAll = 5,
    RequestUnregisterAll = 6,
    RequestSetInputMask = 7,
    RequestAgentLogin = 8,
    RequestAgentLogout = 9,
    RequestAgentReady = 10,
    RequestAgentNotReady = 11,
    RequestMakeCall = 14,
    RequestAnswerCall = 16,
    RequestReleaseCall = 17,
    RequestHoldCall = 18,
    RequestRetrieveCall = 19,
    RequestAttachUserData = 30,
    RequestUpdateUserData = 31,
    RequestDeleteUserData = 32,
    RequestDeletePair = 33,
    RequestRouteCall = 36,
    RequestDistributeUserEvent = 48,
    RequestDistributeEvent = 49,
    EventServerConnected = 50,
    EventServerDisconnected = 51,
    EventError = 52,
    EventRegistered = 53,
    EventUnregistered = 54,
    EventQueued = 57,
    EventDiverted = 58,
    EventAbandoned = 59,
    EventRinging = 60,
    EventDialing = 61,
    EventNetworkReached = 62,
    EventDestinationBusy = 63,
    EventEstablished = 64,
    EventReleased = 65,
    EventHeld = 66,
    EventRetrieved = 67,
    EventPartyChanged = 68,
    EventPartyAdded = 69,
    EventPartyDeleted = 70,
    EventRouteRequest = 71,
    EventRouteUsed = 72,
    EventAgentLogin = 73,
    EventAgentLogout = 74,
    EventAgentReady = 75,
    EventAgentNotReady = 76,
    EventAttachedDataChanged = 85,
    EventAddressInfo = 92,
    EventServerInfo = 93,
    EventLinkDisconnected = 94,
    EventLinkConnected = 95,
    EventUserEvent = 96,
    RequestQueryCall = 108,
    EventPartyInfo = 109,
    EventAgentAfterCallWork = 118,
    EventAck = 138,
    EventDNOutOfService = 147,
    EventDNBackInService = 148,
    RequestPrivateService = 149,
    EventPrivateInfo = 150,
    EventCallCreated = 160,
    EventCallDataChanged = 161,
    EventCallDeleted = 162,
    EventCallPartyAdded = 163,
    EventCallPartyState = 164,
    EventCallPartyMoved = 165,
    EventCallPartyDeleted = 166,
    RequestStartCallMonitoring = 167,
    RequestStopCallMonitoring = 168,
}

impl MessageType {
    /// True for the named request types (client to server).
    pub fn is_request(self) -> bool {
        !matches!(self, MessageType::Unknown(_)) && self.name().starts_with("Request")
    }

    /// True for the named event types (server to client).
    pub fn is_event(self) -> bool {
        !matches!(self, MessageType::Unknown(_)) && self.name().starts_with("Event")
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageType::Unknown(n) => write!(f, "Unknown({n})"),
            named => write!(f, "{}({})", named.name(), named.as_u32()),
        }
    }
}

impl From<u32> for MessageType {
    fn from(number: u32) -> Self {
        MessageType::from_u32(number)
    }
}

impl From<MessageType> for u32 {
    fn from(t: MessageType) -> Self {
        t.as_u32()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for t in MessageType::ALL {
            assert!(seen.insert(t.as_u32()), "duplicate number {}", t.as_u32());
            assert_eq!(MessageType::from_u32(t.as_u32()), *t);
        }
        assert_eq!(MessageType::ALL.len(), 72);
    }

    #[test]
    fn public_numbers() {
        assert_eq!(MessageType::RequestRegisterClient.as_u32(), 0);
        assert_eq!(MessageType::RequestStopCallMonitoring.as_u32(), 168);
        assert_eq!(MessageType::EventCallPartyAdded.as_u32(), 163);
        assert_eq!(MessageType::EventAck.as_u32(), 138);
        assert_eq!(MessageType::from_u32(12), MessageType::Unknown(12));
        assert!(MessageType::RequestQueryCall.is_request());
        assert!(MessageType::EventPartyInfo.is_event());
        assert!(!MessageType::Unknown(7000).is_event());
        assert_eq!(
            MessageType::EventEstablished.to_string(),
            "EventEstablished(64)"
        );
    }
}
