//! The protocol's message model, independent of the byte format.
//!
//! Client → server: [`Request`]s. Server → client: [`Event`]s. Both sides also exchange ADDP
//! keep-alive polls ([`Message::AddpPoll`] / [`Message::AddpReply`]).

use std::fmt;

use crate::agent::{ActionMask, AgentStatus, PlaceStatus};

/// The client-chosen id of one open statistic; every event about it carries it back.
pub type ReferenceId = u32;

/// The kind of object a statistic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectType {
    /// An agent (a Person).
    Agent,
    /// A place.
    Place,
    /// A group of agents.
    GroupAgents,
    /// A group of places.
    GroupPlaces,
    /// An ACD queue.
    Queue,
    /// A routing point.
    RoutePoint,
}

/// The statistic's object: id, type, tenant.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatObject {
    /// The object id (for an agent: its employee id).
    pub object_id: String,
    /// The object type.
    pub object_type: ObjectType,
    /// The tenant name.
    pub tenant: String,
    /// The tenant password, if the tenant has one. Never printed.
    pub tenant_password: Option<String>,
}

impl StatObject {
    /// An agent object in `tenant` without tenant password.
    pub fn agent(agent_id: impl Into<String>, tenant: impl Into<String>) -> Self {
        Self {
            object_id: agent_id.into(),
            object_type: ObjectType::Agent,
            tenant: tenant.into(),
            tenant_password: None,
        }
    }

    /// Builder: sets the tenant password.
    pub fn with_tenant_password(mut self, password: impl Into<String>) -> Self {
        self.tenant_password = Some(password.into());
        self
    }
}

impl fmt::Debug for StatObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatObject")
            .field("object_id", &self.object_id)
            .field("object_type", &self.object_type)
            .field("tenant", &self.tenant)
            .field(
                "tenant_password",
                &self.tenant_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The metric category of a statistic defined on the fly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatCategory {
    /// The object's current state (the value is a status structure).
    CurrentState,
    /// How long the object has been in its current state (a long).
    CurrentTime,
    /// Total number of actions in the interval (a long).
    TotalNumber,
}

/// The subject of a current-state statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatSubject {
    /// DN statuses (EXAS's CurrentState statistic).
    DnStatus,
    /// DN actions with their attached data (EXAS's CurrentStateReason statistic).
    DnAction,
}

/// The time interval kind of a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeInterval {
    /// From the start of the time profile's range until now.
    GrowingWindow,
    /// The last `seconds` seconds.
    SlidingWindow {
        /// Window length in seconds.
        seconds: u32,
    },
    /// A single interval of the time profile.
    SingleInterval,
}

/// When the server sends values of an open statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notification {
    /// On every change, immediately.
    Immediate,
    /// When the value changed, checked every `frequency_secs` seconds.
    Changes {
        /// Check period in seconds.
        frequency_secs: u32,
    },
    /// Every `frequency_secs` seconds whether or not the value changed.
    Periodical {
        /// Period in seconds.
        frequency_secs: u32,
    },
    /// Never by itself; values only on peek.
    NoNotification,
}

/// A statistic defined in the request (RequestOpenStatisticEx).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatMetricEx {
    /// The metric category.
    pub category: StatCategory,
    /// The subject.
    pub subject: StatSubject,
    /// The DN actions the statistic considers.
    pub main_mask: ActionMask,
    /// The time profile name (e.g. `Default`).
    pub time_profile: String,
    /// The interval kind.
    pub interval: TimeInterval,
}

impl StatMetricEx {
    /// The agent current-state metric as public client code defines it: category
    /// CurrentState, the given subject, every DN action in the main mask, time profile
    /// `Default`, growing window.
    pub fn current_state(subject: StatSubject) -> Self {
        Self {
            category: StatCategory::CurrentState,
            subject,
            main_mask: ActionMask::all(),
            time_profile: "Default".to_owned(),
            interval: TimeInterval::GrowingWindow,
        }
    }
}

/// What to open: a predefined statistic type or one defined on the fly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatDefinition {
    /// A statistic type configured on the Stat Server (RequestOpenStatistic).
    Predefined {
        /// The statistic type name (e.g. `CurrentAgentState`).
        statistic_type: String,
        /// The time profile name, if not the type's default.
        time_profile: Option<String>,
    },
    /// A statistic defined in the request (RequestOpenStatisticEx).
    Ex(StatMetricEx),
}

/// Everything needed to (re)open one statistic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatSpec {
    /// The object.
    pub object: StatObject,
    /// The statistic.
    pub definition: StatDefinition,
    /// When values are sent.
    pub notification: Notification,
}

impl StatSpec {
    /// An agent current-state statistic defined on the fly (notification Immediate), as EXAS
    /// opens it: `DnStatus` for CurrentState, `DnAction` for CurrentStateReason.
    pub fn agent_current_state(
        agent_id: impl Into<String>,
        tenant: impl Into<String>,
        subject: StatSubject,
    ) -> Self {
        Self {
            object: StatObject::agent(agent_id, tenant),
            definition: StatDefinition::Ex(StatMetricEx::current_state(subject)),
            notification: Notification::Immediate,
        }
    }

    /// A predefined statistic type on an object.
    pub fn predefined(
        object: StatObject,
        statistic_type: impl Into<String>,
        notification: Notification,
    ) -> Self {
        Self {
            object,
            definition: StatDefinition::Predefined {
                statistic_type: statistic_type.into(),
                time_profile: None,
            },
            notification,
        }
    }

    /// The request that opens this statistic under `reference_id`.
    pub fn open_request(&self, reference_id: ReferenceId) -> Request {
        Request::Open {
            reference_id,
            spec: self.clone(),
        }
    }
}

/// A client request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// RequestOpenStatistic / RequestOpenStatisticEx (by the spec's definition).
    Open {
        /// The id the client gives the statistic.
        reference_id: ReferenceId,
        /// What to open.
        spec: StatSpec,
    },
    /// RequestPeekStatistic: send the current value now.
    Peek {
        /// The statistic.
        reference_id: ReferenceId,
        /// Echoed in the EventInfo that answers.
        user_request_id: u32,
    },
    /// RequestCloseStatistic.
    Close {
        /// The statistic.
        reference_id: ReferenceId,
    },
}

/// A statistic value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatValue {
    /// A number (counts, durations).
    Long(i64),
    /// An agent's current state.
    AgentStatus(AgentStatus),
    /// A place's current state.
    PlaceStatus(PlaceStatus),
}

/// The role a Stat Server reports for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerMode {
    /// Serving clients.
    Primary,
    /// Standing by.
    Backup,
}

/// Error codes in EventError (our design).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The object is not known to the server.
    UnknownObject,
    /// The statistic type is not known / the definition is not supported.
    UnknownStatistic,
    /// The reference id is already open.
    DuplicateReference,
    /// The reference id names no open statistic.
    UnknownReference,
    /// The request was malformed.
    BadRequest,
    /// Any other server-side failure.
    Internal,
}

/// A server event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// EventStatisticOpened: the statistic is open; values follow.
    StatisticOpened {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// EventInfo (message id 2): a value.
    Info {
        /// The statistic.
        reference_id: ReferenceId,
        /// The user's request id of the peek it answers; 0 for notifications.
        user_request_id: u32,
        /// Server time when the value was computed (Unix seconds).
        server_time: i64,
        /// The value.
        value: StatValue,
    },
    /// EventStatisticClosed.
    StatisticClosed {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// EventStatisticInvalid: the server cannot compute the value for now (e.g. lost its
    /// T-Server); the statistic stays open.
    StatisticInvalid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// EventStatisticValid: values are computable again.
    StatisticValid {
        /// The statistic.
        reference_id: ReferenceId,
    },
    /// EventError: a request failed.
    Error {
        /// The statistic the failed request named, if any.
        reference_id: Option<ReferenceId>,
        /// What failed.
        code: ErrorCode,
        /// Server text.
        message: String,
    },
    /// EventServerMode: the server's role (sent on connect and when it changes).
    ServerMode {
        /// The role.
        mode: ServerMode,
    },
}

/// Everything that travels on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Client → server.
    Request(Request),
    /// Server → client.
    Event(Event),
    /// ADDP poll (either direction).
    AddpPoll,
    /// ADDP reply to a poll.
    AddpReply,
}

impl From<Request> for Message {
    fn from(r: Request) -> Self {
        Message::Request(r)
    }
}

impl From<Event> for Message {
    fn from(e: Event) -> Self {
        Message::Event(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_password_is_never_printed() {
        let o = StatObject::agent("a", "Resources").with_tenant_password("s3cret");
        let dbg = format!("{o:?}");
        assert!(!dbg.contains("s3cret"));
        assert!(dbg.contains("redacted"));
        let spec = StatSpec {
            object: o,
            definition: StatDefinition::Ex(StatMetricEx::current_state(StatSubject::DnAction)),
            notification: Notification::Immediate,
        };
        assert!(!format!("{:?}", spec.open_request(1)).contains("s3cret"));
    }
}
