//! The shrink guard: an empty or sharply shrunk read of what a service serves is a fault,
//! not an order to drop everything (issue 12 §9). Pure: time is passed in.
//!
//! What a service holds (EXAS: the agents in scope; EXCP: the DNs registered on the SIP
//! Servers) comes from records EXCS publishes in the store. A wiped store, a half-written
//! snapshot or the wrong namespace reads as "nothing"; applying it would stop the service for
//! the whole contact center. So:
//! - an **empty** read while items are held is never applied (the previous set stays, and the
//!   service reports the fault in `/health` and an ERROR line) until items are published again;
//! - a read that would remove more than `max_percent` of the items held (at least one is
//!   always allowed) keeps the items it would remove, while additions go through; if the same
//!   shrink is still there after the hold time, it is EXCS's decision (EXCS guards its own
//!   removals) and applied.

/// What to do with a read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShrinkVerdict {
    /// Apply it.
    Apply,
    /// Apply it: a large shrink that persisted beyond the hold time.
    ApplyAfterHold {
        /// Items it removes.
        removals: usize,
    },
    /// Empty while items are held: keep the previous set entirely.
    KeepEmpty {
        /// Items held.
        held: usize,
    },
    /// Too many removals: keep the items it would remove, apply the rest.
    HoldRemovals {
        /// Items it would remove.
        removals: usize,
        /// Removals allowed without holding.
        allowed: usize,
    },
}

/// How a service names what it guards, for [`ShrinkVerdict::describe`].
#[derive(Debug, Clone, Copy)]
pub struct ShrinkNames {
    /// The items, plural (`agents`, `DNs`).
    pub items: &'static str,
    /// Where the read comes from (`the scope EXCS published (person records)`).
    pub source: &'static str,
    /// The setting of the removal limit.
    pub max_setting: &'static str,
    /// The setting of the hold time.
    pub hold_setting: &'static str,
    /// What to check when the read is empty.
    pub check: &'static str,
}

impl ShrinkVerdict {
    /// Whether the verdict is a fault (reported in `/health` and `/status`).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            ShrinkVerdict::KeepEmpty { .. } | ShrinkVerdict::HoldRemovals { .. }
        )
    }

    /// A one-line explanation for `/health`, `/status` and the log.
    pub fn describe(&self, n: &ShrinkNames) -> String {
        match self {
            ShrinkVerdict::Apply => format!("{} applied", n.items),
            ShrinkVerdict::ApplyAfterHold { removals } => format!(
                "a shrink of {removals} {} persisted beyond {}; applied",
                n.items, n.hold_setting
            ),
            ShrinkVerdict::KeepEmpty { held } => format!(
                "{} is empty; keeping the {held} {} held. {}",
                n.source, n.items, n.check
            ),
            ShrinkVerdict::HoldRemovals { removals, allowed } => format!(
                "{} would remove {removals} {}, more than {} allows ({allowed}); keeping them until the shrink persists for {}",
                n.source, n.items, n.max_setting, n.hold_setting
            ),
        }
    }
}

/// The guard's settings and memory (when the current large shrink was first seen).
#[derive(Debug, Clone)]
pub struct ShrinkGuard {
    max_percent: u8,
    hold_ms: i64,
    shrink_since: Option<i64>,
}

impl ShrinkGuard {
    /// A guard allowing `max_percent` removals at once, applying a larger shrink after it
    /// persisted `hold_ms`.
    pub fn new(max_percent: u8, hold_ms: i64) -> ShrinkGuard {
        ShrinkGuard {
            max_percent: max_percent.min(100),
            hold_ms: hold_ms.max(0),
            shrink_since: None,
        }
    }

    /// Judges a read: `held` items now, `wanted` in the read, `removals` of the held ones
    /// missing from it, at `now_ms`.
    pub fn judge(
        &mut self,
        held: usize,
        wanted: usize,
        removals: usize,
        now_ms: i64,
    ) -> ShrinkVerdict {
        if wanted == 0 && held > 0 {
            return ShrinkVerdict::KeepEmpty { held };
        }
        let allowed = (held * usize::from(self.max_percent) / 100).max(1);
        if removals <= allowed {
            self.shrink_since = None;
            return ShrinkVerdict::Apply;
        }
        let since = *self.shrink_since.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= self.hold_ms {
            self.shrink_since = None;
            return ShrinkVerdict::ApplyAfterHold { removals };
        }
        ShrinkVerdict::HoldRemovals { removals, allowed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: ShrinkNames = ShrinkNames {
        items: "things",
        source: "the read",
        max_setting: "MAX_X",
        hold_setting: "HOLD_X",
        check: "Check it.",
    };

    #[test]
    fn an_empty_scope_is_never_applied() {
        let mut g = ShrinkGuard::new(10, 1000);
        assert_eq!(g.judge(50, 0, 50, 0), ShrinkVerdict::KeepEmpty { held: 50 });
        assert_eq!(
            g.judge(50, 0, 50, 1_000_000),
            ShrinkVerdict::KeepEmpty { held: 50 }
        );
        assert!(g.judge(50, 0, 50, 0).is_fault());
        // Nothing held, nothing read: nothing to protect.
        assert_eq!(g.judge(0, 0, 0, 0), ShrinkVerdict::Apply);
    }

    #[test]
    fn small_removals_apply_and_large_ones_wait_for_the_hold() {
        let mut g = ShrinkGuard::new(10, 1000);
        assert_eq!(g.judge(100, 90, 10, 0), ShrinkVerdict::Apply);
        // One removal is always allowed, even from a small scope.
        assert_eq!(g.judge(3, 2, 1, 0), ShrinkVerdict::Apply);
        let held = g.judge(100, 60, 40, 5);
        assert_eq!(
            held,
            ShrinkVerdict::HoldRemovals {
                removals: 40,
                allowed: 10
            }
        );
        assert!(held.describe(&NAMES).contains("MAX_X"));
        assert!(g.judge(100, 60, 40, 900).is_fault());
        assert_eq!(
            g.judge(100, 60, 40, 1005),
            ShrinkVerdict::ApplyAfterHold { removals: 40 }
        );
        // A shrink that goes away resets the clock.
        assert!(g.judge(100, 60, 40, 2000).is_fault());
        assert_eq!(g.judge(100, 100, 0, 2500), ShrinkVerdict::Apply);
        assert!(g.judge(100, 60, 40, 3000).is_fault());
        assert!(g.judge(100, 60, 40, 3999).is_fault());
    }
}
