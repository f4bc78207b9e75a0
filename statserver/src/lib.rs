//! # engage-statserver: the Genesys Stat Server protocol
//!
//! Place in the pipeline:
//!
//! ```text
//! Stat Server (primary/backup) ──TCP──► engage-statserver ──agent states──► EXAS engine ──► gcex
//! ```
//!
//! This crate owns the Stat Server client protocol: the codec, opening and closing statistics
//! (CurrentState / CurrentStateReason per agent), the AgentStatus value with its DN actions and
//! their priority, and a client that fails over between primary and backup and reopens every
//! statistic. With the `sim` feature it provides the server side for the Stat Server simulator.
//!
//! What it must never do: know about Genesys Cloud, decide presence mapping (that is EXAS's
//! job), or panic on bytes received from the network.
//!
//! Layers, bottom up:
//! - [`wire`]: the byte format (our design, documented in `WIRE.md`), the only module that
//!   knows bytes; [`codec::StatCodec`] adapts it to `tokio_util::codec`.
//! - [`message`], [`agent`], [`kvlist`]: the protocol's model; [`agent::AgentState::summarize`]
//!   normalizes an agent status for EXAS.
//! - [`session::Session`]: sans-IO client state (open statistics, reopen-all after failover).
//! - [`client`]: the thin tokio driver (primary/backup, backoff, pipelining).
//! - `sim` (feature `sim`): the simulated Stat Server.
//!
//! ## Using it (EXAS)
//!
//! 1. [`client::StatClient::start`] with a [`client::ClientConfig`] built from
//!    `EXAS_STAT_SERVER_PRIMARY_HOST/PORT` and `..._BACKUP_...`; keep the event receiver.
//! 2. Per agent in scope, open two statistics with [`StatSpec::agent_current_state`]: subject
//!    [`StatSubject::DnStatus`] (CurrentState) and [`StatSubject::DnAction`]
//!    (CurrentStateReason); [`client::StatClient::open_many`] pipelines thousands at once and
//!    returns the reference ids. Close agents leaving the scope with
//!    [`client::StatClient::close`]. The client reopens everything after failover/reconnect.
//! 3. Read [`client::ClientEvent`]s: `Value { reference_id, object_id, server_time, value }`
//!    carries a [`StatValue::AgentStatus`]; [`AgentState::summarize`] turns it into logged
//!    in/out, ready / not ready (+ reason) / after-call work, and the call type. `LinkUp`,
//!    `LinkDown`, `Switchover` and [`client::StatClient::link`] feed health and metrics.
//!
//! `examples/agent_watch.rs` does exactly this and prints each agent's state; run with no
//! arguments it watches agents on the simulator.
//!
//! ## Features
//!
//! - `client` (default): the tokio side, [`client`] and the `tokio_util::codec` impls of
//!   [`codec::StatCodec`]. Without it (`default-features = false`) the crate is sans-IO: the
//!   model, [`wire`], [`codec::StatCodec::decode_from`] and [`session`] build with no async
//!   runtime.
//! - `sim`: the Stat Server simulator (implies `client`).
#![forbid(unsafe_code)]

pub mod agent;
#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod kvlist;
pub mod message;
pub mod session;
#[cfg(feature = "sim")]
pub mod sim;
pub mod wire;

pub use agent::{
    ActionMask, ActionRecord, AgentState, AgentStatus, CallKind, DnAction, DnStatus, Login,
    PlaceStatus, Readiness,
};
pub use error::{DecodeError, DecodeReason, EncodeError};
pub use kvlist::{KvList, KvValue};
pub use message::{
    ErrorCode, Event, Message, Notification, ObjectType, ReferenceId, Request, ServerMode,
    StatCategory, StatDefinition, StatMetricEx, StatObject, StatSpec, StatSubject, StatValue,
    TimeInterval,
};
