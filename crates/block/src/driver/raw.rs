//! The `raw` format driver: the guest sees the file's bytes, optionally
//! restricted to a window (`offset=`, `size=`) of the containing file.

use crate::error::{BlockError, OpenError};

/// Sector size the `size=` option must be a multiple of (as in QEMU).
const SECTOR: u64 = 512;

/// The part of the file a raw node exposes. `driver=file` backends use the
/// identity window `{ offset: 0, size: file_size }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawWindow {
    pub offset: u64,
    pub size: u64,
}

impl RawWindow {
    /// Validates `offset`/`size` against the containing file. Without
    /// `size` the window runs to the end of the file.
    pub fn new(file_size: u64, offset: u64, size: Option<u64>) -> Result<Self, OpenError> {
        match size {
            Some(size) => {
                if size % SECTOR != 0 {
                    return Err(OpenError::Invalid(format!("Specified size is not a multiple of {SECTOR}")));
                }
                // checked_add: offset + size may not even fit in a u64.
                if !matches!(offset.checked_add(size), Some(end) if end <= file_size) {
                    return Err(OpenError::Invalid(format!(
                        "The sum of offset ({offset}) and size ({size}) has to be smaller or \
                         equal to the  actual size of the containing file ({file_size})"
                    )));
                }
                Ok(RawWindow { offset, size })
            }
            None => {
                if offset > file_size {
                    return Err(OpenError::Invalid(format!(
                        "Offset ({offset}) cannot be greater than size of the containing file \
                         ({file_size})"
                    )));
                }
                Ok(RawWindow { offset, size: file_size - offset })
            }
        }
    }

    /// The whole file.
    pub fn identity(file_size: u64) -> Self {
        RawWindow { offset: 0, size: file_size }
    }

    /// Translates a node offset into a file offset, refusing requests that
    /// reach past the window (a zero-length request at `size` is fine).
    pub fn map(&self, offset: u64, len: u64) -> Result<u64, BlockError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.size => Ok(self.offset + offset),
            _ => Err(BlockError::OutOfRange { offset, len, size: self.size }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_validation() {
        assert_eq!(RawWindow::new(4096, 512, None).unwrap(), RawWindow { offset: 512, size: 3584 });
        assert_eq!(RawWindow::new(4096, 1024, Some(2048)).unwrap(), RawWindow { offset: 1024, size: 2048 });
        assert_eq!(RawWindow::new(4096, 4096, None).unwrap().size, 0);
        assert_eq!(
            RawWindow::new(4096, 1024, Some(4096)).unwrap_err().to_string(),
            "The sum of offset (1024) and size (4096) has to be smaller or equal to the  \
             actual size of the containing file (4096)"
        );
        assert!(RawWindow::new(4096, u64::MAX, Some(512)).is_err());
        assert_eq!(
            RawWindow::new(4096, 8192, None).unwrap_err().to_string(),
            "Offset (8192) cannot be greater than size of the containing file (4096)"
        );
        assert_eq!(
            RawWindow::new(4096, 0, Some(100)).unwrap_err().to_string(),
            "Specified size is not a multiple of 512"
        );
    }

    #[test]
    fn mapping() {
        let w = RawWindow::new(8192, 1024, Some(4096)).unwrap();
        assert_eq!(w.map(0, 512), Ok(1024));
        assert_eq!(w.map(3584, 512), Ok(4608));
        assert_eq!(w.map(4096, 0), Ok(5120));
        assert_eq!(w.map(3584, 1024), Err(BlockError::OutOfRange { offset: 3584, len: 1024, size: 4096 }));
        assert!(w.map(u64::MAX, 1).is_err());
        assert!(w.map(1, u64::MAX).is_err());
        assert_eq!(RawWindow::identity(10).map(0, 10), Ok(0));
    }
}
