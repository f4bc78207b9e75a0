//! The EXCP engine, without IO: TLib messages in (from any of the service's SIP Server
//! clients), call model in the middle, GC conversation events out (queued in [`Pending`] for
//! the [`super::injector::Injector`]), plus recording segments for the service to store, and counts.
//!
//! Time: the model runs on event time (SIP Server's `TimeStamp`); the service passes the wall
//! clock in through [`Engine::on_time`] so stale calls and wrap-up windows close even when no
//! event arrives.
//!
//! Re-ordering (our design): VQ, extension and call-monitoring events arrive on separate
//! connections (possibly from separate SIP Servers), so their relative order on arrival is not
//! the order they happened in. Each call event waits in a small buffer for `reorder_ms` of wall
//! time after it arrived and is released in event-time order (arrival order among equal
//! times), so an `EventQueued` that overtook the `EventCallCreated` of its call still reaches
//! the model second.

use super::injector::Pending;
use super::lookups::{AgentAt, ExcpLookups};
use super::tlib_map::engage_event;
use engage_callmodel::output::RecordingSegment;
use engage_callmodel::{CallModel, EngageEvent, ModelConfig, Output};
use engage_tlib::{Message, MessageType};
use std::collections::BTreeMap;

/// Counters since start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EngineStats {
    /// TLib messages received.
    pub tlib_messages: u64,
    /// Of those, call events handed to the model.
    pub engage_events: u64,
    /// TLib messages of a used type that could not be read (logged, skipped).
    pub bad_messages: u64,
    /// GC events produced.
    pub gc_events: u64,
    /// Conversations closed.
    pub conversations_closed: u64,
    /// Of those, in monitoring-suspension mode.
    pub conversations_suspended: u64,
    /// Recording segments produced.
    pub recording_segments: u64,
}

/// What survives a restart: the call model, the undelivered GC events, the recording
/// segments not yet stored, who is logged in where, and the events still in the re-ordering
/// window (serialized as JSON by [`Engine::checkpoint`]).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    /// The format version ([`CHECKPOINT_VERSION`]; absent in the first format, read as 0).
    #[serde(default)]
    version: u32,
    model: CallModel,
    /// `(array name, event JSON)` in delivery order per conversation.
    pending: Vec<(String, serde_json::Value)>,
    unsaved: Vec<RecordingSegment>,
    logged_in: BTreeMap<String, String>,
    held: Vec<(u64, EngageEvent, u64)>,
    stats: EngineStats,
    /// Whether new GC events go to the spill (format 2; absent before: not spilling).
    #[serde(default)]
    spilling: bool,
    /// `(array name, event JSON)`: events bound for the store's spill list, not written yet
    /// (format 2).
    #[serde(default)]
    to_spill: Vec<(String, serde_json::Value)>,
    /// The running digest of each live conversation's event ids (absent before: empty; an
    /// older version ignores it, and only the pair check of the calls in progress is lost).
    #[serde(default)]
    digests: BTreeMap<String, Digest>,
}

/// The digest of the GC event ids a conversation produced, in order: how many, and their
/// FNV-1a 64 hash (stable across versions and platforms). The two instances of a pair fed the
/// same events produce the same digest; one that missed an event derives other ids for what
/// follows (ids count positions) and so another digest (issue 12 §7, detection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Digest {
    /// GC events produced for the conversation.
    pub events: u64,
    /// FNV-1a 64 over the event ids, each followed by a 0 byte.
    pub hash: u64,
}

impl Digest {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn add(&mut self, event_id: &str) {
        if self.events == 0 {
            self.hash = Digest::OFFSET;
        }
        for b in event_id.bytes().chain(std::iter::once(0)) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(Digest::PRIME);
        }
        self.events += 1;
    }

    /// `{events}:{hash as 16 hex digits}`: what the pair compares.
    pub fn to_text(&self) -> String {
        format!("{}:{:016x}", self.events, self.hash)
    }
}

/// A closed conversation's digest, for the pair check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDigest {
    /// The conversation id.
    pub conversation_id: String,
    /// Its digest.
    pub digest: Digest,
}

/// The newest checkpoint format this version writes and reads. A checkpoint of a newer
/// format is refused (never guessed at) and kept aside by the service.
///
/// Format 2 adds the spill state; a checkpoint without spill state is still written as
/// format 1, so that a roll-back to a version that only reads format 1 keeps its live calls.
pub const CHECKPOINT_VERSION: u32 = 2;

/// The format of a checkpoint without spill state.
const PLAIN_CHECKPOINT_VERSION: u32 = 1;

/// A checkpoint could not be read back. The service starts without it (and says so); an
/// operator can delete the key (`excp:checkpoint:{instance}`) to silence the warning.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint is not the JSON this version writes (e.g. written by another version).
    #[error("EXCP checkpoint unreadable ({0}); delete it from the store to start without it")]
    Json(#[from] serde_json::Error),
    /// A pending GC event in it does not decode.
    #[error(
        "EXCP checkpoint holds an undecodable {array} event ({message}); delete it from the \
         store to start without it"
    )]
    Event {
        /// The GC event array (`communicationAnsweredEvents`, …).
        array: String,
        /// Why it does not decode.
        message: String,
    },
    /// The checkpoint was written by a newer version of EXCP (a roll-back after an upgrade).
    #[error(
        "EXCP checkpoint format {found} is newer than this version reads ({supported}); it is kept \
         aside, and this instance starts without it"
    )]
    NewerVersion {
        /// The format found.
        found: u32,
        /// The newest format this version reads.
        supported: u32,
    },
    /// A pending GC event of an array this version does not know.
    #[error(
        "EXCP checkpoint holds an event of unknown array {0}; delete it from the store to start \
         without it"
    )]
    UnknownArray(String),
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    model: CallModel,
    pending: Pending,
    stats: EngineStats,
    unsaved: Vec<RecordingSegment>,
    logged_in: BTreeMap<String, String>,
    reorder_ms: u64,
    seq: u64,
    held: BTreeMap<(u64, u64), (EngageEvent, u64)>,
    spilling: bool,
    to_spill: Vec<gcex::events::ConversationEvent>,
    digests: BTreeMap<String, Digest>,
    closed_digests: Vec<ClosedDigest>,
}

impl Engine {
    /// An engine with the call model's settings and a 150 ms re-ordering window.
    pub fn new(config: ModelConfig) -> Engine {
        Engine::with_reorder(config, 150)
    }

    /// An engine whose call events wait `reorder_ms` of wall time to be put in event-time
    /// order (0: handled on arrival).
    pub fn with_reorder(config: ModelConfig, reorder_ms: u64) -> Engine {
        Engine {
            model: CallModel::new(config),
            pending: Pending::default(),
            stats: EngineStats::default(),
            unsaved: Vec::new(),
            logged_in: BTreeMap::new(),
            reorder_ms,
            seq: 0,
            held: BTreeMap::new(),
            spilling: false,
            to_spill: Vec::new(),
            digests: BTreeMap::new(),
            closed_digests: Vec::new(),
        }
    }

    /// Handles one TLib message that arrived at `arrival_ms` (wall clock, epoch ms): agent
    /// log-ins and log-outs on extensions update who sits where; a call event is held for
    /// re-ordering (released by [`Engine::on_time`], or at once when the window is 0); other
    /// messages are ignored; an unreadable call event is counted, logged and skipped (never
    /// fatal).
    pub fn on_tlib(&mut self, msg: &Message, lookups: &ExcpLookups, arrival_ms: u64) {
        self.stats.tlib_messages += 1;
        match msg.msg_type() {
            MessageType::EventAgentLogin
            | MessageType::EventAgentReady
            | MessageType::EventAgentNotReady => {
                if let (Some(dn), Some(agent)) = (msg.this_dn(), msg.agent_id()) {
                    self.logged_in.insert(dn.to_string(), agent.to_string());
                }
                return;
            }
            MessageType::EventAgentLogout => {
                if let Some(dn) = msg.this_dn() {
                    self.logged_in.remove(dn);
                }
                return;
            }
            _ => {}
        }
        match engage_event(msg) {
            Ok(Some(ev)) if self.reorder_ms == 0 => self.on_event(&ev, lookups),
            Ok(Some(ev)) => {
                self.seq += 1;
                self.held.insert((ev.time(), self.seq), (ev, arrival_ms));
            }
            Ok(None) => {}
            Err(e) => {
                self.stats.bad_messages += 1;
                tracing::warn!(error = %e, "unreadable SIP Server event skipped");
            }
        }
    }

    /// Handles one normalized event at once (no re-ordering).
    pub fn on_event(&mut self, ev: &EngageEvent, lookups: &ExcpLookups) {
        self.stats.engage_events += 1;
        let at = AgentAt {
            base: lookups,
            logged_in: &self.logged_in,
        };
        self.model.handle_input(ev, &at);
        self.drain();
    }

    /// Releases, in event-time order, the held events that have waited their window by
    /// `now_ms` (wall clock); the earliest event not yet due holds back the later ones.
    pub fn release(&mut self, now_ms: u64, lookups: &ExcpLookups) {
        while let Some(entry) = self.held.first_entry() {
            if entry.get().1.saturating_add(self.reorder_ms) > now_ms {
                break;
            }
            let (ev, _) = entry.remove();
            self.on_event(&ev, lookups);
        }
    }

    /// Call events waiting in the re-ordering window.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// The engine's state as JSON bytes, to resume after a restart with [`Engine::restore`].
    pub fn checkpoint(&self) -> Vec<u8> {
        let spill_state = self.spilling || !self.to_spill.is_empty();
        let cp = Checkpoint {
            version: if spill_state {
                CHECKPOINT_VERSION
            } else {
                PLAIN_CHECKPOINT_VERSION
            },
            model: self.model.clone(),
            pending: self
                .pending
                .iter()
                .map(|e| (e.array_name().to_string(), e.to_json()))
                .collect(),
            unsaved: self.unsaved.clone(),
            logged_in: self.logged_in.clone(),
            held: self
                .held
                .iter()
                .map(|((_, seq), (ev, arrival))| (*seq, ev.clone(), *arrival))
                .collect(),
            stats: self.stats,
            spilling: self.spilling,
            to_spill: self
                .to_spill
                .iter()
                .map(|e| (e.array_name().to_string(), e.to_json()))
                .collect(),
            digests: self.digests.clone(),
        };
        // Plain data always serializes; an empty checkpoint would only be refused on restore.
        serde_json::to_vec(&cp).unwrap_or_default()
    }

    /// An engine resumed from [`Engine::checkpoint`] bytes (the model keeps the settings it
    /// was checkpointed with).
    pub fn restore(bytes: &[u8], reorder_ms: u64) -> Result<Engine, CheckpointError> {
        let cp: Checkpoint = serde_json::from_slice(bytes)?;
        if cp.version > CHECKPOINT_VERSION {
            return Err(CheckpointError::NewerVersion {
                found: cp.version,
                supported: CHECKPOINT_VERSION,
            });
        }
        let mut pending = Pending::default();
        for (array, json) in cp.pending {
            pending.push(decode_event(array, json)?);
        }
        let to_spill = cp
            .to_spill
            .into_iter()
            .map(|(array, json)| decode_event(array, json))
            .collect::<Result<Vec<_>, _>>()?;
        let mut held = BTreeMap::new();
        let mut seq = 0;
        for (s, ev, arrival) in cp.held {
            seq = seq.max(s);
            held.insert((ev.time(), s), (ev, arrival));
        }
        Ok(Engine {
            model: cp.model,
            pending,
            stats: cp.stats,
            unsaved: cp.unsaved,
            logged_in: cp.logged_in,
            reorder_ms,
            seq,
            held,
            spilling: cp.spilling || !to_spill.is_empty(),
            to_spill,
            digests: cp.digests,
            closed_digests: Vec::new(),
        })
    }

    /// Agents logged in, by extension (login codes).
    pub fn logged_in(&self) -> &BTreeMap<String, String> {
        &self.logged_in
    }

    /// Passes the wall clock (epoch ms) in: releases held events that are due, then closes
    /// what timed out.
    pub fn on_time(&mut self, now_ms: u64, lookups: &ExcpLookups) {
        self.release(now_ms, lookups);
        if self.model.poll_timeout().is_some_and(|t| t <= now_ms) {
            self.model.handle_timeout(now_ms);
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.model.poll_output() {
            match out {
                Output::Event(e) => {
                    self.stats.gc_events += 1;
                    self.digests
                        .entry(e.conversation_id().to_string())
                        .or_default()
                        .add(e.event_id());
                    if self.spilling {
                        self.to_spill.push(e);
                    } else {
                        self.pending.push(e);
                    }
                }
                Output::RecordingSegment(s) => {
                    self.stats.recording_segments += 1;
                    self.unsaved.push(s);
                }
                Output::ConversationClosed(c) => {
                    let id = c.conversation_id.to_string();
                    if let Some(digest) = self.digests.remove(&id) {
                        self.closed_digests.push(ClosedDigest {
                            conversation_id: id,
                            digest,
                        });
                    }
                    self.stats.conversations_closed += 1;
                    if c.suspended {
                        self.stats.conversations_suspended += 1;
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether new GC events go to the spill instead of [`Engine::pending`] (see
    /// [`Engine::start_spilling`]).
    pub fn spilling(&self) -> bool {
        self.spilling
    }

    /// From now on, new GC events are set aside for the store's spill list (taken with
    /// [`Engine::take_to_spill`]) instead of joining [`Engine::pending`]: memory (and the
    /// checkpoint) stop growing while GC is unreachable. Every pending event is older than
    /// every spilled one, so reloading the spill in order behind them keeps each
    /// conversation's order.
    pub fn start_spilling(&mut self) {
        self.spilling = true;
    }

    /// The events bound for the spill, oldest first, taken out of the engine. Give back what
    /// could not be written with [`Engine::spill_not_written`].
    pub fn take_to_spill(&mut self) -> Vec<gcex::events::ConversationEvent> {
        std::mem::take(&mut self.to_spill)
    }

    /// Puts back the unwritten tail of [`Engine::take_to_spill`] (they stay in memory and in
    /// the checkpoint until the store takes them), ahead of what was produced since.
    pub fn spill_not_written(&mut self, mut unwritten: Vec<gcex::events::ConversationEvent>) {
        unwritten.append(&mut self.to_spill);
        self.to_spill = unwritten;
    }

    /// Events set aside for the spill and not yet written to the store.
    pub fn spill_buffered(&self) -> usize {
        self.to_spill.len()
    }

    /// Puts events read back from the head of the store's spill list behind the pending ones.
    pub fn unspill(&mut self, events: Vec<gcex::events::ConversationEvent>) {
        for e in events {
            self.pending.push(e);
        }
    }

    /// The store's spill list is empty: the events still buffered for it are the next in
    /// order, so they join [`Engine::pending`] and spilling ends.
    pub fn spill_drained(&mut self) {
        let buffered = std::mem::take(&mut self.to_spill);
        self.unspill(buffered);
        self.spilling = false;
    }

    /// The digests of the conversations closed since the last call, for the pair check
    /// (taken out of the engine; a restart in between loses only these checks).
    pub fn take_closed_digests(&mut self) -> Vec<ClosedDigest> {
        std::mem::take(&mut self.closed_digests)
    }

    /// The GC events waiting for delivery.
    pub fn pending(&mut self) -> &mut Pending {
        &mut self.pending
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Live conversations in the model.
    pub fn live_conversations(&self) -> usize {
        self.model.live_conversations()
    }

    /// The recording segments not stored yet, oldest first (they stay in the checkpoint until
    /// [`Engine::segments_stored`] says they are in the store).
    pub fn unsaved_segments(&self) -> &[RecordingSegment] {
        &self.unsaved
    }

    /// The first `n` of [`Engine::unsaved_segments`] are in the store.
    pub fn segments_stored(&mut self, n: usize) {
        let n = n.min(self.unsaved.len());
        self.unsaved.drain(..n);
    }

    /// The recording segments produced since the last call, taken out of the engine (and so
    /// out of its checkpoint); prefer [`Engine::unsaved_segments`] + [`Engine::segments_stored`].
    pub fn take_new_segments(&mut self) -> Vec<RecordingSegment> {
        std::mem::take(&mut self.unsaved)
    }
}

fn decode_event(
    array: String,
    json: serde_json::Value,
) -> Result<gcex::events::ConversationEvent, CheckpointError> {
    match gcex::events::ConversationEvent::from_json(&array, json) {
        Some(Ok(e)) => Ok(e),
        Some(Err(e)) => Err(CheckpointError::Event {
            array,
            message: e.to_string(),
        }),
        None => Err(CheckpointError::UnknownArray(array)),
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;

    fn with_version(bytes: &[u8], version: Option<u32>) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        match version {
            Some(n) => v["version"] = n.into(),
            None => {
                v.as_object_mut().unwrap().remove("version");
            }
        }
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_checkpoint_carries_its_version_and_a_newer_one_is_refused() {
        let bytes = Engine::new(ModelConfig::default()).checkpoint();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        // Without spill state: the plain format, readable by versions before the spill.
        assert_eq!(v["version"], PLAIN_CHECKPOINT_VERSION);
        assert!(Engine::restore(&bytes, 0).is_ok());
        // The first format had no version: still read.
        assert!(Engine::restore(&with_version(&bytes, None), 0).is_ok());
        let newer = with_version(&bytes, Some(CHECKPOINT_VERSION + 1));
        match Engine::restore(&newer, 0) {
            Err(CheckpointError::NewerVersion { found, supported }) => {
                assert_eq!(
                    (found, supported),
                    (CHECKPOINT_VERSION + 1, CHECKPOINT_VERSION)
                );
            }
            other => panic!("expected NewerVersion, got {other:?}"),
        }
        assert!(matches!(
            Engine::restore(b"not json", 0),
            Err(CheckpointError::Json(_))
        ));
    }
}
