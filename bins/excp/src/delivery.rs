//! The delivery side of EXCP, apart from ingestion.
//!
//! Ingestion (the SIP Server links, the engine) never waits on Genesys Cloud: the service's
//! loop hands the pure [`Pending`](crate::injector::Pending) queue's next *plan* to the
//! delivery task over a bounded channel (one request in flight at a time) and applies the
//! *report* that comes back, between TLib events. A slow GC round (30 s timeouts, the retry
//! budget, the 300 requests/minute limit) therefore only delays delivery; the SIP links keep
//! being read and their keep-alives answered.
//!
//! Events GC refuses for good are parked in the **dead-letter list** in the store
//! (`outbox:excp-dead-letter`, shared by the HA pair): a log line and a metric for each,
//! `/status` shows the count and the last one, `GET /api/v1/dead-letter` lists them and
//! `POST /api/v1/dead-letter/replay` puts them back in the delivery queue (e.g. after an
//! operator fixed a queue or a user in GC).

use crate::injector::{DeadLetter, Delivery, Injector};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use engage_store::{Namespace, Outbox, Store, StoreResult};
use gcex::events::ConversationEvent;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The store queue name of the dead-letter list.
pub const DEAD_LETTER_QUEUE: &str = "excp-dead-letter";

/// The most dead letters one replay (or one listing) moves.
pub const DEAD_LETTER_BATCH: usize = 10_000;

/// The dead-letter list in the store.
pub fn dead_letters(store: Arc<dyn Store>, ns: &Namespace) -> Outbox {
    Outbox::new(store, ns, DEAD_LETTER_QUEUE)
}

/// A running delivery task: send it plans, receive `(plan, delivery)` reports.
#[derive(Debug)]
pub struct DeliveryTask {
    /// Plans to deliver (capacity 1: one request in flight).
    pub plans: mpsc::Sender<Vec<ConversationEvent>>,
    /// What each plan came to.
    pub reports: mpsc::Receiver<(Vec<ConversationEvent>, Delivery)>,
    /// The task; it ends when `plans` is dropped.
    pub task: tokio::task::JoinHandle<()>,
}

impl DeliveryTask {
    /// Starts the task on the current runtime.
    pub fn start(injector: Injector) -> DeliveryTask {
        let (plans, mut plan_rx) = mpsc::channel::<Vec<ConversationEvent>>(1);
        let (report_tx, reports) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            while let Some(plan) = plan_rx.recv().await {
                let d = injector.deliver(&plan).await;
                if report_tx.send((plan, d)).await.is_err() {
                    break;
                }
            }
        });
        DeliveryTask {
            plans,
            reports,
            task,
        }
    }
}

/// A request to the service loop to move the dead letters back into the delivery queue; the
/// answer is how many moved.
pub type ReplayRequest = oneshot::Sender<StoreResult<usize>>;

/// State of the dead-letter endpoints.
#[derive(Debug, Clone)]
pub struct DeadLetterApi {
    /// The list.
    pub list: Outbox,
    /// To the service loop (which owns the delivery queue).
    pub replay: mpsc::Sender<ReplayRequest>,
}

/// `GET /api/v1/dead-letter` and `POST /api/v1/dead-letter/replay`.
pub fn router(api: DeadLetterApi) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/dead-letter", get(list))
        .route("/api/v1/dead-letter/replay", post(replay))
        .with_state(api)
}

async fn list(State(api): State<DeadLetterApi>) -> (StatusCode, Json<serde_json::Value>) {
    let total = api.list.len().await;
    let items = api.list.peek::<DeadLetter>(100).await;
    match (total, items) {
        (Ok(total), Ok(items)) => (
            StatusCode::OK,
            Json(serde_json::json!({ "total": total, "first": items })),
        ),
        (Err(e), _) | (_, Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": format!("store: {e}") })),
        ),
    }
}

async fn replay(State(api): State<DeadLetterApi>) -> (StatusCode, Json<serde_json::Value>) {
    let (tx, rx) = oneshot::channel();
    if api.replay.send(tx).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "EXCP is stopping" })),
        );
    }
    match rx.await {
        Ok(Ok(n)) => (StatusCode::OK, Json(serde_json::json!({ "requeued": n }))),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": format!("store: {e}") })),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "EXCP is stopping" })),
        ),
    }
}

/// Takes up to [`DEAD_LETTER_BATCH`] dead letters off the list and returns their events, in
/// the order they were parked. An entry that no longer decodes (written by another version)
/// is dropped from the list with an error log line naming it, so it cannot block the rest.
pub async fn take_dead_letters(list: &Outbox) -> StoreResult<Vec<ConversationEvent>> {
    let raw = list.peek::<serde_json::Value>(DEAD_LETTER_BATCH).await?;
    let n = raw.len();
    let mut events = Vec::with_capacity(n);
    for v in raw {
        match serde_json::from_value::<DeadLetter>(v.clone()) {
            Ok(d) => events.push(d.event),
            Err(e) => tracing::error!(error = %e, entry = %v, "dead letter not decodable; dropped"),
        }
    }
    list.ack(n).await?;
    Ok(events)
}
