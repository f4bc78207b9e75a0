//! Event injection for a foreign ACD (`EventsApi`): the wire models of conversation events,
//! user presence events and user routing-status events, each posted in batches of at most
//! [`MAX_EVENTS_PER_REQUEST`] and answered with a [`BatchEventResponse`].
//!
//! These models are the one definition of a GC conversation event in the workspace: the pure
//! call model (`engage-callmodel`) emits them, the EXCP injector posts them, the emulator
//! parses them. They need no HTTP: this module builds without the `client` feature (serde,
//! serde_json and time only); the posting (`GcClient::inject_*`) needs `client`.
//!
//! Ids and times are strings, as on the wire: GC's ids are UUIDs and `eventDateTime` is
//! `yyyy-MM-ddTHH:mm:ss.SSSZ` ([`event_time`], [`event_time_millis`]), but a receiver (the
//! emulator) must still hold and answer an event whose id or time is malformed.
//!
//! Field names and enums follow the public models (`BatchConversationEventRequest`,
//! `ExternalEstablishedEvent`, …, `UserPresenceEvent`, `UserRoutingStatusEvent`, `EventError`).
//!
//! Design where the public documentation is silent (NOT FOUND there): events carry their own
//! `eventId`, so a whole request is safe to resend and GC (and the emulator) apply each
//! `eventId` once; within one request the envelope groups events by type, so order is carried
//! by `eventDateTime` (keep it strictly increasing per conversation and per user); failed
//! events whose `retryable` is true are resent (only them) before the call returns, so later
//! calls never overtake them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(feature = "client")]
pub use crate::inject::InjectReport;

/// GC's per-request event limit ("A maximum of 100 events are allowed per request").
pub const MAX_EVENTS_PER_REQUEST: usize = 100;

/// The latest instant `eventDateTime` can express, 9999-12-31T23:59:59.999Z, in epoch
/// milliseconds.
pub const MAX_EVENT_MILLIS: u64 = 253_402_300_799_999;

/// Formats epoch milliseconds as GC's `eventDateTime` (`yyyy-MM-ddTHH:mm:ss.SSSZ`, UTC);
/// `None` after [`MAX_EVENT_MILLIS`].
pub fn event_time_millis(millis: u64) -> Option<String> {
    if millis > MAX_EVENT_MILLIS {
        return None;
    }
    let nanos = i128::from(millis).checked_mul(1_000_000)?;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    Some(event_time(t))
}

/// Formats a time as GC expects `eventDateTime`: `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC.
pub fn event_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// `AudioState`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioState {
    /// This participant can hear the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_hear: Option<bool>,
    /// The others can hear this participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_speak: Option<bool>,
}

/// `InitialConfiguration` of an established communication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialConfiguration {
    /// Audio state at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_state: Option<AudioState>,
    /// true: starts alerting (answer it later); false: starts connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<bool>,
    /// true = inbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<bool>,
    /// The communication that invited this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<String>,
    /// Recording active at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_active: Option<bool>,
    /// Diagnostic metadata (stored, not indexed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub additional_info: BTreeMap<String, String>,
}

/// `SourceConfiguration`: which external platform and interaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceConfiguration {
    /// The external platform (presence source id).
    pub source_id: String,
    /// The external call id.
    pub interaction_id: String,
    /// Optional tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<String>,
}

macro_rules! event_struct {
    ($(#[$m:meta])* $name:ident { comm; $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Unique event id (UUIDv4), the idempotency key.
            pub event_id: String,
            /// When it happened, `yyyy-MM-ddTHH:mm:ss.SSSZ`.
            pub event_date_time: String,
            /// Conversation id (UUIDv4, chosen by the connector).
            pub conversation_id: String,
            /// Communication id (UUIDv4, chosen by the connector).
            pub communication_id: String,
            $($(#[$fm])* pub $f: $t,)*
        }
        impl $name {
            fn communication(&self) -> Option<&str> { Some(&self.communication_id) }
        }
    };
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            /// Unique event id (UUIDv4), the idempotency key.
            pub event_id: String,
            /// When it happened, `yyyy-MM-ddTHH:mm:ss.SSSZ`.
            pub event_date_time: String,
            /// Conversation id.
            pub conversation_id: String,
            $($(#[$fm])* pub $f: $t,)*
        }
        impl $name {
            fn communication(&self) -> Option<&str> { None }
        }
    };
}

event_struct!(
    /// `ExternalEstablishedEvent`: the customer / remote party leg.
    ExternalEstablishedEvent { comm;
        /// Initial configuration (required).
        initial_configuration: InitialConfiguration,
        /// Source configuration (required).
        source_configuration: SourceConfiguration,
        /// Caller number.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani: Option<String>,
        /// Caller name.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani_name: Option<String>,
        /// Dialed number.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis: Option<String>,
        /// Dialed number name.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis_name: Option<String>,
    }
);

event_struct!(
    /// `IvrEstablishedEvent`: an IVR leg.
    IvrEstablishedEvent { comm;
        /// Initial configuration (required).
        initial_configuration: InitialConfiguration,
        /// Source configuration (required).
        source_configuration: SourceConfiguration,
        /// IVR number.
        #[serde(default, skip_serializing_if = "Option::is_none")] ivr_phone_number: Option<String>,
        /// IVR name.
        #[serde(default, skip_serializing_if = "Option::is_none")] ivr_name: Option<String>,
        /// ANI.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani: Option<String>,
        /// DNIS.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis: Option<String>,
    }
);

event_struct!(
    /// `PhoneEstablishedEvent`: a plain phone endpoint.
    PhoneEstablishedEvent { comm;
        /// Initial configuration (required).
        initial_configuration: InitialConfiguration,
        /// Source configuration (required).
        source_configuration: SourceConfiguration,
        /// The phone's number.
        #[serde(default, skip_serializing_if = "Option::is_none")] phone_number: Option<String>,
        /// ANI.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani: Option<String>,
        /// DNIS.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis: Option<String>,
    }
);

event_struct!(
    /// `RoutingEstablishedEvent`: the ACD / queue leg.
    RoutingEstablishedEvent { comm;
        /// Initial configuration (required).
        initial_configuration: InitialConfiguration,
        /// Source configuration (required).
        source_configuration: SourceConfiguration,
        /// The routing queue (required).
        queue_id: String,
        /// Number used to reach the queue.
        #[serde(default, skip_serializing_if = "Option::is_none")] phone_number: Option<String>,
        /// Skills used for routing.
        #[serde(default, skip_serializing_if = "Vec::is_empty")] skill_ids: Vec<String>,
        /// Language used for routing.
        #[serde(default, skip_serializing_if = "Option::is_none")] language_id: Option<String>,
        /// ANI.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani: Option<String>,
        /// DNIS.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis: Option<String>,
    }
);

event_struct!(
    /// `UserEstablishedEvent`: an agent leg.
    UserEstablishedEvent { comm;
        /// Initial configuration (required).
        initial_configuration: InitialConfiguration,
        /// Source configuration (required).
        source_configuration: SourceConfiguration,
        /// The agent (required).
        user_id: String,
        /// Number used to reach the user.
        #[serde(default, skip_serializing_if = "Option::is_none")] phone_number: Option<String>,
        /// Station.
        #[serde(default, skip_serializing_if = "Option::is_none")] station_id: Option<String>,
        /// Whether after-call work is required.
        #[serde(default, skip_serializing_if = "Option::is_none")] after_call_work_required: Option<bool>,
        /// Queue the user calls on behalf of (outbound).
        #[serde(default, skip_serializing_if = "Option::is_none")] queue_id: Option<String>,
        /// ANI.
        #[serde(default, skip_serializing_if = "Option::is_none")] ani: Option<String>,
        /// DNIS.
        #[serde(default, skip_serializing_if = "Option::is_none")] dnis: Option<String>,
    }
);

event_struct!(
    /// `CommunicationAnsweredEvent`.
    CommunicationAnsweredEvent { comm; }
);

event_struct!(
    /// `HoldUpdatedEvent`.
    HoldUpdatedEvent { comm;
        /// Whether the communication is held (required).
        held: bool,
    }
);

event_struct!(
    /// `AudioUpdatedEvent` (mute, listen-only…).
    AudioUpdatedEvent { comm;
        /// New audio state (required).
        audio_state: AudioState,
    }
);

event_struct!(
    /// `CommunicationDispositionAppliedEvent` (wrap-up).
    CommunicationDispositionAppliedEvent { comm;
        /// Wrap-up code id; absent means skipped.
        #[serde(default, skip_serializing_if = "Option::is_none")] code: Option<String>,
        /// Notes.
        #[serde(default, skip_serializing_if = "Option::is_none")] notes: Option<String>,
        /// Tags.
        #[serde(default, skip_serializing_if = "Vec::is_empty")] tags: Vec<String>,
    }
);

/// `disconnectType` of a voice `CommunicationEndedEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DisconnectType {
    /// Error.
    Error,
    /// The other side hung up.
    Peer,
    /// This party hung up.
    #[default]
    #[serde(rename = "Self")]
    SelfDisconnect,
    /// The platform ended it.
    System,
    /// Transfer.
    Transfer,
    /// Transfer to a queue.
    #[serde(rename = "TransferACD")]
    TransferAcd,
    /// Conference.
    TransferConference,
    /// Consult transfer.
    TransferConsult,
    /// Transfer to a user.
    TransferUser,
}

event_struct!(
    /// `CommunicationEndedEvent`.
    CommunicationEndedEvent { comm;
        /// How it ended (required).
        disconnect_type: DisconnectType,
        /// Conversation this communication moves to on a merge.
        #[serde(default, skip_serializing_if = "Option::is_none")] destination_conversation_id: Option<String>,
    }
);

/// `transferType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransferType {
    /// Attended.
    Attended,
    /// Unattended (blind).
    #[default]
    Unattended,
}

/// `finalState` of an `EndTransferEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FinalState {
    /// Succeeded.
    #[default]
    Completed,
    /// Cancelled.
    Canceled,
    /// Failed.
    Failed,
}

event_struct!(
    /// `RoutingTransferEvent`: transfer to a queue.
    RoutingTransferEvent {
        /// Attended / Unattended.
        transfer_type: TransferType,
        /// Id of this transfer command.
        command_id: String,
        /// Who starts the transfer.
        initiating_communication_id: String,
        /// The leg being left.
        target_communication_id: String,
        /// The leg being moved.
        object_communication_id: String,
        /// Destination queue.
        destination_queue_id: String,
        /// Language for routing.
        #[serde(default, skip_serializing_if = "Option::is_none")] language_id: Option<String>,
        /// Skills for routing.
        #[serde(default, skip_serializing_if = "Vec::is_empty")] skill_ids: Vec<String>,
    }
);

event_struct!(
    /// `UserTransferEvent`: transfer to a user.
    UserTransferEvent {
        /// Attended / Unattended.
        transfer_type: TransferType,
        /// Id of this transfer command.
        command_id: String,
        /// Who starts the transfer.
        initiating_communication_id: String,
        /// The leg being left.
        target_communication_id: String,
        /// The leg being moved.
        object_communication_id: String,
        /// Destination user.
        destination_user_id: String,
    }
);

event_struct!(
    /// `PhoneTransferEvent`: transfer to a number.
    PhoneTransferEvent {
        /// Attended / Unattended.
        transfer_type: TransferType,
        /// Id of this transfer command.
        command_id: String,
        /// Who starts the transfer.
        initiating_communication_id: String,
        /// The leg being left.
        target_communication_id: String,
        /// The leg being moved.
        object_communication_id: String,
        /// Destination number (not a UUID).
        destination_phone_number: String,
    }
);

event_struct!(
    /// `ProgressTransferEvent`.
    ProgressTransferEvent {
        /// The transfer command.
        command_id: String,
        /// The leg being moved.
        object_communication_id: String,
        /// The leg it moves to.
        destination_communication_id: String,
    }
);

event_struct!(
    /// `EndTransferEvent`.
    EndTransferEvent {
        /// The transfer command.
        command_id: String,
        /// Outcome.
        final_state: FinalState,
        /// The leg that was being moved.
        object_communication_id: String,
    }
);

event_struct!(
    /// `ConsultTransferEvent`.
    ConsultTransferEvent {
        /// Who starts the transfer.
        initiating_communication_id: String,
        /// The leg transferred to.
        destination_communication_id: String,
        /// The leg being moved.
        object_communication_id: String,
    }
);

event_struct!(
    /// `ProgressConsultTransferEvent`.
    ProgressConsultTransferEvent {
        /// Who starts the transfer.
        initiating_communication_id: String,
        /// The leg transferred to.
        destination_communication_id: String,
        /// The leg being moved.
        object_communication_id: String,
    }
);

event_struct!(
    /// `EndConsultTransferEvent` (only the base fields).
    EndConsultTransferEvent {}
);

macro_rules! conversation_events {
    ($( $variant:ident($ty:ident) => $field:ident, $json:literal, $rank:literal; )*) => {
        /// One voice conversation event, of any type.
        ///
        /// Its own serde form (used for the call model's state and the scenario files, never
        /// sent to GC) is the event's JSON with a `type` tag, the envelope array's name without
        /// `Events` (`communicationEnded`); GC gets [`BatchConversationEventRequest`].
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        #[non_exhaustive]
        pub enum ConversationEvent {
            $(
                #[doc = concat!("`", stringify!($ty), "`")]
                $variant($ty),
            )*
        }

        /// `BatchConversationEventRequest`: one array per event type (voice arrays).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct BatchConversationEventRequest {
            $(
                #[doc = concat!("`", $json, "`")]
                #[serde(default, skip_serializing_if = "Vec::is_empty")]
                pub $field: Vec<$ty>,
            )*
        }

        impl BatchConversationEventRequest {
            /// Adds an event to its array.
            pub fn push(&mut self, e: ConversationEvent) {
                match e { $( ConversationEvent::$variant(x) => self.$field.push(x), )* }
            }
            /// The events, array by array.
            pub fn into_events(self) -> Vec<ConversationEvent> {
                let mut v = Vec::new();
                $( v.extend(self.$field.into_iter().map(ConversationEvent::$variant)); )*
                v
            }
            /// Number of events.
            pub fn len(&self) -> usize { 0 $( + self.$field.len() )* }
            /// No events.
            pub fn is_empty(&self) -> bool { self.len() == 0 }
            /// The JSON array names of the envelope.
            pub const ARRAYS: &'static [&'static str] = &[$($json),*];
        }

        impl ConversationEvent {
            /// `eventId`.
            pub fn event_id(&self) -> &str { match self { $( Self::$variant(e) => &e.event_id, )* } }
            /// `conversationId`.
            pub fn conversation_id(&self) -> &str { match self { $( Self::$variant(e) => &e.conversation_id, )* } }
            /// `eventDateTime`.
            pub fn event_date_time(&self) -> &str { match self { $( Self::$variant(e) => &e.event_date_time, )* } }
            /// `communicationId`, for the event types that have one.
            pub fn communication_id(&self) -> Option<&str> { match self { $( Self::$variant(e) => e.communication(), )* } }
            /// Whether this event creates a communication (the five `*EstablishedEvent`s).
            pub fn is_established(&self) -> bool {
                matches!(
                    self,
                    Self::ExternalEstablished(_)
                        | Self::IvrEstablished(_)
                        | Self::PhoneEstablished(_)
                        | Self::RoutingEstablished(_)
                        | Self::UserEstablished(_)
                )
            }
            /// The envelope array this event goes in, e.g. `communicationEndedEvents`.
            pub fn array_name(&self) -> &'static str { match self { $( Self::$variant(_) => $json, )* } }
            /// Order of application among events with the same `eventDateTime`.
            pub fn rank(&self) -> u8 { match self { $( Self::$variant(_) => $rank, )* } }
            /// Parses one event of the named envelope array.
            pub fn from_json(array: &str, v: serde_json::Value) -> Option<Result<Self, serde_json::Error>> {
                match array {
                    $( $json => Some(serde_json::from_value::<$ty>(v).map(Self::$variant)), )*
                    _ => None,
                }
            }
            /// The event as JSON.
            pub fn to_json(&self) -> serde_json::Value {
                match self { $( Self::$variant(e) => serde_json::to_value(e).unwrap_or_default(), )* }
            }
        }

        $(
            impl From<$ty> for ConversationEvent {
                fn from(e: $ty) -> Self { Self::$variant(e) }
            }
        )*
    };
}

conversation_events! {
    ExternalEstablished(ExternalEstablishedEvent) => external_established_events, "externalEstablishedEvents", 0;
    IvrEstablished(IvrEstablishedEvent) => ivr_established_events, "ivrEstablishedEvents", 0;
    PhoneEstablished(PhoneEstablishedEvent) => phone_established_events, "phoneEstablishedEvents", 0;
    RoutingEstablished(RoutingEstablishedEvent) => routing_established_events, "routingEstablishedEvents", 0;
    UserEstablished(UserEstablishedEvent) => user_established_events, "userEstablishedEvents", 0;
    CommunicationAnswered(CommunicationAnsweredEvent) => communication_answered_events, "communicationAnsweredEvents", 1;
    HoldUpdated(HoldUpdatedEvent) => hold_updated_events, "holdUpdatedEvents", 2;
    AudioUpdated(AudioUpdatedEvent) => audio_updated_events, "audioUpdatedEvents", 2;
    RoutingTransfer(RoutingTransferEvent) => routing_transfer_events, "routingTransferEvents", 3;
    UserTransfer(UserTransferEvent) => user_transfer_events, "userTransferEvents", 3;
    PhoneTransfer(PhoneTransferEvent) => phone_transfer_events, "phoneTransferEvents", 3;
    ProgressTransfer(ProgressTransferEvent) => progress_transfer_events, "progressTransferEvents", 4;
    EndTransfer(EndTransferEvent) => end_transfer_events, "endTransferEvents", 5;
    ConsultTransfer(ConsultTransferEvent) => consult_transfer_events, "consultTransferEvents", 3;
    ProgressConsultTransfer(ProgressConsultTransferEvent) => progress_consult_transfer_events, "progressConsultTransferEvents", 4;
    EndConsultTransfer(EndConsultTransferEvent) => end_consult_transfer_events, "endConsultTransferEvents", 5;
    CommunicationEnded(CommunicationEndedEvent) => communication_ended_events, "communicationEndedEvents", 6;
    CommunicationDispositionApplied(CommunicationDispositionAppliedEvent) => communication_disposition_applied_events, "communicationDispositionAppliedEvents", 7;
}

/// `UserPresenceEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPresenceEvent {
    /// Unique event id (UUIDv4).
    pub event_id: String,
    /// When, ISO-8601.
    pub event_date_time: String,
    /// The user.
    pub user_id: String,
    /// The presence source being updated.
    pub source_id: String,
    /// The presence definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_definition_id: Option<String>,
    /// Presence message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `BatchUserPresenceEventRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchUserPresenceEventRequest {
    /// The events.
    #[serde(default)]
    pub user_presence_events: Vec<UserPresenceEvent>,
}

/// `status` of a `UserRoutingStatusEvent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RoutingStatus {
    /// Off queue.
    #[default]
    OffQueue,
    /// Idle (ready).
    Idle,
    /// Interacting.
    Interacting,
    /// Communicating (non-ACD).
    Communicating,
    /// Not responding.
    NotResponding,
}

/// `UserRoutingStatusEvent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRoutingStatusEvent {
    /// Unique event id.
    pub event_id: String,
    /// When, ISO-8601.
    pub event_date_time: String,
    /// The agent.
    pub agent_id: String,
    /// New status.
    pub status: RoutingStatus,
    /// The agent's source platform id.
    pub source_id: String,
}

/// `BatchUserRoutingStatusEventRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchUserRoutingStatusEventRequest {
    /// The events.
    #[serde(default)]
    pub user_routing_status_events: Vec<UserRoutingStatusEvent>,
}

/// `EventError`: one failed event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventError {
    /// The failed event's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Whether the event may be submitted again.
    #[serde(default)]
    pub retryable: bool,
}

/// `BatchEventResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEventResponse {
    /// Failed events; empty when all were accepted.
    #[serde(default)]
    pub errors: Vec<EventError>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_uses_public_array_and_field_names() {
        let mut b = BatchConversationEventRequest::default();
        b.push(ConversationEvent::CommunicationEnded(
            CommunicationEndedEvent {
                event_id: "e".into(),
                event_date_time: "2026-01-01T00:00:00.000Z".into(),
                conversation_id: "c".into(),
                communication_id: "m".into(),
                disconnect_type: DisconnectType::TransferAcd,
                destination_conversation_id: None,
            },
        ));
        let v = serde_json::to_value(&b).expect("json");
        let ended = &v["communicationEndedEvents"][0];
        assert_eq!(ended["disconnectType"], "TransferACD");
        assert_eq!(ended["communicationId"], "m");
        assert_eq!(ended["eventDateTime"], "2026-01-01T00:00:00.000Z");
        assert!(v.get("holdUpdatedEvents").is_none());
        let back: BatchConversationEventRequest = serde_json::from_value(v).expect("parse");
        assert_eq!(back, b);
        let s = serde_json::to_value(DisconnectType::SelfDisconnect).expect("json");
        assert_eq!(s, "Self");
        let r = serde_json::to_value(RoutingStatus::NotResponding).expect("json");
        assert_eq!(r, "NotResponding");
    }

    #[test]
    fn event_time_format() {
        let t = time::macros::datetime!(2026-03-04 05:06:07.089 UTC);
        assert_eq!(event_time(t), "2026-03-04T05:06:07.089Z");
        assert_eq!(
            event_time_millis(1_767_225_600_123).as_deref(),
            Some("2026-01-01T00:00:00.123Z")
        );
        assert_eq!(
            event_time_millis(0).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        assert_eq!(
            event_time_millis(MAX_EVENT_MILLIS).as_deref(),
            Some("9999-12-31T23:59:59.999Z")
        );
        assert_eq!(event_time_millis(MAX_EVENT_MILLIS + 1), None);
        assert_eq!(event_time_millis(u64::MAX), None);
    }

    #[test]
    fn tagged_form_names_the_type_and_round_trips() {
        let e = ConversationEvent::ProgressConsultTransfer(ProgressConsultTransferEvent {
            event_id: "e".into(),
            event_date_time: "2026-01-01T00:00:00.000Z".into(),
            conversation_id: "c".into(),
            initiating_communication_id: "i".into(),
            destination_communication_id: "d".into(),
            object_communication_id: "o".into(),
        });
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["type"], "progressConsultTransfer");
        assert_eq!(
            format!("{}Events", v["type"].as_str().unwrap_or_default()),
            e.array_name()
        );
        let back: ConversationEvent = serde_json::from_value(v).expect("parse");
        assert_eq!(back, e);
        assert!(!e.is_established());
    }
}
