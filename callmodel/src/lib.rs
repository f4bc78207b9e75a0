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
//!
//! ```
//! use engage_callmodel::{CallModel, ModelConfig, StaticLookups, EngageEvent, Output};
//!
//! let mut model = CallModel::new(ModelConfig::default());
//! let lookups = StaticLookups::default();
//! let event: EngageEvent = serde_yaml_free_example();
//! model.handle_input(&event, &lookups);
//! while let Some(out) = model.poll_output() {
//!     if let Output::Event(e) = out { let _ = e.event_id(); }
//! }
//! if let Some(deadline) = model.poll_timeout() { model.handle_timeout(deadline); }
//! # fn serde_yaml_free_example() -> EngageEvent {
//! #     use engage_callmodel::input::*;
//! #     EngageEvent::EventCallCreated(CallCreated {
//! #         call: CallRef { time: 1, call_uuid: "C1".into(), ..Default::default() },
//! #         call_type: CallType::Inbound,
//! #         ..Default::default()
//! #     })
//! # }
//! ```
//!
//! See `SCENARIOS.md` for the supported flows and the scenario file format.
#![forbid(unsafe_code)]

mod config;
pub mod fuzzing;
mod ids;
pub mod input;
mod lookup;
mod model;
pub mod output;

pub use config::ModelConfig;
pub use ids::{NAMESPACE, conversation_id};
pub use input::EngageEvent;
pub use lookup::{Lookups, StaticLookups};
pub use model::CallModel;
pub use output::{ConversationEvent, Output};
