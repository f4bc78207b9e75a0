//! What the model emits: Genesys Cloud conversation events (mirroring the event-injection API's
//! models field for field, in serde camelCase, so `bins` converts them 1:1), recording-segment
//! metadata, and conversation-closed notices.
//!
//! One deliberate difference from the GC JSON: `eventDateTime` is epoch milliseconds (`u64`);
//! the converter formats it as ISO-8601 (`yyyy-MM-ddTHH:mm:ss.SSSZ`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `AudioState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioState {
    /// This participant can hear the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_hear: Option<bool>,
    /// The others can hear this participant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub can_speak: Option<bool>,
}

/// `InitialConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialConfiguration {
    /// Audio state at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_state: Option<AudioState>,
    /// true: starts alerting (an answered event follows); false: starts connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<bool>,
    /// Direction relative to the contact center (true = inbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<bool>,
    /// The communication that invited this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<Uuid>,
    /// Whether recording is active at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_active: Option<bool>,
    /// Diagnostics metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<BTreeMap<String, String>>,
}

/// `SourceConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceConfiguration {
    /// The external platform (model config `source_id`).
    pub source_id: String,
    /// The Engage interaction: the first leg's `CallUUID`.
    pub interaction_id: String,
    /// Optional tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_id: Option<String>,
}

/// The fields every established event shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Established {
    /// Unique event id.
    pub event_id: Uuid,
    /// Event time, epoch milliseconds.
    pub event_date_time: u64,
    /// Conversation id.
    pub conversation_id: Uuid,
    /// The communication this event creates.
    pub communication_id: Uuid,
    /// Initial configuration.
    pub initial_configuration: InitialConfiguration,
    /// Source configuration.
    pub source_configuration: SourceConfiguration,
}

/// `ExternalEstablishedEvent`: the customer or another external party.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEstablishedEvent {
    /// Common established fields.
    #[serde(flatten)]
    pub base: Established,
    /// Caller number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// Caller name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani_name: Option<String>,
    /// Dialed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
    /// Dialed number name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis_name: Option<String>,
}

/// `IvrEstablishedEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IvrEstablishedEvent {
    /// Common established fields.
    #[serde(flatten)]
    pub base: Established,
    /// The IVR's number (the Routing Point DN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr_phone_number: Option<String>,
    /// IVR display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivr_name: Option<String>,
    /// Caller number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// Dialed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
}

/// `PhoneEstablishedEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneEstablishedEvent {
    /// Common established fields.
    #[serde(flatten)]
    pub base: Established,
    /// The phone's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Caller number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// Dialed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
}

/// `RoutingEstablishedEvent`: the ACD queue leg.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingEstablishedEvent {
    /// Common established fields.
    #[serde(flatten)]
    pub base: Established,
    /// GC queue id.
    pub queue_id: String,
    /// Number used to reach the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Skills used to choose a destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_ids: Option<Vec<String>>,
    /// Language used to choose a destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_id: Option<String>,
    /// Caller number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// Dialed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
}

/// `UserEstablishedEvent`: an agent leg.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEstablishedEvent {
    /// Common established fields.
    #[serde(flatten)]
    pub base: Established,
    /// GC user id.
    pub user_id: String,
    /// Number used to reach the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Station in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_id: Option<String>,
    /// Whether after-call work is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_call_work_required: Option<bool>,
    /// Queue the user calls on behalf of (outbound only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Caller number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// Dialed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
}

/// The four common fields of communication state events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationRef {
    /// Unique event id.
    pub event_id: Uuid,
    /// Event time, epoch milliseconds.
    pub event_date_time: u64,
    /// Conversation id.
    pub conversation_id: Uuid,
    /// The communication concerned.
    pub communication_id: Uuid,
}

/// `CommunicationAnsweredEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationAnsweredEvent {
    /// Common fields.
    #[serde(flatten)]
    pub base: CommunicationRef,
}

/// `HoldUpdatedEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldUpdatedEvent {
    /// Common fields.
    #[serde(flatten)]
    pub base: CommunicationRef,
    /// Whether the communication is held.
    pub held: bool,
}

/// `AudioUpdatedEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioUpdatedEvent {
    /// Common fields.
    #[serde(flatten)]
    pub base: CommunicationRef,
    /// The new audio state.
    pub audio_state: AudioState,
}

/// `CommunicationDispositionAppliedEvent`: wrap-up; `code` absent means skipped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationDispositionAppliedEvent {
    /// Common fields.
    #[serde(flatten)]
    pub base: CommunicationRef,
    /// GC wrap-up code id; absent = skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Agent notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// `disconnectType` of a communicationEnded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DisconnectType {
    /// The platform failed.
    Error,
    /// The other side hung up (or the party was left alone).
    Peer,
    /// This party hung up.
    #[serde(rename = "Self")]
    SelfDisconnect,
    /// The platform ended the leg (ring timeout, missing events, stale call).
    System,
    /// Left by a transfer to a phone number.
    Transfer,
    /// Left by a transfer to a queue.
    #[serde(rename = "TransferACD")]
    TransferAcd,
    /// Left by a conference.
    TransferConference,
    /// Left by completing a consult transfer.
    TransferConsult,
    /// Left by a transfer to a user.
    TransferUser,
}

/// `CommunicationEndedEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationEndedEvent {
    /// Common fields.
    #[serde(flatten)]
    pub base: CommunicationRef,
    /// How it ended.
    pub disconnect_type: DisconnectType,
    /// Conversation the communication moves to on a merge (never set by this model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_conversation_id: Option<Uuid>,
}

/// The three base fields of transfer and consult events (they have no communicationId).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationRef {
    /// Unique event id.
    pub event_id: Uuid,
    /// Event time, epoch milliseconds.
    pub event_date_time: u64,
    /// Conversation id.
    pub conversation_id: Uuid,
}

/// `transferType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransferType {
    /// Attended.
    Attended,
    /// Unattended (blind / routing).
    Unattended,
}

/// Fields shared by the three transfer-start events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferStart {
    /// Base fields.
    #[serde(flatten)]
    pub base: ConversationRef,
    /// Kind of transfer.
    pub transfer_type: TransferType,
    /// Id later transfer events refer to.
    pub command_id: Uuid,
    /// The communication starting the transfer.
    pub initiating_communication_id: Uuid,
    /// The communication transferred away from.
    pub target_communication_id: Uuid,
    /// The communication being transferred.
    pub object_communication_id: Uuid,
}

/// `RoutingTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingTransferEvent {
    /// Shared transfer fields.
    #[serde(flatten)]
    pub transfer: TransferStart,
    /// Destination queue.
    pub destination_queue_id: String,
    /// Language used to choose a destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_id: Option<String>,
    /// Skills used to choose a destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_ids: Option<Vec<String>>,
}

/// `UserTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTransferEvent {
    /// Shared transfer fields.
    #[serde(flatten)]
    pub transfer: TransferStart,
    /// Destination user.
    pub destination_user_id: String,
}

/// `PhoneTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneTransferEvent {
    /// Shared transfer fields.
    #[serde(flatten)]
    pub transfer: TransferStart,
    /// Destination number.
    pub destination_phone_number: String,
}

/// `ProgressTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressTransferEvent {
    /// Base fields.
    #[serde(flatten)]
    pub base: ConversationRef,
    /// The transfer.
    pub command_id: Uuid,
    /// The communication being transferred.
    pub object_communication_id: Uuid,
    /// The communication it is being transferred to.
    pub destination_communication_id: Uuid,
}

/// `finalState` of an end-transfer event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TransferFinalState {
    /// Succeeded.
    Completed,
    /// Cancelled.
    Canceled,
    /// Failed.
    Failed,
}

/// `EndTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndTransferEvent {
    /// Base fields.
    #[serde(flatten)]
    pub base: ConversationRef,
    /// The transfer.
    pub command_id: Uuid,
    /// Outcome.
    pub final_state: TransferFinalState,
    /// The communication that was being transferred.
    pub object_communication_id: Uuid,
}

/// `ConsultTransferEvent` and `ProgressConsultTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsultTransferEvent {
    /// Base fields.
    #[serde(flatten)]
    pub base: ConversationRef,
    /// The participant starting the transfer.
    pub initiating_communication_id: Uuid,
    /// The communication being transferred to.
    pub destination_communication_id: Uuid,
    /// The communication being transferred.
    pub object_communication_id: Uuid,
}

/// `EndConsultTransferEvent`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndConsultTransferEvent {
    /// Base fields.
    #[serde(flatten)]
    pub base: ConversationRef,
}

/// One GC conversation event; the tag (`type`) names the batch array it goes to
/// (`externalEstablished` -> `externalEstablishedEvents`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum ConversationEvent {
    /// `externalEstablishedEvents`.
    ExternalEstablished(ExternalEstablishedEvent),
    /// `ivrEstablishedEvents`.
    IvrEstablished(IvrEstablishedEvent),
    /// `phoneEstablishedEvents`.
    PhoneEstablished(PhoneEstablishedEvent),
    /// `routingEstablishedEvents`.
    RoutingEstablished(RoutingEstablishedEvent),
    /// `userEstablishedEvents`.
    UserEstablished(UserEstablishedEvent),
    /// `communicationAnsweredEvents`.
    CommunicationAnswered(CommunicationAnsweredEvent),
    /// `holdUpdatedEvents`.
    HoldUpdated(HoldUpdatedEvent),
    /// `audioUpdatedEvents`.
    AudioUpdated(AudioUpdatedEvent),
    /// `communicationDispositionAppliedEvents`.
    CommunicationDispositionApplied(CommunicationDispositionAppliedEvent),
    /// `communicationEndedEvents`.
    CommunicationEnded(CommunicationEndedEvent),
    /// `routingTransferEvents`.
    RoutingTransfer(RoutingTransferEvent),
    /// `userTransferEvents`.
    UserTransfer(UserTransferEvent),
    /// `phoneTransferEvents`.
    PhoneTransfer(PhoneTransferEvent),
    /// `progressTransferEvents`.
    ProgressTransfer(ProgressTransferEvent),
    /// `endTransferEvents`.
    EndTransfer(EndTransferEvent),
    /// `consultTransferEvents`.
    ConsultTransfer(ConsultTransferEvent),
    /// `progressConsultTransferEvents`.
    ProgressConsultTransfer(ConsultTransferEvent),
    /// `endConsultTransferEvents`.
    EndConsultTransfer(EndConsultTransferEvent),
}

impl ConversationEvent {
    /// The event's id.
    pub fn event_id(&self) -> Uuid {
        self.header().0
    }

    /// The event's time, epoch milliseconds.
    pub fn event_date_time(&self) -> u64 {
        self.header().1
    }

    /// The conversation the event belongs to.
    pub fn conversation_id(&self) -> Uuid {
        self.header().2
    }

    /// The communication the event is about (established, answered, hold, audio, disposition,
    /// ended); `None` for transfer and consult events.
    pub fn communication_id(&self) -> Option<Uuid> {
        use ConversationEvent as E;
        Some(match self {
            E::ExternalEstablished(e) => e.base.communication_id,
            E::IvrEstablished(e) => e.base.communication_id,
            E::PhoneEstablished(e) => e.base.communication_id,
            E::RoutingEstablished(e) => e.base.communication_id,
            E::UserEstablished(e) => e.base.communication_id,
            E::CommunicationAnswered(e) => e.base.communication_id,
            E::HoldUpdated(e) => e.base.communication_id,
            E::AudioUpdated(e) => e.base.communication_id,
            E::CommunicationDispositionApplied(e) => e.base.communication_id,
            E::CommunicationEnded(e) => e.base.communication_id,
            _ => return None,
        })
    }

    /// Whether this event creates a communication.
    pub fn is_established(&self) -> bool {
        use ConversationEvent as E;
        matches!(
            self,
            E::ExternalEstablished(_)
                | E::IvrEstablished(_)
                | E::PhoneEstablished(_)
                | E::RoutingEstablished(_)
                | E::UserEstablished(_)
        )
    }

    fn header(&self) -> (Uuid, u64, Uuid) {
        use ConversationEvent as E;
        let est = |b: &Established| (b.event_id, b.event_date_time, b.conversation_id);
        let com = |b: &CommunicationRef| (b.event_id, b.event_date_time, b.conversation_id);
        let conv = |b: &ConversationRef| (b.event_id, b.event_date_time, b.conversation_id);
        match self {
            E::ExternalEstablished(e) => est(&e.base),
            E::IvrEstablished(e) => est(&e.base),
            E::PhoneEstablished(e) => est(&e.base),
            E::RoutingEstablished(e) => est(&e.base),
            E::UserEstablished(e) => est(&e.base),
            E::CommunicationAnswered(e) => com(&e.base),
            E::HoldUpdated(e) => com(&e.base),
            E::AudioUpdated(e) => com(&e.base),
            E::CommunicationDispositionApplied(e) => com(&e.base),
            E::CommunicationEnded(e) => com(&e.base),
            E::RoutingTransfer(e) => conv(&e.transfer.base),
            E::UserTransfer(e) => conv(&e.transfer.base),
            E::PhoneTransfer(e) => conv(&e.transfer.base),
            E::ProgressTransfer(e) => conv(&e.base),
            E::EndTransfer(e) => conv(&e.base),
            E::ConsultTransfer(e) | E::ProgressConsultTransfer(e) => conv(&e.base),
            E::EndConsultTransfer(e) => conv(&e.base),
        }
    }
}

/// Recording / STA metadata for one agent segment (answer to end of an agent's communication),
/// for the recording provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingSegment {
    /// Conversation id.
    pub conversation_id: Uuid,
    /// The agent's communication.
    pub communication_id: Uuid,
    /// GC user id of the agent.
    pub user_id: String,
    /// The agent's extension DN.
    pub agent_dn: String,
    /// `CallUUID` of the leg the agent answered on (recordings are filed by it).
    pub call_uuid: String,
    /// `ConnID` of that leg at answer time.
    pub conn_id: String,
    /// GC id of the queue the call came through to this agent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origination_queue_id: Option<String>,
    /// STA language: the user-data value under `sta_userdata_language_key` at answer time, else
    /// `sta_default_language`; absent when neither is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Answer time, epoch milliseconds.
    pub start_time: u64,
    /// End time, epoch milliseconds.
    pub end_time: u64,
}

/// The model forgot a conversation: every communication has ended and every Engage leg is
/// gone (or the stale-call timeout fired). EXCP calls EXRP's interaction-end API on this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationClosed {
    /// Conversation id.
    pub conversation_id: Uuid,
    /// The first leg's `CallUUID`.
    pub interaction_id: String,
    /// Every Engage leg of the conversation, in order of appearance.
    pub call_uuids: Vec<String>,
    /// Whether the conversation went through monitoring-suspension mode.
    pub suspended: bool,
    /// Whether the stale-call timeout closed it.
    pub timed_out: bool,
}

/// One output of the model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "output", content = "body", rename_all = "camelCase")]
#[non_exhaustive]
pub enum Output {
    /// A GC conversation event to inject.
    Event(ConversationEvent),
    /// Recording metadata for an agent segment that ended.
    RecordingSegment(RecordingSegment),
    /// A conversation is complete.
    ConversationClosed(ConversationClosed),
}
