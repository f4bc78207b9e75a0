//! Replays a realistic mix of the catalogue's flows (every supported and unsupported scenario
//! file, many calls interleaved in time) through one model. Reports input events per second
//! and bytes of state per live call (estimate and serialized JSON size) at the busiest point.
//! Prints input events per CPU second of the bench thread too (stable on a shared machine).
//!
//! For instruction counts (stable under load), profile the same mix with
//! `examples/replay_profile.rs`:
//! `valgrind --tool=callgrind --toggle-collect='*replay_rounds*' target/release/examples/replay_profile rounds 2`
//! (Ir / (2 x input events) = instructions per event; valgrind hides the CPU's SHA extensions,
//! so the v5 ids run the soft SHA-1 there). `replay_profile dump FILE` writes every output and
//! periodic serialized states, to check that a change keeps every byte.

#![allow(missing_docs)] // criterion's macros generate undocumented functions

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engage_callmodel::CallModel;

#[path = "support/mix.rs"]
mod mix;
use mix::{CALLS, HashLookups, load};

fn replay(c: &mut Criterion) {
    let (lookups, config, events) = load();
    let lookups = HashLookups::new(lookups);
    // State per live call at the busiest point.
    let mut model = CallModel::new(config.clone());
    let (mut peak, mut peak_at) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        model.handle_input(e, &lookups);
        while model.poll_output().is_some() {}
        if model.live_conversations() > peak {
            peak = model.live_conversations();
            peak_at = i;
        }
    }
    let mut model = CallModel::new(config.clone());
    for e in &events[..=peak_at] {
        model.handle_input(e, &lookups);
        while model.poll_output().is_some() {}
    }
    let live = model.live_conversations().max(1);
    let json = serde_json::to_vec(&model).expect("serializes").len();
    println!(
        "replay mix: {} input events, {} calls; at peak {} live conversations: \
         ~{} B/call (in-memory estimate), {} B/call (serialized JSON, incl. indexes)",
        events.len(),
        CALLS,
        live,
        model.approx_state_bytes() / live,
        json / live
    );
    // Throughput per CPU second of this thread (the machine may be shared; wall time is what
    // criterion reports below).
    let cpu_ns = || {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    };
    if let Some(start) = cpu_ns() {
        let rounds: usize = std::env::var("CALLMODEL_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(20);
        for _ in 0..rounds {
            let mut model = CallModel::new(config.clone());
            for e in &events {
                model.handle_input(e, &lookups);
                while let Some(o) = model.poll_output() {
                    black_box(&o);
                }
            }
        }
        if let Some(end) = cpu_ns() {
            let secs = (end - start) as f64 / 1e9;
            println!(
                "replay mix: {:.0} input events per CPU second (one thread)",
                (rounds * events.len()) as f64 / secs
            );
        }
    }
    let mut group = c.benchmark_group("callmodel");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("replay_mix", |b| {
        b.iter(|| {
            let mut model = CallModel::new(config.clone());
            let mut n = 0usize;
            for e in &events {
                model.handle_input(e, &lookups);
                while let Some(o) = model.poll_output() {
                    black_box(&o);
                    n += 1;
                }
            }
            black_box(n)
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = replay
}
criterion_main!(benches);
