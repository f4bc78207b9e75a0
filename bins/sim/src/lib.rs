//! # engage-sim: stand-ins for Genesys' own servers, and the demo
//!
//! Genesys' servers cannot be had in a test or on a developer's machine, so the project carries
//! faithful stand-ins and tests them like product code. This crate composes them:
//!
//! - scenario files (`tests/scenarios/*.yaml`, `engage_callmodel::scenario`), one call flow each, with the
//!   GC events it must produce;
//! - [`tlib_encode`]: normalized Engage events → the TLib messages a SIP Server sends (the
//!   encode half of EXCP's mapping; the decode half is `engage_excp::tlib_map`);
//! - [`player`]: plays scenario files on the SIP Server simulator (`engage_tlib::sim`),
//!   re-targeted onto a site's extensions and VQs;
//! - [`gir`]: a stand-in for GIR's Interaction Recording Web Services (recording metadata);
//! - [`demo`]: the whole connector on embedded defaults (`exec demo`), with
//!   [`demo_recordings`] (EXCP → EXRP → a real WebDAV server → GC, when one is reachable);
//! - binaries: `engage-sim` (Stat Server and SIP Server simulators, Config DB seeding) and
//!   `gcex-emulator` (a GC EX org emulator).
//!
//! It is the only crate that enables `engage-tlib/sim`, `engage-statserver/sim` and
//! `gcex/emulator`. What it must never do: be a dependency of a production binary (`excs`,
//! `exas`, `excp`; checked by `scripts/test.sh` with `cargo tree`), or connect to anything but
//! the loopback servers and files it is pointed at.
#![forbid(unsafe_code)]

pub mod demo;
pub mod demo_recordings;
pub mod gir;
pub mod player;
pub mod tlib_encode;
