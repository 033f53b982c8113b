//! A small QMP client for the integration tests: the test listens, ironide
//! connects (`-qmp unix:PATH`, as libqtest does), then greeting, capability
//! negotiation, commands and events as JSON values. Use it next to
//! `common::Qtest` (pass `Qmp::listen`'s argument in the extra arguments).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Longest wait for a connection or a reply (never hang a test run).
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Qmp {
    rd: BufReader<UnixStream>,
    wr: UnixStream,
    /// Events not taken yet, oldest first (whole messages).
    pub events: Vec<Value>,
}

/// A listening socket `dir/qmp.sock` and the `-qmp` argument naming it.
pub fn listen(dir: &Path) -> (UnixListener, String) {
    let path = dir.join("qmp.sock");
    let l = UnixListener::bind(&path).expect("bind QMP socket");
    (l, format!("unix:{}", path.display()))
}

impl Qmp {
    /// Accept ironide's connection, read the greeting, negotiate.
    pub fn accept(l: &UnixListener) -> Qmp {
        l.set_nonblocking(true).expect("nonblocking");
        let start = Instant::now();
        let s = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && start.elapsed() < TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("ironide did not connect to the QMP socket: {e}"),
            }
        };
        s.set_nonblocking(false).expect("blocking");
        s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut q = Qmp { wr: s.try_clone().expect("clone"), rd: BufReader::new(s), events: Vec::new() };
        let greeting = q.read();
        assert!(greeting.get("QMP").is_some(), "greeting: {greeting}");
        assert_eq!(q.execute("qmp_capabilities", json!({})), json!({"return": {}}));
        q
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.rd.read_line(&mut line).expect("QMP read");
        assert!(!line.is_empty(), "ironide closed the QMP socket");
        serde_json::from_str(line.trim_end()).unwrap_or_else(|e| panic!("bad QMP JSON {line:?}: {e}"))
    }

    /// The whole reply (`{"return": ..}` or `{"error": ..}`); events that
    /// come before it are kept in `events`.
    pub fn execute(&mut self, cmd: &str, arguments: Value) -> Value {
        let msg = json!({"execute": cmd, "arguments": arguments});
        self.wr.write_all(msg.to_string().as_bytes()).expect("QMP send");
        loop {
            let v = self.read();
            if v.get("event").is_some() {
                self.events.push(v);
            } else {
                return v;
            }
        }
    }

    /// The `return` value; panics on an error reply.
    pub fn ok(&mut self, cmd: &str, arguments: Value) -> Value {
        let r = self.execute(cmd, arguments.clone());
        r.get("return").cloned().unwrap_or_else(|| panic!("{cmd} {arguments} -> {r}"))
    }

    /// (class, desc) of a failing command; panics on success.
    pub fn err(&mut self, cmd: &str, arguments: Value) -> (String, String) {
        let r = self.execute(cmd, arguments.clone());
        let e = r.get("error").unwrap_or_else(|| panic!("{cmd} {arguments} should fail, got {r}"));
        (e["class"].as_str().unwrap_or_default().into(), e["desc"].as_str().unwrap_or_default().into())
    }

    /// The `data` of every kept event named `name`, removing them.
    pub fn take_events(&mut self, name: &str) -> Vec<Value> {
        let (hit, rest): (Vec<Value>, Vec<Value>) = self.events.drain(..).partition(|e| e["event"] == name);
        self.events = rest;
        hit.into_iter().map(|e| e["data"].clone()).collect()
    }

    /// Wait for an event that comes outside any command (a guest action).
    pub fn wait_event(&mut self, name: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
            return self.events.remove(i)["data"].clone();
        }
        loop {
            let v = self.read();
            if v["event"] == name {
                return v["data"].clone();
            }
            self.events.push(v);
        }
    }
}
