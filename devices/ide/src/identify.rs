//! IDENTIFY DEVICE and IDENTIFY PACKET DEVICE data, word for word as QEMU
//! reports them (see ata-atapi.md).

/// Sectors per READ/WRITE MULTIPLE block advertised and used by default.
pub const MAX_MULT_SECTORS: u32 = 16;

/// Transfer-mode words (62 single-word DMA, 63 multiword DMA, 88 UDMA) as
/// changed by SET FEATURES 03.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModeWords {
    pub w62: u16,
    pub w63: u16,
    pub w88: u16,
}

impl Default for ModeWords {
    fn default() -> Self {
        // UDMA5 selected, all UDMA 0-5 supported.
        ModeWords { w62: 0x07, w63: 0x07, w88: 0x3F | (1 << 13) }
    }
}

impl ModeWords {
    /// Apply SET FEATURES "set transfer mode" with count `nsector`;
    /// false for an unknown mode class.
    pub fn set_mode(&mut self, nsector: u8) -> bool {
        let val = nsector & 7;
        let (w62, w63, w88) = match nsector >> 3 {
            0 | 1 => (0x07, 0x07, 0x3F),
            2 => (0x07 | (1 << (val + 8)), 0x07, 0x3F),
            4 => (0x07, 0x07 | (1 << (val + 8)), 0x3F),
            8 => (0x07, 0x07, 0x3F | (1 << (val + 8))),
            _ => return false,
        };
        *self = ModeWords { w62, w63, w88 };
        true
    }
}

/// The identity strings and optional WWN of a drive.
#[derive(Clone, Debug)]
pub struct Identity<'a> {
    pub serial: &'a str,
    pub model: &'a str,
    pub firmware: &'a str,
    pub wwn: Option<u64>,
}

/// ATA strings: two characters per word, first one in the high byte,
/// space padded (and cut) to `words` words.
fn put_str(w: &mut [u16; 256], start: usize, words: usize, s: &str) {
    let b = s.as_bytes();
    for i in 0..words {
        let hi = b.get(2 * i).copied().unwrap_or(b' ');
        let lo = b.get(2 * i + 1).copied().unwrap_or(b' ');
        if let Some(slot) = w.get_mut(start + i) {
            *slot = ((hi as u16) << 8) | lo as u16;
        }
    }
}

fn put_wwn(w: &mut [u16; 256], wwn: u64) {
    w[108] = (wwn >> 48) as u16;
    w[109] = (wwn >> 32) as u16;
    w[110] = (wwn >> 16) as u16;
    w[111] = wwn as u16;
}

/// The disk's parameters at the time of IDENTIFY.
#[derive(Clone, Copy, Debug)]
pub struct DiskParams {
    pub cyls: u32,
    pub heads: u32,
    pub secs: u32,
    /// Current (INITIALIZE DEVICE PARAMETERS) heads and sectors.
    pub cur_heads: u32,
    pub cur_secs: u32,
    pub sectors: u64,
    pub mult_sectors: u32,
    pub write_cache: bool,
    pub modes: ModeWords,
}

pub fn disk(id: &Identity, p: &DiskParams) -> [u16; 256] {
    let mut w = [0u16; 256];
    w[0] = 0x0040;
    w[1] = p.cyls as u16;
    w[3] = p.heads as u16;
    w[4] = (512 * p.secs) as u16;
    w[5] = 512;
    w[6] = p.secs as u16;
    put_str(&mut w, 10, 10, id.serial);
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    put_str(&mut w, 23, 4, id.firmware);
    put_str(&mut w, 27, 20, id.model);
    w[47] = 0x8000 | MAX_MULT_SECTORS as u16;
    w[48] = 1;
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);
    w[51] = 0x200;
    w[52] = 0x200;
    w[53] = 7;
    w[54] = p.cyls as u16;
    w[55] = p.cur_heads as u16;
    w[56] = p.cur_secs as u16;
    let chs = p.cyls.wrapping_mul(p.cur_heads).wrapping_mul(p.cur_secs);
    w[57] = chs as u16;
    w[58] = (chs >> 16) as u16;
    if p.mult_sectors != 0 {
        w[59] = 0x100 | p.mult_sectors as u16;
    }
    let lba28 = p.sectors.min((1 << 28) - 1);
    w[60] = lba28 as u16;
    w[61] = (lba28 >> 16) as u16;
    w[62] = p.modes.w62;
    w[63] = p.modes.w63;
    w[64] = 0x03;
    w[65] = 120;
    w[66] = 120;
    w[67] = 120;
    w[68] = 120;
    // Deterministic TRIM (discard granularity 512, QEMU's IDE default).
    w[69] = 1 << 14;
    w[80] = 0xF0;
    w[81] = 0x16;
    w[82] = (1 << 14) | (1 << 5) | 1;
    w[83] = (1 << 14) | (1 << 13) | (1 << 12) | (1 << 10);
    w[84] = (1 << 14) | if id.wwn.is_some() { 1 << 8 } else { 0 };
    w[85] = (1 << 14) | if p.write_cache { 1 << 5 } else { 0 } | 1;
    w[86] = (1 << 13) | (1 << 12) | (1 << 10);
    w[87] = (1 << 14) | if id.wwn.is_some() { 1 << 8 } else { 0 };
    w[88] = p.modes.w88;
    w[93] = 1 | (1 << 14) | 0x2000;
    w[100] = p.sectors as u16;
    w[101] = (p.sectors >> 16) as u16;
    w[102] = (p.sectors >> 32) as u16;
    w[103] = (p.sectors >> 48) as u16;
    // 512-byte physical sectors.
    w[106] = 0x6000;
    if let Some(wwn) = id.wwn {
        put_wwn(&mut w, wwn);
    }
    w[169] = 1; // TRIM supported
    w
}

pub fn atapi(id: &Identity, modes: ModeWords) -> [u16; 256] {
    let mut w = [0u16; 256];
    // ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets.
    w[0] = (2 << 14) | (5 << 8) | (1 << 7) | (2 << 5);
    put_str(&mut w, 10, 10, id.serial);
    w[20] = 3;
    w[21] = 512;
    w[22] = 4;
    put_str(&mut w, 23, 4, id.firmware);
    put_str(&mut w, 27, 20, id.model);
    w[48] = 1;
    w[49] = (1 << 9) | (1 << 8);
    w[53] = 7;
    w[62] = modes.w62;
    w[63] = modes.w63;
    w[64] = 3;
    w[65] = 0xB4;
    w[66] = 0xB4;
    w[67] = 0x12C;
    w[68] = 0xB4;
    w[71] = 30;
    w[72] = 30;
    w[80] = 0x1E;
    if let Some(wwn) = id.wwn {
        w[84] = 1 << 8;
        w[87] = 1 << 8;
        put_wwn(&mut w, wwn);
    }
    w[88] = modes.w88;
    w
}

/// The 512 bytes a host reads.
pub fn to_bytes(w: &[u16; 256], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(2).zip(w.iter()) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_byte_swapped_and_padded() {
        let id = Identity { serial: "QM00001", model: "QEMU HARDDISK", firmware: "2.5+", wwn: None };
        let p = DiskParams {
            cyls: 16383,
            heads: 16,
            secs: 63,
            cur_heads: 16,
            cur_secs: 63,
            sectors: 1 << 30,
            mult_sectors: 16,
            write_cache: true,
            modes: ModeWords::default(),
        };
        let w = disk(&id, &p);
        assert_eq!(w[10], u16::from_be_bytes(*b"QM"));
        assert_eq!(w[13], u16::from_be_bytes(*b"1 "));
        assert_eq!(w[19], 0x2020);
        assert_eq!(w[23], u16::from_be_bytes(*b"2."));
        assert_eq!((w[60], w[61]), (0xFFFF, 0x0FFF), "LBA28 capacity capped");
        assert_eq!((w[100], w[101], w[102]), (0, 0x4000, 0));
        let a = atapi(&Identity { model: "QEMU DVD-ROM", ..id }, ModeWords::default());
        assert_eq!(a[0], 0x85C0);
    }
}
