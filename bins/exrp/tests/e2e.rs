//! EXRP end to end against real servers: a recording PUT into the WebDAV storage (Apache httpd
//! with mod_dav, started by `scripts/test.sh`; `ENGAGE_TEST_WEBDAV` points elsewhere), the
//! shared store in Redis (a private prefix), and the GC emulator serving the org's recording key
//! (the test keeps the private half) and the presigned uploads.

mod common;

use common::*;
use engage_exrp::config::WebDavSettings;
use engage_exrp::config::WorkerSettings;
use engage_exrp::package::read_archive;
use engage_exrp::request::InteractionEnd;
use engage_exrp::service::Service;
use engage_exrp::webdav::WebDav;
use engage_test_support::TestRedis;
use gcex::emulator::{Fault, FaultKind};
use gcex::{GcClient, RetryPolicy};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_recording_is_encrypted_zipped_uploaded_and_cleaned_up() {
    let w = world().await;
    let file = unique_file();
    let audio = recording(1, 300_000);
    w.put_recording(&file, &audio).await;
    let svc = w.start("exrp-a").await;
    let req = segment(&file);

    let (status, body) = w.post(&svc, &req).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"]["code"], 0);
    let job_id = body["data"]["jobId"].as_str().unwrap().to_string();

    let uploads = w.wait_uploads(1, Duration::from_secs(30)).await;
    assert_eq!(uploads.len(), 1);
    let up = &uploads[0];
    assert_eq!(
        up.file_name,
        format!("{}_{}.zip", req.conversation_id, req.communication_id)
    );
    assert!(up.file_name.len() <= 80);
    assert_eq!(up.content_type.as_deref(), Some("application/zip"));
    assert!(up.content_md5.is_some(), "the emulator verified the MD5");

    // The uploaded bytes decrypt back to the recording with the org's private key.
    let mut back = Vec::new();
    let meta = read_archive(std::io::Cursor::new(up.data.clone()), &w.private, &mut back).unwrap();
    assert_eq!(back, audio);
    assert_eq!(meta.conversation_id, req.conversation_id);
    assert_eq!(meta.communication_id, req.communication_id);
    assert_eq!(meta.start_time, "2024-05-01T10:00:00Z");
    assert_eq!(meta.end_time, "2024-05-01T10:03:12.25Z");
    assert_eq!(meta.file_name, file);
    assert_eq!(meta.sta.as_ref().unwrap().language, "en-US");
    assert_eq!(meta.call_uuid.as_deref(), Some("0001A2B3C4D5E6F7"));

    // The job is done and the file is gone from WebDAV (the guide's clean-up).
    let t = Instant::now();
    loop {
        let s = w
            .get_json(&svc, &format!("/api/v1/interaction-end/{job_id}"))
            .await;
        if s["data"]["state"] == "uploaded" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.dav_status(&file).await, 404);

    // The same segment again: recognised, not uploaded twice.
    let (status, body) = w.post(&svc, &req).await;
    assert_eq!(status, 202);
    assert_eq!(body["data"]["state"], "uploaded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.gc.uploads().len(), 1);

    // Bad requests are refused, naming the field.
    let mut bad = segment("../x.opus");
    bad.conversation_id = "not-a-uuid".into();
    let (status, body) = w.post(&svc, &bad).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"]["code"], 40001);
    assert!(
        body["status"]["message"]
            .as_str()
            .unwrap()
            .contains("conversationId")
    );

    // Operations surface.
    let health = w.get_json(&svc, "/health").await;
    assert_eq!(health["status"], "UP", "{health}");
    for dep in ["webdav", "gc", "recordingKey", "store"] {
        assert_eq!(health["dependencies"][dep]["up"], true, "{dep}: {health}");
    }
    let metrics = w
        .http
        .get(format!("http://{}/metrics", svc.http_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("exrp_uploads_total 1"), "{metrics}");
    let status = w.get_json(&svc, "/status").await;
    assert_eq!(status["data"]["detail"]["pending"], 0);
    assert_eq!(status["data"]["detail"]["uploadedByThisInstance"], 1);
    // The services' common envelope: what is connected, what waits.
    assert_eq!(status["data"]["pending"]["jobs"], 0, "{status}");
    assert!(
        status["data"]["connected"]
            .as_object()
            .is_some_and(|c| !c.is_empty()),
        "{status}"
    );
    assert!(status["status"]["corrId"].is_string(), "{status}");
    svc.shutdown().await;
    w.gc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_outage_and_restart_lose_nothing() {
    let w = world().await;
    let files: Vec<String> = (0..3).map(|_| unique_file()).collect();
    let audios: Vec<Vec<u8>> = (0..3)
        .map(|i| recording(10 + i, 50_000 + i as usize))
        .collect();
    for (f, a) in files.iter().zip(&audios) {
        w.put_recording(f, a).await;
    }
    // GC answers 503 to every upload-URL request for now.
    w.gc.inject_fault(Fault {
        path_prefix: "/api/v2/uploads/recordings".into(),
        remaining: 100_000,
        kind: FaultKind::Status { status: 503 },
    });
    let svc = w.start("exrp-a").await;
    let reqs: Vec<InteractionEnd> = files.iter().map(|f| segment(f)).collect();
    let mut ids = Vec::new();
    for r in &reqs {
        let (status, body) = w.post(&svc, r).await;
        assert_eq!(status, 202, "{body}");
        ids.push(body["data"]["jobId"].as_str().unwrap().to_string());
    }
    // Attempts fail and are retried.
    let t = Instant::now();
    loop {
        let s = w
            .get_json(&svc, &format!("/api/v1/interaction-end/{}", ids[0]))
            .await;
        if s["data"]["attempts"].as_u64().unwrap_or(0) >= 2 {
            assert_eq!(s["data"]["state"], "pending");
            assert!(
                s["data"]["lastError"].as_str().unwrap().contains("503"),
                "{s}"
            );
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(w.gc.uploads().is_empty());
    // EXRP restarts while GC is still down; then GC recovers.
    svc.shutdown().await;
    let svc = w.start("exrp-b").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.gc.clear_faults();

    let uploads = w.wait_uploads(3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.gc.uploads().len(), 3, "each segment exactly once");
    for (req, audio) in reqs.iter().zip(&audios) {
        let name = format!("{}_{}.zip", req.conversation_id, req.communication_id);
        let up = uploads.iter().find(|u| u.file_name == name).expect(&name);
        let mut back = Vec::new();
        read_archive(std::io::Cursor::new(up.data.clone()), &w.private, &mut back).unwrap();
        assert_eq!(&back, audio);
    }
    let status = w.get_json(&svc, "/status").await;
    assert_eq!(status["data"]["detail"]["pending"], 0, "{status}");
    assert_eq!(
        status["data"]["detail"]["deadLetters"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    svc.shutdown().await;
    w.gc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_parked_not_retried() {
    let w = world().await;
    let file = unique_file();
    w.put_recording(&file, &recording(3, 1000)).await;
    // GC refuses the upload request as invalid.
    w.gc.inject_fault(Fault {
        path_prefix: "/api/v2/uploads/recordings".into(),
        remaining: 1,
        kind: FaultKind::Status { status: 400 },
    });
    let svc = w.start("exrp-a").await;
    let (status, body) = w.post(&svc, &segment(&file)).await;
    assert_eq!(status, 202, "{body}");
    let job_id = body["data"]["jobId"].as_str().unwrap().to_string();
    let t = Instant::now();
    let status = loop {
        let s = w.get_json(&svc, "/status").await;
        if !s["data"]["detail"]["deadLetters"]
            .as_array()
            .unwrap()
            .is_empty()
        {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let dead = &status["data"]["detail"]["deadLetters"][0];
    assert_eq!(dead["jobId"], job_id.as_str());
    assert!(
        dead["reason"].as_str().unwrap().contains("permanent"),
        "{dead}"
    );
    assert_eq!(status["data"]["detail"]["pending"], 0);
    // Parked, never retried: no upload even though GC works again, and the file stays.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(w.gc.uploads().is_empty());
    assert_eq!(w.dav_status(&file).await, 200);
    let s = w
        .get_json(&svc, &format!("/api/v1/interaction-end/{job_id}"))
        .await;
    assert_eq!(s["data"]["state"], "parked");
    let _ = w.dav_request(reqwest::Method::DELETE, &file).send().await;
    svc.shutdown().await;
    w.gc.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_segment_on_two_instances_is_uploaded_once() {
    let w = world().await;
    let file = unique_file();
    let audio = recording(4, 200_000);
    w.put_recording(&file, &audio).await;
    let a = w.start("exrp-a").await;
    let b = w.start("exrp-b").await;
    let req = segment(&file);
    let (ra, rb) = tokio::join!(w.post(&a, &req), w.post(&b, &req));
    assert_eq!(ra.0, 202);
    assert_eq!(rb.0, 202);
    assert_eq!(ra.1["data"]["jobId"], rb.1["data"]["jobId"]);
    w.wait_uploads(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.gc.uploads().len(), 1);
    assert_eq!(a.uploaded() + b.uploaded(), 1);
    a.shutdown().await;
    b.shutdown().await;
    w.gc.shutdown().await;
}

/// Issue 13: an upload that takes longer than the claim lives (a big recording, a slow GC)
/// keeps its claim renewed: a second instance never starts the same job, so the recording is
/// uploaded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_upload_keeps_its_claim_and_uploads_once() {
    let w = world().await;
    let file = unique_file();
    let audio = recording(4, 200_000);
    w.put_recording(&file, &audio).await;
    let short = |instance: &str| {
        let mut s = w.worker(instance);
        s.claim_ttl = Duration::from_millis(400);
        s
    };
    let start = |settings: WorkerSettings| {
        let gc = GcClient::new(w.gc.client_config().with_retry(RetryPolicy::fast())).unwrap();
        let webdav = WebDav::new(
            WebDavSettings::new(w.dav.0.clone(), w.dav.1.clone(), w.dav.2.clone()),
            Duration::from_secs(60),
        )
        .unwrap();
        Service::start_with(
            settings,
            w.store.clone(),
            w.ns.clone(),
            gc,
            webdav,
            "127.0.0.1",
            0,
        )
    };
    // The presigned PUT of the first upload takes 2.5 s: six claim lifetimes.
    w.gc.inject_fault(Fault {
        path_prefix: "/emulator/uploads/".into(),
        remaining: 1,
        kind: FaultKind::Delay { millis: 2_500 },
    });
    let a = start(short("exrp-slow-a")).await.unwrap();
    let (code, _) = w.post(&a, &segment(&file)).await;
    assert_eq!(code, 202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B scans the same jobs the whole time.
    let b = start(short("exrp-slow-b")).await.unwrap();
    w.wait_uploads(1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(w.gc.uploads().len(), 1, "uploaded once");
    assert_eq!((a.uploaded(), b.uploaded()), (1, 0));
    a.shutdown().await;
    b.shutdown().await;
    w.gc.shutdown().await;
}

/// Issue 12: the shared store (Redis, persistent) killed under EXRP: a segment posted while it
/// is down is refused with 503 (the caller keeps it: EXCP's hand-off retries); a job accepted
/// before the outage and the one posted again after it are both uploaded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_under_exrp_refuses_with_503_and_loses_nothing() {
    let mut redis = engage_test_support::PrivateRedis::start();
    let w = world_on(TestRedis::create_at(&redis.url()).await).await;
    let svc = w.start("exrp-redis").await;
    let (before, during) = (unique_file(), unique_file());
    w.put_recording(&before, &recording(2, 20_000)).await;
    w.put_recording(&during, &recording(3, 20_000)).await;
    let (code, _) = w.post(&svc, &segment(&before)).await;
    assert_eq!(code, 202);
    w.wait_uploads(1, Duration::from_secs(30)).await;
    redis.kill_9();
    let (code, body) = w.post(&svc, &segment(&during)).await;
    assert_eq!(code, 503, "{body}");
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _) = w.post(&svc, &segment(&during)).await;
        if code == 202 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never accepted after the restart: {code}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.wait_uploads(2, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(w.gc.uploads().len(), 2, "each recording once");
    svc.shutdown().await;
    w.gc.shutdown().await;
}

/// Issue 13: the presigned URL is refused as S3 refuses an expired one (403): EXRP asks GC for
/// a new URL and uploads once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_presigned_url_is_asked_again_and_uploaded_once() {
    let w = world().await;
    let file = unique_file();
    let audio = recording(21, 30_000);
    w.put_recording(&file, &audio).await;
    w.gc.inject_fault(Fault {
        path_prefix: "/emulator/uploads/".into(),
        remaining: 1,
        kind: FaultKind::Status { status: 403 },
    });
    let svc = w.start("exrp-expired").await;
    let (status, body) = w.post(&svc, &segment(&file)).await;
    assert_eq!(status, 202, "{body}");
    let uploads = w.wait_uploads(1, Duration::from_secs(30)).await;
    let mut back = Vec::new();
    read_archive(
        std::io::Cursor::new(uploads[0].data.clone()),
        &w.private,
        &mut back,
    )
    .unwrap();
    assert_eq!(back, audio);
    assert_eq!(
        w.gc.request_count("POST /api/v2/uploads/recordings"),
        2,
        "a second URL was asked for"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.gc.uploads().len(), 1, "uploaded once");
    svc.shutdown().await;
    w.gc.shutdown().await;
}

/// A TCP relay in front of the real WebDAV server that the test takes down (connections are
/// refused: closed at once) and brings back.
struct Relay {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = up.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Relay { addr, up, task }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Issue 13: WebDAV down (every connection refused) while recordings wait: EXRP keeps them and
/// retries; once WebDAV is back each is uploaded once and removed from WebDAV.
/// `EXRP_WEBDAV_DOWN_SECS` (5 in CI) sets how long it stays down (a minute in the chaos runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_down_for_a_while_loses_nothing() {
    let down_secs: u64 = std::env::var("EXRP_WEBDAV_DOWN_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let w = world().await;
    let url = reqwest::Url::parse(&w.dav.0).unwrap();
    let target = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    );
    let relay = Relay::start(target).await;
    let mut via = url.clone();
    via.set_port(Some(relay.addr.port())).unwrap();
    let files: Vec<String> = (0..3).map(|_| unique_file()).collect();
    let audios: Vec<Vec<u8>> = (0..3).map(|i| recording(30 + i, 20_000)).collect();
    for (f, a) in files.iter().zip(&audios) {
        w.put_recording(f, a).await;
    }
    relay.set_up(false);
    let svc = w.start_on("exrp-davdown", via.as_str()).await;
    for f in &files {
        let (status, body) = w.post(&svc, &segment(f)).await;
        assert_eq!(status, 202, "{body}");
    }
    tokio::time::sleep(Duration::from_secs(down_secs)).await;
    assert!(
        w.gc.uploads().is_empty(),
        "nothing can be uploaded meanwhile"
    );
    let health = w.get_json(&svc, "/status").await;
    assert_eq!(health["data"]["pending"]["jobs"], 3, "{health}");
    relay.set_up(true);
    let uploads = w.wait_uploads(3, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.gc.uploads().len(), 3, "each once");
    for up in &uploads {
        let mut back = Vec::new();
        read_archive(std::io::Cursor::new(up.data.clone()), &w.private, &mut back).unwrap();
        assert!(audios.contains(&back));
    }
    for f in &files {
        assert_eq!(w.dav_status(f).await, 404, "{f} removed from WebDAV");
    }
    svc.shutdown().await;
    relay.task.abort();
    w.gc.shutdown().await;
}
