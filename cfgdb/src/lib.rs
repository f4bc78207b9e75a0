//! # engage-cfgdb: the Engage Configuration Database reader
//!
//! Place in the pipeline:
//!
//! ```text
//! Engage Config DB ──SQL (read-only)──► engage-cfgdb ──snapshot / deltas──► EXCS engine ──► gcex
//! ```
//!
//! This crate reads Persons, Skills, DNs, Agent Groups, Business Attributes, Folders, Switches,
//! the Tenant, their Annex, and the `hybrid_integration` transaction into a typed snapshot,
//! applies folder filtering, and turns database changes into typed deltas. Dialects (PostgreSQL,
//! SQLite, MSSQL, Oracle) sit behind cargo features.
//!
//! What it must never do: write to the Config DB (Configuration Server owns it; every session is
//! read-only), know about Genesys Cloud, or log database passwords.
#![forbid(unsafe_code)]
