//! # engage-excp: EXCP, the conversation provider
//!
//! One job: SIP Server TLib events (VQ, extension and call-monitoring clients, HA pairs) →
//! normalized Engage events → the pure call model → GC conversation events, delivered in order
//! and once per HA pair; and the recording metadata API.
//!
//! What it must never do: inject an event twice from an HA pair, let one conversation's events
//! overtake each other, lose an event it read, or log a secret. It never imports another
//! service; the SIP Server simulator and the TLib *encoding* live in `engage-sim`.
//!
//! Pure core (no tokio, no clock, no store): [`tlib_map`], [`engine`] (the call model emits gcex's GC event types itself). Driver:
//! [`lookups`], [`injector`], [`recording`], [`config`], [`service`].
//!
//! - [`tlib_map`]: the exact, documented translation of TLib messages into normalized events.
//! - [`lookups`]: VQ / extension / disposition look-ups from what EXCS publishes in the store.
//! - [`injector`]: ordered, de-duplicated delivery of conversation events to GC (pure queue
//!   with a plan/report interface, and the injector that claims, sends, splits and parks).
//! - [`handoff`]: recorded segments handed to EXRP (interaction end), at least once.
//! - [`delivery`]: the delivery task apart from ingestion, and the dead-letter list.
//! - [`pair_check`]: do the two instances of a pair derive the same events for a call?
//! - [`spill`]: undelivered events beyond the memory cap, in a store list, in order.
//! - [`engine`]: TLib messages → call model → queued GC events (no IO).
//! - [`config`], [`service`]: the `excp` service (settings, SIP Server clients, REST on 3650).
//! - [`recording`]: the recording metadata API (MCP posts) and the stored agent segments.
#![forbid(unsafe_code)]

pub mod config;
pub mod delivery;
pub mod engine;
pub mod gir;
pub mod handoff;
pub mod injector;
pub mod lookups;
pub mod pair_check;
pub mod recording;
pub mod service;
pub mod spill;
pub mod tlib_map;
