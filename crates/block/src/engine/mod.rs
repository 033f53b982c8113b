//! Engines: how requests reach the kernel.
//!
//! An engine serves one open file (one per backend). Requests are queued
//! with [`Engine::enqueue`], handed to the kernel in a batch by
//! [`Engine::submit`], and finished ones collected by [`Engine::reap`].
//! Every engine signals the shared notification eventfd given at creation
//! when completions are waiting, so one event-loop handler serves them all.
//! Short reads and writes are finished by the engine itself: a completion
//! always covers the whole request or carries an error.

use std::fs::File;
use std::sync::Arc;

use vmm_sys_util::eventfd::EventFd;

use crate::request::IoVec;

pub mod null;
pub mod threads;
pub mod uring;

/// Which engine to use (`aio=` on the command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AioMode {
    /// io_uring, falling back to threads (with one log line) if it cannot be set up.
    #[default]
    Auto,
    /// io_uring only; an error if unavailable.
    IoUring,
    /// The thread pool.
    Threads,
}

impl std::str::FromStr for AioMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "io_uring" => Ok(AioMode::IoUring),
            "threads" => Ok(AioMode::Threads),
            "auto" => Ok(AioMode::Auto),
            // QEMU's native AIO: we serve it with io_uring.
            "native" => Ok(AioMode::Auto),
            _ => Err(format!("invalid aio mode '{s}'")),
        }
    }
}

/// The engine actually in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    IoUring,
    Threads,
    /// No I/O at all (`null-co`).
    Null,
}

/// The kernel-level operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineOp {
    Read,
    Write,
    /// fdatasync (data) or fsync.
    Sync {
        datasync: bool,
    },
    /// Deallocate the range (punch hole on files, discard on block devices).
    Discard,
}

/// One request as the engine sees it: offsets are file offsets.
#[derive(Debug)]
pub struct EngineRequest {
    pub op: EngineOp,
    pub offset: u64,
    /// Bytes: sum of `iov` for reads/writes, the range for discard.
    pub len: u64,
    pub iov: Vec<IoVec>,
    pub tag: u64,
}

/// A finished request: the byte count (always `len` on success) or a
/// positive errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineCompletion {
    pub tag: u64,
    pub result: Result<u64, i32>,
}

/// The contract every engine fulfils.
pub trait Engine: Send {
    fn kind(&self) -> EngineKind;
    /// Queue one request; never blocks on I/O.
    fn enqueue(&mut self, req: EngineRequest);
    /// Hand queued requests to the kernel (batched). Requests that do not
    /// fit (SQ full) stay queued and go with a later submit or reap.
    fn submit(&mut self);
    /// Move finished requests to `out` and keep pending ones moving.
    fn reap(&mut self, out: &mut Vec<EngineCompletion>);
    /// Requests enqueued and not yet reaped.
    fn in_flight(&self) -> usize;
}

/// Tuning shared by engines.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// io_uring submission queue size.
    pub ring_entries: u32,
    /// Worker threads of the thread-pool engine.
    pub threads: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig { ring_entries: 128, threads: 4 }
    }
}

/// Create the engine for `file`, signalling `notify` when completions wait.
pub fn create(
    mode: AioMode,
    file: Arc<File>,
    notify: &EventFd,
    cfg: &EngineConfig,
) -> std::io::Result<Box<dyn Engine>> {
    match mode {
        AioMode::Threads => Ok(Box::new(threads::ThreadEngine::new(file, notify, cfg)?)),
        AioMode::IoUring => Ok(Box::new(uring::UringEngine::new(file, notify, cfg)?)),
        AioMode::Auto => match uring::UringEngine::new(file.clone(), notify, cfg) {
            Ok(e) => Ok(Box::new(e)),
            Err(err) => {
                warn_fallback_once(&err);
                Ok(Box::new(threads::ThreadEngine::new(file, notify, cfg)?))
            }
        },
    }
}

fn warn_fallback_once(err: &std::io::Error) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing::warn!("io_uring unavailable ({err}); using the thread-pool engine (aio=threads)");
    });
}
