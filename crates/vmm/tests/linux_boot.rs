//! Direct Linux boot (-kernel/-initrd/-append) with a real Debian kernel:
//! loading it (runs everywhere a kernel can be had) and booting it to an
//! initramfs that prints a marker on ttyS0 and reboots (hosts with hardware
//! virtualization; the nested kvm_pvm of the development machines cannot run
//! 64-bit Linux, so there the boot test skips and says why).
//!
//! The kernel comes from IRONIDE_LINUX_KERNEL, a cached download, a readable
//! /boot/vmlinuz-*, or `apt-get download` of the pinned Debian package;
//! busybox from IRONIDE_BUSYBOX, a static /bin/busybox, or busybox-static.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use common::*;
use ironide_vmm::linux_boot::{KernelFormat, LinuxBoot, KERNEL_ADDR, ZERO_PAGE};
use ironide_vmm::memory::RamLayout;
use ironide_vmm::KvmMachine;
use vm_memory::{Bytes, GuestAddress};

/// The ABI package guest-images.md pins (the meta package moves).
const KERNEL_PACKAGE: &str = "linux-image-6.1.0-56-amd64";
const KERNEL_FILE: &str = "boot/vmlinuz-6.1.0-56-amd64";
const MARKER: &str = "IRONIDE-LINUX-INIT-OK";

/// Printed straight to stderr: the harness hides eprintln! of passing tests.
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("linux-guest")
}

/// One download at a time (tests run in parallel threads).
static FETCH: Mutex<()> = Mutex::new(());

/// `apt-get download PACKAGE` unpacked into the cache; Err says why not.
fn fetch_package(package: &str) -> Result<PathBuf, String> {
    let _guard = FETCH.lock().unwrap_or_else(|p| p.into_inner());
    let root = cache_dir().join(package);
    if root.is_dir() {
        return Ok(root);
    }
    let work = cache_dir().join(format!("{package}.tmp"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("creating {}: {e}", work.display()))?;
    let out = Command::new("apt-get")
        .arg("download")
        .arg(package)
        .current_dir(&work)
        .output()
        .map_err(|e| format!("apt-get: {e}"))?;
    if !out.status.success() {
        return Err(format!("apt-get download {package} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let deb = std::fs::read_dir(&work)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download produced no .deb")?;
    let tree = work.join("root");
    let ok = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree).status().map_err(|e| e.to_string())?;
    if !ok.success() {
        return Err(format!("dpkg-deb -x {} failed", deb.display()));
    }
    std::fs::rename(&tree, &root).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(root)
}

/// A 64-bit Debian kernel, or why there is none.
fn kernel() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("IRONIDE_LINUX_KERNEL") {
        return Ok(PathBuf::from(p));
    }
    let cached = cache_dir().join(KERNEL_PACKAGE).join(KERNEL_FILE);
    if cached.is_file() {
        return Ok(cached);
    }
    let installed = std::fs::read_dir("/boot")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-")))
        .find(|p| std::fs::File::open(p).is_ok());
    if let Some(p) = installed {
        return Ok(p);
    }
    Ok(fetch_package(KERNEL_PACKAGE)?.join(KERNEL_FILE))
}

/// An ELF executable without an interpreter (statically linked).
fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = std::fs::read(path) else { return false };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u = |o: usize, n: usize| b.get(o..o + n).map(|s| s.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x)));
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u(32, 8), u(54, 2), u(56, 2)) else { return false };
    // PT_INTERP = 3
    (0..phnum).all(|i| u((phoff + i * phentsize) as usize, 4).is_some_and(|t| t != 3))
}

fn busybox() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("IRONIDE_BUSYBOX") {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = ["/bin/busybox", "/usr/bin/busybox"].iter().map(PathBuf::from).find(|p| is_static_elf(p)) {
        return Ok(p);
    }
    Ok(fetch_package("busybox-static")?.join("bin/busybox"))
}

/// A cpio "newc" archive, as the kernel unpacks into its rootfs.
struct Cpio(Vec<u8>);

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, rdev: (u32, u32), data: &[u8]) {
        let ino = self.0.len() as u32 + 1;
        let fields = [ino, mode, 0, 0, 1, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.0.extend_from_slice(b"070701");
        for f in fields {
            self.0.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(0);
        self.pad();
        self.0.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, (0, 0), &[]);
        self.0
    }
}

/// /init prints the marker on the serial console and reboots at once
/// (under -no-reboot that ends the machine with status 0).
fn initramfs(busybox: &Path) -> Vec<u8> {
    let bb = std::fs::read(busybox).expect("read busybox");
    let init = format!("#!/bin/busybox sh\necho {MARKER} > /dev/ttyS0\n/bin/busybox reboot -f\n");
    let mut c = Cpio(Vec::new());
    for d in ["bin", "dev", "proc", "sys"] {
        c.entry(d, 0o040755, (0, 0), &[]);
    }
    c.entry("dev/console", 0o020600, (5, 1), &[]);
    c.entry("dev/ttyS0", 0o020600, (4, 64), &[]);
    c.entry("bin/busybox", 0o100755, (0, 0), &bb);
    c.entry("bin/sh", 0o120777, (0, 0), b"busybox");
    c.entry("init", 0o100755, (0, 0), init.as_bytes());
    c.finish()
}

/// The nested KVM of the development machines cannot run 64-bit Linux.
fn linux_cannot_run_here() -> Option<String> {
    if let Some(why) = kvm_missing() {
        return Some(why);
    }
    if Path::new("/sys/module/kvm_pvm").exists() && std::env::var_os("IRONIDE_FORCE_LINUX_BOOT").is_none() {
        return Some(
            "nested kvm_pvm cannot run 64-bit Linux guests (the kernel never reaches its console: the vCPU \
             spins inside KVM, or stops on an emulation failure); run on a host with hardware virtualization \
             (IRONIDE_FORCE_LINUX_BOOT=1 tries anyway)"
                .into(),
        );
    }
    None
}

#[test]
fn a_real_kernel_loads_with_its_zero_page() {
    let kernel = match kernel() {
        Ok(k) => k,
        Err(why) => return skip("a_real_kernel_loads_with_its_zero_page", &format!("no Linux kernel: {why}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let initrd = dir.path().join("initrd");
    std::fs::write(&initrd, vec![0xA5; 1 << 20]).unwrap();
    let mem = RamLayout::new(256 << 20).allocate().unwrap();
    let boot = LinuxBoot { kernel, initrd: Some(initrd), cmdline: "console=ttyS0 panic=-1".into() };
    let e = boot.load(&mem).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(e.format, KernelFormat::BzImage);
    assert_eq!(e.entry, KERNEL_ADDR + 0x200);
    // boot_params: "HdrS" at 0x202, protocol >= 2.12, our loader id, the initrd.
    let rd = |off: u64, n: usize| {
        let mut b = vec![0u8; n];
        mem.read_slice(&mut b, GuestAddress(ZERO_PAGE + off)).unwrap();
        b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x))
    };
    assert_eq!(rd(0x202, 4), 0x5372_6448);
    assert!(rd(0x206, 2) >= 0x20C, "protocol {:#x}", rd(0x206, 2));
    assert_eq!(rd(0x210, 1), 0xFF);
    assert_eq!(rd(0x228, 4), 0x2_0000);
    let (addr, size) = e.initrd.unwrap();
    assert_eq!((rd(0x218, 4), rd(0x21C, 4)), (addr, size));
    // Above what the kernel decompresses into (pref_address + init_size).
    assert!(addr >= rd(0x258, 8) + rd(0x260, 4), "initrd at {addr:#x}");
    assert!(addr + size <= 256 << 20);
    assert_eq!(rd(0x1E8, 1), 2, "e820 entries");
}

/// A 64-bit program at the bzImage's 64-bit entry (load address + 0x200).
/// Boot 1 (CMOS byte 0x40 clear) checks RSI -> "HdrS", RIP and the command
/// line, dirties its own image, prints "L1" and resets through 0xCF9;
/// boot 2 checks its image was loaded afresh, prints "L2" and exits 0x2A
/// through isa-debug-exit. Any failed check exits 0x15.
const LONG_MODE_PROGRAM: &str = r#"
        .code64
        .globl _start
_start:
        mov 0x202(%rsi), %eax
        cmp $0x53726448, %eax
        jne fail
        lea _start(%rip), %rbx
        cmp $0x100200, %rbx
        jne fail
        mov 0x228(%rsi), %ebx
        cmpl $0x74736574, (%rbx)
        jne fail
        cmpb $0x5A, flag(%rip)
        jne fail
        mov $0x40, %al
        out %al, $0x70
        in $0x71, %al
        test %al, %al
        jnz second
        mov $1, %al
        out %al, $0x71
        movb $0, flag(%rip)
        mov $'1', %cl
        call say
        mov $0x6, %al
        mov $0xcf9, %dx
        out %al, %dx
        hlt
second:
        mov $'2', %cl
        call say
        mov $0x2a, %al
        jmp exit
fail:   mov $0x15, %al
exit:   out %al, $0xf4
        hlt
say:    mov $0x3f8, %dx
        mov $'L', %al
        out %al, %dx
        mov %cl, %al
        out %al, %dx
        mov $'\n', %al
        out %al, %dx
        ret
flag:   .byte 0x5A
"#;

/// The program above wrapped as a protocol 2.15 bzImage with a 64-bit entry.
fn long_mode_bzimage(dir: &Path) -> Option<Vec<u8>> {
    let code = assemble(dir, "lm", LONG_MODE_PROGRAM, "--64", "elf_x86_64", "0x100200")?;
    let mut img = vec![0u8; 1024];
    let mut put = |off: usize, v: &[u8]| img[off..off + v.len()].copy_from_slice(v);
    put(0x1F1, &[1]); // setup_sects
    put(0x1FE, &0xAA55u16.to_le_bytes());
    put(0x202, b"HdrS");
    put(0x206, &0x20Fu16.to_le_bytes());
    put(0x211, &[1]); // loadflags: LOADED_HIGH
    put(0x214, &0x10_0000u32.to_le_bytes());
    put(0x236, &1u16.to_le_bytes()); // XLF_KERNEL_64
    put(0x238, &255u32.to_le_bytes());
    img.resize(1024 + 0x200, 0);
    img.extend(code);
    Some(img)
}

/// Long mode as the vCPU enters it, checked by a real 64-bit program; also
/// that a reset reloads the kernel and enters it again. This runs on the
/// nested development KVM too (it is the Linux kernel itself that cannot).
#[test]
fn long_mode_entry_and_reset_reload() {
    const TEST: &str = "long_mode_entry_and_reset_reload";
    if let Some(why) = kvm_missing() {
        return skip(TEST, &why);
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(img) = long_mode_bzimage(dir.path()) else {
        return skip(TEST, "GNU as/ld (binutils) missing");
    };
    let kernel = dir.path().join("bzImage");
    std::fs::write(&kernel, img).unwrap();
    let serial = dir.path().join("serial.log");
    let mut cfg = base_config(&serial, &[]);
    cfg.kernel = Some(kernel);
    cfg.append = Some("test".into());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ironide_vmm::run::run_kvm(&cfg).map_err(|e| e.to_string()));
    });
    let result = rx.recv_timeout(Duration::from_secs(60)).expect("the program did not finish within 60 s");
    let out = std::fs::read_to_string(&serial).unwrap_or_default();
    assert_eq!(result, Ok((0x2A << 1) | 1), "serial: {out:?}");
    assert_eq!(out, "L1\nL2\n");
}

#[test]
fn a_bad_kernel_stops_the_machine_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk");
    std::fs::write(&junk, [0x42u8; 8192]).unwrap();
    let serial = dir.path().join("serial.log");
    for (kernel, want) in [(junk, "not a Linux kernel image"), (dir.path().join("none"), "cannot read kernel")] {
        let mut cfg = base_config(&serial, &[]);
        cfg.kernel = Some(kernel);
        let err = match KvmMachine::new(&cfg) {
            Ok(_) => panic!("a bad kernel was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with("-kernel: ") && err.contains(want), "{err}");
    }
}

#[test]
fn boots_linux_to_an_initramfs_marker() {
    const TEST: &str = "boots_linux_to_an_initramfs_marker";
    if let Some(why) = linux_cannot_run_here() {
        return skip(TEST, &why);
    }
    let (kernel, busybox) = match (kernel(), busybox()) {
        (Ok(k), Ok(b)) => (k, b),
        (Err(why), _) => return skip(TEST, &format!("no Linux kernel: {why}")),
        (_, Err(why)) => return skip(TEST, &format!("no static busybox: {why}")),
    };
    let dir = tempfile::tempdir().unwrap();
    let initrd = dir.path().join("initrd.cpio");
    std::fs::write(&initrd, initramfs(&busybox)).unwrap();
    let serial = dir.path().join("serial.log");
    let mut cfg = base_config(&serial, &[]);
    cfg.kernel = Some(kernel);
    cfg.initrd = Some(initrd);
    cfg.append = Some("console=ttyS0 panic=-1 reboot=k".into());
    cfg.no_reboot = true;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(ironide_vmm::run::run_kvm(&cfg).map_err(|e| e.to_string()));
    });
    let result = rx.recv_timeout(Duration::from_secs(180));
    let out = std::fs::read_to_string(&serial).unwrap_or_default();
    match result {
        Ok(Ok(status)) => {
            assert!(out.contains(MARKER), "no marker; status {status}; serial:\n{out}");
            assert_eq!(status, 0, "reboot under -no-reboot ends with 0; serial:\n{out}");
        }
        Ok(Err(e)) => panic!("machine failed: {e}\nserial:\n{out}"),
        Err(_) => panic!("Linux did not finish within 180 s; serial:\n{out}"),
    }
}
