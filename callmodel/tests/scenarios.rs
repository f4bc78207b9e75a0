//! Runs every scenario file in the workspace's `tests/scenarios/` (format: callmodel/SCENARIOS.md).
//! For each: the expected GC output must match exactly (ids compared through labels); the same
//! run with every event delivered twice, and with the state serialized and restored before every
//! event, must give byte-identical output; and after all timeouts the output invariants hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engage_callmodel::fuzzing::{check_invariants, finish};
use engage_callmodel::scenario::{Scenario, Step};
use engage_callmodel::{CallModel, ModelConfig, Output};
use gcex::events::event_time_millis;
use serde_yaml::{Mapping, Value};

const ID_KEYS: [&str; 8] = [
    "conversationId",
    "communicationId",
    "invitedBy",
    "initiatingCommunicationId",
    "targetCommunicationId",
    "objectCommunicationId",
    "destinationCommunicationId",
    "commandId",
];

fn scenario_dir() -> PathBuf {
    Scenario::project_dir()
}

fn config_of(s: &Scenario) -> ModelConfig {
    s.model_config()
}

/// Run the steps; `mode` 0 = plain, 1 = every event twice, 2 = serialize/restore before each.
fn run(s: &Scenario, mode: u8) -> Vec<Output> {
    let mut model = CallModel::new(config_of(s));
    let mut out = Vec::new();
    for step in &s.steps {
        if mode == 2 {
            let json = serde_json::to_string(&model).expect("state serializes");
            model = serde_json::from_str(&json).expect("state restores");
        }
        match step {
            Step::Timeout { timeout } => model.handle_timeout(*timeout),
            Step::Event(e) => {
                model.handle_input(e, &s.lookups);
                if mode == 1 {
                    model.handle_input(e, &s.lookups);
                }
            }
            other => panic!("unknown step {other:?}"),
        }
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    out
}

fn to_value(o: &Output) -> Value {
    let (kind, mut v) = match o {
        Output::Event(e) => (None, serde_yaml::to_value(e).expect("serializes")),
        Output::RecordingSegment(r) => (
            Some("recordingSegment"),
            serde_yaml::to_value(r).expect("serializes"),
        ),
        Output::ConversationClosed(c) => (
            Some("conversationClosed"),
            serde_yaml::to_value(c).expect("serializes"),
        ),
        _ => (Some("unknown"), Value::Null),
    };
    if let (Some(kind), Value::Mapping(m)) = (kind, &mut v) {
        m.insert("type".into(), kind.into());
    }
    v
}

struct Labels {
    by_id: BTreeMap<String, String>,
    by_label: BTreeMap<String, String>,
    auto: usize,
}

impl Labels {
    /// Bind an actual id to the expected label when both are free or already bound together;
    /// otherwise name it with a fresh auto label so the mismatch shows.
    fn label(&mut self, id: &str, expected: Option<&str>) -> String {
        if let Some(l) = self.by_id.get(id) {
            return l.clone();
        }
        if let Some(e) = expected
            && !self.by_label.contains_key(e)
        {
            self.by_id.insert(id.to_owned(), e.to_owned());
            self.by_label.insert(e.to_owned(), id.to_owned());
            return e.to_owned();
        }
        self.auto += 1;
        let l = format!("unbound{}", self.auto);
        self.by_id.insert(id.to_owned(), l.clone());
        l
    }
}

/// Replace ids by labels, drop eventId and sourceConfiguration (checked separately).
fn relabel(actual: &Value, expected: Option<&Value>, labels: &mut Labels) -> Value {
    match actual {
        Value::Mapping(m) => {
            let mut out = Mapping::new();
            for (k, v) in m {
                let key = k.as_str().unwrap_or_default();
                if key == "eventId" || key == "sourceConfiguration" {
                    continue;
                }
                let exp = expected.and_then(|e| e.get(key));
                let nv = match (ID_KEYS.contains(&key), v.as_str()) {
                    (true, Some(id)) => {
                        let default_conv = (key == "conversationId").then_some("conv");
                        let e = exp.and_then(Value::as_str).or(default_conv);
                        Value::String(labels.label(id, e))
                    }
                    _ => relabel(v, exp, labels),
                };
                out.insert(k.clone(), nv);
            }
            Value::Mapping(out)
        }
        other => other.clone(),
    }
}

/// The expectation as the event's own form: the default conversation label, and
/// `eventDateTime` (epoch ms in the files) formatted as GC's `yyyy-MM-ddTHH:mm:ss.SSSZ`.
fn normalize_expected(e: &Value) -> Value {
    let mut e = e.clone();
    if let Value::Mapping(m) = &mut e {
        if !m.contains_key("conversationId") {
            m.insert("conversationId".into(), "conv".into());
        }
        if let Some(ms) = m.get("eventDateTime").and_then(Value::as_u64) {
            let t = event_time_millis(ms).unwrap_or_else(|| format!("{ms} is past year 9999"));
            m.insert("eventDateTime".into(), t.into());
        }
    }
    e
}

fn check_sources(s: &Scenario, out: &[Output]) -> Result<(), String> {
    let cfg = config_of(s);
    let calls: Vec<String> = s
        .steps
        .iter()
        .filter_map(|st| match st {
            Step::Event(e) => e.call_uuid().map(str::to_owned),
            _ => None,
        })
        .collect();
    for o in out {
        let Output::Event(e) = o else { continue };
        if !e.is_established() {
            continue;
        }
        let v = serde_yaml::to_value(e).expect("serializes");
        let sc = &v["sourceConfiguration"];
        if sc["sourceId"].as_str() != Some(cfg.source_id.as_str()) {
            return Err(format!("sourceId wrong in {v:?}"));
        }
        let iid = sc["interactionId"].as_str().unwrap_or_default();
        if !calls.iter().any(|c| c == iid) {
            return Err(format!(
                "interactionId {iid} is no CallUUID of the scenario"
            ));
        }
    }
    Ok(())
}

fn check(path: &Path) -> Result<(), String> {
    let s = Scenario::load(path).map_err(|e| e.to_string())?;
    let out = run(&s, 0);
    let expected: Vec<Value> = s.expect.iter().map(normalize_expected).collect();
    let mut labels = Labels {
        by_id: BTreeMap::new(),
        by_label: BTreeMap::new(),
        auto: 0,
    };
    let actual: Vec<Value> = out
        .iter()
        .enumerate()
        .map(|(i, o)| relabel(&to_value(o), expected.get(i), &mut labels))
        .collect();
    let canon = |v: &[Value]| -> Vec<serde_json::Value> {
        v.iter()
            .map(|x| serde_json::to_value(x).unwrap_or_default())
            .collect()
    };
    if canon(&actual) != canon(&expected) {
        let mut msg = format!("{}: output differs from expect.\n", s.name);
        for i in 0..actual.len().max(expected.len()) {
            let a = actual
                .get(i)
                .map(|v| serde_json::to_string(v).unwrap_or_default());
            let e = expected
                .get(i)
                .map(|v| serde_json::to_string(v).unwrap_or_default());
            let same = actual.get(i).map(|v| canon(std::slice::from_ref(v)))
                == expected.get(i).map(|v| canon(std::slice::from_ref(v)));
            if !same {
                msg += &format!(
                    "!! #{i}\n   actual:   {}\n   expected: {}\n",
                    a.unwrap_or_default(),
                    e.unwrap_or_default()
                );
            }
        }
        return Err(msg);
    }
    check_sources(&s, &out)?;
    if run(&s, 1) != out {
        return Err(format!("{}: duplicated events changed the output", s.name));
    }
    if run(&s, 2) != out {
        return Err(format!("{}: serialize/restore changed the output", s.name));
    }
    // Completed with every timeout, the invariants hold.
    let mut model = CallModel::new(config_of(&s));
    let mut all = Vec::new();
    for step in &s.steps {
        match step {
            Step::Timeout { timeout } => model.handle_timeout(*timeout),
            Step::Event(e) => model.handle_input(e, &s.lookups),
            other => panic!("unknown step {other:?}"),
        }
        all.extend(std::iter::from_fn(|| model.poll_output()));
    }
    finish(&mut model, &mut all);
    check_invariants(&all).map_err(|e| format!("{}: {e}", s.name))?;
    Ok(())
}

#[test]
fn every_scenario_file_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenario_dir())
        .expect("tests/scenarios exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no scenario files in {:?}",
        scenario_dir()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| check(f).err().map(|e| format!("== {}\n{e}", f.display())))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
