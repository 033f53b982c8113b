//! Random port, memory, completion and time sequences against the PIIX3 IDE
//! controller with an ATA disk and an ATAPI CD-ROM.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ironide_dev_ide::fuzzing::run(data));
