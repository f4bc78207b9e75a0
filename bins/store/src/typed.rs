//! Typed views over any [`Store`]: id maps, extension DN records, the outbox, de-duplication.

use super::{Namespace, Store, StoreError, StoreResult};
use crate::schema::keys;
use serde::{Serialize, de::DeserializeOwned};
use std::sync::Arc;
use std::time::Duration;

/// The kinds of Engage objects mapped to GC ids. A DBID is unique only within its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IdKind {
    /// Person → GC user.
    Person,
    /// Skill → GC routing skill.
    Skill,
    /// Virtual queue DN → GC queue.
    Queue,
    /// Business attribute value → GC wrap-up code.
    WrapUpCode,
    /// Agent login → GC user (for EXAS/EXCP look-ups).
    AgentLogin,
}

impl IdKind {
    fn tag(self) -> &'static str {
        match self {
            IdKind::Person => "person",
            IdKind::Skill => "skill",
            IdKind::Queue => "queue",
            IdKind::WrapUpCode => "wrapup",
            IdKind::AgentLogin => "login",
        }
    }
}

/// Engage key ↔ GC id maps for every object kind, in both directions.
///
/// The Engage side is a string key (a DBID for most kinds, a value name for wrap-up codes).
#[derive(Debug, Clone)]
pub struct IdMap {
    store: Arc<dyn Store>,
    ns: Namespace,
}

impl IdMap {
    /// A map view over `store` in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: Namespace) -> IdMap {
        IdMap { store, ns }
    }

    fn fwd(&self, kind: IdKind, engage: &str) -> String {
        self.ns.key(&keys::id_map_engage(kind.tag(), engage))
    }

    fn rev(&self, kind: IdKind, gc: &str) -> String {
        self.ns.key(&keys::id_map_gc(kind.tag(), gc))
    }

    /// Records that Engage object `engage` of `kind` is GC object `gc_id`.
    pub async fn set(&self, kind: IdKind, engage: &str, gc_id: &str) -> StoreResult<()> {
        self.store
            .put(&self.fwd(kind, engage), gc_id.as_bytes())
            .await?;
        self.store
            .put(&self.rev(kind, gc_id), engage.as_bytes())
            .await
    }

    /// The GC id mapped to an Engage object.
    pub async fn gc_id(&self, kind: IdKind, engage: &str) -> StoreResult<Option<String>> {
        let key = self.fwd(kind, engage);
        self.store
            .get(&key)
            .await?
            .map(|v| utf8(&key, v))
            .transpose()
    }

    /// The Engage key mapped to a GC id.
    pub async fn engage_key(&self, kind: IdKind, gc_id: &str) -> StoreResult<Option<String>> {
        let key = self.rev(kind, gc_id);
        self.store
            .get(&key)
            .await?
            .map(|v| utf8(&key, v))
            .transpose()
    }

    /// Every (Engage key, GC id) pair of a kind.
    pub async fn all(&self, kind: IdKind) -> StoreResult<Vec<(String, String)>> {
        let prefix = self.fwd(kind, "");
        let rows = self.store.scan_prefix(&prefix).await?;
        rows.into_iter()
            .map(|(k, v)| {
                let engage = k[prefix.len()..].to_string();
                utf8(&k, v).map(|gc| (engage, gc))
            })
            .collect()
    }

    /// Forgets a mapping (both directions).
    pub async fn remove(&self, kind: IdKind, engage: &str) -> StoreResult<()> {
        if let Some(gc) = self.gc_id(kind, engage).await? {
            self.store.delete(&self.rev(kind, &gc)).await?;
        }
        self.store.delete(&self.fwd(kind, engage)).await?;
        Ok(())
    }
}

fn utf8(key: &str, v: Vec<u8>) -> StoreResult<String> {
    String::from_utf8(v).map_err(|e| StoreError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// Stores and reads JSON values under namespaced keys.
#[derive(Debug, Clone)]
pub struct JsonView {
    store: Arc<dyn Store>,
    ns: Namespace,
}

impl JsonView {
    /// A JSON view over `store` in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: Namespace) -> JsonView {
        JsonView { store, ns }
    }

    /// Writes `value` at relative key `rel`.
    pub async fn put<T: Serialize>(&self, rel: &str, value: &T) -> StoreResult<()> {
        let key = self.ns.key(rel);
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.store.put(&key, &bytes).await
    }

    /// Reads the value at relative key `rel`.
    pub async fn get<T: DeserializeOwned>(&self, rel: &str) -> StoreResult<Option<T>> {
        let key = self.ns.key(rel);
        match self.store.get(&key).await? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| StoreError::Corrupt {
                    key,
                    message: e.to_string(),
                }),
        }
    }

    /// Every value under relative prefix `rel`, keyed by the rest of the key.
    pub async fn scan<T: DeserializeOwned>(&self, rel: &str) -> StoreResult<Vec<(String, T)>> {
        let prefix = self.ns.key(rel);
        let rows = self.store.scan_prefix(&prefix).await?;
        rows.into_iter()
            .map(|(k, v)| {
                serde_json::from_slice(&v)
                    .map(|t| (k[prefix.len()..].to_string(), t))
                    .map_err(|e| StoreError::Corrupt {
                        key: k,
                        message: e.to_string(),
                    })
            })
            .collect()
    }

    /// Deletes the value at relative key `rel`.
    pub async fn delete(&self, rel: &str) -> StoreResult<bool> {
        self.store.delete(&self.ns.key(rel)).await
    }

    /// Marks `id` as seen for `ttl`; returns true only for the first caller (HA de-duplication).
    pub async fn first_seen(&self, id: &str, ttl: Duration) -> StoreResult<bool> {
        self.store
            .put_if_absent(&self.ns.key(&keys::dedup(id)), b"1", Some(ttl))
            .await
    }
}

/// A durable FIFO of items waiting for GC to accept them. Items survive restarts: they are
/// removed only after delivery ([`Outbox::ack`]).
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    queue: String,
}

impl Outbox {
    /// The outbox named `name` in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: &Namespace, name: &str) -> Outbox {
        Outbox {
            store,
            queue: ns.key(&keys::outbox(name)),
        }
    }

    /// Appends an item.
    pub async fn push<T: Serialize>(&self, item: &T) -> StoreResult<()> {
        let bytes = serde_json::to_vec(item).map_err(|e| StoreError::Corrupt {
            key: self.queue.clone(),
            message: e.to_string(),
        })?;
        self.store.queue_push(&self.queue, &bytes).await
    }

    /// Up to `max` of the oldest items, not removed.
    pub async fn peek<T: DeserializeOwned>(&self, max: usize) -> StoreResult<Vec<T>> {
        self.store
            .queue_peek(&self.queue, max)
            .await?
            .into_iter()
            .map(|v| {
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    key: self.queue.clone(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Removes the `count` oldest items after they were delivered.
    pub async fn ack(&self, count: usize) -> StoreResult<()> {
        self.store.queue_pop(&self.queue, count).await
    }

    /// Items waiting.
    pub async fn len(&self) -> StoreResult<usize> {
        self.store.queue_len(&self.queue).await
    }

    /// Whether nothing waits.
    pub async fn is_empty(&self) -> StoreResult<bool> {
        Ok(self.len().await? == 0)
    }
}
