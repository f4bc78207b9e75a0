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
        Ok(self.scan_checked(rel).await?.0)
    }

    /// Like [`JsonView::scan`], and also the keys of the records that did not decode. A
    /// corrupt record (written by another version, or damaged) never fails the whole scan:
    /// it is skipped, logged at WARN with its key, and counted in
    /// [`corrupt_records_skipped`].
    pub async fn scan_checked<T: DeserializeOwned>(
        &self,
        rel: &str,
    ) -> StoreResult<(Vec<(String, T)>, Vec<String>)> {
        let prefix = self.ns.key(rel);
        let rows = self.store.scan_prefix(&prefix).await?;
        let mut good = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for (k, v) in rows {
            match serde_json::from_slice(&v) {
                Ok(t) => good.push((k[prefix.len()..].to_string(), t)),
                Err(e) => {
                    CORRUPT_SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(key = %k, error = %e, "skipping a stored record that does not decode (another version's, or damaged); the rest is used");
                    bad.push(k);
                }
            }
        }
        Ok((good, bad))
    }

    /// Adds `value` (as JSON) to the set at relative key `rel`, which expires `ttl` after this
    /// add; returns whether it was new.
    pub async fn set_add<T: Serialize>(
        &self,
        rel: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        let key = self.ns.key(rel);
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt {
            key: key.clone(),
            message: e.to_string(),
        })?;
        self.store.set_add(&key, &bytes, ttl).await
    }

    /// The members of the set at relative key `rel` that decode as `T`; the others are
    /// skipped, logged and counted as [`JsonView::scan_checked`] does.
    pub async fn set_members<T: DeserializeOwned>(&self, rel: &str) -> StoreResult<Vec<T>> {
        let key = self.ns.key(rel);
        let mut out = Vec::new();
        for m in self.store.set_members(&key).await? {
            match serde_json::from_slice(&m) {
                Ok(t) => out.push(t),
                Err(e) => {
                    CORRUPT_SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(key = %key, error = %e, "skipping a set member that does not decode");
                }
            }
        }
        Ok(out)
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
/// removed only after delivery.
///
/// Two ways to use it:
/// - plain: [`Outbox::push`], [`Outbox::peek`], [`Outbox::ack`] (removes the first N items;
///   fine for a list only one task ever trims, such as a dead-letter list);
/// - by id: [`Outbox::push_entry`] gives each item an id, [`Outbox::peek_entries`] returns
///   ids (and names items that no longer decode instead of failing), and
///   [`Outbox::ack_ids`] removes exactly the items delivered: only entries whose ids were
///   acknowledged leave the head of the queue, under a short trim lock, so two consumers on
///   one outbox never remove each other's undelivered items.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    queue: String,
    trim_lock: String,
}

/// How long a trim lock ([`Outbox::ack_ids`]) lives if its holder dies mid-trim.
const TRIM_LOCK_TTL: Duration = Duration::from_secs(30);
/// How long [`Outbox::ack_ids`] waits for another consumer's trim before giving up (the items
/// stay; the caller acknowledges them again later).
const TRIM_LOCK_WAIT: Duration = Duration::from_secs(5);

/// One item of an outbox read by id ([`Outbox::peek_entries`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OutboxEntry<T> {
    /// An item that decodes.
    Item {
        /// Its id (acknowledge it with [`Outbox::ack_ids`]).
        id: String,
        /// The item.
        item: T,
    },
    /// An entry that no longer decodes (written by another version, or garbage). It must be
    /// parked and acknowledged, or it blocks everything behind it.
    Undecodable {
        /// Its id: the one it was pushed with if the envelope is readable, else derived from
        /// its bytes (`raw-…`).
        id: String,
        /// The stored bytes.
        raw: Vec<u8>,
        /// Why it does not decode.
        error: String,
    },
}

impl<T> OutboxEntry<T> {
    /// The entry's id.
    pub fn id(&self) -> &str {
        match self {
            OutboxEntry::Item { id, .. } | OutboxEntry::Undecodable { id, .. } => id,
        }
    }
}

/// The stored form of an item pushed with [`Outbox::push_entry`].
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeOut<'a, T> {
    outbox_id: &'a str,
    item: &'a T,
}

/// A stable id for bytes without an envelope (FNV-1a, 64 bits): the same entry gets the same
/// id on every instance.
fn bytes_id(prefix: &str, raw: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in raw {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{prefix}-{h:016x}")
}

/// The id of a stored entry, without decoding its item.
fn entry_id(raw: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct IdOnly {
        outbox_id: String,
    }
    match serde_json::from_slice::<IdOnly>(raw) {
        Ok(e) => e.outbox_id,
        Err(_) => match serde_json::from_slice::<serde_json::Value>(raw) {
            Ok(_) => bytes_id("legacy", raw),
            Err(_) => bytes_id("raw", raw),
        },
    }
}

fn decode_entry<T: DeserializeOwned>(raw: Vec<u8>) -> OutboxEntry<T> {
    let value = match serde_json::from_slice::<serde_json::Value>(&raw) {
        Ok(v) => v,
        Err(e) => {
            return OutboxEntry::Undecodable {
                id: bytes_id("raw", &raw),
                error: format!("not JSON: {e}"),
                raw,
            };
        }
    };
    let enveloped = value
        .get("outboxId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .zip(value.get("item").cloned());
    match enveloped {
        Some((id, item)) => match serde_json::from_value::<T>(item) {
            Ok(item) => OutboxEntry::Item { id, item },
            Err(e) => OutboxEntry::Undecodable {
                id,
                error: e.to_string(),
                raw,
            },
        },
        // Written before items had ids: its id comes from its bytes.
        None => match serde_json::from_value::<T>(value) {
            Ok(item) => OutboxEntry::Item {
                id: bytes_id("legacy", &raw),
                item,
            },
            Err(e) => OutboxEntry::Undecodable {
                id: bytes_id("legacy", &raw),
                error: e.to_string(),
                raw,
            },
        },
    }
}

/// A fresh outbox item id: sortable by creation time within a process, unique across
/// processes (time, process id, a per-process counter and a per-process random part).
fn new_entry_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: OnceLock<u64> = OnceLock::new();
    let salt = *SALT.get_or_init(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish()
    });
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{ms:013}-{:08x}-{salt:016x}-{n:010}", std::process::id())
}

impl Outbox {
    /// The outbox named `name` in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: &Namespace, name: &str) -> Outbox {
        Outbox {
            store,
            queue: ns.key(&keys::outbox(name)),
            trim_lock: ns.key(&keys::outbox_trim_lock(name)),
        }
    }

    /// The full store key of the queue (for tools and tests that write raw entries).
    pub fn queue_key(&self) -> &str {
        &self.queue
    }

    /// Appends an item under a fresh id, which it returns.
    pub async fn push_entry<T: Serialize>(&self, item: &T) -> StoreResult<String> {
        let id = new_entry_id();
        let bytes = serde_json::to_vec(&EnvelopeOut {
            outbox_id: &id,
            item,
        })
        .map_err(|e| StoreError::Corrupt {
            key: self.queue.clone(),
            message: e.to_string(),
        })?;
        self.store.queue_push(&self.queue, &bytes).await?;
        Ok(id)
    }

    /// Up to `max` of the oldest entries with their ids, not removed. Never fails on an entry
    /// that does not decode: it comes back as [`OutboxEntry::Undecodable`].
    pub async fn peek_entries<T: DeserializeOwned>(
        &self,
        max: usize,
    ) -> StoreResult<Vec<OutboxEntry<T>>> {
        Ok(self
            .store
            .queue_peek(&self.queue, max)
            .await?
            .into_iter()
            .map(decode_entry)
            .collect())
    }

    /// Removes the delivered entries `ids` from the head of the queue: the leading entries
    /// whose id is in `ids`, and nothing else. Returns how many were removed; entries that are
    /// not (yet) at the head stay, so acknowledge them again once what precedes them is
    /// delivered. Runs under a short trim lock (`outboxtrim:{name}`); when another consumer
    /// holds it for longer than a few seconds, nothing is removed (`Ok(0)`).
    pub async fn ack_ids<S: AsRef<str>>(&self, ids: &[S]) -> StoreResult<usize> {
        if ids.is_empty() {
            return Ok(0);
        }
        let wanted: std::collections::HashSet<&str> = ids.iter().map(AsRef::as_ref).collect();
        let token = new_entry_id();
        let deadline = tokio::time::Instant::now() + TRIM_LOCK_WAIT;
        while !self
            .store
            .put_if_absent(&self.trim_lock, token.as_bytes(), Some(TRIM_LOCK_TTL))
            .await?
        {
            if tokio::time::Instant::now() >= deadline {
                return Ok(0);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let trimmed = async {
            let head = self.store.queue_peek(&self.queue, wanted.len()).await?;
            let n = head
                .iter()
                .take_while(|raw| wanted.contains(entry_id(raw).as_str()))
                .count();
            self.store.queue_pop(&self.queue, n).await?;
            Ok(n)
        }
        .await;
        // Only our own lock is released (it may have expired and been taken meanwhile).
        if self.store.get(&self.trim_lock).await?.as_deref() == Some(token.as_bytes()) {
            self.store.delete(&self.trim_lock).await?;
        }
        trimmed
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

/// Who holds a [`Lease`] after a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseState {
    /// This holder has the lease until `until_ms` (Unix milliseconds) unless it renews it.
    Held {
        /// When the lease runs out without another heartbeat.
        until_ms: i64,
    },
    /// Another holder has it; this one waits and takes over when it lapses.
    HeldBy {
        /// The other holder's name.
        holder: String,
    },
}

/// One consumer at a time, with a heartbeat, built on [`Store::put_if_absent`] with a TTL.
///
/// Time is cut into slots of `slot` length; the lease for slot `s` is the key
/// `lease:{name}:{s}` (kept three slots). The holder of slot `s` claims slot `s + 1` at its
/// first heartbeat in `s` (heartbeat at least every quarter slot); another instance claims
/// slot `s + 1` only in the last quarter of `s`, so it wins only when the holder stopped
/// beating: it takes over at most two slots after the holder died, at once after a
/// [`Lease::release`]. Clocks of the instances must agree within a quarter slot (NTP). Time
/// is passed in (`now_ms`, Unix milliseconds): the lease never reads a clock.
#[derive(Debug, Clone)]
pub struct Lease {
    store: Arc<dyn Store>,
    ns: Namespace,
    name: String,
    holder: String,
    slot_ms: i64,
}

impl Lease {
    /// The lease `name` in `ns`, as seen by `holder` (an instance name), with slots of `slot`
    /// (at least 100 ms).
    pub fn new(
        store: Arc<dyn Store>,
        ns: &Namespace,
        name: &str,
        holder: &str,
        slot: Duration,
    ) -> Lease {
        Lease {
            store,
            ns: ns.clone(),
            name: name.to_string(),
            holder: holder.to_string(),
            slot_ms: i64::try_from(slot.as_millis()).unwrap_or(i64::MAX).max(100),
        }
    }

    /// This holder's name.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// How often to call [`Lease::heartbeat`]: a quarter slot.
    pub fn heartbeat_every(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.slot_ms / 4).unwrap_or(25).max(25))
    }

    fn key(&self, slot: i64) -> String {
        self.ns.key(&keys::lease_slot(&self.name, slot))
    }

    /// Takes slot `slot` if free; returns its holder.
    async fn claim(&self, slot: i64) -> StoreResult<Option<String>> {
        let key = self.key(slot);
        let ttl = Duration::from_millis(
            u64::try_from(self.slot_ms.saturating_mul(3)).unwrap_or(u64::MAX),
        );
        self.store
            .put_if_absent(&key, self.holder.as_bytes(), Some(ttl))
            .await?;
        Ok(self
            .store
            .get(&key)
            .await?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// One heartbeat at `now_ms`: takes the lease if it is free, renews it if held, and says
    /// who holds it.
    pub async fn heartbeat(&self, now_ms: i64) -> StoreResult<LeaseState> {
        let slot = now_ms.div_euclid(self.slot_ms);
        let offset = now_ms.rem_euclid(self.slot_ms);
        let current = self.claim(slot).await?.unwrap_or_default();
        if current == self.holder {
            let next = self.claim(slot + 1).await?;
            let last = if next.as_deref() == Some(self.holder.as_str()) {
                slot + 2
            } else {
                slot + 1
            };
            return Ok(LeaseState::Held {
                until_ms: last.saturating_mul(self.slot_ms),
            });
        }
        if offset.saturating_mul(4) >= self.slot_ms.saturating_mul(3) {
            // The holder should have claimed the next slot by now; if it did not, it is gone.
            self.claim(slot + 1).await?;
        }
        Ok(LeaseState::HeldBy { holder: current })
    }

    /// Gives the lease up (at a clean stop): deletes this holder's current and next slots, so
    /// a waiting instance takes over at its next heartbeat.
    pub async fn release(&self, now_ms: i64) -> StoreResult<()> {
        let slot = now_ms.div_euclid(self.slot_ms);
        for s in [slot, slot + 1] {
            let key = self.key(s);
            if self.store.get(&key).await?.as_deref() == Some(self.holder.as_bytes()) {
                self.store.delete(&key).await?;
            }
        }
        Ok(())
    }
}

static CORRUPT_SKIPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Records this process skipped in scans because they did not decode (for a metric).
pub fn corrupt_records_skipped() -> u64 {
    CORRUPT_SKIPPED.load(std::sync::atomic::Ordering::Relaxed)
}
