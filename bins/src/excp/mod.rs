//! EXCP, the conversation provider: SIP Server TLib events (VQ, extension and call-monitoring
//! clients, HA pairs) → normalized Engage events → the pure call model → GC conversation events.
//!
//! - [`scenario`]: the scenario files (`tests/scenarios/*.yaml`) the SIP Server simulator plays
//!   and the tests check against.
//! - [`tlib_map`]: the exact, documented translation between TLib messages and normalized events.
pub mod scenario;
pub mod tlib_map;
