//! `-bios bios-256k.bin`: Debian's full SeaBIOS build, whose init code lives below 0xE0000
//! (ironide preloads the whole 256 KiB image at 0xC0000 instead of emulating the PAM
//! registers). A floppy and a disk boot with it reach the `hello` guest's marker.

use firmware_tests::emulator::DEFAULT_TIMEOUT;
use firmware_tests::{guest, image, run_dir, Emulator, Run};
use std::path::Path;

const BIOS_256K: &str = "/usr/share/seabios/bios-256k.bin";

fn boots_with_256k_bios(test: &str, floppy: bool) {
    let Some(emu) = Emulator::or_skip(test) else { return };
    if !Path::new(BIOS_256K).is_file() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIP {test}: {BIOS_256K} missing (apt-get install seabios)");
        return;
    }
    let dir = run_dir(test).expect("run dir");
    let boot = guest::boot_sector("hello").expect("hello guest");
    // The harness passes -bios bios.bin first; the later -bios wins, as in QEMU.
    let mut run = Run::new().arg("-bios").arg(BIOS_256K);
    let want = if floppy {
        let img = dir.join("fd.img");
        image::floppy(&img, &boot).expect("floppy image");
        run = run.drive(&img, "if=floppy,index=0,format=raw").boot("a");
        "BOOT OK DL=00"
    } else {
        let img = dir.join("hd.img");
        image::disk(&img, image::DISK_60_16_63_SECTORS, &boot).expect("disk image");
        run = run.drive(&img, "if=ide,index=0,format=raw").boot("c");
        "BOOT OK DL=80"
    };
    let out = emu.run(&dir, &run.args, DEFAULT_TIMEOUT).expect("run");
    assert!(out.has_line(want), "expected a line `{want}`\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");
}

#[test]
fn floppy_boot_with_bios_256k() {
    boots_with_256k_bios("floppy_boot_with_bios_256k", true);
}

#[test]
fn disk_boot_with_bios_256k() {
    boots_with_256k_bios("disk_boot_with_bios_256k", false);
}
