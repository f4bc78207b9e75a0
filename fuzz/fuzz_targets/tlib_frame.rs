//! Fuzz the T-Library frame decoder: no panic on any input, byte-identical re-encoding of
//! every valid frame. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run tlib_frame` in `fuzz/`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    engage_tlib::fuzzing::frame(data);
});
