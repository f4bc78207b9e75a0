//! # engage-store: the shared store of the EX Engage Connector services
//!
//! One job: keep the services' durable shared state, behind one trait with two backends, and
//! own the contract between the services: [`schema`] defines every record type and every key
//! format EXCS, EXAS and EXCP share, in one reviewable file.
//!
//! What it must never do: decide what a record means for a service (it stores and types; the
//! services decide), or log a value (records can carry a client secret).
//!
//! Every service keeps its durable shared state here: Engage DBID ↔ GC id maps per object kind,
//! extension DN records, event de-duplication keys with a TTL (the EXCP HA pair sees every event
//! twice; exactly one instance processes it), the GC outbox (events not yet acknowledged by GC
//! survive restarts) and recording metadata by CallUUID.
//!
//! Backends:
//! - [`RedisStore`]: production; shared by all services and both EXCP instances of an HA pair
//!   (`EXEC_REDIS_HOST`, `EXEC_REDIS_PORT`, `EXEC_REDIS_SECURE`, `EXEC_REDIS_PASSWORD`).
//! - [`EmbeddedStore`]: a single-node on-disk store (redb), the demo's default.
//!
//! Both pass one shared contract suite (`bins/store/tests/store.rs`). Keys are namespaced by tenant
//! and org through [`Namespace`], so several connectors can share one Redis.
//!
//! The trait is deliberately small (byte values, string keys); typed views such as [`IdMap`]
//! are built on top of it and work with any backend.

mod embedded;
mod redis_store;
pub mod schema;
mod typed;

pub use embedded::EmbeddedStore;
pub use redis_store::{RedisConfig, RedisStore, RedisTls};
pub use schema::{
    DnRecord, LoginRecord, PRESENCE_SOURCE_KEY, PersonRecord, ServiceConnection, VqRecord,
};
pub use typed::{
    IdKind, IdMap, JsonView, Lease, LeaseState, Outbox, OutboxEntry, corrupt_records_skipped,
};

use async_trait::async_trait;
use std::time::Duration;

/// What went wrong talking to the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The Redis server could not be reached or answered with an error.
    #[error(
        "Redis store error during {op}: {source}. Check EXEC_REDIS_HOST/EXEC_REDIS_PORT and that Redis runs"
    )]
    Redis {
        /// The operation that failed.
        op: &'static str,
        /// The client error.
        #[source]
        source: redis::RedisError,
    },
    /// The embedded database failed.
    #[error(
        "embedded store error during {op}: {message}. Check the store file's disk and permissions"
    )]
    Embedded {
        /// The operation that failed.
        op: &'static str,
        /// What the database said.
        message: String,
    },
    /// TLS to Redis could not be set up (a certificate file missing or unreadable).
    #[error("Redis TLS: {message}. Check EXEC_REDIS_TLS_* (PEM files readable by this user)")]
    Tls {
        /// What is wrong.
        message: String,
    },
    /// A stored value could not be decoded (written by an incompatible version?).
    #[error("stored value under key `{key}` is not valid: {message}")]
    Corrupt {
        /// The key holding the bad value.
        key: String,
        /// Why it could not be decoded.
        message: String,
    },
}

impl StoreError {
    /// Whether retrying the same operation later may succeed (connection problems).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Redis { source, .. } => {
                source.is_connection_dropped()
                    || source.is_connection_refusal()
                    || source.is_timeout()
                    || source.is_io_error()
            }
            StoreError::Embedded { .. } | StoreError::Corrupt { .. } | StoreError::Tls { .. } => {
                false
            }
        }
    }
}

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The storage operations every backend provides. Keys are full keys (already namespaced).
///
/// Writes are idempotent where the caller needs them to be retried safely: `put` overwrites,
/// `put_if_absent` is `SET NX`, queue items are appended once per call.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Reads a value.
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Writes (overwrites) a value without expiry.
    async fn put(&self, key: &str, value: &[u8]) -> StoreResult<()>;
    /// Writes a value only if the key is absent (or expired); returns whether it was written.
    /// With `ttl`, the key expires after that long. This is the de-duplication primitive.
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool>;
    /// Writes (overwrites) a value that expires after `ttl` (every key family that grows with
    /// traffic is written this way, so the store stays bounded).
    async fn put_ttl(&self, key: &str, value: &[u8], ttl: Duration) -> StoreResult<()>;
    /// Deletes a key; returns whether it existed.
    async fn delete(&self, key: &str) -> StoreResult<bool>;
    /// Adds `member` to the set at `key` and makes the whole set expire `ttl` after this add
    /// (`None`: never). Returns whether the member is new. One set replaces many small keys:
    /// the key space (which `SCAN` walks) stays small, and a look-up is one round trip.
    async fn set_add(&self, key: &str, member: &[u8], ttl: Option<Duration>) -> StoreResult<bool>;
    /// Whether `member` is in the set at `key`.
    async fn set_contains(&self, key: &str, member: &[u8]) -> StoreResult<bool>;
    /// Whether `member` is in any of the sets at `keys` (one round trip).
    async fn set_contains_any(&self, keys: &[String], member: &[u8]) -> StoreResult<bool>;
    /// Every member of the set at `key` (empty when absent), in no particular order.
    async fn set_members(&self, key: &str) -> StoreResult<Vec<Vec<u8>>>;
    /// Removes `member` from the set at `key`; returns whether it was there.
    async fn set_remove(&self, key: &str, member: &[u8]) -> StoreResult<bool>;
    /// Every live key/value whose key starts with `prefix`, in key order.
    async fn scan_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, Vec<u8>)>>;
    /// Appends an item to the FIFO queue named `queue`.
    async fn queue_push(&self, queue: &str, item: &[u8]) -> StoreResult<()>;
    /// The first `max` items of the queue, oldest first, without removing them.
    async fn queue_peek(&self, queue: &str, max: usize) -> StoreResult<Vec<Vec<u8>>>;
    /// Removes the first `count` items of the queue (after they were delivered).
    async fn queue_pop(&self, queue: &str, count: usize) -> StoreResult<()>;
    /// Number of items in the queue.
    async fn queue_len(&self, queue: &str) -> StoreResult<usize>;
    /// Checks the backend answers (for `/health`).
    async fn ping(&self) -> StoreResult<()>;
}

/// The key namespace of one connector deployment: `exec:{tenant}:{org}:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    prefix: String,
}

impl Namespace {
    /// A namespace for an Engage tenant id (`EXEC_TENANT_ID`) and a GC org id (`EXEC_ORG_ID`).
    pub fn new(tenant_id: &str, org_id: &str) -> Namespace {
        Namespace {
            prefix: format!("exec:{}:{}:", sanitize(tenant_id), sanitize(org_id)),
        }
    }

    /// A namespace under an arbitrary prefix (tests use a private prefix per test).
    pub fn with_prefix(prefix: &str) -> Namespace {
        Namespace {
            prefix: prefix.to_string(),
        }
    }

    /// The full key for a relative key.
    pub fn key(&self, rel: &str) -> String {
        format!("{}{}", self.prefix, rel)
    }

    /// The namespace prefix (ends with `:` for [`Namespace::new`]).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// Keeps key parts free of the separator so two namespaces can never overlap.
fn sanitize(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c == ':' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Which store a service uses: Redis (`EXEC_REDIS_HOST` set) or the embedded file
/// (`EXEC_STORE_PATH`, our addition; default `exec-store.redb`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// Redis (`EXEC_REDIS_HOST`, `EXEC_REDIS_PORT`, `EXEC_REDIS_SECURE`, `EXEC_REDIS_PASSWORD`).
    Redis(RedisConfig),
    /// The embedded store at a path.
    Embedded(std::path::PathBuf),
}

impl StoreSettings {
    /// Opens the store.
    pub async fn open(&self) -> StoreResult<std::sync::Arc<dyn Store>> {
        Ok(match self {
            StoreSettings::Redis(cfg) => std::sync::Arc::new(RedisStore::connect(cfg).await?),
            StoreSettings::Embedded(path) => std::sync::Arc::new(EmbeddedStore::open(path)?),
        })
    }
}
