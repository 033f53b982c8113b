//! GRUB's `testspeed` through the BIOS and through GRUB's own pata driver, in one boot: both
//! runs finish and report plausible figures. No timing assertions: the numbers are the
//! `guest-io` benchmark's business (benches/src/guest_io.rs).

use firmware_tests::{grub, run_dir, testspeed};
use std::time::Duration;

/// About 20 s to GRUB's first line on the nested development KVM, then two short reads.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn grub_testspeed_through_bios_and_pata() {
    let test = "grub_testspeed";
    let Some(emu) = grub::emulator_or_skip(test) else { return };
    // Small files: a few seconds each here (GRUB runs under instruction emulation).
    let media = testspeed::media(256 * 1024, 128 * 1024).expect("testspeed media");
    let dir = run_dir(test).expect("run dir");
    let out = emu.run(&dir, &media.args(), TIMEOUT).expect("run");
    grub::assert_ran(&out);
    let (bios, pata) = testspeed::parse_both(&out.serial);
    for (what, speed, size) in [("biosdisk", bios, media.bios_bytes), ("pata", pata, media.pata_bytes)] {
        let s = speed.unwrap_or_else(|| panic!("no testspeed report through {what}\n{out}"));
        // GRUB rounds the size to two decimals of its unit.
        assert!((s.bytes - size as f64).abs() <= size as f64 * 0.01, "{what}: size {s:?} for {size} bytes\n{out}");
        assert!(s.seconds > 0.0 && s.bytes_per_sec > 0.0, "{what}: {s:?}\n{out}");
        // Speed is size / time, up to GRUB's rounding.
        let implied = s.bytes / s.seconds;
        assert!((implied - s.bytes_per_sec).abs() <= implied * 0.05 + 1024.0, "{what}: inconsistent {s:?}\n{out}");
    }
}
