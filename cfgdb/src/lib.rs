//! # engage-cfgdb: the Engage Configuration Database reader
//!
//! Place in the pipeline:
//!
//! ```text
//! Engage Config DB ──SQL (read-only)──► engage-cfgdb ──snapshot / deltas──► EXCS engine ──► gcex
//! ```
//!
//! Its one job: turn what the Config DB holds into a typed, pure-data picture of the contact
//! center (a [`Snapshot`], then deltas), including the rules that only need configuration to
//! answer (folder filtering, Virtual Agent Group membership, queue membership).
//!
//! This crate reads Persons, Skills, DNs, Agent Groups, Business Attributes, Folders, Switches,
//! the Tenant, their Annex, and the `hybrid_integration` transaction into a typed snapshot,
//! applies folder filtering, and turns database changes into typed deltas. Dialects (PostgreSQL,
//! SQLite, MSSQL, Oracle) sit behind cargo features.
//!
//! What it must never do: write to the Config DB (Configuration Server owns it; every session is
//! read-only), know about Genesys Cloud, or log database passwords.
//!
//! ## Map
//! - [`mapping`]: every table/column name, overridable from configuration ([`SchemaMap`]).
//! - [`dialect`]: quoting, schema prefix, placeholders, read-only statements ([`Dialect`]).
//! - [`db`]: settings ([`DbConfig`] from `EXCS_CONFIG_DB_*`), the [`ConfigDb`] seam, errors.
//! - [`reader`]: SQL text + decoding into a [`Snapshot`] ([`read_snapshot`]).
//! - [`model`]: the typed snapshot.
//! - [`vag`]: Virtual Agent Group scripts (pure parser + evaluator) and the one queue-membership
//!   rule ([`vag::queue_members`]).
//! - [`filter`]: folder filtering ([`FolderFilter`]).
//! - [`changes`]: deltas from fingerprints + history ([`ChangeTracker`], [`Poller`]).
//! - [`mod@doctor`]: schema check ([`doctor()`]).
//! - [`fuzzing`]: the entry point of the `cfgdb_vag` fuzz target and its corpus replay test.
//! - `seed` (feature `seed`): the fixture generator, the only code that writes, kept apart from
//!   the reader and out of the services' builds.
//! - `pg` / `sqlite` / `mssql` / `oracle`: the drivers (features `postgres`, `sqlite`,
//!   `mssql`, `oracle`).
#![forbid(unsafe_code)]

pub mod changes;
pub mod db;
pub mod dialect;
pub mod doctor;
pub mod filter;
pub mod fuzzing;
pub mod mapping;
pub mod model;
#[cfg(feature = "mssql")]
pub mod mssql;
#[cfg(feature = "oracle")]
pub mod oracle;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod reader;
#[cfg(feature = "seed")]
pub mod seed;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod vag;

pub use changes::{ChangeKind, ChangeTracker, Delta, Poller, PollerConfig};
pub use db::{ConfigDb, DbConfig, Error, Secret, open};
pub use dialect::Dialect;
pub use doctor::{DoctorReport, doctor};
pub use filter::FolderFilter;
pub use mapping::SchemaMap;
pub use model::Snapshot;
#[cfg(feature = "oracle")]
pub use oracle::OracleConfigDb;
#[cfg(feature = "postgres")]
pub use pg::PgConfigDb;
pub use reader::read_snapshot;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteConfigDb;
