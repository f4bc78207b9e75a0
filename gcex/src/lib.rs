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
//! What it must never do: know anything about Engage, or let the client secret or an access
//! token reach a log line, an error message or a `Debug` string.
//!
//! ## Shape
//! - [`GcConfig`] → [`GcClient::new`]; every endpoint is an `async fn` (or a [`GcStream`] for
//!   listings) on [`GcClient`], grouped by module: [`users`], [`routing`] (also roles and the
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
//! GC's exact answer to a duplicate name is UNVERIFIED: the emulator answers 409
//! `general.conflict`; callers should treat 409 on create as "exists, look it up".
#![forbid(unsafe_code)]

mod auth;
pub mod batcher;
mod client;
mod config;
mod error;
pub mod events;
mod limiter;
mod models;
mod page;
pub mod presence;
pub mod recordings;
pub mod routing;
pub mod sta;
pub mod users;

#[cfg(feature = "emulator")]
pub mod emulator;

pub use client::{ClientStats, GcClient};
pub use config::{GcConfig, RateLimit, RetryPolicy, region_urls};
/// A secret string (client secret, access token) that never prints itself; shared with the
/// other crates through `engage-base`.
pub use engage_base::Secret;
pub use error::{ErrorBody, ErrorDetail, GcError, Limit, TransportKind};
pub use models::EntityRef;
pub use page::{EntityListing, GcStream, PAGE_SIZE, collect_all};
