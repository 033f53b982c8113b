//! The i440FX host bridge (00:00.0): identity, the PAM registers that map
//! the BIOS shadow areas, and the SMRAM register.

use crate::pci::{ConfigSpace, PciFunction};

/// PAM0 (0xF0000-0xFFFFF in its high nibble) .. PAM6.
pub const PAM_FIRST: u16 = 0x59;
pub const PAM_COUNT: usize = 7;
pub const SMRAM: u16 = 0x72;

/// SMRAM: D_LCK, once set, freezes D_OPEN until reset.
const SMRAM_D_OPEN: u8 = 0x40;
const SMRAM_D_LCK: u8 = 0x10;
/// C_BASE_SEG is hard-wired to 010 (the A-segment).
const SMRAM_RESET: u8 = 0x02;

#[derive(Clone, Debug)]
pub struct I440fx {
    cfg: ConfigSpace,
    pam_changed: bool,
}

impl Default for I440fx {
    fn default() -> Self {
        Self::new()
    }
}

impl I440fx {
    pub fn new() -> Self {
        let mut cfg = ConfigSpace::new(0x8086, 0x1237, [0x06, 0x00, 0x00], 0x02, 0x00);
        cfg.set_u16(0x06, 0x0280);
        // PAM0 has only the high (0xF0000) field; each field is 2 bits
        // (read enable, write enable).
        cfg.set_wmask(PAM_FIRST as usize, 0x30);
        for r in 1..PAM_COUNT {
            cfg.set_wmask(PAM_FIRST as usize + r, 0x33);
        }
        cfg.set_u8(SMRAM as usize, SMRAM_RESET);
        cfg.set_wmask(SMRAM as usize, 0x78);
        I440fx { cfg, pam_changed: false }
    }

    pub fn reset(&mut self) {
        let changed = self.pam() != [0; PAM_COUNT];
        *self = Self::new();
        self.pam_changed = changed;
    }

    /// PAM0..PAM6 (config 0x59-0x5F).
    pub fn pam(&self) -> [u8; PAM_COUNT] {
        let mut p = [0u8; PAM_COUNT];
        for (i, b) in p.iter_mut().enumerate() {
            *b = self.cfg.u8_at(PAM_FIRST as usize + i);
        }
        p
    }

    /// Whether the PAM registers changed since the last call (the machine
    /// then remaps the shadow areas).
    pub fn take_pam_change(&mut self) -> bool {
        std::mem::take(&mut self.pam_changed)
    }

    pub fn smram(&self) -> u8 {
        self.cfg.u8_at(SMRAM as usize)
    }

    pub fn config(&self) -> &ConfigSpace {
        &self.cfg
    }
}

impl PciFunction for I440fx {
    fn config_read(&mut self, reg: u16, data: &mut [u8]) {
        self.cfg.read(reg, data);
    }

    fn config_write(&mut self, reg: u16, data: &[u8]) {
        let before = self.pam();
        let smram = self.smram();
        self.cfg.write(reg, data);
        if smram & SMRAM_D_LCK != 0 {
            // Locked: D_OPEN stays clear and the lock itself stays set.
            let v = (self.smram() & !SMRAM_D_OPEN) | SMRAM_D_LCK;
            self.cfg.set_u8(SMRAM as usize, v);
        }
        if self.pam() != before {
            self.pam_changed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pam_change_is_reported_once() {
        let mut h = I440fx::new();
        h.config_write(0x5A, &[0x33]);
        assert!(h.take_pam_change());
        assert!(!h.take_pam_change());
        h.config_write(0x5A, &[0x33]);
        assert!(!h.take_pam_change());
        assert_eq!(h.pam()[1], 0x33);
    }

    #[test]
    fn smram_lock_holds() {
        let mut h = I440fx::new();
        h.config_write(SMRAM, &[0x10]);
        h.config_write(SMRAM, &[0x40]);
        assert_eq!(h.smram(), 0x12);
    }
}
