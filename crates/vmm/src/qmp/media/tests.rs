//! The media commands on a qtest machine, with the guest side driven
//! through port I/O (ATAPI packets on the secondary channel, FDC DIR).

use std::path::Path;

use ironide_block::engine::AioMode;
use ironide_block::layer::NodeSpec;
use ironide_qmp::schema::{ChangeMedium, DeviceSel, ReadOnlyMode};
use ironide_qmp::{Command, Event, QmpError, QmpHandler};
use serde_json::{json, Value};

use super::*;
use crate::qmp::{MachineQmp, QmpState};
use crate::qtest::QtestMachine;

fn image(dir: &Path, name: &str, bytes: usize) -> String {
    let p = dir.join(name);
    std::fs::write(&p, vec![0x5Au8; bytes]).expect("image");
    p.display().to_string()
}

/// CD "cd0"/"cdrom0" at ide1 master, disk "hd0"/"disk0" at ide0 master,
/// floppy A "fd0"/"flop0", an empty anonymous CD "cdx" at ide1 slave.
fn machine(dir: &Path) -> Machine {
    let iso = image(dir, "a.iso", 64 * 2048);
    let hd = image(dir, "hd.img", 1 << 20);
    let fd = image(dir, "fd.img", 1_474_560);
    let args: Vec<String> = [
        "-machine".to_string(),
        "pc,accel=qtest".into(),
        "-nodefaults".into(),
        "-drive".into(),
        format!("if=none,id=cd0,media=cdrom,format=raw,file={iso}"),
        "-device".into(),
        "ide-cd,drive=cd0,id=cdrom0,bus=ide.1,unit=0".into(),
        "-device".into(),
        "ide-cd,id=cdx,bus=ide.1,unit=1".into(),
        "-drive".into(),
        format!("if=none,id=hd0,format=raw,file={hd}"),
        "-device".into(),
        "ide-hd,drive=hd0,id=disk0,bus=ide.0,unit=0".into(),
        "-drive".into(),
        format!("if=none,id=fd0,format=raw,file={fd}"),
        "-device".into(),
        "floppy,drive=fd0,id=flop0,unit=0".into(),
    ]
    .to_vec();
    let cfg = crate::cmdline::parse(&args).expect("command line");
    crate::qtest_machine(&cfg).expect("qtest machine")
}

fn by_id(id: &str) -> DeviceSel {
    DeviceSel { device: None, id: Some(id.into()) }
}

fn by_dev(device: &str) -> DeviceSel {
    DeviceSel { device: Some(device.into()), id: None }
}

fn desc(r: Result<Value, QmpError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.to_json()["desc"].as_str().unwrap_or_default().to_string(),
    }
}

fn tray(ev: &[Event]) -> Vec<Value> {
    ev.iter().inspect(|e| assert_eq!(e.name, "DEVICE_TRAY_MOVED")).map(|e| e.data.clone().unwrap_or_default()).collect()
}

fn change(sel: DeviceSel, filename: &str) -> ChangeMedium {
    ChangeMedium { sel, filename: filename.into(), format: None, force: false, read_only_mode: ReadOnlyMode::Retain }
}

/// One ATAPI packet on the secondary master, PIO, byte-count limit 2048.
/// Returns (status, error, data).
fn packet(m: &mut Machine, cdb: [u8; 12]) -> (u32, u32, Vec<u8>) {
    m.pio_write(0x176, 1, 0xA0);
    m.pio_write(0x171, 1, 0);
    m.pio_write(0x174, 1, 0x00);
    m.pio_write(0x175, 1, 0x08);
    m.pio_write(0x177, 1, 0xA0);
    for w in cdb.chunks(2) {
        m.pio_write(0x170, 2, u32::from(w[0]) | u32::from(w[1]) << 8);
    }
    let mut data = Vec::new();
    for _ in 0..64 {
        QtestMachine::settle(m);
        let st = m.pio_read(0x177, 1);
        if st & 0x08 == 0 {
            return (st, m.pio_read(0x171, 1), data);
        }
        let n = m.pio_read(0x174, 1) | m.pio_read(0x175, 1) << 8;
        for _ in 0..n.div_ceil(2) {
            data.extend_from_slice(&(m.pio_read(0x170, 2) as u16).to_le_bytes());
        }
    }
    panic!("ATAPI command {:#x} never ended", cdb[0]);
}

fn cdb(bytes: &[u8]) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[..bytes.len()].copy_from_slice(bytes);
    c
}

const TUR: [u8; 12] = [0; 12];

fn lock(m: &mut Machine, on: bool) {
    let (st, _, _) = packet(m, cdb(&[0x1E, 0, 0, 0, u8::from(on)]));
    assert_eq!(st & 0x01, 0, "PREVENT ALLOW failed");
}

/// GET EVENT STATUS NOTIFICATION, media class: (event code, status byte).
fn gesn(m: &mut Machine) -> (u8, u8) {
    let (st, _, d) = packet(m, cdb(&[0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8]));
    assert_eq!(st & 0x01, 0, "GESN failed");
    (d[4] & 0x0F, d[5])
}

fn request_sense(m: &mut Machine) -> (u8, u8) {
    let (_, _, d) = packet(m, cdb(&[0x03, 0, 0, 0, 18]));
    (d[2] & 0x0F, d[12])
}

#[test]
fn locked_tray_asks_the_guest_which_then_ejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    lock(&mut m, true);
    let mut ev = Vec::new();
    assert_eq!(open_tray(&mut m, &by_id("cdrom0"), false, &mut ev).expect("open-tray"), json!({}));
    assert!(ev.is_empty(), "no event while locked: {ev:?}");
    assert_eq!(gesn(&mut m), (1, 2), "eject requested; tray closed, medium present");
    // eject without force: the guest's lock wins, name as passed.
    let e = desc(eject(&mut m, &by_dev("cd0"), false, &mut ev));
    assert_eq!(e, "Device 'cd0' is locked and force was not specified, wait for tray to open and try again");
    assert!(ev.is_empty());
    lock(&mut m, false);
    let (st, _, _) = packet(&mut m, cdb(&[0x1B, 0, 0, 0, 0x02]));
    assert_eq!(st & 0x01, 0, "START STOP UNIT eject");
    let moved = tray(&guest_tray_events(&mut m));
    assert_eq!(moved, vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": true})]);
    assert!(guest_tray_events(&mut m).is_empty(), "reported once");
    // Already open: a no-op without an event.
    open_tray(&mut m, &by_id("cdrom0"), false, &mut ev).expect("open again");
    assert!(ev.is_empty());
}

#[test]
fn force_clears_the_lock_and_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    lock(&mut m, true);
    let mut ev = Vec::new();
    open_tray(&mut m, &by_dev("cd0"), true, &mut ev).expect("forced open");
    assert_eq!(tray(&ev), vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": true})]);
    let s = m.ide.tray_state(1, 0).expect("tray");
    assert!(s.open && !s.locked && s.has_medium);
    ev.clear();
    close_tray(&mut m, &by_dev("cd0"), &mut ev).expect("close");
    assert_eq!(tray(&ev), vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": false})]);
    ev.clear();
    close_tray(&mut m, &by_dev("cd0"), &mut ev).expect("close again");
    assert!(ev.is_empty(), "closing a closed tray is a no-op");
}

#[test]
fn eject_unlocked_opens_and_empties_forced_eject_on_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let b = m.drives.iter().find(|d| d.backend_name == "cd0").expect("cd0").backend;
    let mut ev = Vec::new();
    eject(&mut m, &by_id("cdrom0"), false, &mut ev).expect("eject");
    assert_eq!(tray(&ev), vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": true})]);
    assert!(!m.env.layer.has_medium(b));
    assert!(!m.ide.tray_state(1, 0).expect("tray").has_medium);
    // Tray open, no medium: still a success, no event.
    ev.clear();
    eject(&mut m, &by_id("cdrom0"), false, &mut ev).expect("eject again");
    assert!(ev.is_empty());
}

#[test]
fn change_medium_events_and_unit_attention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let b_iso = image(dir.path(), "b.iso", 32 * 2048);
    let (st, _, _) = packet(&mut m, TUR);
    assert_eq!(st & 0x01, 0, "medium present at power-on: ready");
    let mut ev = Vec::new();
    change_medium(&mut m, &change(by_dev("cd0"), &b_iso), &mut ev).expect("change");
    let want = |open| json!({"device": "cd0", "id": "cdrom0", "tray-open": open});
    assert_eq!(tray(&ev), vec![want(true), want(false)]);
    let b = m.drives.iter().find(|d| d.backend_name == "cd0").expect("cd0").backend;
    let info = m.env.layer.medium_info(b).expect("medium");
    assert_eq!(info.size, 32 * 2048);
    assert!(info.read_only, "retain keeps a CD read-only");
    assert!(info.node.node_name.starts_with('#'), "automatic node name, got {}", info.node.node_name);
    // NOT READY / medium not present once, then UNIT ATTENTION / 0x28.
    let (st, err, _) = packet(&mut m, TUR);
    assert_eq!((st & 0x01, err >> 4), (1, 2), "first TUR: NOT READY");
    assert_eq!(request_sense(&mut m), (2, 0x3A));
    let (st, err, _) = packet(&mut m, TUR);
    assert_eq!((st & 0x01, err >> 4), (1, 6), "then UNIT ATTENTION");
    assert_eq!(request_sense(&mut m), (6, 0x28));
    let (st, _, _) = packet(&mut m, TUR);
    assert_eq!(st & 0x01, 0, "then ready");
}

#[test]
fn change_medium_on_locked_tray_and_bad_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let before = m.env.layer.nodes().len();
    let mut ev = Vec::new();
    let e = desc(change_medium(&mut m, &change(by_dev("cd0"), "/nonexistent/x.iso"), &mut ev));
    assert_eq!(e, "Could not open '/nonexistent/x.iso': No such file or directory");
    lock(&mut m, true);
    let b_iso = image(dir.path(), "b.iso", 32 * 2048);
    let e = desc(change_medium(&mut m, &change(by_id("cdrom0"), &b_iso), &mut ev));
    assert_eq!(e, "Device 'cdrom0' is locked and force was not specified, wait for tray to open and try again");
    assert!(ev.is_empty());
    assert_eq!(m.env.layer.nodes().len(), before, "the new image was closed again");
    let mut c = change(by_id("cdrom0"), &b_iso);
    c.force = true;
    c.read_only_mode = ReadOnlyMode::ReadOnly;
    change_medium(&mut m, &c, &mut ev).expect("forced change");
    assert_eq!(ev.len(), 2);
    c.format = Some("qcow9".into());
    assert_eq!(desc(change_medium(&mut m, &c, &mut ev)), "Unknown driver 'qcow9'");
}

#[test]
fn remove_and_insert_error_texts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let iso = image(dir.path(), "n1.iso", 16 * 2048);
    let mut spec = NodeSpec::raw_over_file(&iso, true, false, false, AioMode::Auto);
    spec.node_name = Some("n1".into());
    m.env.layer.add_node(&spec, true).expect("n1");
    let mut ev = Vec::new();
    let both = DeviceSel { device: Some("cd0".into()), id: Some("cdrom0".into()) };
    assert_eq!(desc(open_tray(&mut m, &both, false, &mut ev)), "Need exactly one of 'device' and 'id'");
    let none = DeviceSel { device: None, id: None };
    assert_eq!(desc(close_tray(&mut m, &none, &mut ev)), "Need exactly one of 'device' and 'id'");
    let e = eject(&mut m, &by_dev("nosuch"), false, &mut ev).expect_err("unknown");
    assert_eq!(e.to_json(), json!({"class": "DeviceNotFound", "desc": "Device 'nosuch' not found"}));
    assert_eq!(desc(open_tray(&mut m, &by_dev("hd0"), false, &mut ev)), "Device 'hd0' is not removable");
    assert_eq!(desc(eject(&mut m, &by_id("disk0"), true, &mut ev)), "Device 'disk0' is not removable");
    assert_eq!(desc(insert_medium(&mut m, "disk0", "n1", &mut ev)), "Device is not removable");
    assert_eq!(desc(remove_medium(&mut m, "cdrom0", &mut ev)), "Tray of device 'cdrom0' is not open");
    assert_eq!(desc(insert_medium(&mut m, "cdrom0", "n", &mut ev)), "Node 'n' not found");
    assert_eq!(desc(insert_medium(&mut m, "cdrom0", "n1", &mut ev)), "Tray of the device is not open");
    open_tray(&mut m, &by_id("cdrom0"), false, &mut ev).expect("open");
    assert_eq!(desc(insert_medium(&mut m, "cdrom0", "n1", &mut ev)), "There already is a medium in the device");
    remove_medium(&mut m, "cdrom0", &mut ev).expect("remove");
    remove_medium(&mut m, "cdrom0", &mut ev).expect("open and empty: no-op");
    insert_medium(&mut m, "cdrom0", "n1", &mut ev).expect("insert n1");
    // The anonymous empty CD: reachable by id, events name no backend.
    ev.clear();
    open_tray(&mut m, &by_id("cdx"), false, &mut ev).expect("open cdx");
    assert_eq!(tray(&ev), vec![json!({"device": "", "id": "cdx", "tray-open": true})]);
    assert_eq!(desc(insert_medium(&mut m, "cdx", "n1", &mut ev)), "Node 'n1' is already in use");
    // QOM path of a user-named device.
    close_tray(&mut m, &by_id("/machine/peripheral/cdx"), &mut ev).expect("close by path");
    assert_eq!(tray(&ev[1..]), vec![json!({"device": "", "id": "cdx", "tray-open": false})]);
    assert!(m.ide.tray_state(1, 0).expect("tray").has_medium);
}

/// DIR bit 7 of the selected drive A (controller out of reset, motor on).
fn dskchg(m: &mut Machine) -> bool {
    m.pio_read(0x3F7, 1) & 0x80 != 0
}

fn fdc_cmd(m: &mut Machine, bytes: &[u8], results: usize) -> Vec<u32> {
    for &b in bytes {
        m.pio_write(0x3F5, 1, u32::from(b));
    }
    (0..results).map(|_| m.pio_read(0x3F5, 1)).collect()
}

#[test]
fn floppy_has_no_tray_and_changes_raise_dskchg() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    m.pio_write(0x3F2, 1, 0x00);
    m.pio_write(0x3F2, 1, 0x1C);
    for _ in 0..4 {
        fdc_cmd(&mut m, &[0x08], 2);
    }
    // A seek to another cylinder with a medium clears DSKCHG.
    fdc_cmd(&mut m, &[0x0F, 0x00, 0x02], 0);
    fdc_cmd(&mut m, &[0x08], 2);
    assert!(!dskchg(&mut m), "DSKCHG cleared by the seek");
    let mut ev = Vec::new();
    open_tray(&mut m, &by_dev("fd0"), false, &mut ev).expect("open-tray on a floppy");
    close_tray(&mut m, &by_id("flop0"), &mut ev).expect("close-tray on a floppy");
    assert!(!dskchg(&mut m) && ev.is_empty(), "no tray: nothing happens");
    let img = image(dir.path(), "fd2.img", 737_280);
    change_medium(&mut m, &change(by_dev("fd0"), &img), &mut ev).expect("change floppy");
    assert!(ev.is_empty(), "floppies send no DEVICE_TRAY_MOVED");
    assert!(dskchg(&mut m), "DSKCHG after a change");
    fdc_cmd(&mut m, &[0x0F, 0x00, 0x05], 0);
    fdc_cmd(&mut m, &[0x08], 2);
    assert!(!dskchg(&mut m));
    eject(&mut m, &by_id("flop0"), false, &mut ev).expect("eject floppy");
    assert!(dskchg(&mut m) && ev.is_empty());
    let b = m.drives.iter().find(|d| d.backend_name == "fd0").expect("fd0").backend;
    assert!(!m.env.layer.has_medium(b));
    assert_eq!(desc(insert_medium(&mut m, "flop0", "nosuch", &mut ev)), "Node 'nosuch' not found");
}

#[test]
fn through_the_handler() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = machine(dir.path());
    let mut state = QmpState::default();
    let mut h = MachineQmp { machine: &mut m, state: &mut state };
    let mut ev = Vec::new();
    let r = h.execute(Command::Eject { sel: by_dev("cd0"), force: false }, &mut ev);
    assert_eq!(r.expect("eject"), json!({}));
    assert_eq!(tray(&ev), vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": true})]);
    // The guest's tray moves come out of pending_events.
    packet(&mut m, cdb(&[0x1B, 0, 0, 0, 0x03]));
    let out = crate::qmp::pending_events(&mut m, &mut state);
    assert_eq!(tray(&out), vec![json!({"device": "cd0", "id": "cdrom0", "tray-open": false})]);
}
