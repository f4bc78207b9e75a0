//! # engage-tlib: the Genesys T-Library protocol
//!
//! Place in the pipeline:
//!
//! ```text
//! SIP Server(s) ──TCP/TLib──► engage-tlib ──typed events──► EXCP engine ──► callmodel ──► gcex
//! ```
//!
//! This crate owns everything about the T-Library wire protocol spoken by T-Server and SIP
//! Server: the message model (message types, attributes, KV lists), the binary codec, the sans-IO
//! connection state (registration, ADDP keep-alive) and a small tokio client with primary/backup
//! switchover. With the `sim` feature it also provides the server side used by the SIP Server
//! simulator.
//!
//! What it must never do: know anything about Genesys Cloud or the call model, log attribute
//! values that may hold secrets (ApplicationPassword), or panic on bytes received from the
//! network. See `WIRE.md` for the byte layout, which is our documented design where the public
//! material is silent.
#![forbid(unsafe_code)]
