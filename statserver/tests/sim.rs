//! The simulator over real loopback TCP, driven by a bare framed connection.

use std::time::Duration;

use engage_statserver::codec::StatCodec;
use engage_statserver::sim::{SimServer, SimWorld, TYPE_CURRENT_STATE_REASON};
use engage_statserver::*;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

/// Failure guard only: no test waits this long when things work.
const GUARD: Duration = Duration::from_secs(20);

type Conn = Framed<TcpStream, StatCodec>;

async fn connect(server: &SimServer) -> Conn {
    let s = TcpStream::connect(server.local_addr()).await.unwrap();
    Framed::new(s, StatCodec::default())
}

async fn next(c: &mut Conn) -> Message {
    tokio::time::timeout(GUARD, c.next())
        .await
        .expect("a message within the guard time")
        .expect("link open")
        .expect("no io error")
        .expect("well-formed frame")
}

fn ready(agent: &str) -> AgentStatus {
    AgentStatus::single_dn(
        agent,
        "p",
        "1001",
        "SIP",
        100,
        vec![ActionRecord::new(DnAction::WaitForNextCall, 100)],
    )
}

fn not_ready(agent: &str, reason: &str) -> AgentStatus {
    AgentStatus::single_dn(
        agent,
        "p",
        "1001",
        "SIP",
        200,
        vec![
            ActionRecord::new(DnAction::LoggedIn, 100),
            ActionRecord::new(DnAction::NotReadyForNextCall, 200).with_reason(reason),
        ],
    )
}

fn value_of(m: Message) -> (ReferenceId, u32, AgentStatus) {
    match m {
        Message::Event(Event::Info {
            reference_id,
            user_request_id,
            value: StatValue::AgentStatus(a),
            ..
        }) => (reference_id, user_request_id, a),
        other => panic!("expected EventInfo, got {other:?}"),
    }
}

#[tokio::test]
async fn open_sends_current_value_then_every_change() {
    let world = SimWorld::new();
    world.set_agent_state("a1", ready("a1"));
    let server = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerMode::Primary,
    )
    .await
    .unwrap();
    let mut c = connect(&server).await;
    assert_eq!(
        next(&mut c).await,
        Event::ServerMode {
            mode: ServerMode::Primary
        }
        .into()
    );
    let spec = StatSpec::agent_current_state("a1", "T", StatSubject::DnAction);
    c.send(spec.open_request(10).into()).await.unwrap();
    assert_eq!(
        next(&mut c).await,
        Event::StatisticOpened { reference_id: 10 }.into()
    );
    let (r, u, a) = value_of(next(&mut c).await);
    assert_eq!((r, u), (10, 0));
    assert_eq!(a, ready("a1"));

    world.set_agent_state("a1", not_ready("a1", "Break"));
    let (_, _, a) = value_of(next(&mut c).await);
    let s = AgentState::summarize(&a);
    assert_eq!(
        s.readiness,
        Readiness::NotReady {
            reason: Some("Break".into())
        }
    );

    // Peek answers with the user's request id.
    c.send(
        Request::Peek {
            reference_id: 10,
            user_request_id: 77,
        }
        .into(),
    )
    .await
    .unwrap();
    let (r, u, _) = value_of(next(&mut c).await);
    assert_eq!((r, u), (10, 77));

    // Close, then changes no longer arrive; a peek on it is an error.
    c.send(Request::Close { reference_id: 10 }.into())
        .await
        .unwrap();
    assert_eq!(
        next(&mut c).await,
        Event::StatisticClosed { reference_id: 10 }.into()
    );
    world.set_agent_state("a1", ready("a1"));
    c.send(
        Request::Peek {
            reference_id: 10,
            user_request_id: 1,
        }
        .into(),
    )
    .await
    .unwrap();
    assert!(matches!(
        next(&mut c).await,
        Message::Event(Event::Error {
            reference_id: Some(10),
            code: ErrorCode::UnknownReference,
            ..
        })
    ));
    assert_eq!(server.open_statistics(), 0);
}

#[tokio::test]
async fn dn_status_subject_hides_reasons_and_predefined_types_work() {
    let world = SimWorld::new();
    world.set_agent_state("a2", not_ready("a2", "Meal"));
    let server = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerMode::Backup,
    )
    .await
    .unwrap();
    let mut c = connect(&server).await;
    let _mode = next(&mut c).await;
    c.send(
        StatSpec::agent_current_state("a2", "T", StatSubject::DnStatus)
            .open_request(1)
            .into(),
    )
    .await
    .unwrap();
    c.send(
        StatSpec::predefined(
            StatObject::agent("a2", "T"),
            TYPE_CURRENT_STATE_REASON,
            Notification::Immediate,
        )
        .open_request(2)
        .into(),
    )
    .await
    .unwrap();
    c.send(
        StatSpec::predefined(
            StatObject::agent("a2", "T"),
            "NoSuchType",
            Notification::Immediate,
        )
        .open_request(3)
        .into(),
    )
    .await
    .unwrap();
    assert_eq!(
        next(&mut c).await,
        Event::StatisticOpened { reference_id: 1 }.into()
    );
    let (_, _, status_value) = value_of(next(&mut c).await);
    assert_eq!(
        next(&mut c).await,
        Event::StatisticOpened { reference_id: 2 }.into()
    );
    let (_, _, reason_value) = value_of(next(&mut c).await);
    assert!(matches!(
        next(&mut c).await,
        Message::Event(Event::Error {
            reference_id: Some(3),
            code: ErrorCode::UnknownStatistic,
            ..
        })
    ));
    assert_eq!(
        AgentState::summarize(&status_value).readiness,
        Readiness::NotReady { reason: None }
    );
    assert_eq!(
        AgentState::summarize(&reason_value).readiness,
        Readiness::NotReady {
            reason: Some("Meal".into())
        }
    );
    // Unknown agents are logged out.
    c.send(
        StatSpec::agent_current_state("nobody", "T", StatSubject::DnAction)
            .open_request(4)
            .into(),
    )
    .await
    .unwrap();
    let _opened = next(&mut c).await;
    let (_, _, a) = value_of(next(&mut c).await);
    assert_eq!(AgentState::summarize(&a).login, Login::LoggedOut);
    // ADDP.
    c.send(Message::AddpPoll).await.unwrap();
    assert_eq!(next(&mut c).await, Message::AddpReply);
}

#[tokio::test]
async fn stop_drops_clients_and_restart_reuses_the_port() {
    let world = SimWorld::new();
    let mut server = SimServer::start(world, "127.0.0.1:0".parse().unwrap(), ServerMode::Primary)
        .await
        .unwrap();
    let addr = server.local_addr();
    let mut c = connect(&server).await;
    let _mode = next(&mut c).await;
    server.stop().await;
    assert!(!server.is_running());
    let end = tokio::time::timeout(GUARD, c.next())
        .await
        .expect("the link drops");
    assert!(matches!(end, None | Some(Err(_))), "{end:?}");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nobody listens after stop"
    );
    server.restart().await.unwrap();
    assert_eq!(server.local_addr(), addr);
    let mut c = connect(&server).await;
    assert_eq!(
        next(&mut c).await,
        Event::ServerMode {
            mode: ServerMode::Primary
        }
        .into()
    );
}

#[tokio::test]
async fn server_side_close_and_validity_reach_clients() {
    let world = SimWorld::new();
    let server = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerMode::Primary,
    )
    .await
    .unwrap();
    let mut c = connect(&server).await;
    let _mode = next(&mut c).await;
    c.send(
        StatSpec::agent_current_state("a", "T", StatSubject::DnAction)
            .open_request(5)
            .into(),
    )
    .await
    .unwrap();
    let _opened = next(&mut c).await;
    let _value = next(&mut c).await;
    world.set_statistics_valid(false);
    assert_eq!(
        next(&mut c).await,
        Event::StatisticInvalid { reference_id: 5 }.into()
    );
    world.set_statistics_valid(true);
    assert_eq!(
        next(&mut c).await,
        Event::StatisticValid { reference_id: 5 }.into()
    );
    world.close_all_statistics();
    assert_eq!(
        next(&mut c).await,
        Event::StatisticClosed { reference_id: 5 }.into()
    );
}

#[tokio::test]
async fn periodical_statistics_repeat_without_changes() {
    let world = SimWorld::new();
    world.set_agent_state("p1", ready("p1"));
    let server = SimServer::start(world, "127.0.0.1:0".parse().unwrap(), ServerMode::Primary)
        .await
        .unwrap();
    let mut c = connect(&server).await;
    let _mode = next(&mut c).await;
    let mut spec = StatSpec::agent_current_state("p1", "T", StatSubject::DnAction);
    spec.notification = Notification::Periodical { frequency_secs: 1 };
    c.send(spec.open_request(3).into()).await.unwrap();
    assert_eq!(
        next(&mut c).await,
        Event::StatisticOpened { reference_id: 3 }.into()
    );
    // The value on open, then at least two periodic repeats of the same value.
    for _ in 0..3 {
        let (r, u, a) = value_of(next(&mut c).await);
        assert_eq!((r, u), (3, 0));
        assert_eq!(a, ready("p1"));
    }
}
