//! Thread-pool engine: a fixed set of workers running `preadv`/`pwritev`,
//! `fdatasync`/`fsync` and `fallocate` on behalf of the event loop.
//!
//! `enqueue` only appends to a private batch; `submit` hands the whole batch
//! to the shared job queue under one lock and wakes as many workers as there
//! are jobs. Workers push results to a completion list and write the
//! notification eventfd when that list goes from empty to non-empty (one
//! write per batch the event loop has not collected yet), so a busy engine
//! costs one eventfd write per reap, not one per request.

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;

use super::*;

/// Most iovecs handed to one `preadv`/`pwritev`/`readv` (the kernel's
/// `UIO_MAXIOV`); longer lists go in several steps.
pub(super) const IOV_MAX: usize = 1024;

/// Largest single transfer we ask for: keeps lengths within what the kernel
/// accepts (`MAX_RW_COUNT`) and in a `u32`.
pub(super) const MAX_CHUNK: usize = 1 << 30;

/// Sum of the iovec lengths.
pub(super) fn iov_total(iov: &[IoVec]) -> u64 {
    iov.iter().map(|v| v.len() as u64).sum()
}

/// Fill `out` with the part of `iov` that starts `done` bytes in: at most
/// [`IOV_MAX`] entries and [`MAX_CHUNK`] bytes, empty entries skipped.
/// Returns the byte count of the window.
pub(super) fn build_window(iov: &[IoVec], done: u64, out: &mut Vec<libc::iovec>) -> usize {
    out.clear();
    let mut skip = done;
    let mut bytes = 0usize;
    for v in iov {
        let len = v.len() as u64;
        if skip >= len {
            skip -= len;
            continue;
        }
        let start = skip as usize;
        skip = 0;
        let take = (v.len() - start).min(MAX_CHUNK - bytes);
        if take == 0 {
            continue;
        }
        // SAFETY: start < v.len(), so the pointer stays inside the iovec.
        let base = unsafe { v.base().add(start) };
        out.push(libc::iovec { iov_base: base as *mut libc::c_void, iov_len: take });
        bytes += take;
        if out.len() == IOV_MAX || bytes == MAX_CHUNK {
            break;
        }
    }
    bytes
}

/// Zero every byte of `iov` from `done` bytes in to the end (a read that
/// reached end of file).
pub(super) fn zero_from(iov: &[IoVec], done: u64) {
    let mut skip = done;
    for v in iov {
        let len = v.len() as u64;
        if skip >= len {
            skip -= len;
            continue;
        }
        let start = skip as usize;
        skip = 0;
        // SAFETY: the submitter guarantees the iovec memory is valid for
        // writes until the request completes (IoVec::from_raw).
        unsafe { std::ptr::write_bytes(v.base().add(start), 0, v.len() - start) };
    }
}

/// `fallocate` mode for a discard.
pub(super) const PUNCH_MODE: i32 = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

struct Jobs {
    queue: VecDeque<EngineRequest>,
    stop: bool,
}

struct Shared {
    jobs: Mutex<Jobs>,
    wake: Condvar,
    done: Mutex<Vec<EngineCompletion>>,
    notify: EventFd,
    file: Arc<File>,
}

/// The thread-pool engine.
pub struct ThreadEngine {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Enqueued, not yet handed to the workers.
    batch: Vec<EngineRequest>,
    in_flight: usize,
}

impl ThreadEngine {
    pub fn new(file: Arc<File>, notify: &EventFd, cfg: &EngineConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            jobs: Mutex::new(Jobs { queue: VecDeque::new(), stop: false }),
            wake: Condvar::new(),
            done: Mutex::new(Vec::new()),
            notify: notify.try_clone()?,
            file,
        });
        let mut engine = ThreadEngine { shared, workers: Vec::new(), batch: Vec::new(), in_flight: 0 };
        for i in 0..cfg.threads.max(1) {
            let shared = engine.shared.clone();
            let handle = std::thread::Builder::new().name(format!("ironide-io{i}")).spawn(move || worker(&shared))?;
            // On error, dropping `engine` stops the workers already started.
            engine.workers.push(handle);
        }
        Ok(engine)
    }
}

fn worker(shared: &Shared) {
    let fd = shared.file.as_raw_fd();
    let mut window: Vec<libc::iovec> = Vec::with_capacity(16);
    loop {
        let req = {
            let mut jobs = shared.jobs.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(r) = jobs.queue.pop_front() {
                    break r;
                }
                if jobs.stop {
                    return;
                }
                jobs = shared.wake.wait(jobs).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = execute(fd, &req, &mut window);
        let tag = req.tag;
        // The iovec list goes before the completion is visible.
        drop(req);
        let was_empty = {
            let mut done = shared.done.lock().unwrap_or_else(|e| e.into_inner());
            let was_empty = done.is_empty();
            done.push(EngineCompletion { tag, result });
            was_empty
        };
        if was_empty {
            // An eventfd write only fails if the counter would overflow,
            // in which case it is readable anyway.
            let _ = shared.notify.write(1);
        }
    }
}

/// Run one request to the end on the calling thread.
fn execute(fd: i32, req: &EngineRequest, window: &mut Vec<libc::iovec>) -> Result<u64, i32> {
    match req.op {
        EngineOp::Read | EngineOp::Write => {
            let total = iov_total(&req.iov);
            if total != req.len {
                return Err(libc::EINVAL);
            }
            let write = req.op == EngineOp::Write;
            let mut done = 0u64;
            while done < total {
                let want = build_window(&req.iov, done, window);
                let off = (req.offset + done) as libc::off_t;
                // SAFETY: the window points into memory the submitter keeps
                // valid until completion; the kernel checks the fd.
                let n = unsafe {
                    if write {
                        libc::pwritev(fd, window.as_ptr(), window.len() as i32, off)
                    } else {
                        libc::preadv(fd, window.as_ptr(), window.len() as i32, off)
                    }
                };
                if n < 0 {
                    let e = errno();
                    if e == libc::EINTR || e == libc::EAGAIN {
                        continue;
                    }
                    return Err(e);
                }
                if n == 0 {
                    if write {
                        return Err(libc::ENOSPC);
                    }
                    zero_from(&req.iov, done);
                    return Ok(total);
                }
                debug_assert!(n as usize <= want);
                done += n as u64;
            }
            Ok(total)
        }
        EngineOp::Sync { datasync } => loop {
            // SAFETY: plain syscalls on a descriptor we keep open.
            let r = unsafe {
                if datasync {
                    libc::fdatasync(fd)
                } else {
                    libc::fsync(fd)
                }
            };
            if r == 0 {
                return Ok(req.len);
            }
            let e = errno();
            if e != libc::EINTR {
                return Err(e);
            }
        },
        EngineOp::Discard => {
            if req.len == 0 {
                return Ok(0);
            }
            loop {
                // SAFETY: as above.
                let r = unsafe { libc::fallocate(fd, PUNCH_MODE, req.offset as libc::off_t, req.len as libc::off_t) };
                if r == 0 {
                    return Ok(req.len);
                }
                let e = errno();
                if e != libc::EINTR {
                    return Err(e);
                }
            }
        }
    }
}

impl Engine for ThreadEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Threads
    }

    fn enqueue(&mut self, req: EngineRequest) {
        self.in_flight += 1;
        self.batch.push(req);
    }

    fn submit(&mut self) {
        let n = self.batch.len();
        if n == 0 {
            return;
        }
        {
            let mut jobs = self.shared.jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.queue.extend(self.batch.drain(..));
        }
        if n >= self.workers.len() {
            self.shared.wake.notify_all();
        } else {
            for _ in 0..n {
                self.shared.wake.notify_one();
            }
        }
    }

    fn reap(&mut self, out: &mut Vec<EngineCompletion>) {
        let before = out.len();
        {
            let mut done = self.shared.done.lock().unwrap_or_else(|e| e.into_inner());
            out.append(&mut done);
        }
        self.in_flight -= out.len() - before;
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl Drop for ThreadEngine {
    fn drop(&mut self) {
        // Requests never submitted still reference caller memory only until
        // we drop them here; they are simply not performed.
        self.batch.clear();
        {
            let mut jobs = self.shared.jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.stop = true;
        }
        self.shared.wake.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
