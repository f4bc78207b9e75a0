//! The client against the simulator over real loopback TCP: pipelined opens of thousands of
//! statistics, failover to the backup with every statistic reopened, reconnect with backoff,
//! reopening statistics the server closes, ADDP. Time limits are failure guards only.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use engage_statserver::client::{ClientConfig, ClientEvent, Endpoint, ServerRole, StatClient};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc::Receiver;

const GUARD: Duration = Duration::from_secs(60);

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn config(primary: SocketAddr, backup: Option<SocketAddr>) -> ClientConfig {
    let mut c = ClientConfig::new(
        Endpoint::new(primary.ip().to_string(), primary.port()),
        backup.map(|b| Endpoint::new(b.ip().to_string(), b.port())),
    );
    c.backoff_initial = Duration::from_millis(20);
    c.backoff_max = Duration::from_millis(200);
    c.connect_timeout = Duration::from_secs(5);
    c
}

fn status(agent: &str, actions: Vec<ActionRecord>) -> AgentStatus {
    AgentStatus::single_dn(agent, "p", "1001", "SIP", 1, actions)
}

fn ready(agent: &str) -> AgentStatus {
    status(agent, vec![ActionRecord::new(DnAction::WaitForNextCall, 1)])
}

fn on_inbound_call(agent: &str) -> AgentStatus {
    status(
        agent,
        vec![
            ActionRecord::new(DnAction::WaitForNextCall, 1),
            ActionRecord::new(DnAction::CallInbound, 2),
        ],
    )
}

/// Waits for the first event matching `pred`, returning it (and failing after the guard).
async fn wait_for(
    events: &mut Receiver<ClientEvent>,
    what: &str,
    mut pred: impl FnMut(&ClientEvent) -> bool,
) -> ClientEvent {
    let fut = async {
        loop {
            let ev = events.recv().await.expect("client running");
            if pred(&ev) {
                return ev;
            }
        }
    };
    tokio::time::timeout(GUARD, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Collects values until every reference id in `refs` has sent one.
async fn values_for_all(
    events: &mut Receiver<ClientEvent>,
    refs: &[ReferenceId],
) -> Vec<(String, AgentStatus)> {
    let mut missing: HashSet<ReferenceId> = refs.iter().copied().collect();
    let mut got = Vec::new();
    let fut = async {
        while !missing.is_empty() {
            match events.recv().await.expect("client running") {
                ClientEvent::Value {
                    reference_id,
                    object_id,
                    value: StatValue::AgentStatus(a),
                    ..
                } if missing.remove(&reference_id) => got.push((object_id, a)),
                ClientEvent::OpenFailed {
                    reference_id,
                    message,
                    ..
                } => {
                    panic!("open of {reference_id} failed: {message}")
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(GUARD, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for values"));
    got
}

fn specs(agents: &[String]) -> Vec<StatSpec> {
    agents
        .iter()
        .map(|a| StatSpec::agent_current_state(a.clone(), "Resources", StatSubject::DnAction))
        .collect()
}

#[tokio::test]
async fn opens_thousands_of_statistics_pipelined_and_receives_values() {
    let world = SimWorld::new();
    let agents: Vec<String> = (0..1500).map(|i| format!("agent{i:04}")).collect();
    for a in &agents {
        world.set_agent_state(a, ready(a));
    }
    let server = SimServer::start(world.clone(), local(), ServerMode::Primary)
        .await
        .unwrap();
    let (client, mut events) = StatClient::start(config(server.local_addr(), None));
    let refs = client.open_many(specs(&agents)).unwrap();
    assert_eq!(refs.len(), 1500);
    let got = values_for_all(&mut events, &refs).await;
    assert_eq!(got.len(), 1500);
    for (object_id, status) in &got {
        assert_eq!(&status.agent_id, object_id);
        assert_eq!(AgentState::summarize(status).readiness, Readiness::Ready);
    }
    assert_eq!(server.open_statistics(), 1500);
    assert_eq!(client.link(), Some(ServerRole::Primary));

    // A change reaches the client as a value for that agent.
    world.set_agent_state("agent0042", on_inbound_call("agent0042"));
    let ev = wait_for(
        &mut events,
        "the change",
        |e| matches!(e, ClientEvent::Value { object_id, .. } if object_id == "agent0042"),
    )
    .await;
    let ClientEvent::Value {
        value: StatValue::AgentStatus(a),
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(AgentState::summarize(&a).call, CallKind::Inbound);

    // Closing stops the statistic on the server.
    client.close(refs[..500].iter().copied()).unwrap();
    let fut = async {
        while server.open_statistics() != 1000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(GUARD, fut)
        .await
        .expect("closes reach the server");
    client.shutdown();
}

/// A server that accepts one connection and only reads: if the client waited for each reply
/// before sending the next request, only one open would ever arrive.
#[tokio::test]
async fn opens_do_not_wait_for_replies() {
    let listener = TcpListener::bind(local()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = config(addr, None);
    cfg.addp_timeout = None;
    let (client, _events) = StatClient::start(cfg);
    let agents: Vec<String> = (0..2000).map(|i| format!("a{i}")).collect();
    client.open_many(specs(&agents)).unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut buf = BytesMut::new();
    let mut opens = 0;
    let fut = async {
        while opens < 2000 {
            let n = sock.read_buf(&mut buf).await.unwrap();
            assert!(n > 0, "client closed early");
            while let Some(len) = wire::frame_len(&buf, wire::DEFAULT_MAX_BODY).unwrap() {
                if buf.len() < len {
                    break;
                }
                let frame = buf.split_to(len);
                if matches!(
                    wire::decode_frame(&frame).unwrap(),
                    Message::Request(Request::Open { .. })
                ) {
                    opens += 1;
                }
            }
        }
    };
    tokio::time::timeout(GUARD, fut)
        .await
        .expect("all 2000 opens arrive without any reply");
    assert_eq!(opens, 2000);
    client.shutdown();
}

#[tokio::test]
async fn primary_killed_switches_to_backup_and_reopens_everything() {
    let world = SimWorld::new();
    let agents: Vec<String> = (0..300).map(|i| format!("ag{i}")).collect();
    for a in &agents {
        world.set_agent_state(a, ready(a));
    }
    let mut primary = SimServer::start(world.clone(), local(), ServerMode::Primary)
        .await
        .unwrap();
    let backup = SimServer::start(world.clone(), local(), ServerMode::Backup)
        .await
        .unwrap();
    let (client, mut events) =
        StatClient::start(config(primary.local_addr(), Some(backup.local_addr())));
    wait_for(&mut events, "link up on primary", |e| {
        matches!(
            e,
            ClientEvent::LinkUp {
                role: ServerRole::Primary,
                ..
            }
        )
    })
    .await;
    let refs = client.open_many(specs(&agents)).unwrap();
    values_for_all(&mut events, &refs).await;
    assert_eq!(primary.open_statistics(), 300);
    assert_eq!(backup.open_statistics(), 0);

    primary.stop().await;
    wait_for(&mut events, "link down", |e| {
        matches!(
            e,
            ClientEvent::LinkDown {
                role: ServerRole::Primary,
                ..
            }
        )
    })
    .await;
    wait_for(&mut events, "switchover", |e| {
        *e == ClientEvent::Switchover {
            from: ServerRole::Primary,
            to: ServerRole::Backup,
        }
    })
    .await;
    // Every statistic is reopened on the backup, which sends every current value again.
    let got = values_for_all(&mut events, &refs).await;
    assert_eq!(got.len(), 300);
    assert_eq!(backup.open_statistics(), 300);
    assert_eq!(client.link(), Some(ServerRole::Backup));

    // Subsequent changes arrive through the backup.
    world.set_agent_state("ag7", on_inbound_call("ag7"));
    let ev = wait_for(
        &mut events,
        "change via backup",
        |e| matches!(e, ClientEvent::Value { object_id, .. } if object_id == "ag7"),
    )
    .await;
    let ClientEvent::Value {
        value: StatValue::AgentStatus(a),
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(AgentState::summarize(&a).call, CallKind::Inbound);

    // The primary comes back; the backup dies: the client goes back to the primary.
    primary.restart().await.unwrap();
    let mut backup = backup;
    backup.stop().await;
    wait_for(&mut events, "switch back", |e| {
        *e == ClientEvent::Switchover {
            from: ServerRole::Backup,
            to: ServerRole::Primary,
        }
    })
    .await;
    values_for_all(&mut events, &refs).await;
    assert_eq!(primary.open_statistics(), 300);
    client.shutdown();
}

#[tokio::test]
async fn reconnects_with_backoff_until_a_server_appears() {
    // Reserve a port, then free it: nobody listens there yet.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let world = SimWorld::new();
    world.set_agent_state("late", ready("late"));
    let (client, mut events) = StatClient::start(config(addr, None));
    // Opened before any link: kept in the reopen list.
    let r = client
        .open(StatSpec::agent_current_state(
            "late",
            "Resources",
            StatSubject::DnStatus,
        ))
        .unwrap();
    let mut delays = Vec::new();
    while delays.len() < 3 {
        if let ClientEvent::ConnectFailed {
            retry_in: Some(d),
            role,
            ..
        } = wait_for(&mut events, "connect failure", |e| {
            matches!(e, ClientEvent::ConnectFailed { .. })
        })
        .await
        {
            assert_eq!(role, ServerRole::Primary);
            delays.push(d);
        }
    }
    // 20 ms · 2^(n-1) ± 25 %: the third delay is larger than the first.
    assert!(delays[2] > delays[0], "{delays:?}");
    assert!(client.link().is_none());

    let server = SimServer::start(world, addr, ServerMode::Primary)
        .await
        .unwrap();
    wait_for(&mut events, "link up", |e| {
        matches!(e, ClientEvent::LinkUp { .. })
    })
    .await;
    let got = values_for_all(&mut events, &[r]).await;
    assert_eq!(got[0].0, "late");
    assert_eq!(server.open_statistics(), 1);
    client.shutdown();
}

#[tokio::test]
async fn statistics_closed_by_the_server_are_reopened() {
    let world = SimWorld::new();
    let server = SimServer::start(world.clone(), local(), ServerMode::Primary)
        .await
        .unwrap();
    let (client, mut events) = StatClient::start(config(server.local_addr(), None));
    let agents: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    let refs = client.open_many(specs(&agents)).unwrap();
    values_for_all(&mut events, &refs).await;
    world.close_all_statistics();
    wait_for(&mut events, "closed by server", |e| {
        matches!(e, ClientEvent::ClosedByServer { .. })
    })
    .await;
    values_for_all(&mut events, &refs).await;
    assert_eq!(server.open_statistics(), 50);
    client.shutdown();
}

#[tokio::test]
async fn addp_detects_a_silent_server() {
    // A server that accepts and never says anything: the client polls, gets no answer, drops
    // the link and reconnects.
    let listener = TcpListener::bind(local()).await.unwrap();
    let mut cfg = config(listener.local_addr().unwrap(), None);
    cfg.addp_timeout = Some(Duration::from_millis(100));
    let (client, mut events) = StatClient::start(cfg);
    let (_sock, _) = listener.accept().await.unwrap();
    let ev = wait_for(&mut events, "ADDP link down", |e| {
        matches!(e, ClientEvent::LinkDown { .. })
    })
    .await;
    let ClientEvent::LinkDown { reason, .. } = ev else {
        unreachable!()
    };
    assert!(reason.contains("ADDP"), "{reason}");
    let (_sock2, _) = tokio::time::timeout(GUARD, listener.accept())
        .await
        .expect("reconnect")
        .unwrap();
    client.shutdown();
}

#[tokio::test]
async fn peek_all_snapshots_every_open_statistic() {
    let world = SimWorld::new();
    let server = SimServer::start(world.clone(), local(), ServerMode::Primary)
        .await
        .unwrap();
    let (client, mut events) = StatClient::start(config(server.local_addr(), None));
    let agents: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    let refs = client.open_many(specs(&agents)).unwrap();
    values_for_all(&mut events, &refs).await;
    client.peek_all().unwrap();
    let mut answered = HashSet::new();
    while answered.len() < refs.len() {
        if let ClientEvent::Value {
            reference_id,
            user_request_id,
            ..
        } = wait_for(&mut events, "peek answers", |e| {
            matches!(e, ClientEvent::Value { .. })
        })
        .await
        {
            assert_ne!(user_request_id, 0, "peek answers carry the user request id");
            answered.insert(reference_id);
        }
    }
    client.shutdown();
}

#[tokio::test]
async fn a_server_that_never_answers_opens_is_dropped() {
    // Accepts and reads, never answers: the open times out and the client reconnects.
    let listener = TcpListener::bind(local()).await.unwrap();
    let mut cfg = config(listener.local_addr().unwrap(), None);
    cfg.addp_timeout = None;
    cfg.request_timeout = Some(Duration::from_millis(100));
    let (client, mut events) = StatClient::start(cfg);
    client
        .open(StatSpec::agent_current_state(
            "x",
            "T",
            StatSubject::DnAction,
        ))
        .unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    let reader = tokio::spawn(async move {
        let mut buf = [0u8; 1024];
        while sock.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
    });
    let ev = wait_for(&mut events, "request timeout", |e| {
        matches!(e, ClientEvent::LinkDown { .. })
    })
    .await;
    let ClientEvent::LinkDown { reason, .. } = ev else {
        unreachable!()
    };
    assert!(reason.contains("stuck"), "{reason}");
    let _again = tokio::time::timeout(GUARD, listener.accept())
        .await
        .expect("reconnect")
        .unwrap();
    client.shutdown();
    reader.abort();
}
