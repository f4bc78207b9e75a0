//! The contract between the services: every record EXCS, EXAS and EXCP share through the store,
//! and every key format, in one file.
//!
//! Keys here are *relative*: a [`Namespace`](crate::Namespace) prefixes each with
//! `exec:{tenant}:{org}:` so several connectors can share one Redis. Who writes and who reads
//! each record:
//!
//! | key | record | written by | read by |
//! |---|---|---|---|
//! | `dn:{switch}:{number}` | [`DnRecord`] | EXCS | EXCP, EXCS look-ups |
//! | `vq:{switch}:{number}` | [`VqRecord`] | EXCS | EXCP |
//! | `person:{dbid}` | [`PersonRecord`] | EXCS | EXAS (scope), EXCP (log-ins) |
//! | `hybrid:{section}` | [`ServiceConnection`] | EXCS | EXAS (`agent_state_sync`), EXCP (`conversation_provider`) |
//! | `gc:presenceSourceId` | GC presence source id (JSON string) | EXCS | EXAS, EXCP |
//! | `map:{kind}:e:{engage}` / `map:{kind}:g:{gc}` | GC id / Engage key ([`IdMap`](crate::IdMap)) | EXCS | all |
//! | `applied:{kind}:{key}`, `gcdeleted:{kind}:{key}`, `class:{dbid}` | EXCS's own sync state | EXCS | EXCS |
//! | `exas:delivered:{gcUserId}` | the last state delivered per agent | EXAS | EXAS |
//! | `outbox:{name}` | a durable queue of undelivered GC events ([`Outbox`](crate::Outbox)) | EXAS | EXAS |
//! | `outbox:exas-dead-letter` | EXAS items parked for good (refused by GC, too many attempts, undecodable) | EXAS | EXAS `/status` |
//! | `outboxtrim:{name}` | the short lock held while acknowledged items are trimmed off an outbox | EXAS | EXAS |
//! | `lease:{name}:{slot}` | one time slot of a consumer lease ([`Lease`](crate::Lease)), with a TTL | EXAS | EXAS (every instance) |
//! | `excp:checkpoint:{instance}` | the EXCP engine's checkpoint | EXCP | EXCP (same instance) |
//! | `excp:spill:{instance}` | undelivered GC events beyond `EXCP_MAX_PENDING_EVENTS`, a list, oldest first (`:unreadable`: entries that no longer decode) | EXCP | EXCP (same instance) |
//! | `excp:digest:{conversationId}` | the pair check: `{events}:{hash}` of the first instance to close the conversation (TTL 1 h) | EXCP | EXCP (the other instance of the pair) |
//! | `excp:alive:{instance}` | a token of the live run (TTL 15 s, renewed) | EXCP | EXCP (one live instance per id) |
//! | `excp:claim:{eventId}` | an HA claim / done mark of one GC event | EXCP | EXCP (both of a pair) |
//! | `recmeta:{callUuid}:{file}`, `recseg:{callUuid}:{communicationId}` | recording metadata and segments | EXCP | EXCP, later EXRP |
//! | `dedup:{id}` | a de-duplication mark with a TTL | any | the same service |
//! | `exrp:job:{id}`, `exrp:claim:{id}`, `exrp:done:{id}`, `exrp:dead:{id}` | EXRP's upload jobs, claims, done marks, dead letters (`engage_exrp::jobs`) | EXRP | EXRP (every instance) |

use crate::JsonView;

/// The key formats, one function or constant each.
pub mod keys {
    /// An extension (or any non-VQ) DN: `dn:{switch}:{number}`.
    pub fn dn(switch: &str, number: &str) -> String {
        format!("dn:{switch}:{number}")
    }
    /// Prefix of every [`dn`] key.
    pub const DN_PREFIX: &str = "dn:";
    /// A virtual queue DN: `vq:{switch}:{number}`.
    pub fn vq(switch: &str, number: &str) -> String {
        format!("vq:{switch}:{number}")
    }
    /// Prefix of every [`vq`] key.
    pub const VQ_PREFIX: &str = "vq:";
    /// A synchronized person: `person:{dbid}`.
    pub fn person(dbid: i64) -> String {
        format!("{PERSON_PREFIX}{dbid}")
    }
    /// Prefix of every [`person`] key.
    pub const PERSON_PREFIX: &str = "person:";
    /// A published `hybrid_integration` section: `hybrid:{section}`.
    pub fn hybrid(section: &str) -> String {
        format!("hybrid:{section}")
    }
    /// The GC presence source id EXCS creates once for the connector.
    pub const PRESENCE_SOURCE: &str = "gc:presenceSourceId";
    /// Engage key → GC id of an object kind (`tag`: `person`, `skill`, `queue`, `wrapup`, `login`).
    pub fn id_map_engage(tag: &str, engage: &str) -> String {
        format!("map:{tag}:e:{engage}")
    }
    /// GC id → Engage key of an object kind.
    pub fn id_map_gc(tag: &str, gc: &str) -> String {
        format!("map:{tag}:g:{gc}")
    }
    /// EXCS: the hash of what was last applied to GC for an object.
    pub fn applied(kind: &str, key: &str) -> String {
        format!("applied:{kind}:{key}")
    }
    /// EXCS: an object an administrator deleted in GC (never re-created).
    pub fn gc_deleted(kind: &str, key: &str) -> String {
        format!("gcdeleted:{kind}:{key}")
    }
    /// EXCS: the person DBID holding agent login `code` on switch `switch_dbid` (an index of
    /// the person records' logins).
    pub fn person_login(switch_dbid: i64, code: &str) -> String {
        format!("login:{switch_dbid}:{code}")
    }
    /// EXCS: the operator's one-shot confirmation of a refused cycle, written by
    /// `exec confirm-removals` (`true` or a number of removals, as `EXCS_CONFIRM_REMOVALS`),
    /// removed by EXCS once the confirmed cycle ran.
    pub const EXCS_CONFIRM_REMOVALS: &str = "excs:confirmRemovals";
    /// EXCS: the class (agent, supervisor…) a person was last synchronized as.
    pub fn person_class(person_dbid: i64) -> String {
        format!("class:{person_dbid}")
    }
    /// EXAS: the state last delivered for a GC user.
    pub fn exas_delivered(gc_user_id: &str) -> String {
        format!("exas:delivered:{gc_user_id}")
    }
    /// EXCP: the engine checkpoint of one instance.
    pub fn excp_checkpoint(instance_id: &str) -> String {
        format!("excp:checkpoint:{instance_id}")
    }
    /// EXCP: the spill list of one instance (events beyond `EXCP_MAX_PENDING_EVENTS`).
    pub fn excp_spill(instance_id: &str) -> String {
        format!("excp:spill:{instance_id}")
    }
    /// EXCP: the pair check's digest of a closed conversation's event ids.
    pub fn excp_digest(conversation_id: &str) -> String {
        format!("excp:digest:{conversation_id}")
    }
    /// EXCP: the liveness mark of one instance id (one live instance per id).
    pub fn excp_alive(instance_id: &str) -> String {
        format!("excp:alive:{instance_id}")
    }
    /// EXCP: prefix of the HA claims (`excp:claim:{eventId}`).
    pub const EXCP_CLAIM_PREFIX: &str = "excp:claim:";
    /// EXCP: the set of recording metadata MCP posted for a call (one JSON member per file;
    /// expires `EXCP_RECORDING_TTL_HOURS` after the last post). A set, so that a look-up is
    /// one round trip, never a `SCAN`.
    pub fn recording_metadata(call_uuid: &str) -> String {
        format!("recmeta:{call_uuid}")
    }
    /// EXCP: the set of a call's agent segments (one JSON member per GC communication;
    /// expires like [`recording_metadata`]).
    pub fn recording_segments(call_uuid: &str) -> String {
        format!("recseg:{call_uuid}")
    }
    /// A de-duplication mark.
    pub fn dedup(id: &str) -> String {
        format!("dedup:{id}")
    }
    /// A durable outbox queue.
    pub fn outbox(name: &str) -> String {
        format!("outbox:{name}")
    }
    /// The lock held while acknowledged items are trimmed off outbox `name`.
    pub fn outbox_trim_lock(name: &str) -> String {
        format!("outboxtrim:{name}")
    }
    /// Prefix of the time slots of the lease `name` (`lease:{name}:{slot}`).
    pub fn lease_prefix(name: &str) -> String {
        format!("lease:{name}:")
    }
    /// One time slot of the lease `name`.
    pub fn lease_slot(name: &str, slot: i64) -> String {
        format!("lease:{name}:{slot}")
    }
}

/// An extension DN as EXCS writes it for EXCP and EXAS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
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
        keys::vq(switch, number)
    }
}

/// A synchronized person as EXCS publishes it for EXAS and EXCP (JSON at `person:{dbid}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
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
        keys::person(dbid)
    }

    /// The relative key prefix of all person records.
    pub const PREFIX: &'static str = keys::PERSON_PREFIX;

    /// Writes the record and the login index of each of its logins
    /// ([`keys::person_login`]), so that a look-up by login is two reads, never a scan.
    pub async fn publish(&self, json: &crate::JsonView) -> crate::StoreResult<()> {
        json.put(&Self::key(self.dbid), self).await?;
        self.index_logins(json).await
    }

    /// Writes the login index of each of the record's logins.
    pub async fn index_logins(&self, json: &crate::JsonView) -> crate::StoreResult<()> {
        for l in &self.logins {
            json.put(
                &keys::person_login(l.switch_dbid, &l.login_code),
                &self.dbid,
            )
            .await?;
        }
        Ok(())
    }

    /// The person holding login `code` on switch `switch_dbid`: the index says who, and the
    /// record must still list that login (an index left behind by a moved login is ignored).
    pub async fn by_login(
        json: &crate::JsonView,
        switch_dbid: i64,
        code: &str,
    ) -> crate::StoreResult<Option<PersonRecord>> {
        let Some(dbid) = json
            .get::<i64>(&keys::person_login(switch_dbid, code))
            .await?
        else {
            return Ok(None);
        };
        Ok(json
            .get::<PersonRecord>(&Self::key(dbid))
            .await?
            .filter(|p| {
                p.logins
                    .iter()
                    .any(|l| l.switch_dbid == switch_dbid && l.login_code == code)
            }))
    }
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
            .field("settings", &RedactedSettings(&self.settings))
            .finish()
    }
}

/// A section's other keys for `Debug`: values of secret-looking keys (`password`, `secret`,
/// `token`, `credential`) redacted.
struct RedactedSettings<'a>(&'a std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for RedactedSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            let key = k.to_ascii_lowercase();
            let secret = ["password", "passwd", "secret", "token", "credential"]
                .iter()
                .any(|s| key.contains(s));
            if secret {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl ServiceConnection {
    /// The relative store key for a `hybrid_integration` section.
    pub fn key(section: &str) -> String {
        keys::hybrid(section)
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
pub const PRESENCE_SOURCE_KEY: &str = keys::PRESENCE_SOURCE;
