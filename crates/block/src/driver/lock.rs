//! Image locking, interoperable with QEMU's `file` driver.
//!
//! The protocol is a set of single-byte shared locks taken with Linux
//! open-file-description locks (`F_OFD_SETLK`), so that QEMU processes,
//! QEMU tools and ironide all see each other:
//!
//! * byte `100 + bit` is read-locked by every opener that *holds* the
//!   permission `bit`;
//! * byte `200 + bit` is read-locked by every opener that does *not allow
//!   others* to hold the permission `bit` ("unshared").
//!
//! Permission bits: 0 consistent-read, 1 write, 2 write-unchanged, 3 resize.
//!
//! Opening conflicts when someone unshares a permission we hold, or holds a
//! permission we unshare. Both are detected by asking the kernel whether a
//! *write* lock could be placed on the other side's byte (`F_OFD_GETLK`):
//! any read lock there from another open file description blocks it.
//!
//! What ironide holds (matching what a QEMU guest device asks for):
//! * read-write: holds {consistent-read, write}; unshares {write, resize}.
//!   Write-unchanged is not held: a guest device in QEMU does not request it
//!   either, and holding it would only add a conflict QEMU never reports.
//! * read-only: holds {consistent-read}; unshares {write, resize}. So two
//!   read-only openers coexist, while a reader and a writer exclude each
//!   other in either order.
//!
//! QEMU's tools differ among themselves: `qemu-io` shares every permission,
//! so `qemu-io -r` may read an image ironide (or a QEMU guest) has open,
//! while plain `qemu-io` (which wants "write") is refused; `qemu-img`
//! unshares "write" and is refused by any writer.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Errno, OpenError};

/// First byte of the "holds permission" range.
pub const PERM_LOCK_BASE: u64 = 100;
/// First byte of the "does not share permission" range.
pub const SHARED_LOCK_BASE: u64 = 200;

/// The `locking=` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LockMode {
    On,
    Off,
    /// As QEMU: on, unless the host cannot do OFD locks (then silently off).
    #[default]
    Auto,
}

impl std::str::FromStr for LockMode {
    type Err = OpenError;
    fn from_str(s: &str) -> Result<Self, OpenError> {
        match s {
            "on" => Ok(LockMode::On),
            "off" => Ok(LockMode::Off),
            "auto" => Ok(LockMode::Auto),
            _ => Err(OpenError::Invalid(format!("Invalid parameter value for 'locking': '{s}'"))),
        }
    }
}

/// A set of block-layer permissions (QEMU's bit numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Perms(pub u8);

impl Perms {
    pub const CONSISTENT_READ: Perms = Perms(0x01);
    pub const WRITE: Perms = Perms(0x02);
    pub const WRITE_UNCHANGED: Perms = Perms(0x04);
    pub const RESIZE: Perms = Perms(0x08);
    pub const NONE: Perms = Perms(0);
    /// Number of permission bits taking part in locking.
    pub const BITS: u32 = 4;

    pub fn contains(self, bit: u32) -> bool {
        self.0 & (1 << bit) != 0
    }

    pub fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }

    /// The name QEMU uses in its lock messages.
    pub fn bit_name(bit: u32) -> &'static str {
        match bit {
            0 => "consistent read",
            1 => "write",
            2 => "write unchanged",
            3 => "resize",
            _ => "unknown",
        }
    }

    fn bits(self) -> impl Iterator<Item = u32> {
        (0..Self::BITS).filter(move |&b| self.contains(b))
    }
}

/// What an opener holds and what it refuses to share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockRequest {
    pub held: Perms,
    pub unshared: Perms,
}

impl LockRequest {
    /// The permissions of a guest disk (see the module doc).
    pub fn for_access(read_only: bool) -> Self {
        let held = if read_only { Perms::CONSISTENT_READ } else { Perms::CONSISTENT_READ.union(Perms::WRITE) };
        LockRequest { held, unshared: Perms::WRITE.union(Perms::RESIZE) }
    }

    fn bytes(&self) -> Vec<u64> {
        let held = self.held.bits().map(|b| PERM_LOCK_BASE + u64::from(b));
        let unshared = self.unshared.bits().map(|b| SHARED_LOCK_BASE + u64::from(b));
        held.chain(unshared).collect()
    }
}

/// Locks held on an image; released on drop.
#[derive(Debug)]
pub struct ImageLock {
    file: Arc<File>,
    bytes: Vec<u64>,
}

impl ImageLock {
    /// Takes the locks for `req` on `file` and checks nobody conflicts.
    /// `Ok(None)` when locking is off (or `Auto` on a host without OFD locks).
    pub fn acquire(
        file: &Arc<File>,
        path: &Path,
        req: LockRequest,
        mode: LockMode,
    ) -> Result<Option<ImageLock>, OpenError> {
        if mode == LockMode::Off {
            return Ok(None);
        }
        // Lock first, check second: two racing openers then cannot both
        // pass the check (at worst both fail).
        let mut lock = ImageLock { file: Arc::clone(file), bytes: Vec::new() };
        for byte in req.bytes() {
            match ofd_setlk(file, libc::F_RDLCK, byte) {
                Ok(()) => lock.bytes.push(byte),
                Err(e) if mode == LockMode::Auto && e == libc::EINVAL && lock.bytes.is_empty() => {
                    // No OFD locks on this host or filesystem.
                    return Ok(None);
                }
                Err(e) if e == libc::EAGAIN || e == libc::EACCES => {
                    // Someone holds a write lock on a protocol byte: not
                    // QEMU, but still an exclusive user of the image.
                    let bit = (byte % 100) as u32;
                    return Err(locked(path, file, bit, byte));
                }
                Err(e) => {
                    return Err(OpenError::Invalid(format!(
                        "Failed to lock byte {byte} of '{}': {}",
                        path.display(),
                        Errno(e)
                    )))
                }
            }
        }
        for bit in req.held.bits() {
            let theirs = SHARED_LOCK_BASE + u64::from(bit);
            if lock_conflicts(file, theirs)? {
                return Err(locked(path, file, bit, theirs));
            }
        }
        for bit in req.unshared.bits() {
            let theirs = PERM_LOCK_BASE + u64::from(bit);
            if lock_conflicts(file, theirs)? {
                return Err(locked(path, file, bit, theirs));
            }
        }
        live_locks().push((file.as_raw_fd(), lock.bytes.clone()));
        Ok(Some(lock))
    }

    /// The bytes this lock holds (for diagnostics and tests).
    pub fn bytes(&self) -> &[u64] {
        &self.bytes
    }
}

impl Drop for ImageLock {
    fn drop(&mut self) {
        // Closing the last fd would release them too, but engines may still
        // hold clones of the file; the node is gone, so its claim goes now.
        for &byte in &self.bytes {
            let _ = ofd_setlk(&self.file, libc::F_UNLCK, byte);
        }
        let fd = self.file.as_raw_fd();
        live_locks().retain(|(f, _)| *f != fd);
    }
}

/// Every lock still held, by fd, so a process that exits without running
/// destructors can let go of its images at once: an io_uring ring keeps its
/// registered files (and so their OFD locks) alive until the kernel tears the
/// ring down, some time after the process is gone.
fn live_locks() -> std::sync::MutexGuard<'static, Vec<(RawFd, Vec<u64>)>> {
    static LIVE: std::sync::Mutex<Vec<(RawFd, Vec<u64>)>> = std::sync::Mutex::new(Vec::new());
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Release every image lock this process holds. Call right before
/// `std::process::exit`, which runs no destructors.
pub fn release_all_for_exit() {
    for (fd, bytes) in live_locks().drain(..) {
        for byte in bytes {
            let fl = flock_for(libc::F_UNLCK, byte);
            // SAFETY: fd is still open (the process is about to exit and
            // nothing closed it: its ImageLock was never dropped).
            unsafe { libc::fcntl(fd, libc::F_OFD_SETLK, &fl) };
        }
    }
}

fn flock_for(kind: libc::c_int, byte: u64) -> libc::flock {
    // SAFETY: flock is a plain C struct; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    fl
}

fn ofd_setlk(file: &File, kind: libc::c_int, byte: u64) -> Result<(), i32> {
    let fl = flock_for(kind, byte);
    // SAFETY: valid fd and a properly initialised flock; l_pid must be 0
    // for OFD commands, which zeroed() ensures.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    } else {
        Ok(())
    }
}

/// Would a write lock on `byte` conflict with someone else's lock?
fn lock_conflicts(file: &File, byte: u64) -> Result<bool, OpenError> {
    let mut fl = flock_for(libc::F_WRLCK, byte);
    // SAFETY: valid fd; the kernel writes back into `fl`.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if r < 0 {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO);
        return Err(OpenError::Invalid(format!("Failed to test lock byte {byte}: {}", Errno(e))));
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

fn locked(path: &Path, file: &File, bit: u32, byte: u64) -> OpenError {
    let holder = match find_holder(file, byte) {
        Some((pid, comm)) => format!("process {pid} ({comm})"),
        None => "another process".to_string(),
    };
    // Bytes 100.. mark held permissions: a conflict there means we refused
    // to share what someone already holds.
    let shared = byte < 200;
    OpenError::Locked { path: path.display().to_string(), perm: Perms::bit_name(bit), shared, holder }
}

/// One `lock:` line of /proc/PID/fdinfo/FD.
#[derive(Debug, PartialEq, Eq)]
struct LockLine {
    dev_major: u32,
    dev_minor: u32,
    ino: u64,
    start: u64,
    /// Inclusive; `None` for "EOF" (to the end of the file).
    end: Option<u64>,
}

/// Parses "lock:\t1: OFDLCK  ADVISORY  READ -1 fd:01:1234 100 100".
fn parse_lock_line(line: &str) -> Option<LockLine> {
    let rest = line.strip_prefix("lock:")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // The last three fields are "MAJ:MIN:INO START END"; the ones before
    // vary with the lock kind ("->" markers for blocked waiters).
    let n = fields.len();
    if n < 3 {
        return None;
    }
    let mut id = fields[n - 3].split(':');
    let dev_major = u32::from_str_radix(id.next()?, 16).ok()?;
    let dev_minor = u32::from_str_radix(id.next()?, 16).ok()?;
    let ino = id.next()?.parse().ok()?;
    let start = fields[n - 2].parse().ok()?;
    let end = match fields[n - 1] {
        "EOF" => None,
        s => Some(s.parse().ok()?),
    };
    Some(LockLine { dev_major, dev_minor, ino, start, end })
}

/// Which process (pid, comm) holds a lock covering `byte` of the same
/// inode as `file`, other than `file`'s own description. Best effort: other
/// users' /proc entries are usually unreadable.
pub fn find_holder(file: &File, byte: u64) -> Option<(u32, String)> {
    // SAFETY: fstat on a valid fd into a zeroed stat buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(file.as_raw_fd(), &mut st) } < 0 {
        return None;
    }
    let (maj, min) = (libc::major(st.st_dev), libc::minor(st.st_dev));
    let me = std::process::id();
    let my_fd = file.as_raw_fd().to_string();
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fdinfo")) else { continue };
        for fd in fds.flatten() {
            if pid == me && fd.file_name().to_str() == Some(my_fd.as_str()) {
                continue;
            }
            let Ok(info) = std::fs::read_to_string(fd.path()) else { continue };
            let hit = info.lines().filter_map(parse_lock_line).any(|l| {
                l.dev_major == maj
                    && l.dev_minor == min
                    && l.ino == st.st_ino
                    && l.start <= byte
                    && !matches!(l.end, Some(e) if e < byte)
            });
            if hit {
                let comm = std::fs::read_to_string(proc_entry.path().join("comm"))
                    .map(|c| c.trim_end().to_string())
                    .unwrap_or_else(|_| "unknown".to_string());
                return Some((pid, comm));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fdinfo_lock_lines() {
        let l = parse_lock_line("lock:\t1: OFDLCK  ADVISORY  READ -1 fd:01:1234 100 100").unwrap();
        assert_eq!(l, LockLine { dev_major: 0xfd, dev_minor: 1, ino: 1234, start: 100, end: Some(100) });
        let l = parse_lock_line("lock:\t2: POSIX  ADVISORY  WRITE 77 00:2f:9 0 EOF").unwrap();
        assert_eq!(l.end, None);
        assert_eq!(parse_lock_line("pos:\t0"), None);
        assert_eq!(parse_lock_line("lock:\tgarbage"), None);
    }

    #[test]
    fn request_bytes() {
        assert_eq!(LockRequest::for_access(false).bytes(), vec![100, 101, 201, 203]);
        assert_eq!(LockRequest::for_access(true).bytes(), vec![100, 201, 203]);
        assert_eq!("off".parse::<LockMode>().unwrap(), LockMode::Off);
        assert!("maybe".parse::<LockMode>().is_err());
    }

    fn open(path: &Path, write: bool) -> Arc<File> {
        Arc::new(std::fs::OpenOptions::new().read(true).write(write).open(path).unwrap())
    }

    #[test]
    fn readers_share_writers_exclude() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, [0u8; 512]).unwrap();
        let ro = LockRequest::for_access(true);
        let rw = LockRequest::for_access(false);
        let a = ImageLock::acquire(&open(&p, false), &p, ro, LockMode::On).unwrap();
        let b = ImageLock::acquire(&open(&p, false), &p, ro, LockMode::On).unwrap();
        assert!(a.is_some() && b.is_some());
        let err = ImageLock::acquire(&open(&p, true), &p, rw, LockMode::On).unwrap_err();
        let me = format!("process {} (", std::process::id());
        assert!(err.to_string().contains(&me), "{err}");
        drop((a, b));
        let w = ImageLock::acquire(&open(&p, true), &p, rw, LockMode::On).unwrap();
        assert!(w.is_some());
        assert!(ImageLock::acquire(&open(&p, false), &p, ro, LockMode::On).is_err());
        assert!(ImageLock::acquire(&open(&p, false), &p, ro, LockMode::Off).unwrap().is_none());
    }
}
