//! # engage-connector: the services and their composition
//!
//! Place in the pipeline: this crate composes the library crates into the four services of the
//! EX Engage Connector and their tools:
//!
//! ```text
//! Config DB ─► cfgdb ─► EXCS ─┐
//! Stat Server ─► statserver ─► EXAS ─┼─► gcex ─► Genesys Cloud EX org
//! SIP Server ─► tlib ─► EXCP (callmodel) ─┘      EXRP (recordings) ─► presigned upload
//! ```
//!
//! It owns the things libraries must not: reading environment variables (the deployment
//! guide's names), runtimes, the tracing subscriber, HTTP endpoints (`/health`, `/status`,
//! `/metrics`), and the shared store. Binaries: `exec` (all-in-one demo and ops CLI), `excs`,
//! `exas`, `excp`, `exrp`, `engage-sim`, `gcex-emulator`.
//!
//! What it must never do: log a secret (client secret, passwords), or hide a failed dependency
//! behind a healthy `/health`.
#![forbid(unsafe_code)]

pub mod demo;
pub mod exas;
pub mod excp;
pub mod excs;
pub mod ops;
pub mod store;
