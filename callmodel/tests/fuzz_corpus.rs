//! Replays the fuzz target's corpus (fuzz/corpus/callmodel_events) as a stable test, so CI runs
//! what cargo-fuzz found without a nightly toolchain.

use engage_callmodel::fuzzing::{decode_events, fuzz_events};

#[test]
fn corpus_replays_cleanly() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/callmodel_events");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus in {dir:?}");
    let mut events = 0;
    for f in &files {
        let data = std::fs::read(f).expect("readable");
        events += decode_events(&data).len();
        fuzz_events(&data);
    }
    assert!(events > 0, "the corpus decodes to no events");
}
