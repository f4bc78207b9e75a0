//! Delivery of outbox items to Genesys Cloud: how GC's answers are classified, how a bad item
//! is isolated, and the dead-letter list.
//!
//! GC answers fall in three classes ([`GcFault`], from [`classify`]):
//! - **retryable** (429, 5xx, transport failures): GC or the network is down for a while; the
//!   round is retried with backoff and jitter, nothing is dropped;
//! - **systemic** (401/403/404, a refused token): every request would fail the same way until
//!   an operator acts (permissions, org, presence source); retried with backoff, `/health` is
//!   down, nothing is dropped;
//! - **content** (400/409/413/422): GC refuses what a request carries; the request is split in
//!   halves until the bad event is alone, and only that event's outbox item is parked.
//!
//! An event GC refuses with `retryable: false` parks its item too; one it keeps refusing with
//! `retryable: true` is parked after [`DEFAULT_MAX_ATTEMPTS`] rounds. Parked items go to the
//! **dead-letter list** in the store (`outbox:exas-dead-letter`): an ERROR log line each, the
//! metric `exas_dead_letter_events`, and `/status` shows the count and the last one. An outbox
//! entry that no longer decodes (e.g. written by another version) is parked the same way with
//! its raw bytes, so it never blocks the items behind it.

use super::tracker::OutboxItem;
use engage_store::{Namespace, Outbox, Store};
use gcex::events::{InjectReport, UserPresenceEvent, UserRoutingStatusEvent};
use gcex::{GcClient, GcError};
use std::sync::Arc;

/// The store queue name of the EXAS dead-letter list.
pub const DEAD_LETTER_QUEUE: &str = "exas-dead-letter";

/// Rounds in which GC may answer `retryable` for one item's event before the item is parked.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// Raw bytes of an undecodable entry kept in its dead letter (longer entries are cut).
const RAW_KEPT: usize = 4096;

/// The dead-letter list in the store.
pub fn dead_letters(store: Arc<dyn Store>, ns: &Namespace) -> Outbox {
    Outbox::new(store, ns, DEAD_LETTER_QUEUE)
}

/// What a failed GC request means for the items it carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GcFault {
    /// 429, 5xx, transport: try again later, with backoff.
    Retryable,
    /// 401/403/404 or a refused token: an operator must act; back off, never drop.
    Systemic,
    /// 400/409/413/422: GC refuses the content; split the request to isolate the bad event.
    Content,
}

impl GcFault {
    /// The class's name, for logs, metrics and `/status`.
    pub fn name(self) -> &'static str {
        match self {
            GcFault::Retryable => "retryable",
            GcFault::Systemic => "systemic",
            GcFault::Content => "content",
        }
    }
}

/// Classifies a failed GC request.
pub fn classify(e: &GcError) -> GcFault {
    if e.is_unauthorized() {
        return GcFault::Systemic;
    }
    match e.status() {
        Some(400 | 409 | 413 | 422) => GcFault::Content,
        Some(429 | 500..=599) => GcFault::Retryable,
        Some(_) => GcFault::Systemic,
        None if e.is_retryable() => GcFault::Retryable,
        None => GcFault::Systemic,
    }
}

/// One outbox item parked for good.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeadLetter {
    /// The outbox entry's id.
    pub outbox_id: String,
    /// The item, when it decodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<OutboxItem>,
    /// The stored text of an entry that does not decode (lossy UTF-8, at most 4 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// Why it was parked: GC's answer, or the decoding error.
    pub error: String,
    /// The HTTP status of a request GC refused as a whole, if that is how it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Rounds the item took part in before it was parked.
    pub attempts: u32,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl DeadLetter {
    /// A dead letter for an item GC refused, parked now.
    pub fn refused(
        outbox_id: &str,
        item: OutboxItem,
        error: String,
        status: Option<u16>,
        attempts: u32,
    ) -> DeadLetter {
        DeadLetter {
            outbox_id: outbox_id.to_string(),
            item: Some(item),
            raw: None,
            error,
            status,
            attempts,
            parked_at: now_rfc3339(),
        }
    }

    /// A dead letter for an entry that does not decode, parked now.
    pub fn undecodable(outbox_id: &str, raw: &[u8], error: String) -> DeadLetter {
        let cut = &raw[..raw.len().min(RAW_KEPT)];
        DeadLetter {
            outbox_id: outbox_id.to_string(),
            item: None,
            raw: Some(String::from_utf8_lossy(cut).into_owned()),
            error: format!("outbox entry does not decode: {error}"),
            status: None,
            attempts: 0,
            parked_at: now_rfc3339(),
        }
    }

    /// A one-line summary for `/status`: the id and the error.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.outbox_id, self.error)
    }
}

/// What became of one item in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fate {
    /// Every event of the item was accepted (or the item had none).
    Accepted,
    /// GC answered `retryable` for one of its events: it goes again next round.
    Retry(String),
    /// GC refused it for good: park it.
    Refused {
        /// GC's answer.
        error: String,
        /// The status of a request refused as a whole.
        status: Option<u16>,
    },
    /// Not settled: the round stopped early (see [`RoundOutcome::stopped`]).
    Unsettled,
}

/// The outcome of one delivery round: a fate per item (in the order given) and, when GC
/// failed for a reason that calls for a backoff, why the round stopped.
#[derive(Debug)]
#[non_exhaustive]
pub struct RoundOutcome {
    /// One fate per item.
    pub fates: Vec<Fate>,
    /// Events GC accepted: presence, routing status.
    pub injected: [u64; 2],
    /// Why the round stopped early (items not settled are [`Fate::Unsettled`]).
    pub stopped: Option<(GcFault, GcError)>,
}

/// Delivers one round: the presence events of `items`, then the routing-status events of the
/// items not refused or retried meanwhile. A request GC refuses for its content is split in
/// halves until the bad event is alone; retryable and systemic failures stop the round (the
/// unsettled items go again; GC applies each `eventId` once, so events already accepted are
/// not applied twice).
pub async fn deliver(gc: &GcClient, items: &[OutboxItem]) -> RoundOutcome {
    let mut fates = vec![Fate::Unsettled; items.len()];
    let mut injected = [0u64; 2];
    let presence: Vec<(usize, Event)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, it)| it.presence.clone().map(|e| (i, Event::Presence(e))))
        .collect();
    if let Some(s) = phase(gc, presence, &mut fates, &mut injected[0]).await {
        return RoundOutcome {
            fates,
            injected,
            stopped: Some(s),
        };
    }
    let routing: Vec<(usize, Event)> = items
        .iter()
        .enumerate()
        .filter(|(i, _)| fates[*i] == Fate::Unsettled)
        .filter_map(|(i, it)| it.routing.clone().map(|e| (i, Event::Routing(e))))
        .collect();
    let stopped = phase(gc, routing, &mut fates, &mut injected[1]).await;
    // After a stop, items whose presence went through but whose routing status did not stay
    // unsettled: they go again as a whole.
    if stopped.is_none() {
        for f in &mut fates {
            if *f == Fate::Unsettled {
                *f = Fate::Accepted;
            }
        }
    }
    RoundOutcome {
        fates,
        injected,
        stopped,
    }
}

/// One event of an item.
#[derive(Debug, Clone)]
enum Event {
    Presence(UserPresenceEvent),
    Routing(UserRoutingStatusEvent),
}

impl Event {
    fn id(&self) -> &str {
        match self {
            Event::Presence(e) => &e.event_id,
            Event::Routing(e) => &e.event_id,
        }
    }
}

/// Injects one request of events of one kind.
async fn inject(gc: &GcClient, batch: &[(usize, Event)]) -> Result<InjectReport, GcError> {
    let mut presence = Vec::new();
    let mut routing = Vec::new();
    for (_, e) in batch {
        match e {
            Event::Presence(p) => presence.push(p.clone()),
            Event::Routing(r) => routing.push(r.clone()),
        }
    }
    if presence.is_empty() {
        gc.inject_routing_status_events(&routing).await
    } else {
        gc.inject_presence_events(&presence).await
    }
}

/// One kind of event: injects `events` (with the index of their item), splitting on content
/// errors; books per-event failures in `fates`. Returns why it stopped, if it did.
async fn phase(
    gc: &GcClient,
    events: Vec<(usize, Event)>,
    fates: &mut [Fate],
    injected: &mut u64,
) -> Option<(GcFault, GcError)> {
    let mut work: Vec<Vec<(usize, Event)>> = vec![events];
    while let Some(batch) = work.pop() {
        if batch.is_empty() {
            continue;
        }
        match inject(gc, &batch).await {
            Ok(report) => {
                let mut failed = 0u64;
                for f in &report.failed {
                    let msg = f.message.clone().unwrap_or_else(|| "refused".into());
                    let Some(idx) = f
                        .event_id
                        .as_deref()
                        .and_then(|id| batch.iter().find(|(_, e)| e.id() == id).map(|(i, _)| *i))
                    else {
                        tracing::warn!(message = %msg, "Genesys Cloud reported a failure without an event id");
                        continue;
                    };
                    failed += 1;
                    fates[idx] = if f.retryable {
                        Fate::Retry(msg)
                    } else {
                        Fate::Refused {
                            error: msg,
                            status: None,
                        }
                    };
                }
                *injected += (batch.len() as u64).saturating_sub(failed);
            }
            Err(e) => match classify(&e) {
                GcFault::Content if batch.len() > 1 => {
                    tracing::warn!(error = %e, events = batch.len(), "Genesys Cloud refused a request; splitting it to isolate the event");
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    // The first half goes first.
                    work.push(second);
                    work.push(first);
                }
                GcFault::Content => {
                    if let Some((idx, _)) = batch.first() {
                        fates[*idx] = Fate::Refused {
                            error: e.to_string(),
                            status: e.status(),
                        };
                    }
                }
                fault => return Some((fault, e)),
            },
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_round_trips_and_cuts_raw_bytes() {
        let d = DeadLetter::undecodable("raw-1", &[0xff; 10_000], "not JSON".into());
        assert_eq!(d.raw.as_ref().map(|r| r.chars().count()), Some(RAW_KEPT));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<DeadLetter>(&json).unwrap(), d);
        assert!(
            d.summary()
                .starts_with("raw-1: outbox entry does not decode")
        );
    }

    #[test]
    fn fault_names() {
        assert_eq!(GcFault::Retryable.name(), "retryable");
        assert_eq!(GcFault::Systemic.name(), "systemic");
        assert_eq!(GcFault::Content.name(), "content");
    }
}
