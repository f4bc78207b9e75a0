//! The call model's GC events (gcex's injection models, emitted by the model itself) for every
//! scenario file: the JSON carries the public field names, and the GC EX emulator accepts every
//! event over HTTP (in model order, at most 100 per request) and ends up with the conversation
//! the model meant.

use engage_callmodel::fuzzing::finish;
use engage_callmodel::output::ConversationClosed;
use engage_callmodel::scenario::{Scenario, Step};
use engage_callmodel::{CallModel, ConversationEvent, ModelConfig, Output, StaticLookups};
use gcex::emulator::{Emulator, EmulatorConfig};
use gcex::events::{self as gc, DisconnectType, MAX_EVENTS_PER_REQUEST};
use gcex::routing::{QueueRequest, WrapupCodeRequest};
use gcex::users::CreateUser;
use gcex::{GcClient, RateLimit, RetryPolicy};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

fn scenarios() -> Vec<(PathBuf, Scenario)> {
    let all = Scenario::load_dir(&Scenario::project_dir()).expect("scenario files load");
    assert!(!all.is_empty(), "no scenario files");
    all
}

/// Runs the scenario's steps through a fresh model, then lets every remaining timeout fire.
fn run(s: &Scenario, cfg: ModelConfig, lookups: &StaticLookups) -> Vec<Output> {
    let mut model = CallModel::new(cfg);
    let mut out = Vec::new();
    for step in &s.steps {
        match step {
            Step::Timeout { timeout } => model.handle_timeout(*timeout),
            Step::Event(e) => model.handle_input(e, lookups),
            other => panic!("unknown step {other:?}"),
        }
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    finish(&mut model, &mut out);
    out
}

fn model_events(out: &[Output]) -> Vec<ConversationEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn closures(out: &[Output]) -> Vec<ConversationClosed> {
    out.iter()
        .filter_map(|o| match o {
            Output::ConversationClosed(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// The events as injected: the model's own (no conversion any more).
fn convert(_name: &str, events: &[ConversationEvent]) -> Vec<gc::ConversationEvent> {
    events.to_vec()
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ`.
fn is_gc_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

fn has(j: &Value, field: &str) -> bool {
    j.get(field).is_some_and(|v| !v.is_null())
}

/// The public field names of one converted event, per variant, checked against the model
/// event it came from.
fn spot_check(ctx: &str, m: &ConversationEvent, g: &gc::ConversationEvent) {
    use ConversationEvent as E;
    let j = g.to_json();
    let model = serde_json::to_value(m).expect("model event serializes");
    let tag = model["type"].as_str().expect("type tag");
    assert_eq!(g.array_name(), format!("{tag}Events"), "{ctx}");
    assert_eq!(j["eventId"], m.event_id(), "{ctx}");
    assert_eq!(j["conversationId"], m.conversation_id(), "{ctx}");
    let t = j["eventDateTime"].as_str().expect("eventDateTime string");
    assert!(is_gc_time(t), "{ctx}: eventDateTime {t}");
    assert_eq!(t, m.event_date_time(), "{ctx}");
    match m.communication_id() {
        Some(c) => assert_eq!(j["communicationId"], c, "{ctx}"),
        None => assert!(
            !has(&j, "communicationId"),
            "{ctx}: transfer with communicationId"
        ),
    }
    // The event's tagged form (model state, scenario files) is the wire JSON plus the type tag.
    let mut want = model.clone();
    let obj = want.as_object_mut().expect("object");
    obj.remove("type");
    obj.insert("eventDateTime".into(), Value::String(t.to_owned()));
    assert_eq!(
        j, want,
        "{ctx}: converted JSON differs from the model event"
    );
    if m.is_established() {
        assert!(has(&j, "initialConfiguration"), "{ctx}");
        assert!(has(&j["sourceConfiguration"], "sourceId"), "{ctx}");
        assert!(has(&j["sourceConfiguration"], "interactionId"), "{ctx}");
        assert!(has(&j["initialConfiguration"], "alerting"), "{ctx}");
    }
    match m {
        E::ExternalEstablished(e) => {
            assert_eq!(has(&j, "ani"), e.ani.is_some(), "{ctx}");
            assert_eq!(has(&j, "dnis"), e.dnis.is_some(), "{ctx}");
        }
        E::IvrEstablished(e) => {
            assert_eq!(
                has(&j, "ivrPhoneNumber"),
                e.ivr_phone_number.is_some(),
                "{ctx}"
            );
        }
        E::PhoneEstablished(e) => {
            assert_eq!(has(&j, "phoneNumber"), e.phone_number.is_some(), "{ctx}");
        }
        E::RoutingEstablished(e) => assert_eq!(j["queueId"], e.queue_id.as_str(), "{ctx}"),
        E::UserEstablished(e) => {
            assert_eq!(j["userId"], e.user_id.as_str(), "{ctx}");
            assert_eq!(
                j.get("afterCallWorkRequired").and_then(Value::as_bool),
                e.after_call_work_required,
                "{ctx}"
            );
        }
        E::HoldUpdated(e) => assert_eq!(j["held"], e.held, "{ctx}"),
        E::AudioUpdated(_) => assert!(has(&j, "audioState"), "{ctx}"),
        E::CommunicationDispositionApplied(e) => {
            assert_eq!(
                j.get("code").and_then(Value::as_str),
                e.code.as_deref(),
                "{ctx}"
            )
        }
        E::CommunicationEnded(e) => {
            let d = j["disconnectType"].as_str().expect("disconnectType");
            let public = [
                "Error",
                "Peer",
                "Self",
                "System",
                "Transfer",
                "TransferACD",
                "TransferConference",
                "TransferConsult",
                "TransferUser",
            ];
            assert!(public.contains(&d), "{ctx}: disconnectType {d}");
            if e.disconnect_type == DisconnectType::SelfDisconnect {
                assert_eq!(d, "Self", "{ctx}");
            }
        }
        E::RoutingTransfer(_) | E::UserTransfer(_) | E::PhoneTransfer(_) => {
            for f in [
                "transferType",
                "commandId",
                "initiatingCommunicationId",
                "targetCommunicationId",
                "objectCommunicationId",
            ] {
                assert!(has(&j, f), "{ctx}: {f}");
            }
            let dest = match m {
                E::RoutingTransfer(_) => "destinationQueueId",
                E::UserTransfer(_) => "destinationUserId",
                _ => "destinationPhoneNumber",
            };
            assert!(has(&j, dest), "{ctx}: {dest}");
        }
        E::ProgressTransfer(_) => {
            for f in [
                "commandId",
                "objectCommunicationId",
                "destinationCommunicationId",
            ] {
                assert!(has(&j, f), "{ctx}: {f}");
            }
        }
        E::EndTransfer(_) => {
            let f = j["finalState"].as_str().expect("finalState");
            assert!(["Completed", "Canceled", "Failed"].contains(&f), "{ctx}");
            assert!(has(&j, "commandId"), "{ctx}");
        }
        E::ConsultTransfer(_) | E::ProgressConsultTransfer(_) => {
            for f in [
                "initiatingCommunicationId",
                "destinationCommunicationId",
                "objectCommunicationId",
            ] {
                assert!(has(&j, f), "{ctx}: {f}");
            }
            assert!(
                !has(&j, "commandId"),
                "{ctx}: consult events have no commandId"
            );
        }
        E::EndConsultTransfer(_) => {
            let keys: BTreeSet<&str> = j
                .as_object()
                .expect("object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["eventId", "eventDateTime", "conversationId"]),
                "{ctx}"
            );
        }
        _ => {}
    }
}

#[test]
fn every_scenario_event_converts_with_public_field_names() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut total = 0usize;
    for (path, s) in scenarios() {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let out = run(&s, s.model_config(), &s.lookups);
        let events = model_events(&out);
        let converted = convert(&name, &events);
        for (i, (m, g)) in events.iter().zip(&converted).enumerate() {
            spot_check(&format!("{name} #{i}"), m, g);
            seen.insert(g.array_name().to_owned());
        }
        // The batch envelope holds them under the public array names.
        let mut batch = gc::BatchConversationEventRequest::default();
        for g in converted.iter().take(MAX_EVENTS_PER_REQUEST) {
            batch.push(g.clone());
        }
        let v = serde_json::to_value(&batch).expect("batch serializes");
        for k in v.as_object().expect("object").keys() {
            assert!(
                gc::BatchConversationEventRequest::ARRAYS.contains(&k.as_str()),
                "{name}: {k}"
            );
        }
        total += converted.len();
    }
    // The scenarios exercise the main event types (the rest are covered by gcex's unit tests
    // with synthetic events).
    for a in [
        "externalEstablishedEvents",
        "ivrEstablishedEvents",
        "routingEstablishedEvents",
        "userEstablishedEvents",
        "communicationAnsweredEvents",
        "holdUpdatedEvents",
        "communicationDispositionAppliedEvents",
        "communicationEndedEvents",
        "routingTransferEvents",
        "userTransferEvents",
        "progressTransferEvents",
        "endTransferEvents",
        "consultTransferEvents",
        "endConsultTransferEvents",
    ] {
        assert!(seen.contains(a), "no scenario produces {a}; seen {seen:?}");
    }
    eprintln!("{total} events converted; types seen: {seen:?}");
}

/// The GC ids the emulator gave the scenario's look-up targets.
struct Org {
    lookups: StaticLookups,
    /// GC user id -> the file's id.
    users: BTreeMap<String, String>,
    /// GC queue id -> the file's id.
    queues: BTreeMap<String, String>,
}

/// Creates the users, queues and wrap-up codes the scenario's look-ups name, and the same
/// look-ups with the ids GC returned.
async fn provision(gc: &GcClient, file: &StaticLookups) -> Org {
    let mut users: BTreeMap<String, String> = BTreeMap::new(); // file id -> GC id
    let mut queues: BTreeMap<String, String> = BTreeMap::new();
    let mut codes: BTreeMap<String, String> = BTreeMap::new();
    for file_id in file.agents.values() {
        if users.contains_key(file_id) {
            continue;
        }
        let u = gc
            .create_user(&CreateUser {
                name: file_id.clone(),
                email: format!("{file_id}@example.com"),
                ..CreateUser::default()
            })
            .await
            .expect("create user");
        users.insert(file_id.clone(), u.id);
    }
    for file_id in file.queues.values() {
        if queues.contains_key(file_id) {
            continue;
        }
        let q = gc
            .create_queue(&QueueRequest {
                name: file_id.clone(),
                ..QueueRequest::default()
            })
            .await
            .expect("create queue");
        queues.insert(file_id.clone(), q.id);
    }
    for file_id in file.wrap_up_codes.values() {
        if codes.contains_key(file_id) {
            continue;
        }
        let c = gc
            .create_wrapup_code(&WrapupCodeRequest {
                name: file_id.clone(),
                ..WrapupCodeRequest::default()
            })
            .await
            .expect("create wrap-up code");
        codes.insert(file_id.clone(), c.id);
    }
    let remap = |m: &BTreeMap<String, String>, ids: &BTreeMap<String, String>| {
        m.iter()
            .map(|(k, v)| (k.clone(), ids[v].clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let lookups = StaticLookups {
        agents: remap(&file.agents, &users),
        queues: remap(&file.queues, &queues),
        wrap_up_codes: remap(&file.wrap_up_codes, &codes),
    };
    let flip = |m: BTreeMap<String, String>| m.into_iter().map(|(a, b)| (b, a)).collect();
    Org {
        lookups,
        users: flip(users),
        queues: flip(queues),
    }
}

fn kind_of(e: &ConversationEvent) -> Option<&'static str> {
    use ConversationEvent as E;
    Some(match e {
        E::ExternalEstablished(_) => "external",
        E::IvrEstablished(_) => "ivr",
        E::PhoneEstablished(_) => "phone",
        E::RoutingEstablished(_) => "routing",
        E::UserEstablished(_) => "user",
        _ => return None,
    })
}

/// One scenario against a fresh emulator; returns the events injected and whether a
/// conversation was suspended.
async fn inject_scenario(name: &str, s: &Scenario) -> (usize, bool) {
    let emu = Emulator::start(
        EmulatorConfig::new("gcmap-test", "gcmap-secret")
            .with_rate_limit(0, Duration::from_secs(60)),
    )
    .await
    .expect("emulator starts");
    let client = GcClient::new(
        emu.client_config()
            .with_retry(RetryPolicy::fast())
            .with_rate_limit(RateLimit::disabled()),
    )
    .expect("client");
    let source = client
        .create_presence_source("Engage", Some("EX Engage Connector"))
        .await
        .expect("presence source")
        .id
        .expect("source id");
    let org = provision(&client, &s.lookups).await;
    let mut cfg = s.model_config();
    cfg.source_id = source.clone();
    let out = run(s, cfg, &org.lookups);
    let events = model_events(&out);
    let converted = convert(name, &events);

    // In model order, at most 100 events per request; every event accepted at the first try.
    let mut requests = 0usize;
    for chunk in converted.chunks(MAX_EVENTS_PER_REQUEST) {
        let report = client
            .inject_conversation_events(chunk)
            .await
            .unwrap_or_else(|e| panic!("{name}: request failed: {e}"));
        assert!(
            report.failed.is_empty(),
            "{name}: events rejected: {:#?}",
            report.failed
        );
        assert_eq!(report.accepted, chunk.len(), "{name}");
        assert_eq!(
            report.requests, 1,
            "{name}: some events were refused as retryable (out of order?)"
        );
        requests += 1;
    }
    assert_eq!(
        emu.request_count("POST /api/v2/events/conversations"),
        requests as u64,
        "{name}"
    );
    assert_eq!(
        emu.stats().events_accepted,
        converted.len() as u64,
        "{name}"
    );

    // The emulator's view of each conversation.
    let closed = closures(&out);
    let conv_ids: BTreeSet<_> = events
        .iter()
        .map(ConversationEvent::conversation_id)
        .collect();
    assert_eq!(emu.conversation_ids().len(), conv_ids.len(), "{name}");
    for cid in &conv_ids {
        let view = emu
            .conversation(cid)
            .unwrap_or_else(|| panic!("{name}: conversation {cid} unknown to the emulator"));
        let mine: Vec<&ConversationEvent> = events
            .iter()
            .filter(|e| e.conversation_id() == *cid)
            .collect();
        assert_eq!(view.timeline.len(), mine.len(), "{name}: timeline of {cid}");
        for (entry, e) in view.timeline.iter().zip(&mine) {
            assert_eq!(entry.event_id, e.event_id().to_string(), "{name}: order");
        }
        let est: Vec<&&ConversationEvent> = mine.iter().filter(|e| e.is_established()).collect();
        assert_eq!(view.communications.len(), est.len(), "{name}");
        for (c, e) in view.communications.iter().zip(&est) {
            let ctx = format!("{name}: communication {}", c.id);
            assert_eq!(
                Some(c.id.clone()),
                e.communication_id().map(|u| u.to_string())
            );
            assert_eq!(Some(c.kind.as_str()), kind_of(e), "{ctx}");
            match e {
                ConversationEvent::UserEstablished(u) => {
                    assert_eq!(c.user_id.as_deref(), Some(u.user_id.as_str()), "{ctx}");
                    assert!(org.users.contains_key(&u.user_id), "{ctx}: unknown user");
                }
                ConversationEvent::RoutingEstablished(r) => {
                    assert_eq!(c.queue_id.as_deref(), Some(r.queue_id.as_str()), "{ctx}");
                    assert!(org.queues.contains_key(&r.queue_id), "{ctx}: unknown queue");
                }
                _ => {}
            }
            // The model's last word on this communication.
            let ended = mine.iter().rev().find_map(|x| match x {
                ConversationEvent::CommunicationEnded(end)
                    if Some(end.communication_id.as_str()) == e.communication_id() =>
                {
                    Some(end.disconnect_type)
                }
                _ => None,
            });
            let want = ended.map(|d| {
                serde_json::to_value(d)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .expect("disconnectType name")
            });
            assert_eq!(c.disconnect_type, want, "{ctx}");
            let disposed = mine.iter().find_map(|x| match x {
                ConversationEvent::CommunicationDispositionApplied(d)
                    if Some(d.communication_id.as_str()) == e.communication_id() =>
                {
                    Some(d.code.clone())
                }
                _ => None,
            });
            assert_eq!(c.disposition_applied, disposed.is_some(), "{ctx}");
            assert_eq!(c.wrapup_code, disposed.flatten(), "{ctx}");
        }
        // A closed conversation: every communication ended.
        if closed.iter().any(|c| c.conversation_id.to_string() == *cid) {
            assert!(
                view.ended,
                "{name}: conversation {cid} closed but not ended"
            );
            for c in &view.communications {
                assert_eq!(c.state, "ended", "{name}: {} still {}", c.id, c.state);
                assert!(!c.held, "{name}: {} ended held", c.id);
            }
        }
    }
    // After every timeout fired, the model closed every conversation; one it never injected
    // (agent-less outbound) is unknown to GC.
    for cid in &conv_ids {
        assert!(
            closed.iter().any(|c| c.conversation_id.to_string() == *cid),
            "{name}: conversation {cid} never closed"
        );
    }
    for c in closed
        .iter()
        .filter(|c| !conv_ids.contains(c.conversation_id.to_string().as_str()))
    {
        assert!(
            emu.conversation(&c.conversation_id.to_string()).is_none(),
            "{name}"
        );
    }
    emu.shutdown().await;
    (converted.len(), closed.iter().any(|c| c.suspended))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_is_accepted_by_the_emulator() {
    let mut suspended: Vec<(String, usize)> = Vec::new();
    let mut total = 0usize;
    let all = scenarios();
    for (path, s) in &all {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (events, was_suspended) = inject_scenario(&name, s).await;
        total += events;
        if was_suspended {
            suspended.push((name, events));
        }
    }
    assert!(total > 0);
    assert!(
        suspended.iter().any(|(_, n)| *n > 0),
        "no suspended scenario injects an event; the unsupported flows are not covered"
    );
    eprintln!(
        "{} scenarios, {total} events accepted; suspended (events injected): {suspended:?}",
        all.len()
    );
}
