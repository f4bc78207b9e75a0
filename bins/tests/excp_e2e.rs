//! EXCP end to end: EXCS syncs a generated contact center (real PostgreSQL) into the GC
//! emulator and publishes its maps in real Redis; the SIP Server simulator plays a scenario
//! file as TLib events over TCP; EXCP (one instance, then an HA pair) turns them into GC
//! conversation events.

mod common;

use common::excp::{
    Target, gc_event_count, now_ms, scenario_on, start_excp, start_excp_on, synced_world, wait_for,
};
use common::{World, http, world};
use engage_callmodel::scenario::Scenario;
use engage_excp::config::ServerPair;
use engage_excp::service::Service;
use engage_sim::player::{login, play, send, shifted};
use engage_store::{DnRecord, ServiceConnection};
use engage_tlib::client::Endpoint;
use engage_tlib::sim::SimServer;
use gcex::GcClient;
use gcex::emulator::ConversationView;
use std::time::Duration;

async fn ended_conversation(
    w: &World,
    s: &Scenario,
    events: usize,
    excp: &Service,
) -> ConversationView {
    let root = s.events().next().unwrap().call_uuid().unwrap().to_string();
    let id = engage_callmodel::conversation_id(&root).to_string();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !w
        .gc
        .conversation(&id)
        .is_some_and(|c| c.ended && c.timeline.len() >= events)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the conversation never ended in GC: {:?}\nEXCP: {:?}\nhealth: {:?}",
            w.gc.conversation(&id),
            excp.status.lock().unwrap(),
            excp.health.report()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.gc.conversation(&id).unwrap()
}

fn check_conversation(view: &ConversationView, t: &Target, events: usize) {
    assert_eq!(view.timeline.len(), events, "every event exactly once");
    let kinds: Vec<&str> = view
        .communications
        .iter()
        .map(|c| c.kind.as_str())
        .collect();
    for k in ["external", "ivr", "routing", "user"] {
        assert!(kinds.contains(&k), "{k} leg missing: {kinds:?}");
    }
    let user = view
        .communications
        .iter()
        .find(|c| c.kind == "user")
        .unwrap();
    assert_eq!(user.user_id.as_deref(), Some(t.user_id.as_str()));
    let queue = view
        .communications
        .iter()
        .find(|c| c.kind == "routing")
        .unwrap();
    assert_eq!(queue.queue_id.as_deref(), Some(t.queue_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_the_sip_server_becomes_a_gc_conversation() {
    let (w, t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let excp = start_excp(&w, &sim, "excp-a").await;
    wait_for("EXCP registers its DNs and call monitoring", || {
        sim.call_monitors() >= 1
            && sim.registrations(&t.extension) >= 1
            && sim.registrations(&t.vq) >= 1
    })
    .await;
    assert_eq!(login(&sim, &t.extension, &t.login_code), 1);
    wait_for("EXCP sees the agent log in", || {
        excp.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    let s = scenario_on(&t);
    let played = play(&sim, &s, now_ms()).unwrap();
    assert_eq!(played.undelivered, 0, "{played:?}");
    let events = gc_event_count(&s);
    let view = ended_conversation(&w, &s, events, &excp).await;
    check_conversation(&view, &t, events);
    wait_for("status counts the delivery", || {
        excp.status.lock().unwrap().delivered == events as u64
    })
    .await;
    let status = excp.status.lock().unwrap().clone();
    assert_eq!(status.engine.conversations_closed, 1);
    assert_eq!(status.engine.recording_segments, 1);
    assert_eq!(status.pending_events, 0);
    assert!(
        excp.metrics
            .render()
            .contains("excp_events_delivered_total")
    );

    // REST: health, status, and the recording metadata API.
    let addr = excp.http_addr;
    assert_eq!(http(addr, "GET", "/health", None).await.0, 200);
    let (code, body) = http(addr, "GET", "/status", None).await;
    assert_eq!(code, 200);
    // The services' common envelope: status, what is connected, what is pending, the detail.
    assert_eq!(body["data"]["detail"]["delivered"], events as u64, "{body}");
    assert_eq!(body["status"]["code"], 0, "{body}");
    assert_eq!(body["data"]["connected"]["gc"]["up"], true, "{body}");
    assert_eq!(body["data"]["pending"]["events"], 0, "{body}");
    let call = s.events().next().unwrap().call_uuid().unwrap().to_string();
    // The guide's readiness check: an empty POST answers "CallUUID not found".
    let (code, body) = http(addr, "POST", "/api/v1/recording", None).await;
    assert_eq!(code, 404);
    assert_eq!(body["status"]["code"], 40402, "{body}");
    assert_eq!(body["status"]["message"], "CallUUID not found");
    assert!(
        body["status"]["corrId"]
            .as_str()
            .is_some_and(|c| c.len() == 36)
    );
    // The agent segment the model produced is stored for the recording provider.
    let (code, body) = http(addr, "GET", &format!("/api/v1/recording/{call}"), None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"]["code"], 0);
    assert_eq!(body["data"]["segments"][0]["userId"], t.user_id.as_str());
    assert_eq!(
        body["data"]["segments"][0]["originationQueueId"],
        t.queue_id.as_str()
    );
    // MCP posts a recorded file's metadata (twice: retries are harmless).
    let meta = format!(
        r#"{{"callUuid":"{call}","fileName":"rec-0001.opus","startTime":1000,"endTime":2000}}"#
    );
    for _ in 0..2 {
        let (code, body) = http(addr, "POST", "/api/v1/recording", Some(&meta)).await;
        assert_eq!(code, 202, "{body}");
        assert_eq!(body["status"]["code"], 0);
    }
    let (_, body) = http(addr, "GET", &format!("/api/v1/recording/{call}"), None).await;
    assert_eq!(body["data"]["files"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"]["files"][0]["fileName"], "rec-0001.opus");
    // Bad bodies are refused with a reason; unknown calls are 404 / 40402.
    let (code, body) = http(addr, "POST", "/api/v1/recording", Some("{not json")).await;
    assert_eq!(code, 400);
    assert!(
        body["status"]["message"].as_str().unwrap().contains("JSON"),
        "{body}"
    );
    let long = format!(
        r#"{{"callUuid":"{call}","fileName":"{}","startTime":1,"endTime":2}}"#,
        "x".repeat(81)
    );
    let (code, body) = http(addr, "POST", "/api/v1/recording", Some(&long)).await;
    assert_eq!(code, 400);
    assert!(
        body["status"]["message"].as_str().unwrap().contains("80"),
        "{body}"
    );
    let (code, body) = http(
        addr,
        "GET",
        "/api/v1/recording/ZZZZ0000000000000000000000000000",
        None,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(body["status"]["code"], 40402);
    excp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ha_pair_injects_every_event_once() {
    let (w, t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let a = start_excp(&w, &sim, "excp-a").await;
    let b = start_excp(&w, &sim, "excp-b").await;
    wait_for("both instances register", || {
        sim.call_monitors() >= 2
            && sim.registrations(&t.extension) >= 2
            && sim.registrations(&t.vq) >= 2
    })
    .await;
    assert_eq!(login(&sim, &t.extension, &t.login_code), 2);
    wait_for("both see the agent log in", || {
        a.status.lock().unwrap().agents_logged_in == 1
            && b.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    let s = scenario_on(&t);
    play(&sim, &s, now_ms()).unwrap();
    let events = gc_event_count(&s);
    let view = ended_conversation(&w, &s, events, &a).await;
    check_conversation(&view, &t, events);
    let total = |f: fn(&engage_excp::service::ExcpStatus) -> u64| {
        f(&a.status.lock().unwrap()) + f(&b.status.lock().unwrap())
    };
    wait_for("the pair accounts for every event", || {
        total(|s| s.delivered) == events as u64 && total(|s| s.skipped_claimed) == events as u64
    })
    .await;
    // Both ran the whole call: the survivor of a failover has the full state.
    assert_eq!(a.status.lock().unwrap().engine.conversations_closed, 1);
    assert_eq!(b.status.lock().unwrap().engine.conversations_closed, 1);
    // The pair check: one wrote the call's digest, the other found the same (issue 12 §7).
    let checks = |outcome: &str| {
        [&a, &b]
            .iter()
            .map(|x| {
                x.metrics
                    .value("excp_pair_checks_total", &[("outcome", outcome)])
                    .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    wait_for("both instances checked the call", || {
        checks("first") + checks("agree") == 2.0
    })
    .await;
    assert_eq!(
        (checks("first"), checks("agree"), checks("diverged")),
        (1.0, 1.0, 0.0)
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn excs_publishes_the_gc_connections_of_exas_and_excp() {
    let w = world(3).await;
    let mut excs = w.excs().await;
    excs.poll_once().await.unwrap();
    for section in ["agent_state_sync", "conversation_provider"] {
        let rec: ServiceConnection = w
            .json()
            .get(&ServiceConnection::key(section))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{section} published"));
        assert_eq!(rec.base_service_url, w.gc.base_url().trim_end_matches('/'));
        assert!(!format!("{rec:?}").contains(common::CLIENT_SECRET));
        // The published connection works against GC.
        let client = GcClient::new(rec.gc_config().with_insecure_http(true)).unwrap();
        let users = gcex::collect_all(client.users(None)).await.unwrap();
        assert!(!users.is_empty());
    }
    let cp: ServiceConnection = w
        .json()
        .get(&ServiceConnection::key("conversation_provider"))
        .await
        .unwrap()
        .unwrap();
    // The section's other options ride along (the seed sets the STA defaults).
    assert_eq!(
        cp.settings.get("sta_default_language").map(String::as_str),
        Some("en-US")
    );
    assert!(!cp.settings.contains_key("client_secret"));
    // EXRP's two sections (issue 13): its GC connection (`client_id` + `password`) works
    // against GC, and its WebDAV settings are what EXRP reads.
    let rec: ServiceConnection = w
        .json()
        .get(&ServiceConnection::key(
            engage_excs::service::RECORDING_GC_SECTION,
        ))
        .await
        .unwrap()
        .expect("recording-uploader.exec.genesysCloud published");
    assert_eq!(rec.client_id, common::CLIENT_ID);
    assert!(!rec.settings.contains_key("password"));
    let client = GcClient::new(rec.gc_config().with_insecure_http(true)).unwrap();
    assert!(
        client.recording_public_key().await.is_ok(),
        "EXRP's published connection reaches GC"
    );
    let storage: ServiceConnection = w
        .json()
        .get(&ServiceConnection::key(
            engage_excs::service::RECORDING_STORAGE_SECTION,
        ))
        .await
        .unwrap()
        .expect("recording-uploader.exec.transientStorage published");
    let dav =
        engage_exrp::config::WebDavSettings::from_section(&storage.settings).expect("a WebDAV url");
    assert_eq!(
        storage.settings.get("type").map(String::as_str),
        Some("WebDAV")
    );
    assert!(!format!("{dav:?}").contains("webdav-secret"), "{dav:?}");
    assert!(format!("{dav:?}").contains("8090"), "{dav:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sip_server_switchover_in_the_middle_of_a_call_loses_nothing() {
    let (w, t) = synced_world().await;
    let mut primary = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let backup = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let pair = ServerPair {
        primary: Endpoint::new("127.0.0.1", primary.local_addr().port()),
        backup: Some(Endpoint::new("127.0.0.1", backup.local_addr().port())),
    };
    let excp = start_excp_on(&w, pair, "excp-ha").await;
    let registered = |sim: &SimServer| {
        sim.call_monitors() >= 1
            && sim.registrations(&t.extension) >= 1
            && sim.registrations(&t.vq) >= 1
    };
    wait_for("EXCP registers on the primary", || registered(&primary)).await;
    assert_eq!(login(&primary, &t.extension, &t.login_code), 1);
    wait_for("the agent logs in", || {
        excp.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    let s = scenario_on(&t);
    let first = s.events().next().unwrap().time();
    let shift = now_ms() as i64 - first as i64;
    let events: Vec<_> = s.events().map(|e| shifted(e, shift)).collect();
    let half = events.len() / 2;
    for ev in &events[..half] {
        send(&primary, ev).unwrap();
    }
    wait_for("the first half is handled", || {
        excp.status.lock().unwrap().engine.engage_events == half as u64
    })
    .await;
    // The primary SIP Server dies; the clients switch to the backup and register again there.
    primary.stop().await;
    wait_for("EXCP registers on the backup", || registered(&backup)).await;
    for ev in &events[half..] {
        send(&backup, ev).unwrap();
    }
    let n = gc_event_count(&s);
    let view = ended_conversation(&w, &s, n, &excp).await;
    check_conversation(&view, &t, n);
    let health = excp.health.report();
    assert_eq!(health.status, "UP", "{health:?}");
    let metrics = excp.metrics.render();
    assert!(
        metrics.contains("excp_sip_switchovers_total{role=\"call\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("excp_sip_link_up{role=\"call\"} 1"),
        "{metrics}"
    );
    excp.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_excp_resumes_its_calls_from_the_checkpoint() {
    let (w, t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let excp = start_excp(&w, &sim, "excp-restart").await;
    let registered = |sim: &SimServer| {
        sim.call_monitors() >= 1
            && sim.registrations(&t.extension) >= 1
            && sim.registrations(&t.vq) >= 1
    };
    wait_for("EXCP registers", || registered(&sim)).await;
    assert_eq!(login(&sim, &t.extension, &t.login_code), 1);
    wait_for("the agent logs in", || {
        excp.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    let s = scenario_on(&t);
    let first = s.events().next().unwrap().time();
    let shift = now_ms() as i64 - first as i64;
    let events: Vec<_> = s.events().map(|e| shifted(e, shift)).collect();
    let half = events.len() / 2;
    for ev in &events[..half] {
        send(&sim, ev).unwrap();
    }
    wait_for("the first half is handled and delivered", || {
        let st = excp.status.lock().unwrap();
        st.engine.engage_events == half as u64 && st.pending_events == 0 && st.delivered > 0
    })
    .await;
    // Stopped in the middle of the call (an upgrade, a crash after the last checkpoint).
    excp.shutdown().await;
    wait_for("the old links are gone", || sim.call_monitors() == 0).await;
    let excp = start_excp(&w, &sim, "excp-restart").await;
    wait_for("the new instance registers", || registered(&sim)).await;
    wait_for("the log-in is remembered", || {
        excp.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    for ev in &events[half..] {
        send(&sim, ev).unwrap();
    }
    let n = gc_event_count(&s);
    let view = ended_conversation(&w, &s, n, &excp).await;
    check_conversation(&view, &t, n);
    excp.shutdown().await;
}

/// Issue 12 §1: delivery runs apart from ingestion. While GC holds a request for seconds, the
/// SIP Server's events keep being read and modelled; while GC answers 503 for good, nothing is
/// lost; once GC is back every event arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_failing_gc_never_stops_ingestion_and_loses_nothing() {
    use gcex::emulator::{Fault, FaultKind};
    let (w, t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let excp = start_excp(&w, &sim, "excp-slow-gc").await;
    wait_for("EXCP registers its DNs and call monitoring", || {
        sim.call_monitors() >= 1
            && sim.registrations(&t.extension) >= 1
            && sim.registrations(&t.vq) >= 1
    })
    .await;
    assert_eq!(login(&sim, &t.extension, &t.login_code), 1);
    wait_for("EXCP sees the agent log in", || {
        excp.status.lock().unwrap().agents_logged_in == 1
    })
    .await;
    // GC takes 5 s to answer the first injection request.
    w.gc.inject_fault(Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: 1,
        kind: FaultKind::Delay { millis: 5_000 },
    });
    let s = scenario_on(&t);
    let tlib_events = s.events().count() as u64;
    let played = play(&sim, &s, now_ms()).unwrap();
    assert_eq!(played.undelivered, 0, "{played:?}");
    // Every TLib event of the call is read and modelled while the first request still hangs.
    wait_for("EXCP ingests the whole call while GC hangs", || {
        excp.status.lock().unwrap().engine.engage_events >= tlib_events
    })
    .await;
    let status = excp.status.lock().unwrap().clone();
    assert_eq!(
        status.delivered, 0,
        "nothing delivered yet: the hanging request is still open: {status:?}"
    );
    assert!(status.pending_events > 0);
    let events = gc_event_count(&s);
    let view = ended_conversation(&w, &s, events, &excp).await;
    check_conversation(&view, &t, events);

    // A second call while GC answers 503 to every injection: kept, then delivered.
    w.gc.inject_fault(Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: u32::MAX,
        kind: FaultKind::Status { status: 503 },
    });
    let mut s2 = s.clone();
    for step in &mut s2.steps {
        if let engage_callmodel::scenario::Step::Event(e) = step {
            **e = engage_sim::player::renumbered(e, 1);
        }
    }
    let played = play(&sim, &s2, now_ms()).unwrap();
    assert_eq!(played.undelivered, 0, "{played:?}");
    wait_for("EXCP ingests the second call while GC is down", || {
        let st = excp.status.lock().unwrap();
        st.engine.engage_events >= 2 * tlib_events && st.pending_events > 0
    })
    .await;
    wait_for("/health reports GC down", || {
        excp.health
            .report()
            .dependencies
            .get("gc")
            .is_some_and(|d| !d.up)
    })
    .await;
    assert_eq!(
        excp.status.lock().unwrap().dead_letters,
        0,
        "503 parks nothing"
    );
    w.gc.clear_faults();
    let view = ended_conversation(&w, &s2, events, &excp).await;
    check_conversation(&view, &t, events);
    wait_for("every event of both calls delivered once", || {
        let st = excp.status.lock().unwrap();
        st.delivered == 2 * events as u64 && st.pending_events == 0
    })
    .await;
    excp.shutdown().await;
}

/// The dead-letter list through REST: what is parked is listed in `/status` and
/// `GET /api/v1/dead-letter`, and `POST /api/v1/dead-letter/replay` delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_events_are_listed_and_replayed() {
    use engage_excp::injector::DeadLetter;
    let (w, _t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let source: String = w
        .json()
        .get(engage_store::PRESENCE_SOURCE_KEY)
        .await
        .unwrap()
        .unwrap();
    // Say an operator has since fixed what GC refused: the parked event is valid now.
    let conversation = "00000000-0000-4000-9000-00000000d1e7";
    let ev = gcex::events::ConversationEvent::from_json(
        "externalEstablishedEvents",
        serde_json::json!({
            "eventId": "00000000-0000-4000-8000-00000000d1e7",
            "eventDateTime": "2026-01-01T00:00:00.000Z",
            "conversationId": conversation,
            "communicationId": "00000000-0000-4000-a000-00000000d1e7",
            "initialConfiguration": {"alerting": false, "inbound": true},
            "sourceConfiguration": {"sourceId": source, "interactionId": "call-dead"},
            "ani": "+15550001",
            "dnis": "8000"
        }),
    )
    .unwrap()
    .unwrap();
    let list = engage_excp::delivery::dead_letters(w.store.clone(), &w.ns);
    list.push(&DeadLetter::new(ev, "refused".into(), Some(400)))
        .await
        .unwrap();
    let excp = start_excp(&w, &sim, "excp-dead").await;
    let addr = excp.http_addr;
    wait_for("/status counts the dead letter", || {
        excp.status.lock().unwrap().dead_letters == 1
    })
    .await;
    let (code, body) = http(addr, "GET", "/api/v1/dead-letter", None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["total"], 1);
    assert_eq!(body["first"][0]["status"], 400);
    assert!(excp.metrics.render().contains("excp_dead_letter_events 1"));
    assert!(w.gc.conversation(conversation).is_none());
    let (code, body) = http(addr, "POST", "/api/v1/dead-letter/replay", None).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["requeued"], 1);
    wait_for("the replayed event reaches GC", || {
        w.gc.conversation(conversation).is_some()
    })
    .await;
    wait_for("the list is empty", || {
        excp.status.lock().unwrap().dead_letters == 0
    })
    .await;
    excp.shutdown().await;
}

/// Issue 12 §5: an unreadable checkpoint is kept aside for the operator, never overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_checkpoint_is_kept_aside() {
    let (w, _t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let key =
        w.ns.key(&engage_store::schema::keys::excp_checkpoint("excp-garbled"));
    w.store.put(&key, b"{garbled").await.unwrap();
    let excp = start_excp(&w, &sim, "excp-garbled").await;
    let aside = format!("{key}:unreadable");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(b) = w.store.get(&aside).await.unwrap() {
            assert_eq!(b, b"{garbled");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never kept aside");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    excp.shutdown().await;
    let fresh = w.store.get(&key).await.unwrap().unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&fresh).is_ok(),
        "a new, readable checkpoint replaced it at stop"
    );
}

/// Issue 12 §7: two instances configured with the same id would share a checkpoint and every
/// claim: the second one refuses to start (its engine ends with a clear reason), the first one
/// goes on; after a clean stop the id is free at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_with_the_same_id_refuses_to_start() {
    let (w, _t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let first = start_excp(&w, &sim, "excp-twin").await;
    wait_for("the first instance registers", || sim.call_monitors() >= 1).await;
    let mut second = start_excp(&w, &sim, "excp-twin").await;
    let why = tokio::time::timeout(Duration::from_secs(30), second.engine_died())
        .await
        .expect("the second instance gives up");
    assert!(why.contains("another EXCP instance"), "{why}");
    let health = second.health.report();
    let engine = &health.dependencies["worker.engine"];
    assert!(!engine.up);
    assert!(
        engine.detail.contains("EXCP_INSTANCE_ID"),
        "{}",
        engine.detail
    );
    assert!(first.health.report().dependencies["worker.engine"].up);
    second.shutdown().await;
    first.shutdown().await;
    // A clean stop gives the id up: a new run takes it without waiting.
    let mut third = start_excp(&w, &sim, "excp-twin").await;
    assert!(
        tokio::time::timeout(Duration::from_secs(3), third.engine_died())
            .await
            .is_err(),
        "the id is free after a clean stop"
    );
    assert!(third.health.report().dependencies["worker.engine"].up);
    third.shutdown().await;
}

/// Issue 12 §9: a look-up refresh that reads no DN records (a flushed store, the wrong
/// namespace) is a fault, not an order to unregister every DN: the registrations stay, `/health`
/// says why, and when the records are back everything is as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_dn_read_unregisters_nothing() {
    let (w, _t) = synced_world().await;
    let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let json = w.json();
    let records: Vec<(String, DnRecord)> = json
        .scan::<DnRecord>(engage_store::schema::keys::DN_PREFIX)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, d)| d.switch == "SIP_Switch_1")
        .collect();
    let dn = records
        .first()
        .expect("a DN on SIP_Switch_1")
        .1
        .number
        .clone();
    let excp = start_excp(&w, &sim, "excp-dn-guard").await;
    wait_for("the DN is registered", || sim.registrations(&dn) >= 1).await;
    let vqs = json
        .scan::<serde_json::Value>(engage_store::schema::keys::VQ_PREFIX)
        .await
        .unwrap();
    for (k, _) in &records {
        json.delete(&format!("{}{k}", engage_store::schema::keys::DN_PREFIX))
            .await
            .unwrap();
    }
    for (k, _) in &vqs {
        json.delete(&format!("{}{k}", engage_store::schema::keys::VQ_PREFIX))
            .await
            .unwrap();
    }
    wait_for("the guard holds the empty read", || {
        excp.health
            .report()
            .dependencies
            .get("dnRegistrations")
            .is_some_and(|d| !d.up && d.detail.contains("empty"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sim.registrations(&dn) >= 1, "nothing was unregistered");
    assert_eq!(
        excp.metrics.value("excp_dn_registrations_held", &[]),
        Some(1.0)
    );
    for (k, d) in &records {
        json.put(&format!("{}{k}", engage_store::schema::keys::DN_PREFIX), d)
            .await
            .unwrap();
    }
    for (k, v) in &vqs {
        json.put(&format!("{}{k}", engage_store::schema::keys::VQ_PREFIX), v)
            .await
            .unwrap();
    }
    wait_for("the records are back", || {
        excp.health.report().dependencies["dnRegistrations"].up
    })
    .await;
    assert!(sim.registrations(&dn) >= 1);
    excp.shutdown().await;
}
