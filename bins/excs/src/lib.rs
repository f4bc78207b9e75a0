//! # engage-excs: EXCS, the configuration sync service
//!
//! One job: keep a Genesys Cloud EX org's users, skills, queues and members, wrap-up codes and
//! roles in step with the Engage Config DB, and publish what the other services need (extension
//! and VQ DNs, person records, their GC connections) in the shared store.
//!
//! - Pure core (no tokio, no clock, no store): [`rules`] (the guide's mapping rules: naming,
//!   roles, the skill formula) and [`desired`] (the desired org, a pure function of a Config DB
//!   snapshot), and [`guard`] (the removal guard: refuses empty reads and mass removals
//!   before the reconciler runs).
//! - Driver: [`sync`] (reconciles the desired org against GC, restart-safe, through the store)
//!   and [`service`] (settings, the poll loop, REST on 3640).
//!
//! What it must never do: write to the Config DB, delete a GC object because a read came back
//! empty or partial, or log a secret. It never imports another service.
#![forbid(unsafe_code)]

pub mod desired;
pub mod guard;
pub mod rules;
pub mod service;
pub mod sync;
