//! A libqtest-like rig for integration tests: ironide under `-accel qtest`
//! with a QMP socket (server=on,wait=off), both driven from the test.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{json, Value};

pub struct Rig {
    pub child: Child,
    qt_rd: BufReader<UnixStream>,
    qt_wr: UnixStream,
    qmp_rd: BufReader<UnixStream>,
    qmp_wr: UnixStream,
    /// Events read while waiting for replies, oldest first.
    pub events: Vec<Value>,
    pub dir: tempfile::TempDir,
}

impl Rig {
    pub fn start(extra: &[String]) -> Rig {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
        let qt = dir.path().join("qtest.sock");
        let qmp = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&qt).expect("bind");
        let mut args: Vec<String> = vec!["-machine".into(), "pc,accel=qtest".into(), "-qtest".into()];
        args.push(format!("unix:{}", qt.display()));
        args.extend(["-nodefaults", "-display", "none", "-qmp"].iter().map(|s| s.to_string()));
        args.push(format!("unix:{},server=on,wait=off", qmp.display()));
        args.extend(extra.iter().cloned());
        let child = Command::new(env!("CARGO_BIN_EXE_ironide")).args(&args).spawn().expect("spawn ironide");
        let (stream, _) = listener.accept().expect("ironide connects to qtest");
        stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let qt_wr = stream.try_clone().expect("clone");
        let mut q = None;
        for _ in 0..250 {
            if let Ok(s) = UnixStream::connect(&qmp) {
                q = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let q = q.expect("ironide serves QMP on -qmp unix:...,server=on,wait=off");
        q.set_read_timeout(Some(Duration::from_secs(20))).ok();
        let qmp_wr = q.try_clone().expect("clone");
        let mut r = Rig {
            child,
            qt_rd: BufReader::new(stream),
            qt_wr,
            qmp_rd: BufReader::new(q),
            qmp_wr,
            events: Vec::new(),
            dir,
        };
        let greeting = r.qmp_line();
        assert!(greeting.get("QMP").is_some(), "greeting {greeting}");
        assert_eq!(r.qmp("qmp_capabilities", json!({})), json!({}));
        r
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// One qtest command; IRQ lines are skipped.
    pub fn qt(&mut self, line: &str) -> String {
        writeln!(self.qt_wr, "{line}").expect("send");
        loop {
            let mut r = String::new();
            self.qt_rd.read_line(&mut r).expect("qtest reply");
            assert!(!r.is_empty(), "ironide closed qtest after '{line}'");
            if !r.starts_with("IRQ ") {
                return r.trim_end().to_string();
            }
        }
    }

    pub fn num(&mut self, line: &str) -> u64 {
        let r = self.qt(line);
        let v = r.strip_prefix("OK ").unwrap_or_else(|| panic!("'{line}' -> '{r}'"));
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).expect("hex"),
            None => v.parse().expect("decimal"),
        }
    }

    fn qmp_line(&mut self) -> Value {
        let mut l = String::new();
        self.qmp_rd.read_line(&mut l).expect("qmp read");
        assert!(!l.is_empty(), "QMP closed");
        serde_json::from_str(&l).expect("qmp json")
    }

    /// Execute; the return value, or panic on an error reply.
    pub fn qmp(&mut self, cmd: &str, args: Value) -> Value {
        match self.qmp_raw(cmd, args) {
            Ok(v) => v,
            Err(e) => panic!("{cmd}: {e}"),
        }
    }

    /// Execute; Ok(return) or Err(error object).
    pub fn qmp_raw(&mut self, cmd: &str, args: Value) -> Result<Value, Value> {
        let msg = json!({"execute": cmd, "arguments": args});
        writeln!(self.qmp_wr, "{msg}").expect("qmp send");
        loop {
            let v = self.qmp_line();
            if v.get("event").is_some() {
                self.events.push(v);
            } else if let Some(r) = v.get("return") {
                return Ok(r.clone());
            } else if let Some(e) = v.get("error") {
                return Err(e.clone());
            }
        }
    }

    /// Wait for an event named `name` (already seen or arriving within
    /// the read timeout); removes and returns it.
    pub fn event(&mut self, name: &str) -> Value {
        loop {
            if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
                return self.events.remove(i);
            }
            let v = self.qmp_line();
            if v.get("event").is_some() {
                self.events.push(v);
            }
        }
    }

    pub fn event_names(&self) -> Vec<String> {
        self.events.iter().map(|e| e["event"].as_str().unwrap_or("").to_string()).collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.qt_wr.shutdown(std::net::Shutdown::Both);
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
