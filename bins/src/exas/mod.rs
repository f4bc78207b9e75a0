//! EXAS, the agent state sync service: Stat Server agent states → GC presence and routing
//! status, per the deployment guide's table.
//!
//! ```text
//! Stat Server (primary/backup) ─► engage-statserver ─► engine ─► tracker ─► mapping
//!                                                        │
//!                               store: scope, delivered states, outbox ─► gcex ─► GC org
//! ```
//!
//! - [`mapping`]: the guide's table (pure).
//! - [`tracker`]: the sans-IO core: scope, the two statistics per agent, the last delivered
//!   state per agent, the GC events a value calls for.
//! - [`engine`]: the tokio driver (scope scans, Stat Server events, reconciliation, the
//!   outbox sender).
//! - [`config`], [`service`]: the `exas` binary's settings and composition.
//!
//! Beyond the guide (which admits EXAS may lose states while it is down): on start and after
//! every Stat Server reconnect or switchover, every agent's current state is peeked and sent
//! when it differs from the last one delivered; delivered states and undelivered events live
//! in the store, so a restart resends nothing already accepted and loses nothing queued.

pub mod config;
pub mod engine;
pub mod mapping;
pub mod service;
pub mod tracker;
