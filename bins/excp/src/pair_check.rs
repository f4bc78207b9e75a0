//! The pair check (issue 12 §7; our design): do the two instances of an EXCP pair derive the
//! same GC events for a call?
//!
//! Event ids count positions within a conversation, so an instance that missed an event (a
//! link drop, a start in the middle of a call without the checkpoint) derives other ids for
//! what follows, and both instances then deliver their own version. That cannot be seen per
//! event (the claims are per id); it is seen at the end of the conversation: each instance
//! writes the [`Digest`] of the ids it produced to `excp:digest:{conversationId}` (first writer
//! wins, one hour TTL); the second compares. A difference is logged with both digests, counted
//! in `excp_pair_checks_total{outcome="diverged"}` and shown in `/status`, so an operator
//! knows which calls GC may show twice. A single instance only ever writes.
//!
//! Measured on scenario 10 (a consult transfer, 15 TLib events), missing each event in turn:
//! 10 change nothing (call monitoring and the other streams carry the same facts), 4 change
//! the call's digest (detected), 1 makes the consult leg a conversation of its own, which the
//! other instance never closes: that case is not detected (its digest waits alone).
//! `bins/sim/tests/excp_engine.rs` prints these figures.

use crate::engine::ClosedDigest;
#[cfg(test)]
use crate::engine::Digest;
use engage_store::{Namespace, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// How long a digest waits for the other instance of the pair.
pub const DIGEST_TTL: Duration = Duration::from_secs(3_600);

/// What the pair check found for one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This instance closed it first (or alone): nothing to compare yet.
    First,
    /// The other instance closed it with the same digest.
    Agree,
    /// The other instance closed it with another digest.
    Diverged {
        /// This instance's digest (`events:hash`).
        ours: String,
        /// The other instance's.
        theirs: String,
    },
}

impl Verdict {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::First => "first",
            Verdict::Agree => "agree",
            Verdict::Diverged { .. } => "diverged",
        }
    }
}

/// The pair check over the shared store.
#[derive(Debug, Clone)]
pub struct PairCheck {
    store: Arc<dyn Store>,
    ns: Namespace,
    ttl: Duration,
}

impl PairCheck {
    /// The check in namespace `ns`.
    pub fn new(store: Arc<dyn Store>, ns: &Namespace) -> PairCheck {
        PairCheck {
            store,
            ns: ns.clone(),
            ttl: DIGEST_TTL,
        }
    }

    /// Checks one closed conversation against the other instance's digest.
    pub async fn check(&self, closed: &ClosedDigest) -> Result<Verdict, StoreError> {
        let key = self.ns.key(&engage_store::schema::keys::excp_digest(
            &closed.conversation_id,
        ));
        let ours = closed.digest.to_text();
        if self
            .store
            .put_if_absent(&key, ours.as_bytes(), Some(self.ttl))
            .await?
        {
            return Ok(Verdict::First);
        }
        Ok(match self.store.get(&key).await? {
            Some(v) if v == ours.as_bytes() => Verdict::Agree,
            Some(v) => Verdict::Diverged {
                ours,
                theirs: String::from_utf8_lossy(&v).into_owned(),
            },
            // Expired in between: this one is the first again.
            None => Verdict::First,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_store::EmbeddedStore;

    #[tokio::test]
    async fn the_second_instance_compares_with_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
        let ns = Namespace::new("t", "o");
        let a = PairCheck::new(store.clone(), &ns);
        let b = PairCheck::new(store, &ns);
        let closed = |conv: &str, events, hash| ClosedDigest {
            conversation_id: conv.into(),
            digest: Digest { events, hash },
        };
        assert_eq!(a.check(&closed("c1", 5, 7)).await.unwrap(), Verdict::First);
        assert_eq!(b.check(&closed("c1", 5, 7)).await.unwrap(), Verdict::Agree);
        assert_eq!(a.check(&closed("c2", 5, 7)).await.unwrap(), Verdict::First);
        match b.check(&closed("c2", 4, 9)).await.unwrap() {
            Verdict::Diverged { ours, theirs } => {
                assert_eq!(ours, "4:0000000000000009");
                assert_eq!(theirs, "5:0000000000000007");
            }
            other => panic!("expected a divergence, got {other:?}"),
        }
    }
}
