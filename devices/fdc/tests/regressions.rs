//! Inputs that once crashed QEMU's FDC, and random traffic: must never panic.

mod common;
use common::*;
use ironide_dev_fdc::DriveType;
use proptest::prelude::*;
use vm_memory::{Bytes, GuestAddress};

/// CVE-2021-20196: commands to a drive with no medium, sent as word writes
/// to 0x3F4 (DSR low byte, FIFO high byte).
#[test]
fn cve_2021_20196_word_writes_to_empty_drive() {
    for ty in [DriveType::D144, DriveType::None] {
        let mut r = Rig::new(ty, None, false);
        r.outw(BASE + 4, 0x0400); // DSR 0, FIFO 0x04 (SENSE DRIVE STATUS)
        r.outw(BASE + 4, 0x8100); // drive 1: absent
        r.results();
        for w in [0x4D00u16, 0x0000, 0x0200, 0x1200, 0x0000, 0xE500, 0x4600, 0x0100, 0x0000, 0x0000] {
            r.outw(BASE + 4, w);
        }
        r.io();
        r.results();
        for w in [0x0E00u16, 0xC500, 0x0100, 0x0100, 0x0000, 0x0100, 0x0200, 0x1200] {
            r.outw(BASE + 4, w);
        }
        r.io();
        let _ = r.inb(MSR);
    }
}

/// CVE-2021-3507: a DMA transfer longer than the controller's buffer.
#[test]
fn cve_2021_3507_dma_past_the_fifo() {
    let mut r = Rig::disk();
    r.env.mem.write_slice(&[0x5A; 0x10000], GuestAddress(0x10000)).unwrap();
    // 64 KiB of DMA, N=7 (16 KiB "sectors"), MT, EOT 255.
    r.dma_setup(0x10000, 0xFFFF, false);
    r.cmd(&[0xC5, 0x00, 0, 0, 1, 7, 0xFF, 0x1B, 0xFF]);
    r.io();
    r.results();
    r.dma_setup(0x10000, 0xFFFF, true);
    r.cmd(&[0xE6, 0x04, 79, 1, 18, 7, 0xFF, 0x1B, 0xFF]);
    r.io();
    r.results();
    // Non-DMA with DTL and N=0.
    r.cmd(&[0x03, 0xAF, 0x03]);
    r.cmd(&[0x66, 0x00, 0, 0, 1, 0, 18, 0x1B, 0xFF]);
    for _ in 0..600 {
        r.io();
        let _ = r.inb(FIFO);
    }
    let _ = r.results();
}

/// gitlab #3800: RESTORE and FORMAT raising the last sector beyond the medium.
#[test]
fn gitlab_3800_last_sector_beyond_medium() {
    let mut r = Rig::disk();
    let mut restore = vec![0x4E];
    restore.extend_from_slice(&[0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0]);
    r.cmd(&restore);
    r.dma_setup(0x10000, 0x8000, true);
    r.cmd(&[0xE6, 0x04, 0xFF, 1, 0xFF, 2, 0xFF, 0x1B, 0xFF]);
    r.io();
    r.results();
    r.dma_setup(0x10000, 0x8000, false);
    r.cmd(&[0xC5, 0x04, 0xFF, 1, 0xF0, 2, 0xFF, 0x1B, 0xFF]);
    r.io();
    r.results();
    // FORMAT with 255 sectors of IDs pointing anywhere.
    let ids: Vec<u8> = (0..=255u8).flat_map(|s| [s, s & 1, s, 2]).collect();
    r.env.mem.write_slice(&ids, GuestAddress(0x20000)).unwrap();
    r.dma_setup(0x20000, ids.len() as u16, false);
    r.cmd(&[0x4D, 0x04, 2, 0xFF, 0x54, 0xF6]);
    r.io();
    r.results();
    r.cmd(&[0x07, 0x00]);
    r.sense_int();
    // Non-DMA FORMAT too.
    r.cmd(&[0x03, 0xAF, 0x03]);
    r.cmd(&[0x4D, 0x00, 2, 0xFF, 0x54, 0xF6]);
    for i in 0..1024u32 {
        r.io();
        r.outb(FIFO, i as u8);
    }
    r.io();
    let _ = r.results();
}

#[test]
fn reset_in_the_middle_of_a_transfer() {
    let mut r = Rig::disk();
    r.dma_setup(0x10000, 0x4000, true);
    r.xfer_cmd(CMD_READ, 0, 0, 1, 18);
    r.outb(DOR, 0x08);
    r.outb(DOR, 0x0C);
    r.io(); // the stale completion is ignored
    assert_eq!(r.inb(MSR), 0x80);
    assert_eq!(r.sense_int(), vec![0xC0, 0]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_traffic_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        ironide_dev_fdc::fuzzing::run(&data);
    }

}

proptest! {
    // Each case writes a 1.44 MB image: fewer cases keep the suite fast.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    /// Command bytes only (valid opcodes more often), with completions.
    #[test]
    fn random_commands_never_panic(cmds in proptest::collection::vec((0u8..40, any::<u8>()), 0..200)) {
        let mut r = Rig::disk();
        r.dma_setup(0x10000, 0x2000, true);
        for (k, v) in cmds {
            match k {
                0..=24 => r.outb(FIFO, v),
                25..=30 => { let _ = r.inb(FIFO); }
                31 => r.outb(DOR, v),
                32 => r.outb(BASE + 4, v & 0x7F),
                33 => r.outb(BASE + 7, v),
                34 => r.io(),
                35 => { r.env.advance(25_000_000); r.dev.on_timer(&mut r.env.ctx()); }
                36 => r.outb(0x0A, v & 7),
                _ => { let _ = r.inb(MSR); }
            }
        }
        r.io();
    }
}
