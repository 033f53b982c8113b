//! Guest RAM and the firmware image: the pc memory map below and above
//! 4 GiB, the BIOS at the top of the 32-bit space and its shadow copy
//! below 1 MiB.

use std::path::{Path, PathBuf};

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::error::VmmError;

/// Where RAM below 4 GiB must end (the PCI hole starts there).
pub const LOWMEM_LIMIT: u64 = 0xE000_0000;
/// With this much RAM or more, the pc machine keeps 3 GiB below 4 GiB.
const LOWMEM_SPLIT: u64 = 0xC000_0000;
const FOUR_GIB: u64 = 1 << 32;
/// The legacy BIOS area the shadow copy fills (up to 1 MiB).
const BIOS_AREA_END: u64 = 0x10_0000;
/// The largest shadow: 256 KiB images are preloaded at 0xC0000 whole.
const MAX_SHADOW: usize = 256 * 1024;
/// Debian's SeaBIOS, the default `-bios`.
pub const DEFAULT_BIOS: &str = "/usr/share/seabios/bios.bin";

/// How `-m` splits around the PCI hole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RamLayout {
    pub below_4g: u64,
    pub above_4g: u64,
}

impl RamLayout {
    pub fn new(ram_bytes: u64) -> Self {
        // Like QEMU's i440fx: RAM that would reach into the hole moves
        // above 4 GiB, keeping a gigabyte-aligned 3 GiB below.
        if ram_bytes >= LOWMEM_LIMIT {
            RamLayout { below_4g: LOWMEM_SPLIT, above_4g: ram_bytes - LOWMEM_SPLIT }
        } else {
            RamLayout { below_4g: ram_bytes, above_4g: 0 }
        }
    }

    /// Guest RAM for this layout (anonymous memory).
    pub fn allocate(&self) -> Result<GuestMemoryMmap, VmmError> {
        let mut ranges = vec![(GuestAddress(0), self.below_4g as usize)];
        if self.above_4g > 0 {
            ranges.push((GuestAddress(FOUR_GIB), self.above_4g as usize));
        }
        GuestMemoryMmap::from_ranges(&ranges).map_err(|_| VmmError::Ram(self.below_4g + self.above_4g))
    }
}

/// A firmware image read from disk.
#[derive(Clone, Debug)]
pub struct Firmware {
    pub path: PathBuf,
    pub image: Vec<u8>,
}

impl Firmware {
    pub fn load(path: &Path) -> Result<Self, VmmError> {
        let image = std::fs::read(path).map_err(|err| VmmError::Firmware { path: path.to_owned(), err })?;
        if image.is_empty() || image.len() % 0x10000 != 0 || image.len() > 16 << 20 {
            return Err(VmmError::FirmwareSize { path: path.to_owned(), size: image.len() });
        }
        Ok(Firmware { path: path.to_owned(), image })
    }

    /// Guest address of the read-only image (it ends at 4 GiB).
    pub fn rom_base(&self) -> u64 {
        FOUR_GIB - self.image.len() as u64
    }

    /// Copy the image's tail into RAM below 1 MiB: the last 128 KiB of a
    /// 128 KiB bios.bin at 0xE0000, a whole 256 KiB image at 0xC0000 (so
    /// no PAM emulation is needed). Done at power-on and at every reset.
    pub fn shadow(&self, mem: &GuestMemoryMmap) -> Result<(), VmmError> {
        let n = self.image.len().min(MAX_SHADOW);
        let tail = &self.image[self.image.len() - n..];
        mem.write_slice(tail, GuestAddress(BIOS_AREA_END - n as u64))
            .map_err(|e| VmmError::Memory(format!("BIOS shadow: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_splits_at_the_hole() {
        assert_eq!(RamLayout::new(128 << 20), RamLayout { below_4g: 128 << 20, above_4g: 0 });
        assert_eq!(RamLayout::new(0xDFFF_0000).above_4g, 0);
        assert_eq!(RamLayout::new(4 << 30), RamLayout { below_4g: 3 << 30, above_4g: 1 << 30 });
    }

    #[test]
    fn shadow_lands_below_1m() {
        let fw = Firmware { path: "x".into(), image: (0..0x20000u32).map(|i| (i >> 8) as u8).collect() };
        assert_eq!(fw.rom_base(), 0xFFFE_0000);
        let mem = RamLayout::new(2 << 20).allocate().unwrap();
        fw.shadow(&mem).unwrap();
        let mut b = [0u8; 1];
        mem.read_slice(&mut b, GuestAddress(0xFFFFF)).unwrap();
        assert_eq!(b[0], 0xFF);
        mem.read_slice(&mut b, GuestAddress(0xE0100)).unwrap();
        assert_eq!(b[0], 1);
    }

    #[test]
    fn bad_sizes_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("b");
        std::fs::write(&p, [0u8; 1000]).unwrap();
        assert!(matches!(Firmware::load(&p), Err(VmmError::FirmwareSize { .. })));
        assert!(matches!(Firmware::load(&d.path().join("none")), Err(VmmError::Firmware { .. })));
    }
}
