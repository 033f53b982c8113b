//! Request checks and the O_DIRECT bounce path.
//!
//! Guest buffers go to the kernel untouched whenever they satisfy O_DIRECT's
//! alignment; only misaligned requests are copied through an aligned buffer
//! (and writes that do not cover whole aligned blocks are read-modify-write).

use crate::buffer::AlignedBuf;
use crate::error::BlockError;
use crate::request::{IoVec, Op, Payload, Request};

/// Refuse what must never reach the backend.
pub(crate) fn validate(req: &Request, size: u64, read_only: bool) -> Result<(), BlockError> {
    if read_only && matches!(req.op, Op::Write | Op::Discard) {
        return Err(BlockError::ReadOnly);
    }
    if matches!(req.op, Op::Read | Op::Write) && matches!(req.payload, Payload::None) {
        return Err(BlockError::Invalid("read or write without a buffer"));
    }
    if req.op != Op::Flush {
        let end =
            req.offset.checked_add(req.len).ok_or(BlockError::OutOfRange { offset: req.offset, len: req.len, size })?;
        if end > size {
            return Err(BlockError::OutOfRange { offset: req.offset, len: req.len, size });
        }
    }
    Ok(())
}

pub(crate) fn payload_iovecs(p: &mut Payload) -> Vec<IoVec> {
    match p {
        Payload::None => Vec::new(),
        Payload::Guest(v) => v.clone(),
        // SAFETY: the buffer stays in the in-flight slot until completion.
        Payload::Owned(b) => vec![unsafe { IoVec::from_raw(b.as_mut_ptr(), b.len()) }],
    }
}

/// Whether the request can go to an O_DIRECT file as is.
pub(crate) fn is_aligned(iov: &[IoVec], offset: u64, len: u64, align: usize) -> bool {
    let a = align as u64;
    offset.is_multiple_of(a)
        && len.is_multiple_of(a)
        && iov.iter().all(|v| (v.base() as usize).is_multiple_of(align) && v.len().is_multiple_of(align))
}

/// An aligned copy covering `[file_offset, file_offset + buf.len())`; the
/// request's bytes start at `skip`.
pub(crate) struct Bounce {
    pub buf: AlignedBuf,
    pub file_offset: u64,
    pub skip: usize,
}

impl Bounce {
    pub fn for_range(offset: u64, len: u64, align: usize) -> Self {
        let a = align as u64;
        let start = offset - offset % a;
        let end = (offset + len).div_ceil(a) * a;
        Bounce { buf: AlignedBuf::new((end - start) as usize), file_offset: start, skip: (offset - start) as usize }
    }

    pub fn iovec(&mut self) -> IoVec {
        // SAFETY: the bounce buffer lives in the in-flight slot until completion.
        unsafe { IoVec::from_raw(self.buf.as_mut_ptr(), self.buf.len()) }
    }
}

/// Gather the scatter list into `dst` (dst.len() bytes).
pub(crate) fn copy_from_iovecs(iov: &[IoVec], dst: &mut [u8]) {
    let mut pos = 0;
    for v in iov {
        let n = v.len().min(dst.len() - pos);
        // SAFETY: IoVec memory is valid for the request's lifetime (its
        // constructor's contract); dst is a distinct host buffer.
        unsafe { std::ptr::copy_nonoverlapping(v.base(), dst[pos..].as_mut_ptr(), n) };
        pos += n;
        if pos == dst.len() {
            break;
        }
    }
}

/// Scatter `src` into the list.
pub(crate) fn copy_to_iovecs(src: &[u8], iov: &[IoVec]) {
    let mut pos = 0;
    for v in iov {
        let n = v.len().min(src.len() - pos);
        // SAFETY: as in copy_from_iovecs.
        unsafe { std::ptr::copy_nonoverlapping(src[pos..].as_ptr(), v.base(), n) };
        pos += n;
        if pos == src.len() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let r = Request::discard(0, 1024, 0);
        assert_eq!(validate(&r, 512, false), Err(BlockError::OutOfRange { offset: 0, len: 1024, size: 512 }));
        assert_eq!(validate(&r, 1024, true), Err(BlockError::ReadOnly));
        assert!(validate(&r, 1024, false).is_ok());
        let r = Request::discard(u64::MAX, 2, 0);
        assert!(matches!(validate(&r, 1024, false), Err(BlockError::OutOfRange { .. })));
        let r = Request::read_owned(512, AlignedBuf::new(512), 0);
        assert!(validate(&r, 1024, true).is_ok());
        assert!(validate(&Request::flush(0), 0, true).is_ok());
    }

    #[test]
    fn bounce_ranges() {
        let b = Bounce::for_range(512, 1024, 4096);
        assert_eq!((b.file_offset, b.skip, b.buf.len()), (0, 512, 4096));
        let b = Bounce::for_range(4096 + 3584, 1024, 4096);
        assert_eq!((b.file_offset, b.skip, b.buf.len()), (4096, 3584, 8192));
    }

    #[test]
    fn scatter_gather_roundtrip() {
        let mut a = vec![0u8; 3];
        let mut b = vec![0u8; 5];
        // SAFETY: a and b outlive the iovecs.
        let iov = unsafe { [IoVec::from_raw(a.as_mut_ptr(), 3), IoVec::from_raw(b.as_mut_ptr(), 5)] };
        copy_to_iovecs(b"abcdefgh", &iov);
        assert_eq!((&a[..], &b[..]), (&b"abc"[..], &b"defgh"[..]));
        let mut out = [0u8; 8];
        copy_from_iovecs(&iov, &mut out);
        assert_eq!(&out, b"abcdefgh");
        assert!(is_aligned(&[], 4096, 8192, 4096));
        assert!(!is_aligned(&iov, 0, 8, 512));
    }
}
