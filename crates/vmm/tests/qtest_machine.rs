//! The machine under qtest, driven through its QtestMachine methods
//! directly (no socket): IDE IDENTIFY, FDC SENSE INTERRUPT, PCI config
//! space of 00:01.1, CMOS bytes.

mod common;

use common::*;
use ironide_vmm::config::BootDevice;
use ironide_vmm::qtest_glue::QtestMachine;
use ironide_vmm::Machine;

fn machine_with_disk(dir: &std::path::Path) -> Machine {
    let img = image(dir, "hd.img", &[0u8; 512], 8 << 20);
    let mut cfg = base_config(&dir.join("serial.log"), &[BootDevice::Disk]);
    cfg.accel = ironide_vmm::config::Accel::Qtest;
    cfg.layout.backends.push(backend("ide0-hd0", &img));
    cfg.layout.ide[0][0] = Some(ide_disk(0));
    ironide_vmm::qtest_machine(&cfg).expect("qtest machine")
}

#[test]
fn ide_identify_through_ports() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = machine_with_disk(dir.path());
    assert!(m.irq_intercept(true));
    m.pio_write(0x1F6, 1, 0xA0);
    m.pio_write(0x1F7, 1, 0xEC);
    m.settle();
    let status = m.pio_read(0x1F7, 1);
    assert_eq!(status & 0x89, 0x08, "DRQ without BSY/ERR, status {status:#x}");
    let mut words = Vec::new();
    for _ in 0..256 {
        words.push(m.pio_read(0x1F0, 2) as u16);
    }
    // Serial number QM00001 in words 10-19, byte-swapped ATA string.
    let serial: Vec<u8> = words[10..20].iter().flat_map(|w| w.to_be_bytes()).collect();
    assert!(String::from_utf8_lossy(&serial).starts_with("QM00001"), "{serial:?}");
    assert!(m.take_irq_changes().contains(&(14, true)));
}

#[test]
fn fdc_sense_interrupt_after_reset() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = machine_with_disk(dir.path());
    m.irq_intercept(true);
    // Controller reset, then out of reset with DMA/IRQ enabled: IRQ 6.
    m.pio_write(0x3F2, 1, 0x00);
    m.pio_write(0x3F2, 1, 0x0C);
    assert!(m.take_irq_changes().contains(&(6, true)));
    m.pio_write(0x3F5, 1, 0x08);
    let st0 = m.pio_read(0x3F5, 1);
    let _pcn = m.pio_read(0x3F5, 1);
    assert_eq!(st0, 0xC0, "SENSE INTERRUPT ST0 after reset");
}

#[test]
fn pci_config_of_the_ide_function() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = machine_with_disk(dir.path());
    m.pio_write(0xCF8, 4, 0x8000_0900);
    assert_eq!(m.pio_read(0xCF8, 4), 0x8000_0900);
    assert_eq!(m.pio_read(0xCFC, 4), 0x7010_8086);
    m.pio_write(0xCF8, 4, 0x8000_0908);
    assert_eq!(m.pio_read(0xCFC, 4) >> 8, 0x01_0180);
    // The host bridge and the ISA bridge.
    m.pio_write(0xCF8, 4, 0x8000_0000);
    assert_eq!(m.pio_read(0xCFC, 4), 0x1237_8086);
    m.pio_write(0xCF8, 4, 0x8000_0800);
    assert_eq!(m.pio_read(0xCFC, 4), 0x7000_8086);
    // Nothing at 00:02.0.
    m.pio_write(0xCF8, 4, 0x8000_1000);
    assert_eq!(m.pio_read(0xCFC, 4), 0xFFFF_FFFF);
    // BAR4 programmed: the bus-master block answers there.
    m.pio_write(0xCF8, 4, 0x8000_0920);
    m.pio_write(0xCFC, 4, 0xC000);
    m.pio_write(0xCF8, 4, 0x8000_0904);
    m.pio_write(0xCFC, 2, 0x0005);
    m.pio_write(0xC004, 4, 0x1234_5000);
    assert_eq!(m.pio_read(0xC004, 4), 0x1234_5000);
}

#[test]
fn cmos_bytes_through_ports() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = machine_with_disk(dir.path());
    let mut cmos = |off: u32| {
        m.pio_write(0x70, 1, off);
        m.pio_read(0x71, 1)
    };
    // 128 MiB: base 640 KiB, extended capped, above 16 MiB in 64 KiB units.
    assert_eq!((cmos(0x15), cmos(0x16)), (0x80, 0x02));
    assert_eq!((cmos(0x30), cmos(0x31)), (0xFF, 0xFF), "capped at 65535 KiB");
    assert_eq!((cmos(0x34), cmos(0x35)), (0x00, 0x07));
    assert_eq!(cmos(0x3D), 0x02, "boot from disk first");
    assert_eq!(cmos(0x12) & 0xF0, 0xF0, "ide0 master is a type-47 disk");
    assert_eq!(cmos(0x10), 0x00, "no floppy drives");
}

#[test]
fn unhandled_ports_float_high_and_clock_steps() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = machine_with_disk(dir.path());
    assert_eq!(m.pio_read(0x2F8, 1), 0xFF);
    assert_eq!(m.pio_read(0x2F8, 4), 0xFFFF_FFFF);
    let t = m.clock_now();
    assert_eq!(m.clock_step(Some(1000)), t + 1000);
    assert_eq!(m.clock_set(t + 5000), t + 5000);
    assert!(m.mem_write(0x1000, b"abc"));
    let mut b = [0u8; 3];
    assert!(m.mem_read(0x1000, &mut b));
    assert_eq!(&b, b"abc");
}
