//! EXCS and EXAS together: EXCS syncs a generated contact center (real PostgreSQL) into the GC
//! emulator and publishes its person records and presence source in real Redis; EXAS picks
//! the agents up from there and syncs their Stat Server states.

use engage_exas::driver::{Driver, DriverConfig, DriverDeps};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_statserver::client::{ClientConfig, Endpoint};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::{AgentState, CallKind, Login, Readiness, ServerMode};
use engage_store::{JsonView, PersonRecord};
use gcex::{GcClient, RetryPolicy};
use std::time::Duration;

mod common;
use common::world;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exas_syncs_the_agents_excs_published() {
    let w = world(12).await;
    let (emu, store, ns) = (&w.gc, w.store.clone(), w.ns.clone());
    // EXCS: one sync cycle.
    let mut excs = w.excs().await;
    let report = excs.poll_once().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let persons: Vec<PersonRecord> = JsonView::new(store.clone(), ns.clone())
        .scan::<PersonRecord>(PersonRecord::PREFIX)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let agents: Vec<&PersonRecord> = persons.iter().filter(|p| p.is_agent && p.active).collect();
    assert!(agents.len() >= 2, "the seed has agents: {persons:?}");

    // EXAS on the same store.
    let world = SimWorld::new();
    let sim = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().unwrap(),
        ServerMode::Primary,
    )
    .await
    .unwrap();
    let gc = GcClient::new(emu.client_config().with_retry(RetryPolicy::fast())).unwrap();
    let mut config = DriverConfig::new(ClientConfig::new(
        Endpoint::new("127.0.0.1", sim.local_addr().port()),
        None,
    ));
    config.scope_every = Duration::from_millis(100);
    config.setup_retry = Duration::from_millis(50);
    let engine = Driver::start(
        config,
        DriverDeps {
            store,
            ns,
            gc,
            health: Health::new(),
            metrics: Metrics::new(),
        },
    );
    let presence = |user: &str| -> Vec<String> {
        emu.presence_history(user)
            .into_iter()
            .map(|r| r.system_presence.unwrap_or_default())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for a in &agents {
        while presence(&a.gc_user_id) != ["Offline"] {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never went Offline: {:?}",
                a.user_name,
                presence(&a.gc_user_id)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The Stat Server knows agents by Employee ID (else User Name), as EXCS published them.
    let first = agents[0];
    let status = AgentState::new(
        first.stat_agent_id(),
        Login::LoggedIn,
        Readiness::NotReady {
            reason: Some("Training".into()),
        },
        CallKind::None,
        1_700_000_000,
    )
    .to_status("place", "dn", "sw");
    world.set_agent_state(first.stat_agent_id(), status);
    while presence(&first.gc_user_id) != ["Offline", "Training"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "Training never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // People who are not agents get nothing.
    for p in persons.iter().filter(|p| !p.is_agent) {
        assert!(
            presence(&p.gc_user_id).is_empty(),
            "{} is not an agent",
            p.user_name
        );
    }
    engine.shutdown().await;
}
