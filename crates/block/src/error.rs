//! Errors of the block layer.

use std::fmt;

/// An operating-system error number, printed the way the C library does.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({}: {})", self.0, self)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // std's text carries " (os error N)"; QEMU-style messages do not.
        let text = std::io::Error::from_raw_os_error(self.0).to_string();
        let text = match text.find(" (os error") {
            Some(i) => &text[..i],
            None => &text,
        };
        f.write_str(text)
    }
}

/// Why one request failed. Delivered in its [`crate::Completion`], never as
/// a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// The backend returned an error (EIO, ENOSPC, ...).
    #[error("{0}")]
    Io(Errno),
    /// A write or discard on a read-only node.
    #[error("Block node is read-only")]
    ReadOnly,
    /// The request reaches past the end of the node.
    #[error("request at offset {offset} length {len} is beyond the end of the {size}-byte node")]
    OutOfRange { offset: u64, len: u64, size: u64 },
    /// A request that makes no sense (e.g. empty vector, overflowing length).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// The backend has no medium attached.
    #[error("Device has no medium")]
    NoMedium,
    /// The request was dropped because its backend went away.
    #[error("request canceled")]
    Canceled,
}

impl BlockError {
    /// The errno equivalent, for guests and for QMP's io-status.
    pub fn errno(&self) -> i32 {
        match self {
            BlockError::Io(e) => e.0,
            BlockError::ReadOnly => libc::EROFS,
            BlockError::OutOfRange { .. } => libc::EIO,
            BlockError::Invalid(_) => libc::EINVAL,
            BlockError::NoMedium => libc::ENOMEDIUM,
            BlockError::Canceled => libc::ECANCELED,
        }
    }

    /// ENOSPC is reported apart (io-status "nospace", werror=enospc).
    pub fn is_nospace(&self) -> bool {
        self.errno() == libc::ENOSPC
    }

    /// Requests that were refused before reaching the backend count as
    /// "invalid" in the statistics, not "failed".
    pub fn is_invalid(&self) -> bool {
        matches!(self, BlockError::OutOfRange { .. } | BlockError::Invalid(_) | BlockError::ReadOnly)
    }

    pub fn from_errno(errno: i32) -> Self {
        BlockError::Io(Errno(errno))
    }
}

/// Why a node could not be opened or configured. The texts are QEMU's where
/// QEMU has one, because QMP clients match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("Could not open '{path}': {errno}")]
    Open { path: String, errno: Errno },
    /// `shared`: someone holds a permission we refuse to share (QEMU says
    /// "shared" then), rather than refusing one we need.
    #[error("Failed to get {}\"{perm}\" lock on '{path}': the image is in use by {holder}", if *shared { "shared " } else { "" })]
    Locked { path: String, perm: &'static str, shared: bool, holder: String },
    #[error("{0}")]
    Invalid(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_has_no_os_error_suffix() {
        assert_eq!(Errno(libc::ENOENT).to_string(), "No such file or directory");
        let e = OpenError::Open { path: "/nonexistent".into(), errno: Errno(libc::ENOENT) };
        assert_eq!(e.to_string(), "Could not open '/nonexistent': No such file or directory");
    }

    #[test]
    fn classification() {
        assert!(BlockError::from_errno(libc::ENOSPC).is_nospace());
        assert!(!BlockError::from_errno(libc::EIO).is_nospace());
        assert!(BlockError::ReadOnly.is_invalid());
        assert_eq!(BlockError::NoMedium.errno(), libc::ENOMEDIUM);
    }
}
