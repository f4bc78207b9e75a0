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

/// Undelivered events per conversation, in order: the pure part of delivery, with a
/// plan/report interface. [`Pending::plan`] says what to send next (the oldest event of up to
/// 100 conversations, rotating fairly so no conversation waits behind the same first hundred,
/// never one with an event already in flight); [`Pending::report`] says what was finished.
#[derive(Debug, Default)]
pub struct Pending {
    queues: BTreeMap<String, VecDeque<ConversationEvent>>,
    len: usize,
    /// Conversations with an event in a request that has not been reported yet.
    in_flight: HashSet<String>,
    /// The last conversation planned: the next plan starts after it.
    cursor: Option<String>,
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
    /// Finally refused (not retryable): parked in the dead-letter list.
    pub refused: Vec<EventError>,
    /// Events parked in the dead-letter list (refused one by one, or alone in a request GC
    /// rejected as a whole).
    pub parked: Vec<DeadLetter>,
    /// Kept for a later round (retryable failures, or the request failed as a whole).
    pub kept: usize,
    /// Of `kept`: events GC answered with `retryable: true` (nothing public says what that
    /// promises for an event whose communication is not established yet: a metric shows it).
    pub retryable: usize,
}

impl RoundReport {
    /// Whether the round finished any event (delivered, skipped or refused).
    pub fn progressed(&self) -> bool {
        self.accepted + self.skipped_claimed + self.parked.len() > 0
    }
}

/// One event GC refused for good, parked so it never blocks the rest (the dead-letter list
/// in the store: `/status` shows it, `POST /api/v1/dead-letter/replay` re-queues it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The event, as it was sent.
    pub event: ConversationEvent,
    /// What GC said.
    pub error: String,
    /// The HTTP status of a request GC rejected as a whole, if that is how it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
}

impl DeadLetter {
    /// A dead letter parked now.
    pub fn new(event: ConversationEvent, error: String, status: Option<u16>) -> DeadLetter {
        let parked_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        DeadLetter {
            event,
            error,
            status,
            parked_at,
        }
    }
}

/// How long a claim must hold so that the other instance of the pair never takes an event over
/// while this one may still be sending it: the GC client's whole retry budget plus two request
/// timeouts, and at least 30 s. (The price: after an instance dies, its peer delivers the
/// events it had claimed that much later. A claim is not renewed: one request at a time is
/// in flight, and it cannot outlive the budget.)
pub fn claim_ttl_for(gc: &GcClient) -> Duration {
    let c = gc.config();
    c.retry
        .budget
        .saturating_add(c.request_timeout.saturating_mul(2))
        .max(Duration::from_secs(30))
}

/// Whether GC rejected a request because of what it carries (400, 413, 422): splitting the
/// request isolates the bad event. Authorization and not-found answers (401/403/404) are
/// systemic (every request would fail the same way until an operator acts) and are retried
/// with a backoff instead, like 429 and 5xx.
pub fn rejects_content(e: &gcex::GcError) -> bool {
    matches!(e.status(), Some(400 | 413 | 422))
}

/// The outcome of delivering one plan: what to report to [`Pending::report`], and the
/// round's counters; `error` is set when GC (or the store) failed for a reason that calls for
/// a backoff (nothing is lost: unfinished events stay pending).
#[derive(Debug, Default)]
pub struct Delivery {
    /// Event ids finished with (delivered, done by the peer, parked).
    pub finished: HashSet<String>,
    /// Counters.
    pub report: RoundReport,
    /// Why the round stopped early, if it did.
    pub error: Option<InjectError>,
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

    /// Conversations with an event in flight (planned, not yet reported).
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The next request: the oldest event of up to `max` conversations (at most 100), starting
    /// after the conversation the previous plan ended with (round robin), skipping the
    /// conversations already in flight. The planned conversations are in flight until
    /// [`Pending::report`].
    pub fn plan(&mut self, max: usize) -> Vec<ConversationEvent> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let max = max.clamp(1, MAX_EVENTS_PER_REQUEST);
        type Entry<'a> = (&'a String, &'a VecDeque<ConversationEvent>);
        let order: Box<dyn Iterator<Item = Entry<'_>> + '_> = match &self.cursor {
            Some(c) => Box::new(
                self.queues
                    .range::<str, _>((Excluded(c.as_str()), Unbounded))
                    .chain(
                        self.queues
                            .range::<str, _>((Unbounded, Included(c.as_str()))),
                    ),
            ),
            None => Box::new(self.queues.iter()),
        };
        let plan: Vec<ConversationEvent> = order
            .filter(|(c, _)| !self.in_flight.contains(*c))
            .filter_map(|(_, q)| q.front().cloned())
            .take(max)
            .collect();
        if let Some(last) = plan.last() {
            self.cursor = Some(last.conversation_id().to_string());
        }
        for e in &plan {
            self.in_flight.insert(e.conversation_id().to_string());
        }
        plan
    }

    /// Reports a planned request: `planned` is what [`Pending::plan`] gave (its conversations
    /// are no longer in flight), `finished` the event ids that are done with (delivered,
    /// delivered by the peer, or parked as dead letters). A finished event leaves the head of
    /// its conversation; an id that is not at a head removes nothing (order is never broken).
    pub fn report(&mut self, planned: &[ConversationEvent], finished: &HashSet<String>) {
        for e in planned {
            self.in_flight.remove(e.conversation_id());
        }
        self.remove(finished);
    }

    fn remove(&mut self, done: &HashSet<String>) {
        if done.is_empty() {
            return;
        }
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

/// Width of one done-mark set (an hour, in ms).
const DONE_BUCKET_MS: u64 = 3_600_000;

use crate::service::now_ms;

/// Delivers [`Pending`] events: claims, injects, reports.
#[derive(Debug, Clone)]
pub struct Injector {
    gc: GcClient,
    store: Arc<dyn Store>,
    claim_prefix: String,
    instance: String,
    claim_ttl: Duration,
    done_ttl: Duration,
    /// The liveness marks (`{prefix}{instance}` holds the token of the instance's current
    /// run) and this run's token: a claim names the run that made it, so a claim of a run
    /// that died (or was restarted) is taken over at once instead of after its TTL.
    liveness: Option<(String, String)>,
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
        let claim_ttl = claim_ttl_for(&gc);
        Injector {
            gc,
            store,
            claim_prefix: claim_prefix.into(),
            instance: instance.into(),
            claim_ttl,
            done_ttl: Duration::from_secs(6 * 3600),
            liveness: None,
        }
    }

    /// Ties the claims to this run: `alive_prefix` is the namespaced prefix of the liveness
    /// marks (`excp:alive:`), `token` this run's mark. A claim then reads
    /// `{instance}#{token}`; one whose run no longer holds its instance's mark (killed, or
    /// restarted with a new token) is stale and is taken over by one instance (a `SET NX`
    /// decides which), so events a killed instance claimed are delivered within the liveness
    /// TTL, not the claim TTL.
    pub fn with_liveness(
        mut self,
        alive_prefix: impl Into<String>,
        token: impl Into<String>,
    ) -> Injector {
        self.liveness = Some((alive_prefix.into(), token.into()));
        self
    }

    /// What this instance writes into a claim.
    fn holder(&self) -> String {
        match &self.liveness {
            Some((_, token)) => format!("{}#{token}", self.instance),
            None => self.instance.clone(),
        }
    }

    /// Whether a claim held by `holder` belongs to a run that is gone: its instance's liveness
    /// mark is absent or names another run. Without liveness (or an old claim without a token)
    /// nothing is ever judged stale.
    async fn stale(&self, holder: &str) -> Result<bool, StoreError> {
        let (Some((prefix, _)), Some((instance, token))) = (&self.liveness, holder.split_once('#'))
        else {
            return Ok(false);
        };
        let mark = self.store.get(&format!("{prefix}{instance}")).await?;
        Ok(mark.as_deref() != Some(token.as_bytes()))
    }

    /// How long this injector's claims hold.
    pub fn claim_ttl(&self) -> Duration {
        self.claim_ttl
    }

    /// How long a claim holds without a done mark before the other instance may take the event
    /// over (default: [`claim_ttl_for`] the GC client).
    pub fn with_claim_ttl(mut self, ttl: Duration) -> Injector {
        self.claim_ttl = ttl;
        self
    }

    /// The done-mark sets that may hold an event finished within `done_ttl` of now: one set
    /// per hour (`{prefix}done:{hour}`), newest first. Sets instead of a key per event keep
    /// the store's key space small (a busy site finishes millions of events in `done_ttl`,
    /// and every `SCAN` would walk them all).
    fn done_sets(&self) -> Vec<String> {
        let now_h = now_ms() / DONE_BUCKET_MS;
        let back = self.done_ttl.as_millis() as u64 / DONE_BUCKET_MS + 1;
        (0..=back)
            .map(|i| format!("{}done:{}", self.claim_prefix, now_h.saturating_sub(i)))
            .collect()
    }

    /// Who owns an event: done (by anyone), ours (newly claimed, or claimed by us in an
    /// earlier round that did not finish), or the other instance's.
    async fn claim(&self, event_id: &str) -> Result<Claim, StoreError> {
        if self
            .store
            .set_contains_any(&self.done_sets(), event_id.as_bytes())
            .await?
        {
            return Ok(Claim::Done);
        }
        let key = format!("{}{event_id}", self.claim_prefix);
        let me = self.holder();
        if self
            .store
            .put_if_absent(&key, me.as_bytes(), Some(self.claim_ttl))
            .await?
        {
            return Ok(Claim::Mine);
        }
        let Some(held) = self.store.get(&key).await? else {
            return Ok(Claim::Peer); // lapsed just now: the next round claims it
        };
        let held = String::from_utf8_lossy(&held).into_owned();
        if held == me {
            return Ok(Claim::Mine);
        }
        if self.stale(&held).await? {
            // One taker per stale claim: whoever sets the take-over mark first.
            let takeover = format!("{key}:takeover");
            let won = self
                .store
                .put_if_absent(&takeover, me.as_bytes(), Some(self.claim_ttl))
                .await?
                || self.store.get(&takeover).await?.as_deref() == Some(me.as_bytes());
            if won {
                self.store
                    .put_ttl(&key, me.as_bytes(), self.claim_ttl)
                    .await?;
                tracing::info!(event_id, stale = %held, "took over an event claimed by a run that is gone");
                return Ok(Claim::Mine);
            }
        }
        Ok(Claim::Peer)
    }

    /// Marks an event done (GC answered for it), in the current hour's set, which lives
    /// `done_ttl` past the end of its hour.
    async fn finish(&self, event_id: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let set = format!("{}done:{}", self.claim_prefix, now / DONE_BUCKET_MS);
        let left_in_hour = DONE_BUCKET_MS - now % DONE_BUCKET_MS;
        let ttl = self.done_ttl + Duration::from_millis(left_in_hour);
        self.store
            .set_add(&set, event_id.as_bytes(), Some(ttl))
            .await
            .map(|_| ())
    }

    /// Delivers one plan: claims its events, injects the claimed ones, and classifies GC's
    /// answer. A request GC rejects as a whole for its content ([`rejects_content`]) is split
    /// in halves until the bad event is alone, and that event is parked ([`DeadLetter`]); an
    /// event GC refuses with `retryable: false` is parked too. Retryable answers keep events
    /// pending. Never fails: a systemic error ends the round with [`Delivery::error`] set.
    pub async fn deliver(&self, plan: &[ConversationEvent]) -> Delivery {
        let mut out = Delivery::default();
        let mut mine = Vec::with_capacity(plan.len());
        for e in plan {
            match self.claim(e.event_id()).await {
                Ok(Claim::Mine) => mine.push(e.clone()),
                Ok(Claim::Done) => {
                    out.report.skipped_claimed += 1;
                    out.finished.insert(e.event_id().to_string());
                }
                Ok(Claim::Peer) => out.report.waiting_on_peer += 1,
                Err(err) => {
                    out.error = Some(err.into());
                    return out;
                }
            }
        }
        let mut work = vec![mine];
        while let Some(batch) = work.pop() {
            if batch.is_empty() {
                continue;
            }
            match self.gc.inject_conversation_events(&batch).await {
                Ok(result) => self.settle(&batch, &result.failed, &mut out).await,
                Err(e) if rejects_content(&e) && batch.len() > 1 => {
                    tracing::warn!(error = %e, events = batch.len(), "GC rejected a request; splitting it to isolate the event");
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    // Halves go in order: the first half is delivered first.
                    work.push(second);
                    work.push(first);
                }
                Err(e) if rejects_content(&e) => {
                    let Some(ev) = batch.into_iter().next() else {
                        continue;
                    };
                    let id = ev.event_id().to_string();
                    out.report
                        .parked
                        .push(DeadLetter::new(ev, e.to_string(), e.status()));
                    self.mark_done(&id).await;
                    out.finished.insert(id);
                }
                Err(e) => {
                    out.report.kept += batch.len() + work.iter().map(Vec::len).sum::<usize>();
                    out.error = Some(e.into());
                    return out;
                }
            }
        }
        out
    }

    /// Books GC's per-event answer for one accepted request.
    async fn settle(&self, batch: &[ConversationEvent], failed: &[EventError], out: &mut Delivery) {
        let by_id: BTreeMap<&str, &EventError> = failed
            .iter()
            .filter_map(|f| f.event_id.as_deref().map(|id| (id, f)))
            .collect();
        for e in batch {
            let id = e.event_id().to_string();
            match by_id.get(id.as_str()) {
                None => {
                    out.report.accepted += 1;
                }
                Some(f) if f.retryable => {
                    out.report.kept += 1;
                    out.report.retryable += 1;
                    continue;
                }
                Some(f) => {
                    out.report.refused.push((*f).clone());
                    out.report.parked.push(DeadLetter::new(
                        e.clone(),
                        f.message.clone().unwrap_or_else(|| "refused".into()),
                        None,
                    ));
                }
            }
            self.mark_done(&id).await;
            out.finished.insert(id);
        }
        // A failure without an event id cannot be matched: its events count as accepted
        // above; surface it so it is logged.
        out.report
            .refused
            .extend(failed.iter().filter(|f| f.event_id.is_none()).cloned());
    }

    async fn mark_done(&self, event_id: &str) {
        if let Err(err) = self.finish(event_id).await {
            // Without the mark the other instance may send it again once the claim expires;
            // GC applies each eventId once.
            tracing::warn!(error = %err, event_id, "done mark not stored");
        }
    }

    /// One round on `pending`: plan, deliver, report (for tests and the last round at stop).
    pub async fn round(&self, pending: &mut Pending) -> Result<RoundReport, InjectError> {
        let plan = pending.plan(MAX_EVENTS_PER_REQUEST);
        if plan.is_empty() {
            return Ok(RoundReport::default());
        }
        let d = self.deliver(&plan).await;
        pending.report(&plan, &d.finished);
        match d.error {
            Some(e) => Err(e),
            None => Ok(d.report),
        }
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
        let plan = p.plan(100);
        assert_eq!(ids(plan.clone()), ["a-0", "b-0", "c-0"]);
        assert!(p.plan(100).is_empty(), "every conversation is in flight");
        // a-0 accepted, b-0 kept (retryable): b does not advance.
        p.report(&plan, &HashSet::from(["a-0".to_string()]));
        let plan = p.plan(100);
        assert_eq!(ids(plan.clone()), ["a-1", "b-0", "c-0"]);
        // An id that is not at a head removes nothing (order is never broken).
        p.report(&plan, &HashSet::from(["b-2".to_string()]));
        assert_eq!(p.len(), 6);
        let plan = p.plan(100);
        p.report(
            &plan,
            &HashSet::from(["b-0".into(), "c-0".into(), "a-1".into()]),
        );
        assert_eq!(ids(p.plan(100)), ["a-2", "b-1"]);
        assert_eq!((p.len(), p.conversations()), (3, 2));
    }

    #[test]
    fn the_plan_never_exceeds_the_request_limit() {
        let mut p = Pending::default();
        for c in 0..250 {
            p.push(ev(&format!("conv{c:03}"), 0));
        }
        let first = p.plan(usize::MAX);
        assert_eq!(first.len(), MAX_EVENTS_PER_REQUEST);
        p.report(&first, &HashSet::new());
        let one = p.plan(0);
        assert_eq!(one.len(), 1);
        p.report(&one, &HashSet::new());
    }

    #[test]
    fn plans_rotate_fairly_between_conversations() {
        let mut p = Pending::default();
        for c in 0..250 {
            p.push(ev(&format!("conv{c:03}"), 0));
        }
        let convs = |v: &[ConversationEvent]| -> Vec<String> {
            v.iter().map(|e| e.conversation_id().to_string()).collect()
        };
        // Nothing is ever finished (say GC keeps answering retryable): the plans still walk
        // through every conversation instead of retrying the first hundred forever.
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..3 {
            let plan = p.plan(100);
            assert_eq!(plan.len(), 100, "round {round}");
            seen.extend(convs(&plan));
            p.report(&plan, &HashSet::new());
        }
        assert_eq!(
            seen.len(),
            250,
            "every conversation got its turn within three rounds"
        );
        let plan = p.plan(100);
        assert_eq!(
            convs(&plan)[0],
            "conv050",
            "the rotation continues where it stopped"
        );
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

#[cfg(test)]
mod dead_letter_tests {
    use super::*;
    use engage_store::EmbeddedStore;
    use gcex::emulator::{Emulator, EmulatorConfig, EmulatorHandle, Fault, FaultKind};

    struct World {
        emu: EmulatorHandle,
        injector: Injector,
        store: Arc<dyn Store>,
        gc: GcClient,
        source: String,
        _dir: tempfile::TempDir,
    }

    async fn world() -> World {
        let emu = Emulator::start(
            EmulatorConfig::new("dl", "dl-secret").with_rate_limit(0, Duration::from_secs(60)),
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
        let mut cfg = emu.client_config();
        cfg.retry.budget = Duration::from_secs(2);
        cfg.retry.initial_backoff = Duration::from_millis(5);
        let gc = GcClient::new(cfg).unwrap();
        let source = gc
            .create_presence_source("EXCP dead letters", None)
            .await
            .unwrap()
            .id
            .unwrap();
        World {
            injector: Injector::new(gc.clone(), store.clone(), "claims:", "me"),
            store,
            gc,
            emu,
            source,
            _dir: dir,
        }
    }

    /// An external party's established event of conversation `n` (a known or unknown source).
    fn established(n: u32, source: &str) -> ConversationEvent {
        ConversationEvent::from_json(
            "externalEstablishedEvents",
            serde_json::json!({
                "eventId": format!("00000000-0000-4000-8000-{n:012}"),
                "eventDateTime": "2026-01-01T00:00:00.000Z",
                "conversationId": format!("00000000-0000-4000-9000-{n:012}"),
                "communicationId": format!("00000000-0000-4000-a000-{n:012}"),
                "initialConfiguration": {"alerting": false, "inbound": true},
                "sourceConfiguration": {"sourceId": source, "interactionId": format!("call-{n}")},
                "ani": "+15550001",
                "dnis": "8000"
            }),
        )
        .unwrap()
        .unwrap()
    }

    fn conversation_exists(emu: &EmulatorHandle, n: u32) -> bool {
        emu.conversation(&format!("00000000-0000-4000-9000-{n:012}"))
            .is_some()
    }

    #[tokio::test]
    async fn an_event_refused_for_good_is_parked_and_the_rest_flows() {
        let w = world().await;
        let mut pending = Pending::default();
        for n in 0..20 {
            // Conversation 7 names a presence source GC does not know: refused for good.
            let source = if n == 7 {
                "00000000-0000-4000-8000-ffffffffffff"
            } else {
                w.source.as_str()
            };
            pending.push(established(n, source));
        }
        let r = w.injector.round(&mut pending).await.unwrap();
        assert_eq!(r.accepted, 19, "{r:?}");
        assert_eq!(r.parked.len(), 1);
        assert_eq!(
            r.parked[0].event.event_id(),
            "00000000-0000-4000-8000-000000000007"
        );
        assert!(r.parked[0].error.contains("presence source"), "{r:?}");
        assert!(
            pending.is_empty(),
            "nothing blocks behind the refused event"
        );
        for n in (0..20).filter(|n| *n != 7) {
            assert!(conversation_exists(&w.emu, n), "conversation {n} delivered");
        }
    }

    #[tokio::test]
    async fn a_request_rejected_as_a_whole_is_split_until_the_bad_event_is_alone() {
        let w = world().await;
        let mut pending = Pending::default();
        for n in 0..8 {
            pending.push(established(n, &w.source));
        }
        // GC rejects the request of 8, then the first half (4), then its first half (2), then
        // the first event alone: that one is parked, the 7 others are delivered.
        w.emu.inject_fault(Fault {
            path_prefix: "/api/v2/events/".into(),
            remaining: 4,
            kind: FaultKind::Status { status: 400 },
        });
        let r = w.injector.round(&mut pending).await.unwrap();
        assert_eq!(
            (r.accepted, r.parked.len()),
            (7, 1),
            "split isolates exactly one event: {r:?}"
        );
        assert_eq!(r.parked[0].status, Some(400));
        assert_eq!(
            r.parked[0].event.event_id(),
            "00000000-0000-4000-8000-000000000000"
        );
        assert!(pending.is_empty());
        assert!(!conversation_exists(&w.emu, 0));
        for n in 1..8 {
            assert!(conversation_exists(&w.emu, n), "conversation {n} delivered");
        }
    }

    /// Issue 11: GC refuses a malformed request whole (400 `invalid.date`, here one event's
    /// date among 12, not an injected fault): the request is split until the bad event is
    /// alone, it is parked with GC's reason, and the 11 others are delivered.
    #[tokio::test]
    async fn a_malformed_event_in_a_request_gc_refuses_whole_is_isolated() {
        let w = world().await;
        let mut pending = Pending::default();
        for n in 0..12 {
            let mut e = established(n, &w.source).to_json();
            if n == 9 {
                e["eventDateTime"] = serde_json::json!("2026-13-45T99:00:00.000Z");
            }
            pending.push(
                ConversationEvent::from_json("externalEstablishedEvents", e)
                    .unwrap()
                    .unwrap(),
            );
        }
        let r = w.injector.round(&mut pending).await.unwrap();
        assert_eq!((r.accepted, r.parked.len()), (11, 1), "{r:?}");
        assert_eq!(r.parked[0].status, Some(400));
        assert!(r.parked[0].error.contains("invalid.date"), "{r:?}");
        assert_eq!(
            r.parked[0].event.event_id(),
            "00000000-0000-4000-8000-000000000009"
        );
        assert!(pending.is_empty());
        for n in (0..12).filter(|n| *n != 9) {
            assert!(conversation_exists(&w.emu, n), "conversation {n} delivered");
        }
    }

    #[tokio::test]
    async fn systemic_failures_keep_every_event_for_later() {
        let w = world().await;
        let mut pending = Pending::default();
        for n in 0..5 {
            pending.push(established(n, &w.source));
        }
        // 403 (a missing permission) is not the events' fault: nothing is parked or split.
        w.emu.inject_fault(Fault {
            path_prefix: "/api/v2/events/".into(),
            remaining: 1,
            kind: FaultKind::Status { status: 403 },
        });
        let e = w.injector.round(&mut pending).await.unwrap_err();
        assert!(
            matches!(e, InjectError::Gc(ref g) if g.is_unauthorized()),
            "{e}"
        );
        assert_eq!(pending.len(), 5, "kept");
        assert_eq!(pending.in_flight(), 0, "reported");
        let r = w.injector.round(&mut pending).await.unwrap();
        assert_eq!(r.accepted, 5);
        assert!(r.parked.is_empty());
    }

    #[test]
    fn a_dead_letter_round_trips_through_json() {
        let d = DeadLetter::new(established(1, "s"), "refused".into(), Some(400));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DeadLetter>(&json).unwrap(), d);
    }

    /// Issue 12 §7: a claim names the run that made it. While that run's liveness mark holds
    /// its token the claim is respected; once the run is gone (killed: no mark; restarted: a
    /// new token) the survivor takes the event over at once, long before the claim's TTL.
    #[tokio::test]
    async fn a_claim_of_a_run_that_is_gone_is_taken_over_at_once() {
        let w = world().await;
        let store = w.store.clone();
        let gc = w.gc.clone();
        let ev = |n: u32| established(n, &w.source);
        // The peer's run "tok-a" holds its mark and claimed event 1 (an hour's TTL).
        store
            .put_ttl("alive:a", b"tok-a", Duration::from_secs(3600))
            .await
            .unwrap();
        for n in [1, 2] {
            store
                .put_if_absent(
                    &format!("claims:{}", ev(n).event_id()),
                    b"a#tok-a",
                    Some(Duration::from_secs(3600)),
                )
                .await
                .unwrap();
        }
        let b = Injector::new(gc.clone(), store.clone(), "claims:", "b")
            .with_liveness("alive:", "tok-b");
        let mut pending = Pending::default();
        pending.push(ev(1));
        let r = b.round(&mut pending).await.unwrap();
        assert_eq!(
            r.waiting_on_peer, 1,
            "a live run's claim is respected: {r:?}"
        );
        // The peer restarts: a new run, a new token. Its old claims are taken over now.
        store
            .put_ttl("alive:a", b"tok-a2", Duration::from_secs(3600))
            .await
            .unwrap();
        let r = b.round(&mut pending).await.unwrap();
        assert_eq!(r.accepted, 1, "{r:?}");
        assert!(pending.is_empty());
        // Killed (no mark at all): the same.
        store.delete("alive:a").await.unwrap();
        pending.push(ev(2));
        let r = b.round(&mut pending).await.unwrap();
        assert_eq!(r.accepted, 1, "{r:?}");
        // Only one instance takes a stale claim over: a third contender waits.
        store
            .put_if_absent(
                &format!("claims:{}", ev(3).event_id()),
                b"a#tok-a",
                Some(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        store
            .put_if_absent(
                &format!("claims:{}:takeover", ev(3).event_id()),
                b"c#tok-c",
                Some(Duration::from_secs(3600)),
            )
            .await
            .unwrap();
        pending.push(ev(3));
        let r = b.round(&mut pending).await.unwrap();
        assert_eq!(r.waiting_on_peer, 1, "{r:?}");
    }
}
