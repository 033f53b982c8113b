//! GRUB's `testspeed` command as a guest-level disk benchmark: one boot reads a file from the
//! FAT partition of the first hard disk twice, first through the BIOS (biosdisk, INT 13h, so
//! SeaBIOS's ATA PIO code drives the controller), then through GRUB's own native driver
//! (`insmod pata`, `(ata0,msdos1)`, PIO word by word). GRUB prints the file size, the elapsed
//! time and the speed; `parse_testspeed` reads them back.
//!
//! The same media and command line run on ironide and on QEMU, which makes this the
//! side-by-side benchmark of the benches crate (`guest-io`) as well as a firmware test.

use crate::grub;
use crate::Result;
use std::path::PathBuf;

/// Printed before and after the biosdisk run.
pub const BIOS_BEGIN: &str = "TS-BIOS-BEGIN";
pub const BIOS_END: &str = "TS-BIOS-END";
/// Printed before and after the native (pata) run.
pub const PATA_BEGIN: &str = "TS-PATA-BEGIN";
pub const PATA_END: &str = "TS-PATA-END";
/// The file the biosdisk run reads, and the one the pata run reads.
pub const BIOS_FILE: &str = "bios.bin";
pub const PATA_FILE: &str = "pata.bin";

/// Everything the config needs once pata has taken the controller from the BIOS (the module
/// directory on the CD disappears with biosdisk), loaded before the first run. Without
/// part_msdos and fat up front GRUB probes the partition by loading every file-system module.
const PRELOAD: &str = "insmod part_msdos\ninsmod fat\ninsmod iso9660\ninsmod testspeed\ninsmod echo\ninsmod iorw\n";

/// One `testspeed` report as GRUB printed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed {
    /// "File size:", as GRUB rounds it (two decimals of its unit).
    pub bytes: f64,
    /// "Elapsed time:" (GRUB's clock, millisecond resolution).
    pub seconds: f64,
    /// "Speed:" in bytes per second (rounded by GRUB like the size).
    pub bytes_per_sec: f64,
}

impl Speed {
    /// Throughput in MiB/s from the printed speed.
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes_per_sec / (1024.0 * 1024.0)
    }
}

/// The first testspeed report in `serial` (raw or flattened GRUB output).
///
/// GRUB prints `File size: 4.00MiB`, `Elapsed time: 46.720 s` and `Speed: 87.67KiB/s`
/// (grub_get_human_size units B, KiB, MiB, GiB, TiB).
pub fn parse_testspeed(serial: &str) -> Option<Speed> {
    let flat = grub::flatten(serial);
    let size_at = flat.find("File size:")? + "File size:".len();
    let bytes = human_size(&flat[size_at..], false)?;
    let time_at = flat[size_at..].find("Elapsed time:")? + size_at + "Elapsed time:".len();
    let seconds: f64 =
        flat[time_at..].trim_start().split(|c: char| c != '.' && !c.is_ascii_digit()).next()?.parse().ok()?;
    let speed_at = flat[time_at..].find("Speed:")? + time_at + "Speed:".len();
    let bytes_per_sec = human_size(&flat[speed_at..], true)?;
    Some(Speed { bytes, seconds, bytes_per_sec })
}

/// A number followed by a unit (`4.00MiB`, `87.67KiB/s`) at the start of `text`, in bytes.
fn human_size(text: &str, per_sec: bool) -> Option<f64> {
    let text = text.trim_start();
    let end = text.find(|c: char| c != '.' && !c.is_ascii_digit())?;
    let value: f64 = text[..end].parse().ok()?;
    let rest = &text[end..];
    // Longest unit first: "B" is a suffix of every other unit name.
    let units = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10), ("B", 0)];
    let (unit, shift) = units.iter().find(|(u, _)| rest.starts_with(u))?;
    if per_sec && !rest[unit.len()..].starts_with("/s") {
        return None;
    }
    Some(value * (1u64 << shift) as f64)
}

/// Both reports of one boot: (through the BIOS, through pata), each when it completed.
pub fn parse_both(serial: &str) -> (Option<Speed>, Option<Speed>) {
    let bios = grub::between(serial, BIOS_BEGIN, BIOS_END).and_then(|t| parse_testspeed(&t));
    let pata = grub::between(serial, PATA_BEGIN, PATA_END).and_then(|t| parse_testspeed(&t));
    (bios, pata)
}

/// The images of one testspeed boot.
#[derive(Debug, Clone)]
pub struct Media {
    /// GRUB rescue CD (secondary master) whose grub.cfg runs both tests and exits.
    pub cd: PathBuf,
    /// Hard disk (primary master) with the two files on its FAT partition.
    pub hd: PathBuf,
    pub bios_bytes: usize,
    pub pata_bytes: usize,
}

impl Media {
    /// The drive and boot options: the same on every emulator.
    pub fn args(&self) -> Vec<String> {
        vec![
            "-drive".into(),
            format!("file={},if=ide,index=2,media=cdrom,format=raw", self.cd.display()),
            "-drive".into(),
            format!("file={},if=ide,index=0,format=raw", self.hd.display()),
            "-boot".into(),
            "order=d".into(),
        ]
    }
}

/// The grub.cfg body: biosdisk run, then pata takes over, then the native run.
pub fn config_body() -> String {
    format!(
        "{PRELOAD}echo {BIOS_BEGIN}\ntestspeed (hd0,msdos1)/{BIOS_FILE}\necho {BIOS_END}\n\
         insmod pata\necho {PATA_BEGIN}\ntestspeed (ata0,msdos1)/{PATA_FILE}\necho {PATA_END}"
    )
}

/// A CD and a FAT disk for one boot reading `bios_bytes` through the BIOS and `pata_bytes`
/// through pata (cached by content, like every GRUB image).
pub fn media(bios_bytes: usize, pata_bytes: usize) -> Result<Media> {
    let cfg = grub::config(&config_body())?;
    let cd = grub::rescue_cd(&cfg, &[])?;
    let bios = grub::pattern(bios_bytes, 0x7e57_b105);
    let pata = grub::pattern(pata_bytes, 0x7e57_0a7a);
    // Room for both files plus the FAT itself, never under 8 MiB.
    let sectors = ((bios_bytes + pata_bytes) as u64 / 512 + 4096).max(16384);
    let hd = grub::fat_disk(sectors, &[(BIOS_FILE, &bios), (PATA_FILE, &pata)])?;
    Ok(Media { cd, hd, bios_bytes, pata_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\u{1b}[H\u{1b}[J\u{1b}[1;1HGRUB-START\r\nTS-BIOS-BEGIN\r\nFile size: 4.00MiB\r\n\
                          Elapsed time: 46.720 s \r\nSpeed: 87.67KiB/s \r\nTS-BIOS-END\r\nTS-PATA-BEGIN\r\n\
                          File size: 1.00MiB\r\nElapsed time: 19.194 s \r\nSpeed: 53.35KiB/s \r\nTS-PATA-END\r\n";

    #[test]
    fn parses_grubs_report() {
        let s = parse_testspeed(SAMPLE).expect("a report");
        assert_eq!(s.bytes, 4.0 * 1048576.0);
        assert_eq!(s.seconds, 46.720);
        assert!((s.bytes_per_sec - 87.67 * 1024.0).abs() < 1e-6);
        let (bios, pata) = parse_both(SAMPLE);
        assert_eq!(bios, Some(s));
        let pata = pata.expect("pata report");
        assert_eq!((pata.bytes, pata.seconds), (1048576.0, 19.194));
        assert!((pata.mib_per_sec() - 53.35 / 1024.0).abs() < 1e-9);
    }

    #[test]
    fn incomplete_or_odd_reports_are_none() {
        assert_eq!(parse_testspeed("File size: 4.00MiB\r\nElapsed time: "), None);
        assert_eq!(parse_testspeed("nothing here"), None);
        assert_eq!(parse_testspeed("File size: 4.00XB Elapsed time: 1.000 s Speed: 1B/s"), None);
        assert_eq!(parse_testspeed("File size: 512B Elapsed time: 0.000 s Speed: 0B/s").map(|s| s.bytes), Some(512.0));
        let (bios, pata) =
            parse_both("TS-BIOS-BEGIN File size: 1.00MiB Elapsed time: 1.0 s Speed: 1.00MiB/s TS-BIOS-END");
        assert!(bios.is_some() && pata.is_none());
    }

    #[test]
    fn config_loads_everything_before_pata() {
        let body = config_body();
        let pata = body.find("insmod pata").expect("pata");
        for m in ["part_msdos", "fat", "testspeed", "echo", "iorw"] {
            assert!(body.find(&format!("insmod {m}\n")).is_some_and(|i| i < pata), "{m} before pata");
        }
        assert!(body.contains("testspeed (ata0,msdos1)/pata.bin"));
    }
}
