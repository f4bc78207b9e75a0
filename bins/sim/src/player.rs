//! Plays scenario files on the SIP Server simulator as TLib events: call-monitoring events to
//! the call monitors, VQ events to the clients registered on the VQ DN, `EventUserEvent` to the
//! clients registered on the extension. Times are shifted so the first step happens at the
//! given start time (the call model runs on event time).

use crate::tlib_encode::tlib_message;
use engage_callmodel::EngageEvent;
use engage_callmodel::scenario::Scenario;
use engage_excp::tlib_map::TlibMapError;
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

/// Logs agent `login_code` in on `extension` (`EventAgentLogin` to the clients registered on
/// it), as SIP Server reports an agent desktop's log-in.
pub fn login(sim: &SimServer, extension: &str, login_code: &str) -> usize {
    let msg = engage_tlib::Message::builder(engage_tlib::MessageType::EventAgentLogin)
        .this_dn(extension)
        .agent_id(login_code)
        .build();
    sim.send_to_dn(extension, msg)
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

/// Replaces `from` with `to` where `from` stands as a whole token (not inside a longer name or
/// number).
fn replace_token(text: &str, from: &str, to: &str) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '+';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(ident) || after.is_some_and(ident) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// Re-targets a scenario file's text onto a real configuration: the agent extensions of its
/// `lookups.agents` become `extensions` (in file order), its VQs (`lookups.queues`) become
/// `vqs`. Fails when the configuration has fewer of either than the scenario needs.
pub fn retarget(
    path: &std::path::Path,
    text: &str,
    extensions: &[String],
    vqs: &[String],
) -> Result<Scenario, String> {
    let original = Scenario::parse(path, text).map_err(|e| e.to_string())?;
    let mut text = text.to_string();
    let pairs = [
        (
            original.lookups.agents.keys().collect::<Vec<_>>(),
            extensions,
            "agent extensions",
        ),
        (
            original.lookups.queues.keys().collect::<Vec<_>>(),
            vqs,
            "VQs",
        ),
    ];
    for (from, to, what) in pairs {
        if from.len() > to.len() {
            return Err(format!(
                "{} needs {} {what}, the configuration has {}",
                original.name,
                from.len(),
                to.len()
            ));
        }
        // Through placeholders, so a new name that equals an old one is not replaced twice.
        for (i, f) in from.iter().enumerate() {
            text = replace_token(&text, f, &format!("@@{what}{i}@@"));
        }
        for (i, t) in to.iter().take(from.len()).enumerate() {
            text = text.replace(&format!("@@{what}{i}@@"), t);
        }
    }
    Scenario::parse(path, &text).map_err(|e| e.to_string())
}

/// The event with every CallUUID it carries re-numbered for play `round` (the last five
/// characters become `round` in base 36), so a scenario played again is a new call. (Two
/// CallUUIDs of one scenario that differ only in their last five characters would merge; the
/// project's scenarios differ in their first characters.)
pub fn renumbered(ev: &EngageEvent, round: u32) -> EngageEvent {
    fn renumber(uuid: &mut String, round: u32) {
        if uuid.len() < 5 || !uuid.is_ascii() {
            return;
        }
        let mut n = round;
        let mut tail = [b'0'; 5];
        for slot in tail.iter_mut().rev() {
            let d = (n % 36) as u8;
            *slot = if d < 10 { b'0' + d } else { b'A' + d - 10 };
            n /= 36;
        }
        let keep = uuid.len() - 5;
        uuid.truncate(keep);
        uuid.extend(tail.iter().map(|b| char::from(*b)));
    }
    let mut ev = ev.clone();
    match &mut ev {
        EngageEvent::EventUserEvent(e) => {
            if let Some(u) = e.call_uuid.as_mut() {
                renumber(u, round);
            }
        }
        EngageEvent::EventQueued(e) | EngageEvent::EventDiverted(e) => {
            renumber(&mut e.call.call_uuid, round)
        }
        EngageEvent::EventCallCreated(e) => {
            renumber(&mut e.call.call_uuid, round);
            for u in [e.main_call_uuid.as_mut(), e.orig_call_uuid.as_mut()]
                .into_iter()
                .flatten()
            {
                renumber(u, round);
            }
        }
        EngageEvent::EventCallDataChanged(e) => renumber(&mut e.call.call_uuid, round),
        EngageEvent::EventCallDeleted(e) => renumber(&mut e.call.call_uuid, round),
        EngageEvent::EventCallPartyAdded(e) | EngageEvent::EventCallPartyState(e) => {
            renumber(&mut e.call.call_uuid, round)
        }
        EngageEvent::EventCallPartyMoved(e) => {
            renumber(&mut e.call.call_uuid, round);
            renumber(&mut e.from_call_uuid, round);
        }
        EngageEvent::EventCallPartyDeleted(e) => renumber(&mut e.call.call_uuid, round),
        _ => {}
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_only_whole() {
        assert_eq!(
            replace_token(
                "dn: \"7001\", x: \"17001\", vq: VQ_Sales, VQ_Sales_2",
                "7001",
                "1000"
            ),
            "dn: \"1000\", x: \"17001\", vq: VQ_Sales, VQ_Sales_2"
        );
        assert_eq!(
            replace_token("vq: VQ_Sales, VQ_Sales_2", "VQ_Sales", "VQ_Sales_1"),
            "vq: VQ_Sales_1, VQ_Sales_2"
        );
    }

    #[test]
    fn every_project_scenario_retargets_onto_a_configuration() {
        let exts: Vec<String> = (0..6).map(|i| format!("{}", 1000 + i)).collect();
        let vqs: Vec<String> = vec!["VQ_Sales_1".into(), "VQ_Support_1".into(), "VQ_X".into()];
        for (path, s) in Scenario::load_dir(&Scenario::project_dir()).unwrap() {
            let text = std::fs::read_to_string(&path).unwrap();
            let r = retarget(&path, &text, &exts, &vqs).unwrap();
            assert_eq!(r.events().count(), s.events().count(), "{}", path.display());
            for k in r.lookups.agents.keys() {
                assert!(exts.contains(k), "{}: {k}", path.display());
            }
            for k in r.lookups.queues.keys() {
                assert!(vqs.contains(k), "{}: {k}", path.display());
            }
        }
        let path =
            Scenario::project_dir().join("01-inbound-ivr-queue-agent-customer-hangs-up.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            retarget(&path, &text, &[], &vqs)
                .unwrap_err()
                .contains("agent extensions")
        );
    }

    #[test]
    fn renumbering_makes_a_new_call_and_keeps_links() {
        let path = Scenario::project_dir().join("10-consult-complete-transfer-to-agent.yaml");
        let s = Scenario::load(&path).unwrap();
        let a: Vec<EngageEvent> = s.events().map(|e| renumbered(e, 1)).collect();
        let b: Vec<EngageEvent> = s.events().map(|e| renumbered(e, 2)).collect();
        for (x, y) in a.iter().zip(&b) {
            if let (Some(u1), Some(u2)) = (x.call_uuid(), y.call_uuid()) {
                assert_ne!(u1, u2);
                assert_eq!(u1.len(), 32);
            }
        }
        // Distinct calls stay distinct after renumbering the same round.
        let orig: std::collections::BTreeSet<_> =
            s.events().filter_map(|e| e.call_uuid()).collect();
        let renum: std::collections::BTreeSet<_> = a.iter().filter_map(|e| e.call_uuid()).collect();
        assert_eq!(orig.len(), renum.len());
    }
}
