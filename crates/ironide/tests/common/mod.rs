//! Test harness: `ironide -accel qtest` driven the way libqtest drives
//! QEMU — the test listens on a qtest socket and a QMP socket, the binary
//! connects to both; qtest lines go one per line, QMP commands are JSON.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// How long any single reply may take before the test fails (never hang).
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Vm {
    child: Child,
    qt_rd: BufReader<UnixStream>,
    qt_wr: UnixStream,
    qmp_rd: BufReader<UnixStream>,
    qmp_wr: UnixStream,
    /// `IRQ raise/lower N` lines seen on the qtest socket.
    pub irqs: Vec<String>,
    /// QMP events not yet taken, oldest first.
    pub events: Vec<Value>,
    pub dir: tempfile::TempDir,
}

fn accept(l: &UnixListener, what: &str) -> UnixStream {
    l.set_nonblocking(true).expect("nonblocking listener");
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking stream");
                s.set_read_timeout(Some(REPLY_TIMEOUT)).expect("timeout");
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < REPLY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("ironide did not connect to the {what} socket: {e}"),
        }
    }
}

impl Vm {
    /// Start `ironide -machine pc,accel=qtest -nodefaults` with `extra`
    /// arguments, connect both sockets and negotiate QMP capabilities.
    pub fn start(extra: &[&str]) -> Vm {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let qt_path = dir.path().join("qtest.sock");
        let qmp_path = dir.path().join("qmp.sock");
        let qt_l = UnixListener::bind(&qt_path).expect("bind qtest");
        let qmp_l = UnixListener::bind(&qmp_path).expect("bind qmp");
        let mut args: Vec<String> = vec!["-machine".into(), "pc,accel=qtest".into()];
        args.extend(["-qtest".into(), format!("unix:{}", qt_path.display())]);
        args.extend(["-qmp".into(), format!("unix:{}", qmp_path.display())]);
        args.extend(["-nodefaults", "-display", "none"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_ironide")).args(&args).spawn().expect("spawn ironide");
        let qt = accept(&qt_l, "qtest");
        let qmp = accept(&qmp_l, "QMP");
        let mut vm = Vm {
            qt_wr: qt.try_clone().expect("clone"),
            qt_rd: BufReader::new(qt),
            qmp_wr: qmp.try_clone().expect("clone"),
            qmp_rd: BufReader::new(qmp),
            child,
            irqs: Vec::new(),
            events: Vec::new(),
            dir,
        };
        let greeting = vm.qmp_read();
        assert!(greeting.get("QMP").is_some(), "greeting: {greeting}");
        let r = vm.qmp("qmp_capabilities", json!({}));
        assert_eq!(r, json!({"return": {}}));
        vm
    }

    // ---- qtest ---------------------------------------------------------

    /// One qtest command; its reply (IRQ lines before it are collected).
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.qt_wr, "{line}").expect("qtest send");
        loop {
            let mut r = String::new();
            self.qt_rd.read_line(&mut r).expect("qtest reply");
            assert!(!r.is_empty(), "ironide closed the qtest socket after '{line}'");
            let r = r.trim_end().to_string();
            if r.starts_with("IRQ ") {
                self.irqs.push(r);
            } else {
                return r;
            }
        }
    }

    /// A command answering `OK <number>` (hex or decimal).
    pub fn num(&mut self, line: &str) -> u64 {
        let r = self.cmd(line);
        let v = r.strip_prefix("OK ").unwrap_or_else(|| panic!("'{line}' -> '{r}'"));
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex"),
            None => v.parse().expect("decimal"),
        }
    }

    pub fn outb(&mut self, port: u16, v: u8) {
        assert_eq!(self.cmd(&format!("outb {port:#x} {v:#x}")), "OK");
    }

    pub fn outw(&mut self, port: u16, v: u16) {
        assert_eq!(self.cmd(&format!("outw {port:#x} {v:#x}")), "OK");
    }

    pub fn inb(&mut self, port: u16) -> u8 {
        self.num(&format!("inb {port:#x}")) as u8
    }

    pub fn inw(&mut self, port: u16) -> u16 {
        self.num(&format!("inw {port:#x}")) as u16
    }

    // ---- QMP -----------------------------------------------------------

    fn qmp_read(&mut self) -> Value {
        let mut line = String::new();
        self.qmp_rd.read_line(&mut line).expect("QMP read");
        assert!(!line.is_empty(), "ironide closed the QMP socket");
        serde_json::from_str(line.trim_end()).unwrap_or_else(|e| panic!("bad QMP JSON {line:?}: {e}"))
    }

    /// Execute a command; the whole reply (`{"return": ..}` or
    /// `{"error": ..}`). Events before it go to `events`.
    pub fn qmp(&mut self, execute: &str, arguments: Value) -> Value {
        let msg = json!({"execute": execute, "arguments": arguments});
        self.qmp_wr.write_all(msg.to_string().as_bytes()).expect("QMP send");
        loop {
            let v = self.qmp_read();
            if v.get("event").is_some() {
                self.events.push(v);
            } else {
                return v;
            }
        }
    }

    /// The command's `return` value; panics on an error reply.
    pub fn qmp_ok(&mut self, execute: &str, arguments: Value) -> Value {
        let r = self.qmp(execute, arguments.clone());
        match r.get("return") {
            Some(v) => v.clone(),
            None => panic!("{execute} {arguments} -> {r}"),
        }
    }

    /// The error of a failing command: (class, desc).
    pub fn qmp_err(&mut self, execute: &str, arguments: Value) -> (String, String) {
        let r = self.qmp(execute, arguments.clone());
        let e = r.get("error").unwrap_or_else(|| panic!("{execute} {arguments} should fail, got {r}"));
        (e["class"].as_str().unwrap_or_default().into(), e["desc"].as_str().unwrap_or_default().into())
    }

    /// Taken events named `name`, their `data`.
    pub fn take_events(&mut self, name: &str) -> Vec<Value> {
        let (hit, rest): (Vec<Value>, Vec<Value>) = self.events.drain(..).partition(|e| e["event"] == name);
        self.events = rest;
        hit.into_iter().map(|e| e["data"].clone()).collect()
    }

    /// Wait for an event that arrives outside any command.
    pub fn wait_event(&mut self, name: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
            return self.events.remove(i)["data"].clone();
        }
        loop {
            let v = self.qmp_read();
            if v["event"] == name {
                return v["data"].clone();
            }
            self.events.push(v);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qt_wr.shutdown(std::net::Shutdown::Both);
        let _ = self.qmp_wr.shutdown(std::net::Shutdown::Both);
        // ironide exits when the qtest peer goes away; don't leave it behind.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file of `bytes` bytes in `dir` (content: a byte pattern).
pub fn image(dir: &std::path::Path, name: &str, bytes: usize) -> String {
    let p = dir.join(name);
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, data).expect("image");
    p.display().to_string()
}
