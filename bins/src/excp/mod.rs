//! EXCP, the conversation provider: SIP Server TLib events (VQ, extension and call-monitoring
//! clients, HA pairs) → normalized Engage events → the pure call model → GC conversation events
//! (gcex's injection models, emitted by the model itself).
//!
//! - [`scenario`]: the scenario files (`tests/scenarios/*.yaml`) the SIP Server simulator plays
//!   and the tests check against.
//! - [`tlib_map`]: the exact, documented translation between TLib messages and normalized events.
//! - [`lookups`]: VQ / extension / disposition look-ups from what EXCS publishes in the store.
//! - [`injector`]: ordered, de-duplicated delivery of conversation events to GC.
//! - [`engine`]: TLib messages → call model → queued GC events (no IO).
//! - [`config`], [`service`]: the `excp` service (settings, SIP Server clients, REST on 3650).
//! - [`recording`]: the recording metadata API (MCP posts) and the stored agent segments.
//! - [`player`]: plays scenario files on the SIP Server simulator.
pub mod config;
pub mod engine;
pub mod injector;
pub mod lookups;
pub mod player;
pub mod recording;
pub mod scenario;
pub mod service;
pub mod tlib_map;
