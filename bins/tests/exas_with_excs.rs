//! EXCS and EXAS together: EXCS syncs a generated contact center (real PostgreSQL) into the GC
//! emulator and publishes its person records and presence source in real Redis; EXAS picks
//! the agents up from there and syncs their Stat Server states.

use engage_cfgdb::seed::{SeedSpec, install_schema_postgres, seed_postgres};
use engage_cfgdb::{PgConfigDb, SchemaMap};
use engage_connector::exas::engine::{Engine, EngineConfig, EngineDeps};
use engage_connector::excs::service::{Excs, ExcsSettings};
use engage_connector::ops::health::Health;
use engage_connector::ops::metrics::Metrics;
use engage_connector::store::{JsonView, Namespace, PersonRecord, RedisConfig, RedisStore, Store};
use engage_statserver::client::{ClientConfig, Endpoint};
use engage_statserver::sim::{SimServer, SimWorld};
use engage_statserver::{AgentState, CallKind, Login, Readiness, ServerMode};
use engage_test_support::{TestDb, TestRedis};
use gcex::emulator::{Emulator, EmulatorConfig};
use gcex::{GcClient, RetryPolicy};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const CLIENT_ID: &str = "exas-excs";
const CLIENT_SECRET: &str = "exas-excs-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exas_syncs_the_agents_excs_published() {
    let emu = Emulator::start(
        EmulatorConfig::new(CLIENT_ID, CLIENT_SECRET).with_rate_limit(0, Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let db = TestDb::create().await;
    let client = db.connect().await;
    install_schema_postgres(&client).await.unwrap();
    let mut spec = SeedSpec::agents(12);
    let url = emu.base_url().to_string();
    for (s, k, v) in [
        ("general", "base_service_url", url.as_str()),
        ("general", "base_auth_url", url.as_str()),
        ("config_sync", "client_id", CLIENT_ID),
        ("config_sync", "client_secret", CLIENT_SECRET),
    ] {
        spec.hybrid.push((s.into(), k.into(), v.into()));
    }
    seed_postgres(&client, &SchemaMap::default(), &spec)
        .await
        .unwrap();
    let redis = TestRedis::create().await;
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&RedisConfig::from_url(redis.url()).unwrap())
            .await
            .unwrap(),
    );
    let ns = Namespace::with_prefix(redis.prefix());

    // EXCS: one sync cycle.
    let cfg = db.config().to_string();
    let get = |k: &str| {
        cfg.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    let env: BTreeMap<String, String> = [
        ("EXEC_ORG_ID", "org-exas".to_string()),
        ("EXEC_TENANT_ID", "1".to_string()),
        ("TENANT_NAME", "tenant001".to_string()),
        ("EXCS_GC_QUEUE_NAME_SUFFIX", "-Engage-external".to_string()),
        ("EXCS_CONFIG_DB_HOST", get("host")),
        ("EXCS_CONFIG_DB_PORT", get("port")),
        ("EXCS_CONFIG_DB_USER", get("user")),
        ("EXCS_CONFIG_DB_NAME", db.name().to_string()),
        ("EXCS_GC_RATE_LIMIT_PER_MIN", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = ExcsSettings::from_env(&env).unwrap();
    let mut excs = Excs::start(
        settings,
        Box::new(PgConfigDb::from_conn_str(db.config()).unwrap()),
        store.clone(),
        ns.clone(),
        Health::new(),
        Metrics::new(),
    )
    .await
    .unwrap();
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
    let mut config = EngineConfig::new(ClientConfig::new(
        Endpoint::new("127.0.0.1", sim.local_addr().port()),
        None,
    ));
    config.scope_every = Duration::from_millis(100);
    config.setup_retry = Duration::from_millis(50);
    let engine = Engine::start(
        config,
        EngineDeps {
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
