//! Issue 12 §5: every service binary stops cleanly on SIGTERM (what `docker stop`, systemd and
//! Kubernetes send): exit code 0 well within a 30 s grace period, a line naming the signal, and a
//! last "stopped cleanly" line. EXCS is stopped in the middle of a rate-limited initial sync (under
//! load) and started again: the sync completes with every user once. EXAS, EXCP and EXRP are
//! stopped while retrying their unreachable Stat Server / SIP Servers and idle. (EXCP under a
//! call load, with its checkpoint, is in `chaos.rs`.)

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One service process, its output in a file.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, path: &str, env: &[(String, String)], dir: &Path) -> Proc {
        let log = dir.join(format!(
            "{name}-{}.log",
            engage_test_support::unique_name("run")
        ));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("the binary starts");
        Proc { name, child, log }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (up to 60 s) for `needle` in the output.
    fn wait_for_line(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.text().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} ended ({status}) before {needle:?}:\n{}",
                    self.name,
                    self.text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {needle:?} in 60 s:\n{}",
                self.name,
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and checks the clean stop: exit 0 within 30 s, the signal named, the last
    /// line said.
    fn sigterm_and_check(&mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not stop within 30 s of SIGTERM:\n{}",
                self.name,
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let text = self.text();
        assert_eq!(status.code(), Some(0), "{}:\n{text}", self.name);
        assert!(
            text.contains("SIGTERM"),
            "{}: signal not named:\n{text}",
            self.name
        );
        assert!(
            text.contains(&format!("{} stopped cleanly", self.name)),
            "{}: no last line:\n{text}",
            self.name
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_host_port() -> (String, String) {
    let url = engage_test_support::redis_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let hp = rest.split(['/', '?']).next().unwrap_or(rest);
    let hp = hp.rsplit_once('@').map_or(hp, |(_, h)| h);
    match hp.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (hp.to_string(), "6379".to_string()),
    }
}

fn closed_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

/// Environment variables.
type Env = Vec<(String, String)>;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The processes' environment on the tests' Redis under a fresh tenant (its keys deleted when
/// the returned guard drops), and EXCS's on `w`'s Config DB.
async fn envs_for(prefix: &str, w: &common::World) -> (Env, Env, engage_test_support::TestRedis) {
    let (redis_host, redis_port) = redis_host_port();
    let tenant = engage_test_support::unique_name(prefix);
    let org = format!("org-{prefix}");
    // The processes build `exec:{tenant}:{org}:` themselves: delete it when done.
    let cleanup = engage_test_support::TestRedis::adopt_from(
        engage_test_support::TestRedis::create_at(&engage_test_support::redis_url()).await,
        engage_store::Namespace::new(&tenant, &org).prefix(),
    );
    let cfg = w.db.config().to_string();
    let db = |k: &str| {
        cfg.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    let base = env(&[
        ("EXEC_ORG_ID", &org),
        ("EXEC_TENANT_ID", tenant.as_str()),
        ("EXEC_REDIS_HOST", redis_host.as_str()),
        ("EXEC_REDIS_PORT", redis_port.as_str()),
        ("EXEC_GC_ALLOW_HTTP", "true"),
        ("LOG_JSON_ENABLE", "false"),
        ("LOG_CONSOLE_LEVEL", "info"),
    ]);
    let mut excs = base.clone();
    excs.extend(env(&[
        ("TENANT_NAME", "tenant001"),
        ("EXCS_GC_QUEUE_NAME_SUFFIX", "-Engage-external"),
        ("EXCS_CONFIG_DB_HOST", &db("host")),
        ("EXCS_CONFIG_DB_PORT", &db("port")),
        ("EXCS_CONFIG_DB_USER", &db("user")),
        ("EXCS_CONFIG_DB_PASSWORD", "unused-with-trust"),
        ("EXCS_CONFIG_DB_NAME", w.db.name()),
        ("EXCS_HOST", "127.0.0.1"),
        ("EXCS_PORT", "0"),
        ("EXCS_LOG_LEVEL", "info"),
    ]));
    (base, excs, cleanup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_stops_cleanly_on_sigterm_excs_in_the_middle_of_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let w = common::world(12).await;
    let (base, excs_env, _cleanup) = envs_for("sigterm", &w).await;
    let gc = w.gc.base_url().to_string();

    // EXCS under load: one GC request per second, so the sync of 12 agents (skills, queues,
    // users) is still going when the first user exists.
    let slow: Vec<(String, String)> = excs_env
        .iter()
        .cloned()
        .chain(env(&[
            ("EXCS_GC_RATE_LIMIT_PER_MIN", "1"),
            ("EXCS_GC_RATE_WINDOW_SECS", "1"),
        ]))
        .collect();
    let before = w.gc.org().users.len();
    let mut excs = Proc::spawn("excs", env!("CARGO_BIN_EXE_excs"), &slow, dir.path());
    let deadline = Instant::now() + Duration::from_secs(60);
    while w.gc.org().users.len() < before + 1 {
        assert!(
            Instant::now() < deadline,
            "EXCS never started creating users:\n{}",
            excs.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    excs.sigterm_and_check();
    let part = w.gc.org().users.len();
    // Started again without the limit, it completes the sync: every user once.
    let fast: Vec<(String, String)> = excs_env
        .iter()
        .cloned()
        .chain(env(&[("EXCS_GC_RATE_LIMIT_PER_MIN", "0")]))
        .collect();
    let mut again = Proc::spawn("excs", env!("CARGO_BIN_EXE_excs"), &fast, dir.path());
    again.wait_for_line("sync cycle done");
    let users = w.gc.org().users;
    let names: BTreeSet<Option<String>> = users.iter().map(|u| u.user.email.clone()).collect();
    assert_eq!(names.len(), users.len(), "a user created twice");
    assert!(
        users.len() > part,
        "the second run went on ({part} → {})",
        users.len()
    );
    again.sigterm_and_check();

    // EXAS, EXCP and EXRP: started, retrying their unreachable servers, then stopped.
    let (stat1, stat2, sip) = (closed_port(), closed_port(), closed_port());
    let sip = format!("127.0.0.1:{sip}");
    let creds = |p: &str| {
        env(&[
            (&format!("{p}_GC_BASE_URL"), gc.as_str()),
            (&format!("{p}_GC_CLIENT_ID"), common::CLIENT_ID),
            (&format!("{p}_GC_CLIENT_SECRET"), common::CLIENT_SECRET),
            (&format!("{p}_HOST"), "127.0.0.1"),
            (&format!("{p}_PORT"), "0"),
            (&format!("{p}_LOG_LEVEL"), "info"),
        ])
    };
    let webdav = std::env::var("ENGAGE_TEST_WEBDAV")
        .unwrap_or_else(|_| "http://webdav:webdav-secret@127.0.0.1:8090/recordings".into());
    let others: [(&'static str, &str, Env); 3] = [
        (
            "exas",
            env!("CARGO_BIN_EXE_exas"),
            env(&[
                ("EXAS_STAT_SERVER_PRIMARY_HOST", "127.0.0.1"),
                ("EXAS_STAT_SERVER_PRIMARY_PORT", &stat1),
                ("EXAS_STAT_SERVER_BACKUP_HOST", "127.0.0.1"),
                ("EXAS_STAT_SERVER_BACKUP_PORT", &stat2),
            ]),
        ),
        (
            "excp",
            env!("CARGO_BIN_EXE_excp"),
            env(&[
                ("EXCP_VOICE_SERVER_VQ", &sip),
                ("EXCP_VOICE_SERVER_AGENT", &sip),
                ("EXCP_VOICE_SERVER_CALL", &sip),
                ("EXCP_INSTANCE_ID", "sigterm-1"),
            ]),
        ),
        (
            "exrp",
            env!("CARGO_BIN_EXE_exrp"),
            env(&[("EXRP_WEBDAV_URL", &webdav)]),
        ),
    ];
    for (name, path, own) in others {
        let mut all = base.clone();
        all.extend(creds(&name.to_uppercase()));
        all.extend(own);
        let mut p = Proc::spawn(name, path, &all, dir.path());
        p.wait_for_line(&format!("{name} started"));
        p.sigterm_and_check();
    }
}

/// Issue 19: a long (rate-limited) initial sync logs its progress at INFO at the configured
/// interval (`EXCS_PROGRESS_LOG_SECS`, 1 s here; 10 s by default) with counts that move, and
/// ends with a line of the cycle's figures; nothing per object at INFO.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_sync_logs_moving_progress_lines_then_its_figures() {
    let dir = tempfile::tempdir().unwrap();
    let w = common::world(20).await;
    let (_, mut env, _cleanup) = envs_for("progress", &w).await;
    env.extend(self::env(&[
        // 4 GC requests per second: the sync of 20 agents takes several seconds.
        ("EXCS_GC_RATE_LIMIT_PER_MIN", "4"),
        ("EXCS_GC_RATE_WINDOW_SECS", "1"),
        ("EXCS_PROGRESS_LOG_SECS", "1"),
    ]));
    let mut excs = Proc::spawn("excs", env!("CARGO_BIN_EXE_excs"), &env, dir.path());
    excs.wait_for_line("sync cycle done");
    let text = excs.text();
    let progress: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("sync in progress:"))
        .collect();
    assert!(progress.len() >= 3, "progress lines:\n{text}");
    // The first number of each line is the users done so far ("users 12/20"): it moves.
    let done: Vec<u64> = progress
        .iter()
        .filter_map(|l| {
            let at = l.find("users ")? + "users ".len();
            l[at..].split('/').next()?.trim().parse().ok()
        })
        .collect();
    assert!(done.len() >= 2, "lines count users: {progress:?}");
    assert!(done.windows(2).all(|w| w[1] >= w[0]), "{done:?}");
    assert!(done.last() > done.first(), "the counts move: {done:?}");
    for line in &progress {
        assert!(line.contains("GC requests/s"), "{line}");
    }
    let figures = text
        .lines()
        .find(|l| l.contains("sync cycle done"))
        .expect("the cycle's figures");
    assert!(
        figures.contains("created") && figures.contains("GC requests"),
        "{figures}"
    );
    // Nothing per object at INFO: far fewer lines than objects.
    let info = text.lines().filter(|l| l.contains("INFO")).count();
    assert!(
        info < 40,
        "{info} INFO lines for a sync of 20 agents:\n{text}"
    );
    excs.sigterm_and_check();
}
