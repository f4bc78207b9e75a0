//! The world the end-to-end tests share: a generated contact center in a private real
//! PostgreSQL database, a private Redis key prefix as the shared store, and the GC EX emulator,
//! plus EXCS settings pointing at all three.
#![allow(dead_code)] // each test crate uses a part

pub mod excp;

use engage_cfgdb::seed::{SeedSpec, install_schema_postgres, seed_postgres};
use engage_cfgdb::{PgConfigDb, SchemaMap, read_snapshot};
use engage_excs::service::{Excs, ExcsSettings};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::{IdMap, JsonView, Namespace, RedisConfig, RedisStore, Store};
use engage_test_support::{TestDb, TestRedis};
use gcex::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The emulator's OAuth client (every service of a test uses it).
pub const CLIENT_ID: &str = "e2e-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "e2e-client-secret";

/// One test's world.
pub struct World {
    pub db: TestDb,
    pub redis: TestRedis,
    pub gc: EmulatorHandle,
    pub store: Arc<dyn Store>,
    pub ns: Namespace,
}

/// A world with `agents` generated agents (and the seed's supervisors, VQs, VAGs, codes).
pub async fn world(agents: usize) -> World {
    world_on(agents, TestRedis::create().await).await
}

/// [`world`] with its store on `redis` (a private Redis server a fault test controls).
pub async fn world_on(agents: usize, redis: TestRedis) -> World {
    world_with(agents, redis, &[]).await
}

/// [`world_on`] with extra `hybrid_integration` options `(section, key, value)`.
pub async fn world_with(agents: usize, redis: TestRedis, extra: &[(&str, &str, &str)]) -> World {
    let gc = Emulator::start(
        EmulatorConfig::new(CLIENT_ID, CLIENT_SECRET).with_rate_limit(0, Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let db = TestDb::create().await;
    let client = db.connect().await;
    install_schema_postgres(&client).await.unwrap();
    let mut spec = SeedSpec::agents(agents);
    let url = gc.base_url().to_string();
    for (s, k, v) in [
        ("general", "base_service_url", url.as_str()),
        ("general", "base_auth_url", url.as_str()),
        ("config_sync", "client_id", CLIENT_ID),
        ("config_sync", "client_secret", CLIENT_SECRET),
        ("agent_state_sync", "client_id", CLIENT_ID),
        ("agent_state_sync", "client_secret", CLIENT_SECRET),
        ("conversation_provider", "client_id", CLIENT_ID),
        ("conversation_provider", "client_secret", CLIENT_SECRET),
        (
            "recording-uploader.exec.genesysCloud",
            "client_id",
            CLIENT_ID,
        ),
        (
            "recording-uploader.exec.genesysCloud",
            "password",
            CLIENT_SECRET,
        ),
    ] {
        spec.hybrid.push((s.into(), k.into(), v.into()));
    }
    for (s, k, v) in extra {
        spec.hybrid.push(((*s).into(), (*k).into(), (*v).into()));
    }
    seed_postgres(&client, &SchemaMap::default(), &spec)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&RedisConfig::from_url(redis.url()).unwrap())
            .await
            .unwrap(),
    );
    let ns = Namespace::with_prefix(redis.prefix());
    World {
        db,
        redis,
        gc,
        store,
        ns,
    }
}

/// Whether the suites run on the SCIM path (`ENGAGE_TEST_EXCS_USER_API`, default `scim`).
pub fn on_scim() -> bool {
    std::env::var("ENGAGE_TEST_EXCS_USER_API").map_or(true, |v| v.eq_ignore_ascii_case("scim"))
}

/// The path prefix of the requests that create and update users on the path in use.
pub fn user_requests_prefix() -> &'static str {
    if on_scim() {
        "/api/v2/scim/v2/users"
    } else {
        "/api/v2/users"
    }
}

impl World {
    /// EXCS settings for this world (a drift check every poll, no rate limit; the user API of
    /// `ENGAGE_TEST_EXCS_USER_API`, default SCIM).
    pub fn settings(&self) -> ExcsSettings {
        let cfg = self.db.config().to_string();
        let get = |k: &str| {
            cfg.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_string()
        };
        let env: BTreeMap<String, String> = [
            ("EXEC_ORG_ID", "org-e2e".to_string()),
            ("EXEC_TENANT_ID", "1".to_string()),
            ("EXEC_GC_ALLOW_HTTP", "true".to_string()),
            ("TENANT_NAME", "tenant001".to_string()),
            ("EXCS_GC_QUEUE_NAME_SUFFIX", "-Engage-external".to_string()),
            ("EXCS_CONFIG_DB_HOST", get("host")),
            ("EXCS_CONFIG_DB_PORT", get("port")),
            ("EXCS_CONFIG_DB_USER", get("user")),
            ("EXCS_CONFIG_DB_NAME", self.db.name().to_string()),
            ("EXCS_DRIFT_CHECK_EVERY", "1".to_string()),
            ("EXCS_GC_RATE_LIMIT_PER_MIN", "0".to_string()),
            // `ENGAGE_TEST_EXCS_USER_API=users` runs the suites on the Users API path.
            (
                "EXCS_USER_API",
                std::env::var("ENGAGE_TEST_EXCS_USER_API").unwrap_or_else(|_| "scim".into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        ExcsSettings::from_env(&env).unwrap()
    }

    /// EXCS with these settings.
    pub async fn excs_with(&self, settings: ExcsSettings) -> Excs {
        let db = PgConfigDb::from_conn_str(self.db.config()).unwrap();
        Excs::start(
            settings,
            Box::new(db),
            self.store.clone(),
            self.ns.clone(),
            Health::new(),
            Metrics::new(),
        )
        .await
        .unwrap()
    }

    /// EXCS with the world's settings.
    pub async fn excs(&self) -> Excs {
        self.excs_with(self.settings()).await
    }

    /// A fresh snapshot of the Config DB.
    pub async fn snapshot(&self) -> engage_cfgdb::Snapshot {
        let db = PgConfigDb::from_conn_str(self.db.config()).unwrap();
        read_snapshot(&db, &SchemaMap::default()).await.unwrap()
    }

    /// The id maps in the store.
    pub fn ids(&self) -> IdMap {
        IdMap::new(self.store.clone(), self.ns.clone())
    }

    /// The JSON records in the store.
    pub fn json(&self) -> JsonView {
        JsonView::new(self.store.clone(), self.ns.clone())
    }

    /// A GC client of the emulator.
    pub fn gc_client(&self) -> gcex::GcClient {
        gcex::GcClient::new(self.gc.client_config()).unwrap()
    }
}

/// One HTTP/1.1 request over a fresh connection; the status and the JSON body (`Null` when
/// the body is not JSON).
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let code: u16 = buf[9..12].parse().unwrap();
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        code,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}
