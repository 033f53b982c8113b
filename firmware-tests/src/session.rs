//! A guest the test talks to while it runs: wait for a line on the serial console, then act on
//! the machine over QMP (open a tray, change a medium, set throttling) and watch its events.
//!
//! The same command line and QMP dialect run on ironide and on QEMU.

use crate::emulator::{Slot, Started};
use crate::{io_err, Emulator, Error, Outcome, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the QMP socket may take to appear after the process starts.
const QMP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running guest with a QMP connection.
pub struct Session {
    started: Started,
    slot: Slot,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Events received so far, in order.
    events: Vec<Value>,
}

/// What went wrong talking QMP.
fn qmp_err(what: impl Into<String>) -> Error {
    Error::Tool { tool: "qmp".into(), status: "protocol".into(), stderr: what.into() }
}

impl Emulator {
    /// Starts a guest with `extra` arguments plus a QMP server socket in `dir`, connects and
    /// negotiates capabilities.
    pub fn spawn(&self, dir: &Path, extra: &[String]) -> Result<Session> {
        let slot = Slot::take();
        let sock = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&sock);
        let mut all = extra.to_vec();
        all.push("-qmp".into());
        all.push(format!("unix:{},server=on,wait=off", sock.display()));
        let args = self.command_line(dir, &all);
        let mut started = self.start(dir, &args)?;
        let deadline = Instant::now() + QMP_CONNECT_TIMEOUT;
        let stream = loop {
            match UnixStream::connect(&sock) {
                Ok(s) => break s,
                Err(e) => {
                    if let Ok(Some(status)) = started.child.try_wait() {
                        let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
                        return Err(qmp_err(format!("emulator exited ({status}) before QMP was up: {stderr}")));
                    }
                    if Instant::now() >= deadline {
                        return Err(Error::Io { what: format!("connecting to {}", sock.display()), source: e });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(io_err("QMP socket timeout"))?;
        let writer = stream.try_clone().map_err(io_err("cloning the QMP socket"))?;
        let mut session = Session { started, slot, reader: BufReader::new(stream), writer, events: Vec::new() };
        let greeting = session.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(qmp_err(format!("no QMP greeting: {greeting}")));
        }
        session.execute("qmp_capabilities", json!({}))?;
        Ok(session)
    }
}

impl Session {
    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).map_err(io_err("reading from QMP"))?;
        if n == 0 {
            return Err(qmp_err("QMP connection closed"));
        }
        serde_json::from_str(&line).map_err(|e| qmp_err(format!("bad QMP message {line:?}: {e}")))
    }

    /// Sends a command and returns the whole reply (`{"return": ...}` or `{"error": ...}`);
    /// events that arrive first are kept for `events`.
    pub fn command(&mut self, execute: &str, arguments: Value) -> Result<Value> {
        let mut cmd = json!({ "execute": execute });
        if arguments.as_object().is_some_and(|o| !o.is_empty()) {
            cmd["arguments"] = arguments;
        }
        let text = format!("{cmd}\n");
        self.writer.write_all(text.as_bytes()).map_err(io_err("writing to QMP"))?;
        loop {
            let msg = self.read_message()?;
            if msg.get("event").is_some() {
                self.events.push(msg);
            } else {
                return Ok(msg);
            }
        }
    }

    /// `command`, requiring success: the `return` value.
    pub fn execute(&mut self, execute: &str, arguments: Value) -> Result<Value> {
        let reply = self.command(execute, arguments)?;
        match reply.get("return") {
            Some(r) => Ok(r.clone()),
            None => Err(qmp_err(format!("{execute} failed: {reply}"))),
        }
    }

    /// Events received so far (collects any waiting on the socket first).
    pub fn events(&mut self) -> Result<&[Value]> {
        self.reader.get_ref().set_nonblocking(true).map_err(io_err("QMP socket mode"))?;
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        self.events.push(v);
                    }
                }
                Err(_) => break,
            }
        }
        self.reader.get_ref().set_nonblocking(false).map_err(io_err("QMP socket mode"))?;
        Ok(&self.events)
    }

    /// Everything on the serial console so far.
    pub fn serial(&self) -> String {
        std::fs::read_to_string(&self.started.serial_path).unwrap_or_default()
    }

    /// Waits until the serial console (flattened like GRUB output: no CR/LF or escape
    /// sequences) contains `needle`; false on timeout or when the guest exits first.
    pub fn wait_serial(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if crate::grub::flatten(&self.serial()).contains(needle) {
                return true;
            }
            if Instant::now() >= deadline || !matches!(self.started.child.try_wait(), Ok(None)) {
                return crate::grub::flatten(&self.serial()).contains(needle);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Time since the emulator started.
    pub fn elapsed(&self) -> Duration {
        self.started.start.elapsed()
    }

    /// Waits for the guest to end (killed once `timeout` has passed since it started).
    pub fn finish(self, timeout: Duration) -> Result<Outcome> {
        let Session { started, slot, .. } = self;
        started.wait(timeout, slot, None)
    }
}
