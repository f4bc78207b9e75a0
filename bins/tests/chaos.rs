//! Fault tests with real processes (issue 12): the production `excp` binary, two of them as an
//! HA pair, over real TCP to the SIP Server simulator, real Redis, and the GC emulator. One
//! instance is killed with SIGKILL in the middle of a stream of calls and started again; every
//! conversation must reach GC with each of its events exactly once.
//!
//! CI runs a short version (`CHAOS_CALLS`, default 60); `scripts/chaos.sh` runs 1,000 calls and
//! prints the table. Each run prints one table row:
//! `fault | calls | events expected | delivered | lost | duplicated | re-sent | parked`.

mod common;

use common::excp::{gc_event_count, now_ms, scenario_on, synced_world_on, wait_for};
use engage_callmodel::scenario::Scenario;
use engage_sim::player::{login, renumbered, send, shifted};
use engage_store::Namespace;
use engage_tlib::sim::SimServer;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ORG: &str = "org-e2e";

/// One `excp` process.
struct Excp {
    child: Child,
    instance: String,
    log: std::path::PathBuf,
}

impl Excp {
    fn spawn_on(
        redis_url: &str,
        tenant: &str,
        sim: &SimServer,
        instance: &str,
        dir: &std::path::Path,
        extra_env: &[(&str, &str)],
    ) -> Excp {
        let redis = url_host_port(redis_url);
        let sip = format!("127.0.0.1:{}", sim.local_addr().port());
        let log = dir.join(format!("{instance}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_excp"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs([
                ("EXEC_ORG_ID", ORG),
                ("EXEC_TENANT_ID", tenant),
                ("EXEC_REDIS_HOST", redis.0.as_str()),
                ("EXEC_REDIS_PORT", redis.1.as_str()),
                ("EXEC_GC_ALLOW_HTTP", "true"),
                ("EXCP_VOICE_SERVER_VQ", sip.as_str()),
                ("EXCP_VOICE_SERVER_AGENT", sip.as_str()),
                ("EXCP_VOICE_SERVER_CALL", sip.as_str()),
                ("EXCP_SWITCH_NAME", "SIP_Switch_1"),
                ("EXCP_INSTANCE_ID", instance),
                ("EXCP_HOST", "127.0.0.1"),
                ("EXCP_PORT", "0"),
                ("EXCP_LOOKUP_REFRESH_SECS", "1"),
                ("EXCP_LOG_LEVEL", "warn"),
                ("LOG_JSON_ENABLE", "false"),
            ])
            .envs(extra_env.iter().copied())
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("the excp binary starts");
        Excp {
            child,
            instance: instance.to_string(),
            log,
        }
    }

    /// SIGKILL: no checkpoint, no last delivery round, no goodbye.
    fn kill_9(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// SIGTERM (what `docker stop`, systemd and Kubernetes send), then waits up to 30 s for
    /// the exit; its exit code.
    fn sigterm(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} did not stop within 30 s of SIGTERM\n{}",
                self.instance,
                self.tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Excp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(host, port)` of a `redis://host:port/` URL.
fn url_host_port(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    let hp = hp.rsplit_once('@').map_or(hp, |(_, h)| h);
    match hp.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hp.to_string(), "6379".to_string()),
    }
}

/// The conversation id of play `round` of `s`.
fn conversation_of(s: &Scenario, round: u32) -> String {
    let first = s.events().next().expect("an event");
    let root = renumbered(first, round)
        .call_uuid()
        .expect("a CallUUID")
        .to_string();
    engage_callmodel::conversation_id(&root).to_string()
}

/// Plays `rounds` of `s`, one call after the other, `spacing` ms of event time apart.
fn play_calls(
    sim: &SimServer,
    s: &Scenario,
    rounds: std::ops::Range<u32>,
    start: u64,
    spacing: u64,
) {
    let first = s.events().map(|e| e.time()).min().unwrap_or(0);
    for r in rounds {
        let at = start + u64::from(r) * spacing;
        let shift = i64::try_from(at).unwrap_or(i64::MAX) - i64::try_from(first).unwrap_or(0);
        for ev in s.events() {
            send(sim, &shifted(&renumbered(ev, r + 1), shift)).expect("scenario events map");
        }
    }
}

/// What reached GC of a set of calls.
struct Tally {
    calls: usize,
    expected: usize,
    delivered: usize,
    lost: usize,
    duplicated: usize,
    bad: Vec<String>,
}

/// Waits (up to two minutes) until every conversation of `ids` ended in GC with `per_call`
/// events, then counts what arrived.
async fn tally(emu: &gcex::emulator::EmulatorHandle, ids: &[String], per_call: usize) -> Tally {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let complete = ids
            .iter()
            .filter(|c| {
                emu.conversation(c)
                    .is_some_and(|v| v.ended && v.timeline.len() >= per_call)
            })
            .count();
        if complete == ids.len() || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let stragglers (a late duplicate) arrive before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut t = Tally {
        calls: ids.len(),
        expected: ids.len() * per_call,
        delivered: 0,
        lost: 0,
        duplicated: 0,
        bad: Vec::new(),
    };
    for (r, c) in ids.iter().enumerate() {
        let n = emu.conversation(c).map_or(0, |v| v.timeline.len());
        t.delivered += n;
        t.lost += per_call.saturating_sub(n);
        t.duplicated += n.saturating_sub(per_call);
        if n != per_call && t.bad.len() < 5 {
            t.bad.push(format!("call {}: {n} of {per_call}", r + 1));
        }
    }
    t
}

/// Prints the table header and this fault's row.
fn report(fault: &str, t: &Tally, resent: u64, parked: usize) {
    println!(
        "| fault | calls | events expected | delivered | lost | duplicated | re-sent | parked |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {fault} | {} | {} | {} | {} | {} | {resent} | {parked} |",
        t.calls, t.expected, t.delivered, t.lost, t.duplicated
    );
}

/// An EXCP pair (two `excp` processes) on a synced contact center, the agent logged in, and a
/// stream of calls (scenario 01, one after the other) played half before a fault, half after.
struct Rig {
    w: common::World,
    ns: Namespace,
    sim: SimServer,
    tenant: String,
    redis_url: String,
    dir: tempfile::TempDir,
    a: Excp,
    b: Excp,
    s: Scenario,
    per_call: usize,
    start: u64,
    spacing: u64,
    calls: u32,
    extra_env: &'static [(&'static str, &'static str)],
    _cleanup: Option<engage_test_support::TestRedis>,
}

impl Rig {
    /// The rig on the Redis at `redis` (a private server), or the tests' Redis.
    async fn start(prefix: &str, redis: Option<String>) -> Rig {
        Rig::start_with(prefix, redis, &[]).await
    }

    /// [`Rig::start`] with more settings for both processes.
    async fn start_with(
        prefix: &str,
        redis: Option<String>,
        extra_env: &'static [(&'static str, &'static str)],
    ) -> Rig {
        let calls: u32 = std::env::var("CHAOS_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        let tenant = engage_test_support::unique_name(prefix);
        let ns = Namespace::new(&tenant, ORG);
        let redis_url = redis.unwrap_or_else(engage_test_support::redis_url);
        // The processes build `exec:{tenant}:{org}:` themselves: delete it when done.
        let cleanup = engage_test_support::TestRedis::adopt_from(
            engage_test_support::TestRedis::create_at(&redis_url).await,
            ns.prefix(),
        );
        let (w, t) = synced_world_on(
            Some(ns.clone()),
            Some(engage_test_support::TestRedis::create_at(&redis_url).await),
        )
        .await;
        let sim = SimServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let a = Excp::spawn_on(
            &redis_url,
            &tenant,
            &sim,
            &format!("{prefix}-a"),
            dir.path(),
            extra_env,
        );
        let b = Excp::spawn_on(
            &redis_url,
            &tenant,
            &sim,
            &format!("{prefix}-b"),
            dir.path(),
            extra_env,
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !(sim.call_monitors() >= 2
            && sim.registrations(&t.extension) >= 2
            && sim.registrations(&t.vq) >= 2)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the pair never registered\n{}:\n{}\n{}:\n{}",
                a.instance,
                a.tail(),
                b.instance,
                b.tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(login(&sim, &t.extension, &t.login_code), 2);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = scenario_on(&t);
        let per_call = gc_event_count(&s);
        let span = s.events().map(|e| e.time()).max().unwrap_or(0)
            - s.events().map(|e| e.time()).min().unwrap_or(0);
        Rig {
            w,
            ns,
            sim,
            tenant,
            redis_url,
            dir,
            a,
            b,
            s,
            per_call,
            start: now_ms(),
            spacing: span + 1_000,
            calls,
            extra_env,
            _cleanup: Some(cleanup),
        }
    }

    /// Plays the first half and waits until a quarter of it reached GC.
    async fn first_half(&self) {
        let half = self.calls / 2;
        play_calls(&self.sim, &self.s, 0..half, self.start, self.spacing);
        let first: Vec<String> = (1..=half).map(|r| conversation_of(&self.s, r)).collect();
        let emu = &self.w.gc;
        wait_for("some of the first half reaches GC", || {
            first
                .iter()
                .filter(|c| emu.conversation(c).is_some())
                .count()
                >= (half as usize / 4).max(1)
        })
        .await;
    }

    fn second_half(&self) {
        play_calls(
            &self.sim,
            &self.s,
            self.calls / 2..self.calls,
            self.start,
            self.spacing,
        );
    }

    /// Counts what reached GC, prints the row, and fails on anything lost or duplicated.
    async fn judge(&self, fault: &str, a: &Excp) {
        let ids: Vec<String> = (1..=self.calls)
            .map(|r| conversation_of(&self.s, r))
            .collect();
        let t = tally(&self.w.gc, &ids, self.per_call).await;
        let parked = engage_excp::delivery::dead_letters(self.w.store.clone(), &self.ns)
            .len()
            .await
            .unwrap_or(0);
        report(fault, &t, self.w.gc.stats().events_resent, parked);
        assert!(
            t.lost == 0 && t.duplicated == 0,
            "{:?}\n{}:\n{}\n{}:\n{}",
            t.bad,
            a.instance,
            a.tail(),
            self.b.instance,
            self.b.tail()
        );
    }
}

/// Issue 12: `kill -9` of one EXCP of an HA pair in the middle of a stream of calls, and the
/// killed one started again: every conversation complete in GC, each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_excp_of_a_pair_in_the_middle_of_calls_loses_nothing() {
    let mut rig = Rig::start("chaos", None).await;
    rig.first_half().await;
    rig.a.kill_9();
    rig.second_half();
    // Its liveness mark lapses (15 s), then A starts again under the same id and resumes from
    // its last checkpoint; B carried the calls meanwhile.
    tokio::time::sleep(Duration::from_secs(16)).await;
    let a2 = Excp::spawn_on(
        &rig.redis_url,
        &rig.tenant,
        &rig.sim,
        "chaos-a",
        rig.dir.path(),
        rig.extra_env,
    );
    rig.judge(
        "kill -9 of one EXCP of a pair mid-stream, restarted after 16 s",
        &a2,
    )
    .await;
}

/// Issue 12: Redis (the shared store, persistent) killed with SIGKILL for a while and started
/// again while calls stream into an EXCP HA pair: ingestion goes on, delivery waits for the
/// store, and afterwards every conversation is complete in GC with each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_under_an_excp_pair_loses_nothing() {
    redis_killed_under_a_pair(
        engage_test_support::PrivateRedis::start(),
        "redisdown",
        "persistent",
    )
    .await;
}

/// Kills `redis` under an EXCP pair in the middle of the calls, restarts it after
/// `CHAOS_REDIS_DOWN_SECS` (8 s in CI), and judges.
async fn redis_killed_under_a_pair(
    mut redis: engage_test_support::PrivateRedis,
    prefix: &str,
    kind: &str,
) {
    let down_secs: u64 = std::env::var("CHAOS_REDIS_DOWN_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let rig = Rig::start(prefix, Some(redis.url())).await;
    rig.first_half().await;
    redis.kill_9();
    rig.second_half();
    tokio::time::sleep(Duration::from_secs(down_secs)).await;
    redis.restart();
    rig.judge(
        &format!("Redis ({kind}) killed for {down_secs} s under an EXCP pair, restarted"),
        &rig.a,
    )
    .await;
}

/// Issue 12: GC hangs (every event request answered only after `CHAOS_GC_HANG_SECS`, 5 s in
/// CI, 60 s in `scripts/chaos.sh`) while calls stream into an EXCP pair: ingestion goes on,
/// and afterwards every conversation is complete in GC with each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_hanging_under_an_excp_pair_loses_nothing() {
    let hang_secs: u64 = std::env::var("CHAOS_GC_HANG_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let rig = Rig::start("gchang", None).await;
    rig.first_half().await;
    // Both instances' next event requests hang; more than one round each.
    rig.w.gc.inject_fault(gcex::emulator::Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: 4,
        kind: gcex::emulator::FaultKind::Delay {
            millis: hang_secs * 1_000,
        },
    });
    rig.second_half();
    rig.judge(
        &format!("GC hanging {hang_secs} s per event request under an EXCP pair"),
        &rig.a,
    )
    .await;
}

/// Issue 12 §2: GC refuses every event request (503) for as long as it takes both instances of
/// a pair to go past `EXCP_MAX_PENDING_EVENTS` (40 here): the events beyond it go to each
/// instance's spill list in the store, memory stops growing, and once GC is back every
/// conversation is complete, each event once, and the spills are empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_down_past_the_memory_cap_spills_to_the_store_and_loses_nothing() {
    // 40 in CI; with more calls a cap that still spills most of the second half (one and a half
    // events per call), so that reading the spill back is not throttled by a tiny cap.
    let calls: usize = std::env::var("CHAOS_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let cap: &'static str = Box::leak((calls * 3 / 2).max(40).to_string().into_boxed_str());
    let env: &'static [(&'static str, &'static str)] =
        Box::leak(vec![("EXCP_MAX_PENDING_EVENTS", cap)].into_boxed_slice());
    let rig = Rig::start_with("spill", None, env).await;
    rig.first_half().await;
    rig.w.gc.inject_fault(gcex::emulator::Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: u32::MAX,
        kind: gcex::emulator::FaultKind::Status { status: 503 },
    });
    rig.second_half();
    let store = rig.w.store.clone();
    let spills: Vec<String> = [&rig.a, &rig.b]
        .iter()
        .map(|x| {
            rig.ns
                .key(&engage_store::schema::keys::excp_spill(&x.instance))
        })
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut spilled = Vec::new();
        for k in &spills {
            spilled.push(store.queue_len(k).await.unwrap_or(0));
        }
        if spilled.iter().all(|n| *n > 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "both instances should spill past the cap: {spilled:?}\n{}:\n{}\n{}:\n{}",
            rig.a.instance,
            rig.a.tail(),
            rig.b.instance,
            rig.b.tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rig.w.gc.clear_faults();
    rig.judge(
        &format!("GC refusing (503) past EXCP_MAX_PENDING_EVENTS = {cap} under an EXCP pair"),
        &rig.a,
    )
    .await;
    for k in &spills {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while store.queue_len(k).await.unwrap_or(1) > 0 {
            assert!(tokio::time::Instant::now() < deadline, "{k} never drained");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Issue 12 §5: SIGTERM of one EXCP of a pair in the middle of a stream of calls: it stops
/// cleanly (exit 0, well within a 30 s grace period), writes its checkpoint and gives its
/// liveness mark up, so it starts again at once under the same id; every conversation complete
/// in GC, each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_one_excp_of_a_pair_stops_cleanly_and_it_resumes_at_once() {
    let mut rig = Rig::start("sigterm", None).await;
    rig.first_half().await;
    let checkpoint = rig.ns.key(&engage_store::schema::keys::excp_checkpoint(
        &rig.a.instance,
    ));
    let alive = rig
        .ns
        .key(&engage_store::schema::keys::excp_alive(&rig.a.instance));
    rig.w.store.delete(&checkpoint).await.unwrap();
    assert_eq!(rig.a.sigterm(), Some(0), "a clean stop\n{}", rig.a.tail());
    let saved = rig
        .w
        .store
        .get(&checkpoint)
        .await
        .unwrap()
        .expect("the checkpoint is written at stop");
    let v: serde_json::Value = serde_json::from_slice(&saved).expect("checkpoint JSON");
    assert!(v["version"].as_u64().is_some(), "{v}");
    assert!(
        rig.w.store.get(&alive).await.unwrap().is_none(),
        "the liveness mark is given up at a clean stop"
    );
    rig.second_half();
    // No wait for a mark to lapse: the same id starts at once.
    let a2 = Excp::spawn_on(
        &rig.redis_url,
        &rig.tenant,
        &rig.sim,
        "sigterm-a",
        rig.dir.path(),
        rig.extra_env,
    );
    rig.judge(
        "SIGTERM of one EXCP of a pair mid-stream, restarted at once",
        &a2,
    )
    .await;
    let text = std::fs::read_to_string(&a2.log).unwrap_or_default();
    assert!(
        !text.contains("is alive"),
        "the restart found no live mark: {text}"
    );
}

/// Issue 12: Redis without persistence (the way many sites run it) killed under an EXCP pair
/// and restarted empty: claims, done marks, look-ups and liveness marks are gone. The pair
/// keeps its DN registrations (an empty read is never applied), takes its marks again, and
/// every conversation is complete in GC with each event once (events sent twice carry the
/// same id: counted as re-sent, never as duplicates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_persistence_restarted_empty_under_an_excp_pair_loses_nothing() {
    redis_killed_under_a_pair(
        engage_test_support::PrivateRedis::start_ephemeral(),
        "redisempty",
        "no persistence: it comes back empty",
    )
    .await;
}
