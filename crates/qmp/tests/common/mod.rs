//! A QMP server driven by a fake machine, for the integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ironide_qmp::{Command, Event, Monitors, QmpError, QmpHandler, ServerInfo, Target};
use serde_json::{json, Value};

/// A machine with one CD-ROM "cd0" (backend "ide1-cd0") and a running state.
#[derive(Default)]
pub struct FakeMachine {
    pub paused: bool,
    pub tray_open: bool,
}

fn stats() -> Value {
    let mut s = serde_json::Map::new();
    for k in [
        "rd_bytes",
        "wr_bytes",
        "unmap_bytes",
        "zone_append_bytes",
        "rd_operations",
        "wr_operations",
        "zone_append_operations",
        "flush_operations",
        "unmap_operations",
        "rd_total_time_ns",
        "wr_total_time_ns",
        "zone_append_total_time_ns",
        "flush_total_time_ns",
        "unmap_total_time_ns",
        "wr_highest_offset",
        "rd_merged",
        "wr_merged",
        "zone_append_merged",
        "unmap_merged",
        "failed_rd_operations",
        "failed_wr_operations",
        "failed_zone_append_operations",
        "failed_flush_operations",
        "failed_unmap_operations",
        "invalid_rd_operations",
        "invalid_wr_operations",
        "invalid_zone_append_operations",
        "invalid_flush_operations",
        "invalid_unmap_operations",
    ] {
        s.insert(k.into(), 0.into());
    }
    s.insert("account_invalid".into(), true.into());
    s.insert("account_failed".into(), true.into());
    s.insert("timed_stats".into(), json!([]));
    Value::Object(s)
}

impl QmpHandler for FakeMachine {
    fn execute(&mut self, cmd: Command, events: &mut Vec<Event>) -> Result<Value, QmpError> {
        match cmd {
            Command::QueryStatus => Ok(if self.paused {
                json!({"status": "paused", "running": false})
            } else {
                json!({"status": "running", "running": true})
            }),
            Command::Stop => {
                if !self.paused {
                    self.paused = true;
                    events.push(Event::stop());
                }
                Ok(json!({}))
            }
            Command::Cont => {
                if self.paused {
                    self.paused = false;
                    events.push(Event::resume());
                }
                Ok(json!({}))
            }
            Command::SystemReset => {
                events.push(Event::reset(false, "host-qmp-system-reset"));
                Ok(json!({}))
            }
            Command::Quit => {
                events.push(Event::shutdown(false, "host-qmp-quit"));
                Ok(json!({}))
            }
            Command::BlockdevOpenTray { sel, .. } => {
                match sel.target()? {
                    Target::Qdev("cd0") | Target::Backend("ide1-cd0") => {}
                    _ => return Err(QmpError::device_not_found(sel.name())),
                }
                if !self.tray_open {
                    self.tray_open = true;
                    events.push(Event::device_tray_moved("ide1-cd0", "cd0", true));
                }
                Ok(json!({}))
            }
            Command::BlockdevCloseTray { sel } => {
                sel.target()?;
                if self.tray_open {
                    self.tray_open = false;
                    events.push(Event::device_tray_moved("ide1-cd0", "cd0", false));
                }
                Ok(json!({}))
            }
            Command::BlockSetIoThrottle(t) => {
                sel_known(t.sel.target()?)?;
                t.to_config()?;
                Ok(json!({}))
            }
            Command::QueryBlock => Ok(json!([{"device": "ide1-cd0", "qdev": "cd0", "type": "unknown",
                "removable": true, "locked": false, "tray_open": self.tray_open}])),
            Command::QueryBlockstats { .. } => Ok(json!([{"device": "ide1-cd0", "qdev": "cd0", "stats": stats()}])),
            Command::QueryName => Ok(json!({})),
            Command::QueryPrManagers | Command::QueryNamedBlockNodes { .. } => Ok(json!([])),
            _ => Ok(json!({})),
        }
    }
}

fn sel_known(t: Target<'_>) -> Result<(), QmpError> {
    match t {
        Target::Qdev("cd0") | Target::Backend("ide1-cd0") => Ok(()),
        Target::Qdev(n) | Target::Backend(n) => Err(QmpError::device_not_found(n)),
    }
}

/// A server thread listening on a fresh socket.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    stop: Arc<AtomicBool>,
    inject: Sender<Event>,
    thread: Option<JoinHandle<bool>>,
}

impl TestServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let mut monitors = Monitors::new(ServerInfo::default()).unwrap();
        monitors.add_server(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (inject, rx): (Sender<Event>, Receiver<Event>) = channel();
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut machine = FakeMachine::default();
            while !s.load(Ordering::Relaxed) {
                monitors.wait(Duration::from_millis(20), &mut machine).unwrap();
                while let Ok(e) = rx.try_recv() {
                    monitors.broadcast(&e);
                }
            }
            monitors.quit_requested()
        });
        TestServer { dir, path, stop, inject, thread: Some(thread) }
    }

    /// Sends an asynchronous event (as the guest would cause).
    pub fn inject(&self, e: Event) {
        self.inject.send(e).unwrap();
    }

    /// Stops the server; returns whether quit was requested.
    pub fn stop(mut self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join().unwrap()).unwrap_or(false)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw line-oriented client.
pub struct Raw {
    pub stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Raw {
    pub fn connect(path: &std::path::Path) -> Self {
        let stream = UnixStream::connect(path).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Raw { stream, reader }
    }

    /// Connects and reads the greeting.
    pub fn greeted(path: &std::path::Path) -> Self {
        let mut r = Self::connect(path);
        let g = r.read();
        assert!(g.get("QMP").is_some(), "{g}");
        r
    }

    /// Connects, reads the greeting and negotiates.
    pub fn ready(path: &std::path::Path) -> Self {
        let mut r = Self::greeted(path);
        assert_eq!(r.cmd(r#"{"execute": "qmp_capabilities"}"#), json!({"return": {}}));
        r
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// One line, which must end in CRLF.
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    pub fn read(&mut self) -> Value {
        let line = self.read_line();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
    }

    pub fn cmd(&mut self, s: &str) -> Value {
        self.send(s.as_bytes());
        self.read()
    }

    /// The `desc` of an error reply.
    pub fn err(&mut self, s: &str) -> String {
        let v = self.cmd(s);
        v["error"]["desc"].as_str().unwrap_or_else(|| panic!("not an error: {v}")).to_string()
    }
}
