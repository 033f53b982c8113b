//! The qtest connection: incremental line buffering over a Unix socket,
//! replies written in order, asynchronous interrupt reports, and the log.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use super::command::{execute_line, write_irq_changes};
use super::log::QtestLog;
use super::machine::QtestMachine;

/// Longest request line accepted (a `write` of 32 MiB in hex); longer lines
/// are discarded as they arrive and answered with a FAIL.
pub const MAX_LINE: usize = 64 << 20;

const READ_CHUNK: usize = 64 << 10;

/// How long a reply may wait for a client that does not read before the
/// connection is given up (QEMU would block for ever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// `-qtest unix:PATH`: the test listens, the emulator connects.
pub fn connect(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(path)
}

pub struct QtestServer {
    stream: UnixStream,
    log: QtestLog,
    /// The start of a request line whose '\n' has not arrived yet.
    partial: Vec<u8>,
    /// Inside a line longer than MAX_LINE: drop bytes up to its '\n'.
    discarding: bool,
    chunk: Box<[u8]>,
    out: Vec<u8>,
    closed: bool,
}

impl QtestServer {
    /// Serves `stream`; `log` is the opened `-qtest-log` file, if any. The
    /// socket's blocking mode does not matter: I/O is done with MSG_DONTWAIT.
    pub fn new(stream: UnixStream, log: Option<File>) -> Self {
        QtestServer {
            stream,
            log: QtestLog::new(log),
            partial: Vec::new(),
            discarding: false,
            chunk: vec![0u8; READ_CHUNK].into_boxed_slice(),
            out: Vec::new(),
            closed: false,
        }
    }

    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// True once the peer has gone (EOF, reset or a failed write).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Reads everything available without blocking, executes each complete
    /// line in order and writes its reply. Returns Ok(false) once the peer has
    /// closed the connection (lines received before the close are served).
    pub fn on_readable(&mut self, m: &mut dyn QtestMachine) -> io::Result<bool> {
        while !self.closed {
            let mut chunk = std::mem::take(&mut self.chunk);
            let got = recv_dontwait(self.fd(), &mut chunk);
            let result = match got {
                Ok(0) => {
                    self.mark_closed();
                    Ok(())
                }
                Ok(n) => self.feed(&chunk[..n], m),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.chunk = chunk;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
                Err(e) if is_disconnect(&e) => {
                    self.mark_closed();
                    Ok(())
                }
                Err(e) => Err(e),
            };
            self.chunk = chunk;
            result?;
        }
        Ok(false)
    }

    /// Delivers ready completions and reports the interrupt changes they (or
    /// anything else outside a command) caused. Call it whenever the machine
    /// may have moved on its own, e.g. when the block layer's eventfd fires.
    pub fn flush_async(&mut self, m: &mut dyn QtestMachine) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        m.settle();
        let changes = m.take_irq_changes();
        if changes.is_empty() {
            return Ok(());
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        write_irq_changes(changes, &mut out);
        let result = self.send(&out);
        self.out = out;
        result
    }

    fn feed(&mut self, mut data: &[u8], m: &mut dyn QtestMachine) -> io::Result<()> {
        // Lines keep running after the peer has gone, as in QEMU: their
        // effects may be observed elsewhere (QMP), only the replies are lost.
        while !data.is_empty() {
            let newline = data.iter().position(|&b| b == b'\n');
            if self.discarding {
                let Some(i) = newline else { return Ok(()) };
                data = &data[i + 1..];
                self.discarding = false;
                self.log.request("<line too long>");
                self.send(format!("FAIL line too long (limit {MAX_LINE} bytes)\n").as_bytes())?;
                continue;
            }
            let Some(i) = newline else {
                if self.partial.len() + data.len() > MAX_LINE {
                    // Forget what we have: the line cannot be served anyway.
                    self.partial = Vec::new();
                    self.discarding = true;
                } else {
                    self.partial.extend_from_slice(data);
                }
                return Ok(());
            };
            if self.partial.len() + i > MAX_LINE {
                self.partial = Vec::new();
                self.discarding = true;
                continue; // the '\n' still ahead in `data` ends the discarded line
            }
            if self.partial.is_empty() {
                self.run_line(&data[..i], m)?;
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..i]);
                self.run_line(&line, m)?;
                line.clear();
                if line.capacity() <= 2 * READ_CHUNK {
                    self.partial = line; // keep a small allocation for the next split line
                }
            }
            data = &data[i + 1..];
        }
        Ok(())
    }

    fn run_line(&mut self, line: &[u8], m: &mut dyn QtestMachine) -> io::Result<()> {
        let text = String::from_utf8_lossy(line);
        if text.trim_ascii().is_empty() {
            return Ok(());
        }
        if self.log.is_enabled() {
            self.log.request(&text.split_ascii_whitespace().collect::<Vec<_>>().join(" "));
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        execute_line(&text, m, &mut out);
        let result = self.send(&out);
        out.clear();
        if out.capacity() > READ_CHUNK {
            out = Vec::new(); // do not keep a 64 MiB reply buffer around
        }
        self.out = out;
        result
    }

    /// Logs and writes `bytes` completely, waiting for the peer to make room.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.log.sent(bytes);
        if self.closed {
            return Ok(());
        }
        let mut rest = bytes;
        let deadline = Instant::now() + WRITE_TIMEOUT;
        while !rest.is_empty() {
            match send_nosignal(self.fd(), rest) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.mark_closed();
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "qtest client stopped reading"));
                    }
                    wait_writable(self.fd(), left)?;
                }
                Err(e) if is_disconnect(&e) => {
                    self.mark_closed();
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn mark_closed(&mut self) {
        if !self.closed {
            self.closed = true;
            self.log.closed();
        }
    }
}

fn is_disconnect(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted)
}

fn recv_dontwait(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid writable buffer of the given length for the call.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn send_nosignal(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // MSG_NOSIGNAL: a vanished client is an EPIPE to handle, not a SIGPIPE.
    // SAFETY: `buf` is a valid readable buffer of the given length for the call.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn wait_writable(fd: RawFd, timeout: Duration) -> io::Result<()> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX).max(1);
    // SAFETY: one valid pollfd for the duration of the call.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}
