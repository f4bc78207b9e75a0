//! EXAS end to end, in process: the Stat Server simulator (primary + backup), real Redis and
//! the GC EX emulator. Deadlines below only guard against hangs; nothing depends on speed.

use engage_exas::delivery::DeadLetter;
use engage_exas::driver::{Driver, DriverConfig, DriverDeps, DriverHandle, OUTBOX_NAME};
use engage_exas::service::Service;
use engage_exas::tracker::OutboxItem;
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, Endpoint, ServerRole};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::{AgentState, CallKind, Login, Readiness, ServerMode};
use engage_store::{
    JsonView, Namespace, Outbox, PRESENCE_SOURCE_KEY, PersonRecord, RedisConfig, RedisStore, Store,
};
use engage_test_support::TestRedis;
use gcex::emulator::{Emulator, EmulatorConfig, EmulatorHandle, Fault, FaultKind};
use gcex::events::{RoutingStatus, UserRoutingStatusEvent};
use gcex::users::CreateUser;
use gcex::{GcClient, RetryPolicy};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(60);

struct Rig {
    world: SimWorld,
    primary: SimServer,
    backup: SimServer,
    emu: EmulatorHandle,
    gc: GcClient,
    store: Arc<dyn Store>,
    ns: Namespace,
    /// (Stat Server agent id, GC user id).
    agents: Vec<(String, String)>,
    _redis: TestRedis,
}

fn agent_name(i: usize) -> String {
    format!("agent{i:04}")
}

async fn add_person(json: &JsonView, dbid: i64, agent: &str, gc_user: &str) {
    let record = serde_json::json!({
        "dbid": dbid,
        "gcUserId": gc_user,
        "userName": format!("user-{agent}"),
        "employeeId": agent,
        "isAgent": true,
        "active": true,
        "logins": [],
    });
    json.put(&PersonRecord::key(dbid), &record).await.unwrap();
}

impl Rig {
    async fn new(n: usize) -> Rig {
        Rig::new_on(n, TestRedis::create().await).await
    }

    /// [`Rig::new`] with the store on `redis` (a private server a fault test controls).
    async fn new_on(n: usize, redis: TestRedis) -> Rig {
        let store: Arc<dyn Store> = Arc::new(
            RedisStore::connect(&RedisConfig::from_url(redis.url()).unwrap())
                .await
                .unwrap(),
        );
        let ns = Namespace::with_prefix(redis.prefix());
        let world = SimWorld::new();
        let local = "127.0.0.1:0".parse().unwrap();
        let primary = SimServer::start(world.clone(), local, ServerMode::Primary)
            .await
            .unwrap();
        let backup = SimServer::start(world.clone(), local, ServerMode::Backup)
            .await
            .unwrap();
        let emu = Emulator::start(
            EmulatorConfig::new("exas-test", "exas-secret")
                .with_rate_limit(0, Duration::from_secs(60)),
        )
        .await
        .unwrap();
        let gc = GcClient::new(
            emu.client_config()
                .with_retry(RetryPolicy::fast())
                .with_rate_limit(gcex::RateLimit::disabled()),
        )
        .unwrap();
        let source = gc
            .create_presence_source("Engage", Some("EX Engage Connector"))
            .await
            .unwrap();
        let json = JsonView::new(store.clone(), ns.clone());
        json.put(PRESENCE_SOURCE_KEY, &source.id.clone().unwrap())
            .await
            .unwrap();
        let mut rig = Rig {
            world,
            primary,
            backup,
            emu,
            gc,
            store,
            ns,
            agents: Vec::new(),
            _redis: redis,
        };
        for i in 0..n {
            rig.add_agent(i).await;
        }
        rig
    }

    fn json(&self) -> JsonView {
        JsonView::new(self.store.clone(), self.ns.clone())
    }

    async fn add_agent(&mut self, i: usize) -> (String, String) {
        let name = agent_name(i);
        let user = self
            .gc
            .create_user(&CreateUser {
                name: name.clone(),
                email: format!("{name}@example.com"),
                ..CreateUser::default()
            })
            .await
            .unwrap();
        add_person(&self.json(), i as i64 + 1, &name, &user.id).await;
        self.agents.push((name.clone(), user.id.clone()));
        (name, user.id)
    }

    fn engine_config(&self) -> DriverConfig {
        let mut stat = ClientConfig::new(
            Endpoint::new("127.0.0.1", self.primary.local_addr().port()),
            Some(Endpoint::new("127.0.0.1", self.backup.local_addr().port())),
        );
        stat.backoff_initial = Duration::from_millis(20);
        stat.backoff_max = Duration::from_millis(200);
        stat.connect_timeout = Duration::from_secs(2);
        let mut c = DriverConfig::new(stat);
        c.scope_every = Duration::from_millis(100);
        c.retry_min = Duration::from_millis(20);
        c.retry_max = Duration::from_millis(200);
        c.setup_retry = Duration::from_millis(50);
        c.lease_slot = Duration::from_secs(1);
        c
    }

    fn start_engine(&self) -> (DriverHandle, Metrics, Health) {
        self.start_engine_with(self.engine_config())
    }

    fn start_engine_with(&self, config: DriverConfig) -> (DriverHandle, Metrics, Health) {
        let metrics = Metrics::new();
        let health = Health::new();
        let engine = Driver::start(
            config,
            DriverDeps {
                store: self.store.clone(),
                ns: self.ns.clone(),
                gc: self.gc.clone(),
                health: health.clone(),
                metrics: metrics.clone(),
            },
        );
        (engine, metrics, health)
    }

    fn set(&self, agent: &str, login: Login, readiness: Readiness, call: CallKind) {
        let status = AgentState::new(agent, login, readiness, call, 1_700_000_000).to_status(
            "place",
            &format!("dn-{agent}"),
            "sw",
        );
        self.world.set_agent_state(agent, status);
    }

    /// (system presence, routing status) sequences the emulator applied for a user.
    fn history(&self, user: &str) -> (Vec<String>, Vec<RoutingStatus>) {
        let p = self
            .emu
            .presence_history(user)
            .into_iter()
            .map(|r| r.system_presence.unwrap_or_default())
            .collect();
        let r = self
            .emu
            .routing_history(user)
            .into_iter()
            .map(|r| r.status)
            .collect();
        (p, r)
    }

    async fn wait_history(&self, user: &str, want: &Expected) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let got = self.history(user);
            if got == (want.presence.clone(), want.routing.clone()) {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "user {user}: emulator history {got:?} never became {:?} / {:?}",
                    want.presence, want.routing
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !f().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the emulator must have applied for one user, built step by step: a presence (or
/// routing status) is expected only when it differs from the previous one.
#[derive(Debug, Clone, Default)]
struct Expected {
    presence: Vec<String>,
    routing: Vec<RoutingStatus>,
}

impl Expected {
    fn step(&mut self, presence: Option<&str>, routing: RoutingStatus) {
        if let Some(p) = presence
            && self.presence.last().map(String::as_str) != Some(p)
        {
            self.presence.push(p.to_string());
        }
        if self.routing.last() != Some(&routing) {
            self.routing.push(routing);
        }
    }

    fn logged_off() -> Expected {
        let mut e = Expected::default();
        e.step(Some("Offline"), RoutingStatus::OffQueue);
        e
    }
}

fn is_subsequence<T: PartialEq>(sub: &[T], of: &[T]) -> bool {
    let mut it = of.iter();
    sub.iter().all(|x| it.any(|y| y == x))
}

fn nr(reason: Option<&str>) -> Readiness {
    Readiness::NotReady {
        reason: reason.map(str::to_string),
    }
}

type Row = (
    Login,
    Readiness,
    CallKind,
    Option<&'static str>,
    RoutingStatus,
);

/// The deployment guide's table, each row once, in an order where ACW follows both an
/// On Queue and a Training presence.
fn table_rows() -> Vec<Row> {
    use CallKind as C;
    use Login::*;
    use RoutingStatus as R;
    vec![
        (LoggedIn, nr(None), C::None, Some("Busy"), R::OffQueue),
        (
            LoggedIn,
            nr(Some("Break")),
            C::None,
            Some("Break"),
            R::OffQueue,
        ),
        (
            LoggedIn,
            nr(Some("Meal")),
            C::None,
            Some("Meal"),
            R::OffQueue,
        ),
        (
            LoggedIn,
            nr(Some("Meeting")),
            C::None,
            Some("Meeting"),
            R::OffQueue,
        ),
        (
            LoggedIn,
            nr(Some("Training")),
            C::None,
            Some("Training"),
            R::OffQueue,
        ),
        // ACW keeps the Training presence.
        (
            LoggedIn,
            Readiness::AfterCallWork,
            C::None,
            None,
            R::Interacting,
        ),
        (
            LoggedIn,
            nr(Some("Coffee")),
            C::None,
            Some("Busy"),
            R::OffQueue,
        ),
        (
            LoggedIn,
            nr(Some("Break")),
            C::Internal,
            Some("Busy"),
            R::Communicating,
        ),
        (LoggedIn, nr(None), C::Inbound, Some("Busy"), R::Interacting),
        (
            LoggedIn,
            nr(Some("Meal")),
            C::Consult,
            Some("Busy"),
            R::Interacting,
        ),
        (
            LoggedIn,
            Readiness::Ready,
            C::None,
            Some("OnQueue"),
            R::Idle,
        ),
        (
            LoggedIn,
            Readiness::Ready,
            C::Internal,
            Some("OnQueue"),
            R::Communicating,
        ),
        (
            LoggedIn,
            Readiness::Ready,
            C::Outbound,
            Some("OnQueue"),
            R::Interacting,
        ),
        (
            LoggedIn,
            Readiness::Ready,
            C::None,
            Some("OnQueue"),
            R::Idle,
        ),
        // ACW keeps On Queue.
        (
            LoggedIn,
            Readiness::AfterCallWork,
            C::None,
            None,
            R::Interacting,
        ),
        (
            LoggedOut,
            Readiness::Ready,
            C::None,
            Some("Offline"),
            R::OffQueue,
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_of_the_state_table_reaches_gc_in_order() {
    let rig = Rig::new(2).await;
    let (engine, metrics, _health) = rig.start_engine();
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    // Agent 0 walks the table row by row, waiting for each row to reach GC. Agent 1 walks it
    // in one burst: the simulator reports an agent's state as of when it sends, so a burst may
    // skip rows; what arrives must still be in order, without duplicates, ending right.
    let (a0, u0) = rig.agents[0].clone();
    let (a1, u1) = rig.agents[1].clone();
    let mut e0 = Expected::logged_off();
    let mut e1 = Expected::logged_off();
    for (login, readiness, call, presence, routing) in table_rows() {
        rig.set(&a0, login, readiness.clone(), call);
        e0.step(presence, routing);
        rig.wait_history(&u0, &e0).await;
        rig.set(&a1, login, readiness, call);
        e1.step(presence, routing);
    }
    eventually("burst agent reaches the final state", async || {
        let (p, r) = rig.history(&u1);
        p.last() == e1.presence.last() && r.last() == e1.routing.last()
    })
    .await;
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    let (p1, r1) = rig.history(&u1);
    assert!(
        is_subsequence(&p1, &e1.presence),
        "{p1:?} vs {:?}",
        e1.presence
    );
    assert!(
        is_subsequence(&r1, &e1.routing),
        "{r1:?} vs {:?}",
        e1.routing
    );
    assert!(
        p1.windows(2).all(|w| w[0] != w[1]),
        "duplicate presence: {p1:?}"
    );
    assert!(
        r1.windows(2).all(|w| w[0] != w[1]),
        "duplicate routing: {r1:?}"
    );
    // Presence never Available, and every presence names the connector's source.
    let source: String = rig.json().get(PRESENCE_SOURCE_KEY).await.unwrap().unwrap();
    for rec in rig.emu.presence_history(&u0) {
        assert_ne!(rec.system_presence.as_deref(), Some("Available"));
        assert_eq!(rec.source_id, source);
    }
    let routing_total = (e0.routing.len() + r1.len()) as f64;
    let presence_total = (e0.presence.len() + p1.len()) as f64;
    assert_eq!(
        metrics.value("exas_events_injected_total", &[("kind", "routingStatus")]),
        Some(routing_total)
    );
    assert_eq!(
        metrics.value("exas_events_injected_total", &[("kind", "presence")]),
        Some(presence_total)
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_killed_mid_shift_backup_takes_over_without_loss_or_duplicates() {
    let mut rig = Rig::new(12).await;
    let (engine, metrics, _health) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
        expected[i].step(Some("OnQueue"), RoutingStatus::Idle);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    assert_eq!(engine.stat_link(), Some(ServerRole::Primary));
    // The primary dies mid-shift; half the agents change state right away.
    rig.primary.stop().await;
    for (i, (agent, _)) in rig.agents.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        rig.set(agent, Login::LoggedIn, nr(Some("Break")), CallKind::None);
        expected[i].step(Some("Break"), RoutingStatus::OffQueue);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    assert_eq!(engine.stat_link(), Some(ServerRole::Backup));
    assert!(metrics.value("exas_stat_server_switchovers_total", &[]) >= Some(1.0));
    // Changes on the backup keep flowing.
    let (a, u) = rig.agents[1].clone();
    rig.set(&a, Login::LoggedIn, Readiness::Ready, CallKind::Inbound);
    expected[1].step(Some("OnQueue"), RoutingStatus::Interacting);
    rig.wait_history(&u, &expected[1]).await;
    // A new agent joining the scope on the backup is opened there.
    let (a, u) = rig.add_agent(100).await;
    rig.wait_history(&u, &Expected::logged_off()).await;
    rig.set(&a, Login::LoggedIn, nr(Some("Meal")), CallKind::None);
    let mut e = Expected::logged_off();
    e.step(Some("Meal"), RoutingStatus::OffQueue);
    rig.wait_history(&u, &e).await;
    // Nothing was duplicated anywhere (histories are compared exactly above; re-check all).
    for (i, (_, user)) in rig.agents.iter().enumerate().take(12) {
        assert_eq!(
            rig.history(user),
            (expected[i].presence.clone(), expected[i].routing.clone())
        );
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_answering_503_for_a_while_delays_but_loses_nothing_and_keeps_order() {
    let rig = Rig::new(8).await;
    let (engine, metrics, _health) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    // GC's event endpoints fail: more failures than one request's retries can absorb.
    rig.emu.inject_fault(Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: 40,
        kind: FaultKind::Status { status: 503 },
    });
    // Every step changes every agent's routing status, so each step queues one change per
    // agent; the next step waits until the engine has queued the previous one (the simulator
    // reports states as of when it sends, so an unobserved step would be skipped).
    let steps: Vec<(Readiness, CallKind, Option<&str>, RoutingStatus)> = vec![
        (
            Readiness::Ready,
            CallKind::None,
            Some("OnQueue"),
            RoutingStatus::Idle,
        ),
        (
            Readiness::Ready,
            CallKind::Inbound,
            Some("OnQueue"),
            RoutingStatus::Interacting,
        ),
        (
            nr(Some("Meal")),
            CallKind::None,
            Some("Meal"),
            RoutingStatus::OffQueue,
        ),
        (
            Readiness::AfterCallWork,
            CallKind::None,
            None,
            RoutingStatus::Interacting,
        ),
        (
            Readiness::Ready,
            CallKind::Internal,
            Some("OnQueue"),
            RoutingStatus::Communicating,
        ),
    ];
    let n = rig.agents.len() as f64;
    for (k, (readiness, call, presence, routing)) in steps.into_iter().enumerate() {
        for (i, (agent, _)) in rig.agents.iter().enumerate() {
            rig.set(agent, Login::LoggedIn, readiness.clone(), call);
            expected[i].step(presence, routing);
        }
        let want = n * (k as f64 + 2.0);
        eventually("step queued", async || {
            metrics.value("exas_state_changes_total", &[]) >= Some(want)
        })
        .await;
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    assert!(
        metrics.value("exas_delivery_failures_total", &[]) >= Some(1.0),
        "the outage must have held events back: {}",
        metrics.render()
    );
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reconciles_current_states_and_resends_nothing_accepted() {
    let rig = Rig::new(10).await;
    let (engine, _, _) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
        expected[i].step(Some("OnQueue"), RoutingStatus::Idle);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    engine.shutdown().await;

    // While EXAS is down, four agents change state.
    for (i, (agent, _)) in rig.agents.iter().enumerate().take(4) {
        rig.set(agent, Login::LoggedIn, nr(Some("Meeting")), CallKind::None);
        expected[i].step(Some("Meeting"), RoutingStatus::OffQueue);
    }
    let (engine, metrics, _) = rig.start_engine();
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    // Every agent's values (two statistics each) were seen and the outbox is empty: only
    // the four changed agents produced anything.
    let n = rig.agents.len() as f64;
    eventually("all values received", async || {
        metrics.value("exas_states_received_total", &[]) >= Some(2.0 * n)
            && engine.outbox_len().await.unwrap() == 0
    })
    .await;
    assert_eq!(metrics.value("exas_state_changes_total", &[]), Some(4.0));
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        assert_eq!(
            rig.history(user),
            (expected[i].presence.clone(), expected[i].routing.clone()),
            "agent {i}"
        );
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_leaving_the_scope_are_closed_and_no_longer_synced() {
    let rig = Rig::new(3).await;
    // Two of three agents leave at once: more than the default 10 % (see the empty-scope test).
    let mut config = rig.engine_config();
    config.max_scope_removal_percent = 100;
    let (engine, _, _) = rig.start_engine_with(config);
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    assert_eq!(rig.primary.open_statistics(), 6);
    // Person 1 (agent0000) leaves the scope: deactivated in GC.
    let record = serde_json::json!({
        "dbid": 1, "gcUserId": rig.agents[0].1, "userName": "x", "employeeId": rig.agents[0].0,
        "isAgent": true, "active": false, "logins": [],
    });
    rig.json()
        .put(&PersonRecord::key(1), &record)
        .await
        .unwrap();
    // Person 2 is removed altogether.
    rig.json().delete(&PersonRecord::key(2)).await.unwrap();
    eventually("statistics closed", async || {
        rig.primary.open_statistics() == 2
    })
    .await;
    for (agent, _) in &rig.agents {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
    }
    let mut e = Expected::logged_off();
    e.step(Some("OnQueue"), RoutingStatus::Idle);
    rig.wait_history(&rig.agents[2].1, &e).await;
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    for (_, user) in &rig.agents[..2] {
        assert_eq!(
            rig.history(user),
            (vec!["Offline".to_string()], vec![RoutingStatus::OffQueue])
        );
    }
    engine.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: exas\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_serves_health_and_metrics() {
    let rig = Rig::new(1).await;
    let service = Service::start_with(
        rig.engine_config(),
        rig.store.clone(),
        rig.ns.clone(),
        rig.gc.clone(),
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    rig.wait_history(&rig.agents[0].1, &Expected::logged_off())
        .await;
    eventually("healthy", async || {
        http_get(service.http_addr, "/health").await.0 == 200
    })
    .await;
    let (_, body) = http_get(service.http_addr, "/health").await;
    for dep in ["statServer", "store", "genesysCloud"] {
        assert!(body.contains(dep), "{body}");
    }
    let (code, body) = http_get(service.http_addr, "/metrics").await;
    assert_eq!(code, 200);
    for m in [
        "exas_states_received_total",
        "exas_events_injected_total",
        "exas_outbox_depth",
        "exas_lag_seconds",
        "exas_agents_in_scope 1",
        // The process's own, read at each scrape.
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        // GC's answers per endpoint and class.
        "endpoint=\"/api/v2/events/users/presence\"",
        "exas_gc_responses_total{",
        "exas_gc_wait_seconds_total ",
    ] {
        assert!(body.contains(m), "{m} missing: {body}");
    }
    let (code, body) = http_get(service.http_addr, "/status").await;
    assert_eq!(code, 200);
    for field in [
        "\"active\":true",
        "deadLetters",
        "outboxDepth",
        "scopeFault",
        "\"connected\":{",
        "\"pending\":{\"deadLetters\":0",
        "\"corrId\"",
    ] {
        assert!(body.contains(field), "{field} missing: {body}");
    }
    // Both Stat Servers gone: /health turns 503.
    let mut rig = rig;
    rig.primary.stop().await;
    rig.backup.stop().await;
    eventually("unhealthy", async || {
        http_get(service.http_addr, "/health").await.0 == 503
    })
    .await;
    service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_event_rejections_are_retried_until_accepted() {
    let rig = Rig::new(4).await;
    let (engine, metrics, _) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    // GC answers 200 but reports the next events as failed and retryable, more often than the
    // client's own retry rounds absorb.
    rig.emu.fail_next_events(30);
    let n = rig.agents.len() as f64;
    let steps = [
        (
            Readiness::Ready,
            CallKind::None,
            Some("OnQueue"),
            RoutingStatus::Idle,
        ),
        (
            nr(Some("Break")),
            CallKind::None,
            Some("Break"),
            RoutingStatus::OffQueue,
        ),
        (
            Readiness::Ready,
            CallKind::Outbound,
            Some("OnQueue"),
            RoutingStatus::Interacting,
        ),
    ];
    for (k, (readiness, call, presence, routing)) in steps.into_iter().enumerate() {
        for (i, (agent, _)) in rig.agents.iter().enumerate() {
            rig.set(agent, Login::LoggedIn, readiness.clone(), call);
            expected[i].step(presence, routing);
        }
        let want = n * (k as f64 + 2.0);
        eventually("step queued", async || {
            metrics.value("exas_state_changes_total", &[]) >= Some(want)
        })
        .await;
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    assert_eq!(
        metrics.value("exas_events_rejected_total", &[("kind", "presence")]),
        Some(0.0)
    );
    engine.shutdown().await;
}

#[test]
fn exas_binary_names_every_missing_variable_in_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_exas"))
        .env_clear()
        .env("EXAS_STAT_SERVER_PRIMARY_HOST", "stat1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for name in [
        "EXEC_ORG_ID",
        "EXEC_TENANT_ID",
        "EXAS_STAT_SERVER_PRIMARY_PORT",
        "EXAS_STAT_SERVER_BACKUP_HOST",
        "EXAS_STAT_SERVER_BACKUP_PORT",
        "EXEC_REDIS_HOST",
    ] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
    // The GC connection comes from hybrid_integration (published by EXCS) unless EXAS_GC_*
    // overrides it.
    assert!(!err.contains("EXAS_GC_"), "{err}");
    assert!(
        !err.contains("missing EXAS_STAT_SERVER_PRIMARY_HOST"),
        "{err}"
    );
}

fn dead_letters(rig: &Rig) -> Outbox {
    engage_exas::delivery::dead_letters(rig.store.clone(), &rig.ns)
}

async fn source_id(rig: &Rig) -> String {
    rig.json()
        .get::<String>(PRESENCE_SOURCE_KEY)
        .await
        .unwrap()
        .unwrap()
}

fn routing_item(user: &str, source: &str, status: RoutingStatus) -> OutboxItem {
    OutboxItem {
        received_ms: 0,
        presence: None,
        routing: Some(UserRoutingStatusEvent {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_date_time: gcex::events::event_time(time::OffsetDateTime::now_utc()),
            agent_id: user.to_string(),
            status,
            source_id: source.to_string(),
        }),
    }
}

/// Fault test: the outbox holds, in the middle of good items, garbage bytes (no longer
/// decodable) and an item GC refuses for good (an unknown user); GC also rejects the first
/// requests as a whole (400). The bad items are isolated and parked, every other item is
/// applied exactly once, and nothing blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_refused_items_are_parked_and_the_rest_flows() {
    // No agent in scope: the outbox holds only what the test writes.
    let rig = Rig::new(0).await;
    let source = source_id(&rig).await;
    let mut users = Vec::new();
    for i in 0..8 {
        let u = rig
            .gc
            .create_user(&CreateUser {
                name: format!("direct{i}"),
                email: format!("direct{i}@example.com"),
                ..CreateUser::default()
            })
            .await
            .unwrap();
        users.push(u.id);
    }
    let outbox = Outbox::new(rig.store.clone(), &rig.ns, OUTBOX_NAME);
    for u in &users[..4] {
        outbox
            .push_entry(&routing_item(u, &source, RoutingStatus::Idle))
            .await
            .unwrap();
    }
    rig.store
        .queue_push(outbox.queue_key(), b"\xff\x00 not an outbox item")
        .await
        .unwrap();
    let ghost = uuid::Uuid::new_v4().to_string();
    outbox
        .push_entry(&routing_item(&ghost, &source, RoutingStatus::Idle))
        .await
        .unwrap();
    for u in &users[4..] {
        outbox
            .push_entry(&routing_item(u, &source, RoutingStatus::Idle))
            .await
            .unwrap();
    }
    // The first four routing-status requests are refused as a whole: 9 → 4 → 2 → 1 events,
    // so the first item ends up alone and is parked; the rest goes through.
    rig.emu.inject_fault(Fault {
        path_prefix: "/api/v2/events/users/routingstatus".into(),
        remaining: 4,
        kind: FaultKind::Status { status: 400 },
    });
    let (engine, metrics, _) = rig.start_engine();
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    let parked: Vec<DeadLetter> = dead_letters(&rig).peek(10).await.unwrap();
    assert_eq!(parked.len(), 3, "{parked:?}");
    assert!(parked.iter().any(|d| {
        d.item.is_none()
            && d.raw
                .as_deref()
                .is_some_and(|r| r.contains("not an outbox item"))
    }));
    assert!(parked.iter().any(|d| {
        d.status == Some(400)
            && d.item
                .as_ref()
                .and_then(|i| i.routing.as_ref())
                .map(|r| r.agent_id.as_str())
                == Some(users[0].as_str())
    }));
    assert!(parked.iter().any(|d| {
        d.status.is_none()
            && d.item
                .as_ref()
                .and_then(|i| i.routing.as_ref())
                .map(|r| r.agent_id.as_str())
                == Some(ghost.as_str())
    }));
    for u in &users[1..] {
        assert_eq!(rig.history(u).1, vec![RoutingStatus::Idle], "user {u}");
    }
    assert!(rig.history(&users[0]).1.is_empty());
    eventually("dead letters counted", async || {
        metrics.value("exas_dead_letter_events", &[]) == Some(3.0)
            && engine.status().dead_letters == 3
    })
    .await;
    assert!(engine.status().last_dead_letter.is_some());
    engine.shutdown().await;
}

/// Fault test: an agent whose GC user does not exist changes state with everyone else in a
/// busy stream; its changes are parked, everyone else's arrive in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanently_rejected_agent_in_a_busy_stream_is_parked_and_the_rest_flows() {
    let rig = Rig::new(6).await;
    // A person whose GC user id GC does not know (deleted in GC after EXCS published it).
    let ghost_user = uuid::Uuid::new_v4().to_string();
    add_person(&rig.json(), 999, "ghost", &ghost_user).await;
    let (engine, metrics, _) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    let steps = [
        (
            Readiness::Ready,
            CallKind::None,
            Some("OnQueue"),
            RoutingStatus::Idle,
        ),
        (
            Readiness::Ready,
            CallKind::Inbound,
            Some("OnQueue"),
            RoutingStatus::Interacting,
        ),
        (
            nr(Some("Break")),
            CallKind::None,
            Some("Break"),
            RoutingStatus::OffQueue,
        ),
    ];
    let n = rig.agents.len() as f64 + 1.0;
    for (k, (readiness, call, presence, routing)) in steps.into_iter().enumerate() {
        rig.set("ghost", Login::LoggedIn, readiness.clone(), call);
        for (i, (agent, _)) in rig.agents.iter().enumerate() {
            rig.set(agent, Login::LoggedIn, readiness.clone(), call);
            expected[i].step(presence, routing);
        }
        let want = n * (k as f64 + 2.0);
        eventually("step queued", async || {
            metrics.value("exas_state_changes_total", &[]) >= Some(want)
        })
        .await;
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    eventually("outbox drained", async || {
        engine.outbox_len().await.unwrap() == 0
    })
    .await;
    let parked: Vec<DeadLetter> = dead_letters(&rig).peek(100).await.unwrap();
    assert_eq!(parked.len(), 4, "the ghost's four changes: {parked:?}");
    for d in &parked {
        let item = d.item.as_ref().unwrap();
        let user = item
            .routing
            .as_ref()
            .map(|r| r.agent_id.clone())
            .or_else(|| item.presence.as_ref().map(|p| p.user_id.clone()));
        assert_eq!(user.as_deref(), Some(ghost_user.as_str()));
    }
    engine.shutdown().await;
}

/// Fault test: two EXAS instances on one outbox (a rolling update). The second stands by
/// (log, /health, /status), opens no statistic, and takes over when the first stops; every
/// state arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_outbox_lose_and_duplicate_nothing() {
    let rig = Rig::new(4).await;
    let (first, _, _) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    let (second, second_metrics, second_health) = rig.start_engine();
    eventually("second stands by", async || {
        let r = second_health.report();
        r.dependencies
            .get("outboxLease")
            .is_some_and(|d| !d.up && d.detail.contains("standby"))
    })
    .await;
    assert!(!second.status().active);
    assert_eq!(
        second.status().lease_holder.as_deref(),
        Some(first.status().instance.as_str())
    );
    assert_eq!(second_health.report().status, "DOWN");
    assert_eq!(
        rig.primary.open_statistics(),
        8,
        "only the holder opens statistics"
    );
    // States change while the first works.
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
        expected[i].step(Some("OnQueue"), RoutingStatus::Idle);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    // The first stops (rolling update); the second takes over.
    first.shutdown().await;
    eventually("second takes over", async || second.status().active).await;
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, nr(Some("Meal")), CallKind::None);
        expected[i].step(Some("Meal"), RoutingStatus::OffQueue);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    eventually("outbox drained", async || {
        second.outbox_len().await.unwrap() == 0
    })
    .await;
    // Nothing duplicated: the histories are exactly the expected ones (no state twice), and
    // the second sent only the new changes (delivered states came from the store).
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        assert_eq!(
            rig.history(user),
            (expected[i].presence.clone(), expected[i].routing.clone()),
            "agent {i}"
        );
    }
    assert_eq!(
        second_metrics.value("exas_state_changes_total", &[]),
        Some(rig.agents.len() as f64)
    );
    assert_eq!(rig.primary.open_statistics(), 8);
    second.shutdown().await;
}

/// Fault test: the scope EXCS published disappears (a flush, a wrong namespace). EXAS closes
/// nothing, keeps syncing, and says so in /health and /status until the scope is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_scope_closes_nothing() {
    let rig = Rig::new(3).await;
    let (engine, _, health) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    assert_eq!(rig.primary.open_statistics(), 6);
    for i in 0..rig.agents.len() {
        rig.json()
            .delete(&PersonRecord::key(i as i64 + 1))
            .await
            .unwrap();
    }
    eventually("scope fault reported", async || {
        health
            .report()
            .dependencies
            .get("scope")
            .is_some_and(|d| !d.up && d.detail.contains("empty"))
    })
    .await;
    assert!(engine.status().scope_fault.is_some());
    // Several scope reads later, nothing was closed and states still flow.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.primary.open_statistics(), 6);
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
        expected[i].step(Some("OnQueue"), RoutingStatus::Idle);
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    // A shrink by two of three is held too (more than 10 %).
    add_person(&rig.json(), 1, &rig.agents[0].0, &rig.agents[0].1).await;
    eventually("shrink held", async || {
        engine
            .status()
            .scope_fault
            .is_some_and(|f| f.contains("EXAS_MAX_SCOPE_REMOVAL_PERCENT"))
    })
    .await;
    assert_eq!(rig.primary.open_statistics(), 6);
    // The scope comes back: the fault clears.
    for (i, (agent, user)) in rig.agents.iter().enumerate() {
        add_person(&rig.json(), i as i64 + 1, agent, user).await;
    }
    eventually("scope fault cleared", async || {
        health
            .report()
            .dependencies
            .get("scope")
            .is_some_and(|d| d.up)
    })
    .await;
    assert!(engine.status().scope_fault.is_none());
    assert_eq!(rig.primary.open_statistics(), 6);
    engine.shutdown().await;
}

/// Fault test: GC refuses every event request as forbidden (403, a role removed). Nothing is
/// dropped or parked: the items wait, /health says why, and they flow once GC accepts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_gc_holds_events_back_and_drops_nothing() {
    let rig = Rig::new(3).await;
    let (engine, _, health) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (_, user) in &rig.agents {
        rig.wait_history(user, &Expected::logged_off()).await;
    }
    rig.emu.inject_fault(Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: 1000,
        kind: FaultKind::Status { status: 403 },
    });
    for (i, (agent, _)) in rig.agents.iter().enumerate() {
        rig.set(agent, Login::LoggedIn, Readiness::Ready, CallKind::None);
        expected[i].step(Some("OnQueue"), RoutingStatus::Idle);
    }
    eventually("systemic failure reported", async || {
        health
            .report()
            .dependencies
            .get("genesysCloud")
            .is_some_and(|d| !d.up && d.detail.contains("systemic"))
    })
    .await;
    assert!(engine.outbox_len().await.unwrap() > 0);
    rig.emu.clear_faults();
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    assert_eq!(dead_letters(&rig).len().await.unwrap(), 0);
    engine.shutdown().await;
}

/// Issue 12: the shared store (Redis, persistent) killed with SIGKILL for a while under EXAS
/// while agents change state, then started again: every agent's latest state reaches GC, and
/// what GC got for each agent is a subsequence of what the agent went through (nothing
/// invented, nothing out of order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_under_exas_the_latest_states_reach_gc() {
    redis_killed_under_exas(engage_test_support::PrivateRedis::start(), false).await;
}

/// Issue 12: the same with a Redis that keeps nothing on disk: it comes back empty (no outbox,
/// no delivered marks, no person records). EXCS republishes its records after a wipe (tested
/// in excs_e2e); here the test puts them back as EXCS would, and every agent's latest state
/// still reaches GC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_without_persistence_under_exas_the_latest_states_reach_gc() {
    redis_killed_under_exas(engage_test_support::PrivateRedis::start_ephemeral(), true).await;
}

async fn redis_killed_under_exas(mut redis: engage_test_support::PrivateRedis, empty: bool) {
    let rig = Rig::new_on(4, TestRedis::create_at(&redis.url()).await).await;
    let (engine, _metrics, _health) = rig.start_engine();
    let mut expected: Vec<Expected> = vec![Expected::logged_off(); rig.agents.len()];
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        rig.wait_history(user, &expected[i]).await;
    }
    redis.kill_9();
    let steps: Vec<(Readiness, CallKind, Option<&str>, RoutingStatus)> = vec![
        (
            Readiness::Ready,
            CallKind::None,
            Some("OnQueue"),
            RoutingStatus::Idle,
        ),
        (
            Readiness::Ready,
            CallKind::Inbound,
            Some("OnQueue"),
            RoutingStatus::Interacting,
        ),
        (
            nr(Some("Meal")),
            CallKind::None,
            Some("Meal"),
            RoutingStatus::OffQueue,
        ),
    ];
    for (readiness, call, presence, routing) in steps {
        for (i, (agent, _)) in rig.agents.iter().enumerate() {
            rig.set(agent, Login::LoggedIn, readiness.clone(), call);
            expected[i].step(presence, routing);
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    redis.restart();
    if empty {
        // What EXCS republishes when it finds the store wiped.
        let json = rig.json();
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let source = loop {
            match rig.gc.presence_sources().await {
                Ok(list) => break list,
                Err(e) => {
                    assert!(tokio::time::Instant::now() < deadline, "{e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        let source = source
            .into_iter()
            .find_map(|s| s.id)
            .expect("the rig's presence source");
        loop {
            if json.put(PRESENCE_SOURCE_KEY, &source).await.is_ok() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Redis never came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for (i, (agent, user)) in rig.agents.iter().enumerate() {
            add_person(&json, i as i64 + 1, agent, user).await;
        }
    }
    for (i, (_, user)) in rig.agents.iter().enumerate() {
        let want = &expected[i];
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let (p, r) = rig.history(user);
            let latest = p.last() == want.presence.last() && r.last() == want.routing.last();
            if latest {
                assert!(
                    is_subsequence(&p, &want.presence),
                    "{p:?} vs {:?}",
                    want.presence
                );
                assert!(
                    is_subsequence(&r, &want.routing),
                    "{r:?} vs {:?}",
                    want.routing
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "user {user}: {p:?} / {r:?} never reached {:?} / {:?}",
                want.presence,
                want.routing
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    engine.shutdown().await;
}
