//! QMP through the real binary: negotiation on the raw socket, run state
//! (query-status, stop, cont, system_reset, quit) with event order, query-
//! name, server-mode monitors and refused -qmp options. Under -accel qtest.

mod common;

use std::time::Duration;

use common::qmp::{self, Qmp, Vm};
use common::{accept, exit_within, ironide, tempdir, TIMEOUT};
use serde_json::{json, Value};

#[test]
fn negotiation_on_the_raw_socket() {
    let mut vm = Vm::start_raw(&[]);
    let g = vm.qmp.read().expect("greeting");
    assert_eq!(g["QMP"]["capabilities"], json!(["oob"]));
    assert!(g["QMP"]["version"]["qemu"]["major"].is_u64(), "{g}");
    let r = vm.qmp.execute("query-status", Value::Null);
    assert_eq!(
        r["error"],
        json!({"class": "CommandNotFound", "desc": "Expecting capabilities negotiation with 'qmp_capabilities'"})
    );
    // Split across writes, and an id echoed verbatim.
    vm.qmp.send_raw("{\"execute\": \"qmp_capa");
    std::thread::sleep(Duration::from_millis(20));
    vm.qmp.send_raw("bilities\", \"arguments\": {\"enable\": [\"oob\"]}, \"id\": [1, \"x\"]}");
    assert_eq!(vm.qmp.reply(), json!({"return": {}, "id": [1, "x"]}));
    let (class, desc) = vm.qmp.err("qmp_capabilities", Value::Null);
    assert_eq!(
        (class.as_str(), desc.as_str()),
        ("CommandNotFound", "Capabilities negotiation is already complete, command ignored")
    );
    // Two commands in one write get two replies.
    vm.qmp.send_raw(r#"{"execute":"query-name","id":1}{"execute":"query-status","id":2}"#);
    assert_eq!(vm.qmp.reply(), json!({"return": {}, "id": 1}));
    assert_eq!(vm.qmp.reply(), json!({"return": {"status": "running", "running": true}, "id": 2}));
    let (class, desc) = vm.qmp.err("nosuch", Value::Null);
    assert_eq!((class.as_str(), desc.as_str()), ("CommandNotFound", "The command nosuch has not been found"));
    let (class, desc) = vm.qmp.err("stop", json!({"foo": 1}));
    assert_eq!((class.as_str(), desc.as_str()), ("GenericError", "Parameter 'foo' is unexpected"));
    assert!(vm.qmp.events.is_empty(), "no events: {:?}", vm.qmp.events);
}

#[test]
fn query_name_with_and_without_name() {
    let mut vm = Vm::start(&["-name", "guest1"]);
    assert_eq!(vm.qmp.ok("query-name", Value::Null), json!({"name": "guest1"}));
    let mut vm = Vm::start(&[]);
    assert_eq!(vm.qmp.ok("query-name", Value::Null), json!({}));
}

/// The messages of the log from the command's events up to its return.
fn tail_names(q: &Qmp, n: usize) -> Vec<String> {
    q.log[q.log.len() - n..]
        .iter()
        .map(|v| match v.get("event") {
            Some(e) => e.as_str().unwrap_or("").to_string(),
            None => "return".to_string(),
        })
        .collect()
}

#[test]
fn stop_cont_reset_and_their_events() {
    let mut vm = Vm::start(&[]);
    let q = &mut vm.qmp;
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "running", "running": true}));
    assert_eq!(q.ok("stop", Value::Null), json!({}));
    assert_eq!(tail_names(q, 2), ["STOP", "return"], "STOP comes before the return");
    let stop = q.events.last().cloned().unwrap_or_default();
    assert!(stop.get("data").is_none(), "STOP has no data: {stop}");
    assert!(stop["timestamp"]["seconds"].as_u64().unwrap_or(0) > 1_600_000_000, "{stop}");
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "paused", "running": false}));
    // A second stop changes nothing and says nothing.
    q.ok("stop", Value::Null);
    assert_eq!(tail_names(q, 1), ["return"]);
    assert_eq!(q.ok("cont", Value::Null), json!({}));
    assert_eq!(tail_names(q, 2), ["RESUME", "return"]);
    assert_eq!(q.ok("query-status", Value::Null), json!({"status": "running", "running": true}));
    q.events.clear();
    assert_eq!(q.ok("system_reset", Value::Null), json!({}));
    assert_eq!(tail_names(q, 2), ["RESET", "return"]);
    assert_eq!(q.events[0]["data"], json!({"guest": false, "reason": "host-qmp-system-reset"}));
    // The machine really reset: CMOS index register and devices still answer.
    assert_eq!(vm.qt.cmd("outb 0x70 0x0d"), "OK");
    assert_eq!(vm.qt.num("inb 0x71"), 0x80);
}

#[test]
fn guest_reset_emits_reset_with_guest_true() {
    let mut vm = Vm::start(&[]);
    // 0xCF9: reset control register, full reset.
    assert_eq!(vm.qt.cmd("outb 0xcf9 0x06"), "OK");
    let ev = vm.qmp.read().expect("RESET event");
    assert_eq!(ev["event"], "RESET", "{ev}");
    assert_eq!(ev["data"], json!({"guest": true, "reason": "guest-reset"}));
}

#[test]
fn quit_sends_shutdown_return_eof_and_exits_0() {
    let mut vm = Vm::start(&[]);
    vm.qmp.send_raw(r#"{"execute": "quit", "id": "q"}"#);
    let ev = vm.qmp.read().expect("SHUTDOWN");
    assert_eq!(ev["event"], "SHUTDOWN");
    assert_eq!(ev["data"], json!({"guest": false, "reason": "host-qmp-quit"}));
    assert_eq!(vm.qmp.read().expect("return"), json!({"return": {}, "id": "q"}));
    assert_eq!(vm.qmp.read(), None, "EOF after quit's return");
    let st = vm.qt.wait_exit();
    assert_eq!(st.code(), Some(0));
}

#[test]
fn server_mode_monitor_serves_several_clients() {
    let dir = tempdir();
    let (mut child, qtest, qm) = qmp::spawn_server_mode(dir.path(), &[]);
    let mut a = Qmp::new(qmp::connect_server(&qm));
    let mut b = Qmp::new(qmp::connect_server(&qm));
    a.negotiate();
    b.negotiate();
    a.ok("stop", Value::Null);
    // Events go to every negotiated client.
    let ev = b.read().expect("STOP on the other client");
    assert_eq!(ev["event"], "STOP");
    assert_eq!(b.ok("query-status", Value::Null)["status"], "paused");
    a.ok("quit", Value::Null);
    let st = exit_within(&mut child, TIMEOUT).expect("ironide did not exit after quit");
    assert_eq!(st.code(), Some(0));
    drop(qtest);
}

#[test]
fn unusable_qmp_socket_is_one_line_and_exit_1() {
    let dir = tempdir();
    let qt = dir.path().join("qtest.sock");
    let lt = std::os::unix::net::UnixListener::bind(&qt).expect("bind");
    let missing = dir.path().join("nobody-listens.sock");
    let mut child = ironide()
        .args(["-machine", "pc,accel=qtest", "-nodefaults", "-qtest"])
        .arg(format!("unix:{}", qt.display()))
        .arg("-qmp")
        .arg(format!("unix:{}", missing.display()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let _qtest = accept(&lt, &mut child, "qtest");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Failed to connect to") && stderr.contains("No such file or directory"), "{stderr}");
}
