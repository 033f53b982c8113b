//! PCI configuration mechanism #1 (ports 0xCF8 / 0xCFC-0xCFF) and the
//! configuration space every function shares.

use crate::api::{DevCtx, PioDevice};

/// The configuration address port and the first data port.
pub const CONFIG_ADDRESS_PORT: u16 = 0xCF8;
pub const CONFIG_DATA_PORT: u16 = 0xCFC;

/// Bit 31 of 0xCF8: configuration cycles enabled.
const ENABLE: u32 = 0x8000_0000;

/// One function's register as the data port reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciAddr {
    pub bus: u8,
    pub dev: u8,
    pub func: u8,
    /// Byte offset in the 256-byte configuration space.
    pub reg: u16,
}

/// The 0xCF8 register: latched by dword writes, read back whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PciConfigAddress {
    value: u32,
}

impl PciConfigAddress {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn value(&self) -> u32 {
        self.value
    }

    pub fn set_value(&mut self, value: u32) {
        self.value = value;
    }

    pub fn reset(&mut self) {
        self.value = 0;
    }

    /// The register an access at `cfc_port` (0xCFC-0xCFF) reaches, if
    /// configuration cycles are enabled.
    pub fn decode(&self, cfc_port: u16) -> Option<PciAddr> {
        if self.value & ENABLE == 0 || !(CONFIG_DATA_PORT..CONFIG_DATA_PORT + 4).contains(&cfc_port) {
            return None;
        }
        let v = self.value;
        Some(PciAddr {
            bus: (v >> 16) as u8,
            dev: ((v >> 11) & 0x1F) as u8,
            func: ((v >> 8) & 0x7) as u8,
            reg: (v & 0xFC) as u16 + (cfc_port - CONFIG_DATA_PORT),
        })
    }
}

/// Port 0xCF8. Only dword accesses at 0xCF8 itself reach the register (a
/// byte at 0xCF9 is the reset control register, a different device); other
/// reads float high.
impl PioDevice for PciConfigAddress {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        if port == CONFIG_ADDRESS_PORT && data.len() == 4 {
            data.copy_from_slice(&self.value.to_le_bytes());
        } else {
            data.fill(0xFF);
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        if let (CONFIG_ADDRESS_PORT, Ok(bytes)) = (port, <[u8; 4]>::try_from(data)) {
            self.value = u32::from_le_bytes(bytes);
        }
    }
}

/// A PCI function as the configuration data port sees it. `data.len()` is
/// the access width (1, 2 or 4); `reg` is the byte offset.
pub trait PciFunction {
    fn config_read(&mut self, reg: u16, data: &mut [u8]);
    fn config_write(&mut self, reg: u16, data: &[u8]);
}

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Io,
    Mem32,
}

/// 256 bytes of configuration space with a write mask per byte. BARs are
/// plain bytes whose mask clears the size bits, so writing all ones reads
/// back the size mask; BARs never declared (and the ROM BAR) stay 0.
#[derive(Clone, Debug)]
pub struct ConfigSpace {
    data: [u8; 256],
    wmask: [u8; 256],
}

/// The command bits a guest may change (I/O, memory, bus master, parity,
/// SERR, INTx disable).
const COMMAND_WMASK: u16 = 0x0547;

impl ConfigSpace {
    /// A type-0 header: ids, class (base, sub, prog-if), revision, header
    /// type (bit 7 = multifunction), QEMU's default subsystem 1AF4:1100.
    /// Writable: command, cache line, latency, interrupt line and the whole
    /// device-specific area 0x40-0xFF.
    pub fn new(vendor: u16, device: u16, class: [u8; 3], revision: u8, header_type: u8) -> Self {
        let mut s = ConfigSpace { data: [0; 256], wmask: [0; 256] };
        s.set_u16(0x00, vendor);
        s.set_u16(0x02, device);
        s.data[0x08] = revision;
        s.data[0x09] = class[2];
        s.data[0x0A] = class[1];
        s.data[0x0B] = class[0];
        s.data[0x0E] = header_type;
        s.set_u16(0x2C, 0x1AF4);
        s.set_u16(0x2E, 0x1100);
        s.wmask[0x04..0x06].copy_from_slice(&COMMAND_WMASK.to_le_bytes());
        for r in [0x0C, 0x0D, 0x3C] {
            s.wmask[r] = 0xFF;
        }
        s.wmask[0x40..].fill(0xFF);
        s
    }

    /// Declare BAR `index` (0-5) of `size` bytes (a power of two; I/O >= 4,
    /// memory >= 16).
    pub fn set_bar(&mut self, index: usize, size: u32, kind: BarKind) {
        let Some(off) = Self::bar_offset(index) else { return };
        let (min, flags) = match kind {
            BarKind::Io => (4, 0x1),
            BarKind::Mem32 => (16, 0x0),
        };
        let size = size.max(min).checked_next_power_of_two().unwrap_or(0x8000_0000);
        let mask = !(size - 1) & if kind == BarKind::Io { 0xFFFF_FFFC } else { 0xFFFF_FFF0 };
        self.data[off..off + 4].copy_from_slice(&(flags as u32).to_le_bytes());
        self.wmask[off..off + 4].copy_from_slice(&mask.to_le_bytes());
    }

    /// BAR `index`'s current value (address plus flag bits).
    pub fn bar(&self, index: usize) -> u32 {
        Self::bar_offset(index).map_or(0, |off| self.u32_at(off))
    }

    fn bar_offset(index: usize) -> Option<usize> {
        (index < 6).then_some(0x10 + 4 * index)
    }

    /// Set a register's value (initialisation: ignores the write mask).
    pub fn set_u8(&mut self, reg: usize, v: u8) {
        if let Some(b) = self.data.get_mut(reg) {
            *b = v;
        }
    }

    pub fn set_u16(&mut self, reg: usize, v: u16) {
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.set_u8(reg + i, b);
        }
    }

    /// Which bits of the byte at `reg` the guest may write.
    pub fn set_wmask(&mut self, reg: usize, mask: u8) {
        if let Some(m) = self.wmask.get_mut(reg) {
            *m = mask;
        }
    }

    pub fn u8_at(&self, reg: usize) -> u8 {
        self.data.get(reg).copied().unwrap_or(0xFF)
    }

    pub fn u16_at(&self, reg: usize) -> u16 {
        u16::from_le_bytes([self.u8_at(reg), self.u8_at(reg + 1)])
    }

    pub fn u32_at(&self, reg: usize) -> u32 {
        u32::from_le_bytes([self.u8_at(reg), self.u8_at(reg + 1), self.u8_at(reg + 2), self.u8_at(reg + 3)])
    }

    pub fn bytes(&self) -> &[u8; 256] {
        &self.data
    }

    /// A guest read: little-endian, bytes past the space read 0xFF.
    pub fn read(&self, reg: u16, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.u8_at(reg as usize + i);
        }
    }

    /// A guest write through the write masks; bytes past the space are dropped.
    pub fn write(&mut self, reg: u16, data: &[u8]) {
        for (i, &v) in data.iter().enumerate() {
            let r = reg as usize + i;
            if let (Some(d), Some(&m)) = (self.data.get_mut(r), self.wmask.get(r)) {
                *d = (*d & !m) | (v & m);
            }
        }
    }
}

impl PciFunction for ConfigSpace {
    fn config_read(&mut self, reg: u16, data: &mut [u8]) {
        self.read(reg, data);
    }

    fn config_write(&mut self, reg: u16, data: &[u8]) {
        self.write(reg, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_needs_enable_and_adds_byte_offset() {
        let mut a = PciConfigAddress::new();
        a.set_value(0x0000_0808);
        assert_eq!(a.decode(0xCFC), None);
        a.set_value(0x8001_0A08 | 0x3);
        let got = a.decode(0xCFE).unwrap();
        assert_eq!(got, PciAddr { bus: 1, dev: 1, func: 2, reg: 0x0A });
        assert_eq!(a.decode(0xCF8), None);
    }

    #[test]
    fn bar_sizing_and_masks() {
        let mut c = ConfigSpace::new(0x8086, 0x1234, [0x01, 0x01, 0x80], 0, 0);
        c.set_bar(4, 16, BarKind::Io);
        c.set_bar(0, 4096, BarKind::Mem32);
        c.write(0x20, &[0xFF; 4]);
        assert_eq!(c.bar(4), 0xFFFF_FFF1);
        c.write(0x10, &[0xFF; 4]);
        assert_eq!(c.bar(0), 0xFFFF_F000);
        c.write(0x14, &[0xFF; 4]);
        assert_eq!(c.bar(1), 0);
        c.write(0x30, &[0xFF; 4]);
        assert_eq!(c.u32_at(0x30), 0);
        // Identity is read-only.
        c.write(0x00, &[0; 4]);
        assert_eq!(c.u32_at(0), 0x1234_8086);
        let mut d = [0u8; 4];
        c.read(0xFE, &mut d);
        assert_eq!(d[2..], [0xFF, 0xFF]);
    }
}
