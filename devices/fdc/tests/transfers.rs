//! READ/WRITE/VERIFY/FORMAT through DMA channel 2 and through the FIFO.

mod common;
use common::*;
use ironide_dev_fdc::DriveType;
use vm_memory::{Bytes, GuestAddress};

fn guest(r: &Rig, addr: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    r.env.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
    v
}

fn sectors(lbas: impl IntoIterator<Item = u64>) -> Vec<u8> {
    lbas.into_iter().flat_map(|s| (0..512).map(move |i| pattern(s, i))).collect()
}

/// A non-DMA READ of drive 0 from C0 H0 S1 with EOT `nb`, as fdc-test does.
fn read_no_dma(nb: u8) -> (Rig, Vec<u8>, Vec<u8>) {
    let mut r = Rig::disk();
    let dor = r.inb(DOR);
    r.outb(DOR, dor & !0x08);
    r.seek(0);
    r.xfer_cmd(CMD_READ, 0, 0, 1, nb);
    let mut data = Vec::new();
    for _ in 0..512 * 2 * usize::from(nb) {
        if r.inb(MSR) & 0x80 == 0 {
            r.io();
        }
        let msr = r.inb(MSR);
        assert_eq!(msr & 0xF0, 0xF0, "RQM|DIO|NDMA|BUSY per byte (got {msr:#x})");
        data.push(r.inb(FIFO));
    }
    assert_eq!(r.inb(MSR), 0xD0, "result phase");
    assert!(r.irq());
    let res = r.results();
    assert!(!r.irq(), "lowered with the last result byte");
    (r, data, res)
}

#[test]
fn non_dma_read_1_sector() {
    let (_, data, res) = read_no_dma(1);
    assert_eq!(data, sectors([0, 18]));
    assert_eq!(res, vec![0x04, 0, 0, 0, 1, 1, 2]);
}

#[test]
fn non_dma_read_18_sectors() {
    let (_, data, res) = read_no_dma(18);
    assert_eq!(data, sectors(0..36));
    assert_eq!(res[0], 0x04);
}

#[test]
fn non_dma_read_19_sectors_runs_on_in_lba_order() {
    let (_, data, res) = read_no_dma(19);
    assert_eq!(data.len(), 38 * 512);
    assert_eq!(data, sectors(0..38));
    assert_eq!(res, vec![0x20, 0, 0, 1, 0, 2, 2]);
}

#[test]
fn dma_read_like_seabios_boot() {
    let mut r = Rig::disk();
    r.outb(DOR, 0x08);
    r.outb(DOR, 0x0C);
    for _ in 0..4 {
        r.sense_int();
    }
    r.outb(DOR, 0x1C);
    r.cmd(&[0x07, 0x00]);
    r.sense_int();
    r.dma_setup(0x7C00, 512, true);
    r.xfer_cmd(CMD_READ, 0, 0, 1, 18);
    r.io();
    assert!(r.irq());
    assert_eq!(r.inb(MSR), 0xD0);
    let res = r.results();
    // Terminal count ends the transfer after one sector; the head has
    // moved on to the next one.
    assert_eq!(res, vec![0x00, 0, 0, 0, 0, 2, 2]);
    assert_eq!(guest(&r, 0x7C00, 512), sectors([0]));
    assert_eq!(r.inb(0x08) & 0x04, 0x04, "channel 2 reached TC");
}

#[test]
fn dma_waits_for_the_channel_to_be_unmasked() {
    let mut r = Rig::disk();
    r.dma_setup(0x10000, 1024, true);
    r.outb(0x0A, 0x06); // mask again
    r.xfer_cmd(0x46, 2, 1, 3, 18);
    r.io();
    assert_eq!(r.inb(MSR) & 0x80, 0, "still in execution");
    r.outb(0x0A, 0x02);
    r.io();
    let res = r.results();
    // Implied seek to cylinder 2 (SE), head 1.
    assert_eq!(res, vec![0x24, 0, 0, 2, 1, 5, 2]);
    let first = (2 * 2 + 1) * 18 + 2;
    assert_eq!(guest(&r, 0x10000, 1024), sectors([first, first + 1]));
}

#[test]
fn write_then_read_back_dma_and_pio() {
    let mut r = Rig::disk();
    let data: Vec<u8> = (0..1024).map(|i| (i * 13 % 256) as u8).collect();
    r.env.mem.write_slice(&data, GuestAddress(0x20000)).unwrap();
    r.dma_setup(0x20000, 1024, false);
    r.xfer_cmd(CMD_WRITE, 5, 0, 17, 18);
    r.io();
    let res = r.results();
    // Implied seek; multi-track moved on to head 1.
    assert_eq!(res[..3], [0x24, 0, 0]);
    r.dma_setup(0x30000, 1024, true);
    r.xfer_cmd(CMD_READ, 5, 0, 17, 18);
    r.io();
    assert_eq!(r.results()[0] & 0xC0, 0);
    assert_eq!(guest(&r, 0x30000, 1024), data);

    // Non-DMA write of one sector, read back by DMA.
    r.cmd(&[0x03, 0xAF, 0x03]); // SPECIFY ND
    assert_eq!(r.inb(DOR) & 0x08, 0);
    r.xfer_cmd(0x45, 6, 1, 1, 1);
    for i in 0..512usize {
        if r.inb(MSR) & 0x80 == 0 {
            r.io();
        }
        assert_eq!(r.inb(MSR) & 0xE0, 0xA0, "RQM|NDMA, host to controller");
        r.outb(FIFO, (255 - i % 256) as u8);
    }
    r.io();
    assert_eq!(r.results()[0] & 0xC0, 0);
    r.cmd(&[0x03, 0xAF, 0x02]);
    r.dma_setup(0x40000, 512, true);
    r.xfer_cmd(0x46, 6, 1, 1, 1);
    r.io();
    r.results();
    let back = guest(&r, 0x40000, 512);
    assert!(back.iter().enumerate().all(|(i, &b)| b == (255 - i % 256) as u8));
}

#[test]
fn write_protected_medium() {
    let mut r = Rig::new(DriveType::D144, Some(&image(2880)), true);
    r.dma_setup(0x20000, 512, false);
    r.xfer_cmd(CMD_WRITE, 0, 0, 1, 1);
    r.io();
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0x40);
    assert_eq!(res[1], 0x02, "ST1 NW");
}

#[test]
fn verify_needs_no_dma_channel() {
    let mut r = Rig::disk();
    r.xfer_cmd(CMD_VERIFY, 0, 0, 1, 1);
    assert_eq!(r.inb(MSR), 0xD0);
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0, "ST0 IC normal");
}

#[test]
fn data_rate_mismatch() {
    let mut r = Rig::disk();
    r.outb(BASE + 7, 0x02); // 250 kb/s on a 500 kb/s medium
    r.dma_setup(0x20000, 512, true);
    r.xfer_cmd(CMD_READ, 0, 0, 1, 1);
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0x40);
    assert_eq!(res[1], 0x01);
    // READ ID fails the same way.
    r.cmd(&[CMD_READ_ID, 0]);
    r.env.advance(ironide_dev_fdc::READ_ID_DELAY_NS);
    r.dev.on_timer(&mut r.env.ctx());
    let res = r.results();
    assert_eq!((res[0] & 0xC0, res[1]), (0x40, 0x01));
}

#[test]
fn format_track_writes_the_fill_byte() {
    let mut r = Rig::disk();
    let ids: Vec<u8> = (1..=18u8).flat_map(|s| [3, 1, s, 2]).collect();
    r.env.mem.write_slice(&ids, GuestAddress(0x5000)).unwrap();
    r.dma_setup(0x5000, ids.len() as u16, false);
    r.cmd(&[0x4D, 0x04, 2, 18, 0x54, 0xE5]);
    r.io();
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0, "{res:x?}");
    r.dma_setup(0x60000, 18 * 512, true);
    r.xfer_cmd(0x46, 3, 1, 1, 18);
    r.io();
    r.results();
    assert!(guest(&r, 0x60000, 18 * 512).iter().all(|&b| b == 0xE5));
    // Neighbouring track untouched.
    r.dma_setup(0x60000, 512, true);
    r.xfer_cmd(0x46, 3, 0, 18, 18);
    r.io();
    r.results();
    assert_eq!(guest(&r, 0x60000, 512), sectors([3 * 36 + 17]));
}

#[test]
fn scan_equal_ends_with_seh() {
    let mut r = Rig::disk();
    r.env.mem.write_slice(&sectors([0]), GuestAddress(0x8000)).unwrap();
    r.dma_setup(0x8000, 512, false);
    r.cmd(&[0x11, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
    r.io();
    let res = r.results();
    assert_eq!((res[0] & 0xC0, res[2]), (0, 0x08));
}

#[test]
fn read_deleted_ends_abnormally() {
    let mut r = Rig::disk();
    r.cmd(&[0x4C, 0, 0, 0, 1, 2, 1, 0x1B, 0xFF]);
    assert_eq!(r.results()[0] & 0xC0, 0x40);
}
