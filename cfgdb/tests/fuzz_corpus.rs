//! Replays every seed of the `cfgdb_vag` fuzz target (fuzz/corpus/cfgdb_vag) through the entry
//! point the fuzzer uses, so CI exercises the corpus on stable Rust. Seeds named `bad_*` must be
//! rejected; every other seed must parse (and round-trip, which the entry point asserts).

use std::path::{Path, PathBuf};

fn seeds() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/cfgdb_vag");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus dir {} unreadable: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus dir {} is empty", dir.display());
    files
}

#[test]
fn vag_corpus_replays() {
    let (mut valid, mut invalid) = (0, 0);
    for path in seeds() {
        let data = std::fs::read(&path).expect("seed readable");
        let ok = engage_cfgdb::fuzzing::vag_script(&data);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert_eq!(
            ok,
            !name.starts_with("bad_"),
            "{}: parsed = {ok}, but the seed name says otherwise",
            path.display()
        );
        if ok { valid += 1 } else { invalid += 1 }
    }
    assert!(valid >= 5, "expected the realistic seeds, found {valid}");
    assert!(invalid >= 5, "expected the bad seeds, found {invalid}");
}

#[test]
fn every_truncation_and_single_byte_mutation_of_the_seeds_is_handled() {
    // A deterministic sweep next to the fuzzer: no panic, and every mutant that still parses
    // round-trips (asserted inside the entry point).
    let (mut checked, mut still_valid) = (0, 0);
    for path in seeds() {
        let data = std::fs::read(&path).expect("seed readable");
        for cut in 0..data.len() {
            engage_cfgdb::fuzzing::vag_script(&data[..cut]);
        }
        for i in 0..data.len() {
            for b in [
                b' ', b'(', b')', b'~', b'&', b'|', b'"', b'\'', b'=', b'<', b'9', 0xff,
            ] {
                let mut m = data.clone();
                m[i] = b;
                checked += 1;
                if engage_cfgdb::fuzzing::vag_script(&m) {
                    still_valid += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "swept {checked} mutants");
    assert!(still_valid > 100, "only {still_valid} mutants parsed");
}
