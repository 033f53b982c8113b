//! The ATAPI transport through the ports: a CD-ROM as secondary master.
//! Tests marked "needs atapi command logic" depend on `crate::atapi`'s real
//! command set (the transport alone cannot make READ(10) succeed).

mod common;

use common::*;
use ironide_dev_ide::IdeDriveConfig;

const S_DATA: u16 = 0x170;
const S_ERROR: u16 = 0x171;
const S_FEATURE: u16 = 0x171;
const S_NSECT: u16 = 0x172;
const S_LCYL: u16 = 0x174;
const S_HCYL: u16 = 0x175;
const S_DEVICE: u16 = 0x176;
const S_STATUS: u16 = 0x177;
const S_CTL: u16 = 0x376;
const CD_SECTORS: usize = 16;

fn cd() -> (H, Vec<u8>) {
    let mut h = H::empty();
    let iso = pattern(CD_SECTORS * 2048);
    let be = h.env.backend("cd0", Some(&iso), true);
    h.ide.attach(1, 0, IdeDriveConfig::cdrom(Some(be), Some(iso.len() as u64))).unwrap();
    h.pci_setup(true);
    h.outb(S_DEVICE, 0xA0);
    (h, iso)
}

fn irq15(h: &H) -> bool {
    h.env.irq.level(15)
}

/// Send PACKET with `feature` and byte-count limit, then the CDB.
fn packet(h: &mut H, feature: u8, limit: u16, cdb: &[u8; 12]) {
    h.outb(S_FEATURE, feature);
    h.outb(S_LCYL, limit as u8);
    h.outb(S_HCYL, (limit >> 8) as u8);
    h.outb(0x177, 0xA0);
    assert_eq!(h.inb(S_CTL), 0x58, "waiting for the packet");
    assert_eq!(h.inb(S_NSECT) & 7, 1, "reason: command out");
    assert!(!irq15(h), "no interrupt for the packet phase");
    for c in cdb.chunks(2) {
        h.outw(S_DATA, u16::from_le_bytes([c[0], c[1]]));
    }
}

fn read10(lba: u32, n: u16) -> [u8; 12] {
    let l = lba.to_be_bytes();
    let c = n.to_be_bytes();
    [0x28, 0, l[0], l[1], l[2], l[3], 0, c[0], c[1], 0, 0, 0]
}

#[test]
fn identify_packet_device() {
    let (mut h, _) = cd();
    h.outb(0x177, 0xA1);
    assert!(irq15(&h));
    assert_eq!(h.inb(S_STATUS), 0x58);
    let d = h.ins(S_DATA, 512);
    let w = |i: usize| u16::from_le_bytes([d[2 * i], d[2 * i + 1]]);
    assert_eq!(w(0), 0x85C0);
    let model: String = (27..47).flat_map(|i| w(i).to_be_bytes()).map(|b| b as char).collect();
    assert_eq!(model, format!("{:<40}", "QEMU DVD-ROM"));
    assert_eq!(w(49) & 0x0300, 0x0300, "DMA and LBA");
    assert_eq!(h.inb(S_STATUS), 0x50);
}

#[test]
fn identify_device_on_a_cd_aborts_with_signature() {
    let (mut h, _) = cd();
    h.outb(0x177, 0xEC);
    assert!(irq15(&h));
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR)), (0x41, 0x04));
    assert_eq!((h.inb(S_LCYL), h.inb(S_HCYL)), (0x14, 0xEB));
}

#[test]
fn error_end_of_an_unknown_command() {
    let (mut h, _) = cd();
    packet(&mut h, 0, 0xFFFF, &[0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(irq15(&h));
    // ILLEGAL REQUEST (5) << 4.
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR), h.inb(S_NSECT) & 7), (0x41, 0x50, 3));
}

#[test]
fn pio_data_command_with_zero_limit_aborts() {
    let (mut h, _) = cd();
    packet(&mut h, 0, 0, &read10(0, 1));
    assert!(!irq15(&h), "ATA-level abort without interrupt");
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR)), (0x41, 0x04));
}

#[test]
fn overlap_feature_aborts() {
    let (mut h, _) = cd();
    h.outb(S_FEATURE, 0x02);
    h.outb(0x177, 0xA0);
    assert!(irq15(&h));
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR)), (0x41, 0x04));
}

#[test]
fn device_reset_and_srst_signature() {
    let (mut h, _) = cd();
    h.outb(0x177, 0x08);
    assert!(!irq15(&h));
    assert_eq!(h.inb(S_STATUS), 0x00);
    assert_eq!((h.inb(S_NSECT), h.inb(0x173), h.inb(S_LCYL), h.inb(S_HCYL)), (1, 1, 0x14, 0xEB));
    h.outb(S_CTL, 4);
    h.outb(S_CTL, 0);
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR)), (0x00, 0x01));
}

#[test]
fn test_unit_ready_on_empty_drive_fails_not_ready() {
    let mut h = H::empty();
    h.ide.attach(1, 0, IdeDriveConfig::cdrom(None, None)).unwrap();
    h.outb(S_DEVICE, 0xA0);
    packet(&mut h, 0, 0, &[0; 12]);
    assert!(irq15(&h));
    // NOT READY (2) << 4, medium not present.
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR), h.inb(S_NSECT) & 7), (0x41, 0x20, 3));
}

#[test]
fn test_unit_ready_with_medium_succeeds() {
    let (mut h, _) = cd();
    packet(&mut h, 0, 0, &[0; 12]);
    assert!(irq15(&h));
    assert_eq!((h.inb(S_STATUS), h.inb(S_ERROR), h.inb(S_NSECT) & 7), (0x50, 0, 3));
}

#[test]
fn pio_read_with_limit_5120_comes_in_four_blocks() {
    let (mut h, iso) = cd();
    h.env.irq.clear_changes();
    packet(&mut h, 0, 5120, &read10(2, 10));
    let mut got = Vec::new();
    for block in 0..4 {
        h.run_io();
        assert!(irq15(&h), "block {block} interrupts");
        assert_eq!(h.inb(S_STATUS), 0x58);
        assert_eq!(h.inb(S_NSECT) & 7, 2, "reason: data in");
        let size = h.inb(S_LCYL) as usize | (h.inb(S_HCYL) as usize) << 8;
        assert_eq!(size, 5120);
        got.extend(h.ins(S_DATA, size));
    }
    h.run_io();
    assert!(irq15(&h));
    assert_eq!((h.inb(S_STATUS), h.inb(S_NSECT) & 7), (0x50, 3));
    assert_eq!(got, iso[2 * 2048..12 * 2048]);
    assert_eq!(h.env.irq.raises(15), 5);
}

#[test]
fn dma_read() {
    let (mut h, iso) = cd();
    let bm = BM + 8;
    let prdt: Vec<u8> = [(BUF as u32, 0x4000u32), (BUF as u32 + 0x8000, 0x1000 | EOT)]
        .iter()
        .flat_map(|&(a, c)| a.to_le_bytes().into_iter().chain(c.to_le_bytes()))
        .collect();
    h.mem_write(PRDT, &prdt);
    h.outl(bm + 4, PRDT as u32);
    packet(&mut h, 1, 0, &read10(1, 10));
    h.outb(bm, 9);
    h.run_io();
    assert!(irq15(&h));
    assert_eq!(h.inb(bm + 2), BM_INTR);
    assert_eq!((h.inb(S_STATUS), h.inb(S_NSECT) & 7), (0x50, 3));
    assert_eq!(h.mem_read(BUF, 0x4000), iso[2048..2048 + 0x4000]);
    assert_eq!(h.mem_read(BUF + 0x8000, 0x1000), iso[2048 + 0x4000..11 * 2048]);
}
