//! EXCS initial-sync benchmark: a generated contact center, the GC emulator on loopback, the
//! embedded store. Prints time, GC requests per agent and, with a rate limit, the time against
//! the floor of requests ÷ limit.
//!
//! `cargo bench -p engage-connector --bench excs_sync` runs 1,000 agents without a rate limit.
//! Settings (environment): `EXCS_BENCH_AGENTS` (comma list, default `1000`),
//! `EXCS_BENCH_RATE` (requests per window, default 0 = off), `EXCS_BENCH_WINDOW_SECS` (default
//! 60; shrink it to measure the limiter's efficiency without waiting 30 minutes: the ratio to
//! the floor is what matters), `EXCS_BENCH_USER_API` (`scim`, the default, or `users`).

use engage_sim::demo::Sandbox;
use gcex::emulator::EmulatorConfig;
use std::time::{Duration, Instant};

fn main() {
    // `cargo test --all-targets` runs this once without `--bench`: a small smoke pass.
    let default = if std::env::args().any(|a| a == "--bench") {
        "1000"
    } else {
        "20"
    };
    let agents: Vec<usize> = std::env::var("EXCS_BENCH_AGENTS")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rate: u32 = std::env::var("EXCS_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let window: u64 = std::env::var("EXCS_BENCH_WINDOW_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let user_api = std::env::var("EXCS_BENCH_USER_API").unwrap_or_else(|_| "scim".into());
    println!("user API: {user_api}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    for n in agents {
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let emu = EmulatorConfig::new("bench", "bench-secret")
                .with_rate_limit(rate, Duration::from_secs(window));
            let mut sb = Sandbox::build(dir.path(), n, emu).await.expect("sandbox");
            sb.env
                .insert("EXCS_GC_RATE_LIMIT_PER_MIN".into(), rate.to_string());
            sb.env
                .insert("EXCS_GC_RATE_WINDOW_SECS".into(), window.to_string());
            sb.env.insert("EXCS_USER_API".into(), user_api.clone());
            let mut excs = sb.excs().await.expect("excs");
            let t = Instant::now();
            let report = excs.poll_once().await.expect("sync");
            let took = t.elapsed().as_secs_f64();
            let stats = sb.gc.stats();
            let requests: u64 = stats
                .requests
                .iter()
                .filter(|(k, _)| !k.contains("/oauth/"))
                .map(|(_, v)| *v)
                .sum();
            println!(
                "excs initial sync: {n} agents, {} users created, {:.2} s, {} GC requests ({:.2} per agent), {} answered 429",
                report.users_created,
                took,
                requests,
                requests as f64 / n.max(1) as f64,
                stats.rate_limited,
            );
            if rate > 0 {
                let floor = requests as f64 / f64::from(rate) * window as f64;
                println!(
                    "  rate limit {rate} per {window} s: floor {floor:.1} s, took {:.1}% of the floor",
                    took / floor * 100.0
                );
            }
            let gc_requests = || -> u64 {
                sb.gc
                    .stats()
                    .requests
                    .iter()
                    .filter(|(k, _)| !k.contains("/oauth/"))
                    .map(|(_, v)| *v)
                    .sum()
            };
            let before = gc_requests();
            let t = Instant::now();
            let idle = excs.poll_once().await.expect("idle poll");
            println!(
                "  idle poll (no change; full snapshot read + fingerprint diff): {:.3} s, {} GC requests, unchanged: {}",
                t.elapsed().as_secs_f64(),
                gc_requests() - before,
                idle.unchanged
            );
            // Change propagation: rename one agent in the Config DB; the next poll carries it.
            let conn = rusqlite::Connection::open(&sb.db_path).expect("open config db");
            let dbid: i64 = conn
                .query_row(
                    "SELECT MIN(dbid) FROM cfg_person WHERE is_agent = 2",
                    [],
                    |r| r.get(0),
                )
                .expect("an agent");
            conn.execute(
                "UPDATE cfg_person SET first_name = 'Propagated' WHERE dbid = ?1",
                [dbid],
            )
            .expect("update");
            drop(conn);
            let t = Instant::now();
            let r = excs.poll_once().await.expect("change poll");
            let took = t.elapsed().as_secs_f64();
            let renamed = sb
                .gc
                .org()
                .users
                .iter()
                .any(|u| u.user.name.as_deref().is_some_and(|n| n.starts_with("Propagated")));
            println!(
                "  change propagation: the poll carrying one renamed person took {took:.3} s \
                 ({} user updated, reached GC: {renamed}); worst-case latency = poll interval \
                 (EXCS_POLL_INTERVAL_SECS, default 5 s) + {took:.3} s",
                r.users_updated
            );
        });
    }
}
