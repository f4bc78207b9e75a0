//! The tokio client against the SIP Server simulator over real loopback TCP. Time limits are
//! failure guards only.

use std::net::SocketAddr;
use std::time::Duration;

use engage_tlib::client::{ClientConfig, ClientEvent, Endpoint, ServerRole, TlibClient};
use engage_tlib::sim::SimServer;
use engage_tlib::{ConnId, Message, MessageType};
use tokio::sync::mpsc::Receiver;

const GUARD: Duration = Duration::from_secs(20);

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().expect("literal address")
}

fn endpoint(s: &SimServer) -> Endpoint {
    Endpoint::new("127.0.0.1", s.local_addr().port())
}

/// The next event matching `pred`, collecting the ones skipped.
async fn wait_for(
    events: &mut Receiver<ClientEvent>,
    what: &str,
    pred: impl Fn(&ClientEvent) -> bool,
) -> (ClientEvent, Vec<ClientEvent>) {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(GUARD, async {
        while let Some(ev) = events.recv().await {
            if pred(&ev) {
                return Some(ev);
            }
            skipped.push(ev);
        }
        None
    })
    .await;
    match found {
        Ok(Some(ev)) => (ev, skipped),
        Ok(None) => panic!("event stream ended while waiting for {what}; saw {skipped:?}"),
        Err(_) => panic!("no {what} within {GUARD:?}; saw {skipped:?}"),
    }
}

fn ringing(dn: &str, n: u64) -> Message {
    Message::builder(MessageType::EventRinging)
        .this_dn(dn)
        .conn_id(
            format!("{n:016x}")
                .parse::<ConnId>()
                .expect("16 hex digits"),
        )
        .build()
}

fn seq(m: &Message) -> Option<String> {
    m.conn_id().map(|c| c.to_string())
}

fn config(primary: Endpoint, backup: Option<Endpoint>) -> ClientConfig {
    let mut c = ClientConfig::new(primary, backup, "EXCP_test");
    c.dns_to_register = vec!["5001".into(), "5002".into(), "5003".into()];
    c.call_monitoring = true;
    c.backoff_initial = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c
}

fn is_registered(which: ServerRole) -> impl Fn(&ClientEvent) -> bool {
    move |e| matches!(e, ClientEvent::Registered { which: w } if *w == which)
}

#[tokio::test]
async fn registers_every_dn_and_call_monitoring_and_receives_events_in_order() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    let (client, mut events) = TlibClient::start(config(endpoint(&sim), None)).expect("config");

    let (first, _) = wait_for(&mut events, "LinkUp", |e| {
        matches!(e, ClientEvent::LinkUp { .. })
    })
    .await;
    assert!(matches!(
        first,
        ClientEvent::LinkUp {
            which: ServerRole::Primary,
            ..
        }
    ));
    let (_, skipped) = wait_for(
        &mut events,
        "Registered on primary",
        is_registered(ServerRole::Primary),
    )
    .await;
    assert!(skipped.is_empty(), "no rejection expected: {skipped:?}");
    assert_eq!(client.link(), Some(ServerRole::Primary));
    assert_eq!(sim.registered_clients(), 1);
    for dn in ["5001", "5002", "5003"] {
        assert_eq!(sim.registrations(dn), 1, "DN {dn} registered once");
    }
    assert_eq!(sim.registrations("9999"), 0);
    assert_eq!(sim.call_monitors(), 1);

    // Events for two DNs, interleaved, plus call events: all arrive, in push order.
    let mut expected = Vec::new();
    for n in 1..=60u64 {
        let msg = match n % 3 {
            0 => {
                let m = Message::builder(MessageType::EventCallCreated)
                    .conn_id(format!("{n:016x}").parse::<ConnId>().expect("hex"))
                    .build();
                assert_eq!(sim.send_to_call_monitors(m.clone()), 1);
                m
            }
            1 => {
                let m = ringing("5001", n);
                assert_eq!(sim.send_to_dn("5001", m.clone()), 1);
                m
            }
            _ => {
                let m = ringing("5003", n);
                assert_eq!(sim.send_to_dn("5003", m.clone()), 1);
                m
            }
        };
        expected.push(msg);
    }
    // Not registered: nobody gets it.
    assert_eq!(sim.send_to_dn("9999", ringing("9999", 999)), 0);
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let (ev, skipped) = wait_for(&mut events, "an event message", |e| {
            matches!(e, ClientEvent::Message(_))
        })
        .await;
        assert!(skipped.is_empty(), "unexpected events: {skipped:?}");
        if let ClientEvent::Message(m) = ev {
            got.push(m);
        }
    }
    assert_eq!(got, expected);
    assert_eq!(
        got.iter().map(seq).collect::<Vec<_>>(),
        expected.iter().map(seq).collect::<Vec<_>>()
    );

    client.shutdown();
    let end = tokio::time::timeout(GUARD, async { while events.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "the event stream ends after shutdown");
}

#[tokio::test]
async fn primary_killed_switches_to_backup_and_reregisters_everything() {
    let mut primary = SimServer::start(any_port()).await.expect("primary starts");
    let backup = SimServer::start(any_port()).await.expect("backup starts");
    let (client, mut events) =
        TlibClient::start(config(endpoint(&primary), Some(endpoint(&backup)))).expect("config");
    wait_for(
        &mut events,
        "Registered on primary",
        is_registered(ServerRole::Primary),
    )
    .await;
    assert_eq!(sim_dns(&primary), 3);
    assert_eq!(
        backup.connections(),
        0,
        "the backup is not used while primary is up"
    );
    assert_eq!(primary.send_to_dn("5002", ringing("5002", 1)), 1);
    let (ev, _) = wait_for(&mut events, "event from primary", |e| {
        matches!(e, ClientEvent::Message(_))
    })
    .await;
    assert_eq!(ev, ClientEvent::Message(ringing("5002", 1)));

    primary.stop().await;

    let (down, _) = wait_for(&mut events, "LinkDown", |e| {
        matches!(e, ClientEvent::LinkDown { .. })
    })
    .await;
    assert!(matches!(
        down,
        ClientEvent::LinkDown {
            which: ServerRole::Primary,
            ..
        }
    ));
    // Switched at once: the very next events are the switchover and the backup link.
    let next = events.recv().await;
    assert_eq!(
        next,
        Some(ClientEvent::Switchover {
            from: ServerRole::Primary,
            to: ServerRole::Backup
        })
    );
    let next = events.recv().await;
    assert!(
        matches!(
            next,
            Some(ClientEvent::LinkUp {
                which: ServerRole::Backup,
                ..
            })
        ),
        "{next:?}"
    );
    wait_for(
        &mut events,
        "Registered on backup",
        is_registered(ServerRole::Backup),
    )
    .await;
    assert_eq!(client.link(), Some(ServerRole::Backup));
    assert_eq!(
        sim_dns(&backup),
        3,
        "every DN registered again on the backup"
    );
    assert_eq!(backup.call_monitors(), 1, "call monitoring started again");

    for n in 10..20u64 {
        assert_eq!(backup.send_to_dn("5001", ringing("5001", n)), 1);
    }
    for n in 10..20u64 {
        let (ev, skipped) = wait_for(&mut events, "event from backup", |e| {
            matches!(e, ClientEvent::Message(_))
        })
        .await;
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(ev, ClientEvent::Message(ringing("5001", n)));
    }

    // The backup dies too while the primary is back: the client returns to the primary.
    primary
        .restart()
        .await
        .expect("primary restarts on its port");
    let mut backup = backup;
    backup.stop().await;
    wait_for(
        &mut events,
        "Registered on primary again",
        is_registered(ServerRole::Primary),
    )
    .await;
    assert_eq!(sim_dns(&primary), 3);
    assert_eq!(primary.send_to_call_monitors(ringing("5003", 42)), 1);
    let (ev, _) = wait_for(&mut events, "call event", |e| {
        matches!(e, ClientEvent::Message(_))
    })
    .await;
    assert_eq!(ev, ClientEvent::Message(ringing("5003", 42)));
}

fn sim_dns(s: &SimServer) -> usize {
    ["5001", "5002", "5003"]
        .iter()
        .map(|d| s.registrations(d))
        .sum()
}

#[tokio::test]
async fn reconnects_with_backoff_when_the_server_appears_later() {
    // Reserve a free port, then free it so nothing listens there yet.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let (_client, mut events) =
        TlibClient::start(config(Endpoint::new("127.0.0.1", addr.port()), None)).expect("config");
    let mut retries = Vec::new();
    while retries.len() < 3 {
        let (ev, _) = wait_for(&mut events, "ConnectFailed", |e| {
            matches!(e, ClientEvent::ConnectFailed { .. })
        })
        .await;
        if let ClientEvent::ConnectFailed {
            which, retry_in, ..
        } = ev
        {
            assert_eq!(which, ServerRole::Primary);
            retries.push(retry_in.expect("with no backup every failure backs off"));
        }
    }
    // Backoff grows (20 ms, 40 ms, 80 ms, each ±25 %).
    assert!(retries[0] <= Duration::from_millis(25), "{retries:?}");
    assert!(retries[2] >= Duration::from_millis(60), "{retries:?}");

    let sim = SimServer::start(addr)
        .await
        .expect("sim starts on the reserved port");
    wait_for(
        &mut events,
        "Registered once the server is up",
        is_registered(ServerRole::Primary),
    )
    .await;
    assert_eq!(sim_dns(&sim), 3);
    assert_eq!(sim.call_monitors(), 1);
}

#[tokio::test]
async fn both_servers_down_backs_off_between_rounds() {
    let addrs: Vec<SocketAddr> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind")
        })
        .collect();
    let (_client, mut events) = TlibClient::start(config(
        Endpoint::new("127.0.0.1", addrs[0].port()),
        Some(Endpoint::new("127.0.0.1", addrs[1].port())),
    ))
    .expect("config");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let (ev, _) = wait_for(&mut events, "ConnectFailed", |e| {
            matches!(e, ClientEvent::ConnectFailed { .. })
        })
        .await;
        if let ClientEvent::ConnectFailed {
            which, retry_in, ..
        } = ev
        {
            seen.push((which, retry_in.is_some()));
        }
    }
    // The other server is tried at once; a backoff follows each failed round of both.
    assert_eq!(
        seen,
        vec![
            (ServerRole::Primary, false),
            (ServerRole::Backup, true),
            (ServerRole::Primary, false),
            (ServerRole::Backup, true),
        ]
    );
    let backup = SimServer::start(addrs[1]).await.expect("backup starts");
    wait_for(
        &mut events,
        "Registered on backup",
        is_registered(ServerRole::Backup),
    )
    .await;
    assert_eq!(sim_dns(&backup), 3);
}

#[tokio::test]
async fn a_refused_password_drops_the_link_with_a_reason_that_hides_the_password() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    sim.set_password(Some("right"));
    let mut cfg = config(endpoint(&sim), None);
    cfg.app_password = "wrong-secret".into();
    cfg.backoff_initial = Duration::from_millis(200);
    cfg.backoff_max = Duration::from_secs(10);
    let (_client, mut events) = TlibClient::start(cfg).expect("config");
    let (down, _) = wait_for(&mut events, "LinkDown", |e| {
        matches!(e, ClientEvent::LinkDown { .. })
    })
    .await;
    let ClientEvent::LinkDown { reason, .. } = down else {
        unreachable!("matched above")
    };
    assert!(reason.contains("password"), "{reason}");
    assert!(!reason.contains("wrong-secret"), "{reason}");
    assert_eq!(
        sim_dns(&sim),
        0,
        "no DN registered without a client registration"
    );
}

#[tokio::test]
async fn addp_keeps_an_idle_link_and_detects_a_hung_server() {
    let primary = SimServer::start(any_port()).await.expect("primary starts");
    let backup = SimServer::start(any_port()).await.expect("backup starts");
    let mut cfg = config(endpoint(&primary), Some(endpoint(&backup)));
    // The smallest ADDP timeout allowed (1 s): the test takes a few seconds of real time.
    cfg.addp_timeout = Some(Duration::from_secs(1));
    let (client, mut events) = TlibClient::start(cfg).expect("config");
    wait_for(
        &mut events,
        "Registered on primary",
        is_registered(ServerRole::Primary),
    )
    .await;
    // An idle but healthy link is polled and stays up.
    tokio::time::timeout(GUARD, async {
        while primary.addp_polls() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("ADDP polls an idle link");
    assert_eq!(client.link(), Some(ServerRole::Primary));
    assert!(
        events.try_recv().is_err(),
        "poll answers are not forwarded and the link did not drop"
    );

    // A hung server (socket open, no answers) is detected by ADDP: switch to the backup.
    primary.set_frozen(true);
    let (down, _) = wait_for(&mut events, "LinkDown", |e| {
        matches!(e, ClientEvent::LinkDown { .. })
    })
    .await;
    let ClientEvent::LinkDown { which, reason } = down else {
        unreachable!("matched above")
    };
    assert_eq!(which, ServerRole::Primary);
    assert!(reason.contains("ADDP"), "{reason}");
    wait_for(
        &mut events,
        "Registered on backup",
        is_registered(ServerRole::Backup),
    )
    .await;
    assert_eq!(sim_dns(&backup), 3);
    assert_eq!(backup.call_monitors(), 1);
}

#[tokio::test]
async fn a_rejected_dn_is_reported_and_the_others_still_work() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    sim.reject_dn("5002");
    let (_client, mut events) = TlibClient::start(config(endpoint(&sim), None)).expect("config");
    let (_, skipped) = wait_for(
        &mut events,
        "Registered",
        is_registered(ServerRole::Primary),
    )
    .await;
    assert!(
        skipped.contains(&ClientEvent::DnRejected {
            dn: "5002".into(),
            error_code: Some(71)
        }),
        "{skipped:?}"
    );
    assert_eq!(sim.registrations("5002"), 0);
    assert_eq!(sim.registrations("5001"), 1);
    assert_eq!(sim.send_to_dn("5001", ringing("5001", 7)), 1);
    let (ev, _) = wait_for(&mut events, "event", |e| {
        matches!(e, ClientEvent::Message(_))
    })
    .await;
    assert_eq!(ev, ClientEvent::Message(ringing("5001", 7)));
}

#[tokio::test]
async fn a_slow_reader_with_a_tiny_channel_gets_every_event_in_order() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    let mut cfg = config(endpoint(&sim), None);
    cfg.event_capacity = 2;
    let (_client, mut events) = TlibClient::start(cfg).expect("config");
    wait_for(
        &mut events,
        "Registered",
        is_registered(ServerRole::Primary),
    )
    .await;
    const N: u64 = 500;
    for n in 0..N {
        assert_eq!(sim.send_to_dn("5001", ringing("5001", n)), 1);
    }
    for n in 0..N {
        if n % 100 == 0 {
            // Let the driver block on the full channel.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (ev, skipped) = wait_for(&mut events, "event", |e| {
            matches!(e, ClientEvent::Message(_))
        })
        .await;
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(ev, ClientEvent::Message(ringing("5001", n)));
    }
}

#[tokio::test]
async fn an_unanswered_registration_drops_the_stuck_server_and_uses_the_other() {
    let primary = SimServer::start(any_port()).await.expect("primary starts");
    primary.set_frozen(true);
    let backup = SimServer::start(any_port()).await.expect("backup starts");
    let mut cfg = config(endpoint(&primary), Some(endpoint(&backup)));
    cfg.addp_timeout = None;
    cfg.request_timeout = Duration::from_millis(200);
    let (client, mut events) = TlibClient::start(cfg).expect("config");
    let (ev, _) = wait_for(&mut events, "RequestTimedOut", |e| {
        matches!(e, ClientEvent::RequestTimedOut { .. })
    })
    .await;
    assert_eq!(
        ev,
        ClientEvent::RequestTimedOut {
            request: MessageType::RequestRegisterClient
        }
    );
    let next = events.recv().await;
    assert!(
        matches!(
            &next,
            Some(ClientEvent::LinkDown { which: ServerRole::Primary, reason })
                if reason.contains("RequestRegisterClient")
        ),
        "{next:?}"
    );
    wait_for(
        &mut events,
        "Registered on backup",
        is_registered(ServerRole::Backup),
    )
    .await;
    assert_eq!(sim_dns(&backup), 3);
    assert_eq!(client.stats().switchovers, 1);
}

#[tokio::test]
async fn shutdown_stops_a_client_blocked_on_a_full_channel() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    let mut cfg = config(endpoint(&sim), None);
    cfg.event_capacity = 1;
    let (client, mut events) = TlibClient::start(cfg).expect("config");
    wait_for(
        &mut events,
        "Registered",
        is_registered(ServerRole::Primary),
    )
    .await;
    // Many, so the random pick of a ready `select!` branch cannot deliver them all.
    for n in 0..200 {
        sim.send_to_dn("5001", ringing("5001", n));
    }
    // Wait until the driver has filled the channel and is blocked on it.
    tokio::time::timeout(GUARD, async {
        while client.stats().messages < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("events are read from the socket");
    client.shutdown();
    let drained = tokio::time::timeout(GUARD, async {
        let mut n = 0;
        while events.recv().await.is_some() {
            n += 1;
        }
        n
    })
    .await
    .expect("the event stream ends after shutdown");
    assert!(
        drained < 10,
        "the client stopped instead of delivering everything"
    );
    tokio::time::timeout(GUARD, async {
        while sim.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the link is closed after shutdown");
}

/// Issue 12 §8: a frame that does not decode (but whose length is readable) is skipped and
/// counted; the link stays up and the next message arrives. A malformed header still drops
/// the link (the stream cannot be resynchronised), and the client reconnects.
#[tokio::test]
async fn a_malformed_frame_is_skipped_and_the_link_stays_up() {
    let sim = SimServer::start(any_port()).await.expect("sim starts");
    let (client, mut events) = TlibClient::start(config(endpoint(&sim), None)).expect("config");
    wait_for(
        &mut events,
        "Registered on primary",
        is_registered(ServerRole::Primary),
    )
    .await;
    // A 2-byte body: too short for a message type (Latin-1 or any other garbage inside a
    // well-framed packet ends the same way).
    let garbage = bytes::Bytes::from_static(&[0, 0, 0, 2, 0xff, 0xfe]);
    for _ in 0..3 {
        assert_eq!(sim.send_raw_to_call_monitors(garbage.clone()), 1);
    }
    let good = ringing("5001", 7);
    assert_eq!(sim.send_to_dn("5001", good.clone()), 1);
    let (ev, skipped) = wait_for(&mut events, "the message after the garbage", |e| {
        matches!(e, ClientEvent::Message(_))
    })
    .await;
    assert_eq!(ev, ClientEvent::Message(good));
    let frames_skipped = skipped
        .iter()
        .filter(|e| {
            matches!(
                e,
                ClientEvent::FrameSkipped {
                    which: ServerRole::Primary,
                    ..
                }
            )
        })
        .count();
    assert_eq!(frames_skipped, 3, "{skipped:?}");
    assert!(
        !skipped
            .iter()
            .any(|e| matches!(e, ClientEvent::LinkDown { .. })),
        "the link stayed up: {skipped:?}"
    );
    assert_eq!(client.stats().frames_skipped, 3);
    assert_eq!(client.stats().links_lost, 0);

    // A frame whose text is Latin-1 (not UTF-8) is delivered, transcoded, not skipped.
    let mut wire = bytes::BytesMut::new();
    engage_tlib::encode(&ringing("5001", 8), &mut wire).expect("encoded");
    let at = wire
        .windows(4)
        .position(|w| w == b"5001")
        .expect("ThisDN on the wire");
    wire[at + 2] = 0xe9; // "50\xe91": é in Latin-1
    assert_eq!(sim.send_raw_to_call_monitors(wire.freeze()), 1);
    let (ev, between) = wait_for(&mut events, "the Latin-1 message", |e| {
        matches!(e, ClientEvent::Message(_))
    })
    .await;
    let ClientEvent::Message(m) = ev else {
        unreachable!("waited for a message")
    };
    assert_eq!(m.this_dn(), Some("50\u{e9}1"));
    assert_eq!(m.transcoded_strings(), 1);
    assert!(
        !between.iter().any(|e| matches!(
            e,
            ClientEvent::FrameSkipped { .. } | ClientEvent::LinkDown { .. }
        )),
        "{between:?}"
    );
    assert_eq!(client.stats().frames_skipped, 3);
    client.shutdown();
}
