//! Arbitrary bytes into the QMP input path: the incremental JSON parser,
//! envelope checks, negotiation and argument validation.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironide_qmp::fuzzing::run(data));
