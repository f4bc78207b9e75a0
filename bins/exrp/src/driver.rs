//! The tokio driver: keeps the org's recording key fresh, scans the job table for due jobs,
//! claims and works them (WebDAV → archive → presigned URL → PUT → WebDAV delete), and feeds
//! each outcome to the pure plan ([`Job::after_attempt`]).

use crate::config::WorkerSettings;
use crate::job::{Failure, Job, Next};
use crate::jobs::Jobs;
use crate::package::{ARCHIVE_CONTENT_TYPE, ArchiveMetadata, PackageError, RecordingKey};
use crate::request::Segment;
use crate::webdav::{WebDav, WebDavError};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use gcex::GcClient;
use gcex::recordings::{UploadUrlRequest, UploadUrlResponse};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What the driver works with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverDeps {
    /// The job table.
    pub jobs: Jobs,
    /// GC (recording keys, upload URLs).
    pub gc: GcClient,
    /// The transient storage.
    pub webdav: WebDav,
    /// Dependency health.
    pub health: Health,
    /// Metrics.
    pub metrics: Metrics,
}

impl DriverDeps {
    /// The parts.
    pub fn new(jobs: Jobs, gc: GcClient, webdav: WebDav, health: Health, metrics: Metrics) -> Self {
        DriverDeps {
            jobs,
            gc,
            webdav,
            health,
            metrics,
        }
    }
}

struct CurrentKey {
    key: Arc<RecordingKey>,
    fetched: Instant,
}

struct Shared {
    deps: DriverDeps,
    settings: WorkerSettings,
    upload_http: reqwest::Client,
    key: Mutex<Option<CurrentKey>>,
    running: Mutex<HashSet<String>>,
    uploaded: Arc<AtomicU64>,
}

/// A running driver.
#[derive(Debug)]
pub struct DriverHandle {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    uploaded: Arc<AtomicU64>,
}

impl DriverHandle {
    /// Uploads done by this instance since it started.
    pub fn uploaded(&self) -> u64 {
        self.uploaded.load(Ordering::Relaxed)
    }

    /// The shared upload counter (for the REST status).
    pub fn uploaded_counter(&self) -> Arc<AtomicU64> {
        self.uploaded.clone()
    }

    /// Stops scanning, lets running attempts finish (their claims are released), and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if !self.task.is_finished() {
            let _ = self.task.await;
        }
    }

    /// The driver's task, for [`engage_ops::service::first_ended`].
    pub(crate) fn task(&mut self) -> &mut tokio::task::JoinHandle<()> {
        &mut self.task
    }
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The driver.
#[derive(Debug)]
pub struct Driver;

impl Driver {
    /// Starts the loop.
    pub fn start(settings: WorkerSettings, deps: DriverDeps) -> DriverHandle {
        let upload_http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(3600))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let shared = Arc::new(Shared {
            deps,
            settings,
            upload_http,
            key: Mutex::new(None),
            running: Mutex::new(HashSet::new()),
            uploaded: Arc::new(AtomicU64::new(0)),
        });
        let counter = shared.uploaded.clone();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(shared, rx));
        DriverHandle {
            stop,
            task,
            uploaded: counter,
        }
    }
}

/// How long a stop waits for running attempts before abandoning them (their claims expire
/// and another instance, or this one after a restart, takes the jobs over).
const STOP_GRACE: Duration = Duration::from_secs(5);

async fn run(shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    shared
        .deps
        .health
        .down("recordingKey", "not fetched from GC yet");
    // The key is refreshed on its own task: a slow or unreachable GC never holds up the scan.
    let mut keys = tokio::spawn(key_loop(shared.clone()));
    shared
        .deps
        .health
        .up(HEALTH_WORKER, "scanning for recording jobs");
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut last_health: Option<Instant> = None;
    loop {
        if *stop.borrow() {
            break;
        }
        if last_health.is_none_or(|t| t.elapsed() >= Duration::from_secs(15)) {
            last_health = Some(Instant::now());
            check_health(&shared).await;
        }
        while let Some(r) = tasks.try_join_next() {
            attempt_ended(r);
        }
        schedule(&shared, &mut tasks).await;
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(shared.settings.poll) => {}
            Some(r) = tasks.join_next(), if !tasks.is_empty() => attempt_ended(r),
            r = &mut keys => {
                // The key loop never ends by itself: without it no upload can be encrypted.
                let why = engage_ops::service::describe_end("recording-key refresh", r);
                tracing::error!(reason = %why, "EXRP's recording-key worker died");
                shared.deps.health.down(HEALTH_WORKER, why);
                break;
            }
        }
    }
    keys.abort();
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            running = tasks.len(),
            "stopping with attempts still running; their jobs are taken over when the claims expire"
        );
        tasks.abort_all();
    }
}

/// `/health` entry of the driver: down when one of its workers died.
pub const HEALTH_WORKER: &str = "worker.recordings";

/// One upload attempt ended: a panic is logged (its claim lapses and the job is tried again,
/// here or on another instance); the job's own outcome is in the store.
fn attempt_ended(r: Result<(), tokio::task::JoinError>) {
    if let Err(e) = r
        && e.is_panic()
    {
        let why = engage_ops::service::describe_end("upload attempt", Err(e));
        tracing::error!(reason = %why, "an upload attempt failed unexpectedly; the job is tried again when its claim lapses");
    }
}

async fn key_loop(shared: Arc<Shared>) {
    loop {
        refresh_key(&shared).await;
        let have_key = shared
            .key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        // Without a key, try again soon.
        let wait = if have_key {
            shared.settings.key_refresh
        } else {
            shared.settings.key_refresh.min(Duration::from_secs(5))
        };
        tokio::time::sleep(wait).await;
    }
}

async fn refresh_key(shared: &Shared) {
    let d = &shared.deps;
    match gcex::collect_all(d.gc.recording_keys()).await {
        Ok(keys) => {
            let newest = keys
                .into_iter()
                .filter(|k| k.keydata_summary.is_some())
                .max_by(|a, b| a.create_date.cmp(&b.create_date));
            match newest {
                None => {
                    d.health
                        .down("recordingKey", "the org has no recording key");
                    tracing::warn!("GC lists no recording key; uploads wait");
                }
                Some(k) => match RecordingKey::from_base64_der(
                    k.id.clone(),
                    k.keydata_summary.as_deref().unwrap_or_default(),
                ) {
                    Ok(key) => {
                        d.health.up("recordingKey", format!("key {} fetched", k.id));
                        *shared.key.lock().unwrap_or_else(PoisonError::into_inner) =
                            Some(CurrentKey {
                                key: Arc::new(key),
                                fetched: Instant::now(),
                            });
                    }
                    Err(e) => {
                        d.health.down("recordingKey", e.to_string());
                        tracing::error!(key_id = %k.id, error = %e, "unusable recording key");
                    }
                },
            }
            d.health.up("gc", "recording keys readable");
        }
        Err(e) => {
            d.health
                .down("gc", format!("recording keys not readable: {e}"));
            tracing::warn!(error = %e, "cannot fetch the org's recording key");
        }
    }
    // A key older than two refresh periods is stale.
    let stale = shared
        .key
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|k| k.fetched.elapsed() > shared.settings.key_refresh * 2);
    if stale {
        d.health
            .down("recordingKey", "key not refreshed for two periods");
    }
}

async fn check_health(shared: &Shared) {
    let d = &shared.deps;
    match d.webdav.check().await {
        Ok(()) => d.health.up("webdav", d.webdav.url().to_string()),
        Err(e) => d.health.down("webdav", e.to_string()),
    }
}

async fn schedule(shared: &Arc<Shared>, tasks: &mut JoinSet<()>) {
    let d = &shared.deps;
    let jobs = match d.jobs.pending().await {
        Ok(j) => {
            d.health.up("store", "job table readable");
            j
        }
        Err(e) => {
            d.health.down("store", e.to_string());
            tracing::warn!(error = %e, "job table not readable");
            return;
        }
    };
    d.metrics.record_gc("exrp", &d.gc);
    d.metrics.set(
        "exrp_jobs_pending",
        "Segments accepted and not uploaded yet (all instances).",
        &[],
        jobs.len() as f64,
    );
    let now = now_ms();
    for job in jobs.into_iter().filter(|j| j.is_due(now)) {
        if tasks.len() >= shared.settings.concurrency {
            break;
        }
        {
            let mut running = shared
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if !running.insert(job.id.clone()) {
                continue;
            }
        }
        let s = shared.clone();
        tasks.spawn(async move {
            let id = job.id.clone();
            attempt(&s, job).await;
            s.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&id);
        });
    }
}

/// One attempt at one job, under a claim.
async fn attempt(shared: &Shared, job: Job) {
    let d = &shared.deps;
    let s = &shared.settings;
    match d.jobs.claim(&job.id, &s.instance_id, s.claim_ttl).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "cannot claim");
            return;
        }
    }
    // Re-read under the claim: another instance may have finished it since the scan.
    let job = match d.jobs.get(&job.id).await {
        Ok(Some(j)) if j.is_due(now_ms()) => j,
        Ok(_) => {
            let _ = d.jobs.release(&job.id).await;
            return;
        }
        Err(e) => {
            tracing::warn!(job = %job.id, error = %e, "cannot re-read");
            let _ = d.jobs.release(&job.id).await;
            return;
        }
    };
    if matches!(d.jobs.is_done(&job.id).await, Ok(true)) {
        let _ = d.jobs.finish(&job.id, s.done_ttl).await;
        let _ = d.jobs.release(&job.id).await;
        return;
    }
    let started = Instant::now();
    // The claim is renewed every third of its TTL while the attempt runs, so a long upload
    // never lets a second instance start the same job.
    let renewals = async {
        let every = (s.claim_ttl / 3).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(every).await;
            match d.jobs.renew(&job.id, &s.instance_id, s.claim_ttl).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(job = %job.id, error = %e, "claim not renewed"),
            }
        }
    };
    let outcome = tokio::select! {
        o = upload(shared, &job) => o,
        () = renewals => {
            tracing::error!(
                job = %job.id,
                "another instance holds this job's claim now; this attempt stops and leaves the job to it"
            );
            return;
        }
    };
    if let Err(f) = &outcome {
        let kind = match f {
            Failure::Transient(_) => "transient",
            Failure::Permanent(_) => "permanent",
        };
        d.metrics.inc(
            "exrp_attempt_failures_total",
            "Failed upload attempts.",
            &[("kind", kind)],
        );
    }
    let next = job.after_attempt(outcome, now_ms(), &s.retry);
    let saved = match &next {
        Next::Done => {
            shared.uploaded.fetch_add(1, Ordering::Relaxed);
            d.metrics
                .inc("exrp_uploads_total", "Recordings uploaded to GC.", &[]);
            tracing::info!(
                job = %job.id,
                conversation = %job.request.conversation_id,
                communication = %job.request.communication_id,
                millis = started.elapsed().as_millis() as u64,
                "recording uploaded"
            );
            d.jobs.finish(&job.id, s.done_ttl).await
        }
        Next::Retry(j) => {
            tracing::warn!(
                job = %j.id,
                attempts = j.attempts,
                error = j.last_error.as_deref().unwrap_or_default(),
                "upload failed; will retry"
            );
            d.jobs.save(j).await
        }
        Next::Park(dead) => {
            d.metrics.inc(
                "exrp_dead_letters_total",
                "Recordings parked in the dead-letter list.",
                &[],
            );
            tracing::error!(
                job = %dead.job.id,
                conversation = %dead.job.request.conversation_id,
                file = %dead.job.request.file_name,
                reason = %dead.reason,
                "recording parked in the dead-letter list"
            );
            d.jobs.park(dead).await
        }
    };
    if let Err(e) = saved {
        // The claim expires; the job is attempted again (at least once).
        tracing::warn!(job = %job.id, error = %e, "outcome not saved");
        return;
    }
    let _ = d.jobs.release(&job.id).await;
}

fn webdav_failure(e: WebDavError) -> Failure {
    match e {
        WebDavError::Status { status, .. }
            if (400..500).contains(&status) && status != 408 && status != 429 =>
        {
            Failure::Permanent(e.to_string())
        }
        other => Failure::Transient(other.to_string()),
    }
}

fn gc_failure(e: gcex::GcError) -> Failure {
    if e.is_bad_request() {
        Failure::Permanent(format!("GC refused the upload request: {e}"))
    } else {
        Failure::Transient(format!("GC upload URL: {e}"))
    }
}

/// The work of one attempt: download, package, upload, clean up.
async fn upload(shared: &Shared, job: &Job) -> Result<(), Failure> {
    let d = &shared.deps;
    let s = &shared.settings;
    let seg: Segment = job
        .request
        .validate()
        .map_err(|e| Failure::Permanent(format!("invalid request: {e}")))?;
    let key = shared
        .key
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|k| k.key.clone())
        .ok_or_else(|| Failure::Transient("no recording key from GC yet".into()))?;
    let staging = tempfile::Builder::new()
        .prefix("exrp-")
        .tempdir_in(&s.work_dir)
        .map_err(|e| {
            Failure::Transient(format!(
                "staging directory in {}: {e}",
                s.work_dir.display()
            ))
        })?;
    let audio_path = staging.path().join("audio");
    let zip_path = staging.path().join("archive.zip");

    let size = d
        .webdav
        .download(&seg.file_name, &audio_path)
        .await
        .map_err(webdav_failure)?;
    d.metrics.inc_by(
        "exrp_downloaded_bytes_total",
        "Recording bytes fetched from WebDAV.",
        &[],
        size,
    );

    let meta = ArchiveMetadata::for_segment(&seg, &key);
    let (a, z) = (audio_path.clone(), zip_path.clone());
    let packaged = tokio::task::spawn_blocking(move || -> Result<(String, u64), PackageError> {
        let audio = std::io::BufReader::new(std::fs::File::open(&a)?);
        let out = std::fs::File::create(&z)?;
        crate::package::write_archive(audio, &meta, &key, std::io::BufWriter::new(out))?;
        let md5 = crate::package::content_md5(std::fs::File::open(&z)?)?;
        let len = std::fs::metadata(&z)?.len();
        Ok((md5, len))
    })
    .await
    .map_err(|e| Failure::Transient(format!("packaging task: {e}")))?;
    let (md5, len) = packaged.map_err(|e| match e {
        PackageError::Io(_) | PackageError::BadKey(_) => Failure::Transient(e.to_string()),
        other => Failure::Permanent(other.to_string()),
    })?;

    // A presigned URL refused (expired) is asked again once within the attempt.
    let mut tries = 0;
    loop {
        tries += 1;
        let url =
            d.gc.create_recording_upload(&UploadUrlRequest {
                file_name: seg.upload_file_name(),
                content_md5: Some(md5.clone()),
                signed_url_timeout_seconds: Some(s.signed_url_timeout_secs),
                content_type: Some(ARCHIVE_CONTENT_TYPE.into()),
                server_side_encryption: None,
            })
            .await
            .map_err(gc_failure)?;
        match put_archive(&shared.upload_http, &url, &zip_path, len).await {
            Ok(()) => break,
            Err(PutError::Refused(status)) if tries < 2 => {
                tracing::info!(job = %job.id, status, "presigned URL refused; asking a new one");
            }
            Err(e) => return Err(e.into_failure()),
        }
    }
    d.metrics.inc_by(
        "exrp_uploaded_bytes_total",
        "Archive bytes uploaded to GC.",
        &[],
        len,
    );
    if s.delete_after_upload
        && let Err(e) = d.webdav.delete(&seg.file_name).await
    {
        d.metrics.inc(
            "exrp_webdav_delete_failures_total",
            "Uploaded recordings left in WebDAV because the DELETE failed.",
            &[],
        );
        tracing::warn!(file = %seg.file_name, error = %e, "uploaded, but not deleted from WebDAV");
    }
    Ok(())
}

enum PutError {
    /// 403: signature refused or URL expired.
    Refused(u16),
    Status(u16),
    Transport(String),
    Local(std::io::Error),
}

impl PutError {
    fn into_failure(self) -> Failure {
        match self {
            PutError::Refused(s) => Failure::Transient(format!(
                "presigned URL refused ({s}), again after a new URL"
            )),
            PutError::Status(s) if s == 408 || s == 429 || s >= 500 => {
                Failure::Transient(format!("archive PUT answered {s}"))
            }
            PutError::Status(s) => Failure::Permanent(format!("archive PUT answered {s}")),
            PutError::Transport(e) => Failure::Transient(format!("archive PUT: {e}")),
            PutError::Local(e) => Failure::Transient(format!("archive file: {e}")),
        }
    }
}

/// PUTs the archive file, streamed, with exactly the returned headers and its length.
async fn put_archive(
    http: &reqwest::Client,
    url: &UploadUrlResponse,
    path: &std::path::Path,
    len: u64,
) -> Result<(), PutError> {
    let file = tokio::fs::File::open(path).await.map_err(PutError::Local)?;
    let mut rb = http
        .put(&url.url)
        .header(reqwest::header::CONTENT_LENGTH, len);
    for (k, v) in &url.headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    // The URL carries its signature: keep it out of errors and logs.
    let resp = rb
        .body(reqwest::Body::from(file))
        .send()
        .await
        .map_err(|e| PutError::Transport(e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        Ok(())
    } else if status == 403 {
        Err(PutError::Refused(status))
    } else {
        Err(PutError::Status(status))
    }
}
