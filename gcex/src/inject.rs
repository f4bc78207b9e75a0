//! The HTTP side of event injection: [`GcClient::inject_conversation_events`],
//! [`GcClient::inject_presence_events`] and [`GcClient::inject_routing_status_events`] post the
//! [`crate::events`] models in batches of at most [`MAX_EVENTS_PER_REQUEST`] and resend only the
//! events GC reports as `retryable` (feature `client`).

use crate::client::{GcClient, Req, Retry};
use crate::error::GcError;
use crate::events::{
    BatchConversationEventRequest, BatchEventResponse, BatchUserPresenceEventRequest,
    BatchUserRoutingStatusEventRequest, ConversationEvent, EventError, MAX_EVENTS_PER_REQUEST,
    UserPresenceEvent, UserRoutingStatusEvent,
};
use reqwest::Method;
use serde::Serialize;
use std::collections::HashSet;

/// What an injection call achieved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InjectReport {
    /// Events given.
    pub events: usize,
    /// Events accepted.
    pub accepted: usize,
    /// HTTP requests used (without transport-level retries).
    pub requests: usize,
    /// Events that finally failed: not retryable, or still failing after the retry rounds.
    pub failed: Vec<EventError>,
}

impl InjectReport {
    fn merge(&mut self, other: InjectReport) {
        self.events += other.events;
        self.accepted += other.accepted;
        self.requests += other.requests;
        self.failed.extend(other.failed);
    }
}

impl GcClient {
    async fn inject<E, B>(
        &self,
        path: &str,
        events: &[E],
        id: fn(&E) -> &str,
        build: fn(Vec<E>) -> B,
    ) -> Result<InjectReport, GcError>
    where
        E: Clone,
        B: Serialize,
    {
        let mut report = InjectReport {
            events: events.len(),
            ..InjectReport::default()
        };
        let rounds = self.config().retry.event_retry_rounds;
        for chunk in events.chunks(MAX_EVENTS_PER_REQUEST) {
            let mut pending: Vec<E> = chunk.to_vec();
            let mut round = 0u32;
            loop {
                let req =
                    Req::new(Method::POST, path, Retry::Safe).json(&build(pending.clone()))?;
                report.requests += 1;
                let resp: Option<BatchEventResponse> = self.call(req).await?;
                let errors = resp.map(|r| r.errors).unwrap_or_default();
                let retry_ids: HashSet<String> = errors
                    .iter()
                    .filter(|e| e.retryable)
                    .filter_map(|e| e.event_id.clone())
                    .collect();
                let failed_ids: HashSet<&str> = errors
                    .iter()
                    .filter_map(|e| e.event_id.as_deref())
                    .collect();
                report.accepted += pending
                    .iter()
                    .filter(|e| !failed_ids.contains(id(e)))
                    .count();
                let can_retry = round < rounds && !retry_ids.is_empty();
                for e in errors {
                    if !(can_retry && e.retryable && e.event_id.is_some()) {
                        report.failed.push(e);
                    }
                }
                if !can_retry {
                    break;
                }
                pending.retain(|e| retry_ids.contains(id(e)));
                tokio::time::sleep(self.config().retry.backoff(round)).await;
                round += 1;
            }
        }
        Ok(report)
    }

    /// `POST /api/v2/events/conversations`: injects `events` in order, at most 100 per
    /// request, resending only the events GC reports as `retryable`.
    ///
    /// On `Err` (a request failed as a whole after the client's retries) earlier requests of
    /// this call may have been applied; resending all the events is safe, as GC applies each
    /// `eventId` once.
    pub async fn inject_conversation_events(
        &self,
        events: &[ConversationEvent],
    ) -> Result<InjectReport, GcError> {
        self.inject(
            "/api/v2/events/conversations",
            events,
            |e| e.event_id(),
            |v| {
                let mut b = BatchConversationEventRequest::default();
                for e in v {
                    b.push(e);
                }
                b
            },
        )
        .await
    }

    /// `POST /api/v2/events/users/presence` (`userPresenceEvents`).
    pub async fn inject_presence_events(
        &self,
        events: &[UserPresenceEvent],
    ) -> Result<InjectReport, GcError> {
        self.inject(
            "/api/v2/events/users/presence",
            events,
            |e| &e.event_id,
            |v| BatchUserPresenceEventRequest {
                user_presence_events: v,
            },
        )
        .await
    }

    /// `POST /api/v2/events/users/routingstatus` (`userRoutingStatusEvents`).
    pub async fn inject_routing_status_events(
        &self,
        events: &[UserRoutingStatusEvent],
    ) -> Result<InjectReport, GcError> {
        self.inject(
            "/api/v2/events/users/routingstatus",
            events,
            |e| &e.event_id,
            |v| BatchUserRoutingStatusEventRequest {
                user_routing_status_events: v,
            },
        )
        .await
    }
}

pub(crate) fn merge_reports(a: &mut InjectReport, b: InjectReport) {
    a.merge(b);
}
