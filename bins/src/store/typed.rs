//! Typed views over any [`Store`]: id maps, extension DN records, the outbox, de-duplication.

use super::{Namespace, Store, StoreError, StoreResult};
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
        self.ns.key(&format!("map:{}:e:{engage}", kind.tag()))
    }

    fn rev(&self, kind: IdKind, gc: &str) -> String {
        self.ns.key(&format!("map:{}:g:{gc}", kind.tag()))
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

/// An extension DN as EXCS writes it for EXCP and EXAS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DnRecord {
    /// The DN number.
    pub number: String,
    /// The DN's DBID.
    pub dbid: i64,
    /// The switch name.
    pub switch: String,
    /// The switch DBID.
    pub switch_dbid: i64,
    /// The person whose extension this is, where known.
    pub person_dbid: Option<i64>,
}

impl DnRecord {
    /// A record for a DN on a switch.
    pub fn new(number: &str, dbid: i64, switch: &str, switch_dbid: i64) -> DnRecord {
        DnRecord {
            number: number.to_string(),
            dbid,
            switch: switch.to_string(),
            switch_dbid,
            person_dbid: None,
        }
    }
}

/// A virtual queue DN and the GC queue it maps to, published by EXCS under
/// `vq:{switch}:{number}` for EXCP (SIP Server names a VQ by its number).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VqRecord {
    /// The VQ DN number.
    pub number: String,
    /// The VQ DN's DBID.
    pub dn_dbid: i64,
    /// The switch name.
    pub switch: String,
    /// The GC queue id.
    pub queue_id: String,
}

impl VqRecord {
    /// The relative store key of a VQ record.
    pub fn key(switch: &str, number: &str) -> String {
        format!("vq:{switch}:{number}")
    }
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
            .put_if_absent(&self.ns.key(&format!("dedup:{id}")), b"1", Some(ttl))
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
            queue: ns.key(&format!("outbox:{name}")),
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

/// A synchronized person as EXCS publishes it for EXAS and EXCP (JSON at `person:{dbid}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PersonRecord {
    /// Person DBID.
    pub dbid: i64,
    /// The GC user id it maps to.
    pub gc_user_id: String,
    /// Engage User Name.
    pub user_name: String,
    /// Employee ID: the object id Stat Server knows the agent by (falls back to User Name).
    pub employee_id: Option<String>,
    /// Whether the person is an agent.
    pub is_agent: bool,
    /// Whether the GC user is active.
    pub active: bool,
    /// Agent logins.
    pub logins: Vec<LoginRecord>,
}

impl PersonRecord {
    /// The Stat Server agent object id: Employee ID, else User Name.
    pub fn stat_agent_id(&self) -> &str {
        self.employee_id
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or(&self.user_name)
    }

    /// The relative store key of a person record.
    pub fn key(dbid: i64) -> String {
        format!("person:{dbid}")
    }

    /// The relative key prefix of all person records.
    pub const PREFIX: &'static str = "person:";
}

/// An agent login of a [`PersonRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRecord {
    /// Switch DBID.
    pub switch_dbid: i64,
    /// Switch name.
    pub switch: String,
    /// Login code.
    pub login_code: String,
}

/// A downstream service's GC connection and settings (one `hybrid_integration` section:
/// `agent_state_sync` for EXAS, `conversation_provider` for EXCP), published by EXCS under
/// `hybrid:{section}`: the guide has those services configured from the Config DB, which only
/// EXCS reads. It carries the section's client secret: the store is as trusted as the Config DB
/// (protect Redis with `EXEC_REDIS_SECURE` and a password). `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceConnection {
    /// GC API base URL.
    pub base_service_url: String,
    /// GC login base URL.
    pub base_auth_url: String,
    /// GC org id.
    pub organization_id: String,
    /// OAuth client id of the section.
    pub client_id: String,
    /// OAuth client secret of the section.
    pub client_secret: String,
    /// Every other key of the section (first value each), e.g. `sta_default_language`.
    pub settings: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for ServiceConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceConnection")
            .field("base_service_url", &self.base_service_url)
            .field("base_auth_url", &self.base_auth_url)
            .field("organization_id", &self.organization_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("settings", &self.settings)
            .finish()
    }
}

impl ServiceConnection {
    /// The relative store key for a `hybrid_integration` section.
    pub fn key(section: &str) -> String {
        format!("hybrid:{section}")
    }

    /// The GC client configuration.
    pub fn gc_config(&self) -> gcex::GcConfig {
        gcex::GcConfig::new(
            self.base_service_url.clone(),
            self.base_auth_url.clone(),
            self.organization_id.clone(),
            self.client_id.clone(),
            gcex::Secret::new(self.client_secret.clone()),
        )
    }

    /// Waits until EXCS has published `section` (checking every `every`), logging once that
    /// it waits. Store errors are logged and retried.
    pub async fn wait_for(json: &JsonView, section: &str, every: std::time::Duration) -> Self {
        let mut logged = false;
        loop {
            match json.get::<ServiceConnection>(&Self::key(section)).await {
                Ok(Some(c)) => return c,
                Ok(None) if !logged => {
                    tracing::warn!(
                        section,
                        "waiting for EXCS to publish the hybrid_integration GC connection (or set the service's *_GC_* variables)"
                    );
                    logged = true;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "store not readable; retrying"),
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// Relative store key of the GC presence source id EXCS creates once for the connector.
pub const PRESENCE_SOURCE_KEY: &str = "gc:presenceSourceId";
