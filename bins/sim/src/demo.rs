//! The demo: runs every service that works end to end on embedded defaults (a generated Engage
//! contact center in an embedded SQLite Config DB, the GC EX emulator in-process, the embedded
//! store) and prints what it did. It grows with each capability.

use engage_cfgdb::seed::SeedSpec;
use engage_excs::service::{Excs, ExcsSettings};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::{EmbeddedStore, Namespace, PersonRecord, Store};
use gcex::emulator::{Emulator, EmulatorConfig};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "demo-client";
const CLIENT_SECRET: &str = "demo-secret";

/// Runs the demo and prints its summary. Returns a failing exit code if any step failed.
pub fn run() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(demo()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn demo() -> Result<(), String> {
    println!("EX Engage Connector demo (simulated Engage, GC EX emulator, embedded store)");
    let dir = std::env::temp_dir().join(format!("engage-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("temp dir {}: {e}", dir.display()))?;
    let result = run_in(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A self-contained world: the GC emulator, a seeded SQLite Config DB whose
/// `hybrid_integration` points at it, an embedded store, and the EXCS environment for it.
/// The demo, the end-to-end tests and the benchmarks build on it.
#[derive(Debug)]
pub struct Sandbox {
    /// The GC EX org.
    pub gc: gcex::emulator::EmulatorHandle,
    /// The Config DB file.
    pub db_path: std::path::PathBuf,
    /// What the seeding wrote.
    pub seeded: engage_cfgdb::seed::SeedData,
    /// The embedded store.
    pub store: Arc<dyn Store>,
    /// EXCS environment variables for this world.
    pub env: BTreeMap<String, String>,
}

impl Sandbox {
    /// Builds the world in `dir` with `agents` agents; `emulator` configures the org (its
    /// client id/secret are written into `hybrid_integration/config_sync`).
    pub async fn build(
        dir: &std::path::Path,
        agents: usize,
        emulator: EmulatorConfig,
    ) -> Result<Sandbox, String> {
        let client_id = emulator.client_id.clone();
        let secret = emulator.client_secret.expose().to_string();
        let gc = Emulator::start(emulator)
            .await
            .map_err(|e| format!("GC emulator: {e}"))?;
        let db_path = dir.join("configdb.sqlite");
        let url = gc.base_url().to_string();
        let mut spec = SeedSpec::agents(agents);
        for (s, k, v) in [
            ("general", "base_service_url", url.as_str()),
            ("general", "base_auth_url", url.as_str()),
            ("config_sync", "client_id", client_id.as_str()),
            ("config_sync", "client_secret", secret.as_str()),
        ] {
            spec.hybrid.push((s.into(), k.into(), v.into()));
        }
        let seeded =
            engage_cfgdb::seed::seed_url(&format!("sqlite:{}", db_path.display()), &spec, true)
                .await
                .map_err(|e| format!("seeding the Config DB: {e}"))?;
        let store: Arc<dyn Store> = Arc::new(
            EmbeddedStore::open(dir.join("store.redb")).map_err(|e| format!("store: {e}"))?,
        );
        let env: BTreeMap<String, String> = [
            ("EXEC_ORG_ID", gc.config().organization_id.as_str()),
            ("EXEC_TENANT_ID", "1"),
            // The in-process emulator speaks plain HTTP on loopback.
            ("EXEC_GC_ALLOW_HTTP", "true"),
            ("TENANT_NAME", "tenant001"),
            ("EXCS_GC_QUEUE_NAME_SUFFIX", "-Engage-external"),
            ("EXCS_CONFIG_DB_TYPE", "sqlite"),
            ("EXCS_CONFIG_DB_NAME", &db_path.display().to_string()),
            ("EXCS_GC_RATE_LIMIT_PER_MIN", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Ok(Sandbox {
            gc,
            db_path,
            seeded,
            store,
            env,
        })
    }

    /// Starts EXCS on this world.
    pub async fn excs(&self) -> Result<Excs, String> {
        let settings = ExcsSettings::from_env(&self.env).map_err(|e| e.to_string())?;
        let ns = Namespace::new(&settings.common.tenant_id, &settings.common.org_id);
        let db = engage_cfgdb::open(&settings.db).map_err(|e| format!("Config DB: {e}"))?;
        Excs::start(
            settings,
            db,
            self.store.clone(),
            ns,
            Health::new(),
            Metrics::new(),
        )
        .await
        .map_err(|e| format!("EXCS start: {e}"))
    }
}

/// Runs the demo with its files in `dir` (tests call this to keep the demo honest).
pub async fn run_in(dir: &std::path::Path) -> Result<(), String> {
    // The org's recording key pair: the emulator publishes the public half (as GC does), the
    // demo keeps the private half to check what EXRP uploaded.
    let (private, public) =
        engage_exrp::package::PrivateKey::generate().map_err(|e| format!("recording key: {e}"))?;
    let sb = Sandbox::build(
        dir,
        50,
        EmulatorConfig::new(CLIENT_ID, CLIENT_SECRET)
            .with_rate_limit(0, Duration::from_secs(60))
            .with_recording_public_key(public),
    )
    .await?;
    let gc = &sb.gc;
    println!("- GC EX emulator listening on {}", gc.base_url());
    println!(
        "- Engage Config DB (SQLite, {}): {} persons, {} DNs, {} agent groups",
        sb.db_path.display(),
        sb.seeded.count("cfg_person"),
        sb.seeded.count("cfg_dn"),
        sb.seeded.count("cfg_group"),
    );
    let store = sb.store.clone();
    let ns = Namespace::new("1", &gc.config().organization_id);
    let mut excs = sb.excs().await?;
    let t = Instant::now();
    let report = excs
        .poll_once()
        .await
        .map_err(|e| format!("EXCS sync: {e}"))?;
    let took = t.elapsed();
    let org = gc.org();
    let members: usize = org.queues.iter().map(|q| q.member_ids.len()).sum();
    println!(
        "- EXCS initial sync in {:.2} s: created {} users, {} skills, {} queues, {} wrap-up codes; {} queue memberships",
        took.as_secs_f64(),
        report.users_created,
        report.skills_created,
        report.queues_created,
        report.wrap_up_codes_created,
        members,
    );
    if let Some(q) = org.queues.first() {
        println!(
            "  e.g. queue \"{}\" ({})",
            q.queue.name,
            q.queue.description.as_deref().unwrap_or("")
        );
    }
    let progress = excs.progress().get();
    if !progress.conflicts.is_empty() {
        println!("  name conflicts reported: {}", progress.conflicts.len());
    }
    let idle = excs
        .poll_once()
        .await
        .map_err(|e| format!("EXCS poll: {e}"))?;
    println!(
        "- EXCS second poll (nothing changed in Engage): {} writes",
        idle.users_created + idle.users_updated + idle.queues_created + idle.queues_updated
    );
    let published = engage_store::JsonView::new(store.clone(), ns)
        .scan::<PersonRecord>(PersonRecord::PREFIX)
        .await
        .map_err(|e| format!("store: {e}"))?
        .len();
    println!("- store: {published} person records published for EXAS and EXCP");
    if !report.errors.is_empty() {
        return Err(format!("EXCS reported errors: {:?}", report.errors));
    }
    if org.users.is_empty() || org.queues.is_empty() {
        return Err("EXCS created nothing".into());
    }

    // 4. EXAS: a simulated Stat Server drives a short shift for a few agents.
    let exas = exas_shift(&sb, store.clone()).await?;
    println!(
        "- EXAS: {} agents in scope; {} Stat Server state changes became {} presence and {} routing-status events in GC",
        exas.agents, exas.changes, exas.presence_events, exas.routing_events
    );
    for line in &exas.examples {
        println!("  {line}");
    }

    // 5. EXCP: the SIP Server simulator plays the scenario calls as TLib events.
    let excp = excp_calls(&sb, store.clone()).await?;
    println!(
        "- EXCP: {} scenario calls played on the SIP Server simulator ({} TLib events) became {} GC conversations \
         ({} conversation events delivered, {} refused); the call model closed {} calls, {} of them in \
         monitoring-suspension mode (their unsupported parts were not injected)",
        excp.played,
        excp.tlib_events,
        excp.conversations,
        excp.delivered,
        excp.refused,
        excp.closed,
        excp.suspended
    );
    for line in &excp.examples {
        println!("  {line}");
    }
    match crate::demo_recordings::run(&sb, store.clone(), &private, dir).await {
        Ok(line) => println!("{line}"),
        Err(e) => return Err(format!("EXRP: {e}")),
    }
    println!(
        "demo summary: EXCS synchronized the generated contact center into the GC EX org; \
         EXAS mirrored Stat Server agent states into GC presence and routing status; \
         EXCP turned SIP Server calls into GC conversations; EXRP uploaded recordings to GC \
         (when a WebDAV server was reachable)."
    );
    sb.gc.shutdown().await;
    Ok(())
}

struct ExasOutcome {
    agents: usize,
    changes: usize,
    presence_events: usize,
    routing_events: usize,
    examples: Vec<String>,
}

/// Runs EXAS against a simulated Stat Server: every agent logs in; the first few walk through
/// Ready, an inbound call, after-call work and a Not Ready break.
async fn exas_shift(sb: &Sandbox, store: Arc<dyn Store>) -> Result<ExasOutcome, String> {
    use engage_exas::driver::{Driver, DriverConfig, DriverDeps};
    use engage_statserver::client::{ClientConfig, Endpoint};
    use engage_statserver::sim::{SimServer, SimWorld};
    use engage_statserver::{AgentState, CallKind, Login, Readiness, ServerMode};

    let ns = Namespace::new("1", &sb.gc.config().organization_id);
    let persons: Vec<PersonRecord> = engage_store::JsonView::new(store.clone(), ns.clone())
        .scan::<PersonRecord>(PersonRecord::PREFIX)
        .await
        .map_err(|e| format!("store: {e}"))?
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.is_agent && p.active)
        .collect();
    let world = SimWorld::new();
    let sim = SimServer::start(
        world.clone(),
        "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        ServerMode::Primary,
    )
    .await
    .map_err(|e| format!("Stat Server simulator: {e}"))?;
    let gc = gcex::GcClient::new(sb.gc.client_config()).map_err(|e| format!("GC client: {e}"))?;
    let mut config = DriverConfig::new(ClientConfig::new(
        Endpoint::new("127.0.0.1", sim.local_addr().port()),
        None,
    ));
    config.scope_every = Duration::from_millis(200);
    config.setup_retry = Duration::from_millis(100);
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
        sb.gc
            .presence_history(user)
            .into_iter()
            .filter_map(|r| r.system_presence)
            .collect()
    };
    let wait_for = |user: String, n: usize| {
        let presence = &presence;
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while presence(&user).len() < n {
                if Instant::now() > deadline {
                    return Err(format!("agent {user}: presence never reached {n} events"));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
    };
    // Everybody starts Offline (logged out).
    for p in &persons {
        wait_for(p.gc_user_id.clone(), 1).await?;
    }
    let steps = [
        (Readiness::Ready, CallKind::None),
        (Readiness::Ready, CallKind::Inbound),
        (Readiness::AfterCallWork, CallKind::None),
        (
            Readiness::NotReady {
                reason: Some("Break".into()),
            },
            CallKind::None,
        ),
    ];
    let walkers: Vec<&PersonRecord> = persons.iter().take(5).collect();
    let mut changes = 0;
    let mut t = 1_700_000_000;
    for (readiness, call) in steps {
        t += 60;
        for p in &walkers {
            let status = AgentState::new(
                p.stat_agent_id(),
                Login::LoggedIn,
                readiness.clone(),
                call,
                t,
            )
            .to_status("place", "dn", "switch");
            world.set_agent_state(p.stat_agent_id(), status);
            changes += 1;
        }
        // Let each step arrive before the next one (the simulator reports current state only).
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for p in &walkers {
        let deadline = Instant::now() + Duration::from_secs(30);
        while sb
            .gc
            .routing_history(&p.gc_user_id)
            .last()
            .map(|r| r.status)
            != Some(gcex::events::RoutingStatus::OffQueue)
            || presence(&p.gc_user_id).last().map(String::as_str) != Some("Break")
        {
            if Instant::now() > deadline {
                return Err(format!("agent {}: the break never arrived", p.user_name));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut examples = Vec::new();
    if let Some(p) = walkers.first() {
        examples.push(format!(
            "e.g. {}: presence {:?}",
            p.user_name,
            presence(&p.gc_user_id)
        ));
        let routing: Vec<String> = sb
            .gc
            .routing_history(&p.gc_user_id)
            .into_iter()
            .map(|r| format!("{:?}", r.status))
            .collect();
        examples.push(format!("     routing {routing:?}"));
    }
    let presence_events = persons.iter().map(|p| presence(&p.gc_user_id).len()).sum();
    let routing_events = persons
        .iter()
        .map(|p| sb.gc.routing_history(&p.gc_user_id).len())
        .sum();
    engine.shutdown().await;
    Ok(ExasOutcome {
        agents: persons.len(),
        changes,
        presence_events,
        routing_events,
        examples,
    })
}

struct ExcpOutcome {
    played: usize,
    tlib_events: usize,
    conversations: usize,
    closed: u64,
    suspended: u64,
    delivered: u64,
    refused: u64,
    examples: Vec<String>,
}

/// Runs EXCP against the SIP Server simulator: every project scenario, re-targeted onto the
/// seeded switch's agent extensions and VQs, played as TLib events.
async fn excp_calls(sb: &Sandbox, store: Arc<dyn Store>) -> Result<ExcpOutcome, String> {
    use crate::player::{play, retarget};
    use engage_callmodel::scenario::Scenario;
    use engage_excp::config::ServerPair;
    use engage_excp::service::{Deps, RunSettings, Service};
    use engage_store::{DnRecord, VqRecord};
    use engage_tlib::client::Endpoint;
    use engage_tlib::sim::SimServer;

    const SWITCH: &str = "SIP_Switch_1";
    let ns = Namespace::new("1", &sb.gc.config().organization_id);
    let json = engage_store::JsonView::new(store.clone(), ns.clone());
    let err = |e: engage_store::StoreError| format!("store: {e}");
    println!("- EXCP: starting the SIP Server simulator and EXCP on {SWITCH}");
    // Agents with a login on the switch, each logged in at one of the switch's extensions.
    let mut logins: Vec<String> = json
        .scan::<PersonRecord>(PersonRecord::PREFIX)
        .await
        .map_err(err)?
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p.is_agent && p.active)
        .filter_map(|p| {
            p.logins
                .iter()
                .find(|l| l.switch == SWITCH)
                .map(|l| l.login_code.clone())
        })
        .collect();
    let mut extensions: Vec<String> = json
        .scan::<DnRecord>(engage_store::schema::keys::DN_PREFIX)
        .await
        .map_err(err)?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.switch == SWITCH)
        .map(|d| d.number)
        .collect();
    let n = logins.len().min(extensions.len());
    logins.truncate(n);
    extensions.truncate(n);
    let vqs: Vec<String> = json
        .scan::<VqRecord>(engage_store::schema::keys::VQ_PREFIX)
        .await
        .map_err(err)?
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v.switch == SWITCH)
        .map(|v| v.number)
        .collect();
    let mut scenarios = Vec::new();
    for (path, _) in Scenario::load_dir(&Scenario::project_dir()).map_err(|e| e.to_string())? {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        scenarios.push(retarget(&path, &text, &extensions, &vqs)?);
    }

    let sim = SimServer::start("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| format!("SIP Server simulator: {e}"))?;
    let pair = ServerPair {
        primary: Endpoint::new("127.0.0.1", sim.local_addr().port()),
        backup: None,
    };
    let mut settings = RunSettings::new(vec![pair], "demo-excp");
    settings.switch = Some(SWITCH.into());
    settings.tick = Duration::from_millis(20);
    settings.lookup_every = Duration::from_millis(200);
    let gc = gcex::GcClient::new(sb.gc.client_config()).map_err(|e| format!("GC client: {e}"))?;
    let excp = Service::start_with(
        settings,
        Deps {
            store,
            ns,
            gc,
            health: Health::new(),
            metrics: Metrics::new(),
        },
        "127.0.0.1",
        0,
    )
    .await
    .map_err(|e| format!("EXCP start: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.call_monitors() == 0 || extensions.iter().any(|d| sim.registrations(d) == 0) {
        if Instant::now() > deadline {
            return Err("EXCP never registered on the SIP Server simulator".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (ext, code) in extensions.iter().zip(&logins) {
        crate::player::login(&sim, ext, code);
    }
    while excp
        .status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .agents_logged_in
        < n
    {
        if Instant::now() > deadline {
            return Err("EXCP never saw the agents log in".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut tlib_events = 0;
    for (i, s) in scenarios.iter().enumerate() {
        // Ten minutes of event time apart, so the calls do not overlap on the agents.
        let played =
            play(&sim, s, now + 600_000 * i as u64).map_err(|e| format!("{}: {e}", s.name))?;
        tlib_events += played.events;
    }
    // Wait until everything handed to GC is delivered and nothing new closes for a moment.
    let mut last = (u64::MAX, u64::MAX);
    let mut quiet_since = Instant::now();
    loop {
        let st = excp
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let now_state = (st.engine.conversations_closed, st.delivered);
        if now_state != last || st.pending_events > 0 {
            last = now_state;
            quiet_since = Instant::now();
        }
        if quiet_since.elapsed() > Duration::from_millis(500)
            && st.engine.engage_events as usize >= tlib_events
        {
            break;
        }
        if Instant::now() > deadline + Duration::from_secs(30) {
            return Err(format!("EXCP did not finish delivering: {st:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let st = excp
        .status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut examples = Vec::new();
    if let Some(first) = scenarios.first() {
        let root = first
            .events()
            .find_map(|e| e.call_uuid())
            .unwrap_or_default();
        let id = engage_callmodel::conversation_id(root).to_string();
        if let Some(view) = sb.gc.conversation(&id) {
            let legs: Vec<String> = view.communications.iter().map(|c| c.kind.clone()).collect();
            examples.push(format!(
                "e.g. \"{}\": conversation {} with legs {:?}, {} events, ended: {}",
                first.name,
                id,
                legs,
                view.timeline.len(),
                view.ended
            ));
        }
    }
    excp.shutdown().await;
    if st.delivered == 0 {
        return Err(format!("EXCP delivered nothing: {st:?}"));
    }
    Ok(ExcpOutcome {
        played: scenarios.len(),
        tlib_events,
        conversations: sb.gc.conversation_ids().len(),
        closed: st.engine.conversations_closed,
        suspended: st.engine.conversations_suspended,
        delivered: st.delivered,
        refused: st.refused,
        examples,
    })
}
