//! Fuzz the KV-list unpacker: no panic on any input, byte-identical re-packing of every valid
//! list. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tlib_kvlist` in `fuzz/`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    engage_tlib::fuzzing::kvlist(data);
});
