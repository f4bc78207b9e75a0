//! A batcher for event injection: events go in one at a time; requests of at most 100 events
//! go out, flushed when full or after a short delay.
//!
//! Order: one task sends one request at a time, in submission order, and a request's
//! retryable failures are resent before the next request goes; so events of one conversation
//! (or one user) reach GC in the order they were submitted. Within one request GC orders by
//! `eventDateTime`, which the producer keeps increasing per conversation and per user.

use crate::client::GcClient;
use crate::error::GcError;
use crate::events::{
    ConversationEvent, InjectReport, MAX_EVENTS_PER_REQUEST, UserPresenceEvent,
    UserRoutingStatusEvent,
};
use crate::inject::merge_reports;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Any injectable event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // conversation events are the common case: no boxing
pub enum InjectEvent {
    /// A conversation event.
    Conversation(ConversationEvent),
    /// A user presence event.
    Presence(UserPresenceEvent),
    /// A user routing-status event.
    RoutingStatus(UserRoutingStatusEvent),
}

/// Batcher settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatcherConfig {
    /// Flush when this many events of one kind wait (capped at 100).
    pub max_events: usize,
    /// Flush at most this long after the first waiting event arrived.
    pub max_delay: Duration,
    /// Events that may queue before `submit` waits (backpressure).
    pub queue_capacity: usize,
}

impl Default for BatcherConfig {
    fn default() -> Self {
        Self {
            max_events: MAX_EVENTS_PER_REQUEST,
            max_delay: Duration::from_millis(200),
            queue_capacity: 10_000,
        }
    }
}

#[allow(clippy::large_enum_variant)] // events are the common case: no boxing
enum Cmd {
    Event(InjectEvent),
    Flush(oneshot::Sender<BatchOutcome>),
}

/// What the batcher sent since the previous flush.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// Counts and finally-failed events.
    pub report: InjectReport,
    /// Requests that failed as a whole (after the client's retries), with their events, so
    /// the caller can keep them in its outbox.
    pub failed_requests: Vec<(GcError, Vec<InjectEvent>)>,
}

/// The batcher is closed (its task ended).
#[derive(Debug, thiserror::Error)]
#[error("the event batcher is closed")]
pub struct BatcherClosed;

/// Handle to a running batcher task. Dropping every handle flushes and stops it.
#[derive(Debug, Clone)]
pub struct EventBatcher {
    tx: mpsc::Sender<Cmd>,
}

impl EventBatcher {
    /// Starts the batcher task on the current tokio runtime.
    pub fn spawn(client: GcClient, cfg: BatcherConfig) -> Self {
        let (tx, rx) = mpsc::channel(cfg.queue_capacity.max(1));
        tokio::spawn(run(client, cfg, rx));
        Self { tx }
    }

    /// Queues one event.
    pub async fn submit(&self, e: InjectEvent) -> Result<(), BatcherClosed> {
        self.tx.send(Cmd::Event(e)).await.map_err(|_| BatcherClosed)
    }

    /// Sends everything queued and returns what happened since the last flush.
    pub async fn flush(&self) -> Result<BatchOutcome, BatcherClosed> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Cmd::Flush(tx))
            .await
            .map_err(|_| BatcherClosed)?;
        rx.await.map_err(|_| BatcherClosed)
    }
}

#[derive(Default)]
struct Buffers {
    conv: Vec<ConversationEvent>,
    presence: Vec<UserPresenceEvent>,
    routing: Vec<UserRoutingStatusEvent>,
    since: Option<Instant>,
}

impl Buffers {
    fn len(&self) -> usize {
        self.conv
            .len()
            .max(self.presence.len())
            .max(self.routing.len())
    }
}

async fn send_all(client: &GcClient, b: &mut Buffers, out: &mut BatchOutcome) {
    b.since = None;
    // User state first, then conversations: a user's routing status changes before the
    // conversation that follows it in the same window.
    let presence = std::mem::take(&mut b.presence);
    if !presence.is_empty() {
        match client.inject_presence_events(&presence).await {
            Ok(r) => merge_reports(&mut out.report, r),
            Err(e) => out
                .failed_requests
                .push((e, presence.into_iter().map(InjectEvent::Presence).collect())),
        }
    }
    let routing = std::mem::take(&mut b.routing);
    if !routing.is_empty() {
        match client.inject_routing_status_events(&routing).await {
            Ok(r) => merge_reports(&mut out.report, r),
            Err(e) => out.failed_requests.push((
                e,
                routing
                    .into_iter()
                    .map(InjectEvent::RoutingStatus)
                    .collect(),
            )),
        }
    }
    let conv = std::mem::take(&mut b.conv);
    if !conv.is_empty() {
        match client.inject_conversation_events(&conv).await {
            Ok(r) => merge_reports(&mut out.report, r),
            Err(e) => out
                .failed_requests
                .push((e, conv.into_iter().map(InjectEvent::Conversation).collect())),
        }
    }
}

async fn run(client: GcClient, cfg: BatcherConfig, mut rx: mpsc::Receiver<Cmd>) {
    let max = cfg.max_events.clamp(1, MAX_EVENTS_PER_REQUEST);
    let mut b = Buffers::default();
    let mut out = BatchOutcome::default();
    loop {
        let deadline = b.since.map(|s| s + cfg.max_delay);
        let cmd = match deadline {
            Some(d) => tokio::select! {
                c = rx.recv() => c,
                _ = tokio::time::sleep_until(d) => {
                    send_all(&client, &mut b, &mut out).await;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match cmd {
            None => {
                send_all(&client, &mut b, &mut out).await;
                return;
            }
            Some(Cmd::Flush(reply)) => {
                send_all(&client, &mut b, &mut out).await;
                let _ = reply.send(std::mem::take(&mut out));
            }
            Some(Cmd::Event(e)) => {
                if b.since.is_none() {
                    b.since = Some(Instant::now());
                }
                match e {
                    InjectEvent::Conversation(c) => b.conv.push(c),
                    InjectEvent::Presence(p) => b.presence.push(p),
                    InjectEvent::RoutingStatus(r) => b.routing.push(r),
                }
                if b.len() >= max {
                    send_all(&client, &mut b, &mut out).await;
                }
            }
        }
    }
}
