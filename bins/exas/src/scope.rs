//! The scope guard: an empty or sharply shrunk scope is a fault, not an order to close
//! every statistic.
//!
//! The scope is the person records EXCS publishes in the store. A wiped store, a half-written
//! snapshot or the wrong namespace reads as "no agents"; applying it would close every
//! statistic and stop syncing the whole contact center. So (pure, time passed in):
//! - an **empty** scope while agents are held is never applied: the previous scope stays,
//!   `/health` (`scope`) is down and an ERROR line says why, until agents are published again;
//! - a scope that would remove more than `EXAS_MAX_SCOPE_REMOVAL_PERCENT` (default 10) of the
//!   agents held (at least one is always allowed) keeps the agents it would remove, while
//!   additions go through; if the same shrink is still there after
//!   `EXAS_SCOPE_SHRINK_HOLD_SECS` (default 300: a republish after a wipe, or a snapshot being
//!   written, takes seconds), it is EXCS's decision (EXCS guards its own removals) and applied.

/// Default of `EXAS_MAX_SCOPE_REMOVAL_PERCENT`.
pub const DEFAULT_MAX_REMOVAL_PERCENT: u8 = 10;

/// Default of `EXAS_SCOPE_SHRINK_HOLD_SECS`, in milliseconds.
pub const DEFAULT_SHRINK_HOLD_MS: i64 = 300_000;

/// What to do with a scope read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeVerdict {
    /// Apply it.
    Apply,
    /// Apply it: a large shrink that persisted beyond the hold time.
    ApplyAfterHold {
        /// Agents it removes.
        removals: usize,
    },
    /// Empty while agents are held: keep the previous scope entirely.
    KeepEmpty {
        /// Agents held.
        held: usize,
    },
    /// Too many removals: keep the agents it would remove, apply the rest.
    HoldRemovals {
        /// Agents it would remove.
        removals: usize,
        /// Removals allowed without holding.
        allowed: usize,
    },
}

impl ScopeVerdict {
    /// Whether the verdict is a fault (reported in `/health` and `/status`).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            ScopeVerdict::KeepEmpty { .. } | ScopeVerdict::HoldRemovals { .. }
        )
    }

    /// A one-line explanation for `/health`, `/status` and the log.
    pub fn describe(&self) -> String {
        match self {
            ScopeVerdict::Apply => "scope applied".into(),
            ScopeVerdict::ApplyAfterHold { removals } => format!(
                "a scope shrink of {removals} agents persisted beyond EXAS_SCOPE_SHRINK_HOLD_SECS; applied"
            ),
            ScopeVerdict::KeepEmpty { held } => format!(
                "the scope EXCS published (person records) is empty; keeping the {held} agents in scope. Check EXCS and the store (a flush, the wrong EXEC_TENANT_ID/EXEC_ORG_ID)"
            ),
            ScopeVerdict::HoldRemovals { removals, allowed } => format!(
                "the scope would remove {removals} agents, more than EXAS_MAX_SCOPE_REMOVAL_PERCENT allows ({allowed}); keeping them until the shrink persists for EXAS_SCOPE_SHRINK_HOLD_SECS"
            ),
        }
    }
}

/// The guard's settings and memory (when the current large shrink was first seen).
#[derive(Debug, Clone)]
pub struct ScopeGuard {
    max_percent: u8,
    hold_ms: i64,
    shrink_since: Option<i64>,
}

impl ScopeGuard {
    /// A guard allowing `max_percent` removals at once, applying a larger shrink after it
    /// persisted `hold_ms`.
    pub fn new(max_percent: u8, hold_ms: i64) -> ScopeGuard {
        ScopeGuard {
            max_percent: max_percent.min(100),
            hold_ms: hold_ms.max(0),
            shrink_since: None,
        }
    }

    /// Judges a scope read at `now_ms`: `held` agents now, `wanted` agents read, `removals`
    /// of the held ones missing from the read.
    pub fn judge(
        &mut self,
        held: usize,
        wanted: usize,
        removals: usize,
        now_ms: i64,
    ) -> ScopeVerdict {
        if wanted == 0 && held > 0 {
            return ScopeVerdict::KeepEmpty { held };
        }
        let allowed = (held * usize::from(self.max_percent) / 100).max(1);
        if removals <= allowed {
            self.shrink_since = None;
            return ScopeVerdict::Apply;
        }
        let since = *self.shrink_since.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= self.hold_ms {
            self.shrink_since = None;
            return ScopeVerdict::ApplyAfterHold { removals };
        }
        ScopeVerdict::HoldRemovals { removals, allowed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_scope_is_never_applied() {
        let mut g = ScopeGuard::new(10, 1000);
        assert_eq!(g.judge(50, 0, 50, 0), ScopeVerdict::KeepEmpty { held: 50 });
        assert_eq!(
            g.judge(50, 0, 50, 1_000_000),
            ScopeVerdict::KeepEmpty { held: 50 }
        );
        assert!(g.judge(50, 0, 50, 0).is_fault());
        // Nothing held, nothing read: nothing to protect.
        assert_eq!(g.judge(0, 0, 0, 0), ScopeVerdict::Apply);
    }

    #[test]
    fn small_removals_apply_and_large_ones_wait_for_the_hold() {
        let mut g = ScopeGuard::new(10, 1000);
        assert_eq!(g.judge(100, 90, 10, 0), ScopeVerdict::Apply);
        // One removal is always allowed, even from a small scope.
        assert_eq!(g.judge(3, 2, 1, 0), ScopeVerdict::Apply);
        let held = g.judge(100, 60, 40, 5);
        assert_eq!(
            held,
            ScopeVerdict::HoldRemovals {
                removals: 40,
                allowed: 10
            }
        );
        assert!(held.describe().contains("EXAS_MAX_SCOPE_REMOVAL_PERCENT"));
        assert!(g.judge(100, 60, 40, 900).is_fault());
        assert_eq!(
            g.judge(100, 60, 40, 1005),
            ScopeVerdict::ApplyAfterHold { removals: 40 }
        );
        // A shrink that goes away resets the clock.
        assert!(g.judge(100, 60, 40, 2000).is_fault());
        assert_eq!(g.judge(100, 100, 0, 2500), ScopeVerdict::Apply);
        assert!(g.judge(100, 60, 40, 3000).is_fault());
        assert!(g.judge(100, 60, 40, 3999).is_fault());
    }
}
