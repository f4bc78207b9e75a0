//! Codec benchmark: decoding (and encoding) an EventInfo carrying an AgentStatus with two DNs,
//! a not-ready reason and call attached data: the message EXAS receives for every state change.
// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engage_statserver::*;

fn event_info() -> Message {
    let d1 = DnStatus::from_actions(
        "1001",
        "SIP_Switch",
        1_700_000_000,
        vec![
            ActionRecord::new(DnAction::LoggedIn, 1_700_000_000),
            ActionRecord::new(DnAction::NotReadyForNextCall, 1_700_000_100).with_attached_data(
                KvList::new().with(
                    "Reasons",
                    KvValue::List(KvList::new().with_str("ReasonCode", "Break")),
                ),
            ),
            ActionRecord::new(DnAction::CallInbound, 1_700_000_200)
                .with_conn_id(0x0077_028a_809f_7004)
                .with_attached_data(
                    KvList::new()
                        .with_str("CustomerSegment", "Gold")
                        .with_str("CallUUID", "QK59HK4FS927D7FUU41G6IE468000004")
                        .with("Priority", KvValue::Int(5)),
                ),
        ],
    );
    let d2 = DnStatus::from_actions(
        "1002",
        "SIP_Switch",
        1_700_000_000,
        vec![ActionRecord::new(DnAction::OnHook, 1_700_000_000)],
    );
    let status = AgentStatus::new(
        "agent0042",
        PlaceStatus::from_dns("Place_42", 0, vec![d1, d2]),
    );
    Event::Info {
        reference_id: 42,
        user_request_id: 0,
        server_time: 1_700_000_201,
        value: StatValue::AgentStatus(status),
    }
    .into()
}

fn bench(c: &mut Criterion) {
    let msg = event_info();
    let mut frame = BytesMut::new();
    wire::encode(&msg, &mut frame).expect("encodes");
    let mut g = c.benchmark_group("event_info_agent_status");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| wire::decode_frame(black_box(&frame)).expect("decodes"))
    });
    g.bench_function("decode+summarize", |b| {
        b.iter(|| match wire::decode_frame(black_box(&frame)) {
            Ok(Message::Event(Event::Info {
                value: StatValue::AgentStatus(a),
                ..
            })) => AgentState::summarize(&a),
            other => panic!("unexpected {other:?}"),
        })
    });
    let mut out = BytesMut::with_capacity(frame.len() * 2);
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            wire::encode(black_box(&msg), &mut out).expect("encodes");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
