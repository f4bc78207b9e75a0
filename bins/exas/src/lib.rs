//! # engage-exas: EXAS, the agent state sync service
//!
//! One job: Stat Server agent states → GC presence and routing status, per the deployment
//! guide's table. What it must never do: send a GC event for an agent outside the scope EXCS
//! published, drop an undelivered change, or log a secret. It never imports another service.
//!
//! ```text
//! Stat Server (primary/backup) ─► engage-statserver ─► driver ─► tracker ─► mapping
//!                                                        │
//!                               store: scope, delivered states, outbox ─► gcex ─► GC org
//! ```
//!
//! - [`mapping`]: the guide's table (pure core).
//! - [`tracker`]: the sans-IO core: scope, the two statistics per agent, the last delivered
//!   state per agent, the GC events a value calls for.
//! - [`driver`]: the tokio driver (the outbox lease, scope scans, Stat Server events,
//!   reconciliation, the outbox sender).
//! - [`delivery`]: GC error classes, isolating a bad item, the dead-letter list.
//! - [`scope`]: the scope guard (an empty or sharply shrunk scope is a fault).
//! - [`config`], [`service`]: the `exas` binary's settings and composition.
//!
//! Beyond the guide (which admits EXAS may lose states while it is down): on start and after
//! every Stat Server reconnect or switchover, every agent's current state is peeked and sent
//! when it differs from the last one delivered; delivered states and undelivered events live
//! in the store, so a restart resends nothing already accepted and loses nothing queued.

#![forbid(unsafe_code)]

pub mod config;
pub mod delivery;
pub mod driver;
pub mod mapping;
pub mod scope;
pub mod service;
pub mod tracker;
