//! Linux guests (Debian 12's 6.1 kernel, busybox initramfs, `firmware_tests::linux`) driving
//! every storage device through the real drivers: ata_piix/libata/sd_mod (hdparm -I, dd
//! iflag=direct and oflag=direct), sr_mod/cdrom/isofs (raw read, a file through isofs, eject)
//! and floppy (checksum). Booted directly (-kernel/-initrd/-append) and from the hard disk
//! through the BIOS and GRUB. The guest reports `CHECK <name> PASS|FAIL <detail>` lines on
//! ttyS0; the tests assert every check passed, the hashes match the host's, and the written
//! block is in the image.
//!
//! Where they run:
//! - Building the images (apt-get download of the pinned packages, initramfs, GRUB disk) runs
//!   everywhere Debian's archive is reachable: `image_recipe_builds_initramfs_and_disk`.
//! - GRUB loading the kernel and initramfs through INT 13h runs on the nested development KVM
//!   too: `grub_loads_linux_from_disk_through_the_bios`.
//! - Booting Linux needs hardware virtualization: on the nested kvm_pvm of the development
//!   machines (/sys/module/kvm_pvm) the boot tests print `SKIP <test>: ...` and pass;
//!   IRONIDE_FORCE_LINUX_BOOT=1 tries anyway.
//! - Validating the guest side anywhere with QEMU under TCG (software emulation, no KVM):
//!   ```text
//!   firmware-tests/scripts/unpack-qemu.sh
//!   IRONIDE_EMULATOR=$PWD/target/qemu72/usr/bin/qemu-system-x86_64 IRONIDE_FIRMWARE_ACCEL=tcg \
//!       cargo test --release -p firmware-tests --test linux -- --nocapture
//!   ```
//!   (TCG needs no IRONIDE_FORCE_LINUX_BOOT; each boot takes tens of seconds there.)

use firmware_tests::emulator::Kind;
use firmware_tests::linux::{self, cpio, disk, Images};
use firmware_tests::{grub, run_dir, Emulator, Outcome, Run};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A Linux boot: tens of seconds under TCG, a few under KVM.
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
/// GRUB on the nested development KVM: ~25 s to its menu entry when the machine is idle,
/// far more when other guests share its two cores (the run stops as soon as GRUB gets there).
const GRUB_TIMEOUT: Duration = Duration::from_secs(180);

fn skip(test: &str, why: &str) {
    // Straight to the stderr handle: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// The images, or None (after a SKIP line) when this machine cannot build them.
fn images_or_skip(test: &str) -> Option<Images> {
    match linux::images() {
        Ok(images) => Some(images),
        Err(e) if e.unavailable() => {
            skip(test, &format!("cannot build the Linux guest here: {e}"));
            None
        }
        Err(e) => panic!("building the Linux guest: {e}"),
    }
}

/// Why a Linux kernel cannot run under `emu` on this machine, if it cannot.
fn linux_cannot_run_here(emu: &Emulator) -> Option<String> {
    if emu.tcg || std::env::var_os("IRONIDE_FORCE_LINUX_BOOT").is_some() {
        return None;
    }
    if Path::new("/sys/module/kvm_pvm").exists() {
        return Some(
            "nested KVM limitation: this machine's KVM is kvm_pvm (/sys/module/kvm_pvm), which cannot run a \
             64-bit Linux guest; the boot needs a host with hardware virtualization (IRONIDE_FORCE_LINUX_BOOT=1 \
             tries anyway; IRONIDE_EMULATOR=<QEMU> IRONIDE_FIRMWARE_ACCEL=tcg validates the guest under TCG)"
                .into(),
        );
    }
    None
}

/// The emulator and images for a test that boots Linux, or None after a SKIP line.
fn ready_to_boot(test: &str) -> Option<(Emulator, Images)> {
    let emu = Emulator::or_skip(test)?;
    if let Some(why) = linux_cannot_run_here(&emu) {
        skip(test, &why);
        return None;
    }
    Some((emu, images_or_skip(test)?))
}

/// A private copy of an image in the run directory (the guest writes to the disk).
fn copy(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dst.display()));
    dst
}

/// Disk at ide0 master, CD at ide1 master, floppy A.
fn drives(images: &Images, dir: &Path) -> (Run, PathBuf) {
    let hd = copy(&images.disk, dir, "hd.img");
    let cd = copy(&images.cd, dir, "cd.iso");
    let fd = copy(&images.floppy, dir, "floppy.img");
    let run = Run::new()
        .drive(&hd, "if=ide,index=0,format=raw")
        .drive(&cd, "if=ide,index=2,media=cdrom,format=raw")
        .drive(&fd, "if=floppy,index=0,format=raw");
    (run, hd)
}

/// Every check passed, the hashes are the host's, and the written block is in the image.
fn assert_guest_checks(out: &Outcome, images: &Images, hd: &Path) {
    let problems = linux::problems(&out.serial, &images.expected);
    assert!(problems.is_empty(), "the Linux guest's checks:\n  {}\n{out}", problems.join("\n  "));
    let written = disk::written_block(hd).expect("reading the written block back");
    assert!(
        written == linux::write_block(),
        "block {} of the image is not what the guest wrote\n{out}",
        disk::WRITE_BLOCK
    );
    assert!(!out.timed_out, "the guest did not reset after its checks\n{out}");
    let _ =
        writeln!(std::io::stderr(), "{}: {} checks passed in {:?}", out.command[0], linux::CHECKS.len(), out.elapsed);
}

#[test]
fn image_recipe_builds_initramfs_and_disk() {
    let test = "linux_image_recipe";
    let Some(images) = images_or_skip(test) else { return };

    let kernel = std::fs::read(&images.kernel).expect("kernel");
    assert_eq!(&kernel[0x202..0x206], b"HdrS", "{} is a bzImage", images.kernel.display());

    let entries = linux::read_initramfs(&images.initrd).expect("initramfs reads back");
    let find = |name: &str| entries.iter().find(|e| e.name == name);
    let init = find("init").expect("/init");
    assert!(init.is_file() && init.mode & 0o111 != 0 && init.data == linux::INIT_SCRIPT.as_bytes());
    for bin in ["bin/busybox", "sbin/hdparm", "usr/bin/eject", "lib64/ld-linux-x86-64.so.2"] {
        assert!(find(bin).is_some_and(|e| e.is_file() && e.data.starts_with(b"\x7fELF")), "{bin} in the initramfs");
    }
    for lib in ["libc.so.6", "libmount.so.1", "libblkid.so.1"] {
        assert!(entries.iter().any(|e| e.is_file() && e.name.ends_with(&format!("/{lib}"))), "{lib} in the initramfs");
    }
    assert!(find("bin/sh").is_some_and(cpio::Entry::is_symlink));
    assert!(find("dev/console").is_some_and(cpio::Entry::is_char_dev));
    let order = find("etc/modules").map(|e| String::from_utf8_lossy(&e.data).into_owned()).expect("/etc/modules");
    let order: Vec<&str> = order.lines().collect();
    for m in linux::MODULES {
        let file = format!("lib/modules/{m}.ko");
        assert!(find(&file).is_some_and(|e| e.data.starts_with(b"\x7fELF")), "{file} in the initramfs");
        assert!(order.contains(&m), "{m} in /etc/modules");
    }
    // Dependencies come first.
    let pos = |m: &str| order.iter().position(|x| *x == m).unwrap_or(usize::MAX);
    for (before, after) in [("scsi_mod", "libata"), ("libata", "ata_piix"), ("cdrom", "sr_mod"), ("cdrom", "isofs")] {
        assert!(pos(before) < pos(after), "{before} loads before {after}: {order:?}");
    }

    let mbr = disk::read_at(&images.disk, 0, 512).expect("MBR");
    assert_eq!(&mbr[510..], &[0x55, 0xaa], "MBR signature");
    let boot_img = std::fs::read(Path::new(grub::GRUB_PC_DIR).join("boot.img")).expect("boot.img");
    assert_eq!(&mbr[..440], &boot_img[..440], "GRUB's boot.img code in the MBR");
    assert_eq!(u32::from_le_bytes([mbr[454], mbr[455], mbr[456], mbr[457]]) as u64, disk::PARTITION_START_LBA);
    let core = disk::read_at(&images.disk, 512, 512).expect("core.img");
    let diskboot = std::fs::read(Path::new(grub::GRUB_PC_DIR).join("diskboot.img")).expect("diskboot.img");
    assert_eq!(&core[..0x100], &diskboot[..0x100], "core.img (diskboot.img first) in sector 1");
    let boot_sector = disk::read_at(&images.disk, disk::PARTITION_START_LBA * 512, 512).expect("FAT boot sector");
    assert_eq!(&boot_sector[510..], &[0x55, 0xaa], "FAT boot sector");
    let spec = format!("{}@@{}", images.disk.display(), disk::PARTITION_START_LBA * 512);
    let listing = std::process::Command::new("mdir").args(["-b", "-i", &spec, "::/"]).output().expect("mdir");
    let listing = String::from_utf8_lossy(&listing.stdout);
    for f in ["VMLINUZ", "INITRD.GZ", "BOOT"] {
        assert!(listing.to_uppercase().contains(f), "{f} on the FAT partition: {listing}");
    }
    let area = disk::read_at(&images.disk, disk::PATTERN_BLOCK * 65536, (disk::PATTERN_BLOCKS * 65536) as usize);
    assert_eq!(linux::sha256(&area.expect("pattern area")).expect("sha256"), images.expected.sda_sha256);
    let cmdline = images.expected.cmdline();
    assert!(cmdline.len() < 2048 && cmdline.starts_with(linux::BASE_CMDLINE), "{cmdline}");
}

#[test]
fn direct_boot_exercises_every_device() {
    let test = "linux_direct_boot";
    let Some((emu, images)) = ready_to_boot(test) else { return };
    if emu.kind == Kind::Qemu {
        // PREFIX/usr/bin/qemu-system-x86_64 -> PREFIX/usr/share/qemu (the harness passes it as -L).
        let rom = emu.path.parent().and_then(Path::parent).map(|usr| usr.join("share/qemu/linuxboot_dma.bin"));
        assert!(
            rom.as_ref().is_some_and(|r| r.is_file()),
            "QEMU's -kernel needs linuxboot_dma.bin ({rom:?}): rerun firmware-tests/scripts/unpack-qemu.sh, which \
             unpacks qemu-system-data next to the binary"
        );
    }
    let dir = run_dir(test).expect("run dir");
    let (run, hd) = drives(&images, &dir);
    let run = run
        .arg("-kernel")
        .arg(images.kernel.display().to_string())
        .arg("-initrd")
        .arg(images.initrd.display().to_string())
        .arg("-append")
        .arg(images.expected.cmdline());
    let out = emu.run(&dir, &run.args, BOOT_TIMEOUT).expect("run");
    assert_guest_checks(&out, &images, &hd);
}

#[test]
fn disk_boot_through_the_bios_exercises_every_device() {
    let test = "linux_disk_boot";
    let Some((emu, images)) = ready_to_boot(test) else { return };
    let dir = run_dir(test).expect("run dir");
    let (run, hd) = drives(&images, &dir);
    let out = emu.run(&dir, &run.boot("c").args, BOOT_TIMEOUT).expect("run");
    let flat = grub::flatten(&out.serial);
    assert!(flat.contains(disk::GRUB_INITRD_LOADED), "GRUB did not load the kernel and initramfs\n{out}");
    assert_guest_checks(&out, &images, &hd);
}

/// Runs on the nested development KVM too: SeaBIOS boots GRUB's boot.img from the MBR and
/// core.img from the gap after it; GRUB reads its modules and grub.cfg from the FAT partition
/// through INT 13h and boots its menu entry. Where Linux can run (hardware virtualization, TCG)
/// the test also waits for GRUB to load the kernel and the initramfs; on the nested KVM that
/// takes about 90 s of real-mode INT 13h calls (QEMU there is as slow), so it stops at
/// "Booting `linux'" (~25 s) and `disk_boot_through_the_bios_exercises_every_device` covers the
/// rest on real hardware.
#[test]
fn grub_loads_linux_from_disk_through_the_bios() {
    let test = "linux_grub_loads_kernel";
    let Some(emu) = Emulator::or_skip(test) else { return };
    let Some(images) = images_or_skip(test) else { return };
    let full = linux_cannot_run_here(&emu).is_none();
    let booting = format!("Booting `{}'", disk::GRUB_ENTRY);
    let wanted = if full { disk::GRUB_INITRD_LOADED } else { booting.as_str() };
    let dir = run_dir(test).expect("run dir");
    let (run, _) = drives(&images, &dir);
    let timeout = if full { BOOT_TIMEOUT } else { GRUB_TIMEOUT };
    let out = emu
        .run_until(&dir, &run.boot("c").args, timeout, |serial| {
            let flat = grub::flatten(serial);
            flat.contains(wanted) || flat.contains("error:")
        })
        .expect("run");
    let flat = grub::flatten(&out.serial);
    assert!(flat.contains("GRUB-START"), "GRUB did not start its serial console\n{out}");
    assert!(!flat.contains("error:"), "GRUB reported an error\n{out}");
    assert!(flat.contains(&booting), "GRUB did not boot its menu entry\n{out}");
    if full {
        assert!(flat.contains(disk::GRUB_LINUX_LOADED), "GRUB did not load the kernel\n{out}");
        assert!(flat.contains(disk::GRUB_INITRD_LOADED), "GRUB did not load the initramfs\n{out}");
    }
    let what =
        if full { "loaded the kernel and the initramfs" } else { "booted its entry (kernel load not awaited here)" };
    let _ = writeln!(std::io::stderr(), "{test}: GRUB from the MBR {what} after {:?}", out.elapsed);
}
