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
    let url = reqwest::Url::parse(&raw).expect("ENGAGE_TEST_WEBDAV is a URL");
    let user = (!url.username().is_empty()).then(|| url.username().to_string());
    let pass = url.password().map(str::to_string);
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    (
        bare.to_string().trim_end_matches('/').to_string(),
        user,
        pass,
    )
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_segment_reaches_gc_through_exrp_even_when_exrp_starts_late() {
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

    // What MCP does: the audio into WebDAV, the metadata to EXCP.
    let dav = webdav_target();
    let call = format!("HANDOFF{:025}", now_ms());
    let file_name = format!("{call}.wav");
    let audio: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let http = reqwest::Client::new();
    let mut put = http
        .put(format!("{}/{file_name}", dav.0))
        .body(audio.clone());
    if let Some(u) = &dav.1 {
        put = put.basic_auth(u, dav.2.as_deref());
    }
    let r = put
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot reach WebDAV at {}: {e}; run scripts/test.sh", dav.0));
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
    json.set_add(
        &keys::recording_metadata(&call),
        &meta,
        Some(Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    // What the call model closes: the agent's segment.
    let seg: engage_callmodel::output::RecordingSegment =
        serde_json::from_value(serde_json::json!({
            "conversationId": "00000000-0000-4000-8000-0000000000c1",
            "communicationId": "00000000-0000-4000-8000-0000000000c2",
            "userId": "user-1",
            "agentDn": "7001",
            "callUuid": call,
            "connId": "006b02a3c8a1b001",
            "startTime": start + 1_000,
            "endTime": start + 59_000,
            "language": "en-US"
        }))
        .unwrap();
    handoff::enqueue(&json, &seg, now_ms()).await.unwrap();

    // The hand-off worker starts while EXRP is not there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let health = Health::new();
    let worker = tokio::spawn(handoff::run(
        HandoffSettings {
            url: HandoffSettings::url_for("127.0.0.1", port),
            sta_program_id: Some("00000000-0000-4000-8000-00000000057a".into()),
            metadata_wait: Duration::from_secs(600),
            every: Duration::from_millis(100),
            token: Some(gcex::Secret::new("exrp-shared-token")),
        },
        json.clone(),
        health.clone(),
        Metrics::new(),
    ));
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
    let mut w = WorkerSettings::default();
    w.poll = Duration::from_millis(50);
    w.retry = RetryPlan::new(
        Duration::from_millis(50),
        Duration::from_millis(200),
        Duration::from_secs(600),
        1000,
    );
    w.instance_id = "exrp-handoff".into();
    // EXRP requires a token (EXRP_API_TOKEN); the hand-off sends it (issue 12 §11).
    w.api_token = Some(gcex::Secret::new("exrp-shared-token"));
    let exrp = Exrp::start_with(
        w,
        store.clone(),
        ns.clone(),
        GcClient::new(gc.client_config().with_retry(RetryPolicy::fast())).unwrap(),
        WebDav::new(
            WebDavSettings::new(dav.0.clone(), dav.1.clone(), dav.2.clone()),
            Duration::from_secs(60),
        )
        .unwrap(),
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
        &private,
        &mut back,
    )
    .unwrap();
    assert_eq!(back, audio, "the audio decrypts back unchanged");
    let text = serde_json::to_string(&archived).unwrap();
    assert!(
        text.contains("00000000-0000-4000-8000-0000000000c1"),
        "{text}"
    );
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
