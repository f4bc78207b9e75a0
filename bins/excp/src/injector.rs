//! Delivery of conversation events to GC, in order per conversation, once per HA pair.
//!
//! Ordering (our design, see gcex's README): within one injection request GC orders events by
//! type and time, and a `retryable` failure of one event would let a later event of the same
//! conversation overtake it. So a request carries at most **one** event per conversation: the
//! oldest undelivered one. Conversations advance in parallel (up to 100 per request); a
//! conversation's next event goes out only once the previous one is accepted (or finally
//! refused).
//!
//! De-duplication (our design for the guide's "Redis is used to deduplicate the events"): both
//! instances of an EXCP pair see every SIP Server event and run the same deterministic call
//! model, so they produce the same GC events with the same ids. Before injecting, an instance
//! claims each event id in the shared store (`put_if_absent` with a short TTL, 30 s by
//! default) and, once GC has answered for it, marks it done (kept 6 h). The other instance
//! drops an event marked done, and *keeps* one the first instance claimed but has not finished:
//! if that instance dies, its claim expires and the survivor delivers the event. Each instance
//! keeps its full call state, so the survivor of a failover goes on without a gap. Delivery is
//! at least once (an instance that dies between GC's answer and the done mark leaves the event
//! to be sent again); GC applies each `eventId` once.
//!
//! [`Pending`] is the pure part (queues and the request plan); [`Injector`] adds the store and
//! GC.

use engage_store::{Store, StoreError};
use gcex::GcClient;
use gcex::events::{ConversationEvent, EventError, MAX_EVENTS_PER_REQUEST};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Undelivered events per conversation, in order.
#[derive(Debug, Default)]
pub struct Pending {
    queues: BTreeMap<String, VecDeque<ConversationEvent>>,
    len: usize,
}

/// What happened to the events of one request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundReport {
    /// Accepted by GC.
    pub accepted: usize,
    /// Skipped: the other instance of the pair delivered them.
    pub skipped_claimed: usize,
    /// Kept: the other instance claimed them and has not finished yet.
    pub waiting_on_peer: usize,
    /// Finally refused (not retryable); dropped.
    pub refused: Vec<EventError>,
    /// Kept for a later round (retryable failures, or the request failed as a whole).
    pub kept: usize,
}

impl RoundReport {
    /// Whether the round finished any event (delivered, skipped or refused).
    pub fn progressed(&self) -> bool {
        self.accepted + self.skipped_claimed + self.refused.len() > 0
    }
}

/// Who owns an event.
enum Claim {
    /// This instance: inject it.
    Mine,
    /// Finished (by either instance): drop it.
    Done,
    /// The other instance is on it: wait.
    Peer,
}

impl Pending {
    /// Queues an event behind the earlier events of its conversation.
    pub fn push(&mut self, e: ConversationEvent) {
        self.queues
            .entry(e.conversation_id().to_string())
            .or_default()
            .push_back(e);
        self.len += 1;
    }

    /// Undelivered events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every undelivered event, conversation by conversation, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &ConversationEvent> {
        self.queues.values().flatten()
    }

    /// Conversations with undelivered events.
    pub fn conversations(&self) -> usize {
        self.queues.len()
    }

    /// The next request: the oldest event of up to `max` conversations (at most 100).
    pub fn plan(&self, max: usize) -> Vec<ConversationEvent> {
        self.queues
            .values()
            .filter_map(|q| q.front().cloned())
            .take(max.clamp(1, MAX_EVENTS_PER_REQUEST))
            .collect()
    }

    /// Removes the given events (delivered, skipped or refused) from the heads of their
    /// conversations.
    pub fn remove(&mut self, done: &HashSet<String>) {
        self.queues.retain(|_, q| {
            while q.front().is_some_and(|e| done.contains(e.event_id())) {
                q.pop_front();
                self.len -= 1;
            }
            !q.is_empty()
        });
    }
}

/// Why a delivery round failed as a whole (nothing is lost: the events stay queued).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InjectError {
    /// The store (dedup claims) failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// GC failed the request after the client's retries.
    #[error("Genesys Cloud: {0}")]
    Gc(#[from] gcex::GcError),
}

/// Delivers [`Pending`] events: claims, injects, reports.
#[derive(Debug, Clone)]
pub struct Injector {
    gc: GcClient,
    store: Arc<dyn Store>,
    claim_prefix: String,
    instance: String,
    claim_ttl: Duration,
    done_ttl: Duration,
}

impl Injector {
    /// An injector for one EXCP instance: `instance` identifies it in the claims (unique per
    /// instance of a pair); `claim_prefix` is the namespaced store prefix of the claim keys.
    pub fn new(
        gc: GcClient,
        store: Arc<dyn Store>,
        claim_prefix: impl Into<String>,
        instance: impl Into<String>,
    ) -> Injector {
        Injector {
            gc,
            store,
            claim_prefix: claim_prefix.into(),
            instance: instance.into(),
            claim_ttl: Duration::from_secs(30),
            done_ttl: Duration::from_secs(6 * 3600),
        }
    }

    /// How long a claim holds without a done mark before the other instance may take the event
    /// over (default 30 s).
    pub fn with_claim_ttl(mut self, ttl: Duration) -> Injector {
        self.claim_ttl = ttl;
        self
    }

    /// Who owns an event: done (by anyone), ours (newly claimed, or claimed by us in an
    /// earlier round that did not finish), or the other instance's.
    async fn claim(&self, event_id: &str) -> Result<Claim, StoreError> {
        let done = format!("{}done:{event_id}", self.claim_prefix);
        if self.store.get(&done).await?.is_some() {
            return Ok(Claim::Done);
        }
        let key = format!("{}{event_id}", self.claim_prefix);
        if self
            .store
            .put_if_absent(&key, self.instance.as_bytes(), Some(self.claim_ttl))
            .await?
            || self.store.get(&key).await?.as_deref() == Some(self.instance.as_bytes())
        {
            return Ok(Claim::Mine);
        }
        Ok(Claim::Peer)
    }

    /// Marks an event done (GC answered for it).
    async fn finish(&self, event_id: &str) -> Result<(), StoreError> {
        let done = format!("{}done:{event_id}", self.claim_prefix);
        self.store
            .put_if_absent(&done, self.instance.as_bytes(), Some(self.done_ttl))
            .await
            .map(|_| ())
    }

    /// One delivery round: plans a request, claims its events, injects the claimed ones and
    /// removes what is finished from `pending`. On `Err` nothing was removed except events
    /// the other instance owns.
    pub async fn round(&self, pending: &mut Pending) -> Result<RoundReport, InjectError> {
        let plan = pending.plan(MAX_EVENTS_PER_REQUEST);
        let mut report = RoundReport::default();
        if plan.is_empty() {
            return Ok(report);
        }
        let mut mine = Vec::with_capacity(plan.len());
        let mut done = HashSet::new();
        for e in plan {
            match self.claim(e.event_id()).await? {
                Claim::Mine => mine.push(e),
                Claim::Done => {
                    report.skipped_claimed += 1;
                    done.insert(e.event_id().to_string());
                }
                Claim::Peer => report.waiting_on_peer += 1,
            }
        }
        if mine.is_empty() {
            pending.remove(&done);
            return Ok(report);
        }
        let result = match self.gc.inject_conversation_events(&mine).await {
            Ok(r) => r,
            Err(e) => {
                pending.remove(&done);
                return Err(e.into());
            }
        };
        let failed: BTreeMap<&str, &EventError> = result
            .failed
            .iter()
            .filter_map(|f| f.event_id.as_deref().map(|id| (id, f)))
            .collect();
        for e in &mine {
            match failed.get(e.event_id()) {
                None => {
                    report.accepted += 1;
                    done.insert(e.event_id().to_string());
                }
                Some(f) if f.retryable => report.kept += 1,
                Some(f) => {
                    report.refused.push((*f).clone());
                    done.insert(e.event_id().to_string());
                }
            }
        }
        for e in &mine {
            if done.contains(e.event_id())
                && let Err(err) = self.finish(e.event_id()).await
            {
                // Without the mark the other instance may send it again once the claim
                // expires; GC applies each eventId once.
                tracing::warn!(error = %err, event_id = e.event_id(), "done mark not stored");
            }
        }
        // A failure without an event id cannot be matched: its events count as accepted
        // above; surface it so it is logged.
        report.refused.extend(
            result
                .failed
                .iter()
                .filter(|f| f.event_id.is_none())
                .cloned(),
        );
        pending.remove(&done);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gcex::events::CommunicationAnsweredEvent;

    fn ev(conv: &str, n: u32) -> ConversationEvent {
        CommunicationAnsweredEvent {
            event_id: format!("{conv}-{n}"),
            event_date_time: format!("2026-01-01T00:00:{n:02}.000Z"),
            conversation_id: conv.into(),
            communication_id: "c".into(),
        }
        .into()
    }

    #[test]
    fn a_request_carries_one_event_per_conversation_oldest_first() {
        let mut p = Pending::default();
        for n in 0..3 {
            p.push(ev("a", n));
            p.push(ev("b", n));
        }
        p.push(ev("c", 0));
        assert_eq!((p.len(), p.conversations()), (7, 3));
        let ids = |v: Vec<ConversationEvent>| -> Vec<String> {
            v.iter().map(|e| e.event_id().to_string()).collect()
        };
        assert_eq!(ids(p.plan(100)), ["a-0", "b-0", "c-0"]);
        assert_eq!(ids(p.plan(2)), ["a-0", "b-0"]);
        // a-0 accepted, b-0 kept (retryable): b does not advance.
        p.remove(&HashSet::from(["a-0".to_string()]));
        assert_eq!(ids(p.plan(100)), ["a-1", "b-0", "c-0"]);
        // An id that is not at a head removes nothing (order is never broken).
        p.remove(&HashSet::from(["b-2".to_string()]));
        assert_eq!(p.len(), 6);
        p.remove(&HashSet::from(["b-0".into(), "c-0".into(), "a-1".into()]));
        assert_eq!(ids(p.plan(100)), ["a-2", "b-1"]);
        assert_eq!((p.len(), p.conversations()), (3, 2));
    }

    #[test]
    fn the_plan_never_exceeds_the_request_limit() {
        let mut p = Pending::default();
        for c in 0..250 {
            p.push(ev(&format!("conv{c:03}"), 0));
        }
        assert_eq!(p.plan(usize::MAX).len(), MAX_EVENTS_PER_REQUEST);
        assert_eq!(p.plan(0).len(), 1);
    }
}

#[cfg(test)]
mod ha_tests {
    use super::*;
    use engage_store::EmbeddedStore;
    use gcex::emulator::{Emulator, EmulatorConfig};

    #[tokio::test]
    async fn a_claim_of_a_dead_peer_expires_and_the_survivor_delivers() {
        let emu = Emulator::start(
            EmulatorConfig::new("ha", "ha-secret").with_rate_limit(0, Duration::from_secs(60)),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
        let gc = GcClient::new(emu.client_config()).unwrap();
        let source = gc
            .create_presence_source("EXCP test", None)
            .await
            .unwrap()
            .id
            .unwrap();
        let ev = ConversationEvent::from_json(
            "externalEstablishedEvents",
            serde_json::json!({
                "eventId": "00000000-0000-4000-8000-000000000001",
                "eventDateTime": "2026-01-01T00:00:00.000Z",
                "conversationId": "00000000-0000-4000-8000-0000000000aa",
                "communicationId": "00000000-0000-4000-8000-0000000000bb",
                "initialConfiguration": {"alerting": false, "inbound": true},
                "sourceConfiguration": {"sourceId": source, "interactionId": "call-1"},
                "ani": "+15550001",
                "dnis": "8000"
            }),
        )
        .unwrap()
        .unwrap();
        // The peer claimed it and died before GC answered.
        store
            .put_if_absent(
                &format!("claims:{}", ev.event_id()),
                b"dead-peer",
                Some(Duration::from_millis(300)),
            )
            .await
            .unwrap();
        let survivor = Injector::new(gc.clone(), store.clone(), "claims:", "survivor");
        let mut pending = Pending::default();
        pending.push(ev.clone());
        let r = survivor.round(&mut pending).await.unwrap();
        assert_eq!(r.waiting_on_peer, 1, "{r:?}");
        assert!(!r.progressed());
        assert_eq!(pending.len(), 1, "kept while the peer's claim holds");
        tokio::time::sleep(Duration::from_millis(400)).await;
        let r = survivor.round(&mut pending).await.unwrap();
        assert_eq!(r.accepted, 1, "{r:?}");
        assert!(pending.is_empty());
        assert!(
            emu.conversation("00000000-0000-4000-8000-0000000000aa")
                .is_some_and(|c| c.timeline.len() == 1)
        );
        // Done is remembered: the peer, coming back with the same event, drops it.
        let peer = Injector::new(gc, store, "claims:", "dead-peer");
        let mut again = Pending::default();
        again.push(ev);
        let r = peer.round(&mut again).await.unwrap();
        assert_eq!(r.skipped_claimed, 1);
        assert!(again.is_empty());
    }
}
