//! The spill: where undelivered GC events go once memory holds `EXCP_MAX_PENDING_EVENTS`
//! (issue 12 §2; our design).
//!
//! While GC is unreachable for long, events accumulate. Up to the cap they wait in memory (and
//! in the checkpoint); past it the engine sets every *new* event aside
//! ([`Engine::start_spilling`](crate::engine::Engine::start_spilling)) and the service appends
//! them to a list in the store, `excp:spill:{instance}`, one entry per event, oldest first.
//! Memory and the checkpoint stop growing; Redis holds the backlog (about 1 KB per event).
//!
//! When delivery has brought the in-memory queue down to half the cap, the head of the spill is
//! read back behind it ([`Spill::reload`]), a batch at a time; when the spill is empty, the
//! events still buffered join the queue and spilling ends. Every pending event is older than
//! every spilled one, and the spill is read in the order it was written, so each conversation's
//! events keep their order. An entry is removed from the store only after it is back in memory
//! (at worst an entry is read twice after a store failure: the pair's done marks drop the
//! second copy). An entry that no longer decodes (written by another version) is moved to
//! `excp:spill:{instance}:unreadable` for the operator and counted, never allowed to block the
//! rest.

use engage_store::{Namespace, Store, StoreError};
use gcex::events::ConversationEvent;
use std::sync::Arc;

/// Events read back from the spill per step.
pub const RELOAD_BATCH: usize = 1_000;

/// One instance's spill list in the store.
#[derive(Debug, Clone)]
pub struct Spill {
    store: Arc<dyn Store>,
    key: String,
    unreadable: String,
}

/// What [`Spill::write`] did.
#[derive(Debug, Default)]
pub struct Written {
    /// Events appended to the store.
    pub written: usize,
    /// The events not written (the store failed), in order, with the error.
    pub unwritten: Vec<ConversationEvent>,
    /// Why writing stopped, if it did.
    pub error: Option<StoreError>,
}

/// What [`Spill::reload`] read back.
#[derive(Debug, Default)]
pub struct Reloaded {
    /// Events read from the head of the spill, oldest first (removed from the store).
    pub events: Vec<ConversationEvent>,
    /// Entries that did not decode, moved aside.
    pub unreadable: usize,
}

impl Spill {
    /// The spill of `instance`.
    pub fn new(store: Arc<dyn Store>, ns: &Namespace, instance: &str) -> Spill {
        let key = ns.key(&engage_store::schema::keys::excp_spill(instance));
        Spill {
            store,
            unreadable: format!("{key}:unreadable"),
            key,
        }
    }

    /// Entries in the store's spill list.
    pub async fn entries(&self) -> Result<usize, StoreError> {
        self.store.queue_len(&self.key).await
    }

    /// Appends `events` in order; stops at the first store error and gives the rest back.
    pub async fn write(&self, events: Vec<ConversationEvent>) -> Written {
        let mut out = Written::default();
        let mut rest = events.into_iter();
        for e in rest.by_ref() {
            let bytes = encode(&e);
            if let Err(err) = self.store.queue_push(&self.key, &bytes).await {
                out.unwritten.push(e);
                out.error = Some(err);
                break;
            }
            out.written += 1;
        }
        out.unwritten.extend(rest);
        out
    }

    /// Reads up to `max` events from the head of the spill and removes them from the store
    /// (only once they are read: nothing is lost when the store fails in between).
    pub async fn reload(&self, max: usize) -> Result<Reloaded, StoreError> {
        let raw = self.store.queue_peek(&self.key, max.max(1)).await?;
        if raw.is_empty() {
            return Ok(Reloaded::default());
        }
        let mut out = Reloaded::default();
        let mut aside = Vec::new();
        for bytes in &raw {
            match decode(bytes) {
                Some(e) => out.events.push(e),
                None => aside.push(bytes),
            }
        }
        for bytes in aside {
            self.store.queue_push(&self.unreadable, bytes).await?;
            out.unreadable += 1;
        }
        self.store.queue_pop(&self.key, raw.len()).await?;
        Ok(out)
    }
}

/// One entry: `[array name, event JSON]`.
fn encode(e: &ConversationEvent) -> Vec<u8> {
    // Plain data always serializes.
    serde_json::to_vec(&(e.array_name(), e.to_json())).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Option<ConversationEvent> {
    let (array, json): (String, serde_json::Value) = serde_json::from_slice(bytes).ok()?;
    ConversationEvent::from_json(&array, json)?.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_store::EmbeddedStore;

    fn event(n: u32) -> ConversationEvent {
        ConversationEvent::from_json(
            "externalEstablishedEvents",
            serde_json::json!({
                "eventId": format!("00000000-0000-4000-8000-{n:012}"),
                "eventDateTime": "2026-01-01T00:00:00.000Z",
                "conversationId": "00000000-0000-4000-8000-0000000000aa",
                "communicationId": "00000000-0000-4000-8000-0000000000bb",
                "initialConfiguration": {"alerting": false, "inbound": true},
                "sourceConfiguration": {"sourceId": "s", "interactionId": "call-1"},
                "ani": "+15550001",
                "dnis": "8000"
            }),
        )
        .unwrap()
        .unwrap()
    }

    #[tokio::test]
    async fn the_spill_gives_back_in_order_and_moves_unreadable_entries_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
        let ns = Namespace::new("t", "o");
        let spill = Spill::new(store.clone(), &ns, "a");
        let w = spill.write((1..=5).map(event).collect()).await;
        assert_eq!((w.written, w.unwritten.len()), (5, 0));
        assert!(w.error.is_none());
        // An entry an older or newer version wrote that this one cannot read.
        store
            .queue_push(&spill.key, b"[\"noSuchEvents\", {}]")
            .await
            .unwrap();
        spill.write(vec![event(6)]).await;
        assert_eq!(spill.entries().await.unwrap(), 7);

        let first = spill.reload(3).await.unwrap();
        let ids: Vec<&str> = first.events.iter().map(|e| e.event_id()).collect();
        assert_eq!(
            ids,
            [1, 2, 3].map(|n| format!("00000000-0000-4000-8000-{n:012}"))
        );
        let rest = spill.reload(10).await.unwrap();
        assert_eq!(rest.events.len(), 3);
        assert_eq!(rest.unreadable, 1);
        assert_eq!(spill.entries().await.unwrap(), 0);
        assert_eq!(store.queue_len(&spill.unreadable).await.unwrap(), 1);
        let empty = spill.reload(10).await.unwrap();
        assert!(empty.events.is_empty() && empty.unreadable == 0);
    }
}
