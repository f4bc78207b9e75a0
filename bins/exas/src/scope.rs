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

/// The guard (engage-ops' shrink guard, shared with EXCP's DN registrations).
pub type ScopeGuard = engage_ops::shrink::ShrinkGuard;

/// Its verdict.
pub type ScopeVerdict = engage_ops::shrink::ShrinkVerdict;

/// How EXAS words the guard's verdicts.
pub const NAMES: engage_ops::shrink::ShrinkNames = engage_ops::shrink::ShrinkNames {
    items: "agents",
    source: "the scope EXCS published (person records)",
    max_setting: "EXAS_MAX_SCOPE_REMOVAL_PERCENT",
    hold_setting: "EXAS_SCOPE_SHRINK_HOLD_SECS",
    check: "Check EXCS and the store (a flush, the wrong EXEC_TENANT_ID/EXEC_ORG_ID)",
};
