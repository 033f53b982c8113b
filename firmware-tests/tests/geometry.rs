//! INT 13h AH=08h as SeaBIOS answers it: the floppy type and the logical disk geometry for
//! each bios-chs-trans value, on geometry.md's reference disk (physical 8322/16/63, blank).
//! The `probe` guest prints "AH08 D=xx CF=x AX=xxxx BX=xxxx CX=xxxx DX=xxxx" per drive.

use firmware_tests::{emulator::DEFAULT_TIMEOUT, guest, image, run_dir, Emulator, Run};

/// Boots the probe from a floppy with the reference disk at ide0 master using `trans`;
/// returns the serial lines for drives 00 and 80.
fn probe(test: &str, trans: &str) -> Option<(String, String)> {
    let emu = Emulator::or_skip(test)?;
    let dir = run_dir(test).expect("run dir");
    let boot = guest::boot_sector("probe").expect("probe guest");
    let fd = dir.join("fd.img");
    let hd = dir.join("hd.img");
    image::floppy(&fd, &boot).expect("floppy image");
    image::disk(&hd, image::DISK_8322_16_63_SECTORS, &[]).expect("disk image");
    let run = Run::new()
        .drive(&fd, "if=floppy,index=0,format=raw")
        .drive(&hd, "if=none,id=hd0,format=raw")
        .arg("-device")
        .arg(format!("ide-hd,drive=hd0,bus=ide.0,unit=0,bios-chs-trans={trans}"))
        .boot("a");
    let out = emu.run(&dir, &run.args, DEFAULT_TIMEOUT).expect("run");
    assert!(out.has_line("PROBE DONE"), "probe did not finish\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");
    let find = |d: &str| {
        out.lines()
            .into_iter()
            .find(|l| l.starts_with(&format!("AH08 D={d} ")))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no AH08 line for drive {d}\n{out}"))
    };
    Some((find("00"), find("80")))
}

fn check_disk(trans: &str, cx: &str, dx: &str) {
    let test = format!("ah08_{trans}");
    let Some((_, disk)) = probe(&test, trans) else { return };
    let want = format!("AH08 D=80 CF=0 AX=0000 BX=0000 CX={cx} DX={dx}");
    assert_eq!(disk, want, "bios-chs-trans={trans}");
}

#[test]
fn ah08_translation_none() {
    check_disk("none", "FEFF", "0F01");
}

#[test]
fn ah08_translation_lba() {
    check_disk("lba", "08BF", "FE01");
}

#[test]
fn ah08_translation_large() {
    check_disk("large", "FEFF", "7F01");
}

#[test]
fn ah08_translation_rechs() {
    check_disk("rechs", "28BF", "EF01");
}

#[test]
fn ah08_translation_auto_is_lba_on_this_disk() {
    check_disk("auto", "08BF", "FE01");
}

#[test]
fn ah08_floppy_144() {
    let Some((floppy, _)) = probe("ah08_floppy", "auto") else { return };
    // BL = 4 (1.44M), CX = 79 cylinders max / 18 sectors, DX = max head 1 / one drive.
    assert_eq!(floppy, "AH08 D=00 CF=0 AX=0000 BX=0004 CX=4F12 DX=0101");
}
