//! QEMU's firmware configuration device, traditional I/O interface only
//! (selector 0x510, data 0x511, no DMA): the items SeaBIOS reads on a pc
//! machine, and named files with their directory.

use std::collections::BTreeMap;

use crate::api::{DevCtx, PioDevice};

pub const SELECTOR_PORT: u16 = 0x510;
pub const DATA_PORT: u16 = 0x511;

pub const KEY_SIGNATURE: u16 = 0x0000;
pub const KEY_ID: u16 = 0x0001;
pub const KEY_UUID: u16 = 0x0002;
pub const KEY_RAM_SIZE: u16 = 0x0003;
pub const KEY_NOGRAPHIC: u16 = 0x0004;
pub const KEY_NB_CPUS: u16 = 0x0005;
pub const KEY_BOOT_MENU: u16 = 0x000E;
pub const KEY_MAX_CPUS: u16 = 0x000F;
pub const KEY_FILE_DIR: u16 = 0x0019;
pub const KEY_FILE_FIRST: u16 = 0x0020;
/// x86-specific: the PIT's IRQ 0 is routed to IOAPIC pin 2.
pub const KEY_IRQ0_OVERRIDE: u16 = 0x8002;

/// Bit 14 of a selector asks for write access (never granted here).
const SELECTOR_WRITE: u16 = 0x4000;
/// File names are NUL-terminated in a 56-byte field.
pub const FILE_NAME_MAX: usize = 55;
/// Keys 0x20..0x3FFF hold files.
const MAX_FILES: usize = 0x3FFF - KEY_FILE_FIRST as usize + 1;

pub const E820_RAM: u32 = 1;
pub const E820_RESERVED: u32 = 2;
/// Where QEMU under KVM reserves the identity-map page and TSS (4 pages);
/// the machine's KVM set-up should use this area.
pub const KVM_IDENTITY_BASE: u64 = 0xFEFF_C000;
pub const KVM_IDENTITY_SIZE: u64 = 0x4000;

const GIB4: u64 = 1 << 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FwCfgError {
    #[error("fw_cfg file name {0:?} is empty or longer than 55 bytes")]
    BadName(String),
    #[error("fw_cfg file {0:?} is larger than 4 GiB")]
    TooLarge(String),
    #[error("fw_cfg has no room for another file")]
    Full,
}

/// One "etc/e820" entry (packed little-endian: u64 address, u64 length, u32 type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub len: u64,
    pub kind: u32,
}

/// The e820 map QEMU's pc machine hands SeaBIOS: with KVM, the
/// identity-map/TSS reservation first (the accelerator adds it before the
/// machine adds RAM), then RAM below 4 GiB and RAM above 4 GiB if any.
pub fn pc_e820(ram_below_4g: u64, ram_above_4g: u64, kvm: bool) -> Vec<E820Entry> {
    let mut v = Vec::new();
    if kvm {
        v.push(E820Entry { addr: KVM_IDENTITY_BASE, len: KVM_IDENTITY_SIZE, kind: E820_RESERVED });
    }
    v.push(E820Entry { addr: 0, len: ram_below_4g, kind: E820_RAM });
    if ram_above_4g > 0 {
        v.push(E820Entry { addr: GIB4, len: ram_above_4g, kind: E820_RAM });
    }
    v
}

#[derive(Clone, Debug)]
pub struct FwCfg {
    items: BTreeMap<u16, Vec<u8>>,
    /// Files by name; their keys follow the sorted order from 0x20.
    files: BTreeMap<String, Vec<u8>>,
    selector: u16,
    offset: usize,
}

impl FwCfg {
    /// The pc machine's items: signature, ID 1 (no DMA), RAM size, CPU
    /// counts, boot menu, IRQ 0 override, "etc/e820" (KVM layout) and, when
    /// a splash time is given, "etc/boot-menu-wait".
    pub fn new(ram_below_4g: u64, ram_above_4g: u64, cpus: u16, boot_menu: bool, splash_ms: Option<u16>) -> Self {
        let mut f = FwCfg { items: BTreeMap::new(), files: BTreeMap::new(), selector: 0, offset: 0 };
        f.items.insert(KEY_SIGNATURE, b"QEMU".to_vec());
        f.items.insert(KEY_ID, 1u32.to_le_bytes().to_vec());
        f.items.insert(KEY_UUID, vec![0; 16]);
        f.items.insert(KEY_RAM_SIZE, (ram_below_4g.saturating_add(ram_above_4g)).to_le_bytes().to_vec());
        f.items.insert(KEY_NOGRAPHIC, 0u16.to_le_bytes().to_vec());
        f.items.insert(KEY_NB_CPUS, cpus.to_le_bytes().to_vec());
        f.items.insert(KEY_MAX_CPUS, cpus.to_le_bytes().to_vec());
        f.items.insert(KEY_BOOT_MENU, u16::from(boot_menu).to_le_bytes().to_vec());
        f.items.insert(KEY_IRQ0_OVERRIDE, 1u32.to_le_bytes().to_vec());
        f.set_e820(&pc_e820(ram_below_4g, ram_above_4g, true));
        if let Some(ms) = splash_ms {
            f.files.insert("etc/boot-menu-wait".into(), ms.to_le_bytes().to_vec());
        }
        f.rebuild_dir();
        f
    }

    /// Add (or replace) a named file; returns its key as things stand now
    /// (adding a file whose name sorts earlier moves the later keys up).
    pub fn add_file(&mut self, name: &str, bytes: Vec<u8>) -> Result<u16, FwCfgError> {
        if name.is_empty() || name.len() > FILE_NAME_MAX || name.contains('\0') {
            return Err(FwCfgError::BadName(name.into()));
        }
        if u32::try_from(bytes.len()).is_err() {
            return Err(FwCfgError::TooLarge(name.into()));
        }
        if !self.files.contains_key(name) && self.files.len() >= MAX_FILES {
            return Err(FwCfgError::Full);
        }
        self.files.insert(name.into(), bytes);
        self.rebuild_dir();
        Ok(self.file_key(name).unwrap_or(KEY_FILE_FIRST))
    }

    /// Replace "etc/e820".
    pub fn set_e820(&mut self, entries: &[E820Entry]) {
        let mut b = Vec::with_capacity(entries.len() * 20);
        for e in entries {
            b.extend_from_slice(&e.addr.to_le_bytes());
            b.extend_from_slice(&e.len.to_le_bytes());
            b.extend_from_slice(&e.kind.to_le_bytes());
        }
        self.files.insert("etc/e820".into(), b);
        self.rebuild_dir();
    }

    /// Set a numbered item (e.g. a legacy key the machine wants).
    pub fn set_item(&mut self, key: u16, bytes: Vec<u8>) {
        self.items.insert(key, bytes);
    }

    pub fn file_key(&self, name: &str) -> Option<u16> {
        self.files.keys().position(|n| n == name).map(|i| KEY_FILE_FIRST + i as u16)
    }

    /// Selector 0 (the signature), at its start.
    pub fn reset(&mut self) {
        self.select(0);
    }

    pub fn select(&mut self, key: u16) {
        self.selector = key & !SELECTOR_WRITE;
        self.offset = 0;
    }

    /// The next data byte of the selected item (0 past its end or for an
    /// unknown key).
    pub fn read_byte(&mut self) -> u8 {
        let b = self.item(self.selector).and_then(|d| d.get(self.offset)).copied().unwrap_or(0);
        self.offset = self.offset.saturating_add(1);
        b
    }

    fn item(&self, key: u16) -> Option<&[u8]> {
        if (KEY_FILE_FIRST..0x4000).contains(&key) {
            if let Some(d) = self.files.values().nth((key - KEY_FILE_FIRST) as usize) {
                return Some(d);
            }
        }
        self.items.get(&key).map(Vec::as_slice)
    }

    /// Key 0x19: big-endian count, then per file {u32 BE size, u16 BE key,
    /// u16 reserved, 56-byte NUL-padded name}.
    fn rebuild_dir(&mut self) {
        let mut d = Vec::with_capacity(4 + 64 * self.files.len());
        d.extend_from_slice(&(self.files.len() as u32).to_be_bytes());
        for (i, (name, data)) in self.files.iter().enumerate() {
            d.extend_from_slice(&(data.len() as u32).to_be_bytes());
            d.extend_from_slice(&(KEY_FILE_FIRST + i as u16).to_be_bytes());
            d.extend_from_slice(&[0, 0]);
            let mut n = [0u8; 56];
            n[..name.len()].copy_from_slice(name.as_bytes());
            d.extend_from_slice(&n);
        }
        self.items.insert(KEY_FILE_DIR, d);
    }
}

/// A 16-bit write selects (at either port, as QEMU's combined region
/// does); byte writes would be data writes, which are not supported. Every
/// read byte is a data byte: a `rep insb` arrives as one long read.
impl PioDevice for FwCfg {
    fn pio_read(&mut self, port: u16, data: &mut [u8], _ctx: &mut DevCtx) {
        if port == DATA_PORT {
            data.iter_mut().for_each(|b| *b = self.read_byte());
        } else {
            data.fill(0);
        }
    }

    fn pio_write(&mut self, port: u16, data: &[u8], _ctx: &mut DevCtx) {
        if let ([lo, hi], SELECTOR_PORT | DATA_PORT) = (data, port) {
            self.select(u16::from_le_bytes([*lo, *hi]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_sort_and_keys_follow() {
        let mut f = FwCfg::new(128 << 20, 0, 1, false, None);
        assert_eq!(f.file_key("etc/e820"), Some(0x20));
        assert_eq!(f.add_file("bootorder", b"/x\0".to_vec()), Ok(0x20));
        assert_eq!(f.file_key("etc/e820"), Some(0x21));
        assert_eq!(f.add_file("", vec![]), Err(FwCfgError::BadName(String::new())));
        assert!(f.add_file(&"x".repeat(56), vec![]).is_err());
        f.select(0x21);
        assert_eq!(f.read_byte(), 0);
    }
}
