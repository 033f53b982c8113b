//! io_uring engine: one ring per open file.
//!
//! * The file is registered with the ring and addressed as fixed file 0, and
//!   the notification eventfd is registered with `IORING_REGISTER_EVENTFD`,
//!   so the kernel itself signals the event loop whenever it posts a CQE.
//! * In-flight requests live in a slab of slots indexed by `user_data`; a
//!   slot keeps the caller's iovec list and the kernel iovec array for the
//!   current step alive until its CQE is reaped. Slots (and their iovec
//!   arrays) are reused, so steady-state I/O allocates nothing here.
//! * At most one slot per SQ entry exists and the CQ is twice the SQ (the
//!   kernel default), so the CQ can never overflow; the overflow flag is
//!   still checked and flushed with `GETEVENTS` for good measure. Requests
//!   beyond the slot count wait in a software queue and are started as
//!   slots free up during `reap`.
//! * `submit` costs at most one `io_uring_enter` for the whole batch; `reap`
//!   only enters the kernel when it has SQEs to push (continuations of short
//!   transfers, retries, or queued requests that now fit).
//! * Short reads and writes are continued for the remainder; a read that
//!   hits end of file zero-fills the rest and succeeds; `-EINTR`/`-EAGAIN`
//!   results are retried.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;

use io_uring::{opcode, squeue, types, IoUring};

use super::threads::{build_window, iov_total, zero_from, PUNCH_MODE};
use super::*;

/// The kernel iovec array of one slot. It only points into memory the
/// submitter promised to keep valid (see `IoVec::from_raw`).
struct KernelIov(Vec<libc::iovec>);

// SAFETY: plain address ranges, like IoVec (which is Send).
unsafe impl Send for KernelIov {}

struct Slot {
    tag: u64,
    op: EngineOp,
    offset: u64,
    len: u64,
    /// Bytes transferred so far (reads and writes).
    done: u64,
    iov: Vec<IoVec>,
    kiov: KernelIov,
}

impl Slot {
    fn empty() -> Self {
        Slot { tag: 0, op: EngineOp::Read, offset: 0, len: 0, done: 0, iov: Vec::new(), kiov: KernelIov(Vec::new()) }
    }

    /// The SQE for this slot's next step.
    fn sqe(&mut self, idx: u32) -> squeue::Entry {
        let fd = types::Fixed(0);
        let entry = match self.op {
            EngineOp::Read | EngineOp::Write => {
                let bytes = build_window(&self.iov, self.done, &mut self.kiov.0);
                let off = self.offset + self.done;
                let write = self.op == EngineOp::Write;
                let k = &self.kiov.0;
                if k.len() == 1 {
                    let base = k[0].iov_base as *mut u8;
                    if write {
                        opcode::Write::new(fd, base, bytes as u32).offset(off).build()
                    } else {
                        opcode::Read::new(fd, base, bytes as u32).offset(off).build()
                    }
                } else if write {
                    opcode::Writev::new(fd, k.as_ptr(), k.len() as u32).offset(off).build()
                } else {
                    opcode::Readv::new(fd, k.as_ptr(), k.len() as u32).offset(off).build()
                }
            }
            EngineOp::Sync { datasync } => {
                let flags = if datasync { types::FsyncFlags::DATASYNC } else { types::FsyncFlags::empty() };
                opcode::Fsync::new(fd).flags(flags).build()
            }
            EngineOp::Discard => opcode::Fallocate::new(fd, self.len).offset(self.offset).mode(PUNCH_MODE).build(),
        };
        entry.user_data(idx as u64)
    }
}

/// The io_uring engine.
pub struct UringEngine {
    ring: IoUring,
    /// Kept open for the registered file's sake (the ring holds its own
    /// reference too).
    _file: Arc<File>,
    /// Our own handle on the notification eventfd, for completions we
    /// produce without the kernel (invalid or empty requests).
    notify: EventFd,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slots in use (in the kernel or waiting in `retry`).
    busy: usize,
    /// Slots whose next step has to be pushed to the SQ.
    retry: VecDeque<u32>,
    /// Requests without a slot yet; the last `unsubmitted` of them were
    /// enqueued since the last `submit`.
    pending: VecDeque<EngineRequest>,
    unsubmitted: usize,
    /// Completions produced without the kernel.
    ready: Vec<EngineCompletion>,
    ready_signalled: bool,
    /// Scratch space for CQEs being handled.
    cqes: Vec<(u32, i32)>,
}

impl UringEngine {
    pub fn new(file: Arc<File>, notify: &EventFd, cfg: &EngineConfig) -> std::io::Result<Self> {
        let entries = cfg.ring_entries.clamp(1, 32768);
        let ring = match IoUring::builder().setup_submit_all().build(entries) {
            Ok(r) => r,
            // SUBMIT_ALL needs 5.18; older kernels stop a batch at the first
            // bad SQE, which we cope with too.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => IoUring::new(entries)?,
            Err(e) => return Err(e),
        };
        ring.submitter().register_files(&[file.as_raw_fd()])?;
        ring.submitter().register_eventfd(notify.as_raw_fd())?;
        // Never more requests in the kernel than SQ entries: with the CQ at
        // twice that (checked), completions cannot overflow it.
        let depth = ring.params().sq_entries() as usize;
        let depth = depth.min(ring.params().cq_entries() as usize);
        let notify = notify.try_clone()?;
        let slots = (0..depth).map(|_| Slot::empty()).collect();
        let free = (0..depth as u32).rev().collect();
        Ok(UringEngine {
            ring,
            _file: file,
            notify,
            slots,
            free,
            busy: 0,
            retry: VecDeque::new(),
            pending: VecDeque::new(),
            unsubmitted: 0,
            ready: Vec::new(),
            ready_signalled: false,
            cqes: Vec::with_capacity(depth),
        })
    }

    /// Push what can go to the SQ (continuations first, then submitted
    /// pending requests in order) and enter the kernel once if the SQ holds
    /// anything. Also raises the eventfd for kernel-less completions.
    fn flush(&mut self) {
        {
            let mut sq = self.ring.submission();
            while !sq.is_full() {
                let idx = if let Some(idx) = self.retry.pop_front() {
                    idx
                } else if self.pending.len() > self.unsubmitted && !self.free.is_empty() {
                    let req = self.pending.pop_front().expect("pending request");
                    let idx = self.free.pop().expect("free slot");
                    let slot = &mut self.slots[idx as usize];
                    slot.tag = req.tag;
                    slot.op = req.op;
                    slot.offset = req.offset;
                    slot.len = req.len;
                    slot.done = 0;
                    slot.iov = req.iov;
                    self.busy += 1;
                    idx
                } else {
                    break;
                };
                let sqe = self.slots[idx as usize].sqe(idx);
                // SAFETY: everything the SQE points at (the slot's iovec
                // array and the caller's buffers) stays alive until its CQE
                // is reaped; the slot is not reused before that.
                if unsafe { sq.push(&sqe) }.is_err() {
                    // Cannot happen (checked is_full), but never lose it.
                    self.retry.push_front(idx);
                    break;
                }
            }
        }
        if !self.ring.submission().is_empty() {
            loop {
                match self.ring.submit() {
                    Ok(_) => break,
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                    Err(e) => {
                        // EAGAIN/EBUSY: the kernel is short of resources.
                        // The SQEs stay in the ring; have the event loop
                        // come back so they go with the next reap.
                        tracing::debug!("io_uring_enter: {e}; retrying on the next reap");
                        let _ = self.notify.write(1);
                        break;
                    }
                }
            }
        }
        if !self.ready.is_empty() && !self.ready_signalled {
            self.ready_signalled = true;
            let _ = self.notify.write(1);
        }
    }

    /// Finish slot `idx`.
    fn complete(&mut self, idx: u32, result: Result<u64, i32>, out: &mut Vec<EngineCompletion>) {
        let slot = &mut self.slots[idx as usize];
        out.push(EngineCompletion { tag: slot.tag, result });
        slot.iov = Vec::new();
        self.free.push(idx);
        self.busy -= 1;
    }

    /// Handle one CQE.
    fn on_cqe(&mut self, idx: u32, res: i32, out: &mut Vec<EngineCompletion>) {
        if res < 0 {
            let err = -res;
            if err == libc::EINTR || err == libc::EAGAIN {
                self.retry.push_back(idx);
            } else {
                self.complete(idx, Err(err), out);
            }
            return;
        }
        let slot = &mut self.slots[idx as usize];
        match slot.op {
            EngineOp::Read | EngineOp::Write => {
                let len = slot.len;
                if res == 0 {
                    if slot.op == EngineOp::Write {
                        // A write that moves nothing will not do better
                        // next time.
                        self.complete(idx, Err(libc::ENOSPC), out);
                    } else {
                        zero_from(&slot.iov, slot.done);
                        self.complete(idx, Ok(len), out);
                    }
                    return;
                }
                slot.done += res as u64;
                if slot.done >= len {
                    self.complete(idx, Ok(len), out);
                } else {
                    self.retry.push_back(idx);
                }
            }
            EngineOp::Sync { .. } | EngineOp::Discard => {
                let len = slot.len;
                self.complete(idx, Ok(len), out);
            }
        }
    }
}

impl Engine for UringEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::IoUring
    }

    fn enqueue(&mut self, req: EngineRequest) {
        // Requests the kernel need not see complete at once.
        let immediate = match req.op {
            EngineOp::Read | EngineOp::Write => {
                if iov_total(&req.iov) != req.len {
                    Some(Err(libc::EINVAL))
                } else if req.len == 0 {
                    Some(Ok(0))
                } else {
                    None
                }
            }
            EngineOp::Discard if req.len == 0 => Some(Ok(0)),
            _ => None,
        };
        if let Some(result) = immediate {
            self.ready.push(EngineCompletion { tag: req.tag, result });
            return;
        }
        self.pending.push_back(req);
        self.unsubmitted += 1;
    }

    fn submit(&mut self) {
        self.unsubmitted = 0;
        self.flush();
    }

    fn reap(&mut self, out: &mut Vec<EngineCompletion>) {
        out.append(&mut self.ready);
        self.ready_signalled = false;
        loop {
            let mut cqes = std::mem::take(&mut self.cqes);
            {
                let cq = self.ring.completion();
                cqes.extend(cq.map(|c| (c.user_data() as u32, c.result())));
            }
            let got = !cqes.is_empty();
            for &(idx, res) in &cqes {
                self.on_cqe(idx, res, out);
            }
            cqes.clear();
            self.cqes = cqes;
            if got {
                continue;
            }
            // Completions the kernel buffered on CQ overflow (cannot happen
            // with our sizing, but never lose one): an enter with
            // GETEVENTS, which submit() adds when the flag is up, flushes
            // them into the CQ.
            if self.ring.submission().cq_overflow() {
                let _ = self.ring.submit();
                continue;
            }
            break;
        }
        self.flush();
    }

    fn in_flight(&self) -> usize {
        self.busy + self.pending.len() + self.ready.len()
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        // The kernel may still be writing into caller memory: wait for every
        // request it holds before the slots (and their iovec arrays) go.
        let mut outstanding = self.busy - self.retry.len();
        while outstanding > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(_) => break,
            }
            outstanding -= self.ring.completion().count().min(outstanding);
        }
    }
}
