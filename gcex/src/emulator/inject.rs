//! Event injection rules: validation of every event, per-event errors, idempotency by
//! `eventId`, the conversation timelines and the users' presence / routing histories.
//!
//! Within one request events are applied in `eventDateTime` order (ties: established,
//! answered, hold/audio, transfer, progress, end-transfer, ended, disposition; then request
//! order). An event that refers to a communication not established yet fails with
//! `retryable: true` (it may arrive later); every other validation failure is final.

use super::state::{ApiError, ApiResult, CommState, Org};
use super::{PresenceRecord, RoutingRecord, TimelineEntry};
use crate::events::BatchConversationEventRequest;
use crate::events::{
    BatchEventResponse, ConversationEvent, EventError, MAX_EVENTS_PER_REQUEST, UserPresenceEvent,
    UserRoutingStatusEvent,
};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// GC's event models describe their ids as "V4 UUID".
fn is_v4(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.get_version_num() == 4)
}

/// The request-level answer for a body that does not deserialize: GC refuses the whole
/// request (400) with `invalid.property` for an unknown property, `invalid.value` otherwise;
/// nothing of it is applied.
fn malformed(array: &str, index: usize, err: &serde_json::Error) -> ApiError {
    let text = err.to_string();
    let code = if text.contains("unknown field") {
        "invalid.property"
    } else {
        "invalid.value"
    };
    ApiError::new(400, code, format!("{array}[{index}]: {text}"))
}

/// The first property of `input` (recursively) that the model does not know: what a
/// deserialize-then-serialize dropped. Null values count as absent.
fn unknown_property(input: &Value, known: &Value, path: &str) -> Option<String> {
    match (input, known) {
        (Value::Object(i), Value::Object(k)) => i.iter().find_map(|(key, v)| {
            let at = format!("{path}.{key}");
            match k.get(key) {
                None if !v.is_null() => Some(at),
                None => None,
                Some(kv) => unknown_property(v, kv, &at),
            }
        }),
        (Value::Array(i), Value::Array(k)) => i
            .iter()
            .zip(k)
            .enumerate()
            .find_map(|(n, (v, kv))| unknown_property(v, kv, &format!("{path}[{n}]"))),
        _ => None,
    }
}

/// Request-level checks of one event (GC answers 400 for the whole request, applying
/// nothing): `eventDateTime` is an ISO-8601 instant (`invalid.date`), the ids are V4 UUIDs
/// (`constraint.validation`).
fn request_check(
    array: &str,
    index: usize,
    event_date_time: &str,
    ids: &[(&str, &str)],
) -> ApiResult<()> {
    if parse_time(event_date_time).is_none() {
        return Err(ApiError::new(
            400,
            "invalid.date",
            format!(
                "{array}[{index}].eventDateTime {event_date_time:?} is not an ISO-8601 date (yyyy-MM-ddTHH:mm:ss.SSSZ)"
            ),
        ));
    }
    for (field, v) in ids {
        if !is_v4(v) {
            return Err(ApiError::new(
                400,
                "constraint.validation",
                format!("{array}[{index}].{field} {v:?} must be a V4 UUID"),
            ));
        }
    }
    Ok(())
}

fn event_error(id: Option<&str>, message: impl Into<String>, retryable: bool) -> EventError {
    EventError {
        event_id: id.map(str::to_owned),
        message: Some(message.into()),
        retryable,
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn count_check(n: usize) -> ApiResult<()> {
    if n == 0 {
        return Err(ApiError::new(
            400,
            "zero.events.submitted",
            "At least 1 event must be submitted",
        ));
    }
    if n > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::new(
            400,
            "max.batch.size.surpassed",
            format!("{n} events submitted. Max batch size is {MAX_EVENTS_PER_REQUEST}"),
        ));
    }
    Ok(())
}

/// Handles a fault armed with "fail the next N events as retryable".
fn event_fault(org: &mut Org, id: &str) -> Option<EventError> {
    if org.event_faults > 0 {
        org.event_faults -= 1;
        return Some(event_error(
            Some(id),
            "Temporary failure storing the event, resubmit it",
            true,
        ));
    }
    None
}

/// `POST /api/v2/events/conversations`.
pub(crate) fn conversations(org: &mut Org, body: &Value) -> ApiResult<BatchEventResponse> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad("The body must be a BatchConversationEventRequest object"))?;
    let mut parsed: Vec<(usize, ConversationEvent)> = Vec::new();
    let mut errors = Vec::new();
    let mut n = 0usize;
    for (array, v) in obj {
        if !BatchConversationEventRequest::ARRAYS.contains(&array.as_str()) {
            if array.starts_with("email") {
                return Err(ApiError::new(
                    400,
                    "invalid.property",
                    format!("{array}: email events are not supported by this emulator"),
                ));
            }
            return Err(ApiError::new(
                400,
                "invalid.property",
                format!("Unknown property {array}"),
            ));
        }
        let items = v.as_array().ok_or_else(|| {
            ApiError::new(400, "invalid.value", format!("{array} must be an array"))
        })?;
        for (index, item) in items.iter().enumerate() {
            n += 1;
            match ConversationEvent::from_json(array, item.clone()) {
                Some(Ok(e)) => {
                    let known = e.to_json();
                    if let Some(p) = unknown_property(item, &known, &format!("{array}[{index}]")) {
                        return Err(ApiError::new(
                            400,
                            "invalid.property",
                            format!("{p} is not a property of this event"),
                        ));
                    }
                    let mut ids = vec![
                        ("eventId", e.event_id()),
                        ("conversationId", e.conversation_id()),
                    ];
                    if let Some(c) = e.communication_id() {
                        ids.push(("communicationId", c));
                    }
                    request_check(array, index, e.event_date_time(), &ids)?;
                    parsed.push((n, e));
                }
                Some(Err(err)) => return Err(malformed(array, index, &err)),
                None => {}
            }
        }
    }
    count_check(n)?;
    // Order: eventDateTime, then type rank, then position in the request.
    let mut timed: Vec<(Option<OffsetDateTime>, u8, usize, ConversationEvent)> = parsed
        .into_iter()
        .map(|(i, e)| (parse_time(e.event_date_time()), e.rank(), i, e))
        .collect();
    timed.sort_by_key(|a| (a.0, a.1, a.2));
    for (t, _, _, e) in timed {
        let id = e.event_id().to_owned();
        if t.is_none() {
            errors.push(event_error(
                Some(&id),
                format!(
                    "invalid.date: eventDateTime {:?} is not yyyy-MM-ddTHH:mm:ss.SSSZ",
                    e.event_date_time()
                ),
                false,
            ));
            continue;
        }
        if org.event_ids.contains(&id) {
            org.events_resent += 1;
            continue; // already applied: accepted again, never applied twice
        }
        if let Some(err) = event_fault(org, &id) {
            errors.push(err);
            continue;
        }
        match apply_conversation_event(org, &e) {
            Ok(()) => {
                org.event_ids.insert(id);
                org.events_accepted += 1;
            }
            Err((msg, retryable)) => errors.push(event_error(Some(&id), msg, retryable)),
        }
    }
    Ok(BatchEventResponse { errors })
}

type Check = Result<(), (String, bool)>;

/// An established event's party: kind, initial and source configuration, user, queue.
type Established<'a> = (
    &'static str,
    &'a crate::events::InitialConfiguration,
    &'a crate::events::SourceConfiguration,
    Option<String>,
    Option<String>,
);

fn fail<T>(msg: impl Into<String>) -> Result<T, (String, bool)> {
    Err((msg.into(), false))
}

fn later<T>(msg: impl Into<String>) -> Result<T, (String, bool)> {
    Err((msg.into(), true))
}

fn apply_conversation_event(org: &mut Org, e: &ConversationEvent) -> Check {
    use ConversationEvent as E;
    if !is_uuid(e.event_id()) {
        return fail(format!("eventId {:?} is not a UUID", e.event_id()));
    }
    let conv_id = e.conversation_id().to_owned();
    if !is_uuid(&conv_id) {
        return fail(format!("conversationId {conv_id:?} is not a UUID"));
    }
    if let Some(c) = e.communication_id()
        && !is_uuid(c)
    {
        return fail(format!("communicationId {c:?} is not a UUID"));
    }
    // Established events: validate the party, then create the communication.
    let established: Option<Established<'_>> = match e {
        E::ExternalEstablished(x) => Some((
            "external",
            &x.initial_configuration,
            &x.source_configuration,
            None,
            None,
        )),
        E::IvrEstablished(x) => Some((
            "ivr",
            &x.initial_configuration,
            &x.source_configuration,
            None,
            None,
        )),
        E::PhoneEstablished(x) => Some((
            "phone",
            &x.initial_configuration,
            &x.source_configuration,
            None,
            None,
        )),
        E::RoutingEstablished(x) => {
            if !org.queues.contains_key(&x.queue_id) {
                return fail(format!("queueId {} is not a known queue", x.queue_id));
            }
            for s in &x.skill_ids {
                if !org.skills.contains_key(s) {
                    return fail(format!("skillId {s} is not a known skill"));
                }
            }
            if let Some(l) = &x.language_id
                && !org.languages.contains_key(l)
            {
                return fail(format!("languageId {l} is not a known language"));
            }
            Some((
                "routing",
                &x.initial_configuration,
                &x.source_configuration,
                None,
                Some(x.queue_id.clone()),
            ))
        }
        E::UserEstablished(x) => {
            if org.live_user(&x.user_id).is_none() {
                return fail(format!("userId {} is not a known user", x.user_id));
            }
            if let Some(q) = &x.queue_id
                && !org.queues.contains_key(q)
            {
                return fail(format!("queueId {q} is not a known queue"));
            }
            Some((
                "user",
                &x.initial_configuration,
                &x.source_configuration,
                Some(x.user_id.clone()),
                x.queue_id.clone(),
            ))
        }
        _ => None,
    };
    if let Some((kind, init, src, user_id, queue_id)) = established {
        if src.source_id.is_empty() || !org.sources.contains_key(&src.source_id) {
            return fail(format!(
                "sourceConfiguration.sourceId {:?} is not a known presence source",
                src.source_id
            ));
        }
        if src.interaction_id.is_empty() {
            return fail("sourceConfiguration.interactionId is required");
        }
        let comm = e.communication_id().unwrap_or_default().to_owned();
        let conv = org.conversations.entry(conv_id.clone()).or_default();
        if conv.ended() {
            return fail(format!(
                "conversation {conv_id} has ended; nothing can be added after it ended"
            ));
        }
        if conv.comms.contains_key(&comm) {
            return fail(format!("communication {comm} is already established"));
        }
        if let Some(inv) = &init.invited_by
            && !conv.comms.contains_key(inv)
            && is_uuid(inv)
        {
            return later(format!(
                "invitedBy {inv} is not established yet in conversation {conv_id}"
            ));
        }
        conv.comms.insert(
            comm.clone(),
            CommState {
                kind,
                alerting: init.alerting.unwrap_or(false),
                answered: false,
                held: false,
                ended: None,
                user_id,
                queue_id,
                disposition: None,
            },
        );
        conv.order.push(comm);
        push_timeline(org, &conv_id, e);
        return Ok(());
    }
    // Everything else needs the conversation and its communications.
    let Some(conv) = org.conversations.get(&conv_id) else {
        return later(format!(
            "conversation {conv_id} has no established communication yet"
        ));
    };
    let need = |c: &str| -> Check {
        match conv.comms.get(c) {
            None => later(format!(
                "communication {c} is not established yet in conversation {conv_id}"
            )),
            Some(s) if s.ended.is_some() => fail(format!(
                "communication {c} has ended; nothing can follow it"
            )),
            Some(_) => Ok(()),
        }
    };
    match e {
        E::CommunicationAnswered(x) => {
            need(&x.communication_id)?;
            if conv
                .comms
                .get(&x.communication_id)
                .is_some_and(|s| s.answered)
            {
                return fail(format!(
                    "communication {} is already answered",
                    x.communication_id
                ));
            }
        }
        E::HoldUpdated(x) => need(&x.communication_id)?,
        E::AudioUpdated(x) => need(&x.communication_id)?,
        E::CommunicationEnded(x) => need(&x.communication_id)?,
        E::CommunicationDispositionApplied(x) => {
            match conv.comms.get(&x.communication_id) {
                None => {
                    return later(format!(
                        "communication {} is not established yet",
                        x.communication_id
                    ));
                }
                Some(s) if s.disposition.is_some() => {
                    return fail(format!(
                        "a disposition was already applied to communication {}",
                        x.communication_id
                    ));
                }
                Some(s) if s.kind != "user" => {
                    return fail(format!(
                        "communication {} is not a user communication",
                        x.communication_id
                    ));
                }
                Some(_) => {}
            }
            if let Some(code) = &x.code
                && !org.wrapups.contains_key(code)
            {
                return fail(format!("code {code} is not a known wrap-up code"));
            }
        }
        E::RoutingTransfer(x) => {
            for c in [
                &x.initiating_communication_id,
                &x.target_communication_id,
                &x.object_communication_id,
            ] {
                need(c)?;
            }
            if !org.queues.contains_key(&x.destination_queue_id) {
                return fail(format!(
                    "destinationQueueId {} is not a known queue",
                    x.destination_queue_id
                ));
            }
            if x.command_id.is_empty() {
                return fail("commandId is required");
            }
        }
        E::UserTransfer(x) => {
            for c in [
                &x.initiating_communication_id,
                &x.target_communication_id,
                &x.object_communication_id,
            ] {
                need(c)?;
            }
            if org.live_user(&x.destination_user_id).is_none() {
                return fail(format!(
                    "destinationUserId {} is not a known user",
                    x.destination_user_id
                ));
            }
            if x.command_id.is_empty() {
                return fail("commandId is required");
            }
        }
        E::PhoneTransfer(x) => {
            for c in [
                &x.initiating_communication_id,
                &x.target_communication_id,
                &x.object_communication_id,
            ] {
                need(c)?;
            }
            if x.destination_phone_number.is_empty() || x.command_id.is_empty() {
                return fail("destinationPhoneNumber and commandId are required");
            }
        }
        E::ProgressTransfer(x) => {
            if !conv.transfers.contains(&x.command_id) {
                return later(format!("transfer command {} has not started", x.command_id));
            }
            need(&x.object_communication_id)?;
            need(&x.destination_communication_id)?;
        }
        E::EndTransfer(x) if !conv.transfers.contains(&x.command_id) => {
            return later(format!("transfer command {} has not started", x.command_id));
        }
        E::ConsultTransfer(x) => {
            for c in [
                &x.initiating_communication_id,
                &x.destination_communication_id,
                &x.object_communication_id,
            ] {
                need(c)?;
            }
        }
        E::ProgressConsultTransfer(x) => {
            for c in [
                &x.initiating_communication_id,
                &x.destination_communication_id,
                &x.object_communication_id,
            ] {
                need(c)?;
            }
        }
        E::EndConsultTransfer(_) => {}
        _ => {}
    }
    // Apply.
    let Some(conv) = org.conversations.get_mut(&conv_id) else {
        return later(format!(
            "conversation {conv_id} has no established communication yet"
        ));
    };
    match e {
        E::CommunicationAnswered(x) => {
            if let Some(s) = conv.comms.get_mut(&x.communication_id) {
                s.answered = true;
            }
        }
        E::HoldUpdated(x) => {
            if let Some(s) = conv.comms.get_mut(&x.communication_id) {
                s.held = x.held;
            }
        }
        E::CommunicationEnded(x) => {
            if let Some(s) = conv.comms.get_mut(&x.communication_id) {
                s.ended = serde_json::to_value(x.disconnect_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned));
                s.held = false;
            }
        }
        E::CommunicationDispositionApplied(x) => {
            if let Some(s) = conv.comms.get_mut(&x.communication_id) {
                s.disposition = Some(x.code.clone());
            }
        }
        E::RoutingTransfer(x) => {
            conv.transfers.insert(x.command_id.clone());
        }
        E::UserTransfer(x) => {
            conv.transfers.insert(x.command_id.clone());
        }
        E::PhoneTransfer(x) => {
            conv.transfers.insert(x.command_id.clone());
        }
        _ => {}
    }
    push_timeline(org, &conv_id, e);
    Ok(())
}

fn push_timeline(org: &mut Org, conv_id: &str, e: &ConversationEvent) {
    if let Some(conv) = org.conversations.get_mut(conv_id) {
        conv.timeline.push(TimelineEntry {
            event_id: e.event_id().to_owned(),
            event_type: e.array_name().to_owned(),
            event_date_time: e.event_date_time().to_owned(),
            communication_id: e.communication_id().map(str::to_owned),
            event: e.to_json(),
        });
    }
}

/// `eventDateTime` and `eventId` of a user event.
trait Stamped {
    fn stamp(&self) -> (&str, &str);
}

impl Stamped for UserPresenceEvent {
    fn stamp(&self) -> (&str, &str) {
        (&self.event_date_time, &self.event_id)
    }
}

impl Stamped for UserRoutingStatusEvent {
    fn stamp(&self) -> (&str, &str) {
        (&self.event_date_time, &self.event_id)
    }
}

fn stamp<T: Stamped>(e: &T) -> (&str, &str) {
    e.stamp()
}

fn parse_array<T: serde::de::DeserializeOwned + serde::Serialize + Stamped>(
    body: &Value,
    key: &str,
) -> ApiResult<(Vec<T>, Vec<EventError>, usize)> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad("The body must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| k.as_str() != key) {
        return Err(ApiError::new(
            400,
            "invalid.property",
            format!("Unknown property {k}"),
        ));
    }
    let items = match obj.get(key) {
        None => Vec::new(),
        Some(v) => v.as_array().cloned().ok_or_else(|| {
            ApiError::new(400, "invalid.value", format!("{key} must be an array"))
        })?,
    };
    count_check(items.len())?;
    let n = items.len();
    let mut ok = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let e =
            serde_json::from_value::<T>(item.clone()).map_err(|err| malformed(key, index, &err))?;
        let known = serde_json::to_value(&e).unwrap_or(Value::Null);
        if let Some(p) = unknown_property(&item, &known, &format!("{key}[{index}]")) {
            return Err(ApiError::new(
                400,
                "invalid.property",
                format!("{p} is not a property of this event"),
            ));
        }
        let (t, id) = stamp(&e);
        request_check(key, index, t, &[("eventId", id)])?;
        ok.push(e);
    }
    Ok((ok, Vec::new(), n))
}

/// `POST /api/v2/events/users/presence`.
pub(crate) fn presence(org: &mut Org, body: &Value) -> ApiResult<BatchEventResponse> {
    let (events, mut errors, _) = parse_array::<UserPresenceEvent>(body, "userPresenceEvents")?;
    let mut events: Vec<(Option<OffsetDateTime>, usize, UserPresenceEvent)> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (parse_time(&e.event_date_time), i, e))
        .collect();
    events.sort_by_key(|a| (a.0, a.1));
    for (t, _, e) in events {
        let id = e.event_id.clone();
        let check = || -> Result<Option<String>, String> {
            if t.is_none() {
                return Err(format!(
                    "invalid.date: eventDateTime {:?}",
                    e.event_date_time
                ));
            }
            if !is_uuid(&e.event_id) {
                return Err(format!("eventId {:?} is not a UUID", e.event_id));
            }
            if org.live_user(&e.user_id).is_none() {
                return Err(format!("userId {} is not a known user", e.user_id));
            }
            if !org.sources.contains_key(&e.source_id) {
                return Err(format!(
                    "sourceId {} is not a known presence source",
                    e.source_id
                ));
            }
            match &e.presence_definition_id {
                Some(p) => match org.presence_defs.get(p) {
                    Some(d) => Ok(Some(d.system_presence.clone())),
                    None => Err(format!(
                        "presenceDefinitionId {p} is not a known presence definition"
                    )),
                },
                None => Ok(None),
            }
        };
        let system = match check() {
            Ok(s) => s,
            Err(m) => {
                errors.push(event_error(Some(&id), m, false));
                continue;
            }
        };
        if org.event_ids.contains(&id) {
            continue;
        }
        if let Some(err) = event_fault(org, &id) {
            errors.push(err);
            continue;
        }
        org.presence_history
            .entry(e.user_id.clone())
            .or_default()
            .push(PresenceRecord {
                event_id: id.clone(),
                event_date_time: e.event_date_time.clone(),
                source_id: e.source_id.clone(),
                presence_definition_id: e.presence_definition_id.clone(),
                system_presence: system,
                message: e.message.clone(),
            });
        org.event_ids.insert(id);
        org.events_accepted += 1;
    }
    Ok(BatchEventResponse { errors })
}

/// `POST /api/v2/events/users/routingstatus`.
pub(crate) fn routing_status(org: &mut Org, body: &Value) -> ApiResult<BatchEventResponse> {
    let (events, mut errors, _) =
        parse_array::<UserRoutingStatusEvent>(body, "userRoutingStatusEvents")?;
    let mut events: Vec<(Option<OffsetDateTime>, usize, UserRoutingStatusEvent)> = events
        .into_iter()
        .enumerate()
        .map(|(i, e)| (parse_time(&e.event_date_time), i, e))
        .collect();
    events.sort_by_key(|a| (a.0, a.1));
    for (t, _, e) in events {
        let id = e.event_id.clone();
        let problem = if t.is_none() {
            Some(format!(
                "invalid.date: eventDateTime {:?}",
                e.event_date_time
            ))
        } else if !is_uuid(&e.event_id) {
            Some(format!("eventId {:?} is not a UUID", e.event_id))
        } else if org.live_user(&e.agent_id).is_none() {
            Some(format!("agentId {} is not a known user", e.agent_id))
        } else if !org.sources.contains_key(&e.source_id) {
            Some(format!(
                "sourceId {} is not a known presence source",
                e.source_id
            ))
        } else {
            None
        };
        if let Some(m) = problem {
            errors.push(event_error(Some(&id), m, false));
            continue;
        }
        if org.event_ids.contains(&id) {
            continue;
        }
        if let Some(err) = event_fault(org, &id) {
            errors.push(err);
            continue;
        }
        org.routing_history
            .entry(e.agent_id.clone())
            .or_default()
            .push(RoutingRecord {
                event_id: id.clone(),
                event_date_time: e.event_date_time.clone(),
                status: e.status,
                source_id: e.source_id.clone(),
            });
        org.event_ids.insert(id);
        org.events_accepted += 1;
    }
    Ok(BatchEventResponse { errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::EmulatorConfig;
    use crate::events::{
        CommunicationAnsweredEvent, ExternalEstablishedEvent, SourceConfiguration,
    };
    use serde_json::json;

    fn org() -> (Org, String) {
        let org = Org::new(&EmulatorConfig::new("id", "secret"));
        let source = org.sources.keys().next().cloned().expect("seeded source");
        (org, source)
    }

    fn established(source: &str, conv: &str, comm: &str, t: &str) -> ConversationEvent {
        ExternalEstablishedEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_date_time: t.into(),
            conversation_id: conv.into(),
            communication_id: comm.into(),
            source_configuration: SourceConfiguration {
                source_id: source.into(),
                interaction_id: "call-1".into(),
                tag_id: None,
            },
            ..Default::default()
        }
        .into()
    }

    fn body(events: Vec<ConversationEvent>) -> Value {
        let mut b = BatchConversationEventRequest::default();
        for e in events {
            b.push(e);
        }
        serde_json::to_value(b).unwrap_or_default()
    }

    #[test]
    fn one_request_is_applied_in_event_time_order_once() {
        let (mut org, source) = org();
        let conv = uuid::Uuid::new_v4().to_string();
        let comm = uuid::Uuid::new_v4().to_string();
        let answered: ConversationEvent = CommunicationAnsweredEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_date_time: "2026-01-01T00:00:01.000Z".into(),
            conversation_id: conv.clone(),
            communication_id: comm.clone(),
        }
        .into();
        let est = established(&source, &conv, &comm, "2026-01-01T00:00:00.000Z");
        // The envelope puts answered after established anyway; reverse the times to prove
        // that time, not array order, decides.
        let v = body(vec![answered.clone(), est.clone()]);
        let r = conversations(&mut org, &v).expect("accepted");
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let ids: Vec<String> = org.conversations[&conv]
            .timeline
            .iter()
            .map(|t| t.event_id.clone())
            .collect();
        assert_eq!(
            ids,
            vec![est.event_id().to_owned(), answered.event_id().to_owned()]
        );
        // Again: nothing new.
        let r = conversations(&mut org, &v).expect("accepted");
        assert!(r.errors.is_empty());
        assert_eq!(org.conversations[&conv].timeline.len(), 2);
        assert_eq!(org.events_accepted, 2);
    }

    #[test]
    fn request_level_rules() {
        let (mut org, _) = org();
        let e = conversations(&mut org, &json!({})).expect_err("empty");
        assert_eq!(e.code, "zero.events.submitted");
        let e = conversations(&mut org, &json!({"holdUpdatedEvent": []})).expect_err("typo");
        assert_eq!(e.code, "invalid.property");
        let e = conversations(&mut org, &json!([1])).expect_err("array");
        assert_eq!(e.status, 400);
        let e = presence(&mut org, &json!({"userPresenceEvents": "x"})).expect_err("not array");
        assert_eq!(e.code, "invalid.value");
    }

    /// A malformed request (bad date, id not a V4 UUID, unknown property, wrong type) is
    /// refused whole with GC's code and nothing of it is applied; a semantic problem (an
    /// unknown presence source) is a per-event error next to accepted events.
    #[test]
    fn malformed_requests_are_refused_whole_and_semantic_ones_per_event() {
        let (mut org, source) = org();
        let conv = uuid::Uuid::new_v4().to_string();
        let v4 = || uuid::Uuid::new_v4().to_string();
        let good = established(&source, &conv, &v4(), "2026-01-01T00:00:00Z");
        for (bad, code) in [
            (
                established(&source, &conv, &v4(), "yesterday"),
                "invalid.date",
            ),
            (
                established(&source, "conv-1", &v4(), "2026-01-01T00:00:00Z"),
                "constraint.validation",
            ),
            (
                established(
                    &source,
                    &uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"x").to_string(),
                    &v4(),
                    "2026-01-01T00:00:00Z",
                ),
                "constraint.validation",
            ),
        ] {
            let e =
                conversations(&mut org, &body(vec![good.clone(), bad])).expect_err("refused whole");
            assert_eq!((e.status, e.code), (400, code), "{e:?}");
            assert!(e.message.contains("[1]"), "names the event: {e:?}");
        }
        let mut unknown = serde_json::to_value(&good).expect("json");
        unknown["colour"] = json!("red");
        let e = conversations(&mut org, &json!({"externalEstablishedEvents": [unknown]}))
            .expect_err("unknown property");
        assert_eq!(e.code, "invalid.property");
        let e = conversations(
            &mut org,
            &json!({"externalEstablishedEvents": [{"eventId": 5}]}),
        )
        .expect_err("wrong type");
        assert_eq!(e.code, "invalid.value");
        assert!(org.conversations.values().all(|c| c.timeline.is_empty()));

        let bad_source = established("nope", &conv, &v4(), "2026-01-01T00:00:00Z");
        let r = conversations(&mut org, &body(vec![bad_source])).expect("answered");
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors.iter().all(|e| !e.retryable));
    }

    #[test]
    fn rate_limit_answers_retry_after_in_whole_seconds() {
        let (mut org, _) = org();
        let w = std::time::Duration::from_millis(300);
        assert!(org.check_rate("t", 2, w).is_ok());
        assert!(org.check_rate("t", 2, w).is_ok());
        let e = org.check_rate("t", 2, w).expect_err("limited");
        assert_eq!((e.status, e.retry_after), (429, Some(1)));
        assert!(org.check_rate("other", 2, w).is_ok(), "per token");
        assert!(org.check_rate("t", 0, w).is_ok(), "0 disables");
    }
}
