//! A port-level harness in the spirit of QEMU's ide-test: the Ide device
//! on a TestEnv, legacy ports, the bus-master block at 0xC000.
#![allow(dead_code)]

use ironide_block::layer::BackendId;
use ironide_dev_ide::{Ide, IdeDriveConfig};
use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::PioDevice;
use vm_memory::{Bytes, GuestAddress};

pub const BM: u16 = 0xC000;
pub const PRDT: u64 = 0x1000;
pub const BUF: u64 = 0x10000;

pub const DATA: u16 = 0x1F0;
pub const ERROR: u16 = 0x1F1;
pub const FEATURE: u16 = 0x1F1;
pub const NSECT: u16 = 0x1F2;
pub const LBA_LO: u16 = 0x1F3;
pub const LBA_MID: u16 = 0x1F4;
pub const LBA_HI: u16 = 0x1F5;
pub const DEVICE: u16 = 0x1F6;
pub const STATUS: u16 = 0x1F7;
pub const COMMAND: u16 = 0x1F7;
pub const CTL: u16 = 0x3F6;

pub const BSY: u8 = 0x80;
pub const DRDY: u8 = 0x40;
pub const DF: u8 = 0x20;
pub const DRQ: u8 = 0x08;
pub const ERR: u8 = 0x01;

pub const BM_ACTIVE: u8 = 1;
pub const BM_ERROR: u8 = 2;
pub const BM_INTR: u8 = 4;
pub const EOT: u32 = 0x8000_0000;

/// Deterministic, sector-distinct image contents.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i / 512) as u8).collect()
}

pub struct H {
    pub env: TestEnv,
    pub ide: Ide,
    pub disk: Option<BackendId>,
    pub image: Vec<u8>,
}

/// Geometry of the 64-sector test disk: 4 cylinders, 2 heads, 8 sectors.
pub const CYLS: u32 = 4;
pub const HEADS: u32 = 2;
pub const SECS: u32 = 8;
pub const DISK_SECTORS: u64 = 64;

impl H {
    pub fn empty() -> H {
        H { env: TestEnv::new(1 << 20), ide: Ide::new(), disk: None, image: Vec::new() }
    }

    /// A 64-sector disk as primary master, PCI I/O + bus master enabled.
    pub fn disk(read_only: bool) -> H {
        let mut h = H::empty();
        h.image = pattern(DISK_SECTORS as usize * 512);
        let img = h.image.clone();
        let be = h.env.backend("disk0", Some(&img), read_only);
        h.disk = Some(be);
        h.ide.attach(0, 0, IdeDriveConfig::disk(be, CYLS, HEADS, SECS)).unwrap();
        h.pci_setup(true);
        h
    }

    pub fn pci_setup(&mut self, bus_master: bool) {
        self.ide.config_write(0x20, &(BM as u32).to_le_bytes());
        self.ide.config_write(0x04, &[if bus_master { 0x05 } else { 0x01 }]);
    }

    pub fn inb(&mut self, port: u16) -> u8 {
        let mut d = [0u8];
        self.ide.pio_read(port, &mut d, &mut self.env.ctx());
        d[0]
    }

    pub fn outb(&mut self, port: u16, v: u8) {
        self.ide.pio_write(port, &[v], &mut self.env.ctx());
    }

    pub fn inw(&mut self, port: u16) -> u16 {
        let mut d = [0u8; 2];
        self.ide.pio_read(port, &mut d, &mut self.env.ctx());
        u16::from_le_bytes(d)
    }

    pub fn outw(&mut self, port: u16, v: u16) {
        self.ide.pio_write(port, &v.to_le_bytes(), &mut self.env.ctx());
    }

    pub fn outl(&mut self, port: u16, v: u32) {
        self.ide.pio_write(port, &v.to_le_bytes(), &mut self.env.ctx());
    }

    /// `rep insw` of `len` bytes as one access.
    pub fn ins(&mut self, port: u16, len: usize) -> Vec<u8> {
        let mut d = vec![0u8; len];
        self.ide.pio_read(port, &mut d, &mut self.env.ctx());
        d
    }

    pub fn outs(&mut self, port: u16, data: &[u8]) {
        self.ide.pio_write(port, data, &mut self.env.ctx());
    }

    pub fn run_io(&mut self) {
        self.env.run_io(&mut self.ide);
    }

    pub fn irq(&self) -> bool {
        self.env.irq.level(14)
    }

    pub fn mem_write(&self, addr: u64, data: &[u8]) {
        self.env.mem.write_slice(data, GuestAddress(addr)).unwrap();
    }

    pub fn mem_read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.env.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
        v
    }

    /// Program an LBA28 (or LBA48 for the EXT commands) address and count.
    pub fn set_lba(&mut self, lba: u64, count: u32, lba48: bool) {
        if lba48 {
            self.outb(NSECT, (count >> 8) as u8);
            self.outb(LBA_LO, (lba >> 24) as u8);
            self.outb(LBA_MID, (lba >> 32) as u8);
            self.outb(LBA_HI, (lba >> 40) as u8);
            self.outb(DEVICE, 0x40);
        } else {
            self.outb(DEVICE, 0xE0 | ((lba >> 24) as u8 & 0x0F));
        }
        self.outb(NSECT, count as u8);
        self.outb(LBA_LO, lba as u8);
        self.outb(LBA_MID, (lba >> 8) as u8);
        self.outb(LBA_HI, (lba >> 16) as u8);
    }

    /// Write a PRD table and point the engine at it.
    pub fn set_prdt(&mut self, prdt: &[(u32, u32)]) {
        let mut raw = Vec::new();
        for &(addr, ctl) in prdt {
            raw.extend_from_slice(&addr.to_le_bytes());
            raw.extend_from_slice(&ctl.to_le_bytes());
        }
        self.mem_write(PRDT, &raw);
        self.outb(BM, 0);
        self.outl(BM + 4, PRDT as u32);
        self.outb(BM + 2, BM_INTR | BM_ERROR);
    }

    /// Issue a DMA command the way ide-test's send_dma_request does and
    /// return the bus-master status once the transfer has ended.
    pub fn dma(&mut self, cmd: u8, lba: u64, count: u32, prdt: &[(u32, u32)], abort: bool) -> u8 {
        self.set_prdt(prdt);
        let lba48 = matches!(cmd, 0x25 | 0x35);
        let to_mem = matches!(cmd, 0xC8 | 0x25);
        if cmd == 0x06 {
            self.outb(FEATURE, 1);
        }
        self.set_lba(lba, count, lba48);
        self.outb(COMMAND, cmd);
        self.outb(BM, 1 | if to_mem { 8 } else { 0 });
        if abort {
            self.outb(BM, 0);
        }
        self.run_io();
        let st = self.inb(BM + 2);
        assert_eq!(self.irq(), st & BM_INTR != 0, "IRQ level follows BM INTR");
        st
    }
}
