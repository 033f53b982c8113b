//! Floppy controller tests over the qtest socket, in the spirit of QEMU's
//! fdc-test: CMOS drive types, DSKCHG, SENSE INTERRUPT, (relative) seeks,
//! READ ID on virtual time, VERIFY, reads with and without a medium.
//! Media changes through QMP are left to the QMP tests.

mod common;

use common::fdc::*;
use common::Qtest;

fn empty_drive() -> Qtest {
    Qtest::start(&["-device", "floppy,id=floppy0"])
}

fn with_medium() -> (Qtest, tempfile::NamedTempFile) {
    let (f, path) = image_144();
    let drive = format!("file={path},if=floppy,index=0,format=raw");
    (Qtest::start(&["-drive", &drive]), f)
}

fn cmos_with(args: &[&str]) -> (u8, u8) {
    let mut q = Qtest::start(args);
    (q.cmos(0x10), q.cmos(0x14) & 0x41)
}

#[test]
fn cmos_per_drive_type() {
    for (ty, want) in [("144", 0x40), ("288", 0x50), ("120", 0x20)] {
        let dev = format!("floppy,unit=0,drive-type={ty}");
        assert_eq!(cmos_with(&["-device", &dev]), (want, 0x01), "drive-type={ty}");
    }
    // drive-type=none: no drive at all.
    assert_eq!(cmos_with(&["-device", "floppy,unit=0,drive-type=none"]).0, 0x00);
    // No floppy device: the controller is there, with no drives.
    assert_eq!(cmos_with(&[]), (0x00, 0x00));
    // Two drives: A in the high nibble, B in the low one.
    assert_eq!(
        cmos_with(&["-device", "floppy,unit=0,drive-type=144", "-device", "floppy,unit=1,drive-type=120"]),
        (0x42, 0x41)
    );
}

#[test]
fn cmos_auto_drive_type_and_fallback() {
    // An empty auto drive falls back to 288 unless told otherwise.
    assert_eq!(cmos_with(&["-device", "floppy,unit=0"]).0, 0x50);
    for (fb, want) in [("144", 0x40), ("288", 0x50), ("120", 0x20)] {
        let g = format!("isa-fdc.fallback={fb}");
        assert_eq!(cmos_with(&["-global", &g, "-device", "floppy,unit=0,drive-type=auto"]).0, want, "fallback {fb}");
    }
    // With a 1.44 MB medium, auto takes the medium's type whatever the fallback.
    let (_f, path) = image_144();
    let drive = format!("file={path},if=none,id=fd0,format=raw");
    assert_eq!(
        cmos_with(&["-global", "isa-fdc.fallback=120", "-drive", &drive, "-device", "floppy,drive=fd0"]).0,
        0x40
    );
}

#[test]
fn no_media_on_start() {
    let mut q = empty_drive();
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG);
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG, "reading DIR does not clear it");
    seek(&mut q, 1);
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG, "stays set while no medium");
    seek(&mut q, 0);
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG);
}

#[test]
fn read_without_media() {
    let mut q = empty_drive();
    send_rw_params(&mut q, 0x06, 1);
    let r = results7(&mut q);
    assert_eq!((r[0], r[1]), (0x40, 0x01), "abnormal end, missing address mark: {r:x?}");
}

#[test]
fn sense_interrupt() {
    let mut q = empty_drive();
    // Nothing pending at power-on: the single invalid byte, and no IRQ.
    assert!(!q.get_irq(IRQ));
    send(&mut q, CMD_SENSE_INT);
    assert_eq!(recv(&mut q), 0x80);
    assert_eq!(q.inb(MSR), RQM);
    send(&mut q, CMD_SEEK);
    send(&mut q, 0);
    assert!(!q.get_irq(IRQ));
    send(&mut q, 0);
    assert!(q.get_irq(IRQ));
    send(&mut q, CMD_SENSE_INT);
    assert_eq!(recv(&mut q), 0x20);
    assert_eq!(recv(&mut q), 0);
    assert!(!q.get_irq(IRQ));
}

#[test]
fn media_at_power_on_and_dskchg_after_a_step() {
    let (mut q, _f) = with_medium();
    // DSKCHG stays until a step pulse moves the head.
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG);
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG);
    seek(&mut q, 0);
    assert_eq!(q.inb(DIR) & DSKCHG, DSKCHG, "no step to the same cylinder");
    seek(&mut q, 1);
    assert_eq!(q.inb(DIR) & DSKCHG, 0, "a step with a medium clears DSKCHG");
    assert_eq!(q.inb(DIR) & DSKCHG, 0);
}

#[test]
fn relative_seek() {
    let (mut q, _f) = with_medium();
    seek(&mut q, 0);
    for (cmd, n, want) in [(CMD_RELATIVE_SEEK_IN, 1, 1), (CMD_RELATIVE_SEEK_OUT, 1, 0), (CMD_RELATIVE_SEEK_IN, 10, 10)]
    {
        send(&mut q, cmd);
        send(&mut q, 0);
        assert!(!q.get_irq(IRQ));
        send(&mut q, n);
        let (st0, pcn) = ack_irq(&mut q);
        assert_eq!((st0 & 0xF0, pcn), (0x20, want), "relative seek {cmd:#x} by {n}");
    }
}

/// READ ID on drive 0 `head`; returns (ST0, C, H) after stepping virtual
/// time until the IRQ comes.
fn read_id(q: &mut Qtest, head: u8) -> (u8, u8, u8) {
    send(q, CMD_READ_ID);
    assert!(!q.get_irq(IRQ));
    send(q, head << 2);
    let msr = q.inb(MSR);
    if !q.get_irq(IRQ) {
        assert_eq!(msr & (BUSY | RQM), BUSY, "busy, no RQM while the sector header comes by (msr {msr:#x})");
    }
    let start = q.clock_step(Some(0));
    let mut steps = 0;
    while !q.get_irq(IRQ) {
        q.clock_step(Some(1_000_000_000 / 50));
        steps += 1;
        assert!(steps < 100, "READ ID never completed");
    }
    assert!(q.clock_step(Some(0)) > start, "READ ID completes on virtual time only");
    let r = results7(q);
    (r[0], r[3], r[4])
}

#[test]
fn read_id_needs_virtual_time() {
    let (mut q, _f) = with_medium();
    seek(&mut q, 0);
    assert_eq!(read_id(&mut q, 0), (0x00, 0, 0));
    // Cylinder 8 on head 1.
    send(&mut q, CMD_SEEK);
    send(&mut q, 1 << 2);
    assert!(!q.get_irq(IRQ));
    send(&mut q, 8);
    let (_, pcn) = ack_irq(&mut q);
    assert_eq!(pcn, 8);
    assert_eq!(read_id(&mut q, 1), (0x04, 8, 1));
    // clock_set jumps over the whole delay at once.
    send(&mut q, CMD_READ_ID);
    send(&mut q, 0);
    assert!(!q.get_irq(IRQ));
    let now = q.clock_step(Some(0));
    assert_eq!(q.clock_set(now + 1_000_000_000), now + 1_000_000_000);
    assert!(q.get_irq(IRQ), "READ ID done within a virtual second");
    let r = results7(&mut q);
    assert_eq!((r[0], r[3], r[4]), (0x00, 8, 0));
}

#[test]
fn verify_without_dma() {
    let (mut q, _f) = with_medium();
    seek(&mut q, 0);
    send_rw_params(&mut q, CMD_VERIFY, 1);
    let r = results7(&mut q);
    assert_eq!(r[0] & 0xC0, 0, "VERIFY ends normally: {r:x?}");
}

/// fdc-test's non-DMA read: DMA gated off in DOR, READ (MT, MFM) from
/// C0 H0 S1 up to sector `eot`, every byte through the FIFO.
fn read_no_dma(eot: u8) -> (Vec<u8>, Vec<u8>) {
    let (mut q, _f) = with_medium();
    let dor = q.inb(DOR);
    q.outb(DOR, dor & !0x08);
    seek(&mut q, 0);
    send_rw_params(&mut q, CMD_READ, eot);
    let n = 512 * 2 * usize::from(eot);
    let mut data = Vec::with_capacity(n);
    for i in 0..n {
        let msr = q.inb(MSR);
        assert_eq!(msr & (BUSY | RQM | DIO | NDMA), BUSY | RQM | DIO | NDMA, "byte {i}: msr {msr:#x}");
        data.push(q.inb(FIFO));
    }
    (data, results7(&mut q))
}

fn sectors(lbas: impl IntoIterator<Item = u64>) -> Vec<u8> {
    lbas.into_iter().flat_map(|s| (0..512).map(move |i| sector_byte(s, i))).collect()
}

#[test]
fn read_no_dma_1() {
    let (data, r) = read_no_dma(1);
    assert_eq!(r[0], 0x04);
    assert!(data == sectors([0, 18]), "sector 1 of both heads");
}

#[test]
fn read_no_dma_18() {
    let (data, r) = read_no_dma(18);
    assert_eq!(r[0], 0x04);
    assert!(data == sectors(0..36), "cylinder 0, both heads");
}

#[test]
fn read_no_dma_19() {
    let (data, r) = read_no_dma(19);
    assert_eq!(r[0], 0x20);
    assert!(data == sectors(0..38), "runs on in LBA order");
}
