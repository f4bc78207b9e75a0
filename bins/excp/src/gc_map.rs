//! Call-model output → gcex injection models: [`gc_event`] turns one
//! [`engage_callmodel::ConversationEvent`] into the [`gcex::events::ConversationEvent`] that goes
//! into a `BatchConversationEventRequest`.
//!
//! The two crates mirror the public GC models field for field (the JSON names are the public
//! ones in both), so the conversion is 1:1 except for:
//! - `eventDateTime`: epoch milliseconds in the model, `yyyy-MM-ddTHH:mm:ss.SSSZ` (UTC) in GC
//!   ([`gcex::events::event_time`]); a time past 9999-12-31T23:59:59.999Z is an error.
//! - ids: UUIDs in the model, strings (hyphenated, lower case) in GC.
//! - optional collections (`additionalInfo`, `skillIds`, `tags`): `None` and an empty
//!   collection both become gcex's empty collection, which is left out of the JSON (GC gives
//!   an absent and an empty list the same meaning).
//! - `progressConsultTransfer`: the model reuses its `ConsultTransferEvent` shape; gcex has its
//!   own `ProgressConsultTransferEvent` with the same three fields.
//!
//! The model's enums are `#[non_exhaustive]`: a variant added there and not here is reported as
//! [`GcMapError::Unsupported`], never dropped silently.

use engage_callmodel::output as m;
use gcex::events as gc;
use uuid::Uuid;

/// The latest instant `eventDateTime` can express: 9999-12-31T23:59:59.999Z, epoch ms.
pub const MAX_EVENT_MILLIS: u64 = 253_402_300_799_999;

/// A call-model event that cannot be expressed as a GC injection event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GcMapError {
    /// A time does not fit `yyyy-MM-ddTHH:mm:ss.SSSZ` (after year 9999).
    #[error(
        "{event} {event_id}: {field} {millis} ms since the epoch is out of range for \
         yyyy-MM-ddTHH:mm:ss.SSSZ (the latest is {MAX_EVENT_MILLIS})"
    )]
    TimeOutOfRange {
        /// The public model name of the event, e.g. `CommunicationEndedEvent`.
        event: String,
        /// The event's `eventId`.
        event_id: Uuid,
        /// The JSON field, `eventDateTime`.
        field: &'static str,
        /// The model's value, epoch milliseconds.
        millis: u64,
    },
    /// The model emitted an event type or enum value this converter does not know (a newer
    /// call model than this connector).
    #[error("{event} {event_id}: {field} {value} has no GC injection counterpart here")]
    Unsupported {
        /// The model's name of the event (its `type` tag), e.g. `communicationEnded`.
        event: String,
        /// The event's `eventId`.
        event_id: Uuid,
        /// The JSON field (`type` for an unknown event type).
        field: &'static str,
        /// The unknown value, as the model serializes it.
        value: String,
    },
}

/// Formats epoch milliseconds as GC's `eventDateTime` (`yyyy-MM-ddTHH:mm:ss.SSSZ`, UTC);
/// `None` after [`MAX_EVENT_MILLIS`].
pub fn event_date_time(millis: u64) -> Option<String> {
    if millis > MAX_EVENT_MILLIS {
        return None;
    }
    let nanos = i128::from(millis).checked_mul(1_000_000)?;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()?;
    Some(gc::event_time(t))
}

/// The public GC model name of a call-model event (`UserEstablishedEvent`, …); for an event type
/// this module does not know, the model's `type` tag.
pub fn gc_model_name(ev: &m::ConversationEvent) -> String {
    use m::ConversationEvent as E;
    let name = match ev {
        E::ExternalEstablished(_) => "ExternalEstablishedEvent",
        E::IvrEstablished(_) => "IvrEstablishedEvent",
        E::PhoneEstablished(_) => "PhoneEstablishedEvent",
        E::RoutingEstablished(_) => "RoutingEstablishedEvent",
        E::UserEstablished(_) => "UserEstablishedEvent",
        E::CommunicationAnswered(_) => "CommunicationAnsweredEvent",
        E::HoldUpdated(_) => "HoldUpdatedEvent",
        E::AudioUpdated(_) => "AudioUpdatedEvent",
        E::CommunicationDispositionApplied(_) => "CommunicationDispositionAppliedEvent",
        E::CommunicationEnded(_) => "CommunicationEndedEvent",
        E::RoutingTransfer(_) => "RoutingTransferEvent",
        E::UserTransfer(_) => "UserTransferEvent",
        E::PhoneTransfer(_) => "PhoneTransferEvent",
        E::ProgressTransfer(_) => "ProgressTransferEvent",
        E::EndTransfer(_) => "EndTransferEvent",
        E::ConsultTransfer(_) => "ConsultTransferEvent",
        E::ProgressConsultTransfer(_) => "ProgressConsultTransferEvent",
        E::EndConsultTransfer(_) => "EndConsultTransferEvent",
        _ => return type_tag(ev),
    };
    name.to_owned()
}

/// The model's serde `type` tag of an event (e.g. `communicationEnded`).
fn type_tag(ev: &m::ConversationEvent) -> String {
    serde_json::to_value(ev)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A model enum value as its JSON string (for error messages).
fn json_name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Converts one call-model conversation event into its gcex injection model.
///
/// Every field is carried over under its public GC name. Fails (never panics) when the event
/// time is after [`MAX_EVENT_MILLIS`] or the model emitted an event type or enum value unknown
/// here; the error names the event, its id and the field.
pub fn gc_event(ev: &m::ConversationEvent) -> Result<gc::ConversationEvent, GcMapError> {
    use gc::ConversationEvent as G;
    use m::ConversationEvent as E;
    let cx = Cx { ev };
    Ok(match ev {
        E::ExternalEstablished(e) => {
            let b = cx.established(&e.base)?;
            G::ExternalEstablished(gc::ExternalEstablishedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                initial_configuration: b.initial_configuration,
                source_configuration: b.source_configuration,
                ani: e.ani.clone(),
                ani_name: e.ani_name.clone(),
                dnis: e.dnis.clone(),
                dnis_name: e.dnis_name.clone(),
            })
        }
        E::IvrEstablished(e) => {
            let b = cx.established(&e.base)?;
            G::IvrEstablished(gc::IvrEstablishedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                initial_configuration: b.initial_configuration,
                source_configuration: b.source_configuration,
                ivr_phone_number: e.ivr_phone_number.clone(),
                ivr_name: e.ivr_name.clone(),
                ani: e.ani.clone(),
                dnis: e.dnis.clone(),
            })
        }
        E::PhoneEstablished(e) => {
            let b = cx.established(&e.base)?;
            G::PhoneEstablished(gc::PhoneEstablishedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                initial_configuration: b.initial_configuration,
                source_configuration: b.source_configuration,
                phone_number: e.phone_number.clone(),
                ani: e.ani.clone(),
                dnis: e.dnis.clone(),
            })
        }
        E::RoutingEstablished(e) => {
            let b = cx.established(&e.base)?;
            G::RoutingEstablished(gc::RoutingEstablishedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                initial_configuration: b.initial_configuration,
                source_configuration: b.source_configuration,
                queue_id: e.queue_id.clone(),
                phone_number: e.phone_number.clone(),
                skill_ids: e.skill_ids.clone().unwrap_or_default(),
                language_id: e.language_id.clone(),
                ani: e.ani.clone(),
                dnis: e.dnis.clone(),
            })
        }
        E::UserEstablished(e) => {
            let b = cx.established(&e.base)?;
            G::UserEstablished(gc::UserEstablishedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                initial_configuration: b.initial_configuration,
                source_configuration: b.source_configuration,
                user_id: e.user_id.clone(),
                phone_number: e.phone_number.clone(),
                station_id: e.station_id.clone(),
                after_call_work_required: e.after_call_work_required,
                queue_id: e.queue_id.clone(),
                ani: e.ani.clone(),
                dnis: e.dnis.clone(),
            })
        }
        E::CommunicationAnswered(e) => {
            let b = cx.communication(&e.base)?;
            G::CommunicationAnswered(gc::CommunicationAnsweredEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
            })
        }
        E::HoldUpdated(e) => {
            let b = cx.communication(&e.base)?;
            G::HoldUpdated(gc::HoldUpdatedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                held: e.held,
            })
        }
        E::AudioUpdated(e) => {
            let b = cx.communication(&e.base)?;
            G::AudioUpdated(gc::AudioUpdatedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                audio_state: audio_state(&e.audio_state),
            })
        }
        E::CommunicationDispositionApplied(e) => {
            let b = cx.communication(&e.base)?;
            G::CommunicationDispositionApplied(gc::CommunicationDispositionAppliedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                code: e.code.clone(),
                notes: e.notes.clone(),
                tags: e.tags.clone().unwrap_or_default(),
            })
        }
        E::CommunicationEnded(e) => {
            let b = cx.communication(&e.base)?;
            G::CommunicationEnded(gc::CommunicationEndedEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                communication_id: b.communication_id,
                disconnect_type: cx.disconnect_type(e.disconnect_type)?,
                destination_conversation_id: e.destination_conversation_id.map(id),
            })
        }
        E::RoutingTransfer(e) => {
            let t = cx.transfer(&e.transfer)?;
            G::RoutingTransfer(gc::RoutingTransferEvent {
                event_id: t.event_id,
                event_date_time: t.event_date_time,
                conversation_id: t.conversation_id,
                transfer_type: t.transfer_type,
                command_id: t.command_id,
                initiating_communication_id: t.initiating_communication_id,
                target_communication_id: t.target_communication_id,
                object_communication_id: t.object_communication_id,
                destination_queue_id: e.destination_queue_id.clone(),
                language_id: e.language_id.clone(),
                skill_ids: e.skill_ids.clone().unwrap_or_default(),
            })
        }
        E::UserTransfer(e) => {
            let t = cx.transfer(&e.transfer)?;
            G::UserTransfer(gc::UserTransferEvent {
                event_id: t.event_id,
                event_date_time: t.event_date_time,
                conversation_id: t.conversation_id,
                transfer_type: t.transfer_type,
                command_id: t.command_id,
                initiating_communication_id: t.initiating_communication_id,
                target_communication_id: t.target_communication_id,
                object_communication_id: t.object_communication_id,
                destination_user_id: e.destination_user_id.clone(),
            })
        }
        E::PhoneTransfer(e) => {
            let t = cx.transfer(&e.transfer)?;
            G::PhoneTransfer(gc::PhoneTransferEvent {
                event_id: t.event_id,
                event_date_time: t.event_date_time,
                conversation_id: t.conversation_id,
                transfer_type: t.transfer_type,
                command_id: t.command_id,
                initiating_communication_id: t.initiating_communication_id,
                target_communication_id: t.target_communication_id,
                object_communication_id: t.object_communication_id,
                destination_phone_number: e.destination_phone_number.clone(),
            })
        }
        E::ProgressTransfer(e) => {
            let b = cx.conversation(&e.base)?;
            G::ProgressTransfer(gc::ProgressTransferEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                command_id: id(e.command_id),
                object_communication_id: id(e.object_communication_id),
                destination_communication_id: id(e.destination_communication_id),
            })
        }
        E::EndTransfer(e) => {
            let b = cx.conversation(&e.base)?;
            G::EndTransfer(gc::EndTransferEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                command_id: id(e.command_id),
                final_state: cx.final_state(e.final_state)?,
                object_communication_id: id(e.object_communication_id),
            })
        }
        E::ConsultTransfer(e) => {
            let b = cx.conversation(&e.base)?;
            G::ConsultTransfer(gc::ConsultTransferEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                initiating_communication_id: id(e.initiating_communication_id),
                destination_communication_id: id(e.destination_communication_id),
                object_communication_id: id(e.object_communication_id),
            })
        }
        E::ProgressConsultTransfer(e) => {
            let b = cx.conversation(&e.base)?;
            G::ProgressConsultTransfer(gc::ProgressConsultTransferEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
                initiating_communication_id: id(e.initiating_communication_id),
                destination_communication_id: id(e.destination_communication_id),
                object_communication_id: id(e.object_communication_id),
            })
        }
        E::EndConsultTransfer(e) => {
            let b = cx.conversation(&e.base)?;
            G::EndConsultTransfer(gc::EndConsultTransferEvent {
                event_id: b.event_id,
                event_date_time: b.event_date_time,
                conversation_id: b.conversation_id,
            })
        }
        _ => return Err(cx.unsupported("type", type_tag(ev))),
    })
}

/// A UUID as GC's id string.
fn id(u: Uuid) -> String {
    u.to_string()
}

fn audio_state(a: &m::AudioState) -> gc::AudioState {
    gc::AudioState {
        can_hear: a.can_hear,
        can_speak: a.can_speak,
    }
}

/// The converted header fields of an event.
struct Header {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
}

/// The converted common fields of an established event.
struct EstablishedParts {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    communication_id: String,
    initial_configuration: gc::InitialConfiguration,
    source_configuration: gc::SourceConfiguration,
}

/// The converted common fields of a communication state event.
struct CommunicationParts {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    communication_id: String,
}

/// The converted common fields of a transfer-start event.
struct TransferParts {
    event_id: String,
    event_date_time: String,
    conversation_id: String,
    transfer_type: gc::TransferType,
    command_id: String,
    initiating_communication_id: String,
    target_communication_id: String,
    object_communication_id: String,
}

/// The event being converted, for error messages.
struct Cx<'a> {
    ev: &'a m::ConversationEvent,
}

impl Cx<'_> {
    fn header(
        &self,
        event_id: Uuid,
        millis: u64,
        conversation: Uuid,
    ) -> Result<Header, GcMapError> {
        let event_date_time =
            event_date_time(millis).ok_or_else(|| GcMapError::TimeOutOfRange {
                event: gc_model_name(self.ev),
                event_id,
                field: "eventDateTime",
                millis,
            })?;
        Ok(Header {
            event_id: id(event_id),
            event_date_time,
            conversation_id: id(conversation),
        })
    }

    fn unsupported(&self, field: &'static str, value: String) -> GcMapError {
        GcMapError::Unsupported {
            event: match field {
                "type" => type_tag(self.ev),
                _ => gc_model_name(self.ev),
            },
            event_id: self.ev.event_id(),
            field,
            value,
        }
    }

    fn established(&self, b: &m::Established) -> Result<EstablishedParts, GcMapError> {
        let h = self.header(b.event_id, b.event_date_time, b.conversation_id)?;
        let i = &b.initial_configuration;
        let s = &b.source_configuration;
        Ok(EstablishedParts {
            event_id: h.event_id,
            event_date_time: h.event_date_time,
            conversation_id: h.conversation_id,
            communication_id: id(b.communication_id),
            initial_configuration: gc::InitialConfiguration {
                audio_state: i.audio_state.as_ref().map(audio_state),
                alerting: i.alerting,
                inbound: i.inbound,
                invited_by: i.invited_by.map(id),
                recording_active: i.recording_active,
                additional_info: i.additional_info.clone().unwrap_or_default(),
            },
            source_configuration: gc::SourceConfiguration {
                source_id: s.source_id.clone(),
                interaction_id: s.interaction_id.clone(),
                tag_id: s.tag_id.clone(),
            },
        })
    }

    fn communication(&self, b: &m::CommunicationRef) -> Result<CommunicationParts, GcMapError> {
        let h = self.header(b.event_id, b.event_date_time, b.conversation_id)?;
        Ok(CommunicationParts {
            event_id: h.event_id,
            event_date_time: h.event_date_time,
            conversation_id: h.conversation_id,
            communication_id: id(b.communication_id),
        })
    }

    fn conversation(&self, b: &m::ConversationRef) -> Result<Header, GcMapError> {
        self.header(b.event_id, b.event_date_time, b.conversation_id)
    }

    fn transfer(&self, t: &m::TransferStart) -> Result<TransferParts, GcMapError> {
        let h = self.conversation(&t.base)?;
        Ok(TransferParts {
            event_id: h.event_id,
            event_date_time: h.event_date_time,
            conversation_id: h.conversation_id,
            transfer_type: match t.transfer_type {
                m::TransferType::Attended => gc::TransferType::Attended,
                m::TransferType::Unattended => gc::TransferType::Unattended,
                other => return Err(self.unsupported("transferType", json_name(&other))),
            },
            command_id: id(t.command_id),
            initiating_communication_id: id(t.initiating_communication_id),
            target_communication_id: id(t.target_communication_id),
            object_communication_id: id(t.object_communication_id),
        })
    }

    fn disconnect_type(&self, d: m::DisconnectType) -> Result<gc::DisconnectType, GcMapError> {
        use gc::DisconnectType as G;
        use m::DisconnectType as D;
        Ok(match d {
            D::Error => G::Error,
            D::Peer => G::Peer,
            D::SelfDisconnect => G::SelfDisconnect,
            D::System => G::System,
            D::Transfer => G::Transfer,
            D::TransferAcd => G::TransferAcd,
            D::TransferConference => G::TransferConference,
            D::TransferConsult => G::TransferConsult,
            D::TransferUser => G::TransferUser,
            other => return Err(self.unsupported("disconnectType", json_name(&other))),
        })
    }

    fn final_state(&self, s: m::TransferFinalState) -> Result<gc::FinalState, GcMapError> {
        Ok(match s {
            m::TransferFinalState::Completed => gc::FinalState::Completed,
            m::TransferFinalState::Canceled => gc::FinalState::Canceled,
            m::TransferFinalState::Failed => gc::FinalState::Failed,
            other => return Err(self.unsupported("finalState", json_name(&other))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn u(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn established(t: u64) -> m::Established {
        m::Established {
            event_id: u(1),
            event_date_time: t,
            conversation_id: u(2),
            communication_id: u(3),
            initial_configuration: m::InitialConfiguration {
                audio_state: Some(m::AudioState {
                    can_hear: Some(true),
                    can_speak: Some(false),
                }),
                alerting: Some(true),
                inbound: Some(false),
                invited_by: Some(u(4)),
                recording_active: Some(true),
                additional_info: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
            },
            source_configuration: m::SourceConfiguration {
                source_id: "src".into(),
                interaction_id: "call".into(),
                tag_id: Some("tag".into()),
            },
        }
    }

    fn comm(t: u64) -> m::CommunicationRef {
        m::CommunicationRef {
            event_id: u(1),
            event_date_time: t,
            conversation_id: u(2),
            communication_id: u(3),
        }
    }

    fn conv(t: u64) -> m::ConversationRef {
        m::ConversationRef {
            event_id: u(1),
            event_date_time: t,
            conversation_id: u(2),
        }
    }

    fn start(t: u64) -> m::TransferStart {
        m::TransferStart {
            base: conv(t),
            transfer_type: m::TransferType::Attended,
            command_id: u(5),
            initiating_communication_id: u(6),
            target_communication_id: u(7),
            object_communication_id: u(8),
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    /// One event of every variant, every optional field set.
    fn every_variant(t: u64) -> Vec<m::ConversationEvent> {
        use m::ConversationEvent as E;
        let consult = m::ConsultTransferEvent {
            base: conv(t),
            initiating_communication_id: u(6),
            destination_communication_id: u(9),
            object_communication_id: u(8),
        };
        let mut v = vec![
            E::ExternalEstablished(m::ExternalEstablishedEvent {
                base: established(t),
                ani: s("+1555"),
                ani_name: s("Caller"),
                dnis: s("8000"),
                dnis_name: s("Sales line"),
            }),
            E::IvrEstablished(m::IvrEstablishedEvent {
                base: established(t),
                ivr_phone_number: s("8000"),
                ivr_name: s("Main IVR"),
                ani: s("+1555"),
                dnis: s("8000"),
            }),
            E::PhoneEstablished(m::PhoneEstablishedEvent {
                base: established(t),
                phone_number: s("+1666"),
                ani: s("+1555"),
                dnis: s("+1666"),
            }),
            E::RoutingEstablished(m::RoutingEstablishedEvent {
                base: established(t),
                queue_id: "queue".into(),
                phone_number: s("8001"),
                skill_ids: Some(vec!["skill".into()]),
                language_id: s("lang"),
                ani: s("+1555"),
                dnis: s("8000"),
            }),
            E::UserEstablished(m::UserEstablishedEvent {
                base: established(t),
                user_id: "user".into(),
                phone_number: s("7001"),
                station_id: s("station"),
                after_call_work_required: Some(true),
                queue_id: s("queue"),
                ani: s("+1555"),
                dnis: s("7001"),
            }),
            E::CommunicationAnswered(m::CommunicationAnsweredEvent { base: comm(t) }),
            E::HoldUpdated(m::HoldUpdatedEvent {
                base: comm(t),
                held: true,
            }),
            E::AudioUpdated(m::AudioUpdatedEvent {
                base: comm(t),
                audio_state: m::AudioState {
                    can_hear: Some(false),
                    can_speak: Some(true),
                },
            }),
            E::CommunicationDispositionApplied(m::CommunicationDispositionAppliedEvent {
                base: comm(t),
                code: s("wrapup"),
                notes: s("notes"),
                tags: Some(vec!["a".into(), "b".into()]),
            }),
            E::RoutingTransfer(m::RoutingTransferEvent {
                transfer: start(t),
                destination_queue_id: "queue".into(),
                language_id: s("lang"),
                skill_ids: Some(vec!["skill".into()]),
            }),
            E::UserTransfer(m::UserTransferEvent {
                transfer: start(t),
                destination_user_id: "user".into(),
            }),
            E::PhoneTransfer(m::PhoneTransferEvent {
                transfer: start(t),
                destination_phone_number: "+1777".into(),
            }),
            E::ProgressTransfer(m::ProgressTransferEvent {
                base: conv(t),
                command_id: u(5),
                object_communication_id: u(8),
                destination_communication_id: u(9),
            }),
            E::ConsultTransfer(consult.clone()),
            E::ProgressConsultTransfer(consult),
            E::EndConsultTransfer(m::EndConsultTransferEvent { base: conv(t) }),
        ];
        for d in [
            m::DisconnectType::Error,
            m::DisconnectType::Peer,
            m::DisconnectType::SelfDisconnect,
            m::DisconnectType::System,
            m::DisconnectType::Transfer,
            m::DisconnectType::TransferAcd,
            m::DisconnectType::TransferConference,
            m::DisconnectType::TransferConsult,
            m::DisconnectType::TransferUser,
        ] {
            v.push(E::CommunicationEnded(m::CommunicationEndedEvent {
                base: comm(t),
                disconnect_type: d,
                destination_conversation_id: Some(u(10)),
            }));
        }
        for f in [
            m::TransferFinalState::Completed,
            m::TransferFinalState::Canceled,
            m::TransferFinalState::Failed,
        ] {
            v.push(E::EndTransfer(m::EndTransferEvent {
                base: conv(t),
                command_id: u(5),
                final_state: f,
                object_communication_id: u(8),
            }));
        }
        v.push(E::UserTransfer(m::UserTransferEvent {
            transfer: m::TransferStart {
                transfer_type: m::TransferType::Unattended,
                ..start(t)
            },
            destination_user_id: "user".into(),
        }));
        v
    }

    /// The model's JSON with `eventDateTime` formatted and without its `type` tag: what the
    /// GC JSON must be, field for field.
    fn expected_json(ev: &m::ConversationEvent) -> (String, serde_json::Value) {
        let mut v = serde_json::to_value(ev).expect("model event serializes");
        let obj = v.as_object_mut().expect("object");
        let tag = obj.remove("type").expect("type tag");
        let ms = obj["eventDateTime"].as_u64().expect("ms");
        obj.insert(
            "eventDateTime".into(),
            event_date_time(ms).expect("in range").into(),
        );
        (tag.as_str().expect("tag").to_owned(), v)
    }

    #[test]
    fn every_field_of_every_variant_maps_under_its_public_name() {
        let all = every_variant(1_767_225_600_123);
        for ev in &all {
            let g = gc_event(ev).expect("converts");
            let (tag, want) = expected_json(ev);
            assert_eq!(g.to_json(), want, "{tag}");
            assert_eq!(g.array_name(), format!("{tag}Events"));
            assert_eq!(g.event_date_time(), "2026-01-01T00:00:00.123Z");
            assert_eq!(g.event_id(), u(1).to_string());
            assert_eq!(
                g.communication_id().is_some(),
                ev.communication_id().is_some()
            );
            assert!(gc_model_name(ev).ends_with("Event"));
            // Round trip through the batch envelope's parser.
            let back = gc::ConversationEvent::from_json(g.array_name(), g.to_json())
                .expect("known array")
                .expect("parses");
            assert_eq!(back, g);
        }
    }

    #[test]
    fn empty_optional_collections_are_left_out() {
        let mut e = match every_variant(0).remove(3) {
            m::ConversationEvent::RoutingEstablished(e) => e,
            other => panic!("not routing: {other:?}"),
        };
        e.skill_ids = Some(Vec::new());
        e.base.initial_configuration.additional_info = Some(BTreeMap::new());
        let g = gc_event(&m::ConversationEvent::RoutingEstablished(e)).expect("converts");
        let j = g.to_json();
        assert!(j.get("skillIds").is_none(), "{j}");
        assert!(j["initialConfiguration"].get("additionalInfo").is_none());
        assert_eq!(j["eventDateTime"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn times_at_and_past_the_limit() {
        assert_eq!(
            event_date_time(MAX_EVENT_MILLIS).as_deref(),
            Some("9999-12-31T23:59:59.999Z")
        );
        assert_eq!(event_date_time(MAX_EVENT_MILLIS + 1), None);
        assert_eq!(event_date_time(u64::MAX), None);
        for ev in every_variant(MAX_EVENT_MILLIS + 1) {
            let err = gc_event(&ev).expect_err("out of range");
            assert_eq!(
                err,
                GcMapError::TimeOutOfRange {
                    event: gc_model_name(&ev),
                    event_id: u(1),
                    field: "eventDateTime",
                    millis: MAX_EVENT_MILLIS + 1,
                }
            );
            assert!(err.to_string().contains("eventDateTime"), "{err}");
        }
    }
}
