//! # gcex: the Genesys Cloud EX API client
//!
//! Place in the pipeline:
//!
//! ```text
//! EXCS / EXAS / EXCP / EXRP engines ──typed calls──► gcex ──HTTPS──► Genesys Cloud EX org
//! ```
//!
//! This crate speaks the public Genesys Cloud Platform API: OAuth client credentials, a
//! client-side rate limiter, retries with backoff, pagination, and typed endpoints for users,
//! roles, skills, queues, wrap-up codes, presence, event injection and recording upload. With the
//! `emulator` feature it also serves a stateful GC EX org over HTTP for tests and the demo.
//!
//! What it must never do: know anything about Engage, do IO outside the `client` and `emulator`
//! features, or let the client secret or an access
//! token reach a log line, an error message or a `Debug` string.
//!
//! ## Shape
//! - [`GcConfig`] → [`GcClient::new`]; every endpoint is an `async fn` (or a [`GcStream`] for
//!   listings) on [`GcClient`], grouped by module: [`users`], [`scim`] (users through SCIM 2.0), [`routing`] (also roles and the
//!   home division), [`presence`], [`events`], [`recordings`], [`sta`].
//! - Behaviour on every request: a cached OAuth token renewed ahead of `expires_in` (one
//!   renewal shared by concurrent callers; a 401 renews once and retries); the client-side
//!   [`RateLimit`] (default 300/min); 429 waits `Retry-After`; 502/503/504 and transport
//!   failures are retried with capped exponential backoff and jitter within
//!   [`RetryPolicy::budget`] for requests that are safe to repeat; creates are retried only
//!   when GC surely did not act (429, connect failure).
//! - [`GcError`] carries the status, the parsed [`ErrorBody`] and the `ININ-Correlation-Id`;
//!   ask its predicates (`is_retryable`, `is_conflict`, `is_not_found`, …).
//! - [`batcher::EventBatcher`] groups injected events into requests of at most 100, flushed by
//!   size or after a short delay, keeping per-conversation and per-user order.
//!
//! ## Where the public API is silent
//! Each module says what it designed where the public reference says NOT FOUND or UNVERIFIED
//! (event ordering and idempotency in [`events`], the recording public key in [`recordings`]).
//! Duplicate names: GC answers queues and wrap-up codes 400 `duplicate.name`, skills,
//! languages and users 409 or 400 `general.conflict`; callers ask
//! [`GcError::is_duplicate`] and look the existing object up. A stale `version` is 409 or 400
//! ([`GcError::is_version_conflict`]). `gcex/README.md` tables each GC behaviour with its
//! public source and its test.
//!
//! ## Features
//! - `client` (default): the HTTP client, everything above.
//! - without default features: only the wire models of event injection ([`events`]: the
//!   conversation events, the batch envelopes, presence and routing-status events), with serde,
//!   serde_json and time as the only dependencies: no reqwest, no tokio. The pure call model
//!   (`engage-callmodel`) builds its output from them.
//! - `emulator` (implies `client`): the GC EX org emulator.
#![forbid(unsafe_code)]

pub mod events;

#[cfg(feature = "client")]
mod auth;
#[cfg(feature = "client")]
pub mod batcher;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod config;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod inject;
#[cfg(feature = "client")]
mod limiter;
#[cfg(feature = "client")]
mod models;
#[cfg(feature = "client")]
mod page;
#[cfg(feature = "client")]
pub mod presence;
#[cfg(feature = "client")]
pub mod recordings;
#[cfg(feature = "client")]
pub mod routing;
#[cfg(feature = "client")]
pub mod scim;
#[cfg(feature = "client")]
pub mod sta;
#[cfg(feature = "client")]
pub mod users;

#[cfg(feature = "emulator")]
pub mod emulator;

#[cfg(feature = "client")]
pub use client::{ClientStats, EndpointCount, GcClient, endpoint_template};
#[cfg(feature = "client")]
pub use config::{GcConfig, RateLimit, RetryPolicy, region_urls};
/// A secret string (client secret, access token) that never prints itself; shared with the
/// other crates through `engage-base`.
pub use engage_base::Secret;
#[cfg(feature = "client")]
pub use error::{ErrorBody, ErrorDetail, GcError, Limit, TransportKind};
#[cfg(feature = "client")]
pub use models::EntityRef;
#[cfg(feature = "client")]
pub use page::{EntityListing, GcStream, PAGE_SIZE, collect_all};
