//! The upload job and its retry plan (pure core: no clock, no store; the time is an input).
//!
//! A job is accepted once per segment ([`Segment::job_id`](crate::request::Segment::job_id)),
//! kept in the store until it is uploaded or parked, and attempted whenever it is due. After
//! each attempt [`Job::after_attempt`] says what comes next: done, another attempt at a later
//! time (capped exponential backoff), or the dead-letter list (a permanent failure, too many
//! attempts, or older than the maximum age, by default the 24 hours the guide sizes WebDAV
//! for). A parked job is never retried by itself; it stays listed until an operator acts.

use crate::request::InteractionEnd;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One segment's upload, as kept in the store (`exrp:job:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Job {
    /// The job id (see [`crate::request::job_id`]).
    pub id: String,
    /// The request as accepted (validated).
    pub request: InteractionEnd,
    /// When it was accepted, Unix ms.
    pub accepted_at_ms: i64,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not attempted before this time, Unix ms.
    pub next_attempt_ms: i64,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// How an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Trying again later may work (WebDAV, GC or S3 unreachable or 5xx, a file not in WebDAV
    /// yet, no recording key yet, an expired presigned URL).
    Transient(String),
    /// Trying again cannot work (GC refused the upload as invalid).
    Permanent(String),
}

impl Failure {
    /// The human reason.
    pub fn reason(&self) -> &str {
        match self {
            Failure::Transient(r) | Failure::Permanent(r) => r,
        }
    }
}

/// Retry limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPlan {
    /// Wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// A job older than this is parked after its next failure.
    pub max_age: Duration,
    /// A job is parked after this many failed attempts.
    pub max_attempts: u32,
}

impl Default for RetryPlan {
    fn default() -> Self {
        RetryPlan {
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            max_age: Duration::from_secs(24 * 3600),
            max_attempts: 500,
        }
    }
}

impl RetryPlan {
    /// A plan from its four limits.
    pub fn new(
        initial_backoff: Duration,
        max_backoff: Duration,
        max_age: Duration,
        max_attempts: u32,
    ) -> RetryPlan {
        RetryPlan {
            initial_backoff,
            max_backoff,
            max_age,
            max_attempts,
        }
    }

    /// The wait after failed attempt number `attempts` (1-based).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        self.initial_backoff
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_backoff)
    }
}

/// What comes after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Uploaded: mark done, forget the job.
    Done,
    /// Save the updated job; attempt again when due.
    Retry(Job),
    /// Move to the dead-letter list.
    Park(DeadLetter),
}

/// A parked job (`exrp:dead:{id}`), shown by `/status` until an operator removes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeadLetter {
    /// The job as it was.
    pub job: Job,
    /// When it was parked, Unix ms.
    pub parked_at_ms: i64,
    /// Why.
    pub reason: String,
}

impl Job {
    /// A new job for a validated request, due at once.
    pub fn new(id: String, request: InteractionEnd, now_ms: i64) -> Job {
        Job {
            id,
            request,
            accepted_at_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
        }
    }

    /// Whether the job may be attempted at `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.next_attempt_ms <= now_ms
    }

    /// The plan after an attempt that ended with `outcome` at `now_ms`.
    pub fn after_attempt(
        &self,
        outcome: Result<(), Failure>,
        now_ms: i64,
        plan: &RetryPlan,
    ) -> Next {
        let failure = match outcome {
            Ok(()) => return Next::Done,
            Err(f) => f,
        };
        let mut job = self.clone();
        job.attempts = job.attempts.saturating_add(1);
        job.last_error = Some(failure.reason().to_string());
        let age_ms = now_ms.saturating_sub(job.accepted_at_ms);
        let max_age_ms = i64::try_from(plan.max_age.as_millis()).unwrap_or(i64::MAX);
        let park = |reason: String, job: Job| {
            Next::Park(DeadLetter {
                job,
                parked_at_ms: now_ms,
                reason,
            })
        };
        match failure {
            Failure::Permanent(r) => park(format!("permanent failure: {r}"), job),
            Failure::Transient(r) if job.attempts >= plan.max_attempts => park(
                format!("gave up after {} attempts; last: {r}", job.attempts),
                job,
            ),
            Failure::Transient(r) if age_ms >= max_age_ms => park(
                format!(
                    "gave up after {} s (maximum age {} s); last: {r}",
                    age_ms / 1000,
                    plan.max_age.as_secs()
                ),
                job,
            ),
            Failure::Transient(_) => {
                let wait =
                    i64::try_from(plan.backoff(job.attempts).as_millis()).unwrap_or(i64::MAX);
                job.next_attempt_ms = now_ms.saturating_add(wait);
                Next::Retry(job)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        let r = InteractionEnd::new("c", "m", "s", "e", "f.opus");
        Job::new("id".into(), r, 1_000)
    }

    fn plan() -> RetryPlan {
        RetryPlan {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_age: Duration::from_secs(3600),
            max_attempts: 10,
        }
    }

    #[test]
    fn success_is_done() {
        assert_eq!(job().after_attempt(Ok(()), 2_000, &plan()), Next::Done);
    }

    #[test]
    fn transient_failures_back_off_exponentially_with_a_cap() {
        let p = plan();
        let mut j = job();
        assert!(j.is_due(1_000));
        let mut waits = Vec::new();
        let mut now = 1_000;
        for _ in 0..6 {
            match j.after_attempt(Err(Failure::Transient("503".into())), now, &p) {
                Next::Retry(next) => {
                    assert!(!next.is_due(now));
                    waits.push(next.next_attempt_ms - now);
                    now = next.next_attempt_ms;
                    assert!(next.is_due(now));
                    assert_eq!(next.last_error.as_deref(), Some("503"));
                    j = next;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits, vec![1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        assert_eq!(j.attempts, 6);
    }

    #[test]
    fn permanent_failures_too_many_attempts_and_old_jobs_are_parked() {
        let p = plan();
        match job().after_attempt(
            Err(Failure::Permanent("400 bad fileName".into())),
            2_000,
            &p,
        ) {
            Next::Park(d) => {
                assert!(d.reason.contains("400 bad fileName"));
                assert_eq!(d.parked_at_ms, 2_000);
                assert_eq!(d.job.attempts, 1);
            }
            other => panic!("{other:?}"),
        }
        let mut tired = job();
        tired.attempts = 9;
        assert!(matches!(
            tired.after_attempt(Err(Failure::Transient("x".into())), 2_000, &p),
            Next::Park(d) if d.reason.contains("10 attempts")
        ));
        let old = job();
        assert!(matches!(
            old.after_attempt(Err(Failure::Transient("x".into())), 1_000 + 3_600_000, &p),
            Next::Park(d) if d.reason.contains("maximum age")
        ));
        // Extreme inputs do not overflow.
        let mut odd = job();
        odd.attempts = u32::MAX;
        assert!(matches!(
            odd.after_attempt(
                Err(Failure::Transient("x".into())),
                i64::MAX,
                &RetryPlan::default()
            ),
            Next::Park(_)
        ));
        assert_eq!(
            RetryPlan::default().backoff(u32::MAX),
            Duration::from_secs(300)
        );
    }
}
