//! # engage-callmodel: Engage calls in, GC EX conversations out
//!
//! Place in the pipeline:
//!
//! ```text
//! TLib events ──(EXCP engine normalizes)──► engage-callmodel ──conversation events──► gcex
//!                                                     └──recording segment metadata──► EXRP
//! ```
//!
//! A pure, deterministic state machine: normalized Engage call events (VQ, extension and
//! call-monitoring events) go in; ordered Genesys Cloud conversation events with derived,
//! reproducible ids, and recording-segment metadata, come out. Unsupported call flows put a
//! conversation into monitoring-suspension mode, as the deployment guide describes.
//!
//! What it must never do: perform IO, read a clock, use randomness, or depend on a wire format
//! (neither TLib nor the GC JSON): time comes from the events, and `bins` converts the output.
#![forbid(unsafe_code)]
