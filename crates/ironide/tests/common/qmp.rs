//! QMP for the integration tests, the way libqtest and QMP clients drive
//! QEMU: the test listens, ironide connects (`-qmp unix:PATH`); greeting,
//! capability negotiation, commands and events as JSON values. `Vm` is
//! ironide under qtest with both sockets; `Qmp` alone serves any monitor
//! connection (server-mode monitors, other accelerators), and its raw
//! socket is open to protocol tests (`send_raw`, `read`, `reply`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{accept, ironide, Qtest, TIMEOUT};

/// A listening socket `dir/qmp.sock` and the `-qmp` argument naming it.
pub fn listen(dir: &Path) -> (UnixListener, String) {
    let path = dir.join("qmp.sock");
    let l = UnixListener::bind(&path).expect("bind QMP socket");
    (l, format!("unix:{}", path.display()))
}

/// ironide under qtest with a silent qtest peer and a server-mode monitor
/// (`-qmp unix:DIR/qmp-server.sock,server=on,wait=off`) plus `extra`. Returns
/// the child, the qtest connection (ironide runs until it closes) and the
/// monitor's socket path, once the socket file exists.
pub fn spawn_server_mode(dir: &Path, extra: &[String]) -> (std::process::Child, UnixStream, PathBuf) {
    let qt = dir.join("qtest.sock");
    let qm = dir.join("qmp-server.sock");
    let lt = UnixListener::bind(&qt).expect("bind qtest");
    let mut child = ironide()
        .args(["-machine", "pc,accel=qtest", "-nodefaults", "-qtest"])
        .arg(format!("unix:{}", qt.display()))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qm.display()))
        .args(extra)
        .spawn()
        .expect("spawn ironide");
    let qtest = accept(&lt, &mut child, "qtest");
    let start = Instant::now();
    while !qm.exists() {
        assert!(start.elapsed() < TIMEOUT, "no QMP server socket at {}", qm.display());
        std::thread::sleep(Duration::from_millis(10));
    }
    (child, qtest, qm)
}

/// Connects to a server-mode monitor once it listens.
pub fn connect_server(path: &Path) -> UnixStream {
    let start = Instant::now();
    loop {
        if let Ok(s) = UnixStream::connect(path) {
            return s;
        }
        assert!(start.elapsed() < TIMEOUT, "no QMP server socket at {}", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One QMP connection: replies returned, events collected in order.
pub struct Qmp {
    rd: BufReader<UnixStream>,
    pub wr: UnixStream,
    /// Events read and not taken yet, oldest first (whole messages).
    pub events: Vec<Value>,
    /// Every message read, in order (events and replies), for order checks.
    pub log: Vec<Value>,
}

impl Qmp {
    /// A connection before the greeting.
    pub fn new(stream: UnixStream) -> Qmp {
        stream.set_read_timeout(Some(TIMEOUT)).ok();
        let wr = stream.try_clone().expect("clone");
        Qmp { rd: BufReader::new(stream), wr, events: Vec::new(), log: Vec::new() }
    }

    /// The next message, None at EOF.
    pub fn read(&mut self) -> Option<Value> {
        self.try_read().unwrap_or_else(|e| panic!("read QMP: {e}"))
    }

    fn try_read(&mut self) -> std::io::Result<Option<Value>> {
        let mut line = String::new();
        if self.rd.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        assert!(line.ends_with("\r\n"), "QMP lines end in CRLF: {line:?}");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"));
        self.log.push(v.clone());
        Ok(Some(v))
    }

    pub fn send_raw(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).expect("send");
    }

    /// Sends a command (`args` Null: no "arguments"); returns the whole
    /// reply, `{"return": ..}` or `{"error": ..}` (events before it are kept).
    pub fn execute(&mut self, name: &str, args: Value) -> Value {
        let mut msg = json!({"execute": name});
        if !args.is_null() {
            msg["arguments"] = args;
        }
        self.send_raw(&msg.to_string());
        self.reply()
    }

    /// The next reply; events before it are kept in `events`.
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

    /// Reads the greeting (returned) and negotiates capabilities.
    pub fn negotiate(&mut self) -> Value {
        let greeting = self.read().expect("greeting");
        assert!(greeting.get("QMP").is_some(), "greeting: {greeting}");
        assert_eq!(self.execute("qmp_capabilities", Value::Null), json!({"return": {}}));
        greeting
    }

    /// The names of all kept events, removing them.
    pub fn take_event_names(&mut self) -> Vec<String> {
        self.events.drain(..).map(|e| e["event"].as_str().unwrap_or("").to_string()).collect()
    }

    /// The `data` of every kept event named `name`, removing them.
    pub fn take_events(&mut self, name: &str) -> Vec<Value> {
        let (hit, rest): (Vec<Value>, Vec<Value>) = self.events.drain(..).partition(|e| e["event"] == name);
        self.events = rest;
        hit.into_iter().map(|e| e["data"].clone()).collect()
    }

    /// The first event named `name`, already kept or arriving within
    /// `TIMEOUT` (one outside any command: a guest action); removed and
    /// returned whole.
    pub fn wait_event(&mut self, name: &str) -> Value {
        self.wait_event_within(name, TIMEOUT)
    }

    /// As `wait_event`, within `within`.
    pub fn wait_event_within(&mut self, name: &str, within: Duration) -> Value {
        let start = Instant::now();
        loop {
            if let Some(i) = self.events.iter().position(|e| e["event"] == name) {
                return self.events.remove(i);
            }
            let left = within.saturating_sub(start.elapsed());
            assert!(!left.is_zero(), "no {name} event within {within:?}; kept: {:?}", self.events);
            self.rd.get_ref().set_read_timeout(Some(left)).ok();
            let v = match self.try_read() {
                Ok(Some(v)) => v,
                Ok(None) => panic!("ironide closed QMP while waiting for {name}"),
                Err(e) => panic!("no {name} event within {within:?} ({e}); kept: {:?}", self.events),
            };
            self.rd.get_ref().set_read_timeout(Some(TIMEOUT)).ok();
            if v.get("event").is_some() {
                self.events.push(v);
            }
        }
    }
}

/// ironide under `-accel qtest` with QMP in client mode: the guest side
/// (`qt`) and the management side (`qmp`). `qt` goes first on drop, which
/// ends the process.
pub struct Vm {
    pub qt: Qtest,
    pub qmp: Qmp,
}

impl Vm {
    /// Started, QMP greeting read and capabilities negotiated.
    pub fn start(extra: &[&str]) -> Vm {
        Vm::start_in(super::tempdir(), extra)
    }

    /// As `start`, with the sockets in `dir` (kept alive with the machine).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Vm {
        let mut vm = Vm::start_raw_in(dir, extra);
        vm.qmp.negotiate();
        vm
    }

    /// As `start`, before the greeting.
    pub fn start_raw(extra: &[&str]) -> Vm {
        Vm::start_raw_in(super::tempdir(), extra)
    }

    fn start_raw_in(dir: tempfile::TempDir, extra: &[&str]) -> Vm {
        let (l, qmp_arg) = listen(dir.path());
        let mut args = vec!["-qmp", &qmp_arg];
        args.extend_from_slice(extra);
        let mut qt = Qtest::start_in(dir, &args);
        let qmp = Qmp::new(accept(&l, &mut qt.child, "QMP"));
        Vm { qt, qmp }
    }

    /// The directory holding the sockets (and whatever the test put there).
    pub fn dir(&self) -> &Path {
        self.qt.dir.path()
    }

    /// `dir/name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.qt.path(name)
    }
}
