//! What the EXCP end-to-end tests share: a contact center synced by EXCS, the seeded agent,
//! extension and VQ a scenario is played on, and small waiting helpers.

use super::{World, world};
use engage_callmodel::scenario::Scenario;
use engage_excp::config::ServerPair;
use engage_excp::service::{Deps, RunSettings, Service};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::{DnRecord, IdKind, PersonRecord};
use engage_tlib::client::Endpoint;
use engage_tlib::sim::SimServer;
use gcex::{GcClient, RetryPolicy};
use std::time::Duration;

/// The agent extension and VQ of the seeded contact center a scenario is played on.
pub struct Target {
    /// The agent's extension DN.
    pub extension: String,
    /// The agent's login code.
    pub login_code: String,
    /// The agent's GC user id.
    pub user_id: String,
    /// The VQ DN.
    pub vq: String,
    /// The VQ's GC queue id.
    pub queue_id: String,
}

pub async fn synced_world() -> (World, Target) {
    synced_world_in(None).await
}

/// [`synced_world`] with the store namespace `ns` instead of the test's private prefix (for
/// services run as processes, whose namespace is `exec:{tenant}:{org}:`).
pub async fn synced_world_in(ns: Option<engage_store::Namespace>) -> (World, Target) {
    synced_world_on(ns, None).await
}

/// [`synced_world_in`] with the store on a given Redis (a private server a fault test
/// controls).
pub async fn synced_world_on(
    ns: Option<engage_store::Namespace>,
    redis: Option<engage_test_support::TestRedis>,
) -> (World, Target) {
    let mut w = match redis {
        Some(r) => super::world_on(8, r).await,
        None => world(8).await,
    };
    if let Some(ns) = ns {
        w.ns = ns;
    }
    let mut excs = w.excs().await;
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let json = w.json();
    // An agent with a login on SIP_Switch_1, and an extension of that switch to log in at.
    let agent = json
        .scan::<PersonRecord>(PersonRecord::PREFIX)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.is_agent && p.active && p.logins.iter().any(|l| l.switch == "SIP_Switch_1"))
        .expect("an agent with a login on SIP_Switch_1");
    let login_code = agent
        .logins
        .iter()
        .find(|l| l.switch == "SIP_Switch_1")
        .unwrap()
        .login_code
        .clone();
    let extension = json
        .scan::<DnRecord>("dn:")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d.switch == "SIP_Switch_1")
        .expect("an extension on SIP_Switch_1")
        .number;
    let user_id = agent.gc_user_id.clone();
    let snap = w.snapshot().await;
    let vq = snap
        .dns
        .values()
        .find(|d| d.number == "VQ_Sales_1" && d.switch_dbid == 101)
        .expect("VQ_Sales_1 on switch 101");
    let queue_id = w
        .ids()
        .gc_id(IdKind::Queue, &vq.dbid.to_string())
        .await
        .unwrap()
        .expect("VQ_Sales_1 is mapped");
    (
        w,
        Target {
            extension,
            login_code,
            user_id,
            vq: "VQ_Sales_1".into(),
            queue_id,
        },
    )
}

/// Scenario 01 (IVR → queue → agent) on the seeded extension and VQ.
pub fn scenario_on(t: &Target) -> Scenario {
    let path = Scenario::project_dir().join("01-inbound-ivr-queue-agent-customer-hangs-up.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"7001\"", &format!("\"{}\"", t.extension))
        .replace("VQ_Sales", &t.vq);
    Scenario::parse(&path, &text).unwrap()
}

pub fn gc_event_count(s: &Scenario) -> usize {
    s.expect
        .iter()
        .filter(|e| {
            let ty = e.get("type").and_then(|t| t.as_str()).unwrap_or_default();
            ty != "recordingSegment" && ty != "conversationClosed"
        })
        .count()
}

pub async fn start_excp(w: &World, sim: &SimServer, instance: &str) -> Service {
    let pair = ServerPair {
        primary: Endpoint::new("127.0.0.1", sim.local_addr().port()),
        backup: None,
    };
    start_excp_on(w, pair, instance).await
}

pub async fn start_excp_on(w: &World, pair: ServerPair, instance: &str) -> Service {
    let mut settings = RunSettings::new(vec![pair], instance);
    settings.liveness_ttl = Duration::from_secs(3);
    settings.switch = Some("SIP_Switch_1".into());
    settings.tick = Duration::from_millis(20);
    settings.lookup_every = Duration::from_millis(200);
    settings.tlib_tweak = |c| {
        c.backoff_initial = Duration::from_millis(20);
        c.backoff_max = Duration::from_millis(200);
    };
    let deps = Deps {
        store: w.store.clone(),
        ns: w.ns.clone(),
        gc: GcClient::new(w.gc.client_config().with_retry(RetryPolicy::fast())).unwrap(),
        health: Health::new(),
        metrics: Metrics::new(),
    };
    Service::start_with(settings, deps, "127.0.0.1", 0)
        .await
        .unwrap()
}

pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}
