//! Floppy controller sequences over qtest (base 0x3F0, IRQ 6), the way
//! fdc-test talks to the controller: wait for RQM/DIO in MSR before every
//! FIFO byte.

use super::Qtest;

pub const BASE: u16 = 0x3F0;
pub const DOR: u16 = BASE + 2;
pub const MSR: u16 = BASE + 4;
pub const FIFO: u16 = BASE + 5;
pub const DIR: u16 = BASE + 7;
pub const IRQ: usize = 6;

pub const RQM: u8 = 0x80;
pub const DIO: u8 = 0x40;
pub const NDMA: u8 = 0x20;
pub const BUSY: u8 = 0x10;
pub const DSKCHG: u8 = 0x80;

pub const CMD_SENSE_INT: u8 = 0x08;
pub const CMD_SEEK: u8 = 0x0F;
pub const CMD_READ: u8 = 0xE6;
pub const CMD_VERIFY: u8 = 0x16;
pub const CMD_READ_ID: u8 = 0x0A;
pub const CMD_RELATIVE_SEEK_IN: u8 = 0xCF;
pub const CMD_RELATIVE_SEEK_OUT: u8 = 0x8F;

/// Bounded wait for MSR & (RQM|DIO) == want.
fn wait_msr(q: &mut Qtest, want: u8) {
    for _ in 0..100 {
        let msr = q.inb(MSR);
        if msr & (RQM | DIO) == want {
            return;
        }
    }
    panic!("FDC MSR never reached RQM|DIO = {want:#x} (last {:#x})", q.inb(MSR));
}

/// One command/parameter byte.
pub fn send(q: &mut Qtest, b: u8) {
    wait_msr(q, RQM);
    q.outb(FIFO, b);
}

/// One result byte.
pub fn recv(q: &mut Qtest) -> u8 {
    wait_msr(q, RQM | DIO);
    q.inb(FIFO)
}

/// SENSE INTERRUPT after an IRQ: checks the IRQ was up and is lowered;
/// returns (ST0, PCN).
pub fn ack_irq(q: &mut Qtest) -> (u8, u8) {
    assert!(q.get_irq(IRQ), "IRQ 6 pending before SENSE INTERRUPT");
    send(q, CMD_SENSE_INT);
    let st0 = recv(q);
    let pcn = recv(q);
    assert!(!q.get_irq(IRQ), "SENSE INTERRUPT lowered IRQ 6");
    (st0, pcn)
}

/// SEEK drive 0 head 0 to `cyl`; checks the interrupt and the PCN.
pub fn seek(q: &mut Qtest, cyl: u8) {
    send(q, CMD_SEEK);
    send(q, 0);
    assert!(!q.get_irq(IRQ), "no IRQ before the last parameter");
    send(q, cyl);
    assert!(q.get_irq(IRQ), "SEEK completes at once");
    let (st0, pcn) = ack_irq(q);
    assert_eq!((st0 & 0xF0, pcn), (0x20, cyl), "seek end at cylinder {cyl}");
}

/// The 8 parameter bytes of a READ/VERIFY from C0 H0 S1, 512-byte sectors.
pub fn send_rw_params(q: &mut Qtest, cmd: u8, eot: u8) {
    send(q, cmd);
    send(q, 0); // head 0, drive 0
    assert!(!q.get_irq(IRQ));
    for b in [0, 0, 1, 2, eot, 0x1B, 0xFF] {
        send(q, b);
    }
}

/// The 7 result bytes after the execution phase; checks IRQ 6 is up until
/// the last one is read and MSR is 0x80 afterwards.
pub fn results7(q: &mut Qtest) -> Vec<u8> {
    assert_eq!(q.inb(MSR), RQM | DIO | BUSY, "result phase");
    assert!(q.get_irq(IRQ), "IRQ 6 with the result phase");
    let mut r: Vec<u8> = (0..6).map(|_| recv(q)).collect();
    assert!(q.get_irq(IRQ), "IRQ 6 until the last result byte");
    r.push(recv(q));
    assert!(!q.get_irq(IRQ), "the last result byte lowers IRQ 6");
    assert_eq!(q.inb(MSR), RQM, "back to command phase");
    r
}

/// Sector `lba` of the floppy test image, byte `i`.
pub fn sector_byte(lba: u64, i: u64) -> u8 {
    ((lba * 31 + i * 7 + i / 256) % 253) as u8
}

/// A 1.44 MB image whose sectors carry `sector_byte`.
pub fn image_144() -> (tempfile::NamedTempFile, String) {
    super::image("qt-fd", 1_474_560, false, |off| sector_byte(off / 512, off % 512))
}
