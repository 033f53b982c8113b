//! Tray and media commands end to end: the guest side through qtest port
//! I/O (ATAPI packets to the secondary master, the FDC's DIR register),
//! the management side through QMP, both over the real sockets.

mod common;

use std::path::Path;
use std::time::Duration;

use common::qmp::Vm;
use serde_json::{json, Value};

fn image(dir: &Path, name: &str, bytes: usize) -> String {
    let p = dir.join(name);
    std::fs::write(&p, vec![0x5Au8; bytes]).expect("image");
    p.display().to_string()
}

/// A CD "cd0" (device "cdrom0") at ide1 master, a disk "hd0" (device
/// "disk0") at ide0 master, floppy A "fd0" (device "flop0").
fn start() -> Vm {
    let dir = common::tempdir();
    let iso = image(dir.path(), "a.iso", 64 * 2048);
    let hd = image(dir.path(), "hd.img", 1 << 20);
    let fd = image(dir.path(), "fd.img", 1_474_560);
    let mut vm = Vm::start_in(
        dir,
        &[
            "-drive",
            &format!("if=none,id=cd0,media=cdrom,format=raw,file={iso}"),
            "-device",
            "ide-cd,drive=cd0,id=cdrom0,bus=ide.1,unit=0",
            "-drive",
            &format!("if=none,id=hd0,format=raw,file={hd}"),
            "-device",
            "ide-hd,drive=hd0,id=disk0,bus=ide.0,unit=0",
            "-drive",
            &format!("if=none,id=fd0,format=raw,file={fd}"),
            "-device",
            "floppy,drive=fd0,id=flop0,unit=0",
        ],
    );
    assert_eq!(vm.qt.cmd("irq_intercept_in ioapic"), "OK");
    vm
}

fn cdb(bytes: &[u8]) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[..bytes.len()].copy_from_slice(bytes);
    c
}

const TUR: [u8; 12] = [0; 12];

/// One ATAPI packet command in PIO with a 2048-byte limit: select the CD,
/// PACKET (0xA0), the 12-byte CDB as 6 words, then the data blocks.
/// Returns (status, error, data).
fn packet(vm: &mut Vm, cdb: [u8; 12]) -> (u8, u8, Vec<u8>) {
    vm.qt.outb(0x176, 0xA0);
    vm.qt.outb(0x171, 0x00);
    vm.qt.outb(0x174, 0x00);
    vm.qt.outb(0x175, 0x08);
    vm.qt.outb(0x177, 0xA0);
    for w in cdb.chunks(2) {
        vm.qt.outw(0x170, u16::from(w[0]) | u16::from(w[1]) << 8);
    }
    let mut data = Vec::new();
    for _ in 0..2000 {
        let st = vm.qt.inb(0x177);
        if st & 0x80 != 0 {
            // Backend I/O runs in real time.
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if st & 0x08 == 0 {
            let err = vm.qt.inb(0x171);
            return (st, err, data);
        }
        let n = usize::from(vm.qt.inb(0x174)) | usize::from(vm.qt.inb(0x175)) << 8;
        for _ in 0..n.div_ceil(2) {
            data.extend_from_slice(&vm.qt.inw(0x170).to_le_bytes());
        }
    }
    panic!("ATAPI command {:#x} never ended", cdb[0]);
}

fn ok(r: (u8, u8, Vec<u8>), what: &str) -> Vec<u8> {
    assert_eq!(r.0 & 0x01, 0, "{what} failed: status {:#x} error {:#x}", r.0, r.1);
    r.2
}

fn prevent_allow(vm: &mut Vm, lock: bool) {
    ok(packet(vm, cdb(&[0x1E, 0, 0, 0, u8::from(lock)])), "PREVENT ALLOW MEDIUM REMOVAL");
}

/// GET EVENT STATUS NOTIFICATION (polled, media class): (event, status).
fn gesn(vm: &mut Vm) -> (u8, u8) {
    let d = ok(packet(vm, cdb(&[0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8])), "GESN");
    (d[4] & 0x0F, d[5])
}

fn request_sense(vm: &mut Vm) -> (u8, u8) {
    let d = ok(packet(vm, cdb(&[0x03, 0, 0, 0, 18])), "REQUEST SENSE");
    (d[2] & 0x0F, d[12])
}

fn moved(device: &str, id: &str, open: bool) -> Value {
    json!({"device": device, "id": id, "tray-open": open})
}

#[test]
fn guest_lock_eject_request_and_guest_eject() {
    let mut vm = start();
    prevent_allow(&mut vm, true);
    // Locked, not forced: success, no event; the guest gets an eject request.
    assert_eq!(vm.qmp.ok("blockdev-open-tray", json!({"id": "cdrom0"})), json!({}));
    assert!(vm.qmp.take_events("DEVICE_TRAY_MOVED").is_empty(), "no event while the guest holds the lock");
    assert_eq!(gesn(&mut vm), (1, 2), "GESN: eject requested, tray closed with a medium");
    assert_eq!(gesn(&mut vm), (0, 2), "reported once");
    // eject on the locked tray: the error names the device as passed.
    let e = vm.qmp.err("eject", json!({"device": "cd0"}));
    let text = "Device 'cd0' is locked and force was not specified, wait for tray to open and try again";
    assert_eq!(e, ("GenericError".to_string(), text.to_string()));
    // The guest gives in: unlock, START STOP UNIT LoEj=1 Start=0.
    prevent_allow(&mut vm, false);
    ok(packet(&mut vm, cdb(&[0x1B, 0, 0, 0, 0x02])), "START STOP UNIT eject");
    assert_eq!(vm.qmp.wait_event("DEVICE_TRAY_MOVED")["data"], moved("cd0", "cdrom0", true));
    // QMP closes it: the event comes before the return.
    vm.qmp.ok("blockdev-close-tray", json!({"device": "cd0"}));
    assert_eq!(vm.qmp.take_events("DEVICE_TRAY_MOVED"), vec![moved("cd0", "cdrom0", false)]);
    vm.qmp.ok("blockdev-close-tray", json!({"device": "cd0"}));
    assert!(vm.qmp.take_events("DEVICE_TRAY_MOVED").is_empty(), "closing a closed tray is a no-op");
}

#[test]
fn force_opens_a_locked_tray() {
    let mut vm = start();
    prevent_allow(&mut vm, true);
    vm.qmp.ok("blockdev-open-tray", json!({"id": "cdrom0", "force": true}));
    assert_eq!(vm.qmp.take_events("DEVICE_TRAY_MOVED"), vec![moved("cd0", "cdrom0", true)]);
    // Open tray: R-commands report NOT READY / medium not present.
    let (st, err, _) = packet(&mut vm, TUR);
    assert_eq!((st & 0x01, err >> 4), (1, 2));
    assert_eq!(request_sense(&mut vm), (2, 0x3A));
    // eject with the tray open: success (removes the medium), no event.
    vm.qmp.ok("eject", json!({"id": "cdrom0"}));
    assert!(vm.qmp.take_events("DEVICE_TRAY_MOVED").is_empty());
    assert_eq!(gesn(&mut vm).1 & 0x03, 0x01, "tray open, no medium");
}

#[test]
fn change_medium_event_order_and_unit_attention() {
    let mut vm = start();
    let b = image(vm.dir(), "b.iso", 32 * 2048);
    ok(packet(&mut vm, TUR), "TEST UNIT READY at power-on");
    vm.qmp.ok("blockdev-change-medium", json!({"device": "cd0", "filename": b}));
    let want = vec![moved("cd0", "cdrom0", true), moved("cd0", "cdrom0", false)];
    assert_eq!(vm.qmp.take_events("DEVICE_TRAY_MOVED"), want, "closed tray: true then false, before the return");
    // NOT READY / 0x3A once, then UNIT ATTENTION / 0x28, then ready.
    let (st, err, _) = packet(&mut vm, TUR);
    assert_eq!((st & 0x01, err >> 4), (1, 2), "first TUR after the change");
    assert_eq!(request_sense(&mut vm), (2, 0x3A));
    let (st, err, _) = packet(&mut vm, TUR);
    assert_eq!((st & 0x01, err), (1, 0x60), "then unit attention");
    assert_eq!(request_sense(&mut vm), (6, 0x28));
    ok(packet(&mut vm, TUR), "then ready");
    // READ CAPACITY sees the new, smaller medium.
    let d = ok(packet(&mut vm, cdb(&[0x25])), "READ CAPACITY");
    assert_eq!(u32::from_be_bytes([d[0], d[1], d[2], d[3]]), 31);
    // A locked tray refuses a change without force, and nothing moves.
    prevent_allow(&mut vm, true);
    let e = vm.qmp.err("blockdev-change-medium", json!({"id": "cdrom0", "filename": b}));
    let text = "Device 'cdrom0' is locked and force was not specified, wait for tray to open and try again";
    assert_eq!(e.1, text);
    assert!(vm.qmp.take_events("DEVICE_TRAY_MOVED").is_empty());
    let e = vm.qmp.err("blockdev-change-medium", json!({"id": "cdrom0", "filename": "/nonexistent/x.iso"}));
    assert_eq!(e.1, "Could not open '/nonexistent/x.iso': No such file or directory");
}

#[test]
fn remove_and_insert_a_named_node() {
    let mut vm = start();
    let n1 = image(vm.dir(), "n1.iso", 16 * 2048);
    vm.qmp.ok(
        "blockdev-add",
        json!({"driver": "raw", "node-name": "n1", "read-only": true, "file": {"driver": "file", "filename": n1}}),
    );
    let err = |vm: &mut Vm, cmd: &str, args: Value| vm.qmp.err(cmd, args).1;
    assert_eq!(err(&mut vm, "blockdev-remove-medium", json!({"id": "cdrom0"})), "Tray of device 'cdrom0' is not open");
    assert_eq!(err(&mut vm, "blockdev-insert-medium", json!({"id": "cdrom0", "node-name": "n"})), "Node 'n' not found");
    assert_eq!(
        err(&mut vm, "blockdev-insert-medium", json!({"id": "cdrom0", "node-name": "n1"})),
        "Tray of the device is not open"
    );
    vm.qmp.ok("blockdev-open-tray", json!({"id": "cdrom0"}));
    assert_eq!(
        err(&mut vm, "blockdev-insert-medium", json!({"id": "cdrom0", "node-name": "n1"})),
        "There already is a medium in the device"
    );
    vm.qmp.ok("blockdev-remove-medium", json!({"id": "cdrom0"}));
    vm.qmp.ok("blockdev-remove-medium", json!({"id": "cdrom0"}));
    vm.qmp.ok("blockdev-insert-medium", json!({"id": "cdrom0", "node-name": "n1"}));
    assert_eq!(
        err(&mut vm, "blockdev-insert-medium", json!({"id": "flop0", "node-name": "n1"})),
        "Node 'n1' is already in use"
    );
    vm.qmp.ok("blockdev-close-tray", json!({"id": "cdrom0"}));
    assert_eq!(
        vm.qmp.take_events("DEVICE_TRAY_MOVED"),
        vec![moved("cd0", "cdrom0", true), moved("cd0", "cdrom0", false)]
    );
    let (st, err, _) = packet(&mut vm, TUR);
    assert_eq!((st & 0x01, err >> 4), (1, 2), "NOT READY first");
    let (st, err, _) = packet(&mut vm, TUR);
    assert_eq!((st & 0x01, err), (1, 0x60), "then unit attention");
    assert_eq!(request_sense(&mut vm), (6, 0x28));
    let d = ok(packet(&mut vm, cdb(&[0x25])), "READ CAPACITY of n1");
    assert_eq!(u32::from_be_bytes([d[0], d[1], d[2], d[3]]), 15);
}

#[test]
fn device_lookup_and_non_removable_errors() {
    let mut vm = start();
    let e = vm.qmp.err("blockdev-open-tray", json!({"device": "cd0", "id": "cdrom0"}));
    assert_eq!(e, ("GenericError".to_string(), "Need exactly one of 'device' and 'id'".to_string()));
    let e = vm.qmp.err("eject", json!({}));
    assert_eq!(e.1, "Need exactly one of 'device' and 'id'");
    let e = vm.qmp.err("eject", json!({"device": "nosuch"}));
    assert_eq!(e, ("DeviceNotFound".to_string(), "Device 'nosuch' not found".to_string()));
    let e = vm.qmp.err("blockdev-open-tray", json!({"device": "hd0"}));
    assert_eq!(e.1, "Device 'hd0' is not removable");
    let e = vm.qmp.err("eject", json!({"id": "disk0"}));
    assert_eq!(e.1, "Device 'disk0' is not removable");
    vm.qmp.ok("blockdev-add", json!({"driver": "null-co", "node-name": "z"}));
    let e = vm.qmp.err("blockdev-insert-medium", json!({"id": "disk0", "node-name": "z"}));
    assert_eq!(e.1, "Device is not removable");
}

/// DIR bit 7 (DSKCHG) of the selected drive.
fn dskchg(vm: &mut Vm) -> bool {
    vm.qt.inb(0x3F7) & 0x80 != 0
}

fn fdc(vm: &mut Vm, bytes: &[u8], results: usize) {
    for &b in bytes {
        vm.qt.outb(0x3F5, b);
    }
    for _ in 0..results {
        vm.qt.inb(0x3F5);
    }
}

/// SEEK drive A to `cyl` and sense the interrupt.
fn seek(vm: &mut Vm, cyl: u8) {
    fdc(vm, &[0x0F, 0x00, cyl], 0);
    fdc(vm, &[0x08], 2);
}

#[test]
fn floppy_change_sets_dskchg_without_tray_events() {
    let mut vm = start();
    vm.qt.outb(0x3F2, 0x00);
    vm.qt.outb(0x3F2, 0x1C);
    for _ in 0..4 {
        fdc(&mut vm, &[0x08], 2);
    }
    seek(&mut vm, 2);
    assert!(!dskchg(&mut vm), "a seek with a medium clears DSKCHG");
    vm.qmp.ok("blockdev-open-tray", json!({"device": "fd0"}));
    vm.qmp.ok("blockdev-close-tray", json!({"id": "flop0"}));
    assert!(!dskchg(&mut vm), "floppies have no tray: open/close do nothing");
    let img = image(vm.dir(), "fd2.img", 737_280);
    vm.qmp.ok("blockdev-change-medium", json!({"device": "fd0", "filename": img}));
    assert!(dskchg(&mut vm), "DSKCHG after change-medium");
    seek(&mut vm, 5);
    assert!(!dskchg(&mut vm));
    vm.qmp.ok("eject", json!({"device": "fd0"}));
    assert!(dskchg(&mut vm), "DSKCHG after eject");
    seek(&mut vm, 7);
    assert!(dskchg(&mut vm), "stays set while no medium is present");
    assert!(vm.qmp.take_events("DEVICE_TRAY_MOVED").is_empty(), "no DEVICE_TRAY_MOVED for floppies");
}
