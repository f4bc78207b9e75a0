//! The exact bytes GC gets: for every scenario file, each GC event the model emits (every
//! timeout fired at the end) serialized as a one-event `BatchConversationEventRequest` must equal
//! the line in `tests/wire/<scenario>.jsonl`. The files were written by the connector's old
//! converter (callmodel's own event types → `gc_map` → gcex) before the model emitted gcex's
//! types, so they pin the wire JSON across that change. After an intended change of the model's
//! output, rewrite them with `ENGAGE_UPDATE_WIRE=1 cargo test -p engage-callmodel --test
//! gc_wire_json` and review the diff.

use engage_callmodel::fuzzing::finish;
use engage_callmodel::scenario::{Scenario, Step};
use engage_callmodel::{CallModel, Output};
use gcex::events::BatchConversationEventRequest;
use std::path::Path;

fn wire_json(s: &Scenario) -> String {
    let mut model = CallModel::new(s.model_config());
    let mut out = Vec::new();
    for step in &s.steps {
        match step {
            Step::Timeout { timeout } => model.handle_timeout(*timeout),
            Step::Event(e) => model.handle_input(e, &s.lookups),
            other => panic!("unknown step {other:?}"),
        }
        out.extend(std::iter::from_fn(|| model.poll_output()));
    }
    finish(&mut model, &mut out);
    let mut text = String::new();
    for o in out {
        if let Output::Event(e) = o {
            let mut b = BatchConversationEventRequest::default();
            b.push(e);
            text += &serde_json::to_string(&b).expect("serializes");
            text += "\n";
        }
    }
    text
}

#[test]
fn every_scenario_sends_the_pinned_json() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wire");
    let update = std::env::var_os("ENGAGE_UPDATE_WIRE").is_some();
    let all = Scenario::load_dir(&Scenario::project_dir()).expect("scenarios load");
    assert!(!all.is_empty());
    let mut differ = Vec::new();
    for (path, s) in &all {
        let stem = path
            .file_stem()
            .and_then(|n| n.to_str())
            .expect("file name");
        let file = dir.join(format!("{stem}.jsonl"));
        let got = wire_json(s);
        if update {
            std::fs::write(&file, &got).expect("writable");
            continue;
        }
        let want = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (ENGAGE_UPDATE_WIRE=1 writes it)", file.display()));
        if got != want {
            let line = got
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
            differ.push(format!("{stem}: first difference at event #{line}"));
        }
    }
    assert!(
        differ.is_empty(),
        "wire JSON changed:\n{}",
        differ.join("\n")
    );
}
