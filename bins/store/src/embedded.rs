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

/// The embedded store. Cloning shares the database.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
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
        tx.commit().map_err(e("open"))?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            path,
        })
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

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let key = key.to_string();
        self.run("delete", move |db| {
            let tx = db.begin_write().map_err(e("delete"))?;
            let existed = {
                let mut t = tx.open_table(KV).map_err(e("delete"))?;
                let old = t.remove(key.as_str()).map_err(e("delete"))?;
                old.is_some_and(|g| live(g.value(), now_ms()).is_some())
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
