//! The PIIX3 IDE function's PCI configuration space (00:01.1), kept as data.

/// Config-space offsets this function gives meaning to.
const COMMAND: usize = 0x04;
const BAR4: usize = 0x20;
const BAR4_SIZE: u32 = 16;

/// Command register bits the guest may change (I/O, memory, bus master,
/// special cycles, parity, SERR, INTx disable — the usual writable set).
const COMMAND_WMASK: u16 = 0x0547;
pub const CMD_IO: u16 = 0x0001;
pub const CMD_BUS_MASTER: u16 = 0x0004;

/// The 256-byte configuration space of the IDE function.
#[derive(Clone, Debug)]
pub struct PciConfig {
    space: [u8; 256],
}

impl Default for PciConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl PciConfig {
    /// Power-on contents.
    pub fn new() -> Self {
        let mut space = [0u8; 256];
        space[0x00..0x02].copy_from_slice(&0x8086u16.to_le_bytes());
        space[0x02..0x04].copy_from_slice(&0x7010u16.to_le_bytes());
        // Status: fast back-to-back capable, medium DEVSEL timing.
        space[0x06..0x08].copy_from_slice(&0x0280u16.to_le_bytes());
        space[0x09] = 0x80; // prog-if: legacy ports, bus-master capable
        space[0x0A] = 0x01; // IDE
        space[0x0B] = 0x01; // mass storage
        space[BAR4..BAR4 + 4].copy_from_slice(&1u32.to_le_bytes());
        // QEMU's default subsystem ids.
        space[0x2C..0x2E].copy_from_slice(&0x1AF4u16.to_le_bytes());
        space[0x2E..0x30].copy_from_slice(&0x1100u16.to_le_bytes());
        PciConfig { space }
    }

    /// Read `size` (1, 2 or 4) bytes at `offset`, little-endian. Reads past
    /// the end of the space return all ones for the missing bytes.
    pub fn config_read(&self, offset: u16, size: usize) -> u32 {
        let mut v = 0u32;
        for i in 0..size.min(4) {
            let b = self.space.get(offset as usize + i).copied().unwrap_or(0xFF);
            v |= (b as u32) << (8 * i);
        }
        v
    }

    /// Write `data` (1, 2 or 4 bytes) at `offset`; read-only bits keep their
    /// value, writes past the end are dropped.
    pub fn config_write(&mut self, offset: u16, data: &[u8]) {
        for (i, &b) in data.iter().take(4).enumerate() {
            let off = offset as usize + i;
            self.write_byte(off, b);
        }
    }

    fn write_byte(&mut self, off: usize, b: u8) {
        let mask: u8 = match off {
            0x04 => COMMAND_WMASK as u8,
            0x05 => (COMMAND_WMASK >> 8) as u8,
            0x0C | 0x0D | 0x3C => 0xFF,
            // BAR4: I/O space, 16 bytes: the low 4 bits are fixed (bit 0 = I/O).
            0x20 => (!(BAR4_SIZE - 1)) as u8,
            0x21..=0x23 => 0xFF,
            // Device-specific registers (IDETIM, SIDETIM, UDMA...) are plain storage.
            0x40..=0xFF => 0xFF,
            _ => 0,
        };
        if let Some(slot) = self.space.get_mut(off) {
            *slot = (*slot & !mask) | (b & mask);
        }
    }

    pub fn command(&self) -> u16 {
        u16::from_le_bytes([self.space[COMMAND], self.space[COMMAND + 1]])
    }

    pub fn io_enabled(&self) -> bool {
        self.command() & CMD_IO != 0
    }

    pub fn bus_master_enabled(&self) -> bool {
        self.command() & CMD_BUS_MASTER != 0
    }

    /// Raw BAR4 value.
    pub fn bar4(&self) -> u32 {
        u32::from_le_bytes([self.space[BAR4], self.space[BAR4 + 1], self.space[BAR4 + 2], self.space[BAR4 + 3]])
    }

    /// Where the 16-byte bus-master block decodes, if it does: I/O enabled,
    /// a non-zero base, and the whole block inside the 64 KiB port space.
    pub fn bm_base(&self) -> Option<u16> {
        if !self.io_enabled() {
            return None;
        }
        let base = self.bar4() & !(BAR4_SIZE - 1);
        if base == 0 || base + (BAR4_SIZE - 1) > 0xFFFF {
            return None;
        }
        Some(base as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_class_and_bar_sizing() {
        let mut p = PciConfig::new();
        assert_eq!(p.config_read(0, 4), 0x7010_8086);
        assert_eq!(p.config_read(0x08, 4) >> 8, 0x01_01_80);
        assert_eq!(p.config_read(0x20, 4), 1);
        p.config_write(0x20, &0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(p.config_read(0x20, 4), 0xFFFF_FFF1);
        for bar in [0x10u16, 0x14, 0x18, 0x1C, 0x24, 0x30] {
            p.config_write(bar, &0xFFFF_FFFFu32.to_le_bytes());
            assert_eq!(p.config_read(bar, 4), 0, "BAR {bar:#x}");
        }
        p.config_write(0x20, &0xC000u32.to_le_bytes());
        assert_eq!(p.bm_base(), None, "I/O decoding off");
        p.config_write(0x04, &[0x05]);
        assert_eq!(p.bm_base(), Some(0xC000));
        assert!(p.bus_master_enabled());
        p.config_write(0x40, &0x8000u16.to_le_bytes());
        assert_eq!(p.config_read(0x40, 2), 0x8000);
        assert_eq!(p.config_read(0xFE, 4), 0xFFFF_0000);
    }
}
