//! The guest test kit (`kit/*.S`, `kit/*.inc`): one real-mode program, booted by SeaBIOS from
//! the first hard disk, that takes the IDE and floppy controllers over like an OS driver (its
//! own IRQ handlers, `hlt` until the interrupt, bus-master DMA through the PCI BAR4, the 8237
//! for the floppy) and prints `CHECK <name> PASS` / `CHECK <name> FAIL <detail> <v1> <v2>`
//! on COM1, then `KIT-DONE <pass>/<total>`, leaving through isa-debug-exit with 0 when every
//! check passed.
//!
//! The host side here builds the images: the kit in sectors 0..=56 of a disk, a parameter
//! block patched into its boot sector (mode and three values), and the data pattern the guest
//! verifies: dword `i` of an image (byte offset `4*i`) holds `seed + i` (mod 2^32). The
//! constants below mirror the `.set`s in the assembly sources; change both together.
//!
//! Modes: [`Mode::Ata`], [`Mode::Atapi`] and [`Mode::Floppy`] run the checks (the ATAPI and
//! floppy ones stop at `WAIT-*` markers for the host to act over QMP, see tests/kit.rs);
//! [`dma_read_bench`] and [`pio_read_bench`] set up the benchmark loops.

use crate::guest::source_dir as guest_source_dir;
use crate::image::SECTOR;
use crate::{io_err, Error, Result, Run};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Sectors the boot sector loads after itself (kit.S LOAD_SECTORS).
pub const LOAD_SECTORS: u64 = 56;
/// Offset of the parameter block in the boot sector (kit.S `.org 0x1e0`).
const PARAM_OFFSET: u64 = 0x1e0;

/// Pattern seeds and places (ata.inc, atapi.inc, fdc.inc).
pub const DISK_SEED: u32 = 0xa500_0000;
/// The ATA kit's disk: 20 GiB sparse, so READ DMA EXT reaches past 2^24 sectors.
pub const ATA_DISK_SECTORS: u64 = 20 << 21;
/// Pattern regions of the ATA disk: [start LBA, sectors).
pub const ATA_PATTERN: [(u64, u64); 2] = [(1024, 3072), (0x0123_4560, 64)];
pub const PIO_WRITE: (u64, u64, u32) = (3000, 4, 0x5a10_0000);
pub const DMA_WRITE: (u64, u64, u32) = (3100, 16, 0x5a20_0000);
pub const CD_SEED_A: u32 = 0xcd0a_0000;
pub const CD_SEED_B: u32 = 0xcd0b_0000;
/// Sizes (2048-byte sectors) of the ATAPI kit's two media: the guest checks READ CAPACITY.
pub const CD_SECTORS_A: u64 = 300;
pub const CD_SECTORS_B: u64 = 200;
pub const FD_SEED_A: u32 = 0xf10a_0000;
pub const FD_SEED_B: u32 = 0xf10b_0000;
/// Floppy sectors the kit writes: cylinder 2 head 1 sectors 1..4 = LBA 90..93.
pub const FD_WRITE: (u64, u64, u32) = (90, 4, 0x5a30_0000);

/// Serial markers where the guest waits for the host.
pub const WAIT_EJECT_REQUEST: &str = "WAIT-EJECT-REQUEST";
pub const SAW_EJECT_REQUEST: &str = "SAW-EJECT-REQUEST";
pub const WAIT_MEDIUM: &str = "WAIT-MEDIUM";
pub const WAIT_FLOPPY_CHANGE: &str = "WAIT-FLOPPY-CHANGE";

/// What the kit does after taking the machine over (the parameter block's first dword).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// ATA on the primary master (the boot disk itself).
    Ata = 1,
    /// ATAPI on the secondary master (`-drive ...,if=ide,index=2,media=cdrom`).
    Atapi = 2,
    /// Floppy drive A.
    Floppy = 3,
    DmaBench = 4,
    PioBench = 5,
}

fn source_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kit")
}

/// Assembles the kit (kit/kit.S with its includes and guests/common.inc) into a flat binary
/// linked at 0x7C00; rebuilt when any source is newer.
pub fn build() -> Result<Vec<u8>> {
    let kit_dir = source_dir();
    let guests = guest_source_dir();
    let mut inputs = vec![guests.join("common.inc"), guests.join("prologue.inc")];
    for entry in std::fs::read_dir(&kit_dir).map_err(io_err(format!("listing {}", kit_dir.display())))? {
        inputs.push(entry.map_err(io_err("listing the kit sources"))?.path());
    }
    let bin = crate::guest::assemble("kit", &kit_dir.join("kit.S"), &[&kit_dir, &guests], &inputs)?;
    let bytes = std::fs::read(&bin).map_err(io_err(format!("reading {}", bin.display())))?;
    let max = (LOAD_SECTORS + 1) * SECTOR;
    if bytes.len() as u64 > max {
        return Err(Error::GuestTooLarge { name: "kit".into(), size: bytes.len() as u64, max });
    }
    Ok(bytes)
}

/// The pattern bytes for `len` bytes at byte `offset` (a multiple of 4) of an image.
pub fn pattern(seed: u32, offset: u64, len: usize) -> Vec<u8> {
    let first = offset / 4;
    (0..len / 4).flat_map(|i| seed.wrapping_add((first + i as u64) as u32).to_le_bytes()).collect()
}

fn write_region(path: &Path, offset: u64, data: &[u8]) -> Result<()> {
    let what = format!("writing {}", path.display());
    let mut f = OpenOptions::new().write(true).open(path).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(what.clone()))?;
    f.write_all(data).map_err(io_err(what))
}

fn create_sparse(path: &Path, bytes: u64) -> Result<()> {
    let what = format!("creating {}", path.display());
    let f = OpenOptions::new().create(true).truncate(true).write(true).open(path).map_err(io_err(what.clone()))?;
    f.set_len(bytes).map_err(io_err(what))
}

/// Fills `sectors` sectors of `sector_size` bytes from `lba` with the pattern of `seed`.
pub fn fill_pattern(path: &Path, sector_size: u64, lba: u64, sectors: u64, seed: u32) -> Result<()> {
    // In 1 MiB pieces: the bench disks are tens of MiB.
    let (start, end) = (lba * sector_size, (lba + sectors) * sector_size);
    let mut at = start;
    while at < end {
        let n = (end - at).min(1 << 20);
        write_region(path, at, &pattern(seed, at, n as usize))?;
        at += n;
    }
    Ok(())
}

/// A sparse disk of `sectors` sectors booting the kit in `mode` with parameters `params`.
pub fn kit_disk(path: &Path, sectors: u64, mode: Mode, params: [u32; 3]) -> Result<()> {
    let mut boot = build()?;
    let at = PARAM_OFFSET as usize;
    boot[at..at + 4].copy_from_slice(&(mode as u32).to_le_bytes());
    for (i, p) in params.iter().enumerate() {
        boot[at + 4 + 4 * i..at + 8 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    create_sparse(path, sectors * SECTOR)?;
    write_region(path, 0, &boot)
}

/// The ATA kit's disk: the kit plus the pattern regions it reads.
pub fn ata_disk(path: &Path) -> Result<()> {
    kit_disk(path, ATA_DISK_SECTORS, Mode::Ata, [ATA_DISK_SECTORS as u32, 0, 0])?;
    for (lba, n) in ATA_PATTERN {
        fill_pattern(path, SECTOR, lba, n, DISK_SEED)?;
    }
    Ok(())
}

/// A CD image (raw, 2048-byte sectors) holding the pattern of `seed`.
pub fn cd_image(path: &Path, sectors: u64, seed: u32) -> Result<()> {
    create_sparse(path, sectors * 2048)?;
    fill_pattern(path, 2048, 0, sectors, seed)
}

/// A 1.44M floppy image holding the pattern of `seed`.
pub fn floppy_image(path: &Path, seed: u32) -> Result<()> {
    create_sparse(path, crate::image::FLOPPY_144_BYTES)?;
    fill_pattern(path, SECTOR, 0, crate::image::FLOPPY_144_BYTES / SECTOR, seed)
}

pub use crate::check::Check;

/// The `CHECK` lines in a serial log, in order.
pub fn checks(serial: &str) -> Vec<Check> {
    serial.lines().filter_map(|l| crate::check::parse(l.trim_end_matches('\r').strip_prefix("CHECK ")?)).collect()
}

/// `KIT-DONE pass/total` from a serial log.
pub fn done(serial: &str) -> Option<(u32, u32)> {
    let line = serial.lines().find_map(|l| l.trim_end_matches('\r').strip_prefix("KIT-DONE "))?;
    let (p, t) = line.split_once('/')?;
    Some((p.trim().parse().ok()?, t.trim().parse().ok()?))
}

/// A benchmark guest ready to boot: `run` holds the drive argument (the disk is the only
/// medium, so no `-boot` is needed; [`Bench::run_with`] adds drive options such as
/// throttling); time the guest between `begin` and `end` on the serial console
/// (`Session::wait_serial`), then read the byte count with [`bench_bytes`]. The guest exits
/// with 0 after `end`, or prints `DMA-FAIL`/`PIO-FAIL` and exits with 1 when a command fails.
/// Each command may take up to an hour (throttled drives) before the guest gives up.
#[derive(Debug, Clone)]
pub struct Bench {
    pub disk: PathBuf,
    pub run: Run,
    pub begin: &'static str,
    pub end: &'static str,
    pub bytes: u64,
}

impl Bench {
    /// The run with `extra` appended to the disk's `-drive` options (e.g.
    /// `",throttling.bps-read=1048576"` or `",cache=none"`).
    pub fn run_with(&self, extra: &str) -> Run {
        Run::new().drive(&self.disk, &format!("{BENCH_DRIVE}{extra}"))
    }
}

const BENCH_DRIVE: &str = "if=ide,index=0,format=raw";

/// Sectors the bench loops read from (wrapping): 32 MiB after a 1 MiB gap for the program.
pub const BENCH_START_LBA: u64 = 2048;
pub const BENCH_WINDOW_SECTORS: u64 = 65536;

fn bench(dir: &Path, mib: u32, mode: Mode, begin: &'static str, end: &'static str) -> Result<Bench> {
    let disk = dir.join("bench.img");
    let sectors = BENCH_START_LBA + BENCH_WINDOW_SECTORS;
    kit_disk(&disk, sectors, mode, [mib, BENCH_START_LBA as u32, BENCH_WINDOW_SECTORS as u32])?;
    fill_pattern(&disk, SECTOR, BENCH_START_LBA, BENCH_WINDOW_SECTORS, DISK_SEED)?;
    let run = Run::new().drive(&disk, BENCH_DRIVE);
    Ok(Bench { disk, run, begin, end, bytes: u64::from(mib) << 20 })
}

/// A guest reading `mib` MiB from its disk with READ DMA, 128 KiB (two 64 KiB PRD entries)
/// per command, one IRQ 14 per command; it prints `DMA-BEGIN`, then `DMA-END <bytes>`.
/// The disk (33 MiB, patterned) is created as `dir/bench.img`; add throttling or cache
/// options by building your own `-drive` from `Bench::disk`.
/// `mib` must stay below 4096: the guest reports its byte count in 32 bits.
pub fn dma_read_bench(dir: &Path, mib: u32) -> Result<Bench> {
    bench(dir, mib, Mode::DmaBench, "DMA-BEGIN", "DMA-END")
}

/// Like [`dma_read_bench`] with READ SECTORS (PIO): 256 sectors per command, one IRQ and one
/// 512-byte `rep insw` per sector; markers `PIO-BEGIN` / `PIO-END <bytes>`.
pub fn pio_read_bench(dir: &Path, mib: u32) -> Result<Bench> {
    bench(dir, mib, Mode::PioBench, "PIO-BEGIN", "PIO-END")
}

/// The byte count after `end` (e.g. "DMA-END") in a serial log.
pub fn bench_bytes(serial: &str, end: &str) -> Option<u64> {
    let flat = serial.replace('\r', "");
    let at = flat.find(&format!("{end} "))?;
    flat[at + end.len() + 1..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_counts_dwords_from_the_image_start() {
        let p = pattern(0xffff_fffe, 8, 12);
        assert_eq!(p, [0u32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>());
    }

    #[test]
    fn parses_checks_and_done() {
        let log = "KIT-START\r\nCHECK a PASS\r\nCHECK b-c FAIL data 00020000 12345678\r\nKIT-DONE 1/2\r\n";
        let c = checks(log);
        assert_eq!(c.len(), 2);
        assert!(c[0].pass && c[0].name == "a");
        assert!(!c[1].pass && c[1].detail == "data 00020000 12345678");
        assert_eq!(done(log), Some((1, 2)));
        assert_eq!(bench_bytes("DMA-BEGIN\r\nDMA-END 1048576\r\n", "DMA-END"), Some(1048576));
    }
}
