//! Replays every seed of the `tlib_frame` and `tlib_kvlist` fuzz targets through the same
//! entry points the fuzzers use, so CI exercises the corpus on stable Rust. Valid seeds must
//! round-trip byte for byte (the entry points assert it); seeds named `bad_*` must be
//! rejected with a typed error.

use std::path::{Path, PathBuf};

fn seeds(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus dir {} unreadable: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus dir {} is empty; regenerate it with `cargo run -p engage-tlib --example gen_fuzz_corpus`",
        dir.display()
    );
    files
}

fn replay(target: &str, entry: fn(&[u8]) -> bool) -> (usize, usize) {
    let (mut valid, mut invalid) = (0, 0);
    for path in seeds(target) {
        let data = std::fs::read(&path).expect("seed readable");
        let ok = entry(&data);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert_eq!(
            ok,
            !name.starts_with("bad_"),
            "{}: valid = {ok}, but the seed name says otherwise",
            path.display()
        );
        if ok { valid += 1 } else { invalid += 1 }
    }
    (valid, invalid)
}

#[test]
fn frame_corpus_replays() {
    let (valid, invalid) = replay("tlib_frame", engage_tlib::fuzzing::frame);
    assert!(valid >= 10, "expected the realistic seeds, found {valid}");
    assert!(invalid >= 1);
}

#[test]
fn kvlist_corpus_replays() {
    let (valid, invalid) = replay("tlib_kvlist", engage_tlib::fuzzing::kvlist);
    assert!(valid >= 5, "expected the realistic seeds, found {valid}");
    assert!(invalid >= 1);
}

#[test]
fn corpus_matches_the_seed_messages() {
    // The committed seeds are the current encoding of the seed messages: a layout change
    // must regenerate the corpus.
    for (name, msg) in engage_tlib::fuzzing::seed_messages() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus/tlib_frame")
            .join(format!("{name}.bin"));
        let on_disk = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run the gen_fuzz_corpus example", path.display()));
        let mut buf = bytes::BytesMut::new();
        engage_tlib::encode(&msg, &mut buf).expect("seed encodes");
        assert_eq!(
            &buf[..],
            &on_disk[..],
            "{name}: stale seed; run gen_fuzz_corpus"
        );
        assert_eq!(engage_tlib::decode(&on_disk).expect("seed decodes"), msg);
    }
}

#[test]
fn every_single_byte_mutation_and_truncation_of_the_small_seeds_is_handled() {
    // A deterministic sweep next to the fuzzers: no panic, and any mutant that still decodes
    // re-encodes byte for byte (both asserted inside the entry points).
    let mut still_valid = 0;
    let mut checked = 0;
    for (target, entry) in [
        (
            "tlib_frame",
            engage_tlib::fuzzing::frame as fn(&[u8]) -> bool,
        ),
        ("tlib_kvlist", engage_tlib::fuzzing::kvlist),
    ] {
        for path in seeds(target) {
            let data = std::fs::read(&path).expect("seed readable");
            if data.len() > 512 {
                continue;
            }
            for cut in 0..data.len() {
                entry(&data[..cut]);
            }
            for i in 0..data.len() {
                for x in [0x01u8, 0x80, 0xff] {
                    let mut m = data.clone();
                    m[i] ^= x;
                    checked += 1;
                    if entry(&m) {
                        still_valid += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "swept {checked} mutants");
    // Mutating string contents keeps frames valid: the identity check really ran.
    assert!(still_valid > 100, "only {still_valid} valid mutants");
}
