//! The machine under KVM boots SeaBIOS to a boot sector from a floppy and
//! from a hard disk, exits through isa-debug-exit, and resets via 0xCF9.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use ironide_vmm::config::{BootDevice, MachineConfig};

/// Run the machine on its own threads; None if it did not finish in time.
fn run_with_timeout(cfg: MachineConfig, secs: u64) -> Option<i32> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = ironide_vmm::run::run_kvm(&cfg);
        let _ = tx.send(r.unwrap_or_else(|e| panic!("machine failed: {e}")));
    });
    rx.recv_timeout(Duration::from_secs(secs)).ok()
}

fn skip() -> bool {
    if let Some(why) = kvm_missing() {
        eprintln!("SKIP: {why}");
        return true;
    }
    false
}

#[test]
fn boots_from_floppy_and_exits_with_debug_exit_status() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(code) = boot_sector(dir.path(), &counting_program(1, 0x21)) else {
        eprintln!("SKIP: GNU as/ld (binutils) missing");
        return;
    };
    let img = image(dir.path(), "fd.img", &code, 1474560);
    let serial = dir.path().join("serial.log");
    let mut cfg = base_config(&serial, &[BootDevice::Floppy]);
    cfg.layout.backends.push(backend("floppy0", &img));
    cfg.layout.floppy[0] = Some(floppy(0));
    let status = run_with_timeout(cfg, 60);
    let bios = std::fs::read_to_string(serial.with_extension("bios")).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("floppy boot did not finish within 60 s; BIOS log:\n{bios}"));
    let out = std::fs::read_to_string(&serial).unwrap_or_default();
    assert!(out.contains("BOOT1"), "serial output: {out:?}");
    assert_eq!(status, (0x21 << 1) | 1);
}

/// Boot `counting_program(boots, exit_val)` from an IDE disk: (exit
/// status, serial output); None (having said SKIP) without binutils.
fn boot_from_disk(boots: u8, exit_val: u8, secs: u64, what: &str) -> Option<(i32, String)> {
    let dir = tempfile::tempdir().unwrap();
    let Some(code) = boot_sector(dir.path(), &counting_program(boots, exit_val)) else {
        eprintln!("SKIP: GNU as/ld (binutils) missing");
        return None;
    };
    let img = image(dir.path(), "hd.img", &code, 4 << 20);
    let serial = dir.path().join("serial.log");
    let mut cfg = base_config(&serial, &[BootDevice::Disk]);
    cfg.layout.backends.push(backend("ide0-hd0", &img));
    cfg.layout.ide[0][0] = Some(ide_disk(0));
    let status = run_with_timeout(cfg, secs).unwrap_or_else(|| panic!("{what} boot did not finish within {secs} s"));
    Some((status, std::fs::read_to_string(&serial).unwrap_or_default()))
}

#[test]
fn boots_from_hard_disk() {
    if skip() {
        return;
    }
    let Some((status, out)) = boot_from_disk(1, 0x05, 60, "disk") else {
        return;
    };
    assert!(out.contains("BOOT1"), "serial output: {out:?}");
    assert_eq!(status, 11);
}

#[test]
fn reset_through_cf9_runs_the_bios_again() {
    if skip() {
        return;
    }
    let Some((status, out)) = boot_from_disk(2, 0x07, 90, "reset") else {
        return;
    };
    assert!(out.contains("BOOT1") && out.contains("BOOT2"), "serial output: {out:?}");
    assert_eq!(status, 15);
}
