//! The durable job table in the shared store, shared by every EXRP instance.
//!
//! | key (relative) | value | meaning |
//! |---|---|---|
//! | `exrp:job:{jobId}` | [`Job`] | accepted, not uploaded yet (the outbox) |
//! | `exrp:claim:{jobId}` | instance id, with a TTL | one instance works on it; expires if that instance dies |
//! | `exrp:done:{jobId}` | `1`, with a TTL (`EXRP_DONE_TTL_SECS`) | uploaded: a repeated request is not uploaded again |
//! | `exrp:dead:{jobId}` | [`DeadLetter`] | parked: never retried by itself |
//!
//! Why keyed records and not the store's FIFO [`Outbox`](engage_store::Outbox): several
//! instances work on the same jobs at once, in any order, and a FIFO's `peek`/`ack(count)`
//! would let one instance acknowledge another's item; a record per job, claimed with `SET NX`
//! and a TTL, lets any instance take any due job and another take it over when the first dies.

use crate::job::{DeadLetter, Job};
use engage_store::{JsonView, Namespace, Store, StoreResult};
use std::sync::Arc;
use std::time::Duration;

/// Relative key of a job.
pub fn job_key(id: &str) -> String {
    format!("exrp:job:{id}")
}
/// Relative prefix of every job.
pub const JOB_PREFIX: &str = "exrp:job:";
/// Relative key of a claim.
pub fn claim_key(id: &str) -> String {
    format!("exrp:claim:{id}")
}
/// Relative key of a done mark.
pub fn done_key(id: &str) -> String {
    format!("exrp:done:{id}")
}
/// Relative key of a dead letter.
pub fn dead_key(id: &str) -> String {
    format!("exrp:dead:{id}")
}
/// Relative prefix of every dead letter.
pub const DEAD_PREFIX: &str = "exrp:dead:";

/// What became of an interaction-end request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// A new job.
    New,
    /// The same segment is already waiting.
    AlreadyPending,
    /// The same segment was uploaded already.
    AlreadyUploaded,
    /// The same segment is in the dead-letter list.
    Parked,
}

impl Accepted {
    /// The state name the REST API shows.
    pub fn state(self) -> &'static str {
        match self {
            Accepted::New | Accepted::AlreadyPending => "pending",
            Accepted::AlreadyUploaded => "uploaded",
            Accepted::Parked => "parked",
        }
    }
}

/// The job table.
#[derive(Debug, Clone)]
pub struct Jobs {
    store: Arc<dyn Store>,
    ns: Namespace,
    json: JsonView,
}

impl Jobs {
    /// The table in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: Namespace) -> Jobs {
        let json = JsonView::new(store.clone(), ns.clone());
        Jobs { store, ns, json }
    }

    /// Records a job unless the same segment is known already.
    pub async fn accept(&self, job: &Job) -> StoreResult<Accepted> {
        if self
            .store
            .get(&self.ns.key(&done_key(&job.id)))
            .await?
            .is_some()
        {
            return Ok(Accepted::AlreadyUploaded);
        }
        if self
            .store
            .get(&self.ns.key(&dead_key(&job.id)))
            .await?
            .is_some()
        {
            return Ok(Accepted::Parked);
        }
        let bytes = serde_json::to_vec(job).map_err(|e| engage_store::StoreError::Corrupt {
            key: job_key(&job.id),
            message: e.to_string(),
        })?;
        let new = self
            .store
            .put_if_absent(&self.ns.key(&job_key(&job.id)), &bytes, None)
            .await?;
        Ok(if new {
            Accepted::New
        } else {
            Accepted::AlreadyPending
        })
    }

    /// The state of a job id: `pending`, `uploaded`, `parked`, or `None` when unknown.
    pub async fn state(&self, id: &str) -> StoreResult<Option<&'static str>> {
        if self.store.get(&self.ns.key(&done_key(id))).await?.is_some() {
            return Ok(Some("uploaded"));
        }
        if self.store.get(&self.ns.key(&dead_key(id))).await?.is_some() {
            return Ok(Some("parked"));
        }
        Ok(self.get(id).await?.map(|_| "pending"))
    }

    /// A job.
    pub async fn get(&self, id: &str) -> StoreResult<Option<Job>> {
        self.json.get(&job_key(id)).await
    }

    /// Every waiting job.
    pub async fn pending(&self) -> StoreResult<Vec<Job>> {
        Ok(self
            .json
            .scan::<Job>(JOB_PREFIX)
            .await?
            .into_iter()
            .map(|(_, j)| j)
            .collect())
    }

    /// Every dead letter.
    pub async fn dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        Ok(self
            .json
            .scan::<DeadLetter>(DEAD_PREFIX)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    /// Claims a job for `instance` for `ttl`; false when another instance holds it.
    pub async fn claim(&self, id: &str, instance: &str, ttl: Duration) -> StoreResult<bool> {
        self.store
            .put_if_absent(&self.ns.key(&claim_key(id)), instance.as_bytes(), Some(ttl))
            .await
    }

    /// Renews `instance`'s claim for another `ttl`, while an attempt runs longer than a claim
    /// lives (a large recording). False when the claim is another instance's now (this one
    /// was too slow: it must stop, the other one has the job); an expired claim is taken again.
    pub async fn renew(&self, id: &str, instance: &str, ttl: Duration) -> StoreResult<bool> {
        let key = self.ns.key(&claim_key(id));
        match self.store.get(&key).await? {
            Some(v) if v == instance.as_bytes() => {
                self.store.put_ttl(&key, instance.as_bytes(), ttl).await?;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => self.claim(id, instance, ttl).await,
        }
    }

    /// Releases a claim.
    pub async fn release(&self, id: &str) -> StoreResult<()> {
        self.store
            .delete(&self.ns.key(&claim_key(id)))
            .await
            .map(|_| ())
    }

    /// Whether the job was uploaded.
    pub async fn is_done(&self, id: &str) -> StoreResult<bool> {
        Ok(self.store.get(&self.ns.key(&done_key(id))).await?.is_some())
    }

    /// Saves a job after a failed attempt.
    pub async fn save(&self, job: &Job) -> StoreResult<()> {
        self.json.put(&job_key(&job.id), job).await
    }

    /// Marks a job uploaded (the mark first, so a repeated request never slips between).
    pub async fn finish(&self, id: &str, done_ttl: Duration) -> StoreResult<()> {
        self.store
            .put_if_absent(&self.ns.key(&done_key(id)), b"1", Some(done_ttl))
            .await?;
        self.json.delete(&job_key(id)).await.map(|_| ())
    }

    /// Parks a job.
    pub async fn park(&self, dead: &DeadLetter) -> StoreResult<()> {
        self.json.put(&dead_key(&dead.job.id), dead).await?;
        self.json.delete(&job_key(&dead.job.id)).await.map(|_| ())
    }
}
