//! What the model emits: Genesys Cloud conversation events (gcex's event-injection models,
//! [`gcex::events::ConversationEvent`], ready for a `BatchConversationEventRequest`),
//! recording-segment metadata, and conversation-closed notices.
//!
//! The events carry what GC gets on the wire: ids as hyphenated lower-case UUID strings and
//! `eventDateTime` as `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC), formatted from the model's epoch
//! milliseconds by [`gcex::events::event_time_millis`]. An event time after
//! [`gcex::events::MAX_EVENT_MILLIS`] (year 9999) is written as that instant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use gcex::events::ConversationEvent;

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
