//! Replays the bench's mix for profiling and output checks (not a test; a tool).
//!
//! - `replay_profile rounds N`: replays the mix N times inside `replay_rounds` (a stable symbol
//!   for `valgrind --tool=callgrind --toggle-collect='*replay_rounds*'`) and prints the input
//!   event count, so instructions per input event = Ir / (N * events).
//! - `replay_profile dump FILE`: writes every output of one replay (JSON, one per line), the
//!   serialized state after every 500th event, and the timeouts' outputs, so two builds can be
//!   compared byte for byte.
//! - `replay_profile state`: bytes of state per live call at the busiest point (as the bench).

#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Write;

use engage_callmodel::{CallModel, EngageEvent, ModelConfig};

#[path = "../benches/support/mix.rs"]
mod mix;
use mix::{HashLookups, load};

#[inline(never)]
fn replay_rounds(
    rounds: usize,
    config: &ModelConfig,
    lookups: &HashLookups,
    events: &[EngageEvent],
) -> usize {
    let mut n = 0;
    for _ in 0..rounds {
        let mut model = CallModel::new(config.clone());
        for e in events {
            model.handle_input(e, lookups);
            while let Some(o) = model.poll_output() {
                black_box(&o);
                n += 1;
            }
        }
        black_box(&model);
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (lookups, config, events) = load();
    let lookups = HashLookups::new(lookups);
    match args.get(1).map(String::as_str) {
        Some("dump") => {
            let path = args.get(2).expect("dump FILE");
            let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
            let mut model = CallModel::new(config.clone());
            for (i, e) in events.iter().enumerate() {
                model.handle_input(e, &lookups);
                while let Some(o) = model.poll_output() {
                    writeln!(f, "{}", serde_json::to_string(&o).expect("json")).expect("write");
                }
                if i % 500 == 0 {
                    let state = serde_json::to_string(&model).expect("state");
                    writeln!(f, "STATE {state}").expect("write");
                }
            }
            let end = model.event_clock() + 10 * 3_600_000;
            model.handle_timeout(end);
            while let Some(o) = model.poll_output() {
                writeln!(f, "{}", serde_json::to_string(&o).expect("json")).expect("write");
            }
            writeln!(f, "STATE {}", serde_json::to_string(&model).expect("state")).expect("write");
        }
        Some("state") => {
            let mut model = CallModel::new(config.clone());
            let mut peak = (0, 0, 0);
            for e in &events {
                model.handle_input(e, &lookups);
                while model.poll_output().is_some() {}
                if model.live_conversations() > peak.0 {
                    let json = serde_json::to_vec(&model).expect("state").len();
                    peak = (model.live_conversations(), model.approx_state_bytes(), json);
                }
            }
            let live = peak.0.max(1);
            println!(
                "peak {live} live calls: ~{} B/call (estimate), {} B/call (JSON)",
                peak.1 / live,
                peak.2 / live
            );
        }
        _ => {
            let rounds: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(1);
            let outputs = replay_rounds(rounds, &config, &lookups, &events);
            println!(
                "{} input events x {rounds} rounds, {outputs} outputs",
                events.len()
            );
        }
    }
}
