//! GRUB 2 (Debian grub-pc-bin, i386-pc) as a real client of the BIOS disk services and of the
//! IDE controller: El Torito rescue CDs from `grub-mkrescue` whose grub.cfg talks on COM1, and
//! FAT hard disks made without loop mounts (`mkfs.fat --offset`, `mcopy -i img@@1M`).
//!
//! Images are cached in `target/firmware-tests/grub/<content hash>/`: the same config and files
//! give the same directory, so reruns cost nothing.

use crate::guest::run_tool;
use crate::{io_err, work_dir, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

mod disk_boot;
mod output;

pub use disk_boot::{
    boot_disk, boot_floppy, install_boot_img, module_closure, Contents, Modules, CORE_MODULES_FLOPPY, CORE_MODULES_HD,
};
pub use output::{cmos_dump, hexdump_bytes, lines_between, pci_functions, PciFunction};

/// Where Debian's grub-pc-bin keeps the i386-pc modules and boot images.
pub const GRUB_PC_DIR: &str = "/usr/lib/grub/i386-pc";
/// The partition of `fat_disk` starts at 1 MiB.
pub const PARTITION_START_LBA: u64 = 2048;

/// Why the GRUB tests cannot run here, if they cannot.
pub fn missing_tools() -> Option<String> {
    if !Path::new(GRUB_PC_DIR).join("cdboot.img").is_file() {
        return Some(format!("{GRUB_PC_DIR} is missing: install grub-pc-bin (scripts/install-deps.sh)"));
    }
    for tool in ["grub-mkrescue", "grub-mkimage", "xorriso", "mformat", "mcopy", "mkfs.fat", "sha256sum"] {
        let found = std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                    .any(|d| d.join(tool).is_file())
            })
            .unwrap_or(false);
        if !found {
            return Some(format!("`{tool}` not found: install grub-common, xorriso, mtools, dosfstools"));
        }
    }
    None
}

/// `Emulator::or_skip`, also skipping (with a SKIP line naming the test) when GRUB's tools are
/// missing.
pub fn emulator_or_skip(test: &str) -> Option<crate::Emulator> {
    let emu = crate::Emulator::or_skip(test)?;
    if let Some(why) = missing_tools() {
        // Straight to the stderr handle: the harness hides eprintln! of passing tests.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
        return None;
    }
    Some(emu)
}

/// Panics with the run's log unless GRUB started its serial console, ran grub.cfg to the end
/// and left through isa-debug-exit with 0 (the `config` footer).
pub fn assert_ran(out: &crate::Outcome) {
    assert!(out.serial.contains("GRUB-START"), "GRUB did not start its serial console\n{out}");
    assert!(flatten(&out.serial).contains("GRUB-DONE"), "grub.cfg did not run to the end\n{out}");
    assert_eq!(out.guest_exit(), Some(0), "isa-debug-exit from grub.cfg\n{out}");
}

/// The host's SHA-256 of `data`, through a copy in `work_dir()/grub/<name>` (one name per
/// caller: tests run in parallel).
pub fn host_sha256(data: &[u8], name: &str) -> Result<String> {
    let dir = work_dir().join("grub");
    std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let path = dir.join(name);
    std::fs::write(&path, data).map_err(io_err(format!("writing {}", path.display())))?;
    sha256_hex(&path)
}

/// Deterministic test data (xorshift), so a file's hash is the same on every run.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The host's SHA-256 of a file, lower-case hex (coreutils `sha256sum`).
pub fn sha256_hex(path: &Path) -> Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .map_err(io_err(format!("running sha256sum {}", path.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.split_whitespace().next().unwrap_or_default().to_string())
}

fn content_dir(kind: &str, parts: &[&[u8]]) -> Result<(PathBuf, bool)> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut h);
    for p in parts {
        p.hash(&mut h);
    }
    let dir = work_dir().join("grub").join(format!("{kind}-{:016x}", h.finish()));
    let done = dir.join(".complete").is_file();
    if !done {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io_err(format!("clearing {}", dir.display())))?;
        }
        std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    }
    Ok((dir, done))
}

fn mark_complete(dir: &Path) -> Result<()> {
    std::fs::write(dir.join(".complete"), b"").map_err(io_err(format!("marking {}", dir.display())))
}

fn read_cfg(name: &str) -> Result<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("grub").join(name);
    std::fs::read_to_string(&path).map_err(io_err(format!("reading {}", path.display())))
}

/// A grub.cfg: the serial console header (`grub/serial.cfg`), `body`, then the isa-debug-exit
/// footer (`grub/exit.cfg`: guest exit 0, process status 1).
pub fn config(body: &str) -> Result<String> {
    Ok(format!("{}\n{body}\n{}", read_cfg("serial.cfg")?, read_cfg("exit.cfg")?))
}

/// A rescue CD (`grub-mkrescue`, i386-pc only) holding `grub_cfg` as /boot/grub/grub.cfg and
/// `files` at the root. Only the default modules go into core.img: every extra module there
/// has to be LZMA-decompressed in protected mode, which is slow on the nested development KVM;
/// the rest load from the CD with insmod when a command needs them.
pub fn rescue_cd(grub_cfg: &str, files: &[(&str, &[u8])]) -> Result<PathBuf> {
    let mut parts: Vec<&[u8]> = vec![grub_cfg.as_bytes()];
    for (name, data) in files {
        parts.push(name.as_bytes());
        parts.push(data);
    }
    let (dir, done) = content_dir("cd", &parts)?;
    let iso = dir.join("cd.iso");
    if done {
        return Ok(iso);
    }
    let root = dir.join("root");
    let grub_dir = root.join("boot/grub");
    std::fs::create_dir_all(&grub_dir).map_err(io_err(format!("creating {}", grub_dir.display())))?;
    std::fs::write(grub_dir.join("grub.cfg"), grub_cfg).map_err(io_err("writing grub.cfg"))?;
    for (name, data) in files {
        std::fs::write(root.join(name), data).map_err(io_err(format!("writing {name}")))?;
    }
    run_tool(Command::new("grub-mkrescue").arg("-d").arg(GRUB_PC_DIR).arg("-o").arg(&iso).arg(&root))?;
    mark_complete(&dir)?;
    Ok(iso)
}

/// A plain ISO 9660 CD (no boot record) holding `files` at its root: a medium to insert while
/// a guest runs.
pub fn data_cd(files: &[(&str, &[u8])]) -> Result<PathBuf> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for (name, data) in files {
        parts.push(name.as_bytes());
        parts.push(data);
    }
    let (dir, done) = content_dir("data-cd", &parts)?;
    let iso = dir.join("data.iso");
    if done {
        return Ok(iso);
    }
    let root = dir.join("root");
    std::fs::create_dir_all(&root).map_err(io_err(format!("creating {}", root.display())))?;
    for (name, data) in files {
        std::fs::write(root.join(name), data).map_err(io_err(format!("writing {name}")))?;
    }
    run_tool(Command::new("xorriso").args(["-as", "mkisofs", "-quiet", "-o"]).arg(&iso).arg(&root))?;
    mark_complete(&dir)?;
    Ok(iso)
}

/// An MBR without boot code whose one partition (FAT16, type 06) runs from 1 MiB to the end
/// of a `sectors`-sector disk.
fn fat_partition_mbr(sectors: u64) -> Vec<u8> {
    let mut mbr = vec![0u8; 512];
    let len = sectors - PARTITION_START_LBA;
    let entry = &mut mbr[446..462];
    // CHS fields saturated: GRUB and SeaBIOS use the LBA fields.
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = 0x06;
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&(PARTITION_START_LBA as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&(len as u32).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr
}

/// A `sectors`-sector hard disk with one FAT partition (type 06) from 1 MiB to the end, holding
/// `files` at its root. The MBR carries no boot code: the tests boot from the CD.
pub fn fat_disk(sectors: u64, files: &[(&str, &[u8])]) -> Result<PathBuf> {
    let size = sectors.to_le_bytes();
    let mut parts: Vec<&[u8]> = vec![&size];
    for (name, data) in files {
        parts.push(name.as_bytes());
        parts.push(data);
    }
    let (dir, done) = content_dir("hd", &parts)?;
    let img = dir.join("hd.img");
    if done {
        return Ok(img);
    }
    let len = sectors - PARTITION_START_LBA;
    crate::image::disk(&img, sectors, &fat_partition_mbr(sectors))?;
    run_tool(
        Command::new("mkfs.fat")
            .arg("--offset")
            .arg(PARTITION_START_LBA.to_string())
            .args(["-n", "IRONIDE"])
            .arg(&img)
            .arg((len / 2).to_string()),
    )?;
    let spec = format!("{}@@{}", img.display(), PARTITION_START_LBA * 512);
    for (name, data) in files {
        let host = dir.join(name);
        std::fs::write(&host, data).map_err(io_err(format!("writing {}", host.display())))?;
        run_tool(Command::new("mcopy").arg("-i").arg(&spec).arg(&host).arg(format!("::{name}")))?;
    }
    mark_complete(&dir)?;
    Ok(img)
}

/// GRUB's serial output as one string: carriage returns, line feeds and VT100 escape sequences
/// removed (GRUB wraps long lines at 80 columns, so a hash and its file name may be split).
pub fn flatten(serial: &str) -> String {
    let mut out = String::with_capacity(serial.len());
    let mut chars = serial.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {}
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters up to the final letter.
                    for d in chars.by_ref() {
                        if d.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The text GRUB printed between `echo FROM` and `echo TO` (flattened).
pub fn between(serial: &str, from: &str, to: &str) -> Option<String> {
    let flat = flatten(serial);
    let start = flat.find(from)? + from.len();
    let end = flat[start..].find(to)? + start;
    Some(flat[start..end].trim().to_string())
}
