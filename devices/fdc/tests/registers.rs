//! Power-on state, reset, SENSE INTERRUPT, seeks, READ ID, media and CMOS.

mod common;
use common::*;
use ironide_block::engine::AioMode;
use ironide_block::layer::NodeSpec;
use ironide_dev_fdc::{DriveType, READ_ID_DELAY_NS};

#[test]
fn cmos_per_drive_type() {
    let img144 = image(2880);
    let img288 = image(5760);
    let img120 = image(2400);
    let cases: Vec<(DriveType, Option<&[u8]>, DriveType, u8)> = vec![
        (DriveType::D144, Some(&img144), DriveType::D288, 0x40),
        (DriveType::D288, Some(&img288), DriveType::D288, 0x50),
        (DriveType::D120, Some(&img120), DriveType::D288, 0x20),
        (DriveType::Auto, Some(&img120), DriveType::D288, 0x20),
        (DriveType::Auto, Some(&img144), DriveType::D288, 0x40),
        (DriveType::Auto, None, DriveType::D288, 0x50),
        (DriveType::Auto, None, DriveType::D144, 0x40),
        (DriveType::None, None, DriveType::D288, 0x00),
    ];
    for (ty, medium, fallback, want) in cases {
        let r = Rig::with(ty, medium, false, DriveType::None, fallback);
        assert_eq!(r.dev.fdc.cmos_floppy_byte(), want, "{ty:?} {fallback:?}");
        assert_eq!(r.dev.fdc.equipment_bits(), if want == 0 { 0 } else { 0x01 });
    }
    let r = Rig::with(DriveType::D144, None, false, DriveType::D120, DriveType::D288);
    assert_eq!(r.dev.fdc.cmos_floppy_byte(), 0x42);
    assert_eq!(r.dev.fdc.equipment_bits(), 0x41);
}

#[test]
fn power_on_state_and_sense_interrupt_without_pending() {
    let mut r = Rig::disk();
    assert_eq!(r.inb(DOR), 0x0C);
    assert_eq!(r.inb(MSR), 0x80);
    assert!(!r.irq());
    assert_eq!(r.sense_int(), vec![0x80]);
    assert!(!r.irq());
    assert_eq!(r.inb(MSR), 0x80);
}

#[test]
fn reset_cycle_gives_four_ready_changes() {
    let mut r = Rig::disk();
    r.outb(DOR, 0x08);
    assert!(!r.irq());
    r.outb(DOR, 0x0C);
    assert!(r.irq(), "leaving reset raises IRQ 6");
    for d in 0..4u8 {
        assert_eq!(r.sense_int(), vec![0xC0 + d, 0]);
        assert!(!r.irq());
    }
    assert_eq!(r.sense_int(), vec![0x80]);
    // DSR software reset does the same.
    r.outb(BASE + 4, 0x80);
    assert!(r.irq());
    assert_eq!(r.sense_int(), vec![0xC0, 0]);
}

#[test]
fn irq_is_raised_with_dma_gate_closed() {
    let mut r = Rig::disk();
    r.outb(DOR, 0x00);
    r.outb(DOR, 0x04); // bit 3 clear: DMA and (on real boards) IRQ gated
    assert!(r.irq(), "QEMU raises IRQ 6 whatever DOR bit 3 says");
    assert_eq!(r.inb(DOR), 0x04);
}

#[test]
fn relative_seek_both_ways() {
    let mut r = Rig::disk();
    r.seek(0);
    r.cmd(&[0xCF, 0x00, 10]);
    assert!(r.irq());
    assert_eq!(r.sense_int(), vec![0x20, 10]);
    r.cmd(&[0x8F, 0x00, 3]);
    assert_eq!(r.sense_int(), vec![0x20, 7]);
    r.cmd(&[0x8F, 0x00, 20]);
    assert_eq!(r.sense_int(), vec![0x20, 0], "stops at cylinder 0");
    r.cmd(&[0xCF, 0x00, 200]);
    assert_eq!(r.sense_int(), vec![0x20, 79], "stops at the last cylinder");
    // RECALIBRATE
    r.cmd(&[0x07, 0x00]);
    assert!(r.irq());
    assert_eq!(r.sense_int(), vec![0x20, 0]);
}

#[test]
fn sense_drive_status() {
    let mut r = Rig::disk();
    r.cmd(&[0x04, 0x04]);
    assert_eq!(r.results(), vec![0x28 | 0x10 | 0x04]);
    let mut ro = Rig::new(DriveType::D144, Some(&image(2880)), true);
    ro.seek(3);
    ro.cmd(&[0x04, 0x00]);
    assert_eq!(ro.results(), vec![0x28 | 0x40]);
}

#[test]
fn read_id_waits_for_virtual_time() {
    let mut r = Rig::disk();
    r.seek(0);
    r.send(CMD_READ_ID);
    assert!(!r.irq());
    r.send(0x00);
    let msr = r.inb(MSR);
    assert_eq!(msr & 0x90, 0x10, "busy, no RQM while the disk 'spins'");
    assert!(!r.irq());
    assert!(r.dev.next_deadline().is_some());
    r.env.advance(READ_ID_DELAY_NS / 2);
    r.dev.on_timer(&mut r.env.ctx());
    assert!(!r.irq());
    r.env.advance(READ_ID_DELAY_NS);
    r.dev.on_timer(&mut r.env.ctx());
    assert!(r.irq());
    assert_eq!(r.inb(MSR), 0xD0);
    let res = r.results();
    assert_eq!(res.len(), 7);
    assert_eq!((res[0], res[3], res[4]), (0x00, 0, 0));
    assert!(!r.irq(), "lowered by the last result byte");

    // Cylinder 8, head 1.
    r.cmd(&[CMD_SEEK, 0x04, 8]);
    assert_eq!(r.sense_int(), vec![0x20, 8]);
    r.cmd(&[CMD_READ_ID, 0x04]);
    r.env.advance(READ_ID_DELAY_NS);
    r.dev.on_timer(&mut r.env.ctx());
    let res = r.results();
    assert_eq!((res[0], res[3], res[4]), (0x04, 8, 1));
}

#[test]
fn no_medium_dskchg_and_read() {
    let mut r = Rig::new(DriveType::D144, None, false);
    assert_eq!(r.inb(DIR) & 0x80, 0x80);
    r.seek(1);
    assert_eq!(r.inb(DIR) & 0x80, 0x80, "stays set while no medium");
    r.dma_setup(0x1000, 512, true);
    r.xfer_cmd(CMD_READ, 0, 0, 1, 1);
    assert_eq!(r.inb(MSR), 0xD0);
    assert!(r.irq());
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0x40);
    assert_eq!(res[1], 0x01, "missing address mark");
}

#[test]
fn media_insert_and_change() {
    let mut r = Rig::new(DriveType::D144, None, false);
    let path = r.env.image(&image(2880));
    let spec = NodeSpec::raw_over_file(&path, false, false, false, AioMode::Auto);
    let be = r.backends[0];
    r.env.layer.open_medium(be, &spec).unwrap();
    r.dev.fdc.media_changed(0, &r.env.layer);
    assert_eq!(r.inb(DIR) & 0x80, 0x80);
    r.seek(0);
    assert_eq!(r.inb(DIR) & 0x80, 0x80, "no step pulse yet");
    r.seek(1);
    assert_eq!(r.inb(DIR) & 0x80, 0, "a step with a medium clears DSKCHG");
    assert_eq!(r.inb(DIR) & 0x80, 0);
    // The medium reads.
    r.dma_setup(0x2000, 512, true);
    r.xfer_cmd(CMD_READ, 1, 0, 1, 1);
    r.io();
    let res = r.results();
    assert_eq!(res[0] & 0xC0, 0);
    // Eject.
    r.env.layer.remove_medium(be).unwrap();
    r.dev.fdc.media_changed(0, &r.env.layer);
    assert_eq!(r.inb(DIR) & 0x80, 0x80);
    r.seek(0);
    r.seek(1);
    assert_eq!(r.inb(DIR) & 0x80, 0x80);
    assert!(!r.dev.fdc.has_tray());
}

#[test]
fn auto_drive_repicks_format_on_change() {
    let mut r = Rig::new(DriveType::Auto, None, false);
    assert_eq!(r.dev.fdc.drive_type(0), DriveType::D288);
    let path = r.env.image(&image(2880));
    let spec = NodeSpec::raw_over_file(&path, false, false, false, AioMode::Auto);
    let be = r.backends[0];
    r.env.layer.open_medium(be, &spec).unwrap();
    r.dev.fdc.media_changed(0, &r.env.layer);
    let d = r.dev.fdc.drive(0).unwrap();
    assert_eq!((d.last_sect, d.max_track), (18, 80), "1.44M medium in a 2.88M drive");
}

#[test]
fn command_info_results() {
    let mut r = Rig::disk();
    r.send(0x10);
    assert_eq!(r.results(), vec![0x90]);
    r.send(0x18);
    assert_eq!(r.results(), vec![0x41]);
    r.cmd(&[0x13, 0x00, 0x57, 0x11]);
    assert_eq!(r.inb(MSR), 0x80, "CONFIGURE has no result phase");
    r.send(0x94);
    assert_eq!(r.results(), vec![0x10]);
    r.cmd(&[0x03, 0xAF, 0x02]); // SPECIFY, DMA
    r.seek(5);
    r.send(0x0E);
    assert_eq!(r.results(), vec![5, 0, 0, 0, 0xAF, 0x05, 18, 0x80, 0x57, 0x11]);
    r.send(0x2E);
    let save = r.results();
    assert_eq!(save, vec![0, 0, 5, 0, 0, 0, 0xAF, 0x02, 18, 0x80, 0x57, 0x11, 0, 0, 0]);
    r.send(0x14);
    assert_eq!(r.results(), vec![0x00]);
    // RESTORE puts it all back.
    let mut restore = vec![0x4E];
    restore.extend_from_slice(&[0, 0, 9, 0, 0, 0, 0x11, 0x22, 18, 0x80, 0x33, 0x44, 0, 0, 0, 0, 0]);
    r.cmd(&restore);
    assert_eq!(r.inb(MSR), 0x80);
    r.send(0x0E);
    assert_eq!(r.results(), vec![9, 0, 0, 0, 0x11, 0x45, 18, 0x80, 0x33, 0x44]);
    r.cmd(&[0x17, 0x05, 0x00]);
    assert_eq!(r.results(), vec![0x05]);
    r.cmd(&[0x12, 0x00]);
    r.cmd(&[0x33, 0x00]);
    assert_eq!(r.inb(MSR), 0x80);
    for bad in [0x00u8, 0x01, 0x1F, 0xFF, 0xCD] {
        r.send(bad);
        assert_eq!(r.results(), vec![0x80], "unknown opcode {bad:#x}");
    }
}
