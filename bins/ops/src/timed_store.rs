//! Store latency in the metrics: a [`Store`] that times every operation of the store it wraps.
//!
//! `{service}_store_operations_total{op, outcome}` counts operations (`outcome`: `ok`,
//! `error`) and `{service}_store_seconds_total{op}` adds up the time they took, so
//! `rate(seconds) / rate(operations)` is the mean latency per operation. Every series is
//! registered at 0 when the store is wrapped.

use crate::metrics::Metrics;
use async_trait::async_trait;
use engage_store::{Store, StoreResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The operations, as the `op` label names them.
pub const OPS: &[&str] = &[
    "get",
    "put",
    "put_if_absent",
    "put_ttl",
    "delete",
    "set_add",
    "set_contains",
    "set_contains_any",
    "set_members",
    "set_remove",
    "scan_prefix",
    "queue_push",
    "queue_peek",
    "queue_pop",
    "queue_len",
    "ping",
];

const OPS_HELP: &str = "Store operations by operation and outcome (ok, error).";
const SECONDS_HELP: &str =
    "Seconds spent in store operations, by operation (divide by the operations for the mean).";

/// Times every operation of `inner` into `metrics` under `service`'s names.
#[derive(Debug)]
pub struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Metrics,
    ops_name: String,
    seconds_name: String,
}

/// Wraps `inner`; registers every series at 0.
pub fn timed(inner: Arc<dyn Store>, service: &str, metrics: &Metrics) -> Arc<dyn Store> {
    let t = TimedStore {
        inner,
        metrics: metrics.clone(),
        ops_name: format!("{service}_store_operations_total"),
        seconds_name: format!("{service}_store_seconds_total"),
    };
    for op in OPS {
        for outcome in ["ok", "error"] {
            t.metrics.inc_by(
                &t.ops_name,
                OPS_HELP,
                &[("op", op), ("outcome", outcome)],
                0,
            );
        }
        t.metrics
            .add(&t.seconds_name, SECONDS_HELP, &[("op", op)], 0.0);
    }
    Arc::new(t)
}

impl TimedStore {
    fn book<T>(&self, op: &str, started: Instant, r: &StoreResult<T>) {
        let outcome = if r.is_ok() { "ok" } else { "error" };
        self.metrics.inc(
            &self.ops_name,
            OPS_HELP,
            &[("op", op), ("outcome", outcome)],
        );
        self.metrics.add(
            &self.seconds_name,
            SECONDS_HELP,
            &[("op", op)],
            started.elapsed().as_secs_f64(),
        );
    }
}

macro_rules! timed_op {
    ($self:ident, $op:literal, $call:expr) => {{
        let started = Instant::now();
        let r = $call.await;
        $self.book($op, started, &r);
        r
    }};
}

#[async_trait]
impl Store for TimedStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        timed_op!(self, "get", self.inner.get(key))
    }
    async fn put(&self, key: &str, value: &[u8]) -> StoreResult<()> {
        timed_op!(self, "put", self.inner.put(key, value))
    }
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool> {
        timed_op!(
            self,
            "put_if_absent",
            self.inner.put_if_absent(key, value, ttl)
        )
    }
    async fn put_ttl(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()> {
        timed_op!(self, "put_ttl", self.inner.put_ttl(key, value, ttl))
    }
    async fn delete(&self, key: &str) -> StoreResult<bool> {
        timed_op!(self, "delete", self.inner.delete(key))
    }
    async fn set_add(&self, key: &str, member: &[u8], ttl: Option<Duration>) -> StoreResult<bool> {
        timed_op!(self, "set_add", self.inner.set_add(key, member, ttl))
    }
    async fn set_contains(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        timed_op!(self, "set_contains", self.inner.set_contains(key, member))
    }
    async fn set_contains_any(&self, keys: &[String], member: &[u8]) -> StoreResult<bool> {
        timed_op!(
            self,
            "set_contains_any",
            self.inner.set_contains_any(keys, member)
        )
    }
    async fn set_members(&self, key: &str) -> StoreResult<Vec<Vec<u8>>> {
        timed_op!(self, "set_members", self.inner.set_members(key))
    }
    async fn set_remove(&self, key: &str, member: &[u8]) -> StoreResult<bool> {
        timed_op!(self, "set_remove", self.inner.set_remove(key, member))
    }
    async fn scan_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        timed_op!(self, "scan_prefix", self.inner.scan_prefix(prefix))
    }
    async fn queue_push(&self, queue: &str, item: &[u8]) -> StoreResult<()> {
        timed_op!(self, "queue_push", self.inner.queue_push(queue, item))
    }
    async fn queue_peek(&self, queue: &str, max: usize) -> StoreResult<Vec<Vec<u8>>> {
        timed_op!(self, "queue_peek", self.inner.queue_peek(queue, max))
    }
    async fn queue_pop(&self, queue: &str, count: usize) -> StoreResult<()> {
        timed_op!(self, "queue_pop", self.inner.queue_pop(queue, count))
    }
    async fn queue_len(&self, queue: &str) -> StoreResult<usize> {
        timed_op!(self, "queue_len", self.inner.queue_len(queue))
    }
    async fn ping(&self) -> StoreResult<()> {
        timed_op!(self, "ping", self.inner.ping())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_store::EmbeddedStore;

    #[tokio::test]
    async fn every_operation_is_counted_and_timed() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
        let m = Metrics::new();
        let s = timed(inner, "excp", &m);
        // Registered at 0 before anything happened.
        assert_eq!(
            m.value(
                "excp_store_operations_total",
                &[("op", "queue_pop"), ("outcome", "error")]
            ),
            Some(0.0)
        );
        s.put("k", b"v").await.unwrap();
        assert_eq!(s.get("k").await.unwrap(), Some(b"v".to_vec()));
        s.get("k").await.unwrap();
        assert_eq!(
            m.value(
                "excp_store_operations_total",
                &[("op", "get"), ("outcome", "ok")]
            ),
            Some(2.0)
        );
        assert!(
            m.value("excp_store_seconds_total", &[("op", "put")])
                .is_some_and(|v| v > 0.0)
        );
        assert!(!format!("{s:?}").is_empty());
    }
}
