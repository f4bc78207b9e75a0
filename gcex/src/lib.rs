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
#![forbid(unsafe_code)]
