//! Property tests over arbitrary event sequences (decoded from arbitrary bytes by the same
//! decoder the fuzz target uses).

use engage_callmodel::fuzzing::{check_invariants, config, decode_events, finish, lookups, run};
use engage_callmodel::{CallModel, EngageEvent, Output};
use proptest::prelude::*;

fn run_with_restore(events: &[EngageEvent], restore_at: usize) -> Vec<Output> {
    let mut model = CallModel::new(config());
    let l = lookups();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if i == restore_at {
            let json = serde_json::to_vec(&model).expect("state serializes");
            model = serde_json::from_slice(&json).expect("state restores");
        }
        model.handle_input(e, &l);
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    if restore_at >= events.len() {
        let json = serde_json::to_vec(&model).expect("state serializes");
        model = serde_json::from_slice(&json).expect("state restores");
    }
    finish(&mut model, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Never panics; every established communication ends exactly once; nothing but a
    /// disposition follows its end; ids unique, times increasing, conversations closed.
    #[test]
    fn invariants_hold(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let events = decode_events(&bytes);
        let out = run(&events);
        prop_assert!(check_invariants(&out).is_ok(), "{:?}", check_invariants(&out));
    }

    /// An event delivered twice in a row (the HA pair) changes nothing.
    #[test]
    fn adjacent_duplicate_changes_nothing(bytes in proptest::collection::vec(any::<u8>(), 1..600), pick in any::<prop::sample::Index>()) {
        let events = decode_events(&bytes);
        prop_assume!(!events.is_empty());
        let i = pick.index(events.len());
        let mut dup = events.clone();
        dup.insert(i + 1, events[i].clone());
        prop_assert_eq!(run(&events), run(&dup));
    }

    /// An event delivered again later (the other HA instance lagging) changes nothing.
    #[test]
    fn late_duplicate_changes_nothing(bytes in proptest::collection::vec(any::<u8>(), 1..600), pick in any::<prop::sample::Index>(), lag in any::<prop::sample::Index>()) {
        let events = decode_events(&bytes);
        prop_assume!(!events.is_empty());
        let i = pick.index(events.len());
        let j = i + 1 + lag.index(events.len() - i);
        let mut dup = events.clone();
        dup.insert(j, events[i].clone());
        prop_assert_eq!(run(&events), run(&dup));
    }

    /// Serializing and restoring the state at any point changes nothing.
    #[test]
    fn restore_anywhere_changes_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..600), at in any::<prop::sample::Index>()) {
        let events = decode_events(&bytes);
        let k = at.index(events.len() + 1);
        prop_assert_eq!(run(&events), run_with_restore(&events, k));
    }

    /// Two instances fed the same events emit byte-identical output.
    #[test]
    fn two_instances_agree(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let events = decode_events(&bytes);
        let a = serde_json::to_vec(&run(&events)).expect("serializes");
        let b = serde_json::to_vec(&run(&events)).expect("serializes");
        prop_assert_eq!(a, b);
    }
}

/// One scenario file's look-ups, config and Engage events.
type ScenarioRun = (
    engage_callmodel::StaticLookups,
    engage_callmodel::ModelConfig,
    Vec<EngageEvent>,
);

/// The Engage events of every scenario file, with the scenario's look-ups and config.
fn scenario_runs() -> Vec<ScenarioRun> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("scenario dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let v: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(f).expect("readable")).expect("yaml");
            let lookups = serde_yaml::from_value(v["lookups"].clone()).unwrap_or_default();
            let cfg = serde_yaml::from_value(v["config"].clone()).unwrap_or_default();
            let events = v["steps"]
                .as_sequence()
                .map(|s| {
                    s.iter()
                        .filter(|st| st.get("event").is_some())
                        .map(|st| serde_yaml::from_value(st.clone()).expect("event"))
                        .collect()
                })
                .unwrap_or_default();
            (lookups, cfg, events)
        })
        .collect()
}

fn run_scenario(
    lookups: &engage_callmodel::StaticLookups,
    cfg: &engage_callmodel::ModelConfig,
    events: &[EngageEvent],
) -> Vec<Output> {
    let mut model = CallModel::new(cfg.clone());
    let mut out = Vec::new();
    for e in events {
        model.handle_input(e, lookups);
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    finish(&mut model, &mut out);
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Drop(prop::sample::Index),
    Swap(prop::sample::Index),
    Duplicate(prop::sample::Index, prop::sample::Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Drop),
        any::<prop::sample::Index>().prop_map(Mutation::Swap),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Mutation::Duplicate(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Real flows with events lost, swapped (out of order) or duplicated anywhere: the
    /// invariants still hold, and pure duplication changes nothing.
    #[test]
    fn mutated_scenarios_keep_invariants(pick in any::<prop::sample::Index>(), muts in proptest::collection::vec(mutation(), 0..6)) {
        static RUNS: std::sync::OnceLock<Vec<ScenarioRun>> = std::sync::OnceLock::new();
        let runs = RUNS.get_or_init(scenario_runs);
        let (lookups, cfg, events) = &runs[pick.index(runs.len())];
        let mut ev = events.clone();
        let mut only_dups = true;
        for m in &muts {
            if ev.is_empty() { break; }
            match m {
                Mutation::Drop(i) => { ev.remove(i.index(ev.len())); only_dups = false; }
                Mutation::Swap(i) => {
                    let i = i.index(ev.len());
                    if i + 1 < ev.len() { ev.swap(i, i + 1); only_dups = false; }
                }
                Mutation::Duplicate(i, j) => {
                    let i = i.index(ev.len());
                    let j = i + 1 + j.index(ev.len() - i);
                    let e = ev[i].clone();
                    ev.insert(j, e);
                }
            }
        }
        let out = run_scenario(lookups, cfg, &ev);
        prop_assert!(check_invariants(&out).is_ok(), "{:?}", check_invariants(&out));
        if only_dups {
            prop_assert_eq!(out, run_scenario(lookups, cfg, events));
        }
    }
}
