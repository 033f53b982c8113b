//! GRUB installed the way `grub-install` lays it out on a BIOS machine, without loop mounts or
//! root: `boot.img` in sector 0 (over an MBR or a FAT boot sector, whose partition table and
//! BIOS parameter block stay), `core.img` from `grub-mkimage` right behind it, and the modules
//! and grub.cfg as files on a FAT file system (`mkfs.fat`, `mcopy`).
//!
//! Layout facts (GRUB 2.06 `include/grub/i386/pc/boot.h`, `boot/i386/pc/diskboot.S`): boot.img
//! reads the first sector of core.img from the 64-bit LBA at 0x5C and uses the BIOS drive
//! number at 0x64, 0xFF meaning "the one in DL". That first sector (diskboot.img) ends with a
//! 12-byte block list — LBA (8 bytes), sector count, load segment — telling it where the rest
//! of core.img lies; `grub-mkimage` fills the count, the LBA is patched here.

use super::{content_dir, mark_complete, GRUB_PC_DIR, PARTITION_START_LBA};
use crate::guest::run_tool;
use crate::{io_err, Error, Result};
use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

const SECTOR: usize = 512;
/// boot.img: first byte after the BIOS parameter block, where its own code goes on.
const BPB_END: usize = 0x5A;
/// boot.img: LBA of core.img's first sector (8 bytes, little endian).
const KERNEL_SECTOR: usize = 0x5C;
/// boot.img: BIOS drive to load core.img from; 0xFF = the drive the BIOS passed in DL.
const BOOT_DRIVE: usize = 0x64;
/// boot.img's code ends where the disk signature and the partition table begin.
const PART_AREA_START: usize = 0x1B8;
/// diskboot.img's block list (start LBA, count, segment) fills the end of its sector.
const BLOCKLIST: usize = SECTOR - 12;

/// The only modules linked into core.img: enough to find the FAT file system holding the
/// rest. Everything in core.img is LZMA-decompressed in protected mode, which is slow on the
/// nested development KVM, so the list stays minimal; grub.cfg loads the rest from disk.
pub const CORE_MODULES_HD: &[&str] = &["biosdisk", "part_msdos", "fat"];
/// The floppy has no partition table.
pub const CORE_MODULES_FLOPPY: &[&str] = &["biosdisk", "fat"];

/// 1.44 MB: 2880 sectors of 512 bytes (mkfs.fat's size argument is in KiB).
const FLOPPY_KIB: u64 = 1440;

/// Which modules go into /boot/grub/i386-pc on the boot medium.
#[derive(Debug, Clone, Copy)]
pub enum Modules<'a> {
    /// Every module of grub-pc-bin (about 3.5 MB: hard disks).
    All,
    /// These and everything they depend on (moddep.lst): what fits on a floppy.
    With(&'a [&'a str]),
}

/// What a boot medium holds besides GRUB itself.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    pub grub_cfg: &'a str,
    pub modules: Modules<'a>,
    /// Files at the root of the FAT file system.
    pub files: &'a [(&'a str, &'a [u8])],
}

impl Contents<'_> {
    fn hash_parts(&self) -> Vec<Vec<u8>> {
        let mut parts = vec![self.grub_cfg.as_bytes().to_vec()];
        match self.modules {
            Modules::All => parts.push(b"all-modules".to_vec()),
            Modules::With(list) => parts.extend(list.iter().map(|m| m.as_bytes().to_vec())),
        }
        for (name, data) in self.files {
            parts.push(name.as_bytes().to_vec());
            parts.push(data.to_vec());
        }
        parts
    }
}

fn tool_err(tool: &str, what: impl Into<String>) -> Error {
    Error::Tool { tool: tool.into(), status: "bad output".into(), stderr: what.into() }
}

/// `modules` plus everything they need, from GRUB's moddep.lst (`name: dep dep ...`).
pub fn module_closure(modules: &[&str]) -> Result<BTreeSet<String>> {
    let path = Path::new(GRUB_PC_DIR).join("moddep.lst");
    let text = std::fs::read_to_string(&path).map_err(io_err(format!("reading {}", path.display())))?;
    let deps: std::collections::HashMap<&str, Vec<&str>> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, rest)| (name.trim(), rest.split_whitespace().collect()))
        .collect();
    let mut done = BTreeSet::new();
    let mut todo: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
    while let Some(m) = todo.pop() {
        if !Path::new(GRUB_PC_DIR).join(format!("{m}.mod")).is_file() {
            return Err(tool_err("grub-pc-bin", format!("module {m} does not exist in {GRUB_PC_DIR}")));
        }
        if done.insert(m.clone()) {
            todo.extend(deps.get(m.as_str()).into_iter().flatten().map(|d| d.to_string()));
        }
    }
    Ok(done)
}

/// `grub-mkimage -O i386-pc` with `prefix` (where normal.mod and grub.cfg are looked for).
fn core_img(dir: &Path, prefix: &str, modules: &[&str]) -> Result<Vec<u8>> {
    let out = dir.join("core.img");
    run_tool(
        Command::new("grub-mkimage")
            .args(["-O", "i386-pc", "-d", GRUB_PC_DIR, "-p", prefix, "-o"])
            .arg(&out)
            .args(modules),
    )?;
    std::fs::read(&out).map_err(io_err(format!("reading {}", out.display())))
}

/// Points core.img's block list at `core_lba + 1`, where its second sector lies.
fn place_core(core: &mut [u8], core_lba: u64) -> Result<()> {
    if core.len() < 2 * SECTOR {
        return Err(tool_err("grub-mkimage", format!("core.img is only {} bytes", core.len())));
    }
    let count = u16::from_le_bytes([core[BLOCKLIST + 8], core[BLOCKLIST + 9]]);
    let rest = core.len().div_ceil(SECTOR) - 1;
    // grub-mkimage fills the count with the whole image's sectors; fewer would truncate it.
    if (count as usize) < rest {
        return Err(tool_err("grub-mkimage", format!("block list covers {count} sectors, core.img needs {rest}")));
    }
    core[BLOCKLIST..BLOCKLIST + 8].copy_from_slice(&(core_lba + 1).to_le_bytes());
    Ok(())
}

/// boot.img's code over `sector` (an MBR or a FAT boot sector): the BIOS parameter block and
/// the partition table area stay as they are; core.img is read from `core_lba` of the drive
/// the BIOS booted (DL).
pub fn install_boot_img(sector: &mut [u8], core_lba: u64) -> Result<()> {
    let path = Path::new(GRUB_PC_DIR).join("boot.img");
    let boot = std::fs::read(&path).map_err(io_err(format!("reading {}", path.display())))?;
    if boot.len() != SECTOR || sector.len() != SECTOR {
        return Err(tool_err("grub-pc-bin", format!("{} is {} bytes, not one sector", path.display(), boot.len())));
    }
    // The jump over the parameter block, then the code up to the disk signature.
    sector[..3].copy_from_slice(&boot[..3]);
    sector[BPB_END..PART_AREA_START].copy_from_slice(&boot[BPB_END..PART_AREA_START]);
    sector[KERNEL_SECTOR..KERNEL_SECTOR + 8].copy_from_slice(&core_lba.to_le_bytes());
    sector[BOOT_DRIVE] = 0xFF;
    sector[510] = 0x55;
    sector[511] = 0xAA;
    Ok(())
}

fn write_at(path: &Path, offset: u64, data: &[u8]) -> Result<()> {
    let what = format!("writing {}", path.display());
    let mut f = OpenOptions::new().write(true).open(path).map_err(io_err(what.clone()))?;
    f.seek(SeekFrom::Start(offset)).map_err(io_err(what.clone()))?;
    f.write_all(data).map_err(io_err(what))
}

/// Stages /boot/grub (grub.cfg, modules, the .lst files normal mode reads) and the root files
/// in `dir/root`, then copies them all into the FAT file system `mtools_image` (an mtools
/// `-i` argument) with one mcopy.
fn fill_fat(dir: &Path, mtools_image: &str, contents: &Contents) -> Result<()> {
    let root = dir.join("root");
    let mod_dir = root.join("boot/grub/i386-pc");
    std::fs::create_dir_all(&mod_dir).map_err(io_err(format!("creating {}", mod_dir.display())))?;
    std::fs::write(root.join("boot/grub/grub.cfg"), contents.grub_cfg).map_err(io_err("writing grub.cfg"))?;
    let wanted = match contents.modules {
        Modules::All => None,
        Modules::With(list) => Some(module_closure(list)?),
    };
    let entries = std::fs::read_dir(GRUB_PC_DIR).map_err(io_err(format!("listing {GRUB_PC_DIR}")))?;
    for entry in entries {
        let entry = entry.map_err(io_err(format!("listing {GRUB_PC_DIR}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let keep = match (name.strip_suffix(".mod"), &wanted) {
            (Some(m), Some(w)) => w.contains(m),
            (Some(_), None) => true,
            (None, _) => name.ends_with(".lst"),
        };
        if keep {
            std::fs::copy(entry.path(), mod_dir.join(&name)).map_err(io_err(format!("copying {name}")))?;
        }
    }
    let mut sources = vec![root.join("boot")];
    for (name, data) in contents.files {
        let host = root.join(name);
        std::fs::write(&host, data).map_err(io_err(format!("writing {}", host.display())))?;
        sources.push(host);
    }
    run_tool(Command::new("mcopy").args(["-s", "-i", mtools_image]).args(&sources).arg("::"))
}

/// A `sectors`-sector hard disk that SeaBIOS boots into GRUB: MBR = boot.img + one FAT
/// partition from 1 MiB, core.img in the gap from LBA 1, and the FAT partition holding
/// /boot/grub (prefix `(hd0,msdos1)/boot/grub`) and `contents.files`.
pub fn boot_disk(sectors: u64, contents: &Contents) -> Result<PathBuf> {
    let parts = contents.hash_parts();
    let size = sectors.to_le_bytes();
    let mut refs: Vec<&[u8]> = vec![&size];
    refs.extend(parts.iter().map(Vec::as_slice));
    let (dir, done) = content_dir("boot-hd", &refs)?;
    let img = dir.join("hd.img");
    if done {
        return Ok(img);
    }
    let mut core = core_img(&dir, "(hd0,msdos1)/boot/grub", CORE_MODULES_HD)?;
    let gap = (PARTITION_START_LBA as usize - 1) * SECTOR;
    if core.len() > gap {
        return Err(tool_err("grub-mkimage", format!("core.img ({} bytes) exceeds the {gap}-byte gap", core.len())));
    }
    place_core(&mut core, 1)?;
    let mut mbr = super::fat_partition_mbr(sectors);
    install_boot_img(&mut mbr, 1)?;
    crate::image::disk(&img, sectors, &mbr)?;
    write_at(&img, SECTOR as u64, &core)?;
    let len = sectors - PARTITION_START_LBA;
    run_tool(
        Command::new("mkfs.fat")
            .arg("--offset")
            .arg(PARTITION_START_LBA.to_string())
            .args(["-n", "GRUBBOOT"])
            .arg(&img)
            .arg((len / 2).to_string()),
    )?;
    fill_fat(&dir, &format!("{}@@{}", img.display(), PARTITION_START_LBA * SECTOR as u64), contents)?;
    mark_complete(&dir)?;
    Ok(img)
}

/// A 1.44 MB FAT12 floppy that SeaBIOS boots into GRUB: boot.img over the FAT boot sector,
/// core.img in the reserved sectors after it, /boot/grub (prefix `(fd0)/boot/grub`) and
/// `contents.files` in the file system.
pub fn boot_floppy(contents: &Contents) -> Result<PathBuf> {
    let parts = contents.hash_parts();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let (dir, done) = content_dir("boot-fd", &refs)?;
    let img = dir.join("fd.img");
    if done {
        return Ok(img);
    }
    let mut core = core_img(&dir, "(fd0)/boot/grub", CORE_MODULES_FLOPPY)?;
    place_core(&mut core, 1)?;
    // The boot sector plus core.img, reserved so the file system keeps out of them.
    let reserved = 1 + core.len().div_ceil(SECTOR);
    run_tool(
        Command::new("mkfs.fat")
            .args(["-C", "-F", "12", "-R"])
            .arg(reserved.to_string())
            .args(["-n", "GRUBFLOPPY"])
            .arg(&img)
            .arg(FLOPPY_KIB.to_string()),
    )?;
    let mut boot = crate::image::read_sectors(&img, 0, 1)?;
    install_boot_img(&mut boot, 1)?;
    write_at(&img, 0, &boot)?;
    write_at(&img, SECTOR as u64, &core)?;
    fill_fat(&dir, &img.display().to_string(), contents)?;
    mark_complete(&dir)?;
    Ok(img)
}
