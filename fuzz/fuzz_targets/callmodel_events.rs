//! Arbitrary bytes -> Engage event sequence -> call model; panics on any invariant violation.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| engage_callmodel::fuzzing::fuzz_events(data));
