//! Disk geometry for ATA disks: the physical CHS a disk reports in
//! IDENTIFY (user-given, guessed from the MBR or from the size), the BIOS
//! translation chosen for it, what SeaBIOS derives from both, and the
//! CMOS bytes the machine writes for the BIOS.

use std::fmt;
use std::str::FromStr;

/// A cylinder/head/sector geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chs {
    pub cyls: u32,
    pub heads: u32,
    pub secs: u32,
}

impl Chs {
    pub const fn new(cyls: u32, heads: u32, secs: u32) -> Self {
        Chs { cyls, heads, secs }
    }
}

/// The BIOS translation of a disk (what CMOS 0x39 tells SeaBIOS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Translation {
    None,
    Lba,
    Large,
    Rechs,
}

impl Translation {
    /// The 2-bit code in CMOS 0x39.
    pub fn cmos_code(self) -> u8 {
        match self {
            Translation::None => 0,
            Translation::Lba => 1,
            Translation::Large => 2,
            Translation::Rechs => 3,
        }
    }
}

/// The `bios-chs-trans` property: a translation, or `auto` to pick one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BiosChsTrans {
    #[default]
    Auto,
    None,
    Lba,
    Large,
    Rechs,
}

/// An unknown `bios-chs-trans` value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid BIOS CHS translation '{0}' (expected auto, none, lba, large or rechs)")]
pub struct ParseBiosChsTransError(pub String);

impl FromStr for BiosChsTrans {
    type Err = ParseBiosChsTransError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(BiosChsTrans::Auto),
            "none" => Ok(BiosChsTrans::None),
            "lba" => Ok(BiosChsTrans::Lba),
            "large" => Ok(BiosChsTrans::Large),
            "rechs" => Ok(BiosChsTrans::Rechs),
            _ => Err(ParseBiosChsTransError(s.to_string())),
        }
    }
}

impl fmt::Display for BiosChsTrans {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BiosChsTrans::Auto => "auto",
            BiosChsTrans::None => "none",
            BiosChsTrans::Lba => "lba",
            BiosChsTrans::Large => "large",
            BiosChsTrans::Rechs => "rechs",
        })
    }
}

impl BiosChsTrans {
    fn explicit(self) -> Option<Translation> {
        match self {
            BiosChsTrans::Auto => None,
            BiosChsTrans::None => Some(Translation::None),
            BiosChsTrans::Lba => Some(Translation::Lba),
            BiosChsTrans::Large => Some(Translation::Large),
            BiosChsTrans::Rechs => Some(Translation::Rechs),
        }
    }
}

/// User-given geometry out of the limits of an IDE disk (QEMU's texts).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    #[error("cyls must be between 1 and {MAX_CYLS}")]
    Cyls,
    #[error("heads must be between 1 and {MAX_HEADS}")]
    Heads,
    #[error("secs must be between 1 and {MAX_SECS}")]
    Secs,
}

pub const MAX_CYLS: u32 = 65535;
pub const MAX_HEADS: u32 = 16;
pub const MAX_SECS: u32 = 255;

/// Cylinder limit of a geometry guessed from a partition table or size.
const MAX_GUESS_CYLS: u64 = 16383;

/// The geometry implied by an MBR's partition table: the first entry
/// with sectors and a non-zero end head, assuming partitions end on a
/// cylinder boundary. `None` without the 0x55AA signature or a usable
/// entry.
fn mbr_guess(total_sectors: u64, mbr: &[u8; 512]) -> Option<Chs> {
    if mbr[510] != 0x55 || mbr[511] != 0xaa {
        return None;
    }
    for entry in mbr[0x1be..0x1fe].chunks_exact(16) {
        let end_head = entry[5];
        let end_sector = entry[6];
        let nr_sects = u32::from_le_bytes([entry[12], entry[13], entry[14], entry[15]]);
        if nr_sects == 0 || end_head == 0 {
            continue;
        }
        let heads = u32::from(end_head) + 1;
        let secs = u32::from(end_sector & 63);
        if secs == 0 {
            continue;
        }
        let cyls = total_sectors / u64::from(heads * secs);
        if !(1..=MAX_GUESS_CYLS).contains(&cyls) {
            continue;
        }
        return Some(Chs { cyls: cyls as u32, heads, secs });
    }
    None
}

/// A standard physical geometry for the size: 16 heads, 63 sectors.
fn size_guess(total_sectors: u64) -> Chs {
    let cyls = (total_sectors / (16 * 63)).clamp(2, MAX_GUESS_CYLS) as u32;
    Chs { cyls, heads: 16, secs: 63 }
}

/// What `auto` picks for a geometry that is used as is.
fn auto_translation(chs: Chs) -> Translation {
    if chs.cyls <= 1024 && chs.heads <= 16 && chs.secs <= 63 {
        Translation::None
    } else {
        Translation::Lba
    }
}

/// The physical geometry and BIOS translation of a disk of
/// `total_sectors` 512-byte sectors, whose first sector is `mbr` (if it
/// could be read), with the user's `cyls/heads/secs` and
/// `bios-chs-trans` properties.
pub fn guess_geometry(
    total_sectors: u64,
    mbr: Option<&[u8; 512]>,
    user: Option<Chs>,
    trans: BiosChsTrans,
) -> Result<(Chs, Translation), GeometryError> {
    let (chs, auto) = match user {
        Some(chs) => {
            if !(1..=MAX_CYLS).contains(&chs.cyls) {
                return Err(GeometryError::Cyls);
            }
            if !(1..=MAX_HEADS).contains(&chs.heads) {
                return Err(GeometryError::Heads);
            }
            if !(1..=MAX_SECS).contains(&chs.secs) {
                return Err(GeometryError::Secs);
            }
            (chs, auto_translation(chs))
        }
        None => match mbr.and_then(|m| mbr_guess(total_sectors, m)) {
            None => {
                let chs = size_guess(total_sectors);
                (chs, auto_translation(chs))
            }
            // More than 16 heads in the partition table means a BIOS
            // translation was in use: the disk itself gets a standard
            // geometry and a translation that reproduces large heads.
            Some(g) if g.heads > 16 => {
                let chs = size_guess(total_sectors);
                let t = if chs.cyls * chs.heads <= 131072 { Translation::Large } else { Translation::Lba };
                (chs, t)
            }
            // An untranslated layout: keep it, and do not translate.
            Some(g) => (g, Translation::None),
        },
    };
    Ok((chs, trans.explicit().unwrap_or(auto)))
}

/// The logical geometry SeaBIOS derives from the physical geometry, the
/// sector count and the translation (its setup_translation), before it
/// keeps one cylinder back for INT 13h AH=08h.
pub fn bios_logical(phys: Chs, total: u64, t: Translation) -> Chs {
    // SeaBIOS keeps these in 16-bit fields.
    let mut heads = phys.heads.min(0xffff);
    let mut cyls = phys.cyls.min(0xffff);
    let mut secs = phys.secs.min(0xffff);
    match t {
        Translation::None => {}
        Translation::Lba => {
            secs = 63;
            if total > 63 * 255 * 1024 {
                heads = 255;
                cyls = 1024;
            } else {
                let sect = total as u32 / 63;
                heads = match sect / 1024 {
                    h if h > 128 => 255,
                    h if h > 64 => 128,
                    h if h > 32 => 64,
                    h if h > 16 => 32,
                    _ => 16,
                };
                cyls = sect / heads;
            }
        }
        Translation::Large | Translation::Rechs => {
            if t == Translation::Rechs && heads == 16 {
                cyls = cyls.min(61439) * 16 / 15;
                heads = 15;
            }
            while cyls > 1024 {
                cyls >>= 1;
                heads <<= 1;
                if heads > 127 {
                    break;
                }
            }
        }
    }
    Chs { cyls: cyls.min(1024), heads, secs }
}

/// A disk as the CMOS set-up sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdeCmosDrive {
    pub chs: Chs,
    pub translation: Translation,
}

impl From<IdeCmosDrive> for (Chs, Translation) {
    fn from(d: IdeCmosDrive) -> Self {
        (d.chs, d.translation)
    }
}

/// The CMOS bytes for the four IDE positions (ide0 master, ide0 slave,
/// ide1 master, ide1 slave; `None` = absent or a CD-ROM), sorted by
/// offset: 0x12 (drive types of ide0), 0x19/0x1A (extended type 47),
/// 0x1B.. and 0x24.. (ide0 master/slave parameter blocks) for present
/// ide0 disks, and 0x39 (translation, 2 bits per drive, all four). Like
/// QEMU 7.2, 0x3A is not written (SeaBIOS finds all four drives in 0x39).
pub fn cmos_bytes(drives: [Option<(Chs, Translation)>; 4]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    let mut types = 0u8;
    for (i, (type_ofs, info_ofs, nibble)) in [(0x19u8, 0x1bu8, 0xf0u8), (0x1a, 0x24, 0x0f)].into_iter().enumerate() {
        let Some((chs, _)) = drives[i] else { continue };
        types |= nibble;
        // The fields are 16- and 8-bit: larger values are truncated.
        let [cyl_lo, cyl_hi, ..] = chs.cyls.to_le_bytes();
        let heads = chs.heads as u8;
        out.push((type_ofs, 47));
        let block =
            [cyl_lo, cyl_hi, heads, 0xff, 0xff, 0xc0 | (u8::from(chs.heads > 8) << 3), cyl_lo, cyl_hi, chs.secs as u8];
        out.extend(block.iter().enumerate().map(|(k, &v)| (info_ofs + k as u8, v)));
    }
    out.push((0x12, types));
    let trans = drives
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.map(|(_, t)| t.cmos_code() << (i * 2)))
        .fold(0u8, |acc, bits| acc | bits);
    out.push((0x39, trans));
    out.sort_by_key(|&(ofs, _)| ofs);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_guess_clamps() {
        assert_eq!(size_guess(0), Chs::new(2, 16, 63));
        assert_eq!(size_guess(u64::MAX), Chs::new(16383, 16, 63));
    }

    #[test]
    fn mbr_needs_signature_and_usable_entry() {
        let mut mbr = [0u8; 512];
        mbr[0x1be + 5] = 15;
        mbr[0x1be + 6] = 63;
        mbr[0x1be + 12] = 1;
        assert_eq!(mbr_guess(61440, &mbr), None);
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        assert_eq!(mbr_guess(61440, &mbr), Some(Chs::new(60, 16, 63)));
        mbr[0x1be + 6] = 0xc0;
        assert_eq!(mbr_guess(61440, &mbr), None);
    }
}
