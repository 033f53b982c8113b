//! QMP monitors on Unix sockets, for an event loop.
//!
//! `Monitors` owns every listening socket and client connection behind one
//! internal epoll instance; its fd (`as_raw_fd`) becomes readable whenever
//! any of them needs attention, and `process` then does all the non-blocking
//! work. A server socket accepts several clients at once (up to
//! `MAX_CLIENTS_PER_SERVER`; more wait in the listen backlog), each with its
//! own negotiation state. Events go to every negotiated client of every
//! monitor.
//!
//! Memory per client is bounded: input is parsed as it arrives (the JSON
//! streamer caps a message), reading pauses while more than `SOFT_OUTPUT`
//! bytes of replies wait, and a client whose unread output passes
//! `HARD_OUTPUT` (events cannot be paused) is dropped.

use std::collections::HashMap;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};

use crate::event::Event;
use crate::protocol::{QmpHandler, ServerInfo, Session};

/// Clients served at once by one server socket.
pub const MAX_CLIENTS_PER_SERVER: usize = 256;
/// Pending output above which a client's input is no longer read.
pub const SOFT_OUTPUT: usize = 1 << 20;
/// Pending output above which a client is dropped.
pub const HARD_OUTPUT: usize = 16 << 20;
/// Input read from one client per `process` call, for fairness.
const READ_BUDGET: usize = 1 << 20;
/// Clients have tokens at and above this; listeners below.
const CLIENT_BASE: u64 = 1 << 32;

/// Why a monitor could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("Failed to bind socket to {path}: Address already in use")]
    InUse { path: PathBuf },
    #[error("Failed to bind socket to {path}: {}", strerror(source))]
    Bind { path: PathBuf, source: io::Error },
    #[error("Failed to connect to '{path}': {}", strerror(source))]
    Connect { path: PathBuf, source: io::Error },
    #[error("monitor setup: {0}")]
    Io(#[from] io::Error),
}

/// The C library's text for an error, without Rust's " (os error N)".
fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `-qmp unix:PATH[,server=on,wait=off]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorSpec {
    pub path: PathBuf,
    /// true: listen on `path`; false: connect to a peer listening there.
    pub server: bool,
    /// Server only: block in `add` until the first client connects (`wait=on`).
    pub wait: bool,
}

struct Listener {
    socket: UnixListener,
    path: PathBuf,
    /// (dev, ino) of the socket file we made, so we only unlink our own.
    file_id: (u64, u64),
    clients: usize,
    accepting: bool,
}

struct Client {
    stream: UnixStream,
    session: Session,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    sent: usize,
    listener: Option<usize>,
    interest: EventSet,
    dead: bool,
}

impl Client {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    fn push_line(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
        if self.pending() > HARD_OUTPUT {
            tracing::warn!("QMP client not reading its output; dropping it");
            self.dead = true;
        }
    }

    /// Writes what it can without blocking.
    fn flush(&mut self) {
        while !self.dead && self.sent < self.out.len() {
            let buf = &self.out[self.sent..];
            // send() with MSG_NOSIGNAL: a vanished client must not SIGPIPE us.
            // SAFETY: buf is a valid slice for its length; the fd is ours.
            let n = unsafe { libc::send(self.stream.as_raw_fd(), buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 {
                self.sent += n as usize;
                continue;
            }
            match io::Error::last_os_error().kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => break,
                _ => self.dead = true,
            }
        }
        if self.sent == self.out.len() {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > (64 << 10) {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
    }

    fn wanted_interest(&self) -> EventSet {
        let mut set = EventSet::empty();
        if self.pending() < SOFT_OUTPUT {
            set |= EventSet::IN;
        }
        if self.pending() > 0 {
            set |= EventSet::OUT;
        }
        set
    }
}

/// Every QMP monitor of the machine.
pub struct Monitors {
    epoll: Epoll,
    info: ServerInfo,
    listeners: Vec<Listener>,
    clients: HashMap<u64, Client>,
    next_client: u64,
    quit: bool,
}

impl AsRawFd for Monitors {
    /// Readable when a socket needs service: call `process`.
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }
}

impl Monitors {
    pub fn new(info: ServerInfo) -> io::Result<Self> {
        Ok(Monitors {
            epoll: Epoll::new()?,
            info,
            listeners: Vec::new(),
            clients: HashMap::new(),
            next_client: CLIENT_BASE,
            quit: false,
        })
    }

    pub fn add(&mut self, spec: &MonitorSpec) -> Result<(), MonitorError> {
        if spec.server {
            self.add_server(&spec.path)?;
            if spec.wait {
                self.wait_for_client(self.listeners.len() - 1)?;
            }
            Ok(())
        } else {
            self.add_client(&spec.path)
        }
    }

    /// Listens on `path` (socket file mode 0600). A stale socket file that
    /// nobody listens on is replaced; a live one is an error.
    pub fn add_server(&mut self, path: &Path) -> Result<(), MonitorError> {
        let socket = bind_private(path)?;
        socket.set_nonblocking(true)?;
        let meta = std::fs::metadata(path).map_err(|e| MonitorError::Bind { path: path.into(), source: e })?;
        let token = self.listeners.len() as u64;
        self.epoll.ctl(ControlOperation::Add, socket.as_raw_fd(), EpollEvent::new(EventSet::IN, token))?;
        self.listeners.push(Listener {
            socket,
            path: path.into(),
            file_id: (meta.dev(), meta.ino()),
            clients: 0,
            accepting: true,
        });
        Ok(())
    }

    /// Connects to a peer listening on `path` (`-qmp unix:PATH`).
    pub fn add_client(&mut self, path: &Path) -> Result<(), MonitorError> {
        let stream = UnixStream::connect(path).map_err(|e| MonitorError::Connect { path: path.into(), source: e })?;
        self.add_stream(stream, None)?;
        Ok(())
    }

    /// Serves an already connected stream (a socketpair, a test).
    pub fn add_connected(&mut self, stream: UnixStream) -> io::Result<()> {
        self.add_stream(stream, None)
    }

    fn add_stream(&mut self, stream: UnixStream, listener: Option<usize>) -> io::Result<()> {
        stream.set_nonblocking(true)?;
        let token = self.next_client;
        self.next_client += 1;
        let mut c = Client {
            stream,
            session: Session::new(),
            out: Vec::new(),
            sent: 0,
            listener,
            interest: EventSet::IN,
            dead: false,
        };
        self.epoll.ctl(ControlOperation::Add, c.stream.as_raw_fd(), EpollEvent::new(EventSet::IN, token))?;
        c.push_line(&self.info.greeting());
        self.clients.insert(token, c);
        self.settle(token);
        Ok(())
    }

    /// Connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Whether a client ran `quit` (the machine should flush and exit 0).
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// Sends an event to every negotiated client.
    pub fn broadcast(&mut self, event: &Event) {
        let line = event.to_wire();
        let tokens: Vec<u64> = self.clients.keys().copied().collect();
        for t in tokens {
            if let Some(c) = self.clients.get_mut(&t) {
                if c.session.negotiated() {
                    c.push_line(&line);
                }
            }
            self.settle(t);
        }
    }

    /// Waits up to `timeout` for activity, then processes it.
    pub fn wait(&mut self, timeout: Duration, handler: &mut dyn QmpHandler) -> io::Result<()> {
        let mut ev = [EpollEvent::default(); 1];
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        match self.epoll.wait(ms, &mut ev) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        self.process(handler)
    }

    /// Does all pending work without blocking.
    pub fn process(&mut self, handler: &mut dyn QmpHandler) -> io::Result<()> {
        let mut events = [EpollEvent::default(); 64];
        loop {
            let n = match self.epoll.wait(0, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for ev in &events[..n] {
                let token = ev.data();
                if token < CLIENT_BASE {
                    self.accept(token as usize);
                } else {
                    self.service(token, ev.event_set(), handler);
                }
            }
            if n < events.len() {
                return Ok(());
            }
        }
    }

    /// Blocks (up to `timeout`) until every client's output is written, e.g.
    /// after quit, before the process exits.
    pub fn flush_blocking(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let tokens: Vec<u64> = self.clients.keys().copied().collect();
            for t in &tokens {
                if let Some(c) = self.clients.get_mut(t) {
                    c.flush();
                }
                self.settle(*t);
            }
            if self.clients.values().all(|c| c.pending() == 0) || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// `wait=on`: the machine does not start until a client is connected.
    fn wait_for_client(&mut self, idx: usize) -> Result<(), MonitorError> {
        let Some(l) = self.listeners.get(idx) else { return Ok(()) };
        eprintln!("ironide: waiting for a QMP connection on unix:{},server=on", l.path.display());
        let fd = l.socket.as_raw_fd();
        while self.listeners.get(idx).is_some_and(|l| l.clients == 0) {
            let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, -1) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e.into());
                }
                continue;
            }
            self.accept(idx);
        }
        Ok(())
    }

    fn accept(&mut self, idx: usize) {
        loop {
            let Some(l) = self.listeners.get_mut(idx) else { return };
            if l.clients >= MAX_CLIENTS_PER_SERVER {
                // Leave the rest in the backlog until someone leaves.
                if l.accepting {
                    l.accepting = false;
                    let _ = self.epoll.ctl(
                        ControlOperation::Modify,
                        l.socket.as_raw_fd(),
                        EpollEvent::new(EventSet::empty(), idx as u64),
                    );
                }
                return;
            }
            match l.socket.accept() {
                Ok((stream, _)) => {
                    l.clients += 1;
                    if let Err(e) = self.add_stream(stream, Some(idx)) {
                        tracing::warn!("QMP: cannot serve a new client: {e}");
                        self.client_gone(Some(idx));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ECONNABORTED, EMFILE...: try again on the next wakeup.
                    tracing::warn!("QMP: accept failed: {e}");
                    return;
                }
            }
        }
    }

    fn client_gone(&mut self, listener: Option<usize>) {
        let Some(l) = listener.and_then(|i| self.listeners.get_mut(i).map(|l| (i, l))) else { return };
        let (idx, l) = l;
        l.clients = l.clients.saturating_sub(1);
        if !l.accepting {
            l.accepting = true;
            let _ = self.epoll.ctl(
                ControlOperation::Modify,
                l.socket.as_raw_fd(),
                EpollEvent::new(EventSet::IN, idx as u64),
            );
            self.accept(idx);
        }
    }

    fn service(&mut self, token: u64, set: EventSet, handler: &mut dyn QmpHandler) {
        if set.contains(EventSet::OUT) {
            if let Some(c) = self.clients.get_mut(&token) {
                c.flush();
            }
        }
        if set.intersects(EventSet::IN | EventSet::HANG_UP | EventSet::ERROR) {
            self.read_client(token, handler);
        }
        self.settle(token);
    }

    fn read_client(&mut self, token: u64, handler: &mut dyn QmpHandler) {
        let mut buf = vec![0u8; 64 << 10];
        let mut budget = READ_BUDGET;
        while budget > 0 {
            let Some(c) = self.clients.get_mut(&token) else { return };
            if c.dead || c.pending() >= SOFT_OUTPUT {
                return;
            }
            let n = match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.dead = true;
                    return;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    c.dead = true;
                    return;
                }
            };
            budget = budget.saturating_sub(n);
            let msgs = c.session.feed(&buf[..n]);
            for msg in msgs {
                let mut events = Vec::new();
                let Some(c) = self.clients.get_mut(&token) else { return };
                let reply = c.session.handle(msg, &self.info, handler, &mut events);
                if c.session.quit_requested() {
                    self.quit = true;
                }
                // Events the command caused go out before its return.
                for e in &events {
                    self.broadcast(e);
                }
                let Some(c) = self.clients.get_mut(&token) else { return };
                c.push_line(&reply);
                c.flush();
            }
        }
    }

    /// Drops a dead client or updates its epoll interest.
    fn settle(&mut self, token: u64) {
        let Some(c) = self.clients.get_mut(&token) else { return };
        if !c.dead {
            c.flush();
        }
        if c.dead {
            let _ = self.epoll.ctl(ControlOperation::Delete, c.stream.as_raw_fd(), EpollEvent::default());
            let listener = c.listener;
            self.clients.remove(&token);
            self.client_gone(listener);
            return;
        }
        let want = c.wanted_interest();
        if want != c.interest {
            c.interest = want;
            let _ = self.epoll.ctl(ControlOperation::Modify, c.stream.as_raw_fd(), EpollEvent::new(want, token));
        }
    }
}

impl Drop for Monitors {
    fn drop(&mut self) {
        for l in &self.listeners {
            // Only remove the file if it is still the socket we made.
            if let Ok(m) = std::fs::symlink_metadata(&l.path) {
                if (m.dev(), m.ino()) == l.file_id {
                    let _ = std::fs::remove_file(&l.path);
                }
            }
        }
    }
}

/// Binds a listening socket at `path` with mode 0600, replacing a stale one.
fn bind_private(path: &Path) -> Result<UnixListener, MonitorError> {
    let bind_err = |e: io::Error| MonitorError::Bind { path: path.into(), source: e };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(MonitorError::InUse { path: path.into() });
        }
        match UnixStream::connect(path) {
            Ok(_) => return Err(MonitorError::InUse { path: path.into() }),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path).map_err(bind_err)?,
            Err(e) => return Err(bind_err(e)),
        }
    }
    // Bind under a temporary name, restrict it, then rename into place, so
    // the socket is never reachable with looser permissions.
    let tmp = path.file_name().map(|n| {
        let mut t = std::ffi::OsString::from(".");
        t.push(n);
        t.push(format!(".{}.tmp", std::process::id()));
        path.with_file_name(t)
    });
    if let Some(tmp) = tmp {
        let _ = std::fs::remove_file(&tmp);
        if let Ok(l) = UnixListener::bind(&tmp) {
            let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .and_then(|_| std::fs::rename(&tmp, path));
            if placed.is_ok() {
                return Ok(l);
            }
            let _ = std::fs::remove_file(&tmp);
        }
    }
    // The temporary name may be too long for sun_path: bind directly.
    let l = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(bind_err)?;
    Ok(l)
}
