//! The qtest mode over its real socket, the way libqtest drives QEMU: the
//! test listens, `ironide -accel qtest -qtest unix:PATH` connects, commands
//! go one per line.

mod common;

use std::time::Duration;

use common::{exit_within, image, Qtest};

#[test]
fn basic_protocol_and_clock() {
    let mut q = Qtest::start_raw(&[]);
    assert_eq!(q.cmd("endianness"), "OK little");
    assert_eq!(q.cmd("clock_step 1000"), "OK 1000");
    assert_eq!(q.cmd("clock_set 5000"), "OK 5000");
    assert!(q.cmd("frobnicate 1").starts_with("FAIL Unknown command 'frobnicate'"));
    assert_eq!(q.cmd("writel 0x1000 0x12345678"), "OK");
    assert_eq!(q.num("readl 0x1000"), 0x12345678);
    assert_eq!(q.cmd("write 0x2000 4 0xdeadbeef"), "OK");
    assert_eq!(q.cmd("read 0x2000 4"), "OK 0xdeadbeef");
    // A 16 KiB write in one line (32 KiB of hex).
    let hex: String = (0..16384).map(|i| format!("{:02x}", i % 256)).collect();
    assert_eq!(q.cmd(&format!("write 0x10000 16384 0x{hex}")), "OK");
    assert_eq!(q.cmd("read 0x10000 16384"), format!("OK 0x{hex}"));
}

#[test]
fn pci_and_cmos_through_ports() {
    let mut q = Qtest::start_raw(&[]);
    // 00:01.1 vendor/device: PIIX3 IDE.
    assert_eq!(q.cmd(&format!("outl 0xcf8 {:#x}", 0x8000_0000u32 | (1 << 11) | (1 << 8))), "OK");
    assert_eq!(q.num("inl 0xcfc"), 0x7010_8086);
    // CMOS status register D: valid RAM and time.
    assert_eq!(q.cmd("outb 0x70 0x0d"), "OK");
    assert_eq!(q.num("inb 0x71"), 0x80);
}

#[test]
fn ide_identify_raises_irq_14_before_ok() {
    let (_img, path) = image("qt-ident", 1 << 20, false, |i| (i % 251) as u8);
    let drive = format!("file={path},if=ide,index=0,format=raw");
    let mut q = Qtest::start_raw(&["-drive", &drive]);
    assert_eq!(q.cmd("irq_intercept_in ioapic"), "OK");
    assert_eq!(q.cmd("outb 0x1f6 0xa0"), "OK");
    assert_eq!(q.cmd("outb 0x1f7 0xec"), "OK");
    assert_eq!(q.irq_log, vec!["IRQ raise 14".to_string()], "the IRQ line comes before the OK of the command");
    // DRDY|DSC|DRQ... at least DRDY and DRQ, no BSY.
    let st = q.num("inb 0x3f6");
    assert_eq!(st & 0x88, 0x08, "status {st:#x}");
    let words: Vec<u16> = (0..256).map(|_| q.num("inw 0x1f0") as u16).collect();
    assert_eq!(words[0], 0x0040);
    let serial: String =
        words[10..20].iter().flat_map(|w| [(w >> 8) as u8 as char, (*w & 0xff) as u8 as char]).collect();
    assert_eq!(serial.trim_end(), "QM00001");
    // Status read lowers the line.
    q.irq_log.clear();
    q.num("inb 0x1f7");
    assert_eq!(q.irq_log, vec!["IRQ lower 14".to_string()]);
}

#[test]
fn peer_close_ends_the_process() {
    let mut q = Qtest::start_raw(&[]);
    assert_eq!(q.cmd("endianness"), "OK little");
    q.close();
    let status = exit_within(&mut q.child, Duration::from_secs(5));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "ironide exits 0 when the qtest peer closes");
}
