//! The built-in demo: a small real-mode program (demo/demo.S, assembled by build.rs) that boots
//! from a virtual floppy, asks the BIOS about every drive with INT 13h, reads and checksums
//! sectors of the demo disk, CD and floppy, prints a report on COM1 and exits through
//! isa-debug-exit.
//!
//! `build_images` writes the three images and the arguments that attach them; the guest's
//! COM1 output goes to `serial.log` in the same directory, and `report_passed` reads that
//! report. The expected checksums are patched into the program here, from the same pattern
//! that fills the images, so guest and host cannot drift apart.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// The assembled guest: boot sector first, then the sectors it loads.
static PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/demo.bin"));

/// Boot sector + PROG_SECTORS (16) loaded by it: the floppy's first 17 sectors.
const PROGRAM_SECTORS: u64 = 17;
const FLOPPY_BYTES: u64 = 80 * 2 * 18 * 512;
/// Geometry from size 60/16/63 (no MBR), so BIOS translation "none" and known AH=08h values.
const DISK_SECTORS: u64 = 60 * 16 * 63;
const CD_SECTORS: u64 = 300;
/// Where the guest's serial output lands (inside the directory given to `build_images`).
const SERIAL_LOG: &str = "serial.log";
/// The marker in front of the checksum table in demo.S.
const TABLE_MARKER: &[u8; 8] = b"XSUMTBL1";

/// One read the guest checks: `count` sectors of `size` bytes at `lba`.
#[derive(Clone, Copy)]
struct Read {
    tag: &'static [u8; 4],
    lba: u64,
    count: u64,
    size: u64,
}

// In the order of demo.S's table: floppy C/H/S 1/1/17 x2, disk C/H/S 5/3/10 x4 (63 sectors per
// track, 16 heads), disk LBA 61432 x8 (the last eight), CD LBA 16 x2.
const FLOPPY_READ: Read = Read { tag: b"FLOP", lba: 70, count: 2, size: 512 };
const DISK_CHS_READ: Read = Read { tag: b"DISK", lba: 5238, count: 4, size: 512 };
const DISK_LBA_READ: Read = Read { tag: b"DISK", lba: 61432, count: 8, size: 512 };
const CD_READ: Read = Read { tag: b"CDRM", lba: 16, count: 2, size: 2048 };

/// The content of one sector: its medium's tag and LBA (so a wrong-sector read changes the
/// sum), then bytes that vary with both the position and the sector.
fn pattern_sector(tag: &[u8; 4], lba: u64, size: u64) -> Vec<u8> {
    let mut s: Vec<u8> =
        (0..size).map(|i| (i.wrapping_mul(7) ^ lba.wrapping_mul(31) ^ (i >> 8).wrapping_mul(0x5b)) as u8).collect();
    s[..4].copy_from_slice(tag);
    s[4..8].copy_from_slice(&(lba as u32).to_le_bytes());
    s
}

fn pattern(read: Read) -> Vec<u8> {
    (read.lba..read.lba + read.count).flat_map(|l| pattern_sector(read.tag, l, read.size)).collect()
}

/// The guest's checksum: a += byte, b += a (16-bit wrapping), b << 16 | a.
fn checksum(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (0u16, 0u16);
    for &x in bytes {
        a = a.wrapping_add(u16::from(x));
        b = b.wrapping_add(a);
    }
    (u32::from(b) << 16) | u32::from(a)
}

/// The program with the expected checksums written into its table.
fn patched_program(program: &[u8]) -> io::Result<Vec<u8>> {
    let at = program
        .windows(TABLE_MARKER.len())
        .position(|w| w == TABLE_MARKER)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "demo program has no checksum table"))?;
    let mut out = program.to_vec();
    let mut pos = at + TABLE_MARKER.len();
    for read in [FLOPPY_READ, DISK_CHS_READ, DISK_LBA_READ, CD_READ] {
        let slot = out
            .get_mut(pos..pos + 4)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "demo checksum table is truncated"))?;
        slot.copy_from_slice(&checksum(&pattern(read)).to_le_bytes());
        pos += 4;
    }
    Ok(out)
}

fn create(path: &Path, len: u64) -> io::Result<File> {
    let f = OpenOptions::new().create(true).write(true).truncate(true).open(path)?;
    f.set_len(len)?;
    Ok(f)
}

fn write_at(f: &mut File, offset: u64, data: &[u8]) -> io::Result<()> {
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(data)
}

/// A path as a -drive/-serial value: a literal comma is doubled.
fn opt_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

/// Writes floppy.img, disk.img and cd.img into `dir` and returns the arguments that attach
/// them, send COM1 to `dir/serial.log`, add isa-debug-exit and boot from the floppy. The caller
/// adds the machine (`-machine pc,accel=kvm`, memory, BIOS), runs it, and passes the contents
/// of `dir/serial.log` to `report_passed`; the guest's isa-debug-exit value is 0 on success.
pub fn build_images(dir: &Path) -> io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let program = patched_program(PROGRAM)?;
    if program.len() as u64 > PROGRAM_SECTORS * 512 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "demo program larger than its floppy area"));
    }

    let floppy = dir.join("floppy.img");
    let mut f = create(&floppy, FLOPPY_BYTES)?;
    write_at(&mut f, 0, &program)?;
    let data: Vec<u8> =
        (PROGRAM_SECTORS..FLOPPY_BYTES / 512).flat_map(|l| pattern_sector(FLOPPY_READ.tag, l, 512)).collect();
    write_at(&mut f, PROGRAM_SECTORS * 512, &data)?;

    // The disk stays sparse and blank (no MBR: geometry comes from its size) except where read.
    let disk = dir.join("disk.img");
    let mut f = create(&disk, DISK_SECTORS * 512)?;
    for read in [DISK_CHS_READ, DISK_LBA_READ] {
        write_at(&mut f, read.lba * 512, &pattern(read))?;
    }

    let cd = dir.join("cd.img");
    let mut f = create(&cd, CD_SECTORS * 2048)?;
    let data: Vec<u8> = (0..CD_SECTORS).flat_map(|l| pattern_sector(CD_READ.tag, l, 2048)).collect();
    write_at(&mut f, 0, &data)?;

    Ok(vec![
        "-nodefaults".into(),
        "-display".into(),
        "none".into(),
        "-no-reboot".into(),
        "-drive".into(),
        format!("file={},if=floppy,index=0,format=raw", opt_path(&floppy)),
        "-drive".into(),
        format!("file={},if=ide,index=0,format=raw", opt_path(&disk)),
        "-drive".into(),
        format!("file={},if=ide,index=2,media=cdrom,format=raw", opt_path(&cd)),
        "-serial".into(),
        format!("file:{}", dir.join(SERIAL_LOG).display()),
        "-device".into(),
        "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
        "-boot".into(),
        "order=a".into(),
    ])
}

/// Whether the demo's serial report ends in success: a "RESULT: PASS" line and no failed check.
pub fn report_passed(serial: &str) -> bool {
    let lines = || serial.lines().map(|l| l.trim_end_matches('\r'));
    lines().any(|l| l == "RESULT: PASS") && !lines().any(|l| l.starts_with("RESULT: FAIL") || l.ends_with("... FAIL"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ironide-demo-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn checksum_matches_the_guest_algorithm() {
        assert_eq!(checksum(&[]), 0);
        // a: 1, 3, 6; b: 1, 4, 10
        assert_eq!(checksum(&[1, 2, 3]), (10 << 16) | 6);
        // 16-bit wrap of both halves.
        let big = vec![0xffu8; 4096];
        let a = (0xffu32 * 4096) & 0xffff;
        let b = (0..4096u32).map(|k| 0xff * (k + 1)).fold(0u32, |s, x| s.wrapping_add(x)) & 0xffff;
        assert_eq!(checksum(&big), (b << 16) | a);
    }

    #[test]
    fn program_is_a_boot_sector_with_a_patched_table() {
        assert_eq!(&PROGRAM[510..512], &[0x55, 0xaa]);
        let p = patched_program(PROGRAM).expect("patch");
        assert_eq!(p.len(), PROGRAM.len());
        let at = p.windows(8).position(|w| w == TABLE_MARKER).expect("marker") + 8;
        let first = u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        assert_eq!(first, checksum(&pattern(FLOPPY_READ)));
        assert!(patched_program(b"no table here").is_err());
    }

    #[test]
    fn sectors_differ_so_a_wrong_read_is_caught() {
        let a = checksum(&pattern_sector(b"DISK", 5238, 512));
        let b = checksum(&pattern_sector(b"DISK", 5239, 512));
        assert_ne!(a, b);
        assert_ne!(&pattern_sector(b"DISK", 0, 512)[510..], &[0x55, 0xaa]);
    }

    #[test]
    fn build_images_writes_the_media_and_arguments() {
        let dir = scratch("images");
        let args = build_images(&dir).expect("images");
        assert_eq!(std::fs::metadata(dir.join("floppy.img")).expect("floppy").len(), 1_474_560);
        assert_eq!(std::fs::metadata(dir.join("disk.img")).expect("disk").len(), 61440 * 512);
        assert_eq!(std::fs::metadata(dir.join("cd.img")).expect("cd").len(), 300 * 2048);
        let disk = std::fs::read(dir.join("disk.img")).expect("disk");
        assert!(disk[..512].iter().all(|&b| b == 0), "the disk must have no MBR");
        let at = (DISK_LBA_READ.lba * 512) as usize;
        assert_eq!(&disk[at..at + 4], b"DISK");
        let joined = args.join(" ");
        assert!(joined.contains("if=floppy,index=0"), "{joined}");
        assert!(joined.contains(&format!("-serial file:{}", dir.join("serial.log").display())), "{joined}");
        assert!(joined.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"), "{joined}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn report_parsing() {
        assert!(report_passed("ironide demo\r\n disk 80h: x ... ok\r\nRESULT: PASS\r\n"));
        assert!(!report_passed("ironide demo\r\n disk 80h: x ... FAIL\r\nRESULT: PASS\r\n"));
        assert!(!report_passed("RESULT: FAIL (01 checks failed)\r\n"));
        assert!(!report_passed(""));
        assert!(!report_passed("RESULT: PASSED"));
    }

    /// Boots the demo under the emulator in IRONIDE_DEMO_EMULATOR (e.g. the QEMU 7.2 unpacked by
    /// firmware-tests/scripts/unpack-qemu.sh) to validate the guest itself.
    #[test]
    fn demo_passes_under_a_reference_emulator() {
        let Some(emu) = std::env::var_os("IRONIDE_DEMO_EMULATOR").map(PathBuf::from) else {
            let _ = writeln!(io::stderr(), "SKIP demo boot: set IRONIDE_DEMO_EMULATOR to an emulator binary");
            return;
        };
        let dir = scratch("boot");
        let mut args: Vec<String> = ["-machine", "pc,accel=kvm", "-m", "128", "-bios", "/usr/share/seabios/bios.bin"]
            .map(String::from)
            .to_vec();
        let mut cmd = std::process::Command::new(&emu);
        if emu.to_string_lossy().contains("qemu") {
            args.extend(["-cpu", "qemu64", "-global", "kvm-pit.lost_tick_policy=discard"].map(String::from));
            if let Some(prefix) = emu.parent().and_then(Path::parent).and_then(Path::parent) {
                cmd.env("LD_LIBRARY_PATH", prefix.join("lib"));
            }
        }
        args.extend(build_images(&dir).expect("images"));
        let status = cmd.args(&args).status().expect("run the emulator");
        let serial = std::fs::read_to_string(dir.join(SERIAL_LOG)).unwrap_or_default();
        println!("{serial}");
        assert!(report_passed(&serial), "demo report:\n{serial}");
        assert_eq!(status.code(), Some(1), "isa-debug-exit 0 -> exit code 1");
    }
}
