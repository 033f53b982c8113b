//! Driving the real binary over QMP (and qtest), the way libqtest and QMP
//! clients do: the test listens on both sockets, ironide connects.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// One QMP connection: replies returned, events collected in order.
pub struct Qmp {
    rd: BufReader<UnixStream>,
    pub wr: UnixStream,
    pub events: Vec<Value>,
    /// Every message read, in order (events and replies), for order checks.
    pub log: Vec<Value>,
}

impl Qmp {
    pub fn new(stream: UnixStream) -> Qmp {
        stream.set_read_timeout(Some(TIMEOUT)).ok();
        let wr = stream.try_clone().expect("clone");
        Qmp { rd: BufReader::new(stream), wr, events: Vec::new(), log: Vec::new() }
    }

    /// The next message, None at EOF.
    pub fn read(&mut self) -> Option<Value> {
        let mut line = String::new();
        let n = self.rd.read_line(&mut line).expect("read QMP");
        if n == 0 {
            return None;
        }
        assert!(line.ends_with("\r\n"), "QMP lines end in CRLF: {line:?}");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"));
        self.log.push(v.clone());
        Some(v)
    }

    pub fn send_raw(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).expect("send");
    }

    /// Sends a command; returns the reply (events before it are kept).
    pub fn execute(&mut self, name: &str, args: Value) -> Value {
        let mut msg = json!({"execute": name});
        if !args.is_null() {
            msg["arguments"] = args;
        }
        self.send_raw(&msg.to_string());
        self.reply()
    }

    pub fn reply(&mut self) -> Value {
        loop {
            let v = self.read().expect("ironide closed QMP before replying");
            if v.get("event").is_some() {
                self.events.push(v);
            } else {
                return v;
            }
        }
    }

    /// A command that must succeed: its return value.
    pub fn ok(&mut self, name: &str, args: Value) -> Value {
        let r = self.execute(name, args.clone());
        match r.get("return") {
            Some(v) => v.clone(),
            None => panic!("{name} {args} failed: {r}"),
        }
    }

    /// A command that must fail: (class, desc).
    pub fn err(&mut self, name: &str, args: Value) -> (String, String) {
        let r = self.execute(name, args.clone());
        let e = r.get("error").unwrap_or_else(|| panic!("{name} {args} succeeded: {r}"));
        (e["class"].as_str().unwrap_or("").to_string(), e["desc"].as_str().unwrap_or("").to_string())
    }

    pub fn negotiate(&mut self) -> Value {
        let greeting = self.read().expect("greeting");
        assert_eq!(self.ok("qmp_capabilities", Value::Null), json!({}));
        greeting
    }

    pub fn take_events(&mut self) -> Vec<String> {
        self.events.drain(..).map(|e| e["event"].as_str().unwrap_or("").to_string()).collect()
    }
}

/// A qtest connection (kept open: ironide exits when it closes).
pub struct Qtest {
    rd: BufReader<UnixStream>,
    wr: UnixStream,
}

impl Qtest {
    pub fn cmd(&mut self, line: &str) -> String {
        writeln!(self.wr, "{line}").expect("send");
        loop {
            let mut r = String::new();
            self.rd.read_line(&mut r).expect("qtest reply");
            assert!(!r.is_empty(), "ironide closed qtest after '{line}'");
            if !r.starts_with("IRQ ") {
                return r.trim_end().to_string();
            }
        }
    }

    pub fn num(&mut self, line: &str) -> u64 {
        let r = self.cmd(line);
        let v = r.strip_prefix("OK ").unwrap_or_else(|| panic!("'{line}' -> '{r}'"));
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex"),
            None => v.parse().expect("decimal"),
        }
    }
}

/// A running ironide.
pub struct Vm {
    pub child: Child,
    pub qmp: Qmp,
    pub qtest: Option<Qtest>,
    pub dir: tempfile::TempDir,
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir")
}

/// Accept one connection, giving up if ironide exits first.
pub fn accept(l: &UnixListener, child: &mut Child, what: &str) -> UnixStream {
    l.set_nonblocking(true).expect("nonblocking");
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking");
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept {what}: {e}"),
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("ironide exited ({st}) before connecting to {what}");
        }
        assert!(start.elapsed() < TIMEOUT, "ironide did not connect to {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn ironide() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ironide"))
}

impl Vm {
    /// `-accel qtest` with QMP in client mode; the QMP greeting is read and
    /// capabilities negotiated.
    pub fn qtest(extra: &[&str]) -> Vm {
        let mut vm = Vm::qtest_raw(extra);
        vm.qmp.negotiate();
        vm
    }

    /// As `qtest`, before the greeting.
    pub fn qtest_raw(extra: &[&str]) -> Vm {
        let dir = tempdir();
        let qt = dir.path().join("qtest.sock");
        let qm = dir.path().join("qmp.sock");
        let lt = UnixListener::bind(&qt).expect("bind qtest");
        let lq = UnixListener::bind(&qm).expect("bind qmp");
        let mut args: Vec<String> = vec!["-machine".into(), "pc,accel=qtest".into(), "-qtest".into()];
        args.push(format!("unix:{}", qt.display()));
        args.push("-qmp".into());
        args.push(format!("unix:{}", qm.display()));
        args.extend(["-nodefaults", "-display", "none"].iter().map(|s| s.to_string()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut child = ironide().args(&args).spawn().expect("spawn ironide");
        let s = accept(&lt, &mut child, "qtest");
        s.set_read_timeout(Some(TIMEOUT)).ok();
        let qtest = Qtest { wr: s.try_clone().expect("clone"), rd: BufReader::new(s) };
        let q = accept(&lq, &mut child, "QMP");
        Vm { child, qmp: Qmp::new(q), qtest: Some(qtest), dir }
    }

    pub fn qt(&mut self) -> &mut Qtest {
        self.qtest.as_mut().expect("qtest connection")
    }

    /// Waits for the process to end.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            assert!(start.elapsed() < TIMEOUT, "ironide did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // Closing qtest ends ironide; never leave one behind.
        self.qtest = None;
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

/// A raw image of `len` bytes with a recognisable pattern.
pub fn image(dir: &Path, name: &str, len: usize) -> PathBuf {
    let p = dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, data).expect("write image");
    p
}

/// Spawn with piped stderr (for refusals).
pub fn output(args: &[&str]) -> std::process::Output {
    ironide().args(args).stdin(Stdio::null()).output().expect("run ironide")
}
