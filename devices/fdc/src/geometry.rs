//! Drive types, the diskette format table and how a format is picked for an image.

/// A drive's type (`drive-type=` of `-device floppy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DriveType {
    /// 3.5" 1.44 MB.
    D144,
    /// 3.5" 2.88 MB.
    D288,
    /// 5.25" 1.2 MB.
    D120,
    /// No drive.
    None,
    /// The type of the medium present at creation, else the fallback.
    Auto,
}

impl DriveType {
    /// Parse the property value (`144`, `288`, `120`, `none`, `auto`).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "144" => DriveType::D144,
            "288" => DriveType::D288,
            "120" => DriveType::D120,
            "none" => DriveType::None,
            "auto" => DriveType::Auto,
            _ => return None,
        })
    }

    /// CMOS 0x10 nibble.
    pub fn cmos_code(self) -> u8 {
        match self {
            DriveType::D144 => 4,
            DriveType::D288 => 5,
            DriveType::D120 => 2,
            DriveType::None | DriveType::Auto => 0,
        }
    }

    fn is_35(self) -> Option<bool> {
        match self {
            DriveType::D144 | DriveType::D288 => Some(true),
            DriveType::D120 => Some(false),
            _ => None,
        }
    }
}

/// Data rates as DSR/CCR codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rate {
    R500K = 0,
    R300K = 1,
    R250K = 2,
    R1M = 3,
}

/// One diskette format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub drive: DriveType,
    pub sectors: u8,
    pub tracks: u8,
    pub heads: u8,
    pub rate: Rate,
}

impl Format {
    pub fn total_sectors(&self) -> u64 {
        u64::from(self.sectors) * u64::from(self.tracks) * u64::from(self.heads)
    }
}

const fn f(drive: DriveType, sectors: u8, tracks: u8, heads: u8, rate: Rate) -> Format {
    Format { drive, sectors, tracks, heads, rate }
}

use DriveType::{D120, D144, D288};
use Rate::{R1M, R250K, R300K, R500K};

/// In order of preference (earlier entries win ties).
pub const FORMATS: &[Format] = &[
    f(D144, 18, 80, 2, R500K),
    f(D144, 20, 80, 2, R500K),
    f(D144, 21, 80, 2, R500K),
    f(D144, 21, 82, 2, R500K),
    f(D144, 21, 83, 2, R500K),
    f(D144, 22, 80, 2, R500K),
    f(D144, 23, 80, 2, R500K),
    f(D144, 24, 80, 2, R500K),
    f(D288, 36, 80, 2, R1M),
    f(D288, 39, 80, 2, R1M),
    f(D288, 40, 80, 2, R1M),
    f(D288, 44, 80, 2, R1M),
    f(D288, 48, 80, 2, R1M),
    f(D144, 9, 80, 2, R250K),
    f(D144, 10, 80, 2, R250K),
    f(D144, 10, 82, 2, R250K),
    f(D144, 10, 83, 2, R250K),
    f(D144, 13, 80, 2, R250K),
    f(D144, 14, 80, 2, R250K),
    f(D120, 15, 80, 2, R500K),
    f(D120, 18, 80, 2, R500K),
    f(D120, 18, 82, 2, R500K),
    f(D120, 18, 83, 2, R500K),
    f(D120, 20, 80, 2, R500K),
    f(D120, 9, 80, 2, R250K),
    f(D120, 11, 80, 2, R250K),
    f(D120, 9, 40, 2, R300K),
    f(D120, 9, 40, 1, R300K),
    f(D120, 10, 41, 2, R300K),
    f(D120, 10, 42, 2, R300K),
    f(D120, 8, 40, 2, R250K),
    f(D120, 8, 40, 1, R250K),
    // A 360 KiB image matches 5.25" entries first; this catches 3.5" SS.
    f(D144, 9, 80, 1, R250K),
];

/// The format for an image of `sectors` 512-byte sectors in a drive of
/// type `drive` (`Auto` accepts any type and falls back to `fallback`):
/// first an exact size match of the drive's own type, then one of the same
/// physical size; failing both, the first format of the drive's type.
/// `None` for a drive of type `None`.
pub fn pick_format(drive: DriveType, fallback: DriveType, sectors: u64) -> Option<Format> {
    let auto = drive == DriveType::Auto;
    let own = if auto { fallback } else { drive };
    if own == DriveType::None && !auto {
        return None;
    }
    let exact = FORMATS.iter().find(|f| f.total_sectors() == sectors && (auto || f.drive == drive));
    let same_size = || {
        FORMATS
            .iter()
            .find(|f| f.total_sectors() == sectors && f.drive.is_35().is_some() && f.drive.is_35() == drive.is_35())
    };
    let by_type = || FORMATS.iter().find(|f| f.drive == own);
    exact.or_else(same_size).or_else(by_type).copied()
}

/// A drive's type once `Auto` is settled (at creation, from the medium present then).
pub fn resolve_type(drive: DriveType, fallback: DriveType, medium_sectors: Option<u64>) -> DriveType {
    if drive != DriveType::Auto {
        return drive;
    }
    match medium_sectors.and_then(|s| FORMATS.iter().find(|f| f.total_sectors() == s)) {
        Some(f) => f.drive,
        None => fallback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks() {
        let p = |d, s| pick_format(d, D288, s).map(|f| (f.drive, f.sectors, f.tracks, f.heads));
        assert_eq!(p(D144, 2880), Some((D144, 18, 80, 2)));
        assert_eq!(p(D144, 1440), Some((D144, 9, 80, 2)));
        assert_eq!(p(D288, 5760), Some((D288, 36, 80, 2)));
        // 1.44M image in a 2.88 drive: same physical size.
        assert_eq!(p(D288, 2880), Some((D144, 18, 80, 2)));
        // 1.2M drive with a 1.44M image: 5.25" 18/80/2 has the same size.
        assert_eq!(p(D120, 2880), Some((D120, 18, 80, 2)));
        assert_eq!(p(D120, 720), Some((D120, 9, 40, 2)));
        // No size match: first of the drive's type.
        assert_eq!(p(D144, 7), Some((D144, 18, 80, 2)));
        assert_eq!(p(DriveType::Auto, 7), Some((D288, 36, 80, 2)));
        assert_eq!(p(DriveType::Auto, 2400), Some((D120, 15, 80, 2)));
        assert_eq!(p(DriveType::None, 2880), None);
        assert_eq!(resolve_type(DriveType::Auto, D288, None), D288);
        assert_eq!(resolve_type(DriveType::Auto, D144, Some(2400)), D120);
    }
}
