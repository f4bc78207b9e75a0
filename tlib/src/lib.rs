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
//!
//! ## Layout of the crate
//!
//! - [`MessageType`], [`AttributeId`]: every public message and attribute number; unknown
//!   numbers are preserved ([`MessageType::Unknown`], [`AttributeId::Unknown`]).
//! - [`Message`] / [`MessageBuilder`]: the typed model with accessors (`conn_id()`,
//!   `call_uuid()`, `this_dn()`, `user_data()`, …) and matching builder methods.
//! - [`KvList`] (owned) and [`KvListRef`] (borrowed): UserData, Extensions, Reasons.
//! - [`ConnId`], [`CallUuid`], [`CallType`], [`AgentWorkMode`], [`RegisterMode`],
//!   [`AddressType`], [`PartyState`], [`InputMask`]: typed values.
//! - [`wire`]: the only module that knows the byte layout ([`decode`], [`decode_bytes`],
//!   [`encode`], [`wire::pack_kv_list`], [`wire::unpack_kv_list`]). Swap it to change the
//!   layout; nothing else changes.
//! - [`TlibCodec`]: the `tokio_util::codec` framing adapter.
//! - [`connection`]: the sans-IO client state (RegisterClient / RegisterAddress with
//!   ReferenceID correlation, request time-outs, ADDP timer with time as an input); our design
//!   where the public material is silent.
//! - [`client`]: the tokio driver around [`connection`] ([`client::TlibClient`]): primary /
//!   backup switchover, re-registration of every DN and call monitoring on the new link,
//!   backoff with jitter, ADDP, one bounded channel of [`client::ClientEvent`]s.
//! - `sim` (feature `sim`): a SIP Server simulator over TCP for tests.
//!
//! ## Features
//!
//! - `client` (default): the tokio side, [`client`] and the `tokio_util::codec` impls of
//!   [`TlibCodec`]. Without it (`default-features = false`) the crate is sans-IO: the message
//!   model, [`wire`], [`TlibCodec::decode_from`] / [`TlibCodec::encode_into`] and [`connection`]
//!   build with no async runtime.
//! - `sim`: the SIP Server simulator (implies `client`).
//!
//! `examples/call_monitor.rs` shows an integrator's monitor: register DNs, print call events;
//! run with no arguments it plays a call against the simulator.
//! - [`fuzzing`]: entry points shared by the fuzz targets and the corpus replay test.
//!
//! ## Example
//!
//! ```
//! use bytes::BytesMut;
//! use engage_tlib::{ConnId, KvList, Message, MessageType, decode, encode};
//!
//! let user_data = KvList::new().with("CustomerId", "4711").with("Priority", 3);
//! let event = Message::builder(MessageType::EventRinging)
//!     .conn_id("0077028a809f7004".parse::<ConnId>()?)
//!     .this_dn("1001")
//!     .user_data(&user_data)
//!     .build();
//! let mut buf = BytesMut::new();
//! encode(&event, &mut buf)?;
//! let back = decode(&buf)?;
//! assert_eq!(back, event);
//! assert_eq!(back.conn_id().map(|c| c.to_string()).as_deref(), Some("0077028a809f7004"));
//! assert_eq!(back.user_data().and_then(|u| u.get_str("CustomerId")), Some("4711"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod attribute;
#[cfg(feature = "client")]
pub mod client;
mod codec;
pub mod connection;
pub mod fuzzing;
mod kvlist;
mod message;
mod message_type;
#[cfg(feature = "sim")]
pub mod sim;
mod values;
pub mod wire;

pub use attribute::{AttrKind, AttributeId, REASONS_NUMBER};
pub use codec::{CodecError, TlibCodec};
pub use kvlist::{KvList, KvListRef, KvPair, KvValue, KvValueRef, UnicodeStr};
pub use message::{AttrInput, BuildError, Message, MessageBuilder, Value};
pub use message_type::MessageType;
pub use values::{
    AddressType, AgentWorkMode, CALL_UUID_LEN, CallType, CallUuid, ConnId, INPUT_MASK_LEN,
    IdParseError, InputMask, PartyState, PartyStateKind, RegisterMode,
};
pub use wire::{DecodeError, DecodeReason, EncodeError, WireConfig, decode, decode_bytes, encode};
