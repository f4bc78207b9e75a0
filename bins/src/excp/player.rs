//! Plays scenario files on the SIP Server simulator as TLib events: call-monitoring events to
//! the call monitors, VQ events to the clients registered on the VQ DN, `EventUserEvent` to the
//! clients registered on the extension. Times are shifted so the first step happens at the
//! given start time (the call model runs on event time).

use super::scenario::Scenario;
use super::tlib_map::{TlibMapError, tlib_message};
use engage_callmodel::EngageEvent;
use engage_tlib::sim::SimServer;

/// What a play did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Played {
    /// TLib events sent.
    pub events: usize,
    /// Deliveries (an event reaches every client registered for it).
    pub deliveries: usize,
    /// Events nobody was registered for.
    pub undelivered: usize,
}

/// The event with its time moved by `shift` ms (saturating).
pub fn shifted(ev: &EngageEvent, shift: i64) -> EngageEvent {
    let mut ev = ev.clone();
    let t = ev.time().saturating_add_signed(shift);
    match &mut ev {
        EngageEvent::EventUserEvent(e) => e.time = t,
        EngageEvent::EventQueued(e) | EngageEvent::EventDiverted(e) => e.call.time = t,
        EngageEvent::EventCallCreated(e) => e.call.time = t,
        EngageEvent::EventCallDataChanged(e) => e.call.time = t,
        EngageEvent::EventCallDeleted(e) => e.call.time = t,
        EngageEvent::EventCallPartyAdded(e) | EngageEvent::EventCallPartyState(e) => {
            e.call.time = t
        }
        EngageEvent::EventCallPartyMoved(e) => e.call.time = t,
        EngageEvent::EventCallPartyDeleted(e) => e.call.time = t,
        _ => {}
    }
    ev
}

/// Sends one event to whoever the SIP Server would send it to.
pub fn send(sim: &SimServer, ev: &EngageEvent) -> Result<usize, TlibMapError> {
    let msg = tlib_message(ev)?;
    Ok(match ev {
        EngageEvent::EventQueued(e) | EngageEvent::EventDiverted(e) => sim.send_to_dn(&e.vq, msg),
        EngageEvent::EventUserEvent(e) => sim.send_to_dn(&e.dn, msg),
        _ => sim.send_to_call_monitors(msg),
    })
}

/// Plays every event of `scenario`, the first at `start_ms` (epoch ms).
pub fn play(sim: &SimServer, scenario: &Scenario, start_ms: u64) -> Result<Played, TlibMapError> {
    let first = scenario.events().map(EngageEvent::time).min().unwrap_or(0);
    let shift = i64::try_from(start_ms).unwrap_or(i64::MAX) - i64::try_from(first).unwrap_or(0);
    let mut out = Played::default();
    for ev in scenario.events() {
        let n = send(sim, &shifted(ev, shift))?;
        out.events += 1;
        out.deliveries += n;
        if n == 0 {
            out.undelivered += 1;
        }
    }
    Ok(out)
}
