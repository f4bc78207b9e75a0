//! # engage-base: what the protocol and API crates share
//!
//! Place in the workspace:
//!
//! ```text
//!  engage-tlib ─┐                 ┌─ engage-cfgdb
//!               ├─► engage-base ◄─┤
//!  engage-statserver ─┘           └─ gcex
//! ```
//!
//! Its one job: hold the few small things that several crates must agree on, so that no crate
//! has to depend on a sibling for them:
//!
//! - [`Endpoint`], [`ServerRole`] and [`Failover`]: which server of a primary/backup pair to
//!   try next, and how long to wait, as a pure state machine (no clock, no sockets).
//! - [`Backoff`]: exponential backoff, jittered and capped, with the randomness passed in so
//!   it is testable; [`Jitter`] is the default source of that randomness.
//! - [`Secret`]: a string that never prints itself.
//! - [`net`] (feature `tokio`): connecting to an [`Endpoint`] with a time-out, and binding a
//!   listener for the simulators.
//!
//! What it must never do: know any wire format, message or product (T-Library, Stat Server,
//! Config DB, Genesys Cloud), log anything, read the environment or the clock, or pull in an
//! async runtime unless the `tokio` feature asks for it. Every type here is small enough to be
//! read in one sitting; anything protocol-specific belongs in the protocol crate.
#![forbid(unsafe_code)]

mod backoff;
mod endpoint;
#[cfg(feature = "tokio")]
pub mod net;
mod secret;

pub use backoff::{Backoff, Jitter};
pub use endpoint::{Endpoint, Failover, ServerRole};
pub use secret::Secret;
