//! The normalized Engage events the model consumes.
//!
//! The EXCP engine translates T-Library events into these. Names stay close to TLib
//! (`EventCallPartyAdded`, `CallUUID`, `ConnID`, `ISLinkList`, `PartyState`) so that a SIP Server
//! simulator can replay a scenario file as TLib events. Times are event times in epoch
//! milliseconds; the model never reads a clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// T-Library call type (`AttributeCallType`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CallType {
    /// CallTypeUnknown (0).
    #[default]
    Unknown,
    /// CallTypeInternal (1): extension to extension on one site; never injected.
    Internal,
    /// CallTypeInbound (2).
    Inbound,
    /// CallTypeOutbound (3).
    Outbound,
    /// CallTypeConsult (4): a consult call made out of a main call.
    Consult,
}

/// The type of the DN a party sits on (from the Config DB DN type).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DnType {
    /// An agent extension.
    Extension,
    /// A Routing Point hosting an IVR application / routing strategy.
    RoutingPoint,
    /// A trunk: the external party (customer or dialed number), or an inter-site trunk.
    Trunk,
    /// An Engage ACD queue (not a virtual queue); not injected.
    AcdQueue,
    /// Anything else; not injected.
    #[default]
    Other,
}

/// The role of a party in the call, as the EXCP engine normalizes it from TLib (`ThisDNRole`,
/// the call state of the request that added the party, and ISCC knowledge of inter-site trunks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PartyRole {
    /// The party that originated the call.
    Origination,
    /// A destination of the call: routed to, dialed, transferred to, consulted.
    #[default]
    Destination,
    /// Added by a conference (single-step or completed consult conference). Unsupported by GC.
    ConferenceMember,
    /// A supervisor: silent monitoring, coaching or barge-in. Unsupported by GC.
    Observer,
    /// The trunk that links this call leg to a leg on another site (ISCC); never a GC party.
    InterSite,
}

/// T-Library party state (`PartyState`: Initiated 0x1 ... Held 0xE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PartyState {
    /// Initiated / dialing: an originating party before the far end answers.
    Initiated,
    /// Queued on a queue DN.
    Queued,
    /// Ringing.
    #[default]
    Alerting,
    /// The destination was busy.
    Busy,
    /// Talking.
    Connected,
    /// On hold (this party placed the call on hold).
    Held,
    /// The attempt failed.
    Failed,
}

/// One party of an Engage call (call-monitoring party information).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    /// Party id, unique within the call (`AttributePartyUUID` / party id of call monitoring).
    pub party_id: String,
    /// The DN (`ThisDN`): an extension, a routing point, or the remote number for a trunk.
    pub dn: String,
    /// Type of that DN.
    #[serde(default)]
    pub dn_type: DnType,
    /// Role of the party in the call.
    #[serde(default)]
    pub role: PartyRole,
    /// Current party state.
    #[serde(default)]
    pub state: PartyState,
}

/// Identity fields every call-scoped event carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRef {
    /// Event time, epoch milliseconds.
    pub time: u64,
    /// Switch / site whose SIP Server reported the event (informational; used by simulators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// `CallUUID`: never changes during one call leg.
    pub call_uuid: String,
    /// `ConnID` (16 hex digits); may change during a call.
    #[serde(default)]
    pub conn_id: String,
    /// `ISLinkList`: ids linking this leg to legs of the same call on other sites.
    #[serde(default, rename = "isLinkList", skip_serializing_if = "Vec::is_empty")]
    pub is_link_list: Vec<String>,
}

/// `EventCallCreated`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallCreated {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// `CallType`.
    #[serde(default)]
    pub call_type: CallType,
    /// For a consult call: the `CallUUID` of the main call it was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_call_uuid: Option<String>,
    /// `OrigCallUUID`: the first leg's CallUUID when this leg continues a multi-site call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_call_uuid: Option<String>,
    /// `ANI`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ani: Option<String>,
    /// `DNIS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnis: Option<String>,
    /// `UserData` (values as strings).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_data: BTreeMap<String, String>,
    /// Parties already present when the call is reported (may be empty; parties may also
    /// arrive as `EventCallPartyAdded`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<Party>,
}

/// `EventCallDataChanged`: user data keys added or changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallDataChanged {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// The changed keys with their new values.
    #[serde(default)]
    pub user_data: BTreeMap<String, String>,
}

/// `EventCallDeleted`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallDeleted {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// `AttributeCtrlParty`: the party that released the call, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctrl_party_id: Option<String>,
}

/// `EventCallPartyAdded` and `EventCallPartyState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyEvent {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// The party and its (new) state.
    pub party: Party,
}

/// `EventCallPartyMoved`: a party moved from another call into this one (transfer or
/// conference completion).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyMoved {
    /// The call the party moved into.
    #[serde(flatten)]
    pub call: CallRef,
    /// The party as it now is in this call.
    pub party: Party,
    /// The `CallUUID` of the call it left.
    pub from_call_uuid: String,
    /// Its party id in the call it left.
    pub from_party_id: String,
}

/// `EventCallPartyDeleted`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyDeleted {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// The party that left.
    pub party_id: String,
    /// `AttributeCtrlParty`: the party that caused the release, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctrl_party_id: Option<String>,
}

/// `EventQueued` / `EventDiverted` on a virtual queue DN.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VqEvent {
    /// Call identity and time.
    #[serde(flatten)]
    pub call: CallRef,
    /// The virtual queue DN (`ThisDN`).
    pub vq: String,
    /// `EventDiverted` only: where the call was routed (`ThirdPartyDN`); absent when the call
    /// left the queue without being routed (abandoned, cleared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_dn: Option<String>,
}

/// `EventUserEvent` on an agent extension: the desktop's view of the call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEvent {
    /// Event time, epoch milliseconds.
    pub time: u64,
    /// Switch / site (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The extension DN the event was distributed on.
    pub dn: String,
    /// The call it refers to; events without one are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_uuid: Option<String>,
    /// `ConnID` of that call.
    #[serde(default)]
    pub conn_id: String,
    /// DNs of the current participants, as the desktop reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    /// Attached data (e.g. the disposition code set in after-call work).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_data: BTreeMap<String, String>,
}

/// One normalized Engage event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event")]
#[non_exhaustive]
pub enum EngageEvent {
    /// `EventQueued` on a VQ DN.
    EventQueued(VqEvent),
    /// `EventDiverted` on a VQ DN.
    EventDiverted(VqEvent),
    /// `EventUserEvent` on an extension DN.
    EventUserEvent(UserEvent),
    /// `EventCallCreated` (call monitoring).
    EventCallCreated(CallCreated),
    /// `EventCallDataChanged` (call monitoring).
    EventCallDataChanged(CallDataChanged),
    /// `EventCallDeleted` (call monitoring).
    EventCallDeleted(CallDeleted),
    /// `EventCallPartyAdded` (call monitoring).
    EventCallPartyAdded(PartyEvent),
    /// `EventCallPartyState` (call monitoring).
    EventCallPartyState(PartyEvent),
    /// `EventCallPartyMoved` (call monitoring).
    EventCallPartyMoved(PartyMoved),
    /// `EventCallPartyDeleted` (call monitoring).
    EventCallPartyDeleted(PartyDeleted),
}

impl EngageEvent {
    /// Event time, epoch milliseconds.
    pub fn time(&self) -> u64 {
        match self {
            EngageEvent::EventUserEvent(e) => e.time,
            other => other.call_ref().map_or(0, |c| c.time),
        }
    }

    /// The `CallUUID` the event refers to, if any.
    pub fn call_uuid(&self) -> Option<&str> {
        match self {
            EngageEvent::EventUserEvent(e) => e.call_uuid.as_deref(),
            other => other.call_ref().map(|c| c.call_uuid.as_str()),
        }
    }

    /// The call identity of a call-scoped event (all but `EventUserEvent`).
    pub fn call_ref(&self) -> Option<&CallRef> {
        Some(match self {
            EngageEvent::EventQueued(e) | EngageEvent::EventDiverted(e) => &e.call,
            EngageEvent::EventUserEvent(_) => return None,
            EngageEvent::EventCallCreated(e) => &e.call,
            EngageEvent::EventCallDataChanged(e) => &e.call,
            EngageEvent::EventCallDeleted(e) => &e.call,
            EngageEvent::EventCallPartyAdded(e) | EngageEvent::EventCallPartyState(e) => &e.call,
            EngageEvent::EventCallPartyMoved(e) => &e.call,
            EngageEvent::EventCallPartyDeleted(e) => &e.call,
        })
    }
}
