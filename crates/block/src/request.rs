//! The request model: what a device asks of its backend.
//!
//! Reads and writes carry a scatter list. For guest I/O the list points
//! straight into guest RAM ([`IoVec`], built by the device from its
//! vm-memory mapping), so DMA goes from guest pages to the kernel with no
//! copy. Internal users and tests can hand over an owned [`AlignedBuf`]
//! instead, which comes back in the [`Completion`].

use crate::buffer::AlignedBuf;
use crate::error::BlockError;

/// One contiguous piece of memory taking part in a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoVec {
    base: *mut u8,
    len: usize,
}

// SAFETY: an IoVec is a plain address range; whoever builds one promises
// (see from_raw) that the memory outlives the request, whichever thread
// finally touches it.
unsafe impl Send for IoVec {}
unsafe impl Sync for IoVec {}

impl IoVec {
    /// # Safety
    /// `[base, base + len)` must be valid for reads and writes and must not
    /// be unmapped or freed until the request that carries it completes.
    /// Guest RAM, mapped for the whole life of the machine, satisfies this.
    pub unsafe fn from_raw(base: *mut u8, len: usize) -> Self {
        IoVec { base, len }
    }

    pub fn base(&self) -> *mut u8 {
        self.base
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// As the C `struct iovec` the kernel wants.
    pub fn as_libc(&self) -> libc::iovec {
        libc::iovec { iov_base: self.base as *mut libc::c_void, iov_len: self.len }
    }
}

/// What a request does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Read,
    Write,
    Flush,
    Discard,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Flush => "flush",
            Op::Discard => "discard",
        }
    }
}

/// The memory a read or write moves data through.
#[derive(Debug)]
pub enum Payload {
    /// Flush and discard carry no data.
    None,
    /// Guest memory (zero-copy).
    Guest(Vec<IoVec>),
    /// A buffer owned by the request; returned in the completion.
    Owned(AlignedBuf),
}

/// One request. `tag` is the submitter's and comes back in the completion.
#[derive(Debug)]
pub struct Request {
    pub op: Op,
    /// Byte offset into the backend's node.
    pub offset: u64,
    /// Bytes covered: the payload's length for reads and writes, the range
    /// for discard, 0 for flush.
    pub len: u64,
    pub payload: Payload,
    pub tag: u64,
    /// Whether query-blockstats counts it (operations, bytes, times,
    /// histograms, idle time). Device models that QEMU does not account
    /// (its floppy controller) turn it off; `wr_highest_offset` is kept
    /// either way, as QEMU keeps it per node.
    pub account: bool,
}

impl Request {
    /// Read into guest memory.
    pub fn read(offset: u64, iov: Vec<IoVec>, tag: u64) -> Self {
        let len = iov.iter().map(|v| v.len as u64).sum();
        Request { op: Op::Read, offset, len, payload: Payload::Guest(iov), tag, account: true }
    }

    /// Write from guest memory.
    pub fn write(offset: u64, iov: Vec<IoVec>, tag: u64) -> Self {
        let len = iov.iter().map(|v| v.len as u64).sum();
        Request { op: Op::Write, offset, len, payload: Payload::Guest(iov), tag, account: true }
    }

    /// Read into a buffer the request owns.
    pub fn read_owned(offset: u64, buf: AlignedBuf, tag: u64) -> Self {
        Request { op: Op::Read, offset, len: buf.len() as u64, payload: Payload::Owned(buf), tag, account: true }
    }

    /// Write from a buffer the request owns.
    pub fn write_owned(offset: u64, buf: AlignedBuf, tag: u64) -> Self {
        Request { op: Op::Write, offset, len: buf.len() as u64, payload: Payload::Owned(buf), tag, account: true }
    }

    pub fn flush(tag: u64) -> Self {
        Request { op: Op::Flush, offset: 0, len: 0, payload: Payload::None, tag, account: true }
    }

    pub fn discard(offset: u64, len: u64, tag: u64) -> Self {
        Request { op: Op::Discard, offset, len, payload: Payload::None, tag, account: true }
    }

    /// The same request, left out of the block statistics.
    pub fn unaccounted(mut self) -> Self {
        self.account = false;
        self
    }

    /// The scatter list of the payload (empty for flush/discard).
    pub fn iovecs(&mut self) -> Vec<IoVec> {
        match &mut self.payload {
            Payload::None => Vec::new(),
            Payload::Guest(v) => v.clone(),
            Payload::Owned(b) => {
                // SAFETY: the buffer lives in the request until completion.
                vec![unsafe { IoVec::from_raw(b.as_mut_ptr(), b.len()) }]
            }
        }
    }
}

/// The outcome of one request.
#[derive(Debug)]
pub struct Completion {
    pub tag: u64,
    pub op: Op,
    /// Bytes transferred (the whole request on success), or why it failed.
    pub result: Result<u64, BlockError>,
    /// The owned buffer of a `read_owned`/`write_owned` request.
    pub buf: Option<AlignedBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_payload() {
        let mut a = [0u8; 16];
        let mut b = [0u8; 32];
        // SAFETY: the arrays outlive the request, which is never submitted.
        let iov = unsafe { vec![IoVec::from_raw(a.as_mut_ptr(), 16), IoVec::from_raw(b.as_mut_ptr(), 32)] };
        let r = Request::read(512, iov, 7);
        assert_eq!(r.len, 48);
        assert_eq!(r.tag, 7);
        let mut w = Request::write_owned(0, AlignedBuf::new(4096), 1);
        assert_eq!(w.len, 4096);
        assert_eq!(w.iovecs().len(), 1);
        assert_eq!(Request::flush(3).len, 0);
        assert_eq!(Request::discard(4096, 8192, 4).len, 8192);
    }
}
