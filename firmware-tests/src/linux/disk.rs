//! The Linux guests' media: a hard disk the BIOS boots through GRUB (boot.img in the MBR,
//! core.img in the gap before the partition, modules, grub.cfg, kernel and initramfs on a FAT
//! partition, made without loop mounts), a CD and a floppy of pattern data.
//!
//! Disk layout (33 MiB):
//! | from   | to     | what |
//! | ------ | ------ | ---- |
//! | 0      | 512    | MBR: GRUB boot.img code, one partition entry, 55 AA |
//! | 512    | 1 MiB  | GRUB core.img (biosdisk, part_msdos, fat) |
//! | 1 MiB  | 28 MiB | FAT partition: vmlinuz, initrd.gz, boot/grub/{grub.cfg,i386-pc/*.mod} |
//! | 28 MiB | 32 MiB | pattern data /init reads with `iflag=direct` (blocks 448..512 of 64 KiB) |
//! | 32 MiB | 33 MiB | zeros; /init writes block 512 with `oflag=direct` |

use super::{cache_dir, content_hash, recipe, sha256, Expected, LinuxError, Result};
use crate::grub::{pattern, GRUB_PC_DIR};
use crate::guest::run_tool;
use crate::io_err;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const DISK_SECTORS: u64 = 33 * 2048;
pub const PARTITION_START_LBA: u64 = 2048;
pub const PARTITION_SECTORS: u64 = 27 * 2048;
/// 64 KiB blocks.
pub const PATTERN_BLOCK: u64 = 448;
pub const PATTERN_BLOCKS: u64 = 64;
pub const WRITE_BLOCK: u64 = 512;
const BLOCK: u64 = 64 * 1024;
/// Echoed by grub.cfg's menu entry once `linux` and `initrd` have loaded their files.
pub const GRUB_LINUX_LOADED: &str = "GRUB-LINUX-LOADED";
pub const GRUB_INITRD_LOADED: &str = "GRUB-INITRD-LOADED";
/// The menu entry's title: GRUB prints "Booting `linux'".
pub const GRUB_ENTRY: &str = "linux";
/// Bumped when the layout or the recipe changes, so cached images are rebuilt.
const RECIPE: &[u8] = b"linux-media-1";

/// The CD, the floppy, the disk's pattern area and the hashes the host expects of them.
#[derive(Debug, Clone)]
pub struct Media {
    pub cd: PathBuf,
    pub floppy: PathBuf,
    pub pattern: Vec<u8>,
    pub expected: Expected,
}

fn write_at(path: &Path, offset: u64, data: &[u8]) -> Result<()> {
    let what = format!("writing {}", path.display());
    let mut f = OpenOptions::new().write(true).open(path).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(what.clone()))?;
    f.write_all(data).map_err(io_err(what))?;
    Ok(())
}

fn create_dir(dir: &Path) -> Result<()> {
    Ok(std::fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?)
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_err(format!("clearing {}", dir.display())))?;
    }
    create_dir(dir)
}

fn mark_complete(dir: &Path) -> Result<()> {
    Ok(std::fs::write(dir.join(".complete"), b"").map_err(io_err(format!("marking {}", dir.display())))?)
}

/// The CD (ISO 9660 with Rock Ridge holding data.bin) and the floppy, built once; the
/// expected values computed from the files.
pub fn media() -> Result<Media> {
    let dir = cache_dir().join(format!("media-{}", content_hash(&[RECIPE])));
    let cd = dir.join("cd.iso");
    let floppy = dir.join("floppy.img");
    let data = pattern(256 * 1024, 0xcd0a);
    if !dir.join(".complete").is_file() {
        fresh_dir(&dir)?;
        let root = dir.join("cd-root");
        create_dir(&root)?;
        std::fs::write(root.join("data.bin"), &data).map_err(io_err("writing data.bin"))?;
        run_tool(
            Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet", "-r", "-V", "IRONIDE_LINUX", "-o"])
                .arg(&cd)
                .arg(&root),
        )?;
        crate::image::floppy(&floppy, &pattern(crate::image::FLOPPY_144_BYTES as usize, 0xf10b))?;
        mark_complete(&dir)?;
    }
    let read = |p: &Path| std::fs::read(p).map_err(io_err(format!("reading {}", p.display())));
    let iso = read(&cd)?;
    if iso.len() % 2048 != 0 {
        return Err(recipe(format!("{} is {} bytes, not whole 2048-byte sectors", cd.display(), iso.len())));
    }
    let disk_pattern = pattern((PATTERN_BLOCKS * BLOCK) as usize, 0x5da0);
    let expected = Expected {
        sda_skip: PATTERN_BLOCK,
        sda_count: PATTERN_BLOCKS,
        sda_sha256: sha256(&disk_pattern)?,
        sr0_sha256: sha256(&iso)?,
        iso_file_sha256: sha256(&data)?,
        fd0_sha256: sha256(&read(&floppy)?)?,
        write_block: WRITE_BLOCK,
    };
    Ok(Media { cd, floppy, pattern: disk_pattern, expected })
}

/// grub.cfg: the serial console, then one menu entry booted at once that loads the kernel
/// with `cmdline` and the initramfs, echoing a marker after each.
pub fn grub_cfg(cmdline: &str) -> String {
    format!(
        "serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\necho GRUB-START\n\
         set timeout=0\nset default=0\nmenuentry '{GRUB_ENTRY}' {{\n    linux /vmlinuz {cmdline}\n    \
         echo {GRUB_LINUX_LOADED}\n    initrd /initrd.gz\n    echo {GRUB_INITRD_LOADED}\n}}\n"
    )
}

/// The MBR: boot.img's code (its defaults already point at core.img in sector 1 and take the
/// boot drive from DL), one FAT16 partition entry and the signature.
pub fn mbr() -> Result<Vec<u8>> {
    let boot_img = Path::new(GRUB_PC_DIR).join("boot.img");
    let mut mbr = std::fs::read(&boot_img).map_err(io_err(format!("reading {}", boot_img.display())))?;
    if mbr.len() != 512 {
        return Err(recipe(format!("{} is {} bytes, not 512", boot_img.display(), mbr.len())));
    }
    mbr[440..].fill(0);
    let entry = &mut mbr[446..462];
    entry[0] = 0x80;
    // CHS fields saturated: GRUB, SeaBIOS and Linux use the LBA fields.
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = 0x0e;
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&(PARTITION_START_LBA as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&(PARTITION_SECTORS as u32).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    Ok(mbr)
}

fn grub_files(suffix: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(GRUB_PC_DIR)
        .map_err(io_err(format!("reading {GRUB_PC_DIR}")))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == suffix))
        .collect();
    files.sort();
    Ok(files)
}

/// The bootable disk for `kernel`, `initrd` and `cmdline`, cached by those inputs.
pub fn grub_disk(kernel: &Path, initrd: &Path, cmdline: &str, media: &Media) -> Result<PathBuf> {
    let cfg = grub_cfg(cmdline);
    let kernel_id = format!("{}:{}", kernel.display(), std::fs::metadata(kernel).map(|m| m.len()).unwrap_or(0));
    let initrd_name = initrd.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let key = content_hash(&[RECIPE, kernel_id.as_bytes(), initrd_name.as_bytes(), cfg.as_bytes(), &media.pattern]);
    let dir = cache_dir().join(format!("disk-{key}"));
    let img = dir.join("hd.img");
    if dir.join(".complete").is_file() {
        return Ok(img);
    }
    fresh_dir(&dir)?;
    crate::image::disk(&img, DISK_SECTORS, &mbr()?)?;

    let core = dir.join("core.img");
    run_tool(
        Command::new("grub-mkimage")
            .args(["-O", "i386-pc", "-d", GRUB_PC_DIR, "-p", "(hd0,msdos1)/boot/grub", "-o"])
            .arg(&core)
            .args(["biosdisk", "part_msdos", "fat"]),
    )?;
    let core_bytes = std::fs::read(&core).map_err(io_err(format!("reading {}", core.display())))?;
    if core_bytes.len() as u64 > (PARTITION_START_LBA - 1) * 512 {
        return Err(recipe(format!("core.img is {} bytes: it does not fit before the partition", core_bytes.len())));
    }
    write_at(&img, 512, &core_bytes)?;
    write_at(&img, PATTERN_BLOCK * BLOCK, &media.pattern)?;

    run_tool(
        Command::new("mkfs.fat")
            .arg("--offset")
            .arg(PARTITION_START_LBA.to_string())
            .args(["-n", "LINUXBOOT"])
            .arg(&img)
            .arg((PARTITION_SECTORS / 2).to_string()),
    )?;
    let spec = format!("{}@@{}", img.display(), PARTITION_START_LBA * 512);
    run_tool(Command::new("mmd").arg("-i").arg(&spec).args(["::boot", "::boot/grub", "::boot/grub/i386-pc"]))?;
    let cfg_path = dir.join("grub.cfg");
    std::fs::write(&cfg_path, &cfg).map_err(io_err("writing grub.cfg"))?;
    let copies: [(Vec<PathBuf>, &str); 4] = [
        (vec![kernel.to_path_buf()], "::vmlinuz"),
        (vec![initrd.to_path_buf()], "::initrd.gz"),
        (vec![cfg_path], "::boot/grub/grub.cfg"),
        // Modules normal mode loads on demand (normal, linux, serial, ...) and the lists that
        // drive autoloading; read through biosdisk, uncompressed.
        ([grub_files("mod")?, grub_files("lst")?].concat(), "::boot/grub/i386-pc/"),
    ];
    for (sources, target) in copies {
        run_tool(Command::new("mcopy").arg("-i").arg(&spec).args(&sources).arg(target))?;
    }
    mark_complete(&dir)?;
    Ok(img)
}

/// Reads `len` bytes at `offset` of an image.
pub fn read_at(path: &Path, offset: u64, len: usize) -> std::result::Result<Vec<u8>, LinuxError> {
    use std::io::Read;
    let what = format!("reading {}", path.display());
    let mut f = std::fs::File::open(path).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(what.clone()))?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf).map_err(io_err(what))?;
    Ok(buf)
}

/// The block /init writes, as the host finds it in a disk image after the run.
pub fn written_block(disk: &Path) -> std::result::Result<Vec<u8>, LinuxError> {
    read_at(disk, WRITE_BLOCK * BLOCK, BLOCK as usize)
}
