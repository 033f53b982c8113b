//! Random inputs for the fuzzing entry point: nothing may panic or hang.

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fuzzing_run_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        ironide_dev_ide::fuzzing::run(&data);
    }

    /// Inputs biased towards command writes and DMA starts.
    #[test]
    fn fuzzing_run_with_commands(cmds in proptest::collection::vec((0u8..20, any::<u8>()), 0..64)) {
        let mut data = Vec::new();
        for (port, val) in cmds {
            // op 2 = write, port index, width 1, the value; then deliver I/O.
            data.extend_from_slice(&[2, port, 0, val, 6]);
        }
        ironide_dev_ide::fuzzing::run(&data);
    }
}
