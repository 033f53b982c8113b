//! The ATAPI command logic driven directly: every command's success and
//! error paths, the tray/lock/unit-attention sequences of QEMU's cdrom
//! and eject tests, allocation lengths and READ range checks.

use ironide_dev_ide::atapi::*;
use proptest::prelude::*;

const CD_BYTES: u64 = 1000 * 2048;
const DVD_BYTES: u64 = 4 * 1024 * 1024 * 1024;

fn cdb(bytes: &[u8]) -> [u8; 12] {
    let mut c = [0u8; 12];
    c[..bytes.len()].copy_from_slice(bytes);
    c
}

fn run(cd: &mut Cdrom, bytes: &[u8]) -> PacketOutcome {
    cd.execute(&cdb(bytes))
}

fn data(cd: &mut Cdrom, bytes: &[u8]) -> Vec<u8> {
    match run(cd, bytes) {
        PacketOutcome::DataIn(d) => d,
        other => panic!("expected data for {bytes:02x?}, got {other:?} (sense {:?})", cd.sense()),
    }
}

/// The command fails; returns (sense key, ASC).
fn fails(cd: &mut Cdrom, bytes: &[u8]) -> (u8, u8) {
    assert_eq!(run(cd, bytes), PacketOutcome::Error, "command {bytes:02x?} should fail");
    (cd.sense_key(), cd.sense().asc)
}

fn ok(cd: &mut Cdrom, bytes: &[u8]) {
    assert_eq!(run(cd, bytes), PacketOutcome::Done, "command {bytes:02x?} (sense {:?})", cd.sense());
}

const TUR: &[u8] = &[0x00];
const REQUEST_SENSE: &[u8] = &[0x03, 0, 0, 0, 18];
const GESN: &[u8] = &[0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8];
const READ_CAPACITY: &[u8] = &[0x25];
const LOCK: &[u8] = &[0x1e, 0, 0, 0, 1];
const UNLOCK: &[u8] = &[0x1e, 0, 0, 0, 0];
const EJECT: &[u8] = &[0x1b, 0, 0, 0, 2];
const LOAD: &[u8] = &[0x1b, 0, 0, 0, 3];

fn read10(lba: u32, n: u16) -> [u8; 12] {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    cdb(&[0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1]])
}

fn read12(lba: u32, n: u32) -> [u8; 12] {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    cdb(&[0xa8, 0, l[0], l[1], l[2], l[3], c[0], c[1], c[2], c[3]])
}

fn read_cd(lba: u32, n: u32, flags: u8) -> [u8; 12] {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    cdb(&[0xbe, 0, l[0], l[1], l[2], l[3], c[1], c[2], c[3], flags])
}

/// GESN media event code and status.
fn gesn(cd: &mut Cdrom) -> (u8, u8) {
    let d = data(cd, GESN);
    assert_eq!(&d[..4], &[0, 4, 4, 0x10]);
    (d[4], d[5])
}

fn sense(cd: &mut Cdrom) -> (u8, u8) {
    let d = data(cd, REQUEST_SENSE);
    (d[2], d[12])
}

// ---- power-on ----

#[test]
fn medium_at_power_on_is_not_a_change() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert!(cd.has_medium() && !cd.tray_open() && !cd.locked());
    ok(&mut cd, TUR);
    assert_eq!(gesn(&mut cd), (0, 2));
    assert_eq!(cd.sense_key(), 0);
    assert!(!cd.take_irq_request());
    assert!(cd.take_tray_moves().is_empty());
}

#[test]
fn empty_drive_is_not_ready() {
    let mut cd = Cdrom::new(None);
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert_eq!(fails(&mut cd, READ_CAPACITY), (2, 0x3a));
    assert_eq!(fails(&mut cd, &read10(0, 1)), (2, 0x3a));
    assert_eq!(fails(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0, 0, 12]), (2, 0x3a));
    assert_eq!(fails(&mut cd, &[0x51, 0, 0, 0, 0, 0, 0, 0, 34]), (2, 0x3a));
    assert_eq!(fails(&mut cd, &[0xad, 0, 0, 0, 0, 0, 0, 0, 8, 0]), (2, 0x3a));
    assert_eq!(fails(&mut cd, &read_cd(0, 1, 0x10)), (2, 0x3a));
    assert_eq!(fails(&mut cd, &[0x2b]), (2, 0x3a));
    // Commands without the "needs medium" flag still work.
    assert_eq!(gesn(&mut cd), (0, 0));
    assert_eq!(data(&mut cd, &[0x12, 0, 0, 0, 36]).len(), 36);
    assert_eq!(data(&mut cd, &[0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 30]).len(), 30);
    ok(&mut cd, &[0xbb]);
    // Sense stays NOT READY across successes: only errors set it.
    assert_eq!(sense(&mut cd), (2, 0x3a));
    assert_eq!(sense(&mut cd), (2, 0x3a));
}

#[test]
fn tiny_medium_is_not_ready() {
    let mut cd = Cdrom::new(Some(511));
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    // A medium of one 512-byte sector is "present" but holds no 2048-byte
    // sector: the capacity wraps like QEMU's and every read is out of range.
    let mut cd = Cdrom::new(Some(512));
    ok(&mut cd, TUR);
    assert_eq!(data(&mut cd, READ_CAPACITY), vec![0xff, 0xff, 0xff, 0xff, 0, 0, 8, 0]);
    assert_eq!(fails(&mut cd, &read10(0, 1)), (5, 0x21));
}

// ---- sense ----

#[test]
fn request_sense_layout_and_allocation_length() {
    let mut cd = Cdrom::new(None);
    fails(&mut cd, TUR);
    let d = data(&mut cd, REQUEST_SENSE);
    assert_eq!(d.len(), 18);
    assert_eq!(d[0], 0xf0);
    assert_eq!(d[2], 2);
    assert_eq!(d[7], 10);
    assert_eq!(d[12], 0x3a);
    assert_eq!(d[13], 0);
    assert_eq!(data(&mut cd, &[0x03, 0, 0, 0, 8]).len(), 8);
    assert_eq!(data(&mut cd, &[0x03, 0, 0, 0, 255]).len(), 18);
    assert_eq!(data(&mut cd, &[0x03, 0, 0, 0, 0]), Vec::<u8>::new());
}

#[test]
fn unknown_opcodes_are_illegal() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    for op in [0x01u8, 0x1a, 0x55, 0xa0, 0xff] {
        assert_eq!(fails(&mut cd, &[op]), (5, 0x20), "opcode {op:#x}");
    }
}

#[test]
fn read_error_sense() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    cd.set_read_error(5);
    assert_eq!((cd.sense_key(), cd.sense().asc), (5, 0x21));
    cd.set_read_error(123);
    assert_eq!((cd.sense_key(), cd.sense().asc), (2, 0x3a));
    cd.set_read_error(-123);
    assert_eq!(cd.sense_key(), 2);
}

// ---- media change ----

#[test]
fn media_change_sequence() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(cd.open_tray(false), OpenTray::Opened);
    assert!(cd.tray_open());
    assert!(cd.take_irq_request());
    assert!(!cd.take_irq_request());
    assert_eq!(cd.open_tray(false), OpenTray::AlreadyOpen);
    // Tray open: no events delivered, status "tray open", R commands fail.
    assert_eq!(gesn(&mut cd), (0, 1));
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    cd.remove_medium();
    cd.insert_medium(2 * CD_BYTES);
    assert!(!cd.take_irq_request());
    assert!(cd.close_tray());
    assert!(!cd.close_tray());
    assert!(cd.take_irq_request());
    // U commands do not consume the change report.
    assert_eq!(data(&mut cd, &[0x12, 0, 0, 0, 36]).len(), 36);
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert!(!cd.unit_attention_blocked());
    assert_eq!(fails(&mut cd, TUR), (6, 0x28));
    // Pending unit attention: non-U commands are refused.
    assert_eq!(fails(&mut cd, TUR), (6, 0x28));
    assert!(cd.unit_attention_blocked());
    assert_eq!(fails(&mut cd, READ_CAPACITY), (6, 0x28));
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0x01, 0, 0, 0, 0, 0, 16]), (6, 0x28));
    assert_eq!(fails(&mut cd, &[0x77]), (6, 0x28));
    // U commands run; GESN reports the new medium once.
    assert_eq!(gesn(&mut cd), (2, 2));
    assert_eq!(gesn(&mut cd), (0, 2));
    assert!(!cd.unit_attention_blocked());
    assert_eq!(sense(&mut cd), (6, 0x28));
    assert_eq!(cd.sense_key(), 0);
    ok(&mut cd, TUR);
    assert_eq!(data(&mut cd, READ_CAPACITY)[..4], (2 * 1000 - 1u32).to_be_bytes());
}

#[test]
fn removing_the_medium_keeps_the_change_pending() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    cd.open_tray(false);
    cd.remove_medium();
    cd.close_tray();
    // No medium: plain NOT READY, the change report waits for a medium.
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert_eq!(gesn(&mut cd), (2, 0));
    cd.open_tray(false);
    cd.insert_medium(CD_BYTES);
    cd.close_tray();
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert_eq!(fails(&mut cd, TUR), (6, 0x28));
    assert_eq!(sense(&mut cd), (6, 0x28));
    ok(&mut cd, TUR);
}

#[test]
fn request_sense_only_clears_unit_attention() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(fails(&mut cd, &read10(5000, 1)), (5, 0x21));
    assert_eq!(sense(&mut cd), (5, 0x21));
    assert_eq!(sense(&mut cd), (5, 0x21));
    cd.open_tray(false);
    cd.close_tray();
    fails(&mut cd, TUR);
    fails(&mut cd, TUR);
    assert_eq!(sense(&mut cd), (6, 0x28));
    // ASC stays, the key is cleared.
    assert_eq!(sense(&mut cd), (0, 0x28));
}

// ---- tray and lock (QEMU's eject tests) ----

#[test]
fn locked_tray_eject_request_then_guest_ejects() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    ok(&mut cd, LOCK);
    assert!(cd.locked());
    assert_eq!(data(&mut cd, &[0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 30])[14] & 2, 2);
    assert_eq!(cd.open_tray(false), OpenTray::EjectRequested);
    assert!(!cd.tray_open() && cd.locked());
    assert!(cd.take_irq_request());
    // The guest sees the request once; no media change was latched.
    assert_eq!(gesn(&mut cd), (1, 2));
    assert_eq!(gesn(&mut cd), (0, 2));
    ok(&mut cd, TUR);
    // Ejecting while locked is refused (medium present: NOT READY).
    assert_eq!(fails(&mut cd, EJECT), (2, 0x53));
    assert!(!cd.tray_open());
    ok(&mut cd, UNLOCK);
    assert_eq!(data(&mut cd, &[0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 30])[14] & 2, 0);
    ok(&mut cd, EJECT);
    assert!(cd.tray_open());
    assert_eq!(cd.take_tray_moves(), vec![true]);
    // Ejecting an open tray does nothing.
    ok(&mut cd, EJECT);
    assert!(cd.take_tray_moves().is_empty());
    ok(&mut cd, LOAD);
    assert!(!cd.tray_open());
    assert_eq!(cd.take_tray_moves(), vec![false]);
    // A guest-driven tray cycle is no media change (as in QEMU).
    ok(&mut cd, TUR);
    assert_eq!(gesn(&mut cd), (0, 2));
}

#[test]
fn forced_open_on_locked_tray() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    ok(&mut cd, LOCK);
    assert_eq!(cd.open_tray(true), OpenTray::Opened);
    assert!(cd.tray_open() && !cd.locked());
    assert!(cd.take_irq_request());
    assert!(cd.take_tray_moves().is_empty());
    cd.close_tray();
    // The forced open replaced the eject request with a new-media event.
    assert_eq!(gesn(&mut cd), (2, 2));
    assert_eq!(gesn(&mut cd), (0, 2));
}

#[test]
fn new_media_is_reported_before_eject_request() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    cd.open_tray(false);
    cd.close_tray();
    // PREVENT ALLOW is subject to the change report like any non-U command.
    assert_eq!(fails(&mut cd, LOCK), (2, 0x3a));
    assert_eq!(fails(&mut cd, LOCK), (6, 0x28));
    assert!(!cd.locked());
    sense(&mut cd);
    ok(&mut cd, LOCK);
    assert_eq!(cd.open_tray(false), OpenTray::EjectRequested);
    assert_eq!(gesn(&mut cd), (2, 2));
    assert_eq!(gesn(&mut cd), (1, 2));
    assert_eq!(gesn(&mut cd), (0, 2));
}

#[test]
fn eject_locked_without_medium_is_illegal_request() {
    let mut cd = Cdrom::new(None);
    ok(&mut cd, LOCK);
    assert_eq!(fails(&mut cd, EJECT), (5, 0x53));
}

#[test]
fn start_stop_unit_variants() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    // Power condition set: no tray move even with LoEj.
    ok(&mut cd, &[0x1b, 0, 0, 0, 0x12]);
    // LoEj clear: start/stop the motor, nothing moves.
    ok(&mut cd, &[0x1b, 0, 0, 0, 0]);
    ok(&mut cd, &[0x1b, 0, 0, 0, 1]);
    assert!(!cd.tray_open());
    assert!(cd.take_tray_moves().is_empty());
    // Loading a closed tray does nothing.
    ok(&mut cd, LOAD);
    assert!(cd.take_tray_moves().is_empty());
    // Eject with the tray already open while locked is allowed (no-op).
    ok(&mut cd, EJECT);
    ok(&mut cd, LOCK);
    ok(&mut cd, EJECT);
    assert_eq!(cd.take_tray_moves(), vec![true]);
    // Loading is never blocked by the lock.
    ok(&mut cd, LOAD);
    assert_eq!(cd.take_tray_moves(), vec![false]);
}

#[test]
fn reset_closes_tray_and_unlocks_without_event() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    ok(&mut cd, LOCK);
    cd.open_tray(true);
    cd.take_irq_request();
    assert!(cd.tray_open());
    fails(&mut cd, TUR);
    cd.reset();
    assert!(!cd.tray_open() && !cd.locked());
    assert_eq!(cd.sense_key(), 0);
    assert!(cd.take_tray_moves().is_empty());
    // The pending change report is dropped by the reset.
    ok(&mut cd, TUR);
    // A pending unit attention is cleared too.
    cd.open_tray(false);
    cd.close_tray();
    fails(&mut cd, TUR);
    fails(&mut cd, TUR);
    cd.reset();
    ok(&mut cd, TUR);
}

#[test]
fn closed_tray_medium_swap_counts_as_change() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    cd.insert_medium(2 * CD_BYTES);
    assert!(cd.take_irq_request());
    assert_eq!(fails(&mut cd, TUR), (2, 0x3a));
    assert_eq!(fails(&mut cd, TUR), (6, 0x28));
}

// ---- data commands ----

#[test]
fn inquiry() {
    let mut cd = Cdrom::new(None);
    let d = data(&mut cd, &[0x12, 0, 0, 0, 96]);
    assert_eq!(d.len(), 36);
    assert_eq!(d[0], 5);
    assert_eq!(d[1], 0x80);
    assert_eq!(d[4], 31);
    assert_eq!(&d[8..16], b"QEMU    ");
    assert_eq!(&d[16..32], b"QEMU DVD-ROM    ");
    assert_eq!(&d[32..36], b"2.5+");
    assert_eq!(data(&mut cd, &[0x12, 0, 0, 0, 5]).len(), 5);
    assert_eq!(data(&mut cd, &[0x12, 1, 0, 0, 255]), vec![5, 0, 0, 2, 0, 0x83]);
    assert_eq!(fails(&mut cd, &[0x12, 1, 0x83, 0, 20]), (5, 0x4b));
    cd.set_identity(Identity { model: "M".into(), serial: "S123".into(), revision: "9.9".into() });
    let d = data(&mut cd, &[0x12, 1, 0x83, 0, 255]);
    assert_eq!(d.len(), 100);
    assert_eq!(&d[8..12], b"S123");
    assert_eq!(&d[32..40], b"ATA     ");
    assert_eq!(&data(&mut cd, &[0x12, 0, 0, 0, 36])[32..36], b"9.9 ");
    assert_eq!(fails(&mut cd, &[0x12, 1, 0x80, 0, 255]), (5, 0x24));
}

#[test]
fn read_capacity() {
    let mut cd = Cdrom::new(Some(CD_BYTES + 100));
    assert_eq!(data(&mut cd, READ_CAPACITY), vec![0, 0, 0x03, 0xe7, 0, 0, 8, 0]);
}

#[test]
fn read_range_checks() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    let user = SectorFormat::User2048;
    assert_eq!(cd.execute(&read10(0, 1)), PacketOutcome::Read { lba: 0, sectors: 1, format: user });
    assert_eq!(cd.execute(&read10(990, 10)), PacketOutcome::Read { lba: 990, sectors: 10, format: user });
    assert_eq!(cd.execute(&read10(990, 11)), PacketOutcome::Error);
    assert_eq!((cd.sense_key(), cd.sense().asc), (5, 0x21));
    assert_eq!(cd.execute(&read10(1000, 1)), PacketOutcome::Error);
    // A zero count succeeds without a range check, as in QEMU.
    assert_eq!(cd.execute(&read10(5000, 0)), PacketOutcome::Done);
    assert_eq!(cd.execute(&read12(10, 990)), PacketOutcome::Read { lba: 10, sectors: 990, format: user });
    assert_eq!(cd.execute(&read12(10, 991)), PacketOutcome::Error);
    // A count that would wrap 32-bit arithmetic is still out of range.
    assert_eq!(cd.execute(&read12(10, u32::MAX)), PacketOutcome::Error);
    assert_eq!(cd.execute(&read12(u32::MAX, 1)), PacketOutcome::Error);
    assert_eq!(cd.execute(&read12(0, 0)), PacketOutcome::Done);
}

#[test]
fn seek() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    ok(&mut cd, &[0x2b, 0, 0, 0, 0x03, 0xe7]);
    assert_eq!(fails(&mut cd, &[0x2b, 0, 0, 0, 0x03, 0xe8]), (5, 0x21));
}

#[test]
fn read_toc_formats() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    let d = data(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0, 0, 100]);
    assert_eq!(d, vec![0, 18, 1, 1, 0, 0x14, 1, 0, 0, 0, 0, 0, 0, 0x16, 0xaa, 0, 0, 0, 0x03, 0xe8]);
    let d = data(&mut cd, &[0x43, 2, 0, 0, 0, 0, 0, 0, 100]);
    assert_eq!(&d[8..12], &[0, 0, 2, 0]);
    assert_eq!(&d[16..20], &[0, 0, 15, 25]);
    // Starting at the lead-out: only that descriptor.
    let d = data(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0xaa, 0, 100]);
    assert_eq!(d, vec![0, 10, 1, 1, 0, 0x16, 0xaa, 0, 0, 0, 0x03, 0xe8]);
    assert_eq!(fails(&mut cd, &[0x43, 0, 0, 0, 0, 0, 2, 0, 100]), (5, 0x24));
    // Allocation length cut.
    assert_eq!(data(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0, 0, 4]), vec![0, 18, 1, 1]);
    // Format 1: session info.
    let d = data(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0x40]);
    assert_eq!(d, vec![0, 10, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // Format 2: raw TOC with A0/A1/A2/track 1.
    let d = data(&mut cd, &[0x43, 2, 0, 0, 0, 0, 0, 0, 100, 0x80]);
    assert_eq!(d.len(), 48);
    assert_eq!(&d[..4], &[0, 46, 1, 1]);
    assert_eq!([d[7], d[18], d[29], d[40]], [0xa0, 0xa1, 0xa2, 1]);
    assert_eq!(&d[33..37], &[0, 0, 15, 25]);
    assert_eq!(&d[44..48], &[0, 0, 2, 0]);
    assert_eq!(fails(&mut cd, &[0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0xc0]), (5, 0x24));
}

#[test]
fn get_configuration_profiles() {
    let cfg: &[u8] = &[0x46, 0, 0, 0, 0, 0, 0, 0, 255];
    let mut cd = Cdrom::new(Some(CD_BYTES));
    let d = data(&mut cd, cfg);
    assert_eq!(d, vec![0, 0, 0, 16, 0, 0, 0, 0x08, 0, 0, 3, 8, 0, 0x10, 0, 0, 0, 0x08, 1, 0]);
    let mut dvd = Cdrom::new(Some(DVD_BYTES));
    let d = data(&mut dvd, cfg);
    assert_eq!(&d[6..8], &[0, 0x10]);
    assert_eq!((d[14], d[18]), (1, 0));
    // The 80-minute boundary.
    let mut cd = Cdrom::new(Some(80 * 60 * 75 * 2048));
    assert_eq!(data(&mut cd, cfg)[7], 0x08);
    let mut cd = Cdrom::new(Some(80 * 60 * 75 * 2048 + 512));
    assert_eq!(data(&mut cd, cfg)[7], 0x10);
    // No readable medium: no current profile.
    let mut none = Cdrom::new(None);
    let d = data(&mut none, cfg);
    assert_eq!(&d[6..8], &[0, 0]);
    assert_eq!((d[14], d[18]), (0, 0));
    assert_eq!(data(&mut none, &[0x46, 0, 0, 0, 0, 0, 0, 0, 8]).len(), 8);
    // RT is ignored; a non-zero starting feature is not supported.
    assert_eq!(data(&mut none, &[0x46, 2, 0, 0, 0, 0, 0, 0, 255]).len(), 20);
    assert_eq!(fails(&mut none, &[0x46, 0, 0, 1, 0, 0, 0, 0, 255]), (5, 0x24));
}

#[test]
fn gesn_fields() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(fails(&mut cd, &[0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8]), (5, 0x24));
    assert_eq!(data(&mut cd, &[0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8]), vec![0, 0, 0x80, 0x10]);
    assert_eq!(data(&mut cd, &[0x4a, 1, 0, 0, 0x10, 0, 0, 0, 4]), vec![0, 4, 4, 0x10]);
    assert_eq!(data(&mut cd, &[0x4a, 1, 0, 0, 0x10, 0, 0, 1, 0]).len(), 8);
}

#[test]
fn read_disc_information() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    let d = data(&mut cd, &[0x51, 0, 0, 0, 0, 0, 0, 0, 100]);
    assert_eq!(d.len(), 34);
    assert_eq!(&d[..9], &[0, 32, 0x0e, 1, 1, 1, 1, 0x20, 0]);
    assert_eq!(data(&mut cd, &[0x51, 0, 0, 0, 0, 0, 0, 0, 2]), vec![0, 32]);
    assert_eq!(fails(&mut cd, &[0x51, 1, 0, 0, 0, 0, 0, 0, 100]), (5, 0x24));
}

#[test]
fn mode_sense_pages() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    let d = data(&mut cd, &[0x5a, 0, 0x01, 0, 0, 0, 0, 0, 255]);
    assert_eq!(d, vec![0, 14, 0x70, 0, 0, 0, 0, 0, 0x01, 6, 0, 5, 0, 0, 0, 0]);
    let d = data(&mut cd, &[0x5a, 0, 0x0e, 0, 0, 0, 0, 0, 255]);
    assert_eq!((d.len(), d[0..2].to_vec(), d[8], d[9]), (24, vec![0, 22], 0x0e, 14));
    let d = data(&mut cd, &[0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 255]);
    assert_eq!(d.len(), 30);
    assert_eq!(&d[8..16], &[0x2a, 20, 0x3b, 0, 0x71, 0x60, 0x29, 0]);
    assert_eq!(&d[16..24], &[0x02, 0xc0, 0, 2, 0x02, 0x00, 0x02, 0xc0]);
    assert_eq!(data(&mut cd, &[0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 10]).len(), 10);
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255]), (5, 0x24));
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0x05, 0, 0, 0, 0, 0, 255]), (5, 0x24));
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0x6a, 0, 0, 0, 0, 0, 255]), (5, 0x24));
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0xaa, 0, 0, 0, 0, 0, 255]), (5, 0x24));
    assert_eq!(fails(&mut cd, &[0x5a, 0, 0xc1, 0, 0, 0, 0, 0, 255]), (5, 0x39));
}

#[test]
fn read_dvd_structure() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(fails(&mut cd, &[0xad, 0, 0, 0, 0, 0, 0, 0, 8, 4]), (5, 0x30));
    assert_eq!(data(&mut cd, &[0xad, 0, 0, 0, 0, 0, 0, 0xff, 0, 100]).len(), 20);
    let mut dvd = Cdrom::new(Some(DVD_BYTES));
    let d = data(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 0, 8, 4]);
    assert_eq!(d.len(), 2052);
    assert_eq!(&d[..8], &[0x08, 0x02, 0, 0, 1, 0x0f, 1, 0]);
    let last = (DVD_BYTES / 2048 - 1) as u32;
    assert_eq!(&d[12..16], &last.to_be_bytes());
    assert_eq!(&d[16..20], &last.to_be_bytes());
    assert_eq!(data(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 0, 0, 16]).len(), 16);
    assert_eq!(data(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 1, 0, 100]).len(), 8);
    assert_eq!(data(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 4, 16, 4]).len(), 2052);
    assert_eq!(fails(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 3, 0, 100]), (5, 0x24));
    assert_eq!(fails(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 0x30, 0, 100]), (5, 0x24));
    assert_eq!(fails(&mut dvd, &[0xad, 1, 0, 0, 0, 0, 0, 0, 0, 100]), (5, 0x24));
    assert_eq!(fails(&mut dvd, &[0xad, 0, 0, 0, 0, 0, 0, 0x80, 0, 100]), (5, 0x24));
}

#[test]
fn set_speed_and_mechanism_status() {
    let mut cd = Cdrom::new(None);
    ok(&mut cd, &[0xbb, 0, 0xff, 0xff]);
    assert_eq!(data(&mut cd, &[0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8]), vec![0, 0, 0, 0, 0, 1, 0, 0]);
    assert_eq!(data(&mut cd, &[0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 3]), vec![0, 0, 0]);
}

#[test]
fn read_cd_variants() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(
        cd.execute(&read_cd(5, 2, 0x10)),
        PacketOutcome::Read { lba: 5, sectors: 2, format: SectorFormat::User2048 }
    );
    assert_eq!(
        cd.execute(&read_cd(5, 2, 0xf8)),
        PacketOutcome::Read { lba: 5, sectors: 2, format: SectorFormat::Raw2352 }
    );
    assert_eq!(cd.execute(&read_cd(5, 2, 0x00)), PacketOutcome::Done);
    assert_eq!(cd.execute(&read_cd(5, 0, 0x10)), PacketOutcome::Done);
    // Low bits (C2/subchannel) are ignored.
    assert_eq!(
        cd.execute(&read_cd(5, 1, 0x12)),
        PacketOutcome::Read { lba: 5, sectors: 1, format: SectorFormat::User2048 }
    );
    assert_eq!(fails(&mut cd, &read_cd(5, 1, 0x18)), (5, 0x24));
    assert_eq!(fails(&mut cd, &read_cd(5, 1, 0x80)), (5, 0x24));
    assert_eq!(fails(&mut cd, &read_cd(999, 2, 0x10)), (5, 0x21));
    assert_eq!(fails(&mut cd, &read_cd(0, 0xff_ffff, 0xf8)), (5, 0x21));
}

#[test]
fn raw_sector_layout() {
    let cd = Cdrom::new(Some(CD_BYTES));
    let user = [0x5a; 2048];
    let s = cd.raw_sector(16, &user);
    assert_eq!(s.len(), 2352);
    assert_eq!(&s[..12], &[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]);
    // Binary MSF of LBA 16 + 150 frames, mode 1.
    assert_eq!(&s[12..16], &[0, 2, 16, 1]);
    assert!(s[16..2064].iter().all(|&b| b == 0x5a));
    assert!(s[2064..].iter().all(|&b| b == 0));
    assert_eq!(cd.raw_sector(0, &[1; 10]).len(), 2352);
    assert_eq!(cd.raw_sector(0, &[1; 5000]).len(), 2352);
}

// ---- the ATA-level byte-count-limit check ----

#[test]
fn zero_byte_count_limit_aborts_data_commands_only() {
    let mut cd = Cdrom::new(Some(CD_BYTES));
    assert_eq!(cd.execute_with_bcl(&cdb(READ_CAPACITY), false), None);
    assert_eq!(cd.sense_key(), 0);
    assert_eq!(cd.execute_with_bcl(&cdb(TUR), false), Some(PacketOutcome::Done));
    assert_eq!(
        cd.execute_with_bcl(&read_cd(0, 1, 0x10), false).map(|o| matches!(o, PacketOutcome::Read { .. })),
        Some(true)
    );
    assert_eq!(cd.execute_with_bcl(&cdb(&[0x77]), false), Some(PacketOutcome::Error));
    assert!(Cdrom::is_data_command(0x28) && !Cdrom::is_data_command(0x00));
    // Not-ready is reported before the byte-count check.
    let mut empty = Cdrom::new(None);
    assert_eq!(empty.execute_with_bcl(&cdb(READ_CAPACITY), false), Some(PacketOutcome::Error));
    assert_eq!(empty.sense_key(), 2);
}

// ---- fuzzing ----

#[test]
fn fuzz_cdb_smoke() {
    fuzz_cdb(&[]);
    fuzz_cdb(&[1, 0x80, 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 6, 7, 8, 0x10, 9, 10, 11, 0xff]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_cdb_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzz_cdb(&data);
    }
}
