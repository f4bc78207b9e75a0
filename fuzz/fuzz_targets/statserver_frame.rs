#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| engage_statserver::fuzzing::frame(data));
