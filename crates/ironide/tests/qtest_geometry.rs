//! Disk geometry over the qtest socket, in the spirit of QEMU's hd-geo-test:
//! the CMOS bytes for the BIOS (0x12, 0x19/0x1A, 0x1B.., 0x24.., 0x39) and
//! IDENTIFY words 1/3/6 for blank disks, disks with an MBR, user geometry
//! and translation, and CD-ROMs in the slots.

mod common;

use common::ide::{identify, PRIMARY, SECONDARY};
use common::{image, Qtest};

const SMALL: u64 = 61_440;
const LARGE: u64 = 8_388_608;

/// An image of `sectors` sectors; with `end_head`, an MBR whose first
/// partition ends on that head (sector 63) and covers the disk.
fn disk(sectors: u64, end_head: Option<u8>) -> (tempfile::NamedTempFile, String) {
    let mut mbr = [0u8; 512];
    if let Some(h) = end_head {
        let e = &mut mbr[0x1BE..0x1CE];
        e[0] = 0x80;
        e[1..4].copy_from_slice(&[1, 1, 0]); // start: head 1, sector 1, cylinder 0
        e[4] = 0x83;
        e[5..8].copy_from_slice(&[h, 0xFF, 0xFF]); // end: head h, sector 63, cylinder 1023
        e[8..12].copy_from_slice(&63u32.to_le_bytes());
        e[12..16].copy_from_slice(&((sectors - 63) as u32).to_le_bytes());
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
    }
    image("qt-geo", sectors * 512, true, |off| mbr.get(off as usize).copied().unwrap_or(0))
}

/// One IDE slot: index 0-3 and the extra `-device ide-hd` properties (None:
/// a plain `-drive if=ide`).
struct Slot<'a> {
    index: usize,
    path: &'a str,
    props: Option<&'a str>,
}

fn start(slots: &[Slot]) -> Qtest {
    let mut args: Vec<String> = Vec::new();
    for s in slots {
        match s.props {
            None => {
                args.push("-drive".into());
                args.push(format!("file={},if=ide,index={},format=raw", s.path, s.index));
            }
            Some(p) => {
                args.push("-drive".into());
                args.push(format!("file={},if=none,id=d{},format=raw", s.path, s.index));
                args.push("-device".into());
                args.push(format!("ide-hd,drive=d{0},bus=ide.{1},unit={2}{p}", s.index, s.index / 2, s.index % 2));
            }
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Qtest::start(&refs)
}

/// The nine CMOS bytes of a disk with physical geometry c/h/s.
fn disk_bytes(c: u16, h: u8, s: u8) -> [u8; 9] {
    let [lo, hi] = c.to_le_bytes();
    [lo, hi, h, 0xFF, 0xFF, 0xC0 | if h > 8 { 0x08 } else { 0 }, lo, hi, s]
}

fn cmos_range(q: &mut Qtest, reg: u8, n: u8) -> Vec<u8> {
    (reg..reg + n).map(|r| q.cmos(r)).collect()
}

/// Checks IDENTIFY words 1/3/6 of slot `index`.
fn check_identify(q: &mut Qtest, index: usize, chs: (u16, u16, u16)) {
    let base = if index < 2 { PRIMARY } else { SECONDARY };
    let w = identify(q, base, index % 2 == 1);
    assert_eq!((w[1], w[3], w[6]), chs, "IDENTIFY CHS of ide index {index}");
}

#[test]
fn no_disks() {
    let mut q = Qtest::start(&[]);
    assert_eq!(q.cmos(0x12), 0);
    assert_eq!((q.cmos(0x19), q.cmos(0x1A)), (0, 0));
    assert_eq!(q.cmos(0x39), 0);
}

#[test]
fn blank_disks_small_and_large() {
    // One image per drive: images are locked like QEMU's.
    let (_a, small) = disk(SMALL, None);
    let (_b, large) = disk(LARGE, None);
    let (_c, large2) = disk(LARGE, None);
    let (_d, small2) = disk(SMALL, None);
    let mut q = start(&[
        Slot { index: 0, path: &small, props: None },
        Slot { index: 1, path: &large, props: None },
        Slot { index: 2, path: &large2, props: None },
        Slot { index: 3, path: &small2, props: None },
    ]);
    assert_eq!(q.cmos(0x12), 0xFF);
    assert_eq!((q.cmos(0x19), q.cmos(0x1A)), (47, 47));
    assert_eq!(cmos_range(&mut q, 0x1B, 9), disk_bytes(60, 16, 63));
    assert_eq!(cmos_range(&mut q, 0x24, 9), disk_bytes(8322, 16, 63));
    // none, lba, lba, none.
    assert_eq!(q.cmos(0x39), 0b00_01_01_00);
    check_identify(&mut q, 0, (60, 16, 63));
    check_identify(&mut q, 1, (8322, 16, 63));
    check_identify(&mut q, 2, (8322, 16, 63));
    check_identify(&mut q, 3, (60, 16, 63));
}

#[test]
fn mbr_with_many_heads_gives_large_or_lba() {
    let (_a, small) = disk(SMALL, Some(127));
    let (_b, large) = disk(LARGE, Some(127));
    let (_c, small2) = disk(SMALL, Some(127));
    let mut q = start(&[
        Slot { index: 0, path: &small, props: None },
        Slot { index: 1, path: &large, props: None },
        Slot { index: 3, path: &small2, props: None },
    ]);
    assert_eq!(q.cmos(0x12), 0xFF);
    assert_eq!(cmos_range(&mut q, 0x1B, 9), disk_bytes(60, 16, 63));
    assert_eq!(cmos_range(&mut q, 0x24, 9), disk_bytes(8322, 16, 63));
    // large, lba, (absent), large.
    assert_eq!(q.cmos(0x39), 0b10_00_01_10);
    check_identify(&mut q, 0, (60, 16, 63));
    check_identify(&mut q, 1, (8322, 16, 63));
    check_identify(&mut q, 3, (60, 16, 63));
}

#[test]
fn mbr_with_16_heads_gives_none() {
    let (_a, small) = disk(SMALL, Some(15));
    let (_b, large) = disk(LARGE, Some(15));
    let mut q = start(&[Slot { index: 0, path: &small, props: None }, Slot { index: 2, path: &large, props: None }]);
    assert_eq!(q.cmos(0x12), 0xF0);
    assert_eq!((q.cmos(0x19), q.cmos(0x1A)), (47, 0));
    assert_eq!(cmos_range(&mut q, 0x1B, 9), disk_bytes(60, 16, 63));
    assert_eq!(q.cmos(0x39), 0);
    check_identify(&mut q, 0, (60, 16, 63));
    check_identify(&mut q, 2, (8322, 16, 63));
}

#[test]
fn user_geometry_and_translation() {
    let (_a, small) = disk(SMALL, None);
    let (_b, small2) = disk(SMALL, None);
    let (_c, large) = disk(LARGE, None);
    let (_d, large2) = disk(LARGE, None);
    let mut q = start(&[
        Slot { index: 0, path: &small, props: Some(",cyls=480,heads=4,secs=32") },
        Slot { index: 1, path: &small2, props: Some(",cyls=480,heads=4,secs=32,bios-chs-trans=lba") },
        Slot { index: 2, path: &large, props: Some(",bios-chs-trans=large") },
        Slot { index: 3, path: &large2, props: Some(",cyls=8322,heads=16,secs=63,bios-chs-trans=rechs") },
    ]);
    assert_eq!(q.cmos(0x12), 0xFF);
    assert_eq!(cmos_range(&mut q, 0x1B, 9), disk_bytes(480, 4, 32));
    assert_eq!(cmos_range(&mut q, 0x24, 9), disk_bytes(480, 4, 32));
    // none, lba, large, rechs.
    assert_eq!(q.cmos(0x39), 0b11_10_01_00);
    check_identify(&mut q, 0, (480, 4, 32));
    check_identify(&mut q, 1, (480, 4, 32));
    check_identify(&mut q, 2, (8322, 16, 63));
    check_identify(&mut q, 3, (8322, 16, 63));
}

#[test]
fn cdroms_leave_their_slots_empty() {
    let (_a, small) = disk(SMALL, None);
    let (_b, large) = disk(LARGE, None);
    let ide0 = format!("file={small},if=ide,index=1,format=raw");
    let ide3 = format!("file={large},if=ide,index=3,format=raw");
    let mut q = Qtest::start(&[
        "-device",
        "ide-cd,bus=ide.0,unit=0",
        "-drive",
        &ide0,
        "-device",
        "ide-cd,bus=ide.1,unit=0",
        "-drive",
        &ide3,
    ]);
    assert_eq!(q.cmos(0x12), 0x0F, "only the slave is a disk");
    assert_eq!((q.cmos(0x19), q.cmos(0x1A)), (0, 47));
    assert_eq!(cmos_range(&mut q, 0x24, 9), disk_bytes(60, 16, 63));
    // cd, none, cd, lba.
    assert_eq!(q.cmos(0x39), 0b01_00_00_00);
    check_identify(&mut q, 1, (60, 16, 63));
    check_identify(&mut q, 3, (8322, 16, 63));
}
