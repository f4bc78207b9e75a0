//! Replays the `statserver_frame` fuzz corpus on stable, so CI exercises every seed and every
//! crash input ever saved. Fails if the corpus is empty.
//!
//! `cargo test -p engage-statserver --test fuzz_corpus -- --ignored write_seed_corpus`
//! regenerates the seeds from the message catalogue below.

use std::path::PathBuf;

use bytes::BytesMut;
use engage_statserver::*;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/statserver_frame")
}

#[test]
fn replay_corpus() {
    let entries = std::fs::read_dir(corpus_dir()).expect("fuzz/corpus/statserver_frame exists");
    let mut n = 0;
    let mut decoded = 0;
    for e in entries {
        let path = e.expect("readable corpus entry").path();
        let data = std::fs::read(&path).expect("readable corpus file");
        engage_statserver::fuzzing::frame(&data);
        if wire::decode_frame(&data).is_ok() {
            decoded += 1;
        }
        n += 1;
    }
    assert!(n > 0, "the statserver_frame corpus is empty");
    assert!(decoded > 0, "no corpus entry is a valid frame");
}

fn seeds() -> Vec<(&'static str, Message)> {
    let status = AgentStatus::single_dn(
        "agent1",
        "place1",
        "1001",
        "SIP_Switch",
        1_700_000_000,
        vec![
            ActionRecord::new(DnAction::LoggedIn, 1_700_000_000),
            ActionRecord::new(DnAction::NotReadyForNextCall, 1_700_000_010).with_attached_data(
                KvList::new().with(
                    "Reasons",
                    KvValue::List(KvList::new().with_str("ReasonCode", "Break")),
                ),
            ),
            ActionRecord::new(DnAction::CallInbound, 1_700_000_020)
                .with_conn_id(0x0077_028a_809f_7004)
                .with_attached_data(
                    KvList::new()
                        .with_str("Customer", "A")
                        .with("Priority", KvValue::Int(5))
                        .with("Big", KvValue::Long(1 << 40))
                        .with("Blob", KvValue::Binary(vec![0, 1, 2])),
                ),
        ],
    );
    vec![
        ("addp_poll", Message::AddpPoll),
        ("addp_reply", Message::AddpReply),
        (
            "open_ex",
            StatSpec::agent_current_state("agent1", "Resources", StatSubject::DnAction)
                .open_request(1)
                .into(),
        ),
        (
            "open_predefined",
            StatSpec::predefined(
                StatObject::agent("agent1", "Resources").with_tenant_password("pw"),
                "CurrentAgentState",
                Notification::Periodical { frequency_secs: 10 },
            )
            .open_request(2)
            .into(),
        ),
        (
            "peek",
            Request::Peek {
                reference_id: 1,
                user_request_id: 9,
            }
            .into(),
        ),
        ("close", Request::Close { reference_id: 1 }.into()),
        ("opened", Event::StatisticOpened { reference_id: 1 }.into()),
        ("closed", Event::StatisticClosed { reference_id: 1 }.into()),
        (
            "invalid",
            Event::StatisticInvalid { reference_id: 1 }.into(),
        ),
        ("valid", Event::StatisticValid { reference_id: 1 }.into()),
        (
            "info_agent",
            Event::Info {
                reference_id: 1,
                user_request_id: 0,
                server_time: 1_700_000_030,
                value: StatValue::AgentStatus(status.clone()),
            }
            .into(),
        ),
        (
            "info_place",
            Event::Info {
                reference_id: 1,
                user_request_id: 3,
                server_time: 1,
                value: StatValue::PlaceStatus(status.place.clone()),
            }
            .into(),
        ),
        (
            "info_long",
            Event::Info {
                reference_id: 4,
                user_request_id: 0,
                server_time: 1,
                value: StatValue::Long(-3),
            }
            .into(),
        ),
        (
            "error",
            Event::Error {
                reference_id: Some(1),
                code: ErrorCode::UnknownObject,
                message: "no such agent".into(),
            }
            .into(),
        ),
        (
            "server_mode",
            Event::ServerMode {
                mode: ServerMode::Backup,
            }
            .into(),
        ),
    ]
}

#[test]
fn seed_catalogue_round_trips() {
    for (name, msg) in seeds() {
        let mut buf = BytesMut::new();
        wire::encode(&msg, &mut buf).unwrap();
        assert_eq!(wire::decode_frame(&buf).unwrap(), msg, "{name}");
    }
}

#[test]
#[ignore = "writes the seed corpus; run by hand after a format change"]
fn write_seed_corpus() {
    std::fs::create_dir_all(corpus_dir()).unwrap();
    for (name, msg) in seeds() {
        let mut buf = BytesMut::new();
        wire::encode(&msg, &mut buf).unwrap();
        std::fs::write(corpus_dir().join(format!("seed_{name}")), &buf).unwrap();
    }
    // Two frames back to back, and a truncated frame.
    let mut two = BytesMut::new();
    wire::encode(&Message::AddpPoll, &mut two).unwrap();
    wire::encode(&Message::AddpReply, &mut two).unwrap();
    std::fs::write(corpus_dir().join("seed_two_frames"), &two).unwrap();
    std::fs::write(corpus_dir().join("seed_truncated"), &two[..7]).unwrap();
}
