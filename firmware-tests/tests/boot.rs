//! Boots from each medium and `-boot order=` choices. The `hello` guest prints
//! "BOOT OK DL=xx" with the boot drive SeaBIOS handed over: 00 floppy, 80 disk, E0 CD.

use firmware_tests::{guest, image, run_dir, Emulator, Run};
use std::path::{Path, PathBuf};

struct Media {
    floppy: PathBuf,
    disk: PathBuf,
    cd: PathBuf,
}

fn media(dir: &Path) -> Media {
    let boot = guest::boot_sector("hello").expect("hello guest");
    let m = Media { floppy: dir.join("fd.img"), disk: dir.join("hd.img"), cd: dir.join("cd.iso") };
    image::floppy(&m.floppy, &boot).expect("floppy image");
    image::disk(&m.disk, image::DISK_60_16_63_SECTORS, &boot).expect("disk image");
    image::eltorito_cd(&m.cd, &boot).expect("CD image");
    m
}

/// Boots with the given media and order and checks the guest reports `drive`.
fn boots_from(test: &str, floppy: bool, disk: bool, cd: bool, order: Option<&str>, drive: &str) {
    let Some(emu) = Emulator::or_skip(test) else { return };
    let dir = run_dir(test).expect("run dir");
    let m = media(&dir);
    let mut run = Run::new();
    if floppy {
        run = run.drive(&m.floppy, "if=floppy,index=0,format=raw");
    }
    if disk {
        run = run.drive(&m.disk, "if=ide,index=0,format=raw");
    }
    if cd {
        run = run.drive(&m.cd, "if=ide,index=2,media=cdrom,format=raw");
    }
    if let Some(order) = order {
        run = run.boot(order);
    }
    let out = emu.run(&dir, &run.args, firmware_tests::emulator::DEFAULT_TIMEOUT).expect("run");
    let want = format!("BOOT OK DL={drive}");
    assert!(out.has_line(&want), "expected a line `{want}`\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "guest exit\n{out}");
}

#[test]
fn floppy_boot() {
    boots_from("floppy_boot", true, false, false, Some("a"), "00");
}

#[test]
fn disk_boot() {
    boots_from("disk_boot", false, true, false, Some("c"), "80");
}

#[test]
fn cd_boot_eltorito_no_emulation() {
    boots_from("cd_boot_eltorito_no_emulation", false, false, true, Some("d"), "E0");
}

#[test]
fn order_c_with_floppy_and_disk_boots_the_disk() {
    boots_from("order_c_floppy_disk", true, true, false, Some("c"), "80");
}

#[test]
fn order_a_with_all_media_boots_the_floppy() {
    boots_from("order_a_all", true, true, true, Some("a"), "00");
}

#[test]
fn order_d_with_all_media_boots_the_cd() {
    boots_from("order_d_all", true, true, true, Some("d"), "E0");
}

#[test]
fn order_dc_without_cd_falls_back_to_the_disk() {
    boots_from("order_dc_no_cd", true, true, false, Some("dc"), "80");
}

/// SeaBIOS's floppy boot waits for IRQ 6 while the PIT ticks; with lost-tick reinjection the
/// interrupt is starved on nested KVM and the boot times out most of the time. Several boots
/// in a row catch that regression.
#[test]
fn floppy_boot_is_reliable() {
    for n in 0..4 {
        boots_from(&format!("floppy_boot_repeat_{n}"), true, false, false, Some("a"), "00");
    }
}

/// A guest started paused with -S, inspected and resumed over QMP, then seen on the serial
/// console: the interactive harness the media-change and throttle tests build on.
#[test]
fn qmp_session_starts_paused_and_resumes() {
    const TEST: &str = "boot_qmp_session";
    let Some(emu) = Emulator::or_skip(TEST) else { return };
    let dir = run_dir(TEST).expect("run dir");
    let m = media(&dir);
    let run = Run::new().drive(&m.disk, "if=ide,index=0,format=raw").arg("-S");
    let mut s = emu.spawn(&dir, &run.args).expect("spawn with QMP");
    let status = s.execute("query-status", serde_json::json!({})).expect("query-status");
    // (QEMU 7.2 adds a deprecated "singlestep" member; the contract has these two.)
    assert_eq!((&status["status"], &status["running"]), (&"prelaunch".into(), &false.into()), "-S: {status}");
    assert!(!s.wait_serial("BOOT OK", std::time::Duration::from_millis(300)), "guest ran while paused");
    s.execute("cont", serde_json::json!({})).expect("cont");
    assert!(s.wait_serial("BOOT OK DL=80", firmware_tests::emulator::DEFAULT_TIMEOUT), "{}", s.serial());
    let out = s.finish(firmware_tests::emulator::DEFAULT_TIMEOUT).expect("finish");
    assert_eq!(out.guest_exit(), Some(0), "{out}");
}
