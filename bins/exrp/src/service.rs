//! The `exrp` service: store + GC client + WebDAV client + driver + REST on `EXRP_PORT`,
//! composed from an [`ExrpConfig`].
//!
//! REST (answers in EXCP's `{"status":{"code","message","corrId"},"data":…}` envelope):
//! - `POST /api/v1/interaction-end`: one recorded segment ([`InteractionEnd`]); `202` with
//!   `data.jobId` and `data.state` (`pending`, `uploaded`, `parked`) once the job is durable in
//!   the store (a repeated request answers `202` with the existing job's state); `400` (code
//!   `40001`) for an invalid body, naming the field; `503` (code `50301`) when the store cannot
//!   take it (the caller retries).
//! - `GET /api/v1/interaction-end/{jobId}`: `200` with `data.state`, or `404`.
//! - `GET /status`: pending jobs, dead letters (with reasons), uploads by this instance.
//! - `GET /health` (store, WebDAV, GC, recording key freshness), `GET /metrics`.

use crate::config::{ExrpConfig, WebDavSettings, WorkerSettings};
use crate::driver::{Driver, DriverDeps, DriverHandle};
use crate::job::Job;
use crate::jobs::{Accepted, Jobs};
use crate::request::{InteractionEnd, RequestError};
use crate::webdav::{WebDav, WebDavError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engage_ops::health::Health;
use engage_ops::http::{OpsState, base_router, serve};
use engage_ops::metrics::Metrics;
use engage_store::{JsonView, Namespace, ServiceConnection, Store, StoreError};
use gcex::{GcClient, GcError};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The `hybrid_integration` section with EXRP's GC client (`client_id`, `password`).
pub const GC_SECTION: &str = "recording-uploader.exec.genesysCloud";
/// The `hybrid_integration` section with the WebDAV storage (`type`, `url`, `username`,
/// `password`).
pub const STORAGE_SECTION: &str = "recording-uploader.exec.transientStorage";

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The store could not be opened.
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    /// The GC client could not be built.
    #[error("cannot set up the Genesys Cloud client: {0}")]
    Gc(#[from] GcError),
    /// The WebDAV client could not be built, or its settings are unusable.
    #[error("cannot set up the WebDAV client: {0}")]
    WebDav(String),
    /// The REST port could not be bound.
    #[error("cannot listen on {addr} (EXRP_HOST/EXRP_PORT): {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<WebDavError> for ServiceError {
    fn from(e: WebDavError) -> Self {
        ServiceError::WebDav(e.to_string())
    }
}

/// A running service.
#[derive(Debug)]
pub struct Service {
    /// Where REST is served.
    pub http_addr: SocketAddr,
    /// Dependency health.
    pub health: Health,
    /// Metrics.
    pub metrics: Metrics,
    driver: DriverHandle,
    http: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Api {
    jobs: Jobs,
    metrics: Metrics,
    health: Health,
    uploaded: Arc<AtomicU64>,
    instance: String,
}

/// Every EXRP counter series that exists before anything happened, registered at 0 at start.
pub const METRICS: &[engage_ops::metrics::CounterSpec] = &[
    (
        "exrp_requests_total",
        "Interaction-end requests by result.",
        &[("result", "new")],
    ),
    (
        "exrp_requests_total",
        "Interaction-end requests by result.",
        &[("result", "repeated")],
    ),
    (
        "exrp_requests_total",
        "Interaction-end requests by result.",
        &[("result", "invalid")],
    ),
    (
        "exrp_requests_total",
        "Interaction-end requests by result.",
        &[("result", "unavailable")],
    ),
    ("exrp_uploads_total", "Recordings uploaded to GC.", &[]),
    (
        "exrp_attempt_failures_total",
        "Failed upload attempts.",
        &[("kind", "transient")],
    ),
    (
        "exrp_attempt_failures_total",
        "Failed upload attempts.",
        &[("kind", "permanent")],
    ),
    (
        "exrp_dead_letters_total",
        "Recordings parked in the dead-letter list.",
        &[],
    ),
    (
        "exrp_downloaded_bytes_total",
        "Recording bytes fetched from WebDAV.",
        &[],
    ),
    (
        "exrp_uploaded_bytes_total",
        "Archive bytes uploaded to GC.",
        &[],
    ),
    (
        "exrp_webdav_delete_failures_total",
        "Uploaded recordings left in WebDAV because the DELETE failed.",
        &[],
    ),
];

impl Service {
    /// Starts everything from the settings: the GC connection and the WebDAV storage come
    /// from `EXRP_GC_*` / `EXRP_WEBDAV_*`, else from the published `hybrid_integration`
    /// sections (waited for).
    pub async fn start(config: &ExrpConfig) -> Result<Service, ServiceError> {
        let store: Arc<dyn Store> = config.store.open().await?;
        let ns = Namespace::new(&config.common.tenant_id, &config.common.org_id);
        let json = JsonView::new(store.clone(), ns.clone());
        let every = Duration::from_secs(2);
        let gc_config = match &config.gc {
            Some(gc) => gc.gc_config(&config.common.org_id),
            None => ServiceConnection::wait_for(&json, GC_SECTION, every)
                .await
                .gc_config(),
        };
        let webdav = match &config.webdav {
            Some(w) => w.clone(),
            None => {
                let section = ServiceConnection::wait_for(&json, STORAGE_SECTION, every).await;
                WebDavSettings::from_section(&section.settings)
                    .ok_or_else(|| ServiceError::WebDav(format!("{STORAGE_SECTION} has no url")))?
            }
        };
        let gc = GcClient::new(gc_config.with_insecure_http(config.common.gc_allow_http))?;
        let webdav = WebDav::new(webdav, Duration::from_secs(3600))?;
        Service::start_with(
            config.worker.clone(),
            store,
            ns,
            gc,
            webdav,
            &config.host,
            config.port,
        )
        .await
    }

    /// Starts with explicit parts (tests).
    pub async fn start_with(
        worker: WorkerSettings,
        store: Arc<dyn Store>,
        ns: Namespace,
        gc: GcClient,
        webdav: WebDav,
        host: &str,
        port: u16,
    ) -> Result<Service, ServiceError> {
        let health = Health::new();
        let metrics = Metrics::new();
        let store = engage_ops::timed_store::timed(store, "exrp", &metrics);
        let addr = engage_ops::http::listen_addr(host, port)
            .await
            .map_err(|e| ServiceError::Listen {
                addr: e.addr,
                source: e.source,
            })?;
        metrics.register_counters(METRICS);
        metrics.record_gc("exrp", &gc);
        let jobs = Jobs::new(store, ns);
        let instance = worker.instance_id.clone();
        let worker_token = worker.api_token.clone();
        let driver = Driver::start(
            worker,
            DriverDeps::new(jobs.clone(), gc, webdav, health.clone(), metrics.clone()),
        );
        let api = Api {
            jobs,
            metrics: metrics.clone(),
            health: health.clone(),
            uploaded: driver.uploaded_counter(),
            instance,
        };
        let token = worker_token.clone();
        let api_routes = Router::new()
            .route("/api/v1/interaction-end", post(interaction_end))
            .route("/api/v1/interaction-end/{job_id}", get(job_state))
            .with_state(api.clone());
        let router = Router::new()
            .route("/status", get(status))
            .with_state(api)
            .merge(engage_ops::http::protect(api_routes, token))
            .merge(base_router(OpsState {
                health: health.clone(),
                metrics: metrics.clone(),
            }));
        let (http_addr, http) = match serve(addr, router).await {
            Ok(v) => v,
            Err(source) => {
                driver.shutdown().await;
                return Err(ServiceError::Listen {
                    addr: addr.to_string(),
                    source,
                });
            }
        };
        Ok(Service {
            http_addr,
            health,
            metrics,
            driver,
            http,
        })
    }

    /// Uploads done by this instance.
    pub fn uploaded(&self) -> u64 {
        self.driver.uploaded()
    }

    /// Stops REST, then the driver (running attempts finish).
    pub async fn shutdown(self) {
        engage_ops::service::abort_and_wait(self.http).await;
        self.driver.shutdown().await;
    }

    /// Completes when the recording driver or the REST server ended without being asked
    /// to, with the reason; `/health` then shows `worker.recordings` or `worker.http` down.
    pub async fn worker_died(&mut self) -> String {
        let (name, why) = engage_ops::service::first_ended(&mut [
            ("recordings", self.driver.task()),
            ("http", &mut self.http),
        ])
        .await;
        // The driver says why in its health entry when it knows (its key worker died).
        let said = self
            .health
            .report()
            .dependencies
            .get(crate::driver::HEALTH_WORKER)
            .filter(|d| !d.up)
            .map(|d| d.detail.clone());
        let why = said.unwrap_or(why);
        self.health.down(&format!("worker.{name}"), why.clone());
        why
    }
}

impl engage_ops::service::RunningService for Service {
    fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    fn stop(self) -> impl std::future::Future<Output = ()> + Send {
        self.shutdown()
    }
    fn died(&mut self) -> impl std::future::Future<Output = String> + Send {
        self.worker_died()
    }
}

fn envelope(http: StatusCode, code: u32, message: &str, data: serde_json::Value) -> Response {
    let corr = uuid::Uuid::new_v4().to_string();
    let mut body = json!({"status": {"code": code, "message": message, "corrId": corr}});
    if !data.is_null() {
        body["data"] = data;
    }
    (http, axum::Json(body)).into_response()
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

async fn interaction_end(State(api): State<Api>, body: Bytes) -> Response {
    let req: InteractionEnd = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refused(&api, &RequestError::Malformed(e.to_string())),
    };
    let seg = match req.validate() {
        Ok(s) => s,
        Err(e) => return refused(&api, &e),
    };
    let id = seg.job_id();
    let job = Job::new(id.clone(), req, now_ms());
    match api.jobs.accept(&job).await {
        Ok(accepted) => {
            let result = match accepted {
                Accepted::New => "new",
                _ => "repeated",
            };
            api.metrics.inc(
                "exrp_requests_total",
                "Interaction-end requests by result.",
                &[("result", result)],
            );
            tracing::info!(
                job = %id,
                conversation = %seg.conversation_id,
                communication = %seg.communication_id,
                file = %seg.file_name,
                result,
                instance = %api.instance,
                "interaction-end accepted"
            );
            envelope(
                StatusCode::ACCEPTED,
                0,
                "accepted",
                json!({"jobId": id, "state": accepted.state()}),
            )
        }
        Err(e) => {
            api.metrics.inc(
                "exrp_requests_total",
                "Interaction-end requests by result.",
                &[("result", "unavailable")],
            );
            tracing::warn!(job = %id, error = %e, "interaction-end not stored");
            envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                50301,
                "the store cannot take the request now; retry",
                serde_json::Value::Null,
            )
        }
    }
}

fn refused(api: &Api, e: &RequestError) -> Response {
    api.metrics.inc(
        "exrp_requests_total",
        "Interaction-end requests by result.",
        &[("result", "invalid")],
    );
    envelope(
        StatusCode::BAD_REQUEST,
        40001,
        &e.to_string(),
        serde_json::Value::Null,
    )
}

async fn job_state(State(api): State<Api>, Path(job_id): Path<String>) -> Response {
    match api.jobs.state(&job_id).await {
        Ok(Some(state)) => {
            let job = api.jobs.get(&job_id).await.ok().flatten();
            envelope(
                StatusCode::OK,
                0,
                "ok",
                json!({
                    "jobId": job_id,
                    "state": state,
                    "attempts": job.as_ref().map(|j| j.attempts),
                    "lastError": job.as_ref().and_then(|j| j.last_error.clone()),
                }),
            )
        }
        Ok(None) => envelope(
            StatusCode::NOT_FOUND,
            40401,
            "unknown job",
            serde_json::Value::Null,
        ),
        Err(e) => envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            &format!("store: {e}"),
            serde_json::Value::Null,
        ),
    }
}

async fn status(State(api): State<Api>) -> Response {
    let pending = api.jobs.pending().await;
    let dead = api.jobs.dead_letters().await;
    match (pending, dead) {
        (Ok(pending), Ok(dead)) => {
            api.metrics.set(
                "exrp_dead_letters",
                "Recordings in the dead-letter list (all instances).",
                &[],
                dead.len() as f64,
            );
            let dead: Vec<_> = dead
                .iter()
                .map(|d| {
                    json!({
                        "jobId": d.job.id,
                        "conversationId": d.job.request.conversation_id,
                        "communicationId": d.job.request.communication_id,
                        "fileName": d.job.request.file_name,
                        "attempts": d.job.attempts,
                        "parkedAtMs": d.parked_at_ms,
                        "reason": d.reason,
                    })
                })
                .collect();
            // The services' common envelope (`engage_ops::status`).
            let waiting = std::collections::BTreeMap::from([
                ("jobs".to_string(), pending.len() as u64),
                ("deadLetters".to_string(), dead.len() as u64),
            ]);
            let errors: Vec<String> = dead
                .iter()
                .rev()
                .take(5)
                .filter_map(|d| d["reason"].as_str().map(str::to_string))
                .collect();
            let body = engage_ops::status::service_status(
                "EXRP",
                &api.health,
                waiting,
                errors,
                json!({
                    "instance": api.instance,
                    "pending": pending.len(),
                    "uploadedByThisInstance": api.uploaded.load(Ordering::Relaxed),
                    "deadLetters": dead,
                }),
            );
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        (Err(e), _) | (_, Err(e)) => envelope(
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            &format!("store: {e}"),
            serde_json::Value::Null,
        ),
    }
}
