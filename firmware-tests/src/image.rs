//! Disk images for the guests: 1.44M floppies, sparse hard disks and El Torito CDs.

use crate::guest::run_tool;
use crate::{io_err, Result};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SECTOR: u64 = 512;
/// 80 cylinders x 2 heads x 18 sectors.
pub const FLOPPY_144_BYTES: u64 = 1_474_560;
/// geometry.md's reference disk: physical 8322/16/63.
pub const DISK_8322_16_63_SECTORS: u64 = 8322 * 16 * 63;
/// A small blank disk whose geometry from size is 60/16/63 (auto -> none).
pub const DISK_60_16_63_SECTORS: u64 = 60 * 16 * 63;

fn write_at(path: &Path, len: u64, offset: u64, data: &[u8]) -> Result<()> {
    let what = format!("writing {}", path.display());
    let mut f = OpenOptions::new().create(true).truncate(true).write(true).open(path).map_err(io_err(what.clone()))?;
    // set_len leaves the file sparse: a 4 GiB disk costs nothing.
    f.set_len(len).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(what.clone()))?;
    f.write_all(data).map_err(io_err(what))?;
    Ok(())
}

/// A 1.44M floppy with `boot` in its first sector(s).
pub fn floppy(path: &Path, boot: &[u8]) -> Result<()> {
    write_at(path, FLOPPY_144_BYTES, 0, boot)
}

/// A sparse hard disk of `sectors` sectors with `mbr` (possibly empty) at its start.
pub fn disk(path: &Path, sectors: u64, mbr: &[u8]) -> Result<()> {
    write_at(path, sectors * SECTOR, 0, mbr)
}

/// An El Torito "no emulation" CD whose boot image is `boot` (padded to the 2048 bytes the
/// BIOS loads: -boot-load-size 4), built with xorriso in `path`'s directory.
pub fn eltorito_cd(path: &Path, boot: &[u8]) -> Result<()> {
    let root = path.with_extension("root");
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(io_err(format!("clearing {}", root.display())))?;
    }
    std::fs::create_dir_all(&root).map_err(io_err(format!("creating {}", root.display())))?;
    let mut image = boot.to_vec();
    image.resize(2048, 0);
    let boot_bin: PathBuf = root.join("boot.bin");
    File::create(&boot_bin)
        .and_then(|mut f| f.write_all(&image))
        .map_err(io_err(format!("writing {}", boot_bin.display())))?;
    run_tool(
        Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-b", "boot.bin", "-no-emul-boot", "-boot-load-size", "4", "-o"])
            .arg(path)
            .arg(&root),
    )
}

/// Reads `count` sectors at `lba` back from an image.
pub fn read_sectors(path: &Path, lba: u64, count: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let what = format!("reading {}", path.display());
    let mut f = File::open(path).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(lba * SECTOR)).map_err(io_err(what.clone()))?;
    let mut buf = vec![0u8; (count * SECTOR) as usize];
    f.read_exact(&mut buf).map_err(io_err(what))?;
    Ok(buf)
}
