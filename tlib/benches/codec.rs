//! Codec benchmark: decode and encode a ~300-byte `EventCallPartyAdded` with UserData and a
//! ~16 KiB user-data event. Prints messages/s (Elements) and bytes/s (Bytes).
//!
//! Run: `cargo bench -p engage-tlib` (add `-- --warm-up-time 1 --measurement-time 2` for a
//! quick run).

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_main};
use engage_tlib::fuzzing::{sample_call_party_added, sample_large_user_data};
use engage_tlib::{Message, WireConfig, decode_bytes, encode};
use std::hint::black_box;

fn frame_of(msg: &Message) -> Bytes {
    let mut buf = BytesMut::new();
    encode(msg, &mut buf).expect("sample messages encode");
    buf.freeze()
}

fn bench_message(c: &mut Criterion, name: &str, msg: &Message) {
    let frame = frame_of(msg);
    let config = WireConfig::default();
    println!("{name}: frame of {} bytes", frame.len());
    for (unit, throughput) in [
        ("msgs", Throughput::Elements(1)),
        ("bytes", Throughput::Bytes(frame.len() as u64)),
    ] {
        let mut group = c.benchmark_group(format!("{name}/{unit}"));
        group.throughput(throughput);
        group.bench_function("decode", |b| {
            b.iter(|| decode_bytes(black_box(frame.clone()), &config).expect("valid frame"))
        });
        let mut out = BytesMut::with_capacity(frame.len() * 2);
        group.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(msg), &mut out).expect("encodes");
            })
        });
        group.finish();
    }
}

fn codec(c: &mut Criterion) {
    bench_message(c, "call_party_added_300B", &sample_call_party_added());
    bench_message(c, "user_data_16KiB", &sample_large_user_data(410));
}

mod group {
    #![allow(missing_docs)]
    criterion::criterion_group!(benches, super::codec);
}
criterion_main!(group::benches);
