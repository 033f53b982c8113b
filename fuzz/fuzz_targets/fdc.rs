//! Random register sequences, DMA programming and time against the floppy
//! controller and the 8237.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironide_dev_fdc::fuzzing::run(data));
