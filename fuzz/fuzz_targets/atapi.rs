//! Random CDB sequences interleaved with tray and medium operations.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironide_dev_ide::atapi::fuzz_cdb(data));
