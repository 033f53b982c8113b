//! PCI configuration through the ports, as firmware does it.

use ironide_dev_platform::testing::TestEnv;
use ironide_dev_platform::{I440fx, PciConfigAddress, PciFunction, Piix3Isa, PioDevice};

/// A two-function bus behind 0xCF8/0xCFC as the machine wires it.
struct Bus {
    addr: PciConfigAddress,
    host: I440fx,
    isa: Piix3Isa,
}

impl Bus {
    fn new() -> Self {
        Bus { addr: PciConfigAddress::new(), host: I440fx::new(), isa: Piix3Isa::new() }
    }

    fn select(&mut self, env: &mut TestEnv, bdf: (u8, u8, u8), reg: u8) {
        let v = 0x8000_0000u32 | (bdf.0 as u32) << 16 | (bdf.1 as u32) << 11 | (bdf.2 as u32) << 8 | reg as u32;
        self.addr.pio_write(0xCF8, &v.to_le_bytes(), &mut env.ctx());
    }

    fn func(&mut self, bdf: (u8, u8, u8)) -> Option<&mut dyn PciFunction> {
        match bdf {
            (0, 0, 0) => Some(&mut self.host),
            (0, 1, 0) => Some(&mut self.isa),
            _ => None,
        }
    }

    fn read(&mut self, env: &mut TestEnv, bdf: (u8, u8, u8), reg: u8, len: usize) -> u32 {
        self.select(env, bdf, reg & 0xFC);
        let port = 0xCFC + (reg & 3) as u16;
        let mut data = vec![0xFFu8; len];
        if let Some(a) = self.addr.decode(port) {
            if let Some(f) = self.func((a.bus, a.dev, a.func)) {
                f.config_read(a.reg, &mut data);
            }
        }
        data.iter().rev().fold(0, |acc, &b| acc << 8 | b as u32)
    }

    fn write(&mut self, env: &mut TestEnv, bdf: (u8, u8, u8), reg: u8, data: &[u8]) {
        self.select(env, bdf, reg & 0xFC);
        if let Some(a) = self.addr.decode(0xCFC + (reg & 3) as u16) {
            if let Some(f) = self.func((a.bus, a.dev, a.func)) {
                f.config_write(a.reg, data);
            }
        }
    }
}

#[test]
fn cf8_latches_dwords_only() {
    let mut env = TestEnv::new(4096);
    let mut a = PciConfigAddress::new();
    a.pio_write(0xCF8, &0x8000_0000u32.to_le_bytes(), &mut env.ctx());
    let mut d = [0u8; 4];
    a.pio_read(0xCF8, &mut d, &mut env.ctx());
    assert_eq!(u32::from_le_bytes(d), 0x8000_0000);
    // A byte write does not disturb the latch.
    a.pio_write(0xCF8, &[0x12], &mut env.ctx());
    a.pio_read(0xCF8, &mut d, &mut env.ctx());
    assert_eq!(u32::from_le_bytes(d), 0x8000_0000);
    a.reset();
    assert_eq!(a.decode(0xCFC), None);
}

#[test]
fn ids_classes_and_headers_as_seabios_scans_them() {
    let mut env = TestEnv::new(4096);
    let mut bus = Bus::new();
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x00, 4), 0x1237_8086);
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x0A, 2), 0x0600);
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x0E, 1), 0x00);
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x2C, 4), 0x1100_1AF4);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x00, 4), 0x7000_8086);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x0A, 2), 0x0601);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x0E, 1), 0x80);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x60, 4), 0x8080_8080);
    // Nothing at 00:02.0: all ones.
    assert_eq!(bus.read(&mut env, (0, 2, 0), 0x00, 4), 0xFFFF_FFFF);
}

#[test]
fn unimplemented_bars_and_rom_read_zero() {
    let mut env = TestEnv::new(4096);
    let mut bus = Bus::new();
    for bdf in [(0, 0, 0), (0, 1, 0)] {
        for reg in (0x10..=0x24).step_by(4).chain([0x30]) {
            bus.write(&mut env, bdf, reg, &[0xFF; 4]);
            assert_eq!(bus.read(&mut env, bdf, reg, 4), 0, "{bdf:?} reg {reg:#x}");
        }
    }
}

#[test]
fn pam_writes_through_the_ports_and_sub_dword_offsets() {
    let mut env = TestEnv::new(4096);
    let mut bus = Bus::new();
    // SeaBIOS style: a byte write at 0xCFD reaches 0x59.
    bus.write(&mut env, (0, 0, 0), 0x59, &[0x30]);
    assert!(bus.host.take_pam_change());
    assert_eq!(bus.host.pam()[0], 0x30);
    bus.write(&mut env, (0, 0, 0), 0x5A, &[0x33, 0x33]);
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x58, 4), 0x3333_3000);
    assert!(bus.host.take_pam_change());
    bus.host.reset();
    assert_eq!(bus.host.pam(), [0; 7]);
    assert!(bus.host.take_pam_change(), "reset back to no shadowing is a change");
}

#[test]
fn command_and_device_specific_registers_are_stored() {
    let mut env = TestEnv::new(4096);
    let mut bus = Bus::new();
    bus.write(&mut env, (0, 1, 0), 0x04, &[0xFF, 0xFF]);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x04, 2), 0x0547);
    bus.write(&mut env, (0, 1, 0), 0x80, &[0xAB]);
    assert_eq!(bus.read(&mut env, (0, 1, 0), 0x80, 1), 0xAB);
    assert_eq!(bus.read(&mut env, (0, 0, 0), 0x72, 1), 0x02);
}

#[test]
fn elcr_masks_always_edge_irqs() {
    let mut env = TestEnv::new(4096);
    let mut e = ironide_dev_platform::Elcr::new();
    e.pio_write(0x4D0, &[0xFF, 0xFF], &mut env.ctx());
    let mut d = [0u8; 2];
    e.pio_read(0x4D0, &mut d, &mut env.ctx());
    assert_eq!(d, [0xF8, 0xDE]);
    assert!(e.is_level(11) && !e.is_level(8) && !e.is_level(0));
    e.reset();
    assert!(!e.is_level(11));
}
