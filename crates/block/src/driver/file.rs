//! The `file` driver: a regular file or a host block device.
//!
//! Opening decides everything the engines later rely on: the open flags
//! (O_DIRECT for cache=none/directsync, O_DSYNC for writethrough modes),
//! the size, the O_DIRECT request alignment, and the image lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::CacheFlags;
use super::lock::{ImageLock, LockMode, LockRequest};
use crate::buffer::AlignedBuf;
use crate::error::{Errno, OpenError};

vmm_sys_util::ioctl_ior_nr!(BLKGETSIZE64, 0x12, 114, libc::size_t);

/// Options of a `file` node (`-blockdev driver=file,...` or from `-drive`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    pub filename: PathBuf,
    pub read_only: bool,
    pub cache: CacheFlags,
    pub locking: LockMode,
}

impl FileOptions {
    /// Read-write, cache=writeback, locking on: the `-drive` defaults.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        FileOptions {
            filename: filename.into(),
            read_only: false,
            cache: super::cache::CacheMode::Writeback.flags(),
            locking: LockMode::Auto,
        }
    }
}

/// An open `file` node.
#[derive(Debug)]
pub struct FileNode {
    pub file: Arc<File>,
    /// Bytes, as of open or the last [`FileNode::refresh_size`].
    pub size: u64,
    pub is_block_device: bool,
    /// Opened with O_DIRECT: buffers, offsets and lengths must be aligned
    /// to `align`.
    pub direct: bool,
    pub read_only: bool,
    /// Request alignment: 1 without O_DIRECT, else 512 or 4096 (probed).
    pub align: usize,
    filename: PathBuf,
    // Dropping it releases the image lock.
    lock: Option<ImageLock>,
}

fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// The open(2) flags beyond the access mode that `cache` asks for.
pub fn custom_flags(cache: CacheFlags) -> i32 {
    let mut flags = libc::O_CLOEXEC;
    if cache.direct {
        flags |= libc::O_DIRECT;
    }
    if !cache.writeback {
        // Writethrough: each write is durable when it completes.
        flags |= libc::O_DSYNC;
    }
    flags
}

/// Opens a `file` node.
pub fn open(opts: &FileOptions) -> Result<FileNode, OpenError> {
    let path = &opts.filename;
    let file = OpenOptions::new()
        .read(true)
        .write(!opts.read_only)
        .custom_flags(custom_flags(opts.cache))
        .open(path)
        .map_err(|e| open_error(path, opts.cache, e))?;

    let meta = file
        .metadata()
        .map_err(|e| OpenError::Open { path: display(path), errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)) })?;
    let ft = meta.file_type();
    let is_block_device = ft.is_block_device();
    if !is_block_device && !ft.is_file() {
        return Err(OpenError::Invalid(format!("'{}' is neither a regular file nor a block device", display(path))));
    }
    let size = if is_block_device { block_device_size(&file, path)? } else { meta.len() };
    let align = if !opts.cache.direct {
        1
    } else if is_block_device {
        logical_block_size(&file)
    } else {
        probe_direct_align(&file)
    };

    let file = Arc::new(file);
    let lock = ImageLock::acquire(&file, path, LockRequest::for_access(opts.read_only), opts.locking)?;
    Ok(FileNode {
        file,
        size,
        is_block_device,
        direct: opts.cache.direct,
        read_only: opts.read_only,
        align,
        filename: path.clone(),
        lock,
    })
}

fn open_error(path: &Path, cache: CacheFlags, e: io::Error) -> OpenError {
    let errno = e.raw_os_error().unwrap_or(libc::EIO);
    if errno == libc::EINVAL && cache.direct {
        // The usual reason: the filesystem (e.g. an old tmpfs) has no
        // O_DIRECT. QEMU fails here too rather than silently caching.
        return OpenError::Invalid(format!(
            "Could not open '{}': {} (the filesystem does not support O_DIRECT, \
             which cache=none and cache=directsync need)",
            display(path),
            Errno(errno)
        ));
    }
    OpenError::Open { path: display(path), errno: Errno(errno) }
}

fn block_device_size(file: &File, path: &Path) -> Result<u64, OpenError> {
    let mut size: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 into `size`.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), BLKGETSIZE64() as _, &mut size) };
    if r < 0 {
        return Err(OpenError::Invalid(format!(
            "Could not get the size of '{}': {}",
            display(path),
            Errno(last_errno())
        )));
    }
    Ok(size)
}

fn logical_block_size(file: &File) -> usize {
    let mut ssz: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int into `ssz`.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::BLKSSZGET as _, &mut ssz) };
    match usize::try_from(ssz) {
        Ok(n) if r >= 0 && n.is_power_of_two() && n >= 512 => n,
        _ => 4096,
    }
}

/// O_DIRECT alignment of a regular file: a 512-byte read from a
/// page-aligned buffer succeeds on 512-byte-sector storage and fails with
/// EINVAL on 4K-sector storage. (On an empty file the read returns 0 before
/// any alignment check, so 512 is assumed; nothing can be misread anyway.)
fn probe_direct_align(file: &File) -> usize {
    let mut buf = AlignedBuf::new(512);
    // SAFETY: buf is 512 bytes, page-aligned, and outlives the call.
    let r = unsafe { libc::pread(file.as_raw_fd(), buf.as_mut_ptr().cast(), 512, 0) };
    if r < 0 && last_errno() == libc::EINVAL {
        4096
    } else {
        512
    }
}

impl FileNode {
    pub fn filename(&self) -> &Path {
        &self.filename
    }

    /// Allocated bytes on the host (for query-block's actual-size).
    pub fn actual_size(&self) -> u64 {
        use std::os::unix::fs::MetadataExt;
        self.file.metadata().map(|m| m.blocks() * 512).unwrap_or(0)
    }

    /// Re-reads the size (after the file was grown or shrunk outside).
    pub fn refresh_size(&mut self) -> io::Result<u64> {
        let size = if self.is_block_device {
            let mut size: u64 = 0;
            // SAFETY: BLKGETSIZE64 writes one u64 into `size`.
            let r = unsafe { libc::ioctl(self.file.as_raw_fd(), BLKGETSIZE64() as _, &mut size) };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            size
        } else {
            self.file.metadata()?.len()
        };
        self.size = size;
        Ok(size)
    }

    /// Whether the image lock is held (false with locking=off).
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::cache::CacheMode;

    #[test]
    fn flags_per_cache_mode() {
        let f = |m: CacheMode| custom_flags(m.flags());
        assert_eq!(f(CacheMode::Writeback) & (libc::O_DIRECT | libc::O_DSYNC), 0);
        assert_eq!(f(CacheMode::Unsafe) & (libc::O_DIRECT | libc::O_DSYNC), 0);
        assert_eq!(f(CacheMode::None) & (libc::O_DIRECT | libc::O_DSYNC), libc::O_DIRECT);
        assert_eq!(f(CacheMode::Writethrough) & (libc::O_DIRECT | libc::O_DSYNC), libc::O_DSYNC);
        assert_eq!(f(CacheMode::Directsync) & (libc::O_DIRECT | libc::O_DSYNC), libc::O_DIRECT | libc::O_DSYNC);
        assert!(f(CacheMode::Writeback) & libc::O_CLOEXEC != 0);
    }

    #[test]
    fn open_reports_qemu_text() {
        let e = open(&FileOptions::new("/nonexistent")).unwrap_err();
        assert_eq!(e.to_string(), "Could not open '/nonexistent': No such file or directory");
    }

    #[test]
    fn size_refresh_and_non_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![1u8; 8192]).unwrap();
        let mut n = open(&FileOptions::new(&p)).unwrap();
        assert_eq!((n.size, n.align, n.is_block_device, n.direct), (8192, 1, false, false));
        assert_eq!(n.filename(), p.as_path());
        assert!(n.actual_size() >= 8192);
        assert!(n.is_locked());
        n.file.set_len(16384).unwrap();
        assert_eq!(n.refresh_size().unwrap(), 16384);
        assert_eq!(n.size, 16384);
        let mut ro = FileOptions::new(dir.path());
        ro.read_only = true;
        assert!(matches!(open(&ro), Err(OpenError::Invalid(_))));
    }
}
