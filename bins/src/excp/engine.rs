//! The EXCP engine, without IO: TLib messages in (from any of the service's SIP Server
//! clients), call model in the middle, GC conversation events out (queued in [`Pending`] for
//! the [`super::injector::Injector`]), plus recording segments and closed conversations.
//!
//! Time: the model runs on event time (SIP Server's `TimeStamp`); the service passes the wall
//! clock in through [`Engine::on_time`] so stale calls and wrap-up windows close even when no
//! event arrives.

use super::gc_map::gc_event;
use super::injector::Pending;
use super::tlib_map::engage_event;
use engage_callmodel::output::{ConversationClosed, RecordingSegment};
use engage_callmodel::{CallModel, EngageEvent, Lookups, ModelConfig, Output};
use engage_tlib::Message;
use std::collections::VecDeque;

/// How many recording segments and closed conversations are kept for `/status` and the
/// recording hand-off.
const KEEP_RECENT: usize = 1_000;

/// Counters since start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
    /// Model events that could not be converted (logged, skipped).
    pub unconvertible: u64,
    /// Conversations closed.
    pub conversations_closed: u64,
    /// Of those, in monitoring-suspension mode.
    pub conversations_suspended: u64,
    /// Recording segments produced.
    pub recording_segments: u64,
}

/// The engine.
#[derive(Debug)]
pub struct Engine {
    model: CallModel,
    pending: Pending,
    stats: EngineStats,
    segments: VecDeque<RecordingSegment>,
    closed: VecDeque<ConversationClosed>,
}

impl Engine {
    /// An engine with the call model's settings.
    pub fn new(config: ModelConfig) -> Engine {
        Engine {
            model: CallModel::new(config),
            pending: Pending::default(),
            stats: EngineStats::default(),
            segments: VecDeque::new(),
            closed: VecDeque::new(),
        }
    }

    /// Handles one TLib message: a call event goes through the model; other messages are
    /// ignored; an unreadable call event is counted, logged and skipped (never fatal).
    pub fn on_tlib<L: Lookups + ?Sized>(&mut self, msg: &Message, lookups: &L) {
        self.stats.tlib_messages += 1;
        match engage_event(msg) {
            Ok(Some(ev)) => self.on_event(&ev, lookups),
            Ok(None) => {}
            Err(e) => {
                self.stats.bad_messages += 1;
                tracing::warn!(error = %e, "unreadable SIP Server event skipped");
            }
        }
    }

    /// Handles one normalized event.
    pub fn on_event<L: Lookups + ?Sized>(&mut self, ev: &EngageEvent, lookups: &L) {
        self.stats.engage_events += 1;
        self.model.handle_input(ev, lookups);
        self.drain();
    }

    /// Passes time (epoch ms) in: closes what timed out.
    pub fn on_time(&mut self, now_ms: u64) {
        if self.model.poll_timeout().is_some_and(|t| t <= now_ms) {
            self.model.handle_timeout(now_ms);
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(out) = self.model.poll_output() {
            match out {
                Output::Event(e) => match gc_event(&e) {
                    Ok(g) => {
                        self.stats.gc_events += 1;
                        self.pending.push(g);
                    }
                    Err(err) => {
                        self.stats.unconvertible += 1;
                        tracing::error!(error = %err, "call-model event cannot be sent to GC; skipped");
                    }
                },
                Output::RecordingSegment(s) => {
                    self.stats.recording_segments += 1;
                    if self.segments.len() == KEEP_RECENT {
                        self.segments.pop_front();
                    }
                    self.segments.push_back(s);
                }
                Output::ConversationClosed(c) => {
                    self.stats.conversations_closed += 1;
                    if c.suspended {
                        self.stats.conversations_suspended += 1;
                    }
                    if self.closed.len() == KEEP_RECENT {
                        self.closed.pop_front();
                    }
                    self.closed.push_back(c);
                }
                _ => {}
            }
        }
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

    /// The most recent recording segments (oldest first).
    pub fn recent_segments(&self) -> impl Iterator<Item = &RecordingSegment> {
        self.segments.iter()
    }

    /// The most recently closed conversations (oldest first).
    pub fn recent_closed(&self) -> impl Iterator<Item = &ConversationClosed> {
        self.closed.iter()
    }
}
