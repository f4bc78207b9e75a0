//! Issue 13, EXCP → EXRP: a recorded segment EXCP closed is matched with the recording MCP
//! posted, handed to the real EXRP service (which fetches the audio from the real WebDAV
//! server, encrypts, zips and uploads it to the GC emulator), at least once: while EXRP is
//! unreachable the hand-off waits in the store, and it is delivered once EXRP is up.

use engage_excp::handoff::{self, HandoffSettings};
use engage_excp::recording::RecordingMetadata;
use engage_exrp::config::{WebDavSettings, WorkerSettings};
use engage_exrp::job::RetryPlan;
use engage_exrp::package::{PrivateKey, read_archive};
use engage_exrp::service::Service as Exrp;
use engage_exrp::webdav::WebDav;
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::schema::keys;
use engage_store::{JsonView, Namespace, RedisConfig, RedisStore, Store};
use engage_test_support::TestRedis;
use gcex::emulator::{Emulator, EmulatorConfig};
use gcex::{GcClient, RetryPolicy};
use std::sync::Arc;
use std::time::Duration;

fn webdav_target() -> (String, Option<String>, Option<String>) {
    let raw = std::env::var("ENGAGE_TEST_WEBDAV")
        .unwrap_or_else(|_| "http://webdav:webdav-secret@127.0.0.1:8090/recordings".into());
    let w = engage_exrp::config::WebDavSettings::from_url_with_credentials(&raw)
        .unwrap_or_else(|e| panic!("bad ENGAGE_TEST_WEBDAV: {e}"));
    let (user, pass) = w.credentials();
    (
        w.url.clone(),
        user.map(str::to_string),
        pass.map(str::to_string),
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// What the hand-off tests share: the GC emulator with the org's recording key, the store,
/// the WebDAV server, and a recorded call (audio in WebDAV, MCP's metadata, the model's
/// segment) on demand.
struct Rig {
    gc: gcex::emulator::EmulatorHandle,
    store: Arc<dyn Store>,
    ns: Namespace,
    json: JsonView,
    dav: (String, Option<String>, Option<String>),
    private: PrivateKey,
    _redis: TestRedis,
}

impl Rig {
    async fn start() -> Rig {
        let (private, public_b64) = PrivateKey::generate().unwrap();
        let gc = Emulator::start(
            EmulatorConfig::new("handoff", "handoff-secret")
                .with_rate_limit(0, Duration::from_secs(60))
                .with_recording_public_key(public_b64),
        )
        .await
        .unwrap();
        let redis = TestRedis::create().await;
        let store: Arc<dyn Store> = Arc::new(
            RedisStore::connect(&RedisConfig::from_url(redis.url()).unwrap())
                .await
                .unwrap(),
        );
        let ns = Namespace::with_prefix(redis.prefix());
        let json = JsonView::new(store.clone(), ns.clone());
        Rig {
            gc,
            store,
            ns,
            json,
            dav: webdav_target(),
            private,
            _redis: redis,
        }
    }

    /// Recorded call `n`: its audio put into WebDAV and its metadata posted (what MCP does),
    /// and the agent segment the call model closes; returns the segment (already handed off
    /// to the queue) and the audio.
    async fn recorded_call(&self, n: u32) -> (engage_callmodel::output::RecordingSegment, Vec<u8>) {
        self.recorded_call_with(n, true).await
    }

    /// [`Rig::recorded_call`]; without `mcp` no metadata is posted (GIR mode: EXCP pulls it).
    async fn recorded_call_with(
        &self,
        n: u32,
        mcp: bool,
    ) -> (engage_callmodel::output::RecordingSegment, Vec<u8>) {
        let call = format!("HANDOFF{:020}{n:05}", now_ms());
        let file_name = format!("{call}.wav");
        let audio: Vec<u8> = (0..50_000u32).map(|i| ((i + n) * 7 % 251) as u8).collect();
        let mut put = reqwest::Client::new()
            .put(format!("{}/{file_name}", self.dav.0))
            .body(audio.clone());
        if let Some(u) = &self.dav.1 {
            put = put.basic_auth(u, self.dav.2.as_deref());
        }
        let r = put.send().await.unwrap_or_else(|e| {
            panic!(
                "cannot reach WebDAV at {}: {e}; run scripts/test.sh",
                self.dav.0
            )
        });
        assert!(r.status().is_success(), "WebDAV PUT: {}", r.status());
        let start = now_ms() - 60_000;
        let meta: RecordingMetadata = serde_json::from_value(serde_json::json!({
            "callUuid": call,
            "fileName": file_name,
            "startTime": start,
            "endTime": start + 60_000,
            "agentDn": "7001",
        }))
        .unwrap();
        if mcp {
            self.json
                .set_add(
                    &keys::recording_metadata(&call),
                    &meta,
                    Some(Duration::from_secs(3600)),
                )
                .await
                .unwrap();
        }
        let seg: engage_callmodel::output::RecordingSegment =
            serde_json::from_value(serde_json::json!({
                "conversationId": format!("00000000-0000-4000-8000-00000{n:05}c1"),
                "communicationId": format!("00000000-0000-4000-8000-00000{n:05}c2"),
                "userId": "user-1",
                "agentDn": "7001",
                "callUuid": call,
                "connId": "006b02a3c8a1b001",
                "startTime": start + 1_000,
                "endTime": start + 59_000,
                "language": "en-US"
            }))
            .unwrap();
        (seg, audio)
    }

    /// EXRP's settings for `instance`: fast polls and retries, the shared token.
    fn worker(&self, instance: &str) -> WorkerSettings {
        let mut w = WorkerSettings::default();
        w.poll = Duration::from_millis(50);
        w.retry = RetryPlan::new(
            Duration::from_millis(50),
            Duration::from_millis(200),
            Duration::from_secs(600),
            1000,
        );
        w.instance_id = instance.into();
        // EXRP requires a token (EXRP_API_TOKEN); the hand-off sends it (issue 12 §11).
        w.api_token = Some(gcex::Secret::new("exrp-shared-token"));
        w
    }

    fn webdav(&self) -> WebDav {
        WebDav::new(
            WebDavSettings::new(self.dav.0.clone(), self.dav.1.clone(), self.dav.2.clone()),
            Duration::from_secs(60),
        )
        .unwrap()
    }

    /// The hand-off worker, posting to `url`.
    fn handoff(&self, url: String, health: &Health) -> tokio::task::JoinHandle<()> {
        self.handoff_with(url, health, None, None)
    }

    /// The hand-off worker in GIR mode when `gir` is set.
    fn handoff_with(
        &self,
        url: String,
        health: &Health,
        gir: Option<engage_excp::gir::GirSettings>,
        gc: Option<GcClient>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(handoff::run_with_programs(
            HandoffSettings {
                url,
                sta_program_id: Some("00000000-0000-4000-8000-00000000057a".into()),
                metadata_wait: Duration::from_secs(600),
                every: Duration::from_millis(100),
                token: Some(gcex::Secret::new("exrp-shared-token")),
                gir,
            },
            self.json.clone(),
            health.clone(),
            Metrics::new(),
            gc,
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_segment_reaches_gc_through_exrp_even_when_exrp_starts_late() {
    let rig = Rig::start().await;
    let (gc, store, ns, json, private) = (&rig.gc, &rig.store, &rig.ns, &rig.json, &rig.private);
    // GC transcribes the queue the call came through, and maps it to an STA program.
    let client = GcClient::new(gc.client_config().with_retry(RetryPolicy::fast())).unwrap();
    let mut t = client.transcription_settings().await.unwrap();
    t.transcription = gcex::routing::TranscriptionMode::EnabledQueueFlow;
    client.set_transcription_settings(&t).await.unwrap();
    let queue = client
        .create_queue(&gcex::routing::QueueRequest {
            name: "Sales".into(),
            enable_transcription: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let program = client
        .create_sta_program(&gcex::sta::ProgramRequest {
            name: "Sales topics".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    client
        .set_sta_program_mappings(
            &program.id,
            &gcex::sta::ProgramMappingsRequest {
                queue_ids: vec![queue.id.clone()],
                flow_ids: Vec::new(),
            },
        )
        .await
        .unwrap();
    let (mut seg, audio) = rig.recorded_call(0).await;
    seg.origination_queue_id = Some(queue.id.clone());
    handoff::enqueue(json, &seg, now_ms()).await.unwrap();

    // The hand-off worker starts while EXRP is not there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let health = Health::new();
    let worker = rig.handoff_with(
        HandoffSettings::url_for("127.0.0.1", port),
        &health,
        None,
        Some(client.clone()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while health
        .report()
        .dependencies
        .get("recordingProcessor")
        .is_none_or(|d| d.up)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "EXRP down never noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting = json
        .scan::<handoff::HandoffJob>(handoff::JOB_PREFIX)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "kept while EXRP is down");

    // EXRP comes up on that port.
    let exrp = Exrp::start_with(
        rig.worker("exrp-handoff"),
        store.clone(),
        ns.clone(),
        GcClient::new(gc.client_config().with_retry(RetryPolicy::fast())).unwrap(),
        rig.webdav(),
        "127.0.0.1",
        port,
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while gc.uploads().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "nothing uploaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let uploads = gc.uploads();
    assert_eq!(uploads.len(), 1);
    let mut back = Vec::new();
    let archived = read_archive(
        std::io::Cursor::new(uploads[0].data.clone()),
        private,
        &mut back,
    )
    .unwrap();
    assert_eq!(back, audio, "the audio decrypts back unchanged");
    let text = serde_json::to_string(&archived).unwrap();
    assert!(
        text.contains("00000000-0000-4000-8000-0000000000c1"),
        "{text}"
    );
    // The metadata: the model's ids, the segment's times, the queue's STA program and the
    // call's language.
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    let meta = meta.get("metadata").unwrap_or(&meta);
    assert_eq!(
        meta["conversationId"],
        seg.conversation_id.to_string(),
        "{text}"
    );
    assert_eq!(
        meta["communicationId"],
        seg.communication_id.to_string(),
        "{text}"
    );
    assert!(
        meta["startTime"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{text}"
    );
    assert!(
        meta["endTime"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{text}"
    );
    assert_eq!(meta["sta"]["programId"], program.id.as_str(), "{text}");
    assert_eq!(meta["sta"]["language"], "en-US", "{text}");
    // The job is done: gone from the store, and the processor is up again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !json
        .scan::<handoff::HandoffJob>(handoff::JOB_PREFIX)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "job never removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(health.report().dependencies["recordingProcessor"].up);
    // Without EXRP's token nobody else gets in; with a wrong one neither.
    let url = format!("http://127.0.0.1:{port}/api/v1/interaction-end");
    let anon = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let wrong = reqwest::Client::new()
        .post(&url)
        .bearer_auth("exrp-shared-tokeX")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(!wrong.text().await.unwrap().contains("exrp-shared-token"));
    worker.abort();
    exrp.shutdown().await;
}

/// nginx in front of EXRP instances, from `deploy/nginx/exrp-lb.conf.template` (real nginx;
/// `scripts/test.sh` installs it).
struct Nginx {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(upstreams: &[std::net::SocketAddr]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        // nginx's workers run as nobody when started by root: the directory must be readable.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let servers: String = upstreams
            .iter()
            .map(|a| format!("server {a} max_fails=1 fail_timeout=2s; "))
            .collect();
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../deploy/nginx/exrp-lb.conf.template"),
        )
        .unwrap();
        let conf = template
            .replace("@DIR@", &dir.path().display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@UPSTREAMS@", &servers);
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let bin = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|b| std::process::Command::new(b).arg("-v").output().is_ok())
            .expect("nginx is installed (scripts/test.sh installs nginx-light)");
        let child = std::process::Command::new(bin)
            .arg("-c")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx never listened: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    /// SIGTERM (nginx's fast shutdown: the master stops its workers), SIGKILL after 5 s. A
    /// SIGKILL alone orphans the workers, which then keep every file the test process
    /// inherited open (cargo's build lock among them).
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 13: the guide's N+1 EXRP behind a load balancer: EXCP hands recordings to nginx
/// (the deployment's template), which spreads them over two EXRP instances; one instance stops
/// in the middle, the other takes every request from then on, and every recording reaches GC
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_plus_one_exrp_behind_nginx_loses_nothing_when_one_stops() {
    let rig = Rig::start().await;
    let start = |name: &'static str| {
        Exrp::start_with(
            rig.worker(name),
            rig.store.clone(),
            rig.ns.clone(),
            GcClient::new(rig.gc.client_config().with_retry(RetryPolicy::fast())).unwrap(),
            rig.webdav(),
            "127.0.0.1",
            0,
        )
    };
    let a = start("exrp-lb-a").await.unwrap();
    let b = start("exrp-lb-b").await.unwrap();
    let lb = Nginx::start(&[a.http_addr, b.http_addr]);
    let health = Health::new();
    let worker = rig.handoff(
        format!("http://127.0.0.1:{}/api/v1/interaction-end", lb.port),
        &health,
    );
    let gc = &rig.gc;
    let uploads_reach = |n: usize| async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while gc.uploads().len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} uploaded",
                gc.uploads().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    for n in 0..4 {
        let (seg, _) = rig.recorded_call(n).await;
        handoff::enqueue(&rig.json, &seg, now_ms()).await.unwrap();
    }
    uploads_reach(4).await;
    // One instance stops; nginx sends everything to the other from now on.
    a.shutdown().await;
    for n in 4..8 {
        let (seg, _) = rig.recorded_call(n).await;
        handoff::enqueue(&rig.json, &seg, now_ms()).await.unwrap();
    }
    uploads_reach(8).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uploads = rig.gc.uploads();
    assert_eq!(uploads.len(), 8, "each recording once");
    let mut names: Vec<&str> = uploads.iter().map(|u| u.file_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 8);
    assert!(b.uploaded() >= 4, "the remaining instance took over");
    let waiting = rig
        .json
        .scan::<handoff::HandoffJob>(handoff::JOB_PREFIX)
        .await
        .unwrap();
    assert!(waiting.is_empty(), "every hand-off done");
    worker.abort();
    b.shutdown().await;
    drop(lb);
}

/// Issue 13, the guide's GIR mode: no MCP post; EXCP asks GIR's RWS (the stand-in, with the
/// Ops user's Basic credentials) for the call's recording after the fetch delay, is told 404
/// while RWS has not indexed it, asks again after the fetch interval, finds it, and the
/// recording reaches GC through EXRP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gir_mode_pulls_the_metadata_from_rws_and_the_recording_reaches_gc() {
    let rig = Rig::start().await;
    let rws = engage_sim::gir::RwsStandIn::start("cc-1", "ops", "ops-secret")
        .await
        .unwrap();
    let (seg, audio) = rig.recorded_call_with(7, false).await;
    handoff::enqueue(&rig.json, &seg, now_ms()).await.unwrap();
    let exrp = Exrp::start_with(
        rig.worker("exrp-gir"),
        rig.store.clone(),
        rig.ns.clone(),
        GcClient::new(rig.gc.client_config().with_retry(RetryPolicy::fast())).unwrap(),
        rig.webdav(),
        "127.0.0.1",
        0,
    )
    .await
    .unwrap();
    let section = std::collections::BTreeMap::from([
        ("gir_orgId".to_string(), "cc-1".to_string()),
        ("gir_user".to_string(), "ops".to_string()),
        ("gir_password".to_string(), "ops-secret".to_string()),
    ]);
    let mut gir =
        engage_excp::gir::GirSettings::from_section(Some(&rws.base_url()), &section).unwrap();
    gir.delay = Duration::ZERO;
    gir.interval = Duration::from_millis(300);
    gir.duration = Duration::from_secs(60);
    let health = Health::new();
    let worker = rig.handoff_with(
        format!("http://{}/api/v1/interaction-end", exrp.http_addr),
        &health,
        Some(gir),
        None,
    );
    // RWS has not indexed the recording yet: asked, 404, kept.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while rws.requests() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "RWS never asked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(rig.gc.uploads().is_empty());
    // RWS knows it now (Genesys' documented shape and time format).
    let rws_time = |ms: u64| {
        let t =
            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000+0000",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    };
    rws.add(
        &seg.call_uuid,
        serde_json::json!({
            "id": seg.call_uuid,
            "startTime": rws_time(seg.start_time - 1_000),
            "stopTime": rws_time(seg.end_time + 1_000),
            "mediaFiles": [{
                "mediaId": format!("{}.wav", seg.call_uuid),
                "startTime": rws_time(seg.start_time - 1_000),
                "stopTime": rws_time(seg.end_time + 1_000),
                "callUUID": seg.call_uuid,
                "type": "audio/wav", "duration": "60000", "size": "50000",
                "parameters": {"recordDN": "7001", "connId": "006b02a3c8a1b001"}
            }],
            "eventHistory": [], "region": "region1"
        }),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rig.gc.uploads().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "nothing uploaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rws.requests() >= 2, "asked again after the 404");
    let uploads = rig.gc.uploads();
    assert_eq!(uploads.len(), 1);
    let mut back = Vec::new();
    read_archive(
        std::io::Cursor::new(uploads[0].data.clone()),
        &rig.private,
        &mut back,
    )
    .unwrap();
    assert_eq!(
        back, audio,
        "the recording GIR named, decrypted back unchanged"
    );
    worker.abort();
    exrp.shutdown().await;
}
