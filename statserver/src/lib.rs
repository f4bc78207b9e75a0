//! # engage-statserver: the Genesys Stat Server protocol
//!
//! Place in the pipeline:
//!
//! ```text
//! Stat Server (primary/backup) ──TCP──► engage-statserver ──agent states──► EXAS engine ──► gcex
//! ```
//!
//! This crate owns the Stat Server client protocol: the codec, opening and closing statistics
//! (CurrentState / CurrentStateReason per agent), the AgentStatus value with its DN actions and
//! their priority, and a client that fails over between primary and backup and reopens every
//! statistic. With the `sim` feature it provides the server side for the Stat Server simulator.
//!
//! What it must never do: know about Genesys Cloud, decide presence mapping (that is EXAS's
//! job), or panic on bytes received from the network.
#![forbid(unsafe_code)]
