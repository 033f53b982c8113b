//! A floppy controller on a miniature machine, driven through its ports the
//! way QEMU's qtest fdc-test drives it.
#![allow(dead_code)]

use ironide_block::layer::BackendId;
use ironide_dev_fdc::{DriveConfig, DriveType, Fdc, FdcConfig, IsaFdc};
use ironide_dev_isa_dma::IsaDma;
use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::PioDevice;

pub const BASE: u16 = 0x3F0;
pub const DOR: u16 = BASE + 2;
pub const MSR: u16 = BASE + 4;
pub const FIFO: u16 = BASE + 5;
pub const DIR: u16 = BASE + 7;
pub const IRQ: u32 = 6;

pub const CMD_READ: u8 = 0xE6;
pub const CMD_WRITE: u8 = 0xC5;
pub const CMD_VERIFY: u8 = 0xF6;
pub const CMD_SEEK: u8 = 0x0F;
pub const CMD_SENSE_INT: u8 = 0x08;
pub const CMD_READ_ID: u8 = 0x4A;

/// Byte `i` of 512-byte sector `lba` of the test image.
pub fn pattern(lba: u64, i: usize) -> u8 {
    (lba as usize * 7 + i * 3 + (lba as usize >> 8)) as u8
}

pub fn image(sectors: u64) -> Vec<u8> {
    (0..sectors).flat_map(|s| (0..512).map(move |i| pattern(s, i))).collect()
}

pub struct Rig {
    pub env: TestEnv,
    pub dev: IsaFdc,
    pub backends: [BackendId; 2],
}

impl Rig {
    /// Drive A of `ty` with `medium` (None: empty), drive B absent.
    pub fn new(ty: DriveType, medium: Option<&[u8]>, read_only: bool) -> Rig {
        Self::with(ty, medium, read_only, DriveType::None, DriveType::D288)
    }

    pub fn with(ty: DriveType, medium: Option<&[u8]>, ro: bool, ty_b: DriveType, fallback: DriveType) -> Rig {
        let mut env = TestEnv::new(2 << 20);
        let a = env.backend("floppy0", medium, ro);
        let b = env.backend("floppy1", None, false);
        let cfg = FdcConfig {
            drives: [
                DriveConfig { backend: Some(a), drive_type: ty },
                DriveConfig { backend: Some(b), drive_type: ty_b },
            ],
            fallback,
            ..Default::default()
        };
        let fdc = Fdc::new(cfg, &env.layer);
        Rig { env, dev: IsaFdc::new(fdc, IsaDma::new()), backends: [a, b] }
    }

    /// The usual test setup: a 1.44 MB image in a 1.44 MB drive.
    pub fn disk() -> Rig {
        Rig::new(DriveType::D144, Some(&image(2880)), false)
    }

    pub fn outb(&mut self, port: u16, v: u8) {
        self.dev.pio_write(port, &[v], &mut self.env.ctx());
    }

    pub fn outw(&mut self, port: u16, v: u16) {
        self.dev.pio_write(port, &v.to_le_bytes(), &mut self.env.ctx());
    }

    pub fn inb(&mut self, port: u16) -> u8 {
        let mut b = [0u8];
        self.dev.pio_read(port, &mut b, &mut self.env.ctx());
        b[0]
    }

    pub fn irq(&self) -> bool {
        self.env.irq.level(IRQ)
    }

    /// Deliver block completions (what the machine's event loop does).
    pub fn io(&mut self) {
        self.env.run_io(&mut self.dev);
    }

    pub fn send(&mut self, v: u8) {
        let msr = self.inb(MSR);
        assert_eq!(msr & 0xC0, 0x80, "controller not ready for a command byte (MSR {msr:#x})");
        self.outb(FIFO, v);
    }

    pub fn recv(&mut self) -> u8 {
        let msr = self.inb(MSR);
        assert_eq!(msr & 0xC0, 0xC0, "controller has no result byte (MSR {msr:#x})");
        self.inb(FIFO)
    }

    pub fn cmd(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.send(b);
        }
    }

    /// All bytes of the result phase.
    pub fn results(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        while self.inb(MSR) & 0xC0 == 0xC0 && v.len() < 32 {
            v.push(self.inb(FIFO));
        }
        v
    }

    pub fn sense_int(&mut self) -> Vec<u8> {
        self.send(CMD_SENSE_INT);
        self.results()
    }

    /// SEEK drive 0 head 0 to `cyl` and acknowledge the interrupt.
    pub fn seek(&mut self, cyl: u8) {
        self.send(CMD_SEEK);
        self.send(0);
        assert!(!self.irq());
        self.send(cyl);
        assert!(self.irq(), "SEEK raises IRQ 6 at once");
        let r = self.sense_int();
        assert_eq!(r, vec![0x20, cyl]);
        assert!(!self.irq());
    }

    /// Program DMA channel 2 as SeaBIOS's dma_floppy() does.
    pub fn dma_setup(&mut self, addr: u32, len: u16, write_to_mem: bool) {
        let mode = if write_to_mem { 0x46 } else { 0x4A };
        self.outb(0x0A, 0x06); // mask channel 2
        self.outb(0x0C, 0);
        self.outb(0x0B, mode);
        self.outb(0x04, addr as u8);
        self.outb(0x04, (addr >> 8) as u8);
        self.outb(0x81, (addr >> 16) as u8);
        self.outb(0x0C, 0);
        self.outb(0x05, (len - 1) as u8);
        self.outb(0x05, ((len - 1) >> 8) as u8);
        self.outb(0x0A, 0x02); // unmask
    }

    /// A read/write-type command: drive 0, the given C/H/R, N = 2, EOT.
    pub fn xfer_cmd(&mut self, op: u8, cyl: u8, head: u8, sect: u8, eot: u8) {
        self.cmd(&[op, head << 2, cyl, head, sect, 2, eot, 0x1B, 0xFF]);
    }
}
