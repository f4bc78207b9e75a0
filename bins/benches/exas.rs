//! EXAS throughput and latency: N agents on the Stat Server simulator, real Redis, the GC
//! emulator.
//!
//! Phases:
//! 1. burst: every agent changes state at once; states/s = changes / time until GC accepted
//!    the last one;
//! 2. paced: `--rate` changes per second for `--secs` seconds; the time from receiving each
//!    Stat Server value to GC accepting its events (median, p99).
//!
//! ```text
//! cargo bench -p engage-connector --bench exas -- --agents 10000 --rate 1000 --secs 10
//! ```
//! Needs Redis on 127.0.0.1:6379 (or `ENGAGE_TEST_REDIS`). Run by `cargo test` (no
//! `--bench` argument) it does a smoke run with 20 agents for 1 s.

use engage_exas::driver::{Delivery, Driver, DriverConfig, DriverDeps};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, Endpoint};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::{AgentState, CallKind, Login, Readiness, ServerMode};
use engage_store::{
    JsonView, Namespace, PRESENCE_SOURCE_KEY, PersonRecord, RedisConfig, RedisStore, Store,
};
use engage_test_support::TestRedis;
use gcex::emulator::{Emulator, EmulatorConfig};
use gcex::users::CreateUser;
use gcex::{GcClient, RateLimit, RetryPolicy};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

struct Args {
    agents: usize,
    rate: usize,
    secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        agents: 10_000,
        rate: 1_000,
        secs: 10,
    };
    let v: Vec<String> = std::env::args().collect();
    // `cargo test --all-targets` runs this binary without `--bench`: a smoke run only.
    if !v.iter().any(|x| x == "--bench") && !v.iter().any(|x| x == "--agents") {
        a = Args {
            agents: 20,
            rate: 200,
            secs: 1,
        };
    }
    let mut i = 1;
    while i < v.len() {
        let next = v.get(i + 1).and_then(|s| s.parse::<u64>().ok());
        match (v[i].as_str(), next) {
            ("--agents", Some(n)) => a.agents = n as usize,
            ("--rate", Some(n)) => a.rate = n as usize,
            ("--secs", Some(n)) => a.secs = n,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// A cycle in which every step changes the routing status: Idle, Interacting, Off Queue
/// (Break), Interacting (ACW, presence kept).
fn state(step: usize) -> (Readiness, CallKind) {
    match step % 4 {
        0 => (Readiness::Ready, CallKind::None),
        1 => (Readiness::Ready, CallKind::Inbound),
        2 => (
            Readiness::NotReady {
                reason: Some("Break".into()),
            },
            CallKind::None,
        ),
        _ => (Readiness::AfterCallWork, CallKind::None),
    }
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Microseconds from setting each state in the simulator to GC accepting it, sorted. Every
/// change of the cycle changes the routing status, so the k-th delivery of a user is its k-th
/// change.
fn end_to_end(
    deliveries: &[Delivery],
    index: &HashMap<String, usize>,
    set_at: &mut [VecDeque<i64>],
) -> Vec<u32> {
    let mut v: Vec<u32> = deliveries
        .iter()
        .filter_map(|d| {
            let set = set_at.get_mut(*index.get(&d.gc_user_id)?)?.pop_front()?;
            Some(u32::try_from((d.accepted_us - set).max(0)).unwrap_or(u32::MAX))
        })
        .collect();
    v.sort_unstable();
    v
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn wait_changes(metrics: &Metrics, want: f64, limit: Duration) -> bool {
    let start = Instant::now();
    while metrics.value("exas_events_injected_total", &[("kind", "routingStatus")]) < Some(want) {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let n = a.agents;
    println!(
        "exas bench: {n} agents, paced {} changes/s for {} s",
        a.rate, a.secs
    );
    let redis = TestRedis::create().await;
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&RedisConfig::from_url(redis.url()).expect("url"))
            .await
            .expect("redis"),
    );
    let ns = Namespace::with_prefix(redis.prefix());
    let world = SimWorld::new();
    let sim = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        ServerMode::Primary,
    )
    .await
    .expect("sim");
    let emu = Emulator::start(
        EmulatorConfig::new("bench", "bench-secret").with_rate_limit(0, Duration::from_secs(60)),
    )
    .await
    .expect("emulator");
    let gc = GcClient::new(
        emu.client_config()
            .with_retry(RetryPolicy::fast())
            .with_rate_limit(RateLimit::disabled()),
    )
    .expect("gc");
    let source = gc
        .create_presence_source("Engage", None)
        .await
        .expect("source");
    let json = JsonView::new(store.clone(), ns.clone());
    json.put(PRESENCE_SOURCE_KEY, &source.id.expect("id"))
        .await
        .expect("put");
    let t = Instant::now();
    let mut agents = Vec::with_capacity(n);
    let mut users: Vec<String> = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("agent{i:05}");
        let user = gc
            .create_user(&CreateUser {
                name: name.clone(),
                email: format!("{name}@example.com"),
                ..CreateUser::default()
            })
            .await
            .expect("user");
        let record = serde_json::json!({
            "dbid": i + 1, "gcUserId": user.id, "userName": name, "employeeId": null,
            "isAgent": true, "active": true, "logins": [],
        });
        json.put(&PersonRecord::key(i as i64 + 1), &record)
            .await
            .expect("person");
        agents.push(name);
        users.push(user.id.clone());
    }
    println!("setup: {n} users and person records in {:?}", t.elapsed());

    let mut stat = ClientConfig::new(Endpoint::new("127.0.0.1", sim.local_addr().port()), None);
    stat.event_capacity = 65_536;
    let mut config = DriverConfig::new(stat);
    config.scope_every = Duration::from_secs(3600);
    config.latency_samples = 10_000_000;
    config.retry_min = Duration::from_millis(10);
    let metrics = Metrics::new();
    let engine = Driver::start(
        config,
        DriverDeps {
            store,
            ns,
            gc,
            health: Health::new(),
            metrics: metrics.clone(),
        },
    );
    let t = Instant::now();
    assert!(
        wait_changes(&metrics, n as f64, Duration::from_secs(600)).await,
        "initial states not delivered"
    );
    println!("open + initial sync of {n} agents: {:?}", t.elapsed());
    let mut delivered = n as f64;

    let index: HashMap<String, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.clone(), i))
        .collect();

    // Phase 1: burst.
    let skip = engine.deliveries().len();
    let t = Instant::now();
    let ts = 1_800_000_000;
    let mut set_at: Vec<VecDeque<i64>> = vec![VecDeque::new(); n];
    for (i, name) in agents.iter().enumerate() {
        let (r, c) = state(0);
        set_at[i].push_back(now_us());
        world.set_agent_state(
            name,
            AgentState::new(name.as_str(), Login::LoggedIn, r, c, ts).to_status("p", name, "sw"),
        );
    }
    delivered += n as f64;
    assert!(
        wait_changes(&metrics, delivered, Duration::from_secs(600)).await,
        "burst not delivered"
    );
    let burst = t.elapsed();
    let lat = end_to_end(&engine.deliveries()[skip..], &index, &mut set_at);
    println!(
        "burst: {n} state changes delivered in {burst:?}: {:.0} states/s; Stat event -> GC accepted: median {:.1} ms, p99 {:.1} ms",
        n as f64 / burst.as_secs_f64(),
        percentile(&lat, 0.5) as f64 / 1000.0,
        percentile(&lat, 0.99) as f64 / 1000.0,
    );

    // Phase 2: paced.
    let skip = engine.deliveries().len();
    let per_tick = (a.rate / 100).max(1);
    let ticks = a.secs * 100;
    let mut next_agent = 0usize;
    let mut step = vec![0usize; n];
    let mut sent = 0usize;
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let t = Instant::now();
    for _ in 0..ticks {
        interval.tick().await;
        for _ in 0..per_tick {
            let i = next_agent % n;
            next_agent += 1;
            step[i] += 1;
            let (r, c) = state(step[i]);
            let name = &agents[i];
            set_at[i].push_back(now_us());
            world.set_agent_state(
                name,
                AgentState::new(name.as_str(), Login::LoggedIn, r, c, ts)
                    .to_status("p", name, "sw"),
            );
            sent += 1;
        }
    }
    let paced = t.elapsed();
    delivered += sent as f64;
    assert!(
        wait_changes(&metrics, delivered, Duration::from_secs(600)).await,
        "paced changes not delivered"
    );
    let internal: Vec<u32> = {
        let mut v: Vec<u32> = engine.latencies_ms()[skip..].to_vec();
        v.sort_unstable();
        v
    };
    let lat = end_to_end(&engine.deliveries()[skip..], &index, &mut set_at);
    println!(
        "paced: {sent} changes in {paced:?} ({:.0}/s offered); Stat event -> GC accepted: median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples); inside EXAS (value handled -> accepted): median {} ms, p99 {} ms",
        sent as f64 / paced.as_secs_f64(),
        percentile(&lat, 0.5) as f64 / 1000.0,
        percentile(&lat, 0.99) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0,
        lat.len(),
        percentile(&internal, 0.5),
        percentile(&internal, 0.99),
    );
    engine.shutdown().await;
    drop(sim);
}
