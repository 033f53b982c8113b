//! The PIIX3 PCI-to-ISA bridge (00:01.0) and its edge/level control
//! registers (ELCR, ports 0x4D0/0x4D1).

use crate::api::{DevCtx, PioDevice};
use crate::pci::{ConfigSpace, PciFunction};

/// PIRQA..PIRQD route control (0x80 = disabled at reset).
pub const PIRQ_ROUTE: u16 = 0x60;

#[derive(Clone, Debug)]
pub struct Piix3Isa {
    cfg: ConfigSpace,
}

impl Default for Piix3Isa {
    fn default() -> Self {
        Self::new()
    }
}

impl Piix3Isa {
    pub fn new() -> Self {
        // Header type bit 7: multifunction, or firmware never looks at
        // function 1 (the IDE controller).
        let mut cfg = ConfigSpace::new(0x8086, 0x7000, [0x06, 0x01, 0x00], 0x00, 0x80);
        // Power-on values from the PIIX3 datasheet.
        cfg.set_u16(0x04, 0x0007);
        cfg.set_u16(0x06, 0x0200);
        for (reg, v) in [(0x4C, 0x4D), (0x4E, 0x03), (0x69, 0x02), (0x70, 0x80), (0x76, 0x0C), (0x77, 0x0C)] {
            cfg.set_u8(reg, v);
        }
        for (reg, v) in [(0x78, 0x02), (0xA0, 0x08)] {
            cfg.set_u8(reg, v);
        }
        for i in 0..4 {
            cfg.set_u8(PIRQ_ROUTE as usize + i, 0x80);
        }
        Piix3Isa { cfg }
    }

    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// The ISA IRQ PIRQA..D are routed to (None: disabled, bit 7 set).
    pub fn pirq_route(&self, pirq: usize) -> Option<u8> {
        let v = self.cfg.u8_at(PIRQ_ROUTE as usize + pirq.min(3));
        (v & 0x80 == 0).then_some(v & 0x0F)
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }
}

impl PciFunction for Piix3Isa {
    fn config_read(&mut self, reg: u16, data: &mut [u8]) {
        self.cfg.read(reg, data);
    }

    fn config_write(&mut self, reg: u16, data: &[u8]) {
        self.cfg.write(reg, data);
    }
}

pub const ELCR_PORT: u16 = 0x4D0;

/// The two edge/level control registers (one bit per IRQ; 1 = level).
/// IRQs 0, 1, 2, 8 and 13 are always edge-triggered. Only a machine whose
/// PIC is not in the kernel (qtest) needs this: KVM's PIC decodes these
/// ports itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elcr {
    regs: [u8; 2],
}

const ELCR_WMASK: [u8; 2] = [0xF8, 0xDE];

impl Elcr {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn reset(&mut self) {
        self.regs = [0; 2];
    }

    pub fn is_level(&self, irq: u32) -> bool {
        irq < 16 && self.regs[(irq / 8) as usize] & (1 << (irq % 8)) != 0
    }

    fn index(port: u16) -> Option<usize> {
        port.checked_sub(ELCR_PORT).map(usize::from).filter(|&i| i < 2)
    }
}

impl PioDevice for Elcr {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = Self::index(port.wrapping_add(i as u16)).map_or(0xFF, |r| self.regs[r]);
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        for (i, &v) in data.iter().enumerate() {
            if let Some(r) = Self::index(port.wrapping_add(i as u16)) {
                self.regs[r] = v & ELCR_WMASK[r];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pirq_routes_reset_disabled() {
        let mut p = Piix3Isa::new();
        assert_eq!(p.pirq_route(0), None);
        p.config_write(0x61, &[0x0B]);
        assert_eq!(p.pirq_route(1), Some(11));
        p.reset();
        assert_eq!(p.pirq_route(1), None);
    }
}
