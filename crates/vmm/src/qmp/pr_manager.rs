//! pr-manager-helper objects: connections to qemu-pr-helper's Unix socket,
//! query-pr-managers and PR_MANAGER_STATUS_CHANGED.
//!
//! The helper's side of the handshake (observed on qemu-pr-helper 7.2):
//! right after accept it sends its capability flags, a 4-byte big-endian
//! word (bit 0: multipath), and then waits for requests. We connect, read
//! that word, and then only watch the socket: EOF means the helper went
//! away. A lost helper is retried every second.
//!
//! Wake-ups: [`PrManagers::fd`] is one epoll fd, readable when a connection
//! has news (EOF) or a retry is due; the event loop watches it and then
//! calls `pending_events` (which calls [`poll`]).

use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironide_qmp::{Event, QmpError};
use serde_json::{json, Value};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::timerfd::TimerFd;

use super::QmpState;
use crate::config::PrManagerPlan;

/// How long a helper may take to send its flags after accept.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// Between reconnection attempts.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum PrError {
    #[error("Failed to connect to '{path}': {reason}")]
    Connect { path: String, reason: String },
    #[error("attempt to add duplicate property '{0}' to object (type 'container')")]
    Duplicate(String),
    #[error("object '{0}' not found")]
    NotFound(String),
}

impl From<PrError> for QmpError {
    fn from(e: PrError) -> Self {
        QmpError::generic(e.to_string())
    }
}

/// One pr-manager-helper object.
#[derive(Debug)]
struct Helper {
    id: String,
    path: PathBuf,
    conn: Option<UnixStream>,
    /// The helper's capability flags from the last handshake.
    flags: u32,
    next_try: Instant,
}

/// The epoll fd the event loop watches, and the retry timer inside it.
#[derive(Debug)]
struct Wake {
    epoll: Epoll,
    timer: TimerFd,
    timer_on: bool,
}

impl Wake {
    fn new() -> std::io::Result<Wake> {
        let epoll = Epoll::new()?;
        let timer = TimerFd::new()?;
        // Drained from poll(), which must never block.
        // SAFETY: fcntl on a descriptor we own, with plain integer flags.
        unsafe {
            let fl = libc::fcntl(timer.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(timer.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        epoll.ctl(ControlOperation::Add, timer.as_raw_fd(), EpollEvent::new(EventSet::IN, 0))?;
        Ok(Wake { epoll, timer, timer_on: false })
    }

    fn watch(&self, s: &UnixStream) {
        let ev = EpollEvent::new(EventSet::IN | EventSet::READ_HANG_UP, 1);
        if let Err(e) = self.epoll.ctl(ControlOperation::Add, s.as_raw_fd(), ev) {
            tracing::warn!("pr-manager: cannot watch the helper socket: {e}");
        }
    }

    fn unwatch(&self, s: &UnixStream) {
        let _ = self.epoll.ctl(ControlOperation::Delete, s.as_raw_fd(), EpollEvent::default());
    }

    /// Tick every RETRY_INTERVAL while some helper is disconnected.
    fn set_retrying(&mut self, on: bool) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into a local buffer; the fd is nonblocking.
        let _ = unsafe { libc::read(self.timer.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if on == self.timer_on {
            return;
        }
        let r = if on { self.timer.reset(RETRY_INTERVAL, Some(RETRY_INTERVAL)) } else { self.timer.clear() };
        if let Err(e) = r {
            tracing::warn!("pr-manager: retry timer: {e}");
        }
        self.timer_on = on;
    }
}

/// The pr-manager-helper objects of the machine.
#[derive(Debug, Default)]
pub struct PrManagers {
    helpers: Vec<Helper>,
    wake: Option<Wake>,
}

/// Connect and complete the handshake; returns the stream (nonblocking)
/// and the helper's flags.
fn connect(path: &Path) -> Result<(UnixStream, u32), PrError> {
    let fail = |e: std::io::Error| PrError::Connect { path: path.display().to_string(), reason: io_text(&e) };
    let mut s = UnixStream::connect(path).map_err(fail)?;
    s.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).map_err(fail)?;
    let mut flags = [0u8; 4];
    s.read_exact(&mut flags).map_err(fail)?;
    s.set_nonblocking(true).map_err(fail)?;
    Ok((s, u32::from_be_bytes(flags)))
}

/// An I/O error as strerror() prints it (no " (os error N)").
fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => ironide_block::error::Errno(n).to_string(),
        None => e.to_string(),
    }
}

/// Whether a connection is still up; drains anything the helper sent
/// unasked (it sends nothing between requests).
fn still_up(s: &mut UnixStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

impl PrManagers {
    /// The `-object pr-manager-helper` objects, connected (a helper that
    /// cannot be reached fails start-up, as in QEMU).
    pub fn start(plans: &[PrManagerPlan]) -> Result<PrManagers, PrError> {
        let mut p = PrManagers::default();
        for plan in plans {
            p.add(&plan.id, &plan.path)?;
        }
        Ok(p)
    }

    /// The fd to watch for readability (None until the first object, or
    /// when epoll is unavailable: then only `poll` calls notice changes).
    pub fn fd(&self) -> Option<RawFd> {
        self.wake.as_ref().map(|w| w.epoll.as_raw_fd())
    }

    fn add(&mut self, id: &str, path: &Path) -> Result<Event, PrError> {
        if self.helpers.iter().any(|h| h.id == id) {
            return Err(PrError::Duplicate(id.to_string()));
        }
        let (conn, flags) = connect(path)?;
        if self.wake.is_none() {
            self.wake = Wake::new().map_err(|e| tracing::warn!("pr-manager: no wake-up fd: {e}")).ok();
        }
        if let Some(w) = &self.wake {
            w.watch(&conn);
        }
        let next_try = Instant::now();
        self.helpers.push(Helper { id: id.to_string(), path: path.to_path_buf(), conn: Some(conn), flags, next_try });
        Ok(Event::pr_manager_status_changed(id, true))
    }

    fn del(&mut self, id: &str) -> Result<(), PrError> {
        let i = self.helpers.iter().position(|h| h.id == id).ok_or_else(|| PrError::NotFound(id.to_string()))?;
        let h = self.helpers.remove(i);
        if let (Some(w), Some(c)) = (&self.wake, &h.conn) {
            w.unwatch(c);
        }
        self.update_timer();
        Ok(())
    }

    /// Whether `id` is connected (None: no such object).
    pub fn connected(&self, id: &str) -> Option<bool> {
        self.helpers.iter().find(|h| h.id == id).map(|h| h.conn.is_some())
    }

    /// The capability flags the helper sent (bit 0: multipath).
    pub fn flags(&self, id: &str) -> Option<u32> {
        self.helpers.iter().find(|h| h.id == id).map(|h| h.flags)
    }

    fn update_timer(&mut self) {
        let retrying = self.helpers.iter().any(|h| h.conn.is_none());
        if let Some(w) = self.wake.as_mut() {
            w.set_retrying(retrying);
        }
    }

    /// Notice lost helpers and reconnect due ones.
    fn poll(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        let now = Instant::now();
        for h in &mut self.helpers {
            let up = h.conn.as_mut().map(still_up);
            match up {
                Some(true) => {}
                Some(false) => {
                    if let (Some(w), Some(c)) = (&self.wake, h.conn.take()) {
                        w.unwatch(&c);
                    }
                    h.next_try = now + RETRY_INTERVAL;
                    out.push(Event::pr_manager_status_changed(&h.id, false));
                }
                None if now >= h.next_try => match connect(&h.path) {
                    Ok((c, flags)) => {
                        if let Some(w) = &self.wake {
                            w.watch(&c);
                        }
                        h.conn = Some(c);
                        h.flags = flags;
                        out.push(Event::pr_manager_status_changed(&h.id, true));
                    }
                    Err(_) => h.next_try = now + RETRY_INTERVAL,
                },
                None => {}
            }
        }
        self.update_timer();
        out
    }

    /// query-pr-managers.
    pub fn query(&self) -> Value {
        Value::Array(self.helpers.iter().map(|h| json!({"id": h.id, "connected": h.conn.is_some()})).collect())
    }
}

pub fn query(s: &QmpState) -> Result<Value, QmpError> {
    Ok(s.pr_managers.query())
}

/// object-add qom-type=pr-manager-helper: connect now (an unreachable
/// helper is an error), PR_MANAGER_STATUS_CHANGED connected=true.
pub fn add(s: &mut QmpState, id: &str, path: &Path, ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    ev.push(s.pr_managers.add(id, path)?);
    Ok(json!({}))
}

/// object-del of a pr-manager-helper: the connection is closed.
pub fn del(s: &mut QmpState, id: &str, _ev: &mut Vec<Event>) -> Result<Value, QmpError> {
    s.pr_managers.del(id)?;
    Ok(json!({}))
}

/// Connection changes since the last call (PR_MANAGER_STATUS_CHANGED).
pub fn poll(s: &mut QmpState) -> Vec<Event> {
    s.pr_managers.poll()
}

#[cfg(test)]
#[path = "pr_manager_tests.rs"]
mod tests;
