//! EXCP, the conversation provider: SIP Server TLib events (VQ, extension and call-monitoring
//! clients, HA pairs) → normalized Engage events → the pure call model → GC conversation events.
//!
//! - [`scenario`]: the scenario files (`tests/scenarios/*.yaml`) the SIP Server simulator plays
//!   and the tests check against.
//! - [`gc_map`]: call-model conversation events → gcex's event-injection models.
pub mod gc_map;
pub mod scenario;
