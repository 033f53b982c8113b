//! Linux guests: Debian 12's kernel with a busybox initramfs whose `/init` (`linux/init.sh`)
//! drives every storage device through the real drivers (ata_piix + libata + sd_mod on the IDE
//! disk, sr_mod + cdrom + isofs on the ATAPI CD-ROM, floppy on the FDC) with hdparm, dd
//! `iflag=direct`/`oflag=direct`, eject and checksums, and prints one `CHECK <name> PASS|FAIL
//! <detail>` line per check on ttyS0. Booted directly (`-kernel/-initrd/-append`) or from a
//! hard disk through the BIOS: GRUB's boot.img in the MBR, core.img after it, and the kernel,
//! initramfs and grub.cfg on a FAT partition (`linux/disk.rs`).
//!
//! Everything comes offline from Debian's archive: `apt-get download` of the pinned packages,
//! unpacked with `dpkg-deb -x` into `target/firmware-tests/linux/pkg/<package>` (once; one
//! download at a time), eject's and hdparm's shared libraries from the host (the guest is the
//! same Debian 12, `ldd` names them). The initramfs and the images are content-addressed:
//! a rerun with the same inputs rebuilds nothing.

pub mod cpio;
pub mod disk;
pub mod modules;

use crate::guest::run_tool;
use crate::{io_err, work_dir};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The kernel ABI package guest-images.md pins (the `linux-image-amd64` meta package moves).
pub const KERNEL_PACKAGE: &str = "linux-image-6.1.0-56-amd64";
pub const KERNEL_RELEASE: &str = "6.1.0-56-amd64";
/// The modules the checks need; their dependencies are added from `.modinfo`.
pub const MODULES: [&str; 9] =
    ["scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod", "sd_mod", "floppy", "isofs"];
/// The guest's /init.
pub const INIT_SCRIPT: &str = include_str!("../linux/init.sh");
/// Printed by /init after the last check.
pub const DONE_MARKER: &str = "IRONIDE-LINUX-DONE";
/// Every check /init reports, in order.
pub const CHECKS: [&str; 11] = [
    "modules",
    "dev-sda",
    "dev-sr0",
    "dev-fd0",
    "hdparm",
    "sda-direct",
    "sr0-read",
    "sr0-isofs",
    "eject",
    "fd0-read",
    "sda-write",
];
/// Kernel options besides the expected values: no kernel chatter between the CHECK lines
/// (`quiet`), a panic or a failed init resets at once, and a reset goes through the keyboard
/// controller, which `-no-reboot` turns into the end of the emulator process.
pub const BASE_CMDLINE: &str = "console=ttyS0 quiet panic=-1 reboot=k";

/// Why the Linux images cannot be built, or what went wrong building them.
#[derive(Debug, thiserror::Error)]
pub enum LinuxError {
    #[error("`apt-get download {package}` is impossible here (no network or proxy to Debian's archive?): {why}")]
    Download { package: String, why: String },
    #[error("`{0}` not found: install it (apt-get, dpkg, libc-bin, gzip, xorriso, mtools, dosfstools, grub-pc-bin)")]
    MissingTool(String),
    #[error("{0}")]
    Recipe(String),
    #[error(transparent)]
    Harness(#[from] crate::Error),
}

impl LinuxError {
    /// Whether the test should skip (the environment lacks something) rather than fail.
    pub fn unavailable(&self) -> bool {
        matches!(
            self,
            LinuxError::Download { .. }
                | LinuxError::MissingTool(_)
                | LinuxError::Harness(crate::Error::MissingTool { .. })
        )
    }
}

pub type Result<T> = std::result::Result<T, LinuxError>;

fn recipe(what: impl Into<String>) -> LinuxError {
    LinuxError::Recipe(what.into())
}

/// Where packages, the initramfs and the images are cached.
pub fn cache_dir() -> PathBuf {
    work_dir().join("linux")
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
                .any(|d| d.join(tool).is_file())
        })
        .unwrap_or(false)
}

/// The host tools the recipe runs, if one is missing.
pub fn missing_tool() -> Option<LinuxError> {
    let tools =
        ["apt-get", "dpkg-deb", "ldd", "gzip", "sha256sum", "xorriso", "mkfs.fat", "mmd", "mcopy", "grub-mkimage"];
    if let Some(tool) = tools.into_iter().find(|t| !on_path(t)) {
        return Some(LinuxError::MissingTool(tool.into()));
    }
    if !Path::new(crate::grub::GRUB_PC_DIR).join("boot.img").is_file() {
        return Some(LinuxError::MissingTool(format!("{}/boot.img", crate::grub::GRUB_PC_DIR)));
    }
    None
}

/// `apt-get download PACKAGE`, unpacked once into the cache; the unpacked root.
pub fn fetch(package: &str) -> Result<PathBuf> {
    let pkg_dir = cache_dir().join("pkg");
    let root = pkg_dir.join(package);
    if root.is_dir() {
        return Ok(root);
    }
    let work = pkg_dir.join(format!(".{package}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(io_err(format!("creating {}", work.display())))?;
    let out = Command::new("apt-get")
        .args(["-q", "download", package])
        .current_dir(&work)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LinuxError::Download { package: package.into(), why: e.to_string() })?;
    let deb = std::fs::read_dir(&work)
        .map_err(io_err(format!("reading {}", work.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"));
    let Some(deb) = deb.filter(|_| out.status.success()) else {
        let why = String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("no .deb").to_string();
        return Err(LinuxError::Download { package: package.into(), why });
    };
    let tree = work.join("root");
    run_tool(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree))?;
    // Atomic: a cached root is always complete.
    std::fs::rename(&tree, &root).map_err(io_err(format!("moving {} into the cache", tree.display())))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(root)
}

/// A host binary's shared libraries and its interpreter, as `ldd` resolves them (absolute
/// paths, the same inside the guest).
pub fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(binary).output().map_err(|_| LinuxError::MissingTool("ldd".into()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut libs = Vec::new();
    for line in text.lines().map(str::trim) {
        let path = match line.split_once("=>") {
            Some((name, target)) if target.trim().starts_with("not found") => {
                return Err(recipe(format!("{}: the host lacks {}", binary.display(), name.trim())));
            }
            Some((_, target)) => target.split_whitespace().next(),
            None => line.split_whitespace().next().filter(|p| p.starts_with('/')),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    if libs.is_empty() {
        return Err(recipe(format!("ldd found no libraries for {}: {}", binary.display(), text.trim())));
    }
    Ok(libs)
}

/// The unpacked inputs of the initramfs.
#[derive(Debug, Clone)]
pub struct Payload {
    pub kernel: PathBuf,
    pub busybox: PathBuf,
    pub hdparm: PathBuf,
    pub eject: PathBuf,
    /// Module name and file, in load order.
    pub modules: Vec<(String, PathBuf)>,
}

/// Downloads (once) and locates everything the guest needs.
pub fn payload() -> Result<Payload> {
    if let Some(missing) = missing_tool() {
        return Err(missing);
    }
    let kernel_root = fetch(KERNEL_PACKAGE)?;
    let busybox = fetch("busybox-static")?.join("bin/busybox");
    let hdparm = fetch("hdparm")?.join("sbin/hdparm");
    let eject = fetch("eject")?.join("usr/bin/eject");
    let kernel = kernel_root.join(format!("boot/vmlinuz-{KERNEL_RELEASE}"));
    for f in [&kernel, &busybox, &hdparm, &eject] {
        if !f.is_file() {
            return Err(recipe(format!("{} is missing from its package", f.display())));
        }
    }
    let tree = kernel_root.join(format!("lib/modules/{KERNEL_RELEASE}/kernel"));
    let index = modules::index(&tree).map_err(recipe)?;
    let modules = modules::load_order(&index, &MODULES).map_err(recipe)?;
    Ok(Payload { kernel, busybox, hdparm, eject, modules })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    Ok(std::fs::read(path).map_err(io_err(format!("reading {}", path.display())))?)
}

/// The 64 KiB block /init writes to the disk (and the host finds in the image afterwards).
pub fn write_block() -> Vec<u8> {
    crate::grub::pattern(64 * 1024, 0x11e7)
}

/// The uncompressed newc archive: busybox (applet links made by /init), hdparm and eject with
/// their libraries, the modules with /etc/modules naming them in load order, /write.bin, the
/// console device nodes and /init.
pub fn initramfs_archive(p: &Payload) -> Result<Vec<u8>> {
    let mut w = cpio::Writer::new();
    for d in ["dev", "proc", "sys", "tmp", "mnt", "etc"] {
        w.dir(d);
    }
    w.char_dev("dev/console", 5, 1);
    w.char_dev("dev/ttyS0", 4, 64);
    w.char_dev("dev/null", 1, 3);
    w.file("bin/busybox", 0o755, &read(&p.busybox)?);
    w.symlink("bin/sh", "busybox");
    w.file("sbin/hdparm", 0o755, &read(&p.hdparm)?);
    w.file("usr/bin/eject", 0o755, &read(&p.eject)?);
    let mut libs = shared_libraries(&p.hdparm)?;
    libs.extend(shared_libraries(&p.eject)?);
    libs.sort();
    libs.dedup();
    for lib in &libs {
        w.file(&lib.to_string_lossy(), 0o755, &read(lib)?);
    }
    let mut order = String::new();
    for (name, path) in &p.modules {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| name.clone());
        w.file(&format!("lib/modules/{stem}.ko"), 0o644, &read(path)?);
        order.push_str(&stem);
        order.push('\n');
    }
    w.file("etc/modules", 0o644, order.as_bytes());
    w.file("write.bin", 0o644, &write_block());
    w.file("init", 0o755, INIT_SCRIPT.as_bytes());
    Ok(w.finish())
}

fn content_hash(parts: &[&[u8]]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The gzip-compressed initramfs, cached by content.
pub fn initramfs(p: &Payload) -> Result<PathBuf> {
    let archive = initramfs_archive(p)?;
    let path = cache_dir().join(format!("initrd-{}.gz", content_hash(&[&archive])));
    if path.is_file() {
        return Ok(path);
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let out = std::fs::File::create(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
    let mut child = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .map_err(|_| LinuxError::MissingTool("gzip".into()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&archive).map_err(io_err("feeding gzip"))?;
    }
    let status = child.wait().map_err(io_err("waiting for gzip"))?;
    if !status.success() {
        return Err(recipe(format!("gzip failed: {status}")));
    }
    std::fs::rename(&tmp, &path).map_err(io_err(format!("renaming to {}", path.display())))?;
    Ok(path)
}

/// Reads a gzip-compressed initramfs back (for the structure test).
pub fn read_initramfs(path: &Path) -> Result<Vec<cpio::Entry>> {
    let out = Command::new("gzip").arg("-dc").arg(path).output().map_err(|_| LinuxError::MissingTool("gzip".into()))?;
    if !out.status.success() {
        return Err(recipe(format!("gzip -dc {}: {}", path.display(), String::from_utf8_lossy(&out.stderr))));
    }
    cpio::read(&out.stdout).map_err(recipe)
}

/// The SHA-256 of `data`, lower-case hex (coreutils `sha256sum`).
pub fn sha256(data: &[u8]) -> Result<String> {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|_| LinuxError::MissingTool("sha256sum".into()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| recipe("sha256sum has no stdin"))?;
    // Fed from a thread: sha256sum's output is tiny, but the input may exceed a pipe buffer.
    let data = data.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().map_err(io_err("running sha256sum"))?;
    let fed = feeder.join().map_err(|_| recipe("sha256sum feeder panicked"))?;
    fed.map_err(io_err("feeding sha256sum"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.split_whitespace().next().unwrap_or_default().to_string())
}

/// What the host expects /init to find, passed on the kernel command line.
#[derive(Debug, Clone)]
pub struct Expected {
    /// 64 KiB blocks: the disk's pattern area.
    pub sda_skip: u64,
    pub sda_count: u64,
    pub sda_sha256: String,
    pub sr0_sha256: String,
    pub iso_file_sha256: String,
    pub fd0_sha256: String,
    /// The 64 KiB block /init overwrites with `write_block()`.
    pub write_block: u64,
}

impl Expected {
    /// The kernel command line: `BASE_CMDLINE` plus the `ironide.*` values /init reads.
    pub fn cmdline(&self) -> String {
        format!(
            "{BASE_CMDLINE} ironide.sda={},{},{} ironide.sr0={} ironide.iso={} ironide.fd0={} ironide.wseek={}",
            self.sda_skip,
            self.sda_count,
            self.sda_sha256,
            self.sr0_sha256,
            self.iso_file_sha256,
            self.fd0_sha256,
            self.write_block
        )
    }
}

/// Everything a Linux test boots.
#[derive(Debug, Clone)]
pub struct Images {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// GRUB in the MBR and the gap after it, FAT partition with vmlinuz, initrd.gz and
    /// boot/grub/grub.cfg, then the pattern area and the write area.
    pub disk: PathBuf,
    /// ISO 9660 (Rock Ridge) holding data.bin.
    pub cd: PathBuf,
    /// 1.44M of pattern data.
    pub floppy: PathBuf,
    pub expected: Expected,
}

static BUILD: Mutex<()> = Mutex::new(());

/// Builds (or finds in the cache) the kernel, initramfs, disk, CD and floppy. One build at a
/// time: parallel tests wait and then find everything cached.
pub fn images() -> Result<Images> {
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let payload = payload()?;
    let initrd = initramfs(&payload)?;
    let media = disk::media()?;
    let expected = media.expected.clone();
    let disk = disk::grub_disk(&payload.kernel, &initrd, &expected.cmdline(), &media)?;
    Ok(Images { kernel: payload.kernel, initrd, disk, cd: media.cd, floppy: media.floppy, expected })
}

pub use crate::check::Check;

/// The CHECK lines in a serial log.
pub fn checks(serial: &str) -> Vec<Check> {
    serial
        .lines()
        // Anywhere in the line: kernel messages may share it.
        .filter_map(|l| crate::check::parse(&l[l.find("CHECK ")? + 6..]))
        .collect()
}

/// Everything wrong with a finished guest's serial log: missing or failing checks, a detail
/// whose hash differs from the host's, no done marker.
pub fn problems(serial: &str, expected: &Expected) -> Vec<String> {
    let found = checks(serial);
    let mut out = Vec::new();
    for name in CHECKS {
        match found.iter().find(|c| c.name == name) {
            None => out.push(format!("no CHECK {name} line")),
            Some(c) if !c.pass => out.push(format!("CHECK {name} FAIL {}", c.detail)),
            Some(_) => {}
        }
    }
    let host = [
        ("sda-direct", &expected.sda_sha256),
        ("sr0-read", &expected.sr0_sha256),
        ("sr0-isofs", &expected.iso_file_sha256),
        ("fd0-read", &expected.fd0_sha256),
    ];
    for (name, sha) in host {
        if let Some(c) = found.iter().find(|c| c.name == name) {
            if !c.detail.contains(&format!("sha256={sha}")) {
                out.push(format!("CHECK {name}: guest `{}`, host sha256={sha}", c.detail));
            }
        }
    }
    if !serial.contains(&format!("{DONE_MARKER} fails=0")) {
        out.push(format!("no `{DONE_MARKER} fails=0` line"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_lines_parse_amid_noise() {
        let log = "[    1.0] sd 0:0:0:0: x\r\nCHECK modules PASS loaded 12 failed=[]\r\nnoise CHECK eject FAIL eject /dev/sr0\n\
                   CHECK bogus MAYBE x\n";
        let c = checks(log);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], Check { name: "modules".into(), pass: true, detail: "loaded 12 failed=[]".into() });
        assert!(!c[1].pass);
    }
}
