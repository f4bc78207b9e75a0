//! Fuzz the Virtual Agent Group script parser: no panic on any input, printed scripts parse
//! back to the same tree. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run cfgdb_vag` in `fuzz/`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    engage_cfgdb::fuzzing::vag_script(data);
});
