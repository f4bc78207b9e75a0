//! # engage-test-support: real services for tests, isolated per test
//!
//! Place in the pipeline: none at run time. Tests of every crate use it to get a private
//! PostgreSQL database ([`TestDb`]) and a private Redis key prefix ([`TestRedis`]) on the real
//! servers that `scripts/test.sh` starts, so tests can run in parallel and leave nothing behind.
//! The workspace end-to-end tests live in this package's `tests/` directory.
//!
//! A test that needs a service and cannot reach it fails with a message saying how to start it;
//! it never silently passes.
//!
//! Connection settings come from the environment, with the loopback defaults `scripts/test.sh`
//! sets up:
//! - `ENGAGE_TEST_PG` (default `host=127.0.0.1 port=5432 user=postgres dbname=postgres`): an
//!   administrative connection allowed to create and drop databases.
//! - `ENGAGE_TEST_REDIS` (default `redis://127.0.0.1:6379/`).
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// Default administrative PostgreSQL connection string used when `ENGAGE_TEST_PG` is unset.
pub const DEFAULT_PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=postgres";
/// Default Redis URL used when `ENGAGE_TEST_REDIS` is unset.
pub const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379/";

const HOW_TO_START: &str = "run scripts/test.sh (it installs and starts PostgreSQL and Redis on \
    loopback), or point ENGAGE_TEST_PG / ENGAGE_TEST_REDIS at running servers";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call, safe as a PostgreSQL identifier and a Redis key part.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let rnd = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}_{n}_{}", std::process::id(), &rnd[..8])
}

/// The administrative PostgreSQL connection string for tests.
pub fn pg_admin_config() -> String {
    std::env::var("ENGAGE_TEST_PG").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// The Redis URL for tests.
pub fn redis_url() -> String {
    std::env::var("ENGAGE_TEST_REDIS").unwrap_or_else(|_| DEFAULT_REDIS.to_string())
}

async fn pg_admin() -> tokio_postgres::Client {
    let cfg = pg_admin_config();
    let (client, conn) = match tokio_postgres::connect(&cfg, tokio_postgres::NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!("cannot reach PostgreSQL at `{cfg}`: {e}. To fix: {HOW_TO_START}"),
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A freshly created, empty PostgreSQL database owned by one test.
///
/// Dropping it drops the database (in a background thread, forcing other sessions off), so
/// nothing is left behind even when the test fails.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    config: String,
}

impl TestDb {
    /// Creates a new empty database. Panics with how to start PostgreSQL if it is unreachable.
    pub async fn create() -> TestDb {
        let admin = pg_admin().await;
        let name = unique_name("engage_test");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let base = pg_admin_config();
        let config = replace_dbname(&base, &name);
        TestDb { name, config }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `tokio_postgres` key=value connection string for this database.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// A `postgres://` URL for this database (host, port and user from the admin config).
    pub fn url(&self) -> String {
        let get = |k: &str, d: &str| {
            self.config
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
                .unwrap_or_else(|| d.to_string())
        };
        format!(
            "postgres://{}@{}:{}/{}",
            get("user", "postgres"),
            get("host", "127.0.0.1"),
            get("port", "5432"),
            self.name
        )
    }

    /// Opens a client connection to this database.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.config, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {}: {e}", self.name));
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

fn replace_dbname(config: &str, db: &str) -> String {
    let mut parts: Vec<String> = config
        .split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .map(str::to_string)
        .collect();
    parts.push(format!("dbname={db}"));
    parts.join(" ")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside or outside a runtime; a private thread with its own runtime works in
        // both cases.
        let handle = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async move {
                let admin = pg_admin().await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        });
        let _ = handle.join();
    }
}

/// A private Redis key prefix for one test. Dropping it deletes every key under the prefix.
#[derive(Debug)]
pub struct TestRedis {
    prefix: String,
    url: String,
}

impl TestRedis {
    /// Checks Redis is reachable and reserves a prefix. Panics with how to start Redis if not.
    pub async fn create() -> TestRedis {
        TestRedis::create_at(&redis_url()).await
    }

    /// [`TestRedis::create`] on the Redis at `url` (a private server a test started).
    pub async fn create_at(url: &str) -> TestRedis {
        let url = url.to_string();
        let client = redis::Client::open(url.as_str())
            .unwrap_or_else(|e| panic!("bad Redis URL `{url}`: {e}"));
        let mut conn = match client.get_multiplexed_async_connection().await {
            Ok(c) => c,
            Err(e) => panic!("cannot reach Redis at `{url}`: {e}. To fix: {HOW_TO_START}"),
        };
        let pong: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("Redis at `{url}` did not answer PING: {e}"));
        assert_eq!(pong, "PONG");
        TestRedis {
            prefix: format!("{}:", unique_name("engtest")),
            url,
        }
    }

    /// Makes `r` responsible for the keys under `prefix` instead of its own (a namespace a
    /// service process builds itself, such as `exec:{tenant}:{org}:` with a unique tenant):
    /// they are deleted on drop.
    pub fn adopt_from(mut r: TestRedis, prefix: impl Into<String>) -> TestRedis {
        r.prefix = prefix.into();
        r
    }

    /// The key prefix (ends with `:`); every key the test writes must start with it.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens a Redis client for the test's own assertions.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str())
            .unwrap_or_else(|e| panic!("bad Redis URL `{}`: {e}", self.url))
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}*", self.prefix);
        let handle = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                    return;
                };
                let mut cursor: u64 = 0;
                loop {
                    let res: Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut conn)
                        .await;
                    let Ok((next, keys)) = res else { return };
                    if !keys.is_empty() {
                        let _: Result<(), _> =
                            redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            });
        });
        let _ = handle.join();
    }
}

/// A private `redis-server` (append-only file on, fsync always, unless started with
/// [`PrivateRedis::start_ephemeral`]) that a test kills and restarts.
pub struct PrivateRedis {
    child: Option<std::process::Child>,
    port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
}

impl PrivateRedis {
    /// Starts one on a free port, its data in a private directory.
    pub fn start() -> PrivateRedis {
        PrivateRedis::start_with(true)
    }

    /// Starts one that keeps nothing on disk (as many sites run Redis, and as this machine's
    /// own Redis does): a restart comes back empty.
    pub fn start_ephemeral() -> PrivateRedis {
        PrivateRedis::start_with(false)
    }

    fn start_with(persistent: bool) -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = PrivateRedis {
            child: None,
            port,
            dir: tempfile::tempdir().unwrap(),
            persistent,
        };
        r.restart();
        r
    }

    /// Its `redis://` URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server on the same port and data directory (a persistent one reloads its
    /// append-only file; an ephemeral one starts empty).
    pub fn restart(&mut self) {
        let appendonly = if self.persistent { "yes" } else { "no" };
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server never listened"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGKILL: no save, no goodbye (the append-only file keeps what was written).
    pub fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill_9();
    }
}
