//! The embedded single-node backend: an on-disk redb database. The demo's default store.

use super::{Store, StoreError, StoreResult};
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Key → (expiry in ms since the epoch, 0 = never) ++ value.
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
/// (queue, sequence) → item.
const QUEUE: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("queue");
/// (set key, member) → ().
const SETS: TableDefinition<(&str, &[u8]), ()> = TableDefinition::new("sets");
/// Set key → its expiry (ms since the epoch, 0 = never); a set exists while this is live.
const SET_META: TableDefinition<&str, u64> = TableDefinition::new("set_meta");

fn set_live(
    meta: &impl ReadableTable<&'static str, u64>,
    key: &str,
    now: u64,
) -> StoreResult<bool> {
    Ok(meta.get(key).map_err(e("set"))?.is_some_and(|g| {
        let exp = g.value();
        exp == 0 || exp > now
    }))
}

/// Expired records are purged at most this often (on a write, in its transaction).
const PURGE_EVERY_MS: u64 = 60_000;

/// The embedded store. Cloning shares the database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    last_purge_ms: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish()
    }
}

fn e<E: std::fmt::Display>(op: &'static str) -> impl FnOnce(E) -> StoreError {
    move |err| StoreError::Embedded {
        op,
        message: err.to_string(),
    }
}

/// Removes expired KV records and the members of expired or missing sets.
fn purge_in(tx: &redb::WriteTransaction, now: u64) -> StoreResult<usize> {
    let mut kv = tx.open_table(KV).map_err(e("purge"))?;
    let expired: Vec<String> = kv
        .iter()
        .map_err(e("purge"))?
        .filter_map(|r| r.ok())
        .filter(|(_, v)| live(v.value(), now).is_none())
        .map(|(k, _)| k.value().to_string())
        .collect();
    for k in &expired {
        kv.remove(k.as_str()).map_err(e("purge"))?;
    }
    let mut meta = tx.open_table(SET_META).map_err(e("purge"))?;
    let dead_sets: Vec<String> = meta
        .iter()
        .map_err(e("purge"))?
        .filter_map(|r| r.ok())
        .filter(|(_, v)| {
            let exp = v.value();
            exp != 0 && exp <= now
        })
        .map(|(k, _)| k.value().to_string())
        .collect();
    for k in &dead_sets {
        meta.remove(k.as_str()).map_err(e("purge"))?;
    }
    let mut sets = tx.open_table(SETS).map_err(e("purge"))?;
    let mut orphans: Vec<(String, Vec<u8>)> = Vec::new();
    for r in sets.iter().map_err(e("purge"))? {
        let (k, _) = r.map_err(e("purge"))?;
        let (key, member) = k.value();
        if !set_live(&meta, key, now)? {
            orphans.push((key.to_string(), member.to_vec()));
        }
    }
    for (k, m) in &orphans {
        sets.remove((k.as_str(), m.as_slice()))
            .map_err(e("purge"))?;
    }
    Ok(expired.len() + dead_sets.len() + orphans.len())
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn pack(value: &[u8], expires_at_ms: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + value.len());
    v.extend_from_slice(&expires_at_ms.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The value of a packed record if it has not expired at `now`.
fn live(packed: &[u8], now: u64) -> Option<&[u8]> {
    let (exp, value) = packed.split_at_checked(8)?;
    let exp = u64::from_be_bytes(exp.try_into().ok()?);
    (exp == 0 || exp > now).then_some(value)
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<EmbeddedStore> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(e("open"))?;
        // Create the tables up front so readers never see them missing.
        let tx = db.begin_write().map_err(e("open"))?;
        tx.open_table(KV).map_err(e("open"))?;
        tx.open_table(QUEUE).map_err(e("open"))?;
        tx.open_table(SETS).map_err(e("open"))?;
        tx.open_table(SET_META).map_err(e("open"))?;
        tx.commit().map_err(e("open"))?;
        let store = EmbeddedStore {
            db: Arc::new(db),
            path,
            last_purge_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        };
        store.purge_expired_now()?;
        Ok(store)
    }

    /// Deletes every expired record (and the members of expired sets) now; returns how many
    /// records went. Also runs by itself at open and at most once a minute on a write, so an
    /// embedded store that runs for months stays as small as its live data.
    pub fn purge_expired_now(&self) -> StoreResult<usize> {
        let now = now_ms();
        self.last_purge_ms
            .store(now, std::sync::atomic::Ordering::Relaxed);
        let tx = self.db.begin_write().map_err(e("purge"))?;
        let n = purge_in(&tx, now)?;
        tx.commit().map_err(e("purge"))?;
        Ok(n)
    }

    /// Whether a purge is due (and, if so, marks it done).
    fn purge_due(&self) -> bool {
        let now = now_ms();
        let last = self
            .last_purge_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        now.saturating_sub(last) >= PURGE_EVERY_MS
            && self
                .last_purge_ms
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
    }

    /// Runs a purge on a blocking thread when one is due; errors are logged, never returned
    /// (the write that triggered it succeeded).
    fn maybe_purge(&self) {
        if !self.purge_due() {
            return;
        }
        let me = self.clone();
        let purge = move || {
            if let Err(err) = me.purge_expired_now() {
                tracing::warn!(error = %err, "embedded store: purging expired records failed; retried later");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(purge);
            }
            Err(_) => purge(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(e(op))?
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = key.to_string();
        self.run("get", move |db| {
            let tx = db.begin_read().map_err(e("get"))?;
            let t = tx.open_table(KV).map_err(e("get"))?;
            let v = t.get(key.as_str()).map_err(e("get"))?;
            Ok(v.and_then(|g| live(g.value(), now_ms()).map(<[u8]>::to_vec)))
        })
        .await
    }

    async fn put(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        self.maybe_purge();
        let (key, value) = (key.to_string(), pack(value, 0));
        self.run("put", move |db| {
            let tx = db.begin_write().map_err(e("put"))?;
            {
                let mut t = tx.open_table(KV).map_err(e("put"))?;
                t.insert(key.as_str(), value.as_slice()).map_err(e("put"))?;
            }
            tx.commit().map_err(e("put"))
        })
        .await
    }

    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        let key = key.to_string();
        let value = value.to_vec();
        self.run("put_if_absent", move |db| {
            let now = now_ms();
            let tx = db.begin_write().map_err(e("put_if_absent"))?;
            let written = {
                let mut t = tx.open_table(KV).map_err(e("put_if_absent"))?;
                let present = t
                    .get(key.as_str())
                    .map_err(e("put_if_absent"))?
                    .is_some_and(|g| live(g.value(), now).is_some());
                if present {
                    false
                } else {
                    let exp = ttl.map_or(0, |d| now + (d.as_millis() as u64).max(1));
                    t.insert(key.as_str(), pack(&value, exp).as_slice())
                        .map_err(e("put_if_absent"))?;
                    true
                }
            };
            tx.commit().map_err(e("put_if_absent"))?;
            Ok(written)
        })
        .await
    }

    async fn put_ttl(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        self.maybe_purge();
        let exp = now_ms().saturating_add((ttl.as_millis() as u64).max(1));
        let (key, value) = (key.to_string(), pack(value, exp));
        self.run("put_ttl", move |db| {
            let tx = db.begin_write().map_err(e("put_ttl"))?;
            {
                let mut t = tx.open_table(KV).map_err(e("put_ttl"))?;
                t.insert(key.as_str(), value.as_slice())
                    .map_err(e("put_ttl"))?;
            }
            tx.commit().map_err(e("put_ttl"))
        })
        .await
    }

    async fn set_add(&self, key: &str, member: &[u8], ttl: Option<Duration>) -> StoreResult<bool> {
        self.maybe_purge();
        let (key, member) = (key.to_string(), member.to_vec());
        self.run("set_add", move |db| {
            let now = now_ms();
            let tx = db.begin_write().map_err(e("set_add"))?;
            let added = {
                let mut meta = tx.open_table(SET_META).map_err(e("set_add"))?;
                let mut sets = tx.open_table(SETS).map_err(e("set_add"))?;
                if !set_live(&meta, &key, now)? {
                    // An expired set starts empty, as in Redis.
                    let stale: Vec<Vec<u8>> = sets
                        .range((key.as_str(), &[][..])..)
                        .map_err(e("set_add"))?
                        .map_while(|r| r.ok())
                        .take_while(|(k, _)| k.value().0 == key.as_str())
                        .map(|(k, _)| k.value().1.to_vec())
                        .collect();
                    for m in &stale {
                        sets.remove((key.as_str(), m.as_slice()))
                            .map_err(e("set_add"))?;
                    }
                }
                let exp = ttl.map_or(0, |d| now.saturating_add((d.as_millis() as u64).max(1)));
                meta.insert(key.as_str(), exp).map_err(e("set_add"))?;
                sets.insert((key.as_str(), member.as_slice()), ())
                    .map_err(e("set_add"))?
                    .is_none()
            };
            tx.commit().map_err(e("set_add"))?;
            Ok(added)
        })
        .await
    }

    async fn set_contains(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        let (key, member) = (key.to_string(), member.to_vec());
        self.run("set_contains", move |db| {
            let tx = db.begin_read().map_err(e("set_contains"))?;
            let meta = tx.open_table(SET_META).map_err(e("set_contains"))?;
            if !set_live(&meta, &key, now_ms())? {
                return Ok(false);
            }
            let sets = tx.open_table(SETS).map_err(e("set_contains"))?;
            Ok(sets
                .get((key.as_str(), member.as_slice()))
                .map_err(e("set_contains"))?
                .is_some())
        })
        .await
    }

    async fn set_contains_any(&self, keys: &[String], member: &[u8]) -> StoreResult<bool> {
        for k in keys {
            if self.set_contains(k, member).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn set_members(&self, key: &str) -> StoreResult<Vec<Vec<u8>>> {
        let key = key.to_string();
        self.run("set_members", move |db| {
            let tx = db.begin_read().map_err(e("set_members"))?;
            let meta = tx.open_table(SET_META).map_err(e("set_members"))?;
            if !set_live(&meta, &key, now_ms())? {
                return Ok(Vec::new());
            }
            let sets = tx.open_table(SETS).map_err(e("set_members"))?;
            let mut out = Vec::new();
            for r in sets
                .range((key.as_str(), &[][..])..)
                .map_err(e("set_members"))?
            {
                let (k, _) = r.map_err(e("set_members"))?;
                let (k, m) = k.value();
                if k != key.as_str() {
                    break;
                }
                out.push(m.to_vec());
            }
            Ok(out)
        })
        .await
    }

    async fn set_remove(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        let (key, member) = (key.to_string(), member.to_vec());
        self.run("set_remove", move |db| {
            let tx = db.begin_write().map_err(e("set_remove"))?;
            let removed = {
                let mut sets = tx.open_table(SETS).map_err(e("set_remove"))?;
                sets.remove((key.as_str(), member.as_slice()))
                    .map_err(e("set_remove"))?
                    .is_some()
            };
            tx.commit().map_err(e("set_remove"))?;
            Ok(removed)
        })
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_string();
        self.run("delete", move |db| {
            let tx = db.begin_write().map_err(e("delete"))?;
            let existed = {
                let now = now_ms();
                let mut t = tx.open_table(KV).map_err(e("delete"))?;
                let old = t.remove(key.as_str()).map_err(e("delete"))?;
                let was_value = old.is_some_and(|g| live(g.value(), now).is_some());
                // A set: its members go with the next purge (nothing reads them meanwhile).
                let mut meta = tx.open_table(SET_META).map_err(e("delete"))?;
                let was_set = meta
                    .remove(key.as_str())
                    .map_err(e("delete"))?
                    .is_some_and(|g| {
                        let exp = g.value();
                        exp == 0 || exp > now
                    });
                was_value || was_set
            };
            tx.commit().map_err(e("delete"))?;
            Ok(existed)
        })
        .await
    }

    async fn scan_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let prefix = prefix.to_string();
        self.run("scan_prefix", move |db| {
            let now = now_ms();
            let tx = db.begin_read().map_err(e("scan_prefix"))?;
            let t = tx.open_table(KV).map_err(e("scan_prefix"))?;
            let mut out = Vec::new();
            for item in t.range(prefix.as_str()..).map_err(e("scan_prefix"))? {
                let (k, v) = item.map_err(e("scan_prefix"))?;
                let k = k.value();
                if !k.starts_with(prefix.as_str()) {
                    break;
                }
                if let Some(v) = live(v.value(), now) {
                    out.push((k.to_string(), v.to_vec()));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn queue_push(&self, queue: &str, item: &[u8]) -> StoreResult<()> {
        let (queue, item) = (queue.to_string(), item.to_vec());
        self.run("queue_push", move |db| {
            let tx = db.begin_write().map_err(e("queue_push"))?;
            {
                let mut t = tx.open_table(QUEUE).map_err(e("queue_push"))?;
                let last = t
                    .range((queue.as_str(), 0)..=(queue.as_str(), u64::MAX))
                    .map_err(e("queue_push"))?
                    .next_back()
                    .transpose()
                    .map_err(e("queue_push"))?
                    .map(|(k, _)| k.value().1);
                let seq = last.map_or(0, |s| s + 1);
                t.insert((queue.as_str(), seq), item.as_slice())
                    .map_err(e("queue_push"))?;
            }
            tx.commit().map_err(e("queue_push"))
        })
        .await
    }

    async fn queue_peek(&self, queue: &str, max: usize) -> StoreResult<Vec<Vec<u8>>> {
        let queue = queue.to_string();
        self.run("queue_peek", move |db| {
            let tx = db.begin_read().map_err(e("queue_peek"))?;
            let t = tx.open_table(QUEUE).map_err(e("queue_peek"))?;
            let mut out = Vec::new();
            for item in t
                .range((queue.as_str(), 0)..=(queue.as_str(), u64::MAX))
                .map_err(e("queue_peek"))?
                .take(max)
            {
                let (_, v) = item.map_err(e("queue_peek"))?;
                out.push(v.value().to_vec());
            }
            Ok(out)
        })
        .await
    }

    async fn queue_pop(&self, queue: &str, count: usize) -> StoreResult<()> {
        let queue = queue.to_string();
        self.run("queue_pop", move |db| {
            let tx = db.begin_write().map_err(e("queue_pop"))?;
            {
                let mut t = tx.open_table(QUEUE).map_err(e("queue_pop"))?;
                let seqs: Vec<u64> = t
                    .range((queue.as_str(), 0)..=(queue.as_str(), u64::MAX))
                    .map_err(e("queue_pop"))?
                    .take(count)
                    .map(|r| r.map(|(k, _)| k.value().1))
                    .collect::<Result<_, _>>()
                    .map_err(e("queue_pop"))?;
                for s in seqs {
                    t.remove((queue.as_str(), s)).map_err(e("queue_pop"))?;
                }
            }
            tx.commit().map_err(e("queue_pop"))
        })
        .await
    }

    async fn queue_len(&self, queue: &str) -> StoreResult<usize> {
        let queue = queue.to_string();
        self.run("queue_len", move |db| {
            let tx = db.begin_read().map_err(e("queue_len"))?;
            let t = tx.open_table(QUEUE).map_err(e("queue_len"))?;
            let n = t
                .range((queue.as_str(), 0)..=(queue.as_str(), u64::MAX))
                .map_err(e("queue_len"))?
                .count();
            Ok(n)
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.run("ping", |db| {
            db.begin_read().map_err(e("ping"))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_records_expire() {
        let p = pack(b"v", 100);
        assert_eq!(live(&p, 99), Some(&b"v"[..]));
        assert_eq!(live(&p, 100), None);
        assert_eq!(live(&pack(b"v", 0), u64::MAX), Some(&b"v"[..]));
        assert_eq!(live(b"short", 0), None);
    }
}
