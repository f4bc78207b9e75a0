//! Injects conversation events through the client into the emulator on loopback and prints
//! events/s and the number of HTTP requests used.
//!
//! ```text
//! cargo bench -p gcex --features emulator --bench inject            # 100,000 events
//! cargo bench -p gcex --features emulator --bench inject -- 5000    # a quick run
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use gcex::events::ConversationEvent;
use std::time::Instant;

const TASKS: usize = 4;

fn main() {
    let events: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| {
            std::env::var("GCEX_BENCH_EVENTS")
                .ok()
                .and_then(|v| v.parse().ok())
        })
        // `cargo test --all-targets` runs this once without `--bench`: a small smoke pass.
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            100_000
        } else {
            2_000
        });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(run(events));
}

async fn run(target: usize) {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    // 10 events per call; each task owns whole conversations, so per-conversation order holds.
    let calls = target.div_ceil(10);
    let mut per_task: Vec<Vec<ConversationEvent>> = vec![Vec::new(); TASKS];
    for i in 0..calls {
        per_task[i % TASKS].extend(call_flow(&ids, &uuid(), (i as i64) * 100, None));
    }
    let total: usize = per_task.iter().map(Vec::len).sum();
    let before = c.stats().requests;
    let started = Instant::now();
    let tasks: Vec<_> = per_task
        .into_iter()
        .map(|evs| {
            let c = c.clone();
            tokio::spawn(async move { c.inject_conversation_events(&evs).await })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(r)) => failed += r.failed.len(),
            Ok(Err(e)) => {
                eprintln!("injection failed: {e}");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("task failed: {e}");
                std::process::exit(1);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = c.stats().requests - before;
    let accepted = h.stats().events_accepted;
    println!(
        "gcex inject: {total} conversation events in {secs:.2} s = {:.0} events/s; {requests} HTTP requests ({:.1} events/request); emulator accepted {accepted}, failed {failed}",
        total as f64 / secs,
        total as f64 / requests.max(1) as f64
    );
    if accepted as usize != total || failed != 0 {
        eprintln!("lost or failed events: accepted {accepted} of {total}, failed {failed}");
        std::process::exit(1);
    }
}
