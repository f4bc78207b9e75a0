//! EXCP engine throughput: every scenario file, re-numbered into `--rounds` distinct calls
//! each, encoded as TLib frames; the bench decodes each frame, maps it, runs the call model
//! and converts its output to GC events (everything EXCP does between the socket and the GC
//! client), and prints events/s, calls/s and the model's state per live call.
//!
//! ```text
//! cargo bench -p engage-connector --bench excp -- --rounds 2000
//! ```
//! Run by `cargo test` (no `--bench` argument) it does a smoke pass of 2 rounds.

use bytes::BytesMut;
use engage_callmodel::EngageEvent;
use engage_callmodel::scenario::Scenario;
use engage_excp::engine::Engine;
use engage_excp::lookups::ExcpLookups;
use engage_sim::player::{renumbered, shifted};
use engage_sim::tlib_encode::tlib_message;
use engage_tlib::wire::encode_with;
use engage_tlib::{WireConfig, decode_bytes};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bench = args.iter().any(|a| a == "--bench");
    let rounds: u32 = args
        .windows(2)
        .find(|w| w[0] == "--rounds")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(if bench { 1000 } else { 2 });
    let scenarios: Vec<Scenario> = Scenario::load_dir(&Scenario::project_dir())
        .expect("scenario files")
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let mut lookups = ExcpLookups::default();
    for s in &scenarios {
        lookups.maps.queues.extend(s.lookups.queues.clone());
        lookups.maps.agents.extend(s.lookups.agents.clone());
        lookups
            .maps
            .wrap_up_codes
            .extend(s.lookups.wrap_up_codes.clone());
    }
    // Frames of every call, ten minutes of event time apart (calls never overlap on the
    // scenarios' agents, so flows are handled as their files expect).
    let wire = WireConfig::default();
    let mut frames = Vec::new();
    let mut calls = 0u64;
    for r in 0..rounds {
        for (i, s) in scenarios.iter().enumerate() {
            calls += 1;
            let shift = (i64::from(r) * scenarios.len() as i64 + i as i64) * 600_000;
            for ev in s.events() {
                let ev: EngageEvent = shifted(&renumbered(ev, r + 1), shift);
                let msg = tlib_message(&ev).expect("scenario events map");
                let mut buf = BytesMut::new();
                encode_with(&msg, &wire, &mut buf).expect("encodes");
                frames.push((buf.freeze(), ev.time()));
            }
        }
    }
    let bytes: usize = frames.iter().map(|(f, _)| f.len()).sum();
    let mut engine = Engine::with_reorder(scenarios[0].model_config(), 0);
    let mut gc_events = 0usize;
    let mut peak_live = 0usize;
    let t = Instant::now();
    for (n, (f, time)) in frames.iter().enumerate() {
        let msg = decode_bytes(f.clone(), &wire).expect("decodes");
        engine.on_tlib(&msg, &lookups, 0);
        // The service passes the wall clock in; here event time stands for it, so stale calls
        // and wrap-up windows close as they would in production.
        engine.on_time(*time, &lookups);
        if n % 1024 == 0 {
            peak_live = peak_live.max(engine.live_conversations());
            gc_events += std::mem::take(engine.pending()).len();
        }
    }
    gc_events += std::mem::take(engine.pending()).len();
    let took = t.elapsed().as_secs_f64();
    let stats = engine.stats();
    println!(
        "excp engine: {} TLib frames ({:.1} MB) of {calls} calls in {took:.2} s: {:.0} events/s, {:.0} calls/s; {gc_events} GC events; {} conversations closed ({} suspended); {} bad frames",
        frames.len(),
        bytes as f64 / 1e6,
        frames.len() as f64 / took,
        calls as f64 / took,
        stats.conversations_closed,
        stats.conversations_suspended,
        stats.bad_messages,
    );
    println!(
        "  live conversations at the end: {}, peak sampled: {peak_live}",
        engine.live_conversations()
    );
    assert_eq!(stats.bad_messages, 0, "every frame maps");
    assert!(gc_events > 0);
}
