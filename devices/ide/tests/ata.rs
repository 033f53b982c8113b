//! ATA disks through the ports: IDENTIFY, PIO, addressing, errors, resets.

mod common;

use common::*;
use ironide_block::driver::FaultRule;
use ironide_block::layer::{ChildSpec, DriverSpec, NodeSpec};
use ironide_block::Op;
use ironide_dev_ide::{Ide, IdeDriveConfig};

fn ata_string(words: &[u16]) -> String {
    words.iter().flat_map(|w| w.to_be_bytes()).map(|b| b as char).collect()
}

fn identify(h: &mut H) -> Vec<u16> {
    h.outb(DEVICE, 0xA0);
    h.outb(COMMAND, 0xEC);
    assert!(h.irq(), "IDENTIFY interrupts at once");
    let st = h.inb(STATUS);
    assert_eq!(st & (BSY | DRDY | DRQ), DRDY | DRQ, "first status read: DRDY|DRQ, no BSY");
    assert!(!h.irq(), "status read lowers the IRQ");
    let mut words = Vec::new();
    for _ in 0..256 {
        let st = h.inb(CTL);
        assert_eq!(st & (BSY | DRDY | DRQ), DRDY | DRQ);
        words.push(h.inw(DATA));
    }
    assert_eq!(h.inb(STATUS), 0x50, "DRQ clears after the last word");
    words
}

#[test]
fn identify_device_word_by_word() {
    let mut h = H::disk(false);
    let w = identify(&mut h);
    assert_eq!(w[0], 0x0040);
    assert_eq!((w[1], w[3], w[6]), (CYLS as u16, HEADS as u16, SECS as u16));
    assert_eq!(ata_string(&w[10..20]), format!("{:<20}", "QM00001"));
    assert_eq!(ata_string(&w[23..27]), format!("{:<8}", "2.5+"));
    assert_eq!(ata_string(&w[27..47]), format!("{:<40}", "QEMU HARDDISK"));
    assert_eq!(w[47], 0x8010);
    assert_eq!(w[49], 0x0B00);
    assert_eq!(w[53], 7);
    assert_eq!((w[54], w[55], w[56]), (CYLS as u16, HEADS as u16, SECS as u16));
    assert_eq!(w[57] as u64 | (w[58] as u64) << 16, (CYLS * HEADS * SECS) as u64);
    assert_eq!(w[59], 0x110);
    assert_eq!(w[60] as u64 | (w[61] as u64) << 16, DISK_SECTORS);
    assert_eq!((w[80], w[81], w[82], w[83], w[84]), (0xF0, 0x16, 0x4021, 0x7400, 0x4000));
    assert_eq!((w[85], w[86], w[87], w[88], w[93]), (0x4021, 0x3400, 0x4000, 0x203F, 0x6001));
    assert_eq!((w[100], w[101], w[102], w[103]), (DISK_SECTORS as u16, 0, 0, 0));
}

#[test]
fn identify_overrides_wwn_and_write_cache_off() {
    let mut h = H::empty();
    let be = h.env.backend("d", Some(&[0; 8192]), false);
    let mut cfg = IdeDriveConfig::disk(be, 1, 1, 16);
    cfg.serial = Some("SER123".into());
    cfg.model = Some("MODEL X".into());
    cfg.firmware = Some("9.9".into());
    cfg.wwn = Some(0x5000_0000_1234_5678);
    h.ide.attach(0, 0, cfg).unwrap();
    // SET FEATURES: write cache off completes after the flush.
    h.outb(FEATURE, 0x82);
    h.outb(COMMAND, 0xEF);
    h.run_io();
    assert_eq!(h.inb(STATUS) & (BSY | ERR), 0);
    let w = identify(&mut h);
    assert_eq!(ata_string(&w[10..20]).trim_end(), "SER123");
    assert_eq!(ata_string(&w[27..47]).trim_end(), "MODEL X");
    assert_eq!(ata_string(&w[23..27]).trim_end(), "9.9");
    assert_eq!((w[84], w[87]), (0x4100, 0x4100));
    assert_eq!((w[108], w[109], w[110], w[111]), (0x5000, 0, 0x1234, 0x5678));
    assert_eq!(w[85], 0x4001, "write cache disabled");
}

#[test]
fn pio_read_one_sector_as_one_string_access() {
    let mut h = H::disk(false);
    h.set_lba(5, 2, false);
    h.outb(COMMAND, 0x20);
    assert_eq!(h.inb(CTL) & BSY, BSY, "busy while the backend reads");
    h.run_io();
    assert!(h.irq());
    assert_eq!(h.inb(STATUS), DRDY | 0x10 | DRQ);
    assert_eq!(h.ins(DATA, 512), h.image[5 * 512..6 * 512]);
    h.run_io();
    assert_eq!(h.ins(DATA, 512), h.image[6 * 512..7 * 512]);
    assert_eq!(h.inb(STATUS), 0x50);
    assert_eq!((h.inb(LBA_LO), h.inb(NSECT)), (7, 0), "address advanced, count consumed");
}

#[test]
fn pio_write_then_read_back() {
    let mut h = H::disk(false);
    h.set_lba(10, 1, false);
    h.outb(COMMAND, 0x30);
    assert_eq!(h.inb(STATUS) & (DRQ | BSY), DRQ, "first block requested without an interrupt");
    assert!(!h.irq());
    let data: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
    for c in data.chunks(2) {
        h.outw(DATA, u16::from_le_bytes([c[0], c[1]]));
    }
    h.run_io();
    assert!(h.irq());
    assert_eq!(h.inb(STATUS), 0x50);
    h.set_lba(10, 1, false);
    h.outb(COMMAND, 0x20);
    h.run_io();
    assert_eq!(h.ins(DATA, 512), data);
}

#[test]
fn chs_addressing() {
    let mut h = H::disk(false);
    // C=1 H=1 S=3 -> LBA (1 * 2 + 1) * 8 + 2 = 26.
    h.outb(DEVICE, 0xA1);
    h.outb(NSECT, 1);
    h.outb(LBA_LO, 3);
    h.outb(LBA_MID, 1);
    h.outb(LBA_HI, 0);
    h.outb(COMMAND, 0x20);
    h.run_io();
    assert_eq!(h.ins(DATA, 512), h.image[26 * 512..27 * 512]);
    assert_eq!((h.inb(LBA_LO), h.inb(DEVICE) & 0x0F), (4, 1));
    // Sector 0 does not exist in CHS.
    h.outb(LBA_LO, 0);
    h.outb(NSECT, 1);
    h.outb(COMMAND, 0x20);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn lba48_with_hob_reads() {
    let mut h = H::disk(false);
    // Two writes per register: the first is the "previous" (HOB) value.
    h.outb(FEATURE, 0x11);
    h.outb(FEATURE, 0x22);
    h.set_lba(0x0A0B_0C00_0003, 0x0102, true);
    h.outb(CTL, 0x80);
    assert_eq!((h.inb(NSECT), h.inb(LBA_LO), h.inb(LBA_MID), h.inb(LBA_HI)), (0x01, 0x0C, 0x0B, 0x0A));
    assert_eq!(h.inb(ERROR), 0x11, "HOB feature");
    h.outb(LBA_LO, 3); // any task-file write clears HOB
    assert_eq!(h.inb(NSECT), 0x02);
    // READ NATIVE MAX EXT: last sector, 48-bit.
    h.outb(COMMAND, 0x27);
    assert_eq!(h.inb(STATUS) & ERR, 0);
    assert_eq!(h.inb(LBA_LO), 63);
    h.outb(CTL, 0x80);
    assert_eq!((h.inb(LBA_LO), h.inb(LBA_MID), h.inb(LBA_HI)), (0, 0, 0));
    h.outb(CTL, 0);
    // READ SECTORS EXT at 60, count 3.
    h.set_lba(60, 3, true);
    h.outb(COMMAND, 0x24);
    for s in 60..63 {
        h.run_io();
        assert_eq!(h.ins(DATA, 512), h.image[s * 512..(s + 1) * 512]);
    }
    h.run_io();
    assert_eq!(h.inb(STATUS), 0x50);
    // Count 0x0100 (256) runs past the end.
    h.set_lba(0, 0x100, true);
    h.outb(COMMAND, 0x24);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn set_multiple_and_read_multiple() {
    let mut h = H::disk(false);
    for (n, ok) in [(3u8, false), (32, false), (4, true)] {
        h.outb(NSECT, n);
        h.outb(COMMAND, 0xC6);
        assert_eq!(h.inb(STATUS) & ERR == 0, ok, "SET MULTIPLE {n}");
    }
    h.env.irq.clear_changes();
    h.set_lba(8, 8, false);
    h.outb(COMMAND, 0xC4);
    h.run_io();
    assert_eq!(h.inb(STATUS) & DRQ, DRQ);
    assert_eq!(h.ins(DATA, 2048), h.image[8 * 512..12 * 512], "one DRQ block = 4 sectors");
    h.run_io();
    assert_eq!(h.ins(DATA, 2048), h.image[12 * 512..16 * 512]);
    assert_eq!(h.inb(STATUS), 0x50);
    assert_eq!(h.env.irq.raises(14), 2, "one interrupt per block");
    // SET MULTIPLE 0 disables the multiple commands.
    h.outb(NSECT, 0);
    h.outb(COMMAND, 0xC6);
    h.outb(COMMAND, 0xC4);
    assert_eq!(h.inb(STATUS), 0x41);
}

#[test]
fn pio_out_of_range_aborts_without_drq() {
    let mut h = H::disk(false);
    h.set_lba(63, 2, false);
    h.outb(COMMAND, 0x20);
    assert!(h.irq());
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn read_only_disk_rejects_writes() {
    let mut h = H::disk(true);
    h.set_lba(0, 1, false);
    h.outb(COMMAND, 0x30);
    h.outs(DATA, &[0xAB; 512]);
    h.run_io();
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
    let st = h.dma(0xCA, 0, 1, &[(BUF as u32, 512 | EOT)], false);
    assert_eq!(st & BM_ACTIVE, 0);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
    h.set_lba(0, 1, false);
    h.outb(COMMAND, 0x20);
    h.run_io();
    assert_eq!(h.ins(DATA, 512), h.image[..512], "medium unchanged");
}

#[test]
fn backend_error_sets_err() {
    let mut h = H::empty();
    let path = h.env.image(&pattern(32 * 512));
    let be = h.env.layer.create_backend("faulty", true);
    let rule = FaultRule { op: Op::Read, errno: Some(5), offset: 0, length: 0, count: 0, delay_ns: 0 };
    let spec = NodeSpec {
        node_name: None,
        read_only: false,
        direct: false,
        no_flush: false,
        driver: DriverSpec::FaultInject {
            image: ChildSpec::Inline(Box::new(NodeSpec::file(&path))),
            rules: vec![rule],
        },
    };
    h.env.layer.open_medium(be, &spec).unwrap();
    h.ide.attach(0, 0, IdeDriveConfig::disk(be, 1, 2, 16)).unwrap();
    h.pci_setup(true);
    h.set_lba(1, 1, false);
    h.outb(COMMAND, 0x20);
    h.run_io();
    assert!(h.irq());
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
    let st = h.dma(0xC8, 1, 1, &[(BUF as u32, 512 | EOT)], false);
    assert_eq!(st, BM_INTR);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
}

#[test]
fn flush_completes_only_after_the_backend() {
    let mut h = H::disk(false);
    h.outb(COMMAND, 0xE7);
    assert_eq!(h.inb(CTL) & BSY, BSY, "flush in flight");
    assert!(!h.irq());
    h.run_io();
    assert!(h.irq());
    assert_eq!(h.inb(STATUS), 0x50);
    h.outb(COMMAND, 0xEA);
    assert_eq!(h.inb(CTL) & BSY, BSY);
    h.run_io();
    assert_eq!(h.inb(STATUS), 0x50);
}

#[test]
fn misc_commands_complete_at_once() {
    let mut h = H::disk(false);
    // Commands flagged to set DSC end with 0x50, the power no-ops with 0x40.
    for (cmd, st) in [(0x10u8, 0x50), (0x70, 0x50), (0x40, 0x50), (0xE0, 0x40), (0xE1, 0x40), (0x91, 0x50)] {
        h.outb(NSECT, 8);
        h.outb(COMMAND, cmd);
        assert!(h.irq(), "command {cmd:#x}");
        assert_eq!(h.inb(STATUS), st, "command {cmd:#x}");
    }
    h.outb(COMMAND, 0xE5);
    assert_eq!(h.inb(NSECT), 0xFF, "CHECK POWER MODE: active");
    // SECURITY FREEZE LOCK (hdparm -F): accepted, count cleared.
    h.outb(NSECT, 8);
    h.outb(COMMAND, 0xF5);
    assert!(h.irq(), "0xF5");
    assert_eq!((h.inb(STATUS), h.inb(NSECT)), (0x50, 0), "SECURITY FREEZE LOCK");
    // SMART needs the signature in LBA mid/high, RETURN STATUS keeps it.
    h.outb(FEATURE, 0xDA);
    h.outb(COMMAND, 0xB0);
    assert_eq!(h.inb(STATUS), 0x41);
    h.outb(LBA_MID, 0x4F);
    h.outb(LBA_HI, 0xC2);
    h.outb(COMMAND, 0xB0);
    assert_eq!(h.inb(STATUS), 0x50);
    assert_eq!((h.inb(LBA_MID), h.inb(LBA_HI)), (0x4F, 0xC2));
    // Commands for the other device kind abort with an interrupt.
    h.env.irq.clear_changes();
    h.outb(COMMAND, 0xA1);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x41, 0x04));
    assert_eq!(h.env.irq.raises(14), 1);
    // EXECUTE DEVICE DIAGNOSTIC.
    h.outb(COMMAND, 0x90);
    assert!(h.irq());
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x50, 0x01));
}

#[test]
fn srst_signatures_disk_and_cd() {
    let mut h = H::disk(false);
    h.ide.attach(0, 1, IdeDriveConfig::cdrom(None, None)).unwrap();
    h.outb(CTL, 0x04);
    h.outb(CTL, 0x00);
    h.outb(DEVICE, 0xA0);
    assert_eq!((h.inb(STATUS), h.inb(ERROR)), (0x50, 0x01));
    assert_eq!((h.inb(NSECT), h.inb(LBA_LO), h.inb(LBA_MID), h.inb(LBA_HI)), (1, 1, 0, 0));
    h.outb(DEVICE, 0xB0);
    assert_eq!(h.inb(STATUS), 0x00, "ATAPI: DRDY clear after reset");
    assert_eq!((h.inb(NSECT), h.inb(LBA_LO), h.inb(LBA_MID), h.inb(LBA_HI)), (1, 1, 0x14, 0xEB));
}

#[test]
fn absent_devices_read_zero() {
    let mut h = H::disk(false);
    assert_eq!(h.inb(0x177), 0, "secondary channel empty");
    assert_eq!(h.inb(0x376), 0);
    h.outb(DEVICE, 0xB0);
    assert_eq!(h.inb(STATUS), 0, "absent slave");
    assert_eq!(h.inb(CTL), 0);
    h.outb(COMMAND, 0xEC);
    assert!(!h.irq(), "commands to an absent slave are ignored");
    h.outb(DEVICE, 0xA0);
    assert_eq!(h.inb(STATUS), 0x50);
}

#[test]
fn nien_masks_the_interrupt() {
    let mut h = H::disk(false);
    h.outb(CTL, 0x02);
    h.outb(COMMAND, 0xEC);
    assert!(!h.irq());
    assert_eq!(h.inb(BM + 2) & BM_INTR, 0);
    assert_eq!(h.inb(STATUS) & DRQ, DRQ);
    h.ins(DATA, 512);
    h.outb(CTL, 0x00);
    h.outb(COMMAND, 0xEC);
    assert!(h.irq());
    assert_eq!(h.inb(BM + 2) & BM_INTR, BM_INTR);
}

#[test]
fn taskfile_writes_ignored_while_drq() {
    let mut h = H::disk(false);
    h.outb(COMMAND, 0xEC);
    h.outb(LBA_LO, 0x77);
    h.outb(DEVICE, 0xB0);
    assert_eq!(h.inb(STATUS) & DRQ, DRQ, "still the master, still in DRQ");
    assert_ne!(h.inb(LBA_LO), 0x77);
}

#[test]
fn pci_config_space() {
    let mut h = H::empty();
    let ide: &mut Ide = &mut h.ide;
    assert_eq!(ide.config_read(0x00, 2), 0x8086);
    assert_eq!(ide.config_read(0x02, 2), 0x7010);
    assert_eq!(ide.config_read(0x09, 1), 0x80);
    assert_eq!(ide.config_read(0x0A, 2), 0x0101);
    assert_eq!(ide.config_read(0x0E, 1), 0x00);
    assert_eq!(ide.config_read(0x20, 4), 0x01);
    ide.config_write(0x20, &0xFFFF_FFFFu32.to_le_bytes());
    assert_eq!(ide.config_read(0x20, 4), 0xFFFF_FFF1, "16-byte I/O BAR");
    for off in [0x10u16, 0x14, 0x18, 0x1C, 0x24, 0x30] {
        ide.config_write(off, &0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(ide.config_read(off, 4), 0);
    }
    ide.config_write(0x40, &0x8000u16.to_le_bytes());
    ide.config_write(0x42, &0x8000u16.to_le_bytes());
    assert_eq!(ide.config_read(0x40, 4), 0x8000_8000);
    ide.config_write(0x20, &0xC001u32.to_le_bytes());
    assert_eq!(ide.bm_base(), None);
    ide.config_write(0x04, &[0x05]);
    assert_eq!(ide.bm_base(), Some(0xC000));
    assert!(ide.pci().bus_master_enabled());
}
