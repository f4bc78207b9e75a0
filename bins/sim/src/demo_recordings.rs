//! The demo's recording step (issue 13): recorded segments go from EXCP's hand-off to EXRP,
//! which fetches the audio from a real WebDAV server, encrypts it with the org's recording key,
//! zips it and uploads it to the GC emulator, then removes it from WebDAV. The demo decrypts
//! every upload with the org's private key and compares it with the original audio.
//!
//! WebDAV is not a Genesys server, so the demo uses a real one: `ENGAGE_DEMO_WEBDAV`, else
//! `ENGAGE_TEST_WEBDAV`, else the one `scripts/test.sh` starts
//! (`http://webdav:webdav-secret@127.0.0.1:8090/recordings`). Without one the step says so and
//! is skipped (the rest of the demo does not depend on it).

use crate::demo::Sandbox;
use engage_callmodel::output::RecordingSegment;
use engage_excp::handoff::{self, HandoffSettings};
use engage_excp::recording::RecordingMetadata;
use engage_exrp::config::{WebDavSettings, WorkerSettings};
use engage_exrp::package::{PrivateKey, read_archive};
use engage_exrp::webdav::WebDav;
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::schema::keys;
use engage_store::{JsonView, Namespace, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Recordings the demo hands off.
const RECORDINGS: u32 = 5;

/// The WebDAV server of `scripts/test.sh`.
const DEFAULT_WEBDAV: &str = "http://webdav:webdav-secret@127.0.0.1:8090/recordings";

/// The WebDAV target: the collection URL without credentials, and the credentials.
fn target() -> Result<(String, Option<String>, Option<String>), String> {
    let raw = std::env::var("ENGAGE_DEMO_WEBDAV")
        .or_else(|_| std::env::var("ENGAGE_TEST_WEBDAV"))
        .unwrap_or_else(|_| DEFAULT_WEBDAV.to_string());
    let w = WebDavSettings::from_url_with_credentials(&raw)
        .map_err(|e| format!("ENGAGE_DEMO_WEBDAV: {e}"))?;
    let (user, pass) = w.credentials();
    Ok((
        w.url.clone(),
        user.map(str::to_string),
        pass.map(str::to_string),
    ))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs the step; returns the demo's line about it (a skip is a line too, not an error).
pub async fn run(
    sb: &Sandbox,
    store: Arc<dyn Store>,
    private: &PrivateKey,
    dir: &std::path::Path,
) -> Result<String, String> {
    let (bare, user, pass) = target()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let put = |name: &str, body: Vec<u8>| {
        let mut rb = http.put(format!("{bare}/{name}")).body(body);
        if let Some(u) = &user {
            rb = rb.basic_auth(u, pass.as_deref());
        }
        rb.send()
    };
    let run_id = now_ms();
    let mut audios = Vec::new();
    for n in 0..RECORDINGS {
        let call = format!("DEMOREC{run_id:020}{n:05}");
        let file = format!("{call}.opus");
        let audio: Vec<u8> = (0..40_000u32)
            .map(|i| ((i * 31 + n * 7) % 251) as u8)
            .collect();
        match put(&file, audio.clone()).await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) if n == 0 => {
                return Ok(format!(
                    "- EXRP: skipped: the WebDAV server at {bare} answered {} (scripts/test.sh starts one; or set ENGAGE_DEMO_WEBDAV)",
                    r.status()
                ));
            }
            Err(e) if n == 0 => {
                return Ok(format!(
                    "- EXRP: skipped: no WebDAV server at {bare} ({e}; scripts/test.sh starts one, or set ENGAGE_DEMO_WEBDAV)"
                ));
            }
            Ok(r) => return Err(format!("WebDAV PUT {file}: {}", r.status())),
            Err(e) => return Err(format!("WebDAV PUT {file}: {e}")),
        }
        audios.push((call, file, audio));
    }
    let ns = Namespace::new("1", &sb.gc.config().organization_id);
    let json = JsonView::new(store.clone(), ns.clone());
    // What MCP posts (the metadata) and what the call model closes (the agent segments).
    let start = now_ms().saturating_sub(120_000);
    for (n, (call, file, _)) in audios.iter().enumerate() {
        let meta: RecordingMetadata = serde_json::from_value(serde_json::json!({
            "callUuid": call, "fileName": file,
            "startTime": start, "endTime": start + 60_000, "agentDn": "7001",
        }))
        .map_err(|e| e.to_string())?;
        json.set_add(
            &keys::recording_metadata(call),
            &meta,
            Some(Duration::from_secs(3600)),
        )
        .await
        .map_err(|e| format!("store: {e}"))?;
        let seg: RecordingSegment = serde_json::from_value(serde_json::json!({
            "conversationId": format!("00000000-0000-4000-8000-{:012}", 0xde00 + n),
            "communicationId": format!("00000000-0000-4000-8000-{:012}", 0xdf00 + n),
            "userId": "demo-agent", "agentDn": "7001", "callUuid": call,
            "connId": "006b02a3c8a1b001", "startTime": start + 1_000,
            "endTime": start + 59_000, "language": "en-US",
        }))
        .map_err(|e| e.to_string())?;
        handoff::enqueue(&json, &seg, now_ms())
            .await
            .map_err(|e| format!("store: {e}"))?;
    }
    let token = gcex::Secret::new("demo-exrp-token");
    let mut worker = WorkerSettings::default();
    worker.poll = Duration::from_millis(50);
    worker.instance_id = "exrp-demo".into();
    worker.api_token = Some(token.clone());
    worker.work_dir = dir.to_path_buf();
    let gc = gcex::GcClient::new(sb.gc.client_config()).map_err(|e| e.to_string())?;
    let webdav = WebDav::new(
        WebDavSettings::new(bare.clone(), user.clone(), pass.clone()),
        Duration::from_secs(60),
    )
    .map_err(|e| e.to_string())?;
    let before = sb.gc.uploads().len();
    let t = Instant::now();
    let exrp = engage_exrp::service::Service::start_with(
        worker,
        store.clone(),
        ns,
        gc.clone(),
        webdav,
        "127.0.0.1",
        0,
    )
    .await
    .map_err(|e| e.to_string())?;
    let handing = tokio::spawn(handoff::run_with_programs(
        HandoffSettings {
            url: format!("http://{}/api/v1/interaction-end", exrp.http_addr),
            sta_program_id: None,
            metadata_wait: Duration::from_secs(600),
            every: Duration::from_millis(100),
            token: Some(token),
            gir: None,
        },
        json,
        Health::new(),
        Metrics::new(),
        Some(gc),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while sb.gc.uploads().len() < before + audios.len() {
        if Instant::now() > deadline {
            handing.abort();
            exrp.shutdown().await;
            return Err(format!(
                "{} of {} recordings uploaded in 60 s",
                sb.gc.uploads().len() - before,
                audios.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = t.elapsed();
    handing.abort();
    let _ = handing.await;
    // Every upload decrypts back to one of the recordings.
    let mut checked = 0;
    for up in sb.gc.uploads().iter().skip(before) {
        let mut back = Vec::new();
        read_archive(std::io::Cursor::new(up.data.clone()), private, &mut back)
            .map_err(|e| format!("an upload does not decrypt: {e}"))?;
        if audios.iter().any(|(_, _, a)| *a == back) {
            checked += 1;
        }
    }
    // The guide's clean-up: the files are gone from WebDAV (EXRP deletes after the upload).
    let mut removed = 0;
    for (_, file, _) in &audios {
        let mut rb = http.get(format!("{bare}/{file}"));
        if let Some(u) = &user {
            rb = rb.basic_auth(u, pass.as_deref());
        }
        if rb
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::NOT_FOUND)
        {
            removed += 1;
        }
    }
    exrp.shutdown().await;
    if checked != audios.len() {
        return Err(format!(
            "{checked} of {} uploads decrypt to the original audio",
            audios.len()
        ));
    }
    Ok(format!(
        "- EXRP: {n} recorded segments handed off by EXCP, fetched from WebDAV ({bare}), encrypted with the org's recording key, zipped and uploaded to GC in {:.2} s; {checked} of {n} uploads decrypt to the original audio; {removed} of {n} files removed from WebDAV",
        took.as_secs_f64(),
        n = audios.len()
    ))
}
