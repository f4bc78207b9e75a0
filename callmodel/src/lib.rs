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
//! Its one job: turn Engage call events into the GC conversation events (and recording
//! metadata) that describe the same calls. It emits gcex's event-injection models
//! ([`gcex::events::ConversationEvent`], the workspace's one definition of a GC conversation
//! event), ready to post: ids as UUID strings, `eventDateTime` formatted from event time.
//!
//! What it must never do: perform IO, read a clock, use randomness, or depend on an HTTP stack
//! or TLib: time comes from the events, and gcex is used without its `client` feature (models
//! only; `scripts/test.sh` checks that `cargo tree -e normal -p engage-callmodel` shows no
//! reqwest, tokio or hyper). The optional `scenario` feature adds the scenario-file loader
//! (`engage_callmodel::scenario`, reads files only when asked), for tests and the connector's
//! simulator. `tests/gc_wire_json.rs` pins the exact JSON GC gets for every scenario file.
//!
//! The driving loop (str0m / quinn-proto style): feed an event, drain the outputs, and pass time
//! in when [`CallModel::poll_timeout`] says so.
//!
//! ```
//! use engage_callmodel::input::{CallCreated, CallRef, CallType, DnType, Party, PartyRole, PartyState};
//! use engage_callmodel::{CallModel, EngageEvent, ModelConfig, Output, StaticLookups};
//!
//! let mut model = CallModel::new(ModelConfig::default());
//! let lookups = StaticLookups::default(); // or the connector's maps, via the `Lookups` trait
//! let created = EngageEvent::EventCallCreated(CallCreated {
//!     call: CallRef { time: 1_000, call_uuid: "QK59HK4FS927D7FUU41G6IE468000004".into(), ..Default::default() },
//!     call_type: CallType::Inbound,
//!     parties: vec![Party {
//!         party_id: "p1".into(),
//!         dn: "+15551230001".into(),
//!         dn_type: DnType::Trunk,
//!         role: PartyRole::Origination,
//!         state: PartyState::Connected,
//!     }],
//!     ..Default::default()
//! });
//! model.handle_input(&created, &lookups);
//! let mut events = Vec::new();
//! while let Some(out) = model.poll_output() {
//!     if let Output::Event(e) = out {
//!         events.push(e); // a gcex event: goes as is into a BatchConversationEventRequest
//!     }
//! }
//! assert!(events[0].is_established());
//! // Time comes from events: a stale call closes when the driver says time has passed.
//! if let Some(deadline) = model.poll_timeout() {
//!     model.handle_timeout(deadline);
//! }
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
#[cfg(feature = "scenario")]
pub mod scenario;
mod small;

pub use config::ModelConfig;
pub use ids::{NAMESPACE, conversation_id};
pub use input::EngageEvent;
pub use lookup::{Lookups, StaticLookups};
pub use model::CallModel;
pub use output::{ConversationEvent, Output};
