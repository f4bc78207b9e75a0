//! EXCP's pure engine fed TLib messages the simulator encodes: re-ordering, log-ins,
//! checkpoints.
#![allow(missing_docs)]
use engage_callmodel::EngageEvent;
use engage_callmodel::scenario::Scenario;
use engage_excp::engine::*;
use engage_excp::lookups::ExcpLookups;
use engage_sim::tlib_encode::tlib_message;
use engage_tlib::{Message, MessageType};

fn setup() -> (Scenario, ExcpLookups, Vec<Message>) {
    let path = Scenario::project_dir().join("10-consult-complete-transfer-to-agent.yaml");
    let s = Scenario::load(&path).unwrap();
    let lookups = ExcpLookups {
        maps: s.lookups.clone(),
        ..ExcpLookups::default()
    };
    let msgs = s.events().map(|e| tlib_message(e).unwrap()).collect();
    (s, lookups, msgs)
}

fn ids(e: &mut Engine) -> Vec<String> {
    e.pending()
        .iter()
        .map(|g| g.event_id().to_string())
        .collect()
}

#[test]
fn events_overtaken_on_other_connections_are_put_back_in_order() {
    let (s, lookups, msgs) = setup();
    let mut in_order = Engine::with_reorder(s.model_config(), 0);
    for m in &msgs {
        in_order.on_tlib(m, &lookups, 0);
    }
    let want = ids(&mut in_order);
    assert!(!want.is_empty());

    let mut shuffled = Engine::with_reorder(s.model_config(), 100);
    for m in msgs.iter().rev() {
        shuffled.on_tlib(m, &lookups, 1_000);
    }
    shuffled.on_time(1_099, &lookups);
    assert_eq!(
        shuffled.held(),
        msgs.len(),
        "nothing is due before the window"
    );
    assert!(shuffled.pending().is_empty());
    shuffled.on_time(1_100, &lookups);
    assert_eq!(shuffled.held(), 0);
    assert_eq!(ids(&mut shuffled), want);
    assert_eq!(shuffled.stats().engage_events, msgs.len() as u64);
}

#[test]
fn without_reordering_arrival_order_is_kept_and_bad_input_is_counted() {
    let (s, lookups, msgs) = setup();
    let mut e = Engine::with_reorder(s.model_config(), 0);
    // An unreadable call event (no CallUUID) and an unrelated message.
    e.on_tlib(
        &Message::builder(MessageType::EventCallCreated).build(),
        &lookups,
        0,
    );
    e.on_tlib(
        &Message::builder(MessageType::EventRinging)
            .this_dn("7001")
            .build(),
        &lookups,
        0,
    );
    assert_eq!(e.stats().bad_messages, 1);
    assert_eq!(e.stats().engage_events, 0);
    for m in &msgs {
        e.on_tlib(m, &lookups, 0);
    }
    assert!(e.stats().gc_events > 0);
    assert_eq!(e.stats().conversations_closed, 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Whatever call flow arrives (the call-model fuzzer's generator: transfers,
    /// conferences, out-of-order and duplicated events), every GC event the model produces
    /// converts, nothing panics, and a checkpoint taken anywhere resumes identically.
    #[test]
    fn arbitrary_call_flows_convert_and_checkpoint(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        cut in 0usize..64,
    ) {
        let fl = engage_callmodel::fuzzing::lookups();
        let lookups = ExcpLookups {
            maps: fl.clone(),
            ..ExcpLookups::default()
        };
        let config = engage_callmodel::fuzzing::config();
        let events = engage_callmodel::fuzzing::decode_events(&data);
        let mut whole = Engine::with_reorder(config.clone(), 0);
        let mut first = Engine::with_reorder(config, 0);
        let cut = cut.min(events.len());
        for e in &events[..cut] {
            first.on_event(e, &lookups);
        }
        let mut resumed = Engine::restore(&first.checkpoint(), 0).unwrap();
        for e in &events {
            whole.on_event(e, &lookups);
        }
        for e in &events[cut..] {
            resumed.on_event(e, &lookups);
        }
        let end = events.last().map_or(0, EngageEvent::time) + 24 * 3_600_000;
        whole.on_time(end, &lookups);
        resumed.on_time(end, &lookups);
        proptest::prop_assert_eq!(ids(&mut whole), ids(&mut resumed));
        proptest::prop_assert_eq!(whole.live_conversations(), 0);
    }
}

#[test]
fn a_checkpoint_resumes_exactly_where_it_stopped() {
    let (s, lookups, msgs) = setup();
    let mut whole = Engine::with_reorder(s.model_config(), 0);
    for m in &msgs {
        whole.on_tlib(m, &lookups, 0);
    }
    let want = ids(&mut whole);
    for cut in [0, 1, msgs.len() / 2, msgs.len() - 1] {
        let mut first = Engine::with_reorder(s.model_config(), 0);
        for m in &msgs[..cut] {
            first.on_tlib(m, &lookups, 0);
        }
        let bytes = first.checkpoint();
        let mut resumed = Engine::restore(&bytes, 0).unwrap();
        for m in &msgs[cut..] {
            resumed.on_tlib(m, &lookups, 0);
        }
        assert_eq!(ids(&mut resumed), want, "cut at {cut}");
        assert_eq!(resumed.stats(), whole.stats(), "cut at {cut}");
    }
    // Held events survive too.
    let mut held = Engine::with_reorder(s.model_config(), 100);
    for m in &msgs {
        held.on_tlib(m, &lookups, 5);
    }
    let mut resumed = Engine::restore(&held.checkpoint(), 100).unwrap();
    assert_eq!(resumed.held(), msgs.len());
    resumed.on_time(105, &lookups);
    assert_eq!(ids(&mut resumed), want);
    let err = Engine::restore(b"{not json", 0).unwrap_err();
    assert!(err.to_string().contains("delete it"), "{err}");
}

#[test]
fn agent_logins_decide_who_answers() {
    let (s, static_lookups, msgs) = setup();
    let users_of = |e: &mut Engine| -> Vec<String> {
        e.pending()
            .iter()
            .filter_map(|g| {
                g.to_json()
                    .get("userId")
                    .and_then(|u| u.as_str())
                    .map(String::from)
            })
            .collect()
    };
    let mut by_owner = Engine::with_reorder(s.model_config(), 0);
    for m in &msgs {
        by_owner.on_tlib(m, &static_lookups, 0);
    }
    let want = users_of(&mut by_owner);
    assert!(!want.is_empty());
    // No static owners: only log-ins map extensions to users.
    let mut lookups = static_lookups.clone();
    lookups.maps.agents.clear();
    let mut e = Engine::with_reorder(s.model_config(), 0);
    for (i, (dn, user)) in s.lookups.agents.iter().enumerate() {
        let code = format!("login{i}");
        lookups.logins.insert(code.clone(), user.clone());
        let login = Message::builder(MessageType::EventAgentLogin)
            .this_dn(dn)
            .agent_id(&code)
            .build();
        e.on_tlib(&login, &lookups, 0);
    }
    assert_eq!(e.logged_in().len(), s.lookups.agents.len());
    for m in &msgs {
        e.on_tlib(m, &lookups, 0);
    }
    assert_eq!(users_of(&mut e), want);
    let logout = Message::builder(MessageType::EventAgentLogout)
        .this_dn(s.lookups.agents.keys().next().unwrap())
        .build();
    e.on_tlib(&logout, &lookups, 0);
    assert_eq!(e.logged_in().len(), s.lookups.agents.len() - 1);
    // Nobody logged in and no owner: the agent is unknown, so the call is not injected as
    // that user.
    let mut nobody = Engine::with_reorder(s.model_config(), 0);
    for m in &msgs {
        nobody.on_tlib(m, &lookups, 0);
    }
    assert!(users_of(&mut nobody).is_empty());
}

/// Issue 12 §2: past the cap, new GC events go to the spill instead of memory; reloaded in
/// order behind the pending ones (through a checkpoint, as a restart would), the result is the
/// same sequence as without spilling.
#[test]
fn spilled_events_come_back_in_order_even_across_a_checkpoint() {
    let (s, lookups, msgs) = setup();
    let mut plain = Engine::with_reorder(s.model_config(), 0);
    for m in &msgs {
        plain.on_tlib(m, &lookups, 0);
    }
    let want = ids(&mut plain);
    assert!(want.len() > 4, "the scenario gives enough events");

    let mut e = Engine::with_reorder(s.model_config(), 0);
    let half = msgs.len() / 2;
    for m in &msgs[..half] {
        e.on_tlib(m, &lookups, 0);
    }
    let before = e.pending().len();
    e.start_spilling();
    for m in &msgs[half..] {
        e.on_tlib(m, &lookups, 0);
    }
    assert_eq!(e.pending().len(), before, "memory stops growing");
    assert_eq!(before + e.spill_buffered(), want.len());
    // Part is written to the store; the rest is not (the store failed) and comes back.
    let mut taken = e.take_to_spill();
    let unwritten = taken.split_off(taken.len() / 2);
    let written = taken;
    e.spill_not_written(unwritten);
    // A restart in between: the spill state is in the checkpoint, in the newer format.
    let bytes = e.checkpoint();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["version"], CHECKPOINT_VERSION);
    let mut e = Engine::restore(&bytes, 0).unwrap();
    assert!(e.spilling());
    // The written part is reloaded from the store's head, then the store is empty.
    e.unspill(written);
    e.spill_drained();
    assert!(!e.spilling());
    assert_eq!(e.spill_buffered(), 0);
    // Per conversation, the order is what it would have been without the spill.
    let got = ids(&mut e);
    assert_eq!(got.len(), want.len());
    let per_conv = |e: &mut Engine| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for g in e.pending().iter() {
            m.entry(g.conversation_id().to_string())
                .or_default()
                .push(g.event_id().to_string());
        }
        m
    };
    assert_eq!(per_conv(&mut e), per_conv(&mut plain));
}

/// Issue 12 §7: two instances fed the same events close a conversation with the same digest;
/// one that missed an event derives other ids, and its digest differs (what the pair check
/// compares).
#[test]
fn an_instance_that_missed_an_event_closes_with_another_digest() {
    let (s, lookups, msgs) = setup();
    let run = |skip: Option<usize>| {
        let mut e = Engine::with_reorder(s.model_config(), 0);
        for (i, m) in msgs.iter().enumerate() {
            if Some(i) != skip {
                e.on_tlib(m, &lookups, 0);
            }
        }
        e.on_time(u64::MAX / 2, &lookups);
        e.take_closed_digests()
    };
    let a = run(None);
    let b = run(None);
    assert_eq!(a.len(), 1, "the call closed");
    assert_eq!(a, b);
    assert!(a[0].digest.events > 0);
    // Missing one event in the middle of the call.
    // Missing any one event: the call's digest changes, or the instance closes other
    // conversations too (a consult leg of its own, whose digest the other instance never
    // writes: the pair check cannot see that case, see pair_check.rs), or nothing changes
    // (the event made no GC event).
    let (mut changed, mut split, mut same) = (0, 0, 0);
    for i in 0..msgs.len() {
        let missed = run(Some(i));
        match missed
            .iter()
            .find(|d| d.conversation_id == a[0].conversation_id)
        {
            Some(d) if d.digest != a[0].digest => changed += 1,
            _ if missed.len() > 1 => split += 1,
            _ => same += 1,
        }
    }
    println!(
        "of {} events missed one at a time: {changed} change the call's digest, {split} split it, {same} change nothing",
        msgs.len()
    );
    assert!(changed > 0);
}
